// ProxysqlSync's status from one pass (pure): per ProxySQL instance what was seen, planned and
// done, the instances' status entries, and the conditions.

import type { ProxysqlInstanceStatus, ProxysqlSync, ProxysqlSyncStatus } from '../../../api/generated/types.js';
import { setCondition, type Condition } from '../../../machinery/conditions.js';
import { formatTime } from '../../../machinery/time.js';
import type { ProxysqlAdmin, ServerRow } from '../../drivers/proxysql/admin.js';
import type { AdminModule } from '../../drivers/proxysql/sql.js';
import { addressOf } from '../shared/instances.js';
import { userSettings, type DesiredServers, type ServersPlan, type UsersPlan, type VariablesPlan } from './plan.js';

/** A problem that stops a whole part of the sync (servers or users), with its condition reason. */
export interface Problem {
  reason: string;
  message: string;
}

/** One ProxySQL instance in this pass: what was seen, planned and done. */
export interface Instance {
  name: string;
  address?: string;
  admin?: ProxysqlAdmin;
  version?: string;
  servers?: ServersPlan;
  /** Monitor account and server version (global_variables); counted with the servers. */
  variables?: VariablesPlan;
  users?: UsersPlan;
  /** Modules whose earlier load is not known to have completed (the status flag was not true). */
  reload: AdminModule[];
  applied: boolean;
  /** Runtime servers after the pass (for status.instances[].writer). */
  runtime?: ServerRow[];
  /** Unreachable (no connection) or Failed (a statement failed). */
  failure?: { health: 'Unreachable' | 'Failed'; reason: string; message: string };
}

export function pending(i: Instance, module: 'SERVERS' | 'USERS'): boolean {
  const plan = module === 'SERVERS' ? i.servers : i.users;
  const variables = module === 'SERVERS' && !!i.variables && (i.variables.changes.length > 0 || i.variables.reload);
  return !!plan && (plan.changes.length > 0 || i.reload.includes(module) || variables);
}

export const hasWork = (i: Instance) => pending(i, 'SERVERS') || pending(i, 'USERS');

/** In sync for `module`: planned, and either nothing to do or done in this pass. */
export function synced(i: Instance, module: 'SERVERS' | 'USERS'): boolean {
  const plan = module === 'SERVERS' ? i.servers : i.users;
  return !i.failure && !!plan && (i.applied || !pending(i, module));
}

/** The reason a module is not in sync everywhere, from the first instance that is not. */
export function problemOf(instances: Instance[], module: 'SERVERS' | 'USERS', paused: boolean): Problem | undefined {
  for (const i of instances) {
    if (i.failure) return { reason: i.failure.reason, message: `${i.name}: ${i.failure.message}` };
    if (!synced(i, module)) {
      return paused
        ? { reason: 'Paused', message: `${i.name} is not in sync and spec.paused is set` }
        : { reason: 'Syncing', message: `${i.name}: changes are being applied` };
    }
  }
  return undefined;
}

/** Status when nothing could be observed (no MysqlReplication, no credentials). */
export function blockedStatus(sync: ProxysqlSync, p: Problem): ProxysqlSyncStatus {
  const previous = new Map((sync.status?.instances ?? []).map((i) => [i.name, i]));
  return {
    ...(sync.status ?? {}),
    totalInstances: sync.spec.proxysql.length,
    readyInstances: 0,
    instances: sync.spec.proxysql.map((i) => ({
      ...(previous.get(i.name) ?? { name: i.name }),
      ready: false,
      serversSynced: false,
      usersSynced: false,
      message: p.message,
    })),
  };
}

/** The status after a pass (or before acting, to announce the changes). */
export function syncStatus(
  sync: ProxysqlSync,
  instances: Instance[],
  desired: DesiredServers | undefined,
  paused: boolean,
  now: Date,
): ProxysqlSyncStatus {
  const previous = new Map((sync.status?.instances ?? []).map((i) => [i.name, i]));
  const usersEnabled = userSettings(sync.spec.users).enabled;
  const nowTime = formatTime(now);
  const out: ProxysqlInstanceStatus[] = instances.map((i) => {
    const prev = previous.get(i.name);
    if (i.failure) {
      return dropUndefined({
        ...(prev ?? {}),
        name: i.name,
        address: i.address ?? prev?.address,
        health: i.failure.health,
        ready: false,
        version: i.version ?? prev?.version,
        serversSynced: false,
        usersSynced: false,
        message: i.failure.message,
      });
    }
    const serversSynced = synced(i, 'SERVERS');
    const usersSynced = !usersEnabled || synced(i, 'USERS');
    const ready = serversSynced && usersSynced;
    const writer = desired
      ? i.runtime
          ?.filter((r) => r.hostgroup_id === desired.settings.writerHostgroup && r.status === 'ONLINE')
          .map((r) => addressOf({ host: r.hostname, port: r.port }))
          .join(',')
      : undefined;
    const messages: string[] = [];
    if (!i.applied && hasWork(i)) messages.push(paused ? 'paused: changes are not applied' : 'applying changes');
    if (i.servers?.draining.length) messages.push(`draining ${i.servers.draining.join(', ')}`);
    if (i.variables?.unknown.length) messages.push(`ProxySQL has no variable ${i.variables.unknown.join(', ')}`);
    if (i.users?.conflicts.length) {
      messages.push(`users left alone (not created by this object): ${i.users.conflicts.join(', ')}`);
    }
    const stillSynced = prev?.ready === true && !i.applied;
    return dropUndefined({
      name: i.name,
      address: i.address,
      health: 'Healthy' as const,
      ready,
      version: i.version,
      serversSynced,
      usersSynced,
      users: i.users ? i.users.managed : prev?.users,
      writer: writer ?? prev?.writer,
      lastSyncTime: ready ? (stillSynced ? (prev.lastSyncTime ?? nowTime) : nowTime) : prev?.lastSyncTime,
      message: messages.length > 0 ? messages.join('; ') : undefined,
    });
  });
  const status: ProxysqlSyncStatus = {
    ...(sync.status ?? {}),
    totalInstances: out.length,
    readyInstances: out.filter((i) => i.ready).length,
    instances: out,
  };
  if (desired && out.every((i) => i.serversSynced)) status.primary = desired.primary;
  return status;
}

/** `status` with the conditions (Ready, ServersSynced, UsersSynced) and observedGeneration set. */
export function withConditions(
  sync: ProxysqlSync,
  status: ProxysqlSyncStatus,
  problems: { servers?: Problem; users?: Problem },
  now: Date,
): ProxysqlSyncStatus {
  const gen = sync.metadata.generation;
  const usersEnabled = userSettings(sync.spec.users).enabled;
  let conditions = (sync.status?.conditions ?? []) as unknown as Condition[];
  const set = (c: Condition) =>
    (conditions = setCondition(conditions, { ...c, observedGeneration: gen }, now).conditions);
  set(
    problems.servers
      ? { type: 'ServersSynced', status: 'False', reason: problems.servers.reason, message: problems.servers.message }
      : {
          type: 'ServersSynced',
          status: 'True',
          reason: 'Synced',
          message: 'servers and hostgroups are loaded everywhere',
        },
  );
  set(
    !usersEnabled
      ? {
          type: 'UsersSynced',
          status: 'True',
          reason: 'Disabled',
          message: 'users are not synchronised (spec.users.enabled)',
        }
      : problems.users
        ? { type: 'UsersSynced', status: 'False', reason: problems.users.reason, message: problems.users.message }
        : { type: 'UsersSynced', status: 'True', reason: 'Synced', message: 'users are loaded everywhere' },
  );
  const first = problems.servers ?? (usersEnabled ? problems.users : undefined);
  const readyCount = status.readyInstances ?? 0;
  set(
    first
      ? { type: 'Ready', status: 'False', reason: first.reason, message: first.message }
      : {
          type: 'Ready',
          status: 'True',
          reason: 'Synced',
          message: `${readyCount}/${status.totalInstances ?? 0} ProxySQL instances in sync`,
        },
  );
  const next: ProxysqlSyncStatus = {
    ...status,
    observedGeneration: gen,
    conditions: conditions as unknown as ProxysqlSyncStatus['conditions'],
  };
  return next;
}

function dropUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
