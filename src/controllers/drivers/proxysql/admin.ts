// ProxySQL's admin interface: the only code that talks to it. Reads the configuration tables the
// controller manages and applies changes (rendered by sql.ts) followed by LOAD … TO RUNTIME and
// SAVE … TO DISK of the modules they touched. Statement text is never logged or put in an error
// message: it may hold a password hash or the monitor password.

import type { Connection } from 'mysql2/promise';
import { connectAdmin, defaultTimeouts, queryRows, type AdminTarget, type Timeouts } from './connection.js';
import { loadAndSave, moduleOf, renderChange, sqlString, type AdminModule, type Change } from './sql.js';

export interface ServerRow {
  hostgroup_id: number;
  hostname: string;
  port: number;
  status: string;
  weight: number;
  max_connections: number;
  max_replication_lag: number;
  comment: string;
}

export interface ReplicationHostgroupRow {
  writer_hostgroup: number;
  reader_hostgroup: number;
  check_type: string;
  comment: string;
}

export interface UserRow {
  username: string;
  password: string | null;
  active: number;
  default_hostgroup: number;
  max_connections: number;
  frontend: number;
  backend: number;
  comment: string;
}

export interface PoolRow {
  hostgroup: number;
  srv_host: string;
  srv_port: number;
  status: string;
  ConnUsed: number;
}

const int = (v: string | null | undefined): number => (v === null || v === undefined ? 0 : Number.parseInt(v, 10));
const text = (v: string | null | undefined): string => v ?? '';

/** A failed statement: which one of a batch (by position and table), never its text. */
export class AdminStatementError extends Error {
  constructor(
    readonly index: number,
    what: string,
    readonly serverMessage: string,
  ) {
    super(`${what} failed: ${serverMessage}`);
    this.name = 'AdminStatementError';
  }
}

export class ProxysqlAdmin {
  private constructor(
    private readonly conn: Connection,
    private readonly timeouts: Timeouts,
  ) {}

  static async connect(t: AdminTarget, timeouts: Timeouts = {}): Promise<ProxysqlAdmin> {
    return new ProxysqlAdmin(await connectAdmin(t, timeouts), { ...defaultTimeouts, ...timeouts });
  }

  async close(): Promise<void> {
    await this.conn.end().catch(() => this.conn.destroy());
  }

  private rows(sql: string) {
    return queryRows(this.conn, sql, this.timeouts);
  }

  /** ProxySQL's version (admin-version). */
  async version(): Promise<string | undefined> {
    const rows = await this.rows(`SELECT variable_value FROM global_variables WHERE variable_name='admin-version'`);
    return rows[0]?.['variable_value'] ?? undefined;
  }

  /** mysql_servers: the in-memory configuration, which the monitor does not rewrite. */
  async servers(): Promise<ServerRow[]> {
    return (await this.rows(serversQuery('mysql_servers'))).map(serverRow);
  }

  /** runtime_mysql_servers: what routes queries now (the monitor moves servers between hostgroups here). */
  async runtimeServers(): Promise<ServerRow[]> {
    return (await this.rows(serversQuery('runtime_mysql_servers'))).map(serverRow);
  }

  async replicationHostgroups(): Promise<ReplicationHostgroupRow[]> {
    const rows = await this.rows(
      'SELECT writer_hostgroup,reader_hostgroup,check_type,comment FROM mysql_replication_hostgroups ORDER BY writer_hostgroup',
    );
    return rows.map((r) => ({
      writer_hostgroup: int(r['writer_hostgroup']),
      reader_hostgroup: int(r['reader_hostgroup']),
      check_type: text(r['check_type']),
      comment: text(r['comment']),
    }));
  }

  async users(): Promise<UserRow[]> {
    const rows = await this.rows(
      'SELECT username,password,active,default_hostgroup,max_connections,frontend,backend,comment FROM mysql_users ' +
        'ORDER BY username,backend',
    );
    return rows.map((r) => ({
      username: text(r['username']),
      password: r['password'] ?? null,
      active: int(r['active']),
      default_hostgroup: int(r['default_hostgroup']),
      max_connections: int(r['max_connections']),
      frontend: int(r['frontend']),
      backend: int(r['backend']),
      comment: text(r['comment']),
    }));
  }

  /** Connections per server (stats_mysql_connection_pool): a draining server is removed once none is in use. */
  async connectionPool(): Promise<PoolRow[]> {
    const rows = await this.rows('SELECT hostgroup,srv_host,srv_port,status,ConnUsed FROM stats_mysql_connection_pool');
    return rows.map((r) => ({
      hostgroup: int(r['hostgroup']),
      srv_host: text(r['srv_host']),
      srv_port: int(r['srv_port']),
      status: text(r['status']),
      ConnUsed: int(r['ConnUsed']),
    }));
  }

  async variables(names: string[]): Promise<{ main: Map<string, string>; runtime: Map<string, string> }> {
    if (names.length === 0) return { main: new Map(), runtime: new Map() };
    const list = names.map(sqlString).join(',');
    const read = async (table: string) =>
      new Map(
        (await this.rows(`SELECT variable_name,variable_value FROM ${table} WHERE variable_name IN (${list})`)).map(
          (r) => [text(r['variable_name']), text(r['variable_value'])] as const,
        ),
      );
    return { main: await read('global_variables'), runtime: await read('runtime_global_variables') };
  }

  /**
   * Applies `changes` in order, then loads to runtime and saves to disk every module they touched
   * and every module in `alsoLoad` (a module whose earlier load did not complete). Stops at the
   * first failure.
   */
  async apply(changes: Change[], alsoLoad: AdminModule[] = []): Promise<void> {
    const modules = new Set<AdminModule>(alsoLoad);
    const statements: { sql: string; what: string }[] = [];
    for (const c of changes) {
      statements.push({ sql: renderChange(c), what: `${c.op} on ${c.table}` });
      modules.add(moduleOf[c.table]);
    }
    for (const m of (['SERVERS', 'USERS', 'VARIABLES'] as const).filter((m) => modules.has(m))) {
      for (const sql of loadAndSave(m)) statements.push({ sql, what: sql });
    }
    for (const [i, s] of statements.entries()) {
      try {
        await this.conn.query({ sql: s.sql, timeout: this.timeouts.queryMs });
      } catch (err) {
        const e = err as { sqlMessage?: string; code?: string };
        // mysql2 puts the statement in `sql` and sometimes in the message: keep only the server's words.
        throw new AdminStatementError(i, s.what, e.sqlMessage ?? e.code ?? 'error');
      }
    }
  }
}

const serversQuery = (table: string) =>
  `SELECT hostgroup_id,hostname,port,status,weight,max_connections,max_replication_lag,comment FROM ${table} ` +
  'ORDER BY hostgroup_id,hostname,port';

function serverRow(r: Record<string, string | null>): ServerRow {
  return {
    hostgroup_id: int(r['hostgroup_id']),
    hostname: text(r['hostname']),
    port: int(r['port']),
    status: text(r['status']),
    weight: int(r['weight']),
    max_connections: int(r['max_connections']),
    max_replication_lag: int(r['max_replication_lag']),
    comment: text(r['comment']),
  };
}

/** Runs `fn` with an admin connection to `t` and always closes it. */
export async function withProxysqlAdmin<T>(
  t: AdminTarget,
  fn: (admin: ProxysqlAdmin) => Promise<T>,
  timeouts?: Timeouts,
): Promise<T> {
  const admin = await ProxysqlAdmin.connect(t, timeouts);
  try {
    return await fn(admin);
  } finally {
    await admin.close();
  }
}
