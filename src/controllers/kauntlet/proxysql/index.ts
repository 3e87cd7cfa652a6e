// Registers the ProxysqlSync controller: its own objects, the MysqlReplication each one follows
// (so a switchover reaches ProxySQL on the next reconcile, not the next poll) and the Units that
// run the instances (an address change).

import type { MysqlReplication, ProxysqlSync } from '../../../api/generated/types.js';
import type { KubeObject } from '../../../machinery/object.js';
import { mysqlReplications, proxysqlSyncs, units } from '../../resources.js';
import { Controller, type Request } from '../../runtime/controller.js';
import type { Manager } from '../../runtime/manager.js';
import { ProxysqlSyncReconciler, type ProxysqlSyncOptions } from './reconciler.js';

const byReplication = 'mysqlReplication';

export function addProxysqlSync(mgr: Manager, opts: ProxysqlSyncOptions & { workers?: number } = {}): Controller {
  const caches = {
    syncs: mgr.informer(proxysqlSyncs),
    replications: mgr.informer(mysqlReplications),
    units: mgr.informer(units),
  };
  caches.syncs.addIndex(byReplication, (o) => {
    const s = o as unknown as ProxysqlSync;
    return [`${s.metadata.namespace}/${s.spec?.mysqlReplication?.name ?? ''}`];
  });
  const keyOf = (o: KubeObject): Request => ({ namespace: o.metadata.namespace ?? '', name: o.metadata.name! });
  const followers = (mr: KubeObject) =>
    caches.syncs.byIndex(byReplication, `${mr.metadata.namespace}/${mr.metadata.name}`).map(keyOf);
  // A Unit matters when a ProxySQL instance runs on it or a MySQL instance of the followed replication does.
  const unitUsers = (unit: KubeObject): Request[] => {
    const ns = unit.metadata.namespace ?? '';
    const name = unit.metadata.name;
    return caches.syncs
      .list(ns)
      .filter((o) => {
        const s = o as unknown as ProxysqlSync;
        if (s.spec.proxysql.some((p) => p.unitRef?.name === name)) return true;
        const mr = caches.replications.get(ns, s.spec.mysqlReplication.name) as unknown as MysqlReplication | undefined;
        return !!mr?.spec.instances?.some((i) => i.unitRef?.name === name);
      })
      .map(keyOf);
  };

  const reconciler = new ProxysqlSyncReconciler(
    mgr.client,
    caches,
    mgr.recorder('upm.io/proxysqlsync-controller'),
    opts,
  );
  const ctrl = new Controller('proxysqlsync', reconciler.reconcile, {
    workers: opts.workers ?? 2,
    metrics: mgr.metrics,
    log: mgr.log,
  })
    .for(caches.syncs)
    .watches(caches.replications, followers)
    .watches(caches.units, unitUsers);
  mgr.add(ctrl);
  return ctrl;
}
