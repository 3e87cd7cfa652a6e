// One real mariadbd for the tests of the accounts reader: a free loopback port, its own temporary
// directory, an `admin` account for the controller, stopped and removed by stop(). (The MySQL
// replication driver has its own, replication-ready fixture; this one only needs mysql.user.)

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection, type Connection } from 'mysql2/promise';
import { freeLoopbackPort, killOnExit } from '../../testing/processes.js';

export const mariadbAdmin = { user: 'admin', password: 'admin-pw' };

export interface TestMariadb {
  readonly host: string;
  readonly port: number;
  /** A root connection over the unix socket (the caller ends it). */
  root(): Promise<Connection>;
  stop(): Promise<void>;
}

export async function startTestMariadb(): Promise<TestMariadb> {
  const host = '127.0.0.1';
  const port = await freeLoopbackPort(host);
  const dir = mkdtempSync(join(tmpdir(), 'upm-proxysql-mariadb-'));
  const socket = join(dir, 'mysqld.sock');
  const cnf = join(dir, 'my.cnf');
  writeFileSync(
    cnf,
    [
      '[mariadbd]',
      `datadir=${join(dir, 'data')}`,
      `socket=${socket}`,
      `pid-file=${join(dir, 'mysqld.pid')}`,
      `log-error=${join(dir, 'error.log')}`,
      `port=${port}`,
      `bind-address=${host}`,
      'skip-name-resolve',
      'innodb_buffer_pool_size=16M',
      'innodb_log_file_size=8M',
      'performance_schema=OFF',
    ].join('\n') + '\n',
  );
  const install = spawnSync(
    'mariadb-install-db',
    [`--defaults-file=${cnf}`, '--user=root', '--auth-root-authentication-method=socket', '--skip-test-db'],
    { encoding: 'utf8', timeout: 60_000 },
  );
  if (install.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`mariadb-install-db failed (${install.status}):\n${install.stdout}\n${install.stderr}`);
  }
  const child = spawn('mariadbd', [`--defaults-file=${cnf}`, '--user=root'], { stdio: 'ignore' });
  killOnExit(child);
  const root = () => createConnection({ socketPath: socket, user: 'root', connectTimeout: 1000 });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`mariadbd exited (${child.exitCode})`);
      const conn = await root().catch(() => undefined);
      if (conn) {
        await conn.query("CREATE USER ?@'%' IDENTIFIED BY ?", [mariadbAdmin.user, mariadbAdmin.password]);
        await conn.query("GRANT ALL PRIVILEGES ON *.* TO ?@'%' WITH GRANT OPTION", [mariadbAdmin.user]);
        await conn.end();
        break;
      }
      if (Date.now() > deadline) throw new Error('mariadbd not ready after 30 s');
      await new Promise((r) => setTimeout(r, 50));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { host, port, root, stop };
}
