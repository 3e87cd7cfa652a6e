// ProxysqlSync's pure half: the rows ProxySQL should hold (from the MysqlReplication's observed
// topology and the accounts of its primary) and the smallest set of row changes that gets the
// admin tables there. No I/O: every input is a value, every output is a list of changes that
// ../../drivers/proxysql renders and applies.
//
// Ownership. The writer and reader hostgroups belong to the ProxysqlSync: every row in them is
// reconciled (a stray server in the writer hostgroup would take writes). Rows it writes carry its
// marker in `comment`, so rows left in hostgroups it no longer uses are found and removed too.
// Users are different: only users carrying the marker are updated or removed; a user created in
// ProxySQL by other means is left alone, even when an account of the same name exists.

import type { MysqlReplication, ProxysqlServers, ProxysqlSync, ProxysqlUsers } from '../../../api/generated/types.js';
import type { PoolRow, ReplicationHostgroupRow, ServerRow, UserRow } from '../../drivers/proxysql/admin.js';
import type { AccountsSnapshot } from '../../drivers/proxysql/mysql-accounts.js';
import type { Change, Row } from '../../drivers/proxysql/sql.js';
import type { Endpoint } from '../shared/instances.js';

const markerPrefix = 'upm.io/proxysqlsync=';

/** The `comment` of every row a ProxysqlSync writes. */
export const markerOf = (sync: Pick<ProxysqlSync, 'metadata'>): string =>
  `${markerPrefix}${sync.metadata.namespace ?? ''}/${sync.metadata.name ?? ''}`;

export interface ServerSettings {
  writerHostgroup: number;
  readerHostgroup: number;
  checkType: string;
  writerIsAlsoReader: boolean;
  maxConnections: number;
  maxReplicationLagSeconds: number;
}

export function serverSettings(s: ProxysqlServers | undefined): ServerSettings {
  return {
    writerHostgroup: s?.writerHostgroup ?? 0,
    readerHostgroup: s?.readerHostgroup ?? 1,
    checkType: s?.checkType ?? 'read_only',
    writerIsAlsoReader: s?.writerIsAlsoReader ?? false,
    maxConnections: s?.maxConnections ?? 2000,
    maxReplicationLagSeconds: s?.maxReplicationLagSeconds ?? 0,
  };
}

export interface DesiredServers {
  settings: ServerSettings;
  /** Name of the MysqlReplication instance in the writer hostgroup. */
  primary: string;
  servers: ServerRow[];
  replicationHostgroup: ReplicationHostgroupRow;
}

export type DesiredServersResult =
  { ok: true; desired: DesiredServers } | { ok: false; reason: string; message: string };

/**
 * The servers ProxySQL should route to: the observed primary (status.currentPrimary, which the
 * MysqlReplication controller sets only once the primary is writable and fenced in) in the writer
 * hostgroup, the ready replicas of that primary in the reader hostgroup. Isolated instances and
 * replicas that are not ready are left out. `endpoints` maps instance names to where ProxySQL
 * reaches them.
 */
export function desiredServers(
  settings: ServerSettings,
  mr: MysqlReplication,
  endpoints: Map<string, Endpoint>,
  marker: string,
): DesiredServersResult {
  if (settings.writerHostgroup === settings.readerHostgroup) {
    return { ok: false, reason: 'InvalidHostgroups', message: 'writerHostgroup and readerHostgroup must differ' };
  }
  const primary = mr.status?.currentPrimary;
  if (!primary) {
    return {
      ok: false,
      reason: 'NoPrimary',
      message: `MysqlReplication ${mr.metadata.name} has no established primary yet`,
    };
  }
  const primaryAt = endpoints.get(primary);
  if (!primaryAt) {
    return {
      ok: false,
      reason: 'PrimaryNotAddressable',
      message: `primary ${primary} of MysqlReplication ${mr.metadata.name} has no address yet`,
    };
  }
  const isolated = new Set((mr.spec.instances ?? []).filter((i) => i.isolated).map((i) => i.name));
  const row = (hostgroup: number, e: Endpoint, lag: number): ServerRow => ({
    hostgroup_id: hostgroup,
    hostname: e.host,
    port: e.port,
    status: 'ONLINE',
    weight: 1,
    max_connections: settings.maxConnections,
    max_replication_lag: lag,
    comment: marker,
  });
  const servers = [row(settings.writerHostgroup, primaryAt, 0)];
  if (settings.writerIsAlsoReader) servers.push(row(settings.readerHostgroup, primaryAt, 0));
  for (const s of mr.status?.instances ?? []) {
    if (s.name === primary || isolated.has(s.name) || s.role !== 'Replica' || s.ready !== true) continue;
    const e = endpoints.get(s.name);
    if (e) servers.push(row(settings.readerHostgroup, e, settings.maxReplicationLagSeconds));
  }
  return {
    ok: true,
    desired: {
      settings,
      primary,
      servers: dedupe(servers),
      replicationHostgroup: {
        writer_hostgroup: settings.writerHostgroup,
        reader_hostgroup: settings.readerHostgroup,
        check_type: settings.checkType,
        comment: marker,
      },
    },
  };
}

const serverKey = (r: Pick<ServerRow, 'hostgroup_id' | 'hostname' | 'port'>) =>
  `${r.hostgroup_id}/${r.hostname}/${r.port}`;

function dedupe(rows: ServerRow[]): ServerRow[] {
  const seen = new Map<string, ServerRow>();
  for (const r of rows) if (!seen.has(serverKey(r))) seen.set(serverKey(r), r);
  return [...seen.values()];
}

/** Fields of `want` that differ in `have` (the SET of an UPDATE). */
function differing(want: Row, have: Row): Row {
  const set: Row = {};
  for (const [k, v] of Object.entries(want)) if (have[k] !== v) set[k] = v;
  return set;
}

export interface ServersPlan {
  changes: Change[];
  /** Servers set OFFLINE_SOFT and waiting for their connections to end (host:port in hostgroup). */
  draining: string[];
  /** One line per change, for Events (no values beyond host, port and hostgroup). */
  notes: string[];
  /** The writer was another server (ONLINE in the writer hostgroup) before this plan: a primary change. */
  writerChanged: boolean;
  /**
   * Another ProxysqlSync's rows are in our hostgroups (two objects configured with the same
   * hostgroups on one ProxySQL). Nothing is planned then: both would fight over the writer.
   */
  conflict?: string;
}

const describe = (r: Pick<ServerRow, 'hostgroup_id' | 'hostname' | 'port'>) =>
  `${r.hostname.includes(':') ? `[${r.hostname}]` : r.hostname}:${r.port} in hostgroup ${r.hostgroup_id}`;

/**
 * Changes that make mysql_servers and mysql_replication_hostgroups hold `desired`. Compared with
 * the in-memory tables (not runtime_*, which ProxySQL's monitor rewrites). A server leaving is set
 * OFFLINE_SOFT first and deleted on a later pass once the connection pool shows no connection in
 * use on it. Deletes come first, then updates, then inserts, so unique keys never collide.
 */
export function planServers(
  desired: DesiredServers,
  actual: { servers: ServerRow[]; replicationHostgroups: ReplicationHostgroupRow[]; pool: PoolRow[] },
  marker: string,
): ServersPlan {
  const { writerHostgroup: w, readerHostgroup: r } = desired.settings;
  const foreign = (comment: string) => comment.startsWith(markerPrefix) && comment !== marker;
  const owner =
    actual.servers.find((s) => [w, r].includes(s.hostgroup_id) && foreign(s.comment))?.comment ??
    actual.replicationHostgroups.find(
      (h) => ([w, r].includes(h.writer_hostgroup) || [w, r].includes(h.reader_hostgroup)) && foreign(h.comment),
    )?.comment;
  if (owner) {
    const other = owner.slice(markerPrefix.length);
    return {
      changes: [],
      draining: [],
      notes: [],
      writerChanged: false,
      conflict: `hostgroups ${w}/${r} are managed by ProxysqlSync ${other}; give one of them other hostgroups`,
    };
  }
  const deletes: Change[] = [];
  const updates: Change[] = [];
  const inserts: Change[] = [];
  const draining: string[] = [];
  const notes: string[] = [];

  // mysql_replication_hostgroups: ours is the row of our writer hostgroup; rows naming either of
  // our hostgroups or carrying our marker are in the way.
  const rh = desired.replicationHostgroup;
  let rhFound = false;
  for (const have of actual.replicationHostgroups) {
    const ours =
      [w, r].includes(have.writer_hostgroup) || [w, r].includes(have.reader_hostgroup) || have.comment === marker;
    if (!ours) continue;
    if (have.writer_hostgroup === rh.writer_hostgroup) {
      rhFound = true;
      const set = differing(rh as unknown as Row, have as unknown as Row);
      if (Object.keys(set).length > 0) {
        updates.push({
          op: 'update',
          table: 'mysql_replication_hostgroups',
          where: { writer_hostgroup: have.writer_hostgroup },
          set,
        });
        notes.push(`updated replication hostgroups ${w}/${r}`);
      }
    } else {
      deletes.push({
        op: 'delete',
        table: 'mysql_replication_hostgroups',
        where: { writer_hostgroup: have.writer_hostgroup },
      });
      notes.push(`removed replication hostgroups ${have.writer_hostgroup}/${have.reader_hostgroup}`);
    }
  }
  if (!rhFound) {
    inserts.push({ op: 'insert', table: 'mysql_replication_hostgroups', values: { ...rh } });
    notes.push(`added replication hostgroups ${w}/${r} (${rh.check_type})`);
  }

  // mysql_servers.
  const want = new Map(desired.servers.map((s) => [serverKey(s), s]));
  const inUse = new Map(actual.pool.map((p) => [`${p.hostgroup}/${p.srv_host}/${p.srv_port}`, p.ConnUsed]));
  const seen = new Set<string>();
  const writerKeys = desired.servers.filter((s) => s.hostgroup_id === w).map(serverKey);
  const writerChanged = actual.servers.some(
    (s) => s.hostgroup_id === w && s.status === 'ONLINE' && !writerKeys.includes(serverKey(s)),
  );
  for (const have of actual.servers) {
    const key = serverKey(have);
    const ours = have.hostgroup_id === w || have.hostgroup_id === r || have.comment === marker;
    if (!ours) continue;
    seen.add(key);
    const where = { hostgroup_id: have.hostgroup_id, hostname: have.hostname, port: have.port };
    const target = want.get(key);
    if (target) {
      const set = differing(target as unknown as Row, have as unknown as Row);
      if (Object.keys(set).length > 0) {
        updates.push({ op: 'update', table: 'mysql_servers', where, set });
        notes.push(have.status !== 'ONLINE' ? `brought ${describe(have)} back ONLINE` : `updated ${describe(have)}`);
      }
      continue;
    }
    if (have.status === 'ONLINE' || have.status === 'SHUNNED') {
      updates.push({ op: 'update', table: 'mysql_servers', where, set: { status: 'OFFLINE_SOFT' } });
      draining.push(describe(have));
      notes.push(`draining ${describe(have)} (OFFLINE_SOFT)`);
    } else if (have.status === 'OFFLINE_SOFT' && (inUse.get(key) ?? 0) > 0) {
      draining.push(describe(have));
    } else {
      deletes.push({ op: 'delete', table: 'mysql_servers', where });
      notes.push(`removed ${describe(have)}`);
    }
  }
  for (const [key, s] of want) {
    if (seen.has(key)) continue;
    inserts.push({ op: 'insert', table: 'mysql_servers', values: { ...s } as unknown as Row });
    notes.push(`added ${describe(s)}${s.hostgroup_id === w ? ' (writer)' : ''}`);
  }
  return { changes: [...deletes, ...updates, ...inserts], draining, notes, writerChanged };
}

export interface UserSettings {
  enabled: boolean;
  hostMatch: 'Exact' | 'Like' | 'Regex';
  hostPattern: string;
  exclude: string[];
  defaultHostgroup: number | undefined;
  maxConnections: number;
}

export function userSettings(u: ProxysqlUsers | undefined): UserSettings {
  return {
    enabled: u?.enabled ?? true,
    hostMatch: u?.hostMatch ?? 'Exact',
    hostPattern: u?.hostPattern ?? '%',
    exclude: u?.exclude ?? ['root', 'mysql.sys', 'mysql.session', 'mysql.infoschema'],
    defaultHostgroup: u?.defaultHostgroup,
    maxConnections: u?.maxConnections ?? 2000,
  };
}

export interface DesiredUser {
  username: string;
  password: string;
  active: number;
  default_hostgroup: number;
  max_connections: number;
  comment: string;
}

export interface DesiredUsers {
  users: DesiredUser[];
  /** Accounts not copied, with why (no hash: only names and reasons). */
  skipped: string[];
}

/**
 * One ProxySQL user per account name. An account matched under several hosts is copied when every
 * match has the same hash; otherwise ProxySQL (which knows users by name only) cannot tell which
 * password applies and the name is skipped.
 */
export function desiredUsers(
  settings: UserSettings,
  snapshot: AccountsSnapshot,
  writerHostgroup: number,
  marker: string,
): DesiredUsers {
  const skipped = snapshot.skipped.map((s) => `${s.username}@${s.host}: ${s.reason}`);
  const byName = new Map<string, string[]>();
  for (const a of snapshot.accounts) byName.set(a.username, [...(byName.get(a.username) ?? []), a.hash]);
  const users: DesiredUser[] = [];
  for (const [username, hashes] of [...byName].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (new Set(hashes).size > 1) {
      skipped.push(`${username}: its matching accounts have different passwords`);
      continue;
    }
    users.push({
      username,
      password: hashes[0],
      active: 1,
      default_hostgroup: settings.defaultHostgroup ?? writerHostgroup,
      max_connections: settings.maxConnections,
      comment: marker,
    });
  }
  return { users, skipped };
}

export interface UsersPlan {
  changes: Change[];
  /** Users of the same name that ProxySQL already has and this object does not own. */
  conflicts: string[];
  added: number;
  updated: number;
  removed: number;
  /** Users this object owns once the plan is applied. */
  managed: number;
}

/** Changes that make the users carrying `marker` in mysql_users exactly `desired`. */
export function planUsers(desired: DesiredUser[], actual: UserRow[], marker: string): UsersPlan {
  const plan: UsersPlan = { changes: [], conflicts: [], added: 0, updated: 0, removed: 0, managed: 0 };
  const want = new Map(desired.map((u) => [u.username, u]));
  const deletes: Change[] = [];
  const updates: Change[] = [];
  const inserts: Change[] = [];
  const present = new Set<string>();
  for (const have of actual) {
    present.add(have.username);
    if (have.comment !== marker) {
      if (want.has(have.username)) plan.conflicts.push(have.username);
      continue;
    }
    const target = want.get(have.username);
    const where = { username: have.username, comment: marker };
    if (!target) {
      deletes.push({ op: 'delete', table: 'mysql_users', where });
      plan.removed++;
      continue;
    }
    const set = differing(
      {
        password: target.password,
        active: 1,
        default_hostgroup: target.default_hostgroup,
        max_connections: target.max_connections,
      },
      have as unknown as Row,
    );
    if (Object.keys(set).length > 0) {
      updates.push({ op: 'update', table: 'mysql_users', where, set });
      plan.updated++;
    }
  }
  for (const u of desired) {
    if (present.has(u.username)) continue;
    inserts.push({ op: 'insert', table: 'mysql_users', values: { ...u } });
    plan.added++;
  }
  plan.changes = [...deletes, ...updates, ...inserts];
  plan.managed = desired.length - new Set(plan.conflicts).size;
  plan.conflicts = [...new Set(plan.conflicts)];
  return plan;
}

export interface VariablesPlan {
  changes: Change[];
  /** The in-memory values are right but the runtime ones are not (a load did not happen). */
  reload: boolean;
  notes: string[];
  /** Variables this ProxySQL does not have (left out, so a pass does not retry them forever). */
  unknown: string[];
}

/** Variables whose values are secret: events name them without their values. */
const secretVariables = new Set(['mysql-monitor_password']);

/**
 * Changes that set global_variables to `desired` (name → value): an UPDATE per differing value in
 * the in-memory table, and a reload when the runtime table still differs.
 */
export function planVariables(
  desired: Record<string, string>,
  actual: { main: Map<string, string>; runtime: Map<string, string> },
): VariablesPlan {
  const plan: VariablesPlan = { changes: [], reload: false, notes: [], unknown: [] };
  for (const [name, value] of Object.entries(desired).sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (!actual.main.has(name)) {
      plan.unknown.push(name);
      continue;
    }
    if (actual.main.get(name) !== value) {
      plan.changes.push({
        op: 'update',
        table: 'global_variables',
        where: { variable_name: name },
        set: { variable_value: value },
      });
      plan.notes.push(secretVariables.has(name) ? `set ${name}` : `set ${name} to ${JSON.stringify(value)}`);
    } else if (actual.runtime.get(name) !== value) {
      plan.reload = true;
    }
  }
  return plan;
}
