// Real mariadbd processes for tests: one per call, on a free loopback port, in its own temporary
// directory (mariadb-install-db), stopped and removed by stop(). The server is set up for GTID
// replication (unique server_id, binary log with log_slave_updates, gtid_strict_mode, ROW
// format, durable commits) and boots read-only, as a managed instance should: only the
// controller makes a primary writable. kill9()/start() model a crash and a restart with the data.
//
// Accounts (created on every server without binary logging, as an image's init would):
//   root      unix socket only (setup)
//   admin     every privilege: the controller's account
//   repl      REPLICATION SLAVE: the replication account
//   app       DML and DDL on the `app` schema, no SUPER: an application, which read_only stops
// (only admin with `adminOnly`, for tests that read the server's account list)

import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection, type Connection } from 'mysql2/promise';
import { freeLoopbackPort, OutputTail, spawnServer } from './processes.js';

export const testAccounts = {
  admin: { user: 'admin', password: 'admin-pw' },
  repl: { user: 'repl', password: 'repl-pw' },
  app: { user: 'app', password: 'app-pw' },
};

export interface MariadbServerOptions {
  serverId: number;
  /** Extra [mariadbd] option lines. */
  config?: string[];
  /** Boot with read_only=ON (default true). */
  bootReadOnly?: boolean;
  /**
   * Crash-safe semi-sync source: on restart after a crash, transactions the replicas never
   * acknowledged are rolled back and cut from the binary log (init_rpl_role=SLAVE with the
   * replica semi-sync flag), so a crashed primary can rejoin as a replica of its successor.
   */
  semiSync?: boolean;
  /** Create only the admin account (tests that read the server's account list). */
  adminOnly?: boolean;
  /** Serve TLS with this certificate and key (PEM); `caPem` also verifies client certificates. */
  tls?: { certPem: string; keyPem: string; caPem: string };
}

export interface MariadbServer {
  readonly host: string;
  readonly port: number;
  readonly dir: string;
  readonly serverId: number;
  /** A new connection as `account` (default admin) over TCP (TLS with `tls`); the caller ends it. */
  connect(account?: keyof typeof testAccounts, database?: string): Promise<Connection>;
  /** Runs one statement as admin and returns its rows. */
  query<T = Record<string, unknown>>(sql: string, values?: unknown[]): Promise<T[]>;
  start(): Promise<void>;
  /** SIGKILL: a crash. */
  kill9(): Promise<void>;
  stop(opts?: { keepData?: boolean }): Promise<void>;
  running(): boolean;
  logTail(lines?: number): string;
}

export async function startMariadbServer(opts: MariadbServerOptions): Promise<MariadbServer> {
  const host = '127.0.0.1';
  const port = await freeLoopbackPort(host);
  const dir = mkdtempSync(join(tmpdir(), 'upm-mariadb-'));
  const socket = join(dir, 'mysqld.sock');
  const cnf = join(dir, 'my.cnf');
  const tlsLines: string[] = [];
  if (opts.tls) {
    const files = { ssl_cert: opts.tls.certPem, ssl_key: opts.tls.keyPem, ssl_ca: opts.tls.caPem };
    for (const [option, pem] of Object.entries(files)) {
      const file = join(dir, `${option}.pem`);
      writeFileSync(file, pem, { mode: 0o600 });
      tlsLines.push(`${option}=${file}`);
    }
  }
  const lines = [
    '[mariadbd]',
    `datadir=${join(dir, 'data')}`,
    `socket=${socket}`,
    `pid-file=${join(dir, 'mysqld.pid')}`,
    `log-error=${join(dir, 'error.log')}`,
    `port=${port}`,
    `bind-address=${host}`,
    'skip-name-resolve',
    `server_id=${opts.serverId}`,
    'log_bin=binlog',
    'log_slave_updates=ON',
    'binlog_format=ROW',
    'gtid_strict_mode=ON',
    'sync_binlog=1',
    'innodb_flush_log_at_trx_commit=1',
    'innodb_buffer_pool_size=16M',
    'innodb_log_file_size=8M',
    'performance_schema=OFF',
    // No kernel AIO contexts: many servers on one machine (CI, parallel tests) can exhaust aio-max-nr.
    'innodb_use_native_aio=OFF',
    `read_only=${opts.bootReadOnly === false ? 'OFF' : 'ON'}`,
    ...(opts.semiSync ? ['init_rpl_role=SLAVE', 'rpl_semi_sync_slave_enabled=ON'] : []),
    ...tlsLines,
    ...(opts.config ?? []),
  ];
  writeFileSync(cnf, lines.join('\n') + '\n');
  const install = spawnSync(
    'mariadb-install-db',
    [`--defaults-file=${cnf}`, '--user=root', '--auth-root-authentication-method=socket', '--skip-test-db'],
    { encoding: 'utf8', timeout: 60_000 },
  );
  if (install.status !== 0) {
    const log = spawnSync('tail', ['-n', '30', join(dir, 'error.log')], { encoding: 'utf8' }).stdout ?? '';
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`mariadb-install-db failed (${install.status}):\n${install.stderr}\n${log}`);
  }

  let child: ChildProcess | undefined;
  const log = new OutputTail();
  const socketConnect = () => createConnection({ socketPath: socket, user: 'root', connectTimeout: 1000 });

  const start = async (): Promise<void> => {
    const c = spawnServer('mariadbd', [`--defaults-file=${cnf}`, '--user=root'], log);
    child = c;
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (c.exitCode !== null) throw new Error(`mariadbd exited (${c.exitCode}):\n${errorLog()}`);
      const conn = await socketConnect().catch(() => undefined);
      if (conn) {
        await conn.end();
        return;
      }
      if (Date.now() > deadline) throw new Error(`mariadbd on ${host}:${port} not ready after 30 s:\n${errorLog()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const errorLog = () => {
    const r = spawnSync('tail', ['-n', '40', join(dir, 'error.log')], { encoding: 'utf8' });
    return `${log}\n${r.stdout ?? ''}`;
  };
  const waitExit = (c: ChildProcess) =>
    c.exitCode !== null || c.signalCode !== null
      ? Promise.resolve()
      : new Promise<void>((r) => c.once('exit', () => r()));

  const stop = async (o: { keepData?: boolean } = {}) => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const c = child;
      c.kill('SIGTERM');
      const timer = setTimeout(() => c.kill('SIGKILL'), 15_000);
      await waitExit(c);
      clearTimeout(timer);
    }
    if (!o.keepData) rmSync(dir, { recursive: true, force: true });
  };

  try {
    await start();
    const root = await socketConnect();
    try {
      await root.query('SET SESSION sql_log_bin = 0');
      const { admin, repl, app } = testAccounts;
      await root.query("CREATE USER ?@'%' IDENTIFIED BY ?", [admin.user, admin.password]);
      await root.query("GRANT ALL PRIVILEGES ON *.* TO ?@'%' WITH GRANT OPTION", [admin.user]);
      if (!opts.adminOnly) {
        await root.query("CREATE USER ?@'%' IDENTIFIED BY ?", [repl.user, repl.password]);
        await root.query("GRANT REPLICATION SLAVE ON *.* TO ?@'%'", [repl.user]);
        await root.query("CREATE USER ?@'%' IDENTIFIED BY ?", [app.user, app.password]);
        await root.query("GRANT ALL PRIVILEGES ON `app`.* TO ?@'%'", [app.user]);
      }
    } finally {
      await root.end();
    }
  } catch (err) {
    await stop();
    throw err;
  }

  const connect = async (account: keyof typeof testAccounts = 'admin', database?: string) => {
    const conn = await createConnection({
      host,
      port,
      user: testAccounts[account].user,
      password: testAccounts[account].password,
      database,
      connectTimeout: 2000,
      supportBigNumbers: true,
      bigNumberStrings: true,
      // Encrypted when the server serves TLS (accounts may REQUIRE SSL); the test's own checks
      // need no verification.
      ssl: opts.tls ? { rejectUnauthorized: false } : undefined,
    });
    conn.on('error', () => {});
    return conn;
  };

  return {
    host,
    port,
    dir,
    serverId: opts.serverId,
    connect,
    async query<T>(sql: string, values?: unknown[]) {
      const conn = await connect();
      try {
        const [rows] = await conn.query(sql, values);
        return (Array.isArray(rows) ? rows : []) as T[];
      } finally {
        await conn.end();
      }
    },
    start,
    async kill9() {
      if (!child) return;
      child.kill('SIGKILL');
      await waitExit(child);
    },
    stop,
    running: () => !!child && child.exitCode === null && child.signalCode === null,
    logTail: (n = 40) => errorLog().split('\n').slice(-n).join('\n'),
  };
}

/** Starts `n` servers in parallel with server ids firstId (default 1) onwards; all or none. */
export function startMariadbServers(
  n: number,
  opts: Omit<MariadbServerOptions, 'serverId'> & { firstId?: number } = {},
): Promise<MariadbServer[]> {
  const first = opts.firstId ?? 1;
  return Promise.allSettled(
    Array.from({ length: n }, (_, i) => startMariadbServer({ ...opts, serverId: first + i })),
  ).then(async (results) => {
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (!failed) return results.map((r) => (r as PromiseFulfilledResult<MariadbServer>).value);
    await Promise.all(results.map((r) => (r.status === 'fulfilled' ? r.value.stop() : undefined)));
    throw failed.reason;
  });
}
