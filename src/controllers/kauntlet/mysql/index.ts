// Registers the MysqlReplication controller: MysqlReplications, and the Units they name (a Unit
// that gets an address or a new Pod IP changes where an instance is reached).

import type { MysqlReplication } from '../../../api/generated/types.js';
import type { KubeObject } from '../../../machinery/object.js';
import { mysqlReplications, services, units } from '../../resources.js';
import { Controller, type Request } from '../../runtime/controller.js';
import type { Manager } from '../../runtime/manager.js';
import { replicationLabel } from '../shared/services.js';
import type { UnitAddressing } from '../shared/instances.js';
import { mysqlReplicationFieldManager, MysqlReplicationReconciler } from './reconciler.js';
import { connectMysql, type MysqlTarget, type MysqlTimeouts } from '../../drivers/mysql/connection.js';
import { LivenessWatches } from '../shared/liveness.js';

export interface MysqlReplicationControllerOptions {
  unitAddressing?: UnitAddressing;
  workers?: number;
  timeouts?: MysqlTimeouts;
  /** How long a deleted object with deletionPolicy Detach waits for unreachable instances. */
  detachTimeoutMs?: number;
}

export function addMysqlReplication(mgr: Manager, opts: MysqlReplicationControllerOptions = {}): Controller {
  const caches = {
    replications: mgr.informer(mysqlReplications),
    units: mgr.informer(units),
  };
  const owned = mgr.informer(services, { labelSelector: replicationLabel });
  // A primary that dies closes this connection: its MysqlReplication is looked at at once, not
  // at the next periodic observation (up to STEADY_REQUEUE_MS later).
  const liveness = new LivenessWatches<MysqlTarget>(
    (t) => connectMysql(t, opts.timeouts),
    (t) => `${t.user ?? 'root'}@${t.host}:${t.port}${t.tls ? '/tls' : ''}`,
  );
  const reconciler = new MysqlReplicationReconciler(mgr.client, caches, mgr.recorder(mysqlReplicationFieldManager), {
    unitAddressing: opts.unitAddressing,
    timeouts: opts.timeouts,
    liveness,
    detachTimeoutMs: opts.detachTimeoutMs,
  });
  const usingUnit = (u: KubeObject): Request[] =>
    caches.replications
      .list(u.metadata.namespace)
      .filter((r) =>
        (r as unknown as MysqlReplication).spec?.instances?.some((i) => i.unitRef?.name === u.metadata.name),
      )
      .map((r) => ({ namespace: r.metadata.namespace ?? '', name: r.metadata.name! }));
  const ctrl = new Controller('mysqlreplication', reconciler.reconcile, {
    workers: opts.workers ?? 4,
    metrics: mgr.metrics,
    log: mgr.log,
  })
    .for(caches.replications)
    .owns(owned, `${mysqlReplications.group}/${mysqlReplications.version}`, 'MysqlReplication')
    .watches(caches.units, usingUnit)
    .from(liveness);
  mgr.add(ctrl);
  return ctrl;
}
