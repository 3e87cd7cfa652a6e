// Observation of a RedisCluster's servers: each instance of spec (resolved from its Unit or host),
// then the nodes outside spec that still own slots (shards removed from spec), all at once.
// Connections stay open for the act phase and are closed by `close()`.

import type { Redis } from 'ioredis';
import type { RedisCluster, Unit } from '../../../api/generated/types.js';
import { closeRedis, connectRedis, type RedisTarget } from '../../drivers/redis/connection.js';
import { observeNode, resolveIP } from '../../drivers/redis/cluster.js';
import type { Credentials } from '../shared/credentials.js';
import { resolveInstance, type UnitAddressing } from '../shared/instances.js';
import type { ObservedInstance } from './model.js';
import { instanceKey, strangersToObserve, type PlanInput } from './plan.js';

export interface Observation {
  instances: ObservedInstance[];
  /** Open connections by instance key. */
  clients: Map<string, Redis>;
  close(): void;
}

export interface ObserveOptions {
  credentials: Credentials;
  unitOf: (name: string) => Unit | undefined;
  addressing: UnitAddressing;
  recordedIds: PlanInput['recordedIds'];
  connectMs?: number;
}

export async function observe(rc: RedisCluster, opts: ObserveOptions): Promise<Observation> {
  const clients = new Map<string, Redis>();
  const target = (host: string, port: number): RedisTarget => ({
    host,
    port,
    username: opts.credentials.username,
    password: opts.credentials.password,
  });

  const visit = async (base: ObservedInstance): Promise<ObservedInstance> => {
    let c: Redis;
    try {
      c = await connectRedis(target(base.host, base.port), { connectMs: opts.connectMs ?? 2000, commandMs: 10_000 });
    } catch (err) {
      return { ...base, ...classify(err) };
    }
    try {
      const o = await observeNode(c);
      if (!o.clusterEnabled) {
        closeRedis(c);
        return { ...base, state: 'ClusterDisabled', version: o.version };
      }
      clients.set(instanceKey(base), c);
      const me = o.nodes.find((n) => n.myself);
      return {
        ...base,
        state: 'Reachable',
        version: o.version,
        id: me?.id,
        nodes: o.nodes,
        info: o.info,
        keys: o.keys,
      };
    } catch (err) {
      closeRedis(c);
      return { ...base, ...classify(err) };
    }
  };

  const specInstances = await Promise.all(
    rc.spec.shards.flatMap((shard) =>
      shard.instances.map(async (inst): Promise<ObservedInstance> => {
        const unit = inst.unitRef ? opts.unitOf(inst.unitRef.name) : undefined;
        const r = resolveInstance(inst, unit, 6379, opts.addressing);
        const base = { shard: shard.name, name: inst.name, nodeName: unit?.status?.nodeName };
        if (!r.ok)
          return { ...base, host: '', port: inst.port ?? 6379, busPort: 0, state: 'NotResolved', message: r.message };
        const port = r.endpoint.port;
        const announce = inst.announceHost ?? r.endpoint.host;
        const ip = await resolveIP(announce).catch(() => undefined);
        const o: ObservedInstance = {
          ...base,
          host: r.endpoint.host,
          port,
          ip,
          busPort: inst.busPort ?? port + 10000,
          state: 'Unreachable',
        };
        return visit(o);
      }),
    ),
  );

  const strangers = strangersToObserve(specInstances, opts.recordedIds);
  const extra = await Promise.all(
    strangers.map((s) =>
      visit({
        shard: s.shard ?? s.id,
        name: s.id,
        host: s.ip,
        port: s.port,
        ip: s.ip,
        busPort: s.busPort,
        extra: true,
        state: 'Unreachable',
      }),
    ),
  );
  return {
    instances: [...specInstances, ...extra],
    clients,
    close() {
      for (const c of clients.values()) closeRedis(c);
      clients.clear();
    },
  };
}

function classify(err: unknown): Pick<ObservedInstance, 'state' | 'message'> {
  const text = err instanceof Error ? err.message : String(err);
  if (/WRONGPASS|NOAUTH|NOPERM|invalid password|invalid username|without any password configured/i.test(text)) {
    return { state: 'AuthFailed', message: 'authentication failed' };
  }
  return { state: 'Unreachable', message: text.split('\n')[0].slice(0, 200) };
}
