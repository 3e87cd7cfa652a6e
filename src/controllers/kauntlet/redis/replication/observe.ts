// Reads every instance and Sentinel of a RedisReplication, in parallel, through the Redis driver.
// A server that cannot be reached or refuses the credentials is reported, never retried here.

import type { RedisTarget, RedisTimeouts } from '../../../drivers/redis/connection.js';
import { withRedis } from '../../../drivers/redis/connection.js';
import {
  configGetInt,
  replicationInfo,
  sentinelMaster,
  sentinelMasterAddress,
} from '../../../drivers/redis/replication.js';
import type { Resolution } from '../../shared/instances.js';
import type { Address, NodeObservation, NodeProblem, Observation, SentinelObservation } from './model.js';

export const observeTimeouts: RedisTimeouts = { connectMs: 1000, commandMs: 3000 };

export interface InstanceToObserve {
  name: string;
  resolution: Resolution;
  announce?: Partial<Address>;
}

/** Connection settings for an endpoint: credentials and TLS. */
export type TargetFor = (host: string, port: number) => RedisTarget;

export function classify(err: unknown): { reason: NodeProblem; message: string } {
  const message = err instanceof Error ? err.message : String(err);
  if (/WRONGPASS|NOAUTH|invalid (username|password)|AUTH failed/i.test(message)) {
    return { reason: 'AuthenticationFailed', message: `authentication failed: ${message}` };
  }
  if (
    /ECONNREFUSED|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|EAI_AGAIN|ECONNRESET|Connection is closed|connect/i.test(message)
  ) {
    return { reason: 'Unreachable', message };
  }
  return { reason: 'Failed', message };
}

async function observeNode(i: InstanceToObserve, targetFor: TargetFor): Promise<NodeObservation> {
  const r = i.resolution;
  if (!r.ok) return { name: i.name, problem: { reason: r.reason, message: r.message } };
  const e = r.endpoint;
  const replicationAddress = { host: i.announce?.host ?? e.host, port: i.announce?.port ?? e.port };
  try {
    return await withRedis(
      targetFor(e.host, e.port),
      async (c) => ({
        name: i.name,
        endpoint: e,
        replicationAddress,
        info: await replicationInfo(c),
        minReplicasToWrite: await configGetInt(c, 'min-replicas-to-write'),
      }),
      observeTimeouts,
    );
  } catch (err) {
    return { name: i.name, endpoint: e, replicationAddress, problem: classify(err) };
  }
}

async function observeSentinel(
  name: string,
  r: Resolution,
  masterName: string,
  targetFor: TargetFor,
): Promise<SentinelObservation> {
  if (!r.ok) return { name, problem: { reason: r.reason, message: r.message } };
  const e = r.endpoint;
  try {
    return await withRedis(
      targetFor(e.host, e.port),
      async (c) => {
        const master = await sentinelMaster(c, masterName);
        const primary = master ? await sentinelMasterAddress(c, masterName) : undefined;
        return { name, endpoint: e, master, primary };
      },
      observeTimeouts,
    );
  } catch (err) {
    return { name, endpoint: e, problem: classify(err) };
  }
}

export async function observe(
  instances: InstanceToObserve[],
  sentinels: { name: string; resolution: Resolution }[],
  masterName: string,
  targets: { node: TargetFor; sentinel: TargetFor },
): Promise<Observation> {
  const [nodes, sents] = await Promise.all([
    Promise.all(instances.map((i) => observeNode(i, targets.node))),
    Promise.all(sentinels.map((s) => observeSentinel(s.name, s.resolution, masterName, targets.sentinel))),
  ]);
  return { nodes, sentinels: sents };
}
