// A stand-in for ProxySQL's admin interface, for tests: a MySQL-protocol server (mysql2's server
// side, mysql_native_password authentication) that runs every statement it receives against an
// in-memory SQLite database holding ProxySQL's admin tables (main, runtime_* and disk.*), which is
// what ProxySQL's admin interface is. LOAD … TO RUNTIME and SAVE … TO DISK copy tables, and a
// restart loads the disk tables, as ProxySQL does at startup.
//
// What it proves: the statements the driver sends are valid SQLite over ProxySQL's schema and
// have the intended effect on these tables. What it does not: that ProxySQL itself behaves the same
// (its monitor moving servers between hostgroups, its runtime tables' exact contents, its own SQL
// rewrites). No live ProxySQL was run here.

import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net';
import Database from 'better-sqlite3';
import mysql from 'mysql2';
import { connectionPoolStatement, defaultVariables, moduleTables, schemaStatements } from './admin-schema.js';

// Protocol constants (MySQL client/server protocol).
const CLIENT = {
  LONG_PASSWORD: 0x1,
  FOUND_ROWS: 0x2,
  LONG_FLAG: 0x4,
  CONNECT_WITH_DB: 0x8,
  PROTOCOL_41: 0x200,
  TRANSACTIONS: 0x2000,
  SECURE_CONNECTION: 0x8000,
  MULTI_RESULTS: 0x20000,
  PLUGIN_AUTH: 0x80000,
};
const VAR_STRING = 253;
const UTF8MB4 = 45;
const ER_ACCESS_DENIED = 1045;

interface ServerConnection {
  stream: Socket;
  sequenceId: number;
  serverHandshake(args: unknown): void;
  on(event: string, listener: (...args: never[]) => void): void;
  writeOk(args?: { affectedRows?: number }): void;
  writeError(args: { code: number; message: string }): void;
  writeColumns(columns: unknown[]): void;
  writeTextRow(values: (string | null)[]): void;
  writeEof(): void;
}

const sha1 = (...parts: Buffer[]) => {
  const h = createHash('sha1');
  for (const p of parts) h.update(p);
  return h.digest();
};

/**
 * mysql_native_password: the client sends SHA1(pw) XOR SHA1(seed + SHA1(SHA1(pw))); the server,
 * knowing SHA1(SHA1(pw)), recovers SHA1(pw) and checks that it hashes to what it knows.
 */
function nativePasswordMatches(seed: Buffer, token: Buffer, password: string): boolean {
  if (password === '') return token.length === 0;
  const doubleSha = sha1(sha1(Buffer.from(password, 'utf8')));
  if (token.length !== 20) return false;
  const mask = sha1(seed, doubleSha);
  const stage1 = Buffer.from(token.map((b, i) => b ^ mask[i]));
  return timingSafeEqual(sha1(stage1), doubleSha);
}

export interface StandInOptions {
  adminUser?: string;
  adminPassword?: string;
}

export class ProxysqlStandIn {
  readonly host = '127.0.0.1';
  port = 0;
  /** The admin database; tests read runtime_* and disk.* tables here and change stats. */
  readonly db: Database.Database;
  /** Every statement received, in order (tests count the writes). */
  readonly statements: string[] = [];
  readonly adminUser: string;
  readonly adminPassword: string;
  private tcp: TcpServer | undefined;
  private readonly sockets = new Set<Socket>();
  private nextConnectionId = 1;

  constructor(opts: StandInOptions = {}) {
    this.adminUser = opts.adminUser ?? 'admin';
    this.adminPassword = opts.adminPassword ?? 'admin';
    this.db = new Database(':memory:');
    this.db.exec(`ATTACH ':memory:' AS disk`);
    this.db.exec(`ATTACH ':memory:' AS stats`);
    for (const s of schemaStatements()) this.db.exec(s);
    this.db.exec(connectionPoolStatement);
    const setVar = this.db.prepare('INSERT INTO global_variables VALUES (?, ?)');
    for (const [k, v] of Object.entries(defaultVariables)) setVar.run(k, v);
    this.copyModule('VARIABLES', 'main', 'runtime');
    this.copyModule('VARIABLES', 'main', 'disk');
  }

  /** Listens (on the previous port after a stop, or a free one) and, like ProxySQL starting, loads the disk tables. */
  async start(): Promise<void> {
    if (this.tcp) return;
    for (const m of Object.keys(moduleTables) as (keyof typeof moduleTables)[]) {
      if (this.port !== 0) {
        this.copyModule(m, 'disk', 'main');
        this.copyModule(m, 'main', 'runtime');
      }
    }
    const server = createTcpServer((socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, this.host, () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.tcp = server;
  }

  /** Closes the listener and every connection: a ProxySQL that is down. The tables are kept. */
  async stop(): Promise<void> {
    const server = this.tcp;
    if (!server) return;
    this.tcp = undefined;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async close(): Promise<void> {
    await this.stop();
    this.db.close();
  }

  running(): boolean {
    return this.tcp !== undefined;
  }

  /** Rows of `sql` run directly on the admin database (for assertions). */
  query<T = Record<string, unknown>>(sql: string): T[] {
    return this.db.prepare(sql).all() as T[];
  }

  /** The statements received that change something (not SELECTs). */
  writes(): string[] {
    return this.statements.filter((s) => !/^\s*select\b/i.test(s));
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const conn = (mysql as unknown as { createConnection(o: object): ServerConnection }).createConnection({
      stream: socket,
      isServer: true,
    });
    conn.serverHandshake({
      protocolVersion: 10,
      serverVersion: defaultVariables['admin-version'],
      connectionId: this.nextConnectionId++,
      statusFlags: 2,
      characterSet: UTF8MB4,
      capabilityFlags:
        CLIENT.LONG_PASSWORD |
        CLIENT.FOUND_ROWS |
        CLIENT.LONG_FLAG |
        CLIENT.CONNECT_WITH_DB |
        CLIENT.PROTOCOL_41 |
        CLIENT.TRANSACTIONS |
        CLIENT.SECURE_CONNECTION |
        CLIENT.MULTI_RESULTS |
        CLIENT.PLUGIN_AUTH,
      authCallback: (
        params: { user: string; authPluginData1: Buffer; authPluginData2: Buffer; authToken: Buffer },
        cb: (err: Error | null, mysqlError?: { message: string; code: number }) => void,
      ) => {
        const ok =
          params.user === this.adminUser &&
          nativePasswordMatches(
            Buffer.concat([params.authPluginData1, params.authPluginData2]),
            params.authToken,
            this.adminPassword,
          );
        cb(
          null,
          ok
            ? undefined
            : { message: `ProxySQL Admin Error: Access denied for user '${params.user}'`, code: ER_ACCESS_DENIED },
        );
        // Every command starts a new packet sequence (mysql2's server side does not reset it).
        conn.sequenceId = 0;
      },
    });
    conn.on('query', (sql: string) => this.run(conn, sql));
    // mysql2's server routes SET … and PREPARE to this event; ProxySQL's admin has its own SET
    // parser that the stand-in does not model, and no prepared statements.
    conn.on('stmt_prepare', (sql: string) => {
      this.statements.push(sql);
      conn.writeError({ code: ER_ACCESS_DENIED, message: 'ProxySQL Admin Error: not supported by the stand-in' });
      conn.sequenceId = 0;
    });
    conn.on('error', () => socket.destroy());
  }

  private run(conn: ServerConnection, raw: string): void {
    this.respond(conn, raw);
    conn.sequenceId = 0;
  }

  private respond(conn: ServerConnection, raw: string): void {
    this.statements.push(raw);
    const sql = raw.trim().replace(/;\s*$/, '');
    try {
      const command =
        /^(LOAD|SAVE)\s+MYSQL\s+(SERVERS|USERS|VARIABLES)\s+(TO|FROM)\s+(RUNTIME|RUN|DISK|MEMORY|MEM)$/i.exec(sql);
      if (command) {
        this.adminCommand(
          command[1].toUpperCase(),
          command[2].toUpperCase() as keyof typeof moduleTables,
          command[3].toUpperCase(),
          command[4].toUpperCase(),
        );
        conn.writeOk();
        return;
      }
      const stmt = this.db.prepare(sql);
      if (!stmt.reader) {
        const info = stmt.run();
        conn.writeOk({ affectedRows: info.changes });
        return;
      }
      const columns = stmt.columns();
      const rows = stmt.raw(true).all() as unknown[][];
      conn.writeColumns(
        columns.map((c) => ({
          catalog: 'def',
          schema: c.database ?? 'main',
          table: c.table ?? '',
          orgTable: c.table ?? '',
          name: c.name,
          orgName: c.column ?? c.name,
          characterSet: UTF8MB4,
          columnLength: 1024,
          // ProxySQL's admin returns every column as text.
          columnType: VAR_STRING,
          flags: 0,
          decimals: 0,
        })),
      );
      for (const row of rows) conn.writeTextRow(row.map((v) => (v === null || v === undefined ? null : String(v))));
      conn.writeEof();
    } catch (err) {
      conn.writeError({ code: ER_ACCESS_DENIED, message: `ProxySQL Admin Error: ${(err as Error).message}` });
    }
  }

  private adminCommand(verb: string, module: keyof typeof moduleTables, direction: string, place: string): void {
    const runtime = place === 'RUNTIME' || place === 'RUN';
    const disk = place === 'DISK';
    // LOAD X TO RUNTIME = LOAD X FROM MEMORY; SAVE X TO DISK = SAVE X FROM MEMORY;
    // LOAD X FROM DISK = LOAD X TO MEMORY; SAVE X FROM RUNTIME = SAVE X TO MEMORY.
    if (verb === 'LOAD' && ((direction === 'TO' && runtime) || (direction === 'FROM' && !runtime && !disk))) {
      this.copyModule(module, 'main', 'runtime');
    } else if (verb === 'SAVE' && ((direction === 'TO' && disk) || (direction === 'FROM' && !runtime && !disk))) {
      this.copyModule(module, 'main', 'disk');
    } else if (verb === 'LOAD' && ((direction === 'FROM' && disk) || (direction === 'TO' && !runtime && !disk))) {
      this.copyModule(module, 'disk', 'main');
    } else if (verb === 'SAVE' && ((direction === 'FROM' && runtime) || (direction === 'TO' && !runtime && !disk))) {
      this.copyModule(module, 'runtime', 'main');
    } else {
      throw new Error(`unsupported command ${verb} MYSQL ${module} ${direction} ${place}`);
    }
  }

  private copyModule(module: keyof typeof moduleTables, from: Place, to: Place): void {
    this.db.transaction(() => {
      for (const table of moduleTables[module]) {
        this.db.exec(`DELETE FROM ${placed(table, to)}`);
        this.db.exec(`INSERT INTO ${placed(table, to)} SELECT * FROM ${placed(table, from)}`);
      }
      if (module === 'SERVERS' && to === 'runtime') this.refreshConnectionPool();
    })();
  }

  /** One pool row per runtime server; connections in use are kept for servers that stay. */
  private refreshConnectionPool(): void {
    this.db.exec(`DELETE FROM stats_mysql_connection_pool WHERE NOT EXISTS (SELECT 1 FROM runtime_mysql_servers s
      WHERE s.hostgroup_id=hostgroup AND s.hostname=srv_host AND s.port=srv_port)`);
    this.db.exec(`UPDATE stats_mysql_connection_pool SET status=(SELECT s.status FROM runtime_mysql_servers s
      WHERE s.hostgroup_id=hostgroup AND s.hostname=srv_host AND s.port=srv_port)`);
    this.db.exec(`INSERT INTO stats_mysql_connection_pool (hostgroup, srv_host, srv_port, status)
      SELECT hostgroup_id, hostname, port, status FROM runtime_mysql_servers s WHERE NOT EXISTS
      (SELECT 1 FROM stats_mysql_connection_pool p WHERE p.hostgroup=s.hostgroup_id AND p.srv_host=s.hostname AND p.srv_port=s.port)`);
  }
}

type Place = 'main' | 'runtime' | 'disk';
const placed = (table: string, place: Place) =>
  place === 'main' ? table : place === 'runtime' ? `runtime_${table}` : `disk.${table}`;

/** A running stand-in; close() it in afterAll. */
export async function startProxysqlStandIn(opts: StandInOptions = {}): Promise<ProxysqlStandIn> {
  const s = new ProxysqlStandIn(opts);
  await s.start();
  return s;
}
