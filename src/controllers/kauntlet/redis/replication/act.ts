// Carries out one planned action with the Redis driver. Credentials (masterauth, Sentinel
// auth-pass) are added here and go only to the servers.

import type { Redis } from 'ioredis';
import type { Credentials } from '../../shared/credentials.js';
import { withRedis, type RedisTarget } from '../../../drivers/redis/connection.js';
import {
  configRewrite,
  configSet,
  pauseWrites,
  promote,
  replicaOf,
  sentinelMonitor,
  sentinelSet,
  unpause,
  WRITE_FENCE,
} from '../../../drivers/redis/replication.js';
import type { Action } from './model.js';

export interface ActContext {
  node(name: string): RedisTarget | undefined;
  sentinel(name: string): RedisTarget | undefined;
  /** The account replicas and Sentinels authenticate with. */
  credentials?: Credentials;
  /** Whether replication links use TLS (tls-replication). */
  tlsReplication: boolean;
  masterName: string;
}

const actTimeouts = { connectMs: 1000, commandMs: 5000 };

async function on(target: RedisTarget | undefined, what: string, fn: (c: Redis) => Promise<void>): Promise<void> {
  if (!target) throw new Error(`${what} has no address`);
  await withRedis(target, fn, actTimeouts);
}

export async function act(a: Action, ctx: ActContext): Promise<void> {
  switch (a.kind) {
    case 'fence':
      return on(ctx.node(a.node), a.node, async (c) => {
        await configSet(c, { 'min-replicas-to-write': WRITE_FENCE });
        if (a.pauseMs) await pauseWrites(c, a.pauseMs);
        await configRewrite(c);
      });
    case 'unfence':
      return on(ctx.node(a.node), a.node, async (c) => {
        await configSet(c, { 'min-replicas-to-write': a.minReplicasToWrite });
        await unpause(c);
        await configRewrite(c);
      });
    case 'promote':
      return on(ctx.node(a.node), a.node, async (c) => {
        await promote(c);
        await configSet(c, { 'min-replicas-to-write': a.minReplicasToWrite });
        await configRewrite(c);
      });
    case 'configurePrimary':
      return on(ctx.node(a.node), a.node, async (c) => {
        await configSet(c, { 'min-replicas-to-write': a.minReplicasToWrite });
        if (a.unpause) await unpause(c);
        await configRewrite(c);
      });
    case 'repoint':
      return on(ctx.node(a.node), a.node, async (c) => {
        if (a.fenceFirst) await configSet(c, { 'min-replicas-to-write': WRITE_FENCE });
        const settings: Record<string, string> = { 'replica-read-only': 'yes' };
        if (ctx.credentials) {
          settings['masterauth'] = ctx.credentials.password;
          if (ctx.credentials.username) settings['masteruser'] = ctx.credentials.username;
        }
        if (ctx.tlsReplication) settings['tls-replication'] = 'yes';
        await configSet(c, settings);
        await replicaOf(c, a.to.host, a.to.port);
        // A replica refuses writes anyway; a fence left on it would only surprise whoever promotes it by hand.
        await configSet(c, { 'min-replicas-to-write': 0 });
        if (a.unpause) await unpause(c);
        await configRewrite(c);
      });
    case 'isolate':
      return on(ctx.node(a.node), a.node, async (c) => {
        await configSet(c, { 'min-replicas-to-write': WRITE_FENCE });
        await promote(c);
        await configRewrite(c);
      });
    case 'sentinelMonitor':
      return on(ctx.sentinel(a.sentinel), a.sentinel, async (c) => {
        await sentinelMonitor(c, ctx.masterName, a.primary.host, a.primary.port, a.quorum);
        const options: Record<string, string | number> = { 'down-after-milliseconds': a.downAfterMilliseconds };
        if (ctx.credentials) {
          options['auth-pass'] = ctx.credentials.password;
          if (ctx.credentials.username) options['auth-user'] = ctx.credentials.username;
        }
        await sentinelSet(c, ctx.masterName, options);
      });
    case 'sentinelSet':
      return on(ctx.sentinel(a.sentinel), a.sentinel, (c) => sentinelSet(c, ctx.masterName, a.options));
  }
}

/** What an action does, for Events and logs (never with credentials). */
export function describeAction(a: Action): string {
  switch (a.kind) {
    case 'repoint':
      return `${a.node}: REPLICAOF ${a.to.host} ${a.to.port}`;
    case 'sentinelMonitor':
      return `${a.sentinel}: SENTINEL MONITOR ${a.primary.host} ${a.primary.port}`;
    case 'sentinelSet':
      return `${a.sentinel}: SENTINEL SET ${Object.keys(a.options).join(' ')}`;
    default:
      return `${a.node}: ${a.kind}`;
  }
}
