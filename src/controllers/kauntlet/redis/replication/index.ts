// Registers the RedisReplication controller on a manager.

import { redisReplications, services } from '../../../resources.js';
import { Controller } from '../../../runtime/controller.js';
import type { Manager } from '../../../runtime/manager.js';
import type { UnitAddressing } from '../../shared/instances.js';
import { replicationLabel } from '../../shared/services.js';
import { holdRedis, type RedisTarget } from '../../../drivers/redis/connection.js';
import { LivenessWatches } from '../../shared/liveness.js';
import { RedisReplicationReconciler } from './reconciler.js';

export function addRedisReplication(
  mgr: Manager,
  opts: { unitAddressing?: UnitAddressing; workers?: number; detachTimeoutMs?: number } = {},
) {
  const caches = {
    replications: mgr.informer(redisReplications),
    services: mgr.informer(services, { labelSelector: replicationLabel }),
  };
  // A primary that dies closes this connection: its RedisReplication is looked at at once.
  const liveness = new LivenessWatches<RedisTarget>(
    (t) => holdRedis(t),
    (t) => `${t.username ?? 'default'}@${t.host}:${t.port}${t.tls ? '/tls' : ''}`,
  );
  const reconciler = new RedisReplicationReconciler(
    mgr.client,
    { services: caches.services },
    mgr.recorder('upm.io/redisreplication-controller'),
    { unitAddressing: opts.unitAddressing, liveness, detachTimeoutMs: opts.detachTimeoutMs },
  );
  const ctrl = new Controller('redisreplication', reconciler.reconcile, {
    workers: opts.workers ?? 4,
    metrics: mgr.metrics,
    log: mgr.log,
  })
    .for(caches.replications)
    .owns(caches.services, `${redisReplications.group}/${redisReplications.version}`, 'RedisReplication')
    .from(liveness);
  mgr.add(ctrl);
  return ctrl;
}
