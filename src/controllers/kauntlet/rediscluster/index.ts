// RedisCluster: forms, scales and repairs a Redis Cluster made of existing servers (Units or
// external hosts). Registered by addKauntlet.

import type { KubeObject } from '../../../machinery/object.js';
import { redisClusters, units } from '../../resources.js';
import { Controller } from '../../runtime/controller.js';
import type { Manager } from '../../runtime/manager.js';
import type { UnitAddressing } from '../shared/instances.js';
import { RedisClusterReconciler, redisClusterFieldManager } from './reconciler.js';

export interface RedisClusterOptions {
  unitAddressing?: UnitAddressing;
  workers?: number;
  resyncMs?: number;
}

export function addRedisCluster(mgr: Manager, opts: RedisClusterOptions = {}): Controller {
  const caches = { clusters: mgr.informer(redisClusters), units: mgr.informer(units) };
  const recon = new RedisClusterReconciler(mgr.client, caches, mgr.recorder(redisClusterFieldManager), {
    addressing: opts.unitAddressing ?? 'dns',
    resyncMs: opts.resyncMs,
  });
  const ctrl = new Controller('rediscluster', recon.reconcile, {
    workers: opts.workers ?? 4,
    metrics: mgr.metrics,
    log: mgr.log,
    backoff: { baseDelayMs: 100, maxDelayMs: 30_000 },
  })
    .for(caches.clusters)
    .watches(caches.units, (u) =>
      caches.clusters
        .list()
        .filter((c) => c.metadata.namespace === u.metadata.namespace && referencesUnit(c, u.metadata.name!))
        .map((c) => ({ namespace: c.metadata.namespace ?? '', name: c.metadata.name! })),
    );
  mgr.add(ctrl);
  return ctrl;
}

function referencesUnit(c: KubeObject, unit: string): boolean {
  const shards = (
    (c as { spec?: unknown }).spec as { shards?: { instances?: { unitRef?: { name: string } }[] }[] } | undefined
  )?.shards;
  return !!shards?.some((s) => s.instances?.some((i) => i.unitRef?.name === unit));
}
