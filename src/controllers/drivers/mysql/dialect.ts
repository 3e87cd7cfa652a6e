// The statements of each server flavor, rendered as data. A dialect opens nothing: the driver
// sends what it renders, and the tests check every step of the MySQL 8 dialect without a MySQL
// server. Values travel as parameters (escaped by the client: CHANGE MASTER, SET GLOBAL and KILL
// are not preparable on every server), never spliced into the text.

import { formatGtidSet, parseGtidSet, unionGtidSet, type Flavor } from './gtid.js';

export interface Statement {
  sql: string;
  values?: (string | number)[];
}

export interface SourceAddress {
  host: string;
  port: number;
  user: string;
  password: string;
  /** Encrypt the replication channel. */
  tls?: boolean;
  /**
   * Path, on the replica's host, of the CA bundle that must sign the source's certificate
   * (with tls). The replica then verifies the chain, and the host name too with verifyHostName.
   */
  caFile?: string;
  verifyHostName?: boolean;
}

/**
 * The SSL options of CHANGE MASTER TO / CHANGE REPLICATION SOURCE TO (`prefix` MASTER or SOURCE).
 * All three are always given: the statement keeps the options it does not name, so a CA file
 * set once would otherwise outlive a change to an unverified or plain channel.
 */
function sslClauses(prefix: 'MASTER' | 'SOURCE', s: SourceAddress): { sql: string; values: string[] } {
  const caFile = s.tls ? (s.caFile ?? '') : '';
  const verify = s.tls && s.caFile && s.verifyHostName ? 1 : 0;
  return {
    sql: `${prefix}_SSL = ${s.tls ? 1 : 0}, ${prefix}_SSL_CA = ?, ${prefix}_SSL_VERIFY_SERVER_CERT = ${verify}`,
    values: [caFile],
  };
}

export type ThreadState = 'Yes' | 'No' | 'Connecting';

/** What SHOW REPLICA STATUS / SHOW SLAVE STATUS says, in one shape for both flavors. */
export interface ReplicaStatus {
  sourceHost: string;
  sourcePort: number;
  ioRunning: ThreadState;
  sqlRunning: 'Yes' | 'No';
  secondsBehind: number | null;
  lastIOError: string;
  lastSQLError: string;
  /** GTIDs received from the source (applied or still in the relay log). */
  received: string;
  /** server_id (MariaDB) or server_uuid (MySQL) of the source, as the replica last saw it. */
  sourceOrigin: string;
  autoPosition: boolean;
}

export type Variables = Record<string, string>;

export interface SemiSyncSettings {
  /** How long a commit waits for an acknowledgement before falling back to async; undefined: never. */
  timeoutMs?: number;
  waitForReplicaCount?: number;
}

/** A timeout no one will wait for: a primary in this mode never falls back to asynchronous replication. */
export const SEMI_SYNC_NEVER_FALL_BACK_MS = 4_294_967_295;

export interface Dialect {
  readonly flavor: Flavor;
  /** The global variables the observer reads (Variable_name, Value rows). */
  readonly variables: Statement;
  readonly replicaStatus: Statement;
  parseReplicaStatus(rows: Record<string, unknown>[]): ReplicaStatus | undefined;
  /** GTIDs the instance has applied (MariaDB: gtid_binlog_state merged with gtid_slave_pos). */
  executed(v: Variables): string;
  /** The identity written into the GTIDs this instance originates. */
  origin(v: Variables): string;
  readOnly(v: Variables): { readOnly: boolean; superReadOnly?: boolean };
  semiSync(v: Variables): { source: boolean; replica: boolean };
  /** Rejects writes from clients (MySQL: also from accounts with SUPER). */
  fence(): Statement[];
  unfence(): Statement[];
  /** Client connections to kill when fencing (rows with an `id` column), own and replication threads excluded. */
  readonly clientConnections: Statement;
  kill(id: number): Statement;
  readonly stopReplica: Statement;
  readonly startReplica: Statement;
  readonly resetReplicaAll: Statement;
  /** Reconnects the receiver (a changed semi-sync replica setting takes effect on reconnect). */
  restartReceiver(): Statement[];
  /**
   * Run (replication stopped) on an instance about to replicate that has none configured: a
   * MariaDB server asks the source for what follows its own binlog position, not an empty or
   * stale gtid_slave_pos. MySQL auto-positioning uses gtid_executed and needs nothing.
   */
  prepareReplica(v: Variables): Statement[];
  changeSource(s: SourceAddress): Statement;
  semiSyncSource(enabled: boolean, s?: SemiSyncSettings): Statement[];
  semiSyncReplica(enabled: boolean): Statement[];
  /** Waits until the instance has applied `gtids`; one row `r`, see waitSucceeded. */
  waitForGtids(gtids: string, timeoutSeconds: number): Statement;
  waitSucceeded(r: unknown): boolean;
}

const onOff = (v: string | undefined): boolean => v === 'ON' || v === '1';
const str = (v: unknown): string => (v === null || v === undefined ? '' : String(v));
const num = (v: unknown): number | null => (v === null || v === undefined || v === '' ? null : Number(v));
const thread = (v: unknown): ThreadState => (v === 'Yes' ? 'Yes' : v === 'Connecting' ? 'Connecting' : 'No');
const set = (name: string, value: string | number): Statement => ({ sql: `SET GLOBAL ${name} = ?`, values: [value] });

const clientConnectionsWhere =
  "ID <> CONNECTION_ID() AND USER NOT IN ('system user', 'event_scheduler') " +
  "AND COMMAND NOT IN ('Binlog Dump', 'Binlog Dump GTID', 'Daemon', 'Slave_IO', 'Slave_SQL', 'Slave_worker')";

function kill(id: number): Statement {
  if (!Number.isSafeInteger(id) || id < 0) throw new Error(`invalid connection id ${id}`);
  return { sql: 'KILL CONNECTION ?', values: [id] };
}

function waitSucceeded(r: unknown): boolean {
  return r !== null && r !== undefined && Number(r) === 0;
}

export const mariadbDialect: Dialect = {
  flavor: 'MariaDB',
  variables: {
    sql:
      'SHOW GLOBAL VARIABLES WHERE Variable_name IN (' +
      "'server_id', 'read_only', 'gtid_binlog_state', 'gtid_binlog_pos', 'gtid_slave_pos', 'gtid_current_pos', " +
      "'gtid_strict_mode', 'log_bin', 'log_slave_updates', 'rpl_semi_sync_master_enabled', 'rpl_semi_sync_slave_enabled')",
  },
  // SHOW ALL SLAVES STATUS lists the named (multi-source) connections too; the controller owns
  // the default connection, named ''.
  replicaStatus: { sql: 'SHOW ALL SLAVES STATUS' },
  parseReplicaStatus(rows) {
    const r = rows.find((row) => str(row['Connection_name']) === '');
    if (!r || !str(r['Master_Host'])) return undefined;
    return {
      sourceHost: str(r['Master_Host']),
      sourcePort: Number(r['Master_Port']),
      ioRunning: thread(r['Slave_IO_Running']),
      sqlRunning: r['Slave_SQL_Running'] === 'Yes' ? 'Yes' : 'No',
      secondsBehind: num(r['Seconds_Behind_Master']),
      lastIOError: str(r['Last_IO_Error']),
      lastSQLError: str(r['Last_SQL_Error']),
      received: str(r['Gtid_IO_Pos']),
      sourceOrigin: str(r['Master_Server_Id']),
      autoPosition: str(r['Using_Gtid']) === 'Slave_Pos' || str(r['Using_Gtid']) === 'Current_Pos',
    };
  },
  executed: (v) =>
    formatGtidSet(
      unionGtidSet(parseGtidSet('MariaDB', v['gtid_binlog_state']), parseGtidSet('MariaDB', v['gtid_slave_pos'])),
    ),
  origin: (v) => str(v['server_id']),
  readOnly: (v) => ({ readOnly: onOff(v['read_only']) }),
  semiSync: (v) => ({
    source: onOff(v['rpl_semi_sync_master_enabled']),
    replica: onOff(v['rpl_semi_sync_slave_enabled']),
  }),
  fence: () => [set('read_only', 'ON')],
  unfence: () => [set('read_only', 'OFF')],
  clientConnections: { sql: `SELECT ID AS id FROM information_schema.PROCESSLIST WHERE ${clientConnectionsWhere}` },
  kill,
  stopReplica: { sql: 'STOP SLAVE' },
  startReplica: { sql: 'START SLAVE' },
  resetReplicaAll: { sql: 'RESET SLAVE ALL' },
  restartReceiver: () => [{ sql: 'STOP SLAVE IO_THREAD' }, { sql: 'START SLAVE IO_THREAD' }],
  prepareReplica: (v) => [set('gtid_slave_pos', v['gtid_binlog_pos'] ?? '')],
  changeSource: (s) => {
    const ssl = sslClauses('MASTER', s);
    return {
      sql:
        'CHANGE MASTER TO MASTER_HOST = ?, MASTER_PORT = ?, MASTER_USER = ?, MASTER_PASSWORD = ?, ' +
        `MASTER_USE_GTID = slave_pos, MASTER_CONNECT_RETRY = 1, MASTER_HEARTBEAT_PERIOD = 1, ${ssl.sql}`,
      values: [s.host, s.port, s.user, s.password, ...ssl.values],
    };
  },
  semiSyncSource: (enabled, s = {}) =>
    enabled
      ? [
          set('rpl_semi_sync_master_wait_point', 'AFTER_SYNC'),
          set('rpl_semi_sync_master_timeout', s.timeoutMs ?? SEMI_SYNC_NEVER_FALL_BACK_MS),
          set('rpl_semi_sync_master_enabled', 'ON'),
        ]
      : [set('rpl_semi_sync_master_enabled', 'OFF')],
  semiSyncReplica: (enabled) => [set('rpl_semi_sync_slave_enabled', enabled ? 'ON' : 'OFF')],
  waitForGtids: (gtids, timeoutSeconds) => ({
    sql: 'SELECT MASTER_GTID_WAIT(?, ?) AS r',
    values: [gtids, timeoutSeconds],
  }),
  waitSucceeded,
};

export const mysqlDialect: Dialect = {
  flavor: 'MySQL',
  variables: {
    sql:
      'SHOW GLOBAL VARIABLES WHERE Variable_name IN (' +
      "'server_id', 'server_uuid', 'read_only', 'super_read_only', 'gtid_executed', 'gtid_mode', 'log_bin', " +
      "'log_replica_updates', 'rpl_semi_sync_source_enabled', 'rpl_semi_sync_replica_enabled')",
  },
  replicaStatus: { sql: 'SHOW REPLICA STATUS' },
  parseReplicaStatus(rows) {
    const r = rows.find((row) => str(row['Channel_Name']) === '') ?? rows[0];
    if (!r || !str(r['Source_Host'])) return undefined;
    return {
      sourceHost: str(r['Source_Host']),
      sourcePort: Number(r['Source_Port']),
      ioRunning: thread(r['Replica_IO_Running']),
      sqlRunning: r['Replica_SQL_Running'] === 'Yes' ? 'Yes' : 'No',
      secondsBehind: num(r['Seconds_Behind_Source']),
      lastIOError: str(r['Last_IO_Error']),
      lastSQLError: str(r['Last_SQL_Error']),
      received: str(r['Retrieved_Gtid_Set']),
      sourceOrigin: str(r['Source_UUID']).toLowerCase(),
      autoPosition: str(r['Auto_Position']) === '1',
    };
  },
  executed: (v) => v['gtid_executed'] ?? '',
  origin: (v) => str(v['server_uuid']).toLowerCase(),
  readOnly: (v) => ({ readOnly: onOff(v['read_only']), superReadOnly: onOff(v['super_read_only']) }),
  semiSync: (v) => ({
    source: onOff(v['rpl_semi_sync_source_enabled']),
    replica: onOff(v['rpl_semi_sync_replica_enabled']),
  }),
  // super_read_only=ON implies read_only=ON; OFF in the other order.
  fence: () => [set('super_read_only', 'ON')],
  unfence: () => [set('super_read_only', 'OFF'), set('read_only', 'OFF')],
  clientConnections: { sql: `SELECT ID AS id FROM information_schema.PROCESSLIST WHERE ${clientConnectionsWhere}` },
  kill,
  stopReplica: { sql: 'STOP REPLICA' },
  startReplica: { sql: 'START REPLICA' },
  resetReplicaAll: { sql: 'RESET REPLICA ALL' },
  restartReceiver: () => [{ sql: 'STOP REPLICA IO_THREAD' }, { sql: 'START REPLICA IO_THREAD' }],
  prepareReplica: () => [],
  changeSource: (s) => {
    const ssl = sslClauses('SOURCE', s);
    return {
      sql:
        'CHANGE REPLICATION SOURCE TO SOURCE_HOST = ?, SOURCE_PORT = ?, SOURCE_USER = ?, SOURCE_PASSWORD = ?, ' +
        'SOURCE_AUTO_POSITION = 1, SOURCE_CONNECT_RETRY = 1, SOURCE_HEARTBEAT_PERIOD = 1, ' +
        // caching_sha2_password over a plain channel needs the server's RSA key.
        `GET_SOURCE_PUBLIC_KEY = 1, ${ssl.sql}`,
      values: [s.host, s.port, s.user, s.password, ...ssl.values],
    };
  },
  semiSyncSource: (enabled, s = {}) =>
    enabled
      ? [
          set('rpl_semi_sync_source_wait_point', 'AFTER_SYNC'),
          set('rpl_semi_sync_source_timeout', s.timeoutMs ?? SEMI_SYNC_NEVER_FALL_BACK_MS),
          set('rpl_semi_sync_source_wait_for_replica_count', s.waitForReplicaCount ?? 1),
          set('rpl_semi_sync_source_enabled', 'ON'),
        ]
      : [set('rpl_semi_sync_source_enabled', 'OFF')],
  semiSyncReplica: (enabled) => [set('rpl_semi_sync_replica_enabled', enabled ? 'ON' : 'OFF')],
  waitForGtids: (gtids, timeoutSeconds) => ({
    sql: 'SELECT WAIT_FOR_EXECUTED_GTID_SET(?, ?) AS r',
    values: [gtids, timeoutSeconds],
  }),
  waitSucceeded,
};

export type DialectChoice = { ok: true; dialect: Dialect } | { ok: false; message: string };

/**
 * The dialect for a server's SELECT VERSION(): MariaDB 10.6 and later, MySQL 8.0.26 and later
 * (CHANGE REPLICATION SOURCE, SHOW REPLICA STATUS and the source/replica semi-sync plugins).
 */
export function dialectFor(version: string): DialectChoice {
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(version);
  if (!m) return { ok: false, message: `cannot read the server version ${JSON.stringify(version)}` };
  const [major, minor, patch] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (/mariadb/i.test(version)) {
    if (major > 10 || (major === 10 && minor >= 6)) return { ok: true, dialect: mariadbDialect };
    return { ok: false, message: `MariaDB ${major}.${minor} is not supported (10.6 or later is)` };
  }
  if (major > 8 || (major === 8 && (minor > 0 || patch >= 26))) return { ok: true, dialect: mysqlDialect };
  return { ok: false, message: `MySQL ${major}.${minor}.${patch} is not supported (8.0.26 or later is)` };
}
