// Kauntlet: the replication controllers (MysqlReplication, ProxysqlSync, RedisReplication,
// RedisCluster) on one manager. They never create Pods: an instance is a Unit's Pod or any
// host:port, so the same controllers manage databases outside Kubernetes.
//
// Each kind lives in its own folder (observe → plan (pure) → act) and registers here; the
// drivers in ../drivers are the only code that opens database connections.

import type { Manager } from '../runtime/manager.js';
import { addMysqlReplication } from './mysql/index.js';
import { addProxysqlSync } from './proxysql/index.js';
import { addRedisReplication } from './redis/replication/index.js';
import { addRedisCluster } from './rediscluster/index.js';
import type { UnitAddressing } from './shared/instances.js';

export interface KauntletOptions {
  /** How Unit-backed instances are reached (see UnitAddressing). */
  unitAddressing?: UnitAddressing;
}

/** Registers every Kauntlet controller on `mgr`. */
export function addKauntlet(mgr: Manager, opts: KauntletOptions = {}): void {
  addMysqlReplication(mgr, { unitAddressing: opts.unitAddressing });
  addProxysqlSync(mgr, { unitAddressing: opts.unitAddressing });
  addRedisReplication(mgr, { unitAddressing: opts.unitAddressing });
  addRedisCluster(mgr, { unitAddressing: opts.unitAddressing });
}
