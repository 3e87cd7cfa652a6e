// The admin driver against the stand-in (ProxySQL's admin schema in SQLite behind the MySQL
// protocol; see testing/proxysql-standin.ts for what that does and does not prove).

import { ProxysqlAdmin, AdminStatementError, withProxysqlAdmin } from './admin.js';
import { isConnectionError } from './connection.js';
import { startProxysqlStandIn, type ProxysqlStandIn } from './testing/proxysql-standin.js';

let proxysql: ProxysqlStandIn;
const target = () => ({ host: proxysql.host, port: proxysql.port, username: 'radmin', password: "pa'ss\\word" });

beforeAll(async () => {
  proxysql = await startProxysqlStandIn({ adminUser: 'radmin', adminPassword: "pa'ss\\word" });
});
afterAll(async () => {
  await proxysql.close();
});

test('reads the version and empty tables', async () => {
  await withProxysqlAdmin(target(), async (admin) => {
    expect(await admin.version()).toBe('0.0.0-standin');
    expect(await admin.servers()).toEqual([]);
    expect(await admin.users()).toEqual([]);
    expect(await admin.replicationHostgroups()).toEqual([]);
  });
});

test('changes reach the in-memory, runtime and disk tables; values with quotes and backslashes are stored as given', async () => {
  const name = "o'reilly\\x";
  const hash = '*' + 'AB'.repeat(20);
  await withProxysqlAdmin(target(), (admin) =>
    admin.apply([
      {
        op: 'insert',
        table: 'mysql_servers',
        values: { hostgroup_id: 0, hostname: 'db-0.example', port: 3306, status: 'ONLINE', comment: 'm' },
      },
      {
        op: 'insert',
        table: 'mysql_replication_hostgroups',
        values: { writer_hostgroup: 0, reader_hostgroup: 1, check_type: 'read_only', comment: 'm' },
      },
      {
        op: 'insert',
        table: 'mysql_users',
        values: { username: name, password: hash, default_hostgroup: 0, comment: 'm' },
      },
    ]),
  );
  for (const t of ['mysql_users', 'runtime_mysql_users', 'disk.mysql_users']) {
    expect(proxysql.query(`SELECT username, password FROM ${t}`)).toEqual([{ username: name, password: hash }]);
  }
  expect(proxysql.query('SELECT hostgroup_id, hostname, port FROM runtime_mysql_servers')).toEqual([
    { hostgroup_id: 0, hostname: 'db-0.example', port: 3306 },
  ]);
  expect(proxysql.query('SELECT writer_hostgroup FROM disk.mysql_replication_hostgroups')).toEqual([
    { writer_hostgroup: 0 },
  ]);
  expect(proxysql.writes().slice(-7)).toEqual([
    expect.stringMatching(/^INSERT INTO mysql_servers/),
    expect.stringMatching(/^INSERT INTO mysql_replication_hostgroups/),
    expect.stringMatching(/^INSERT INTO mysql_users/),
    'LOAD MYSQL SERVERS TO RUNTIME',
    'SAVE MYSQL SERVERS TO DISK',
    'LOAD MYSQL USERS TO RUNTIME',
    'SAVE MYSQL USERS TO DISK',
  ]);

  await withProxysqlAdmin(target(), async (admin) => {
    expect(await admin.users()).toEqual([
      {
        username: name,
        password: hash,
        active: 1,
        default_hostgroup: 0,
        max_connections: 10000,
        frontend: 1,
        backend: 1,
        comment: 'm',
      },
    ]);
    expect(await admin.runtimeServers()).toEqual([
      {
        hostgroup_id: 0,
        hostname: 'db-0.example',
        port: 3306,
        status: 'ONLINE',
        weight: 1,
        max_connections: 1000,
        max_replication_lag: 0,
        comment: 'm',
      },
    ]);
    expect(await admin.connectionPool()).toEqual([
      { hostgroup: 0, srv_host: 'db-0.example', srv_port: 3306, status: 'ONLINE', ConnUsed: 0 },
    ]);
  });
});

test('a statement the schema rejects fails with the server message, not the statement text', async () => {
  const err = await withProxysqlAdmin(target(), (admin) =>
    admin.apply([
      {
        op: 'insert',
        table: 'mysql_servers',
        values: { hostgroup_id: 5, hostname: 'h', port: 70000, comment: 'secret-ish' },
      },
    ]),
  ).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(AdminStatementError);
  expect((err as Error).message).toMatch(/^insert on mysql_servers failed: .*CHECK constraint failed/);
  expect((err as Error).message).not.toContain('secret-ish');
  // Nothing was loaded after the failure.
  expect(proxysql.query('SELECT COUNT(*) AS n FROM runtime_mysql_servers WHERE hostgroup_id=5')).toEqual([{ n: 0 }]);
});

test('a wrong password and a stopped ProxySQL are connection errors', async () => {
  const denied = await ProxysqlAdmin.connect({ ...target(), password: 'nope' }).catch((e: unknown) => e);
  expect((denied as Error).message).toMatch(/Access denied/);
  await proxysql.stop();
  try {
    const down = await ProxysqlAdmin.connect(target(), { connectMs: 500 }).catch((e: unknown) => e);
    expect(isConnectionError(down)).toBe(true);
  } finally {
    await proxysql.start();
  }
  // Restarted, it has what was saved to disk.
  await withProxysqlAdmin(target(), async (admin) => expect((await admin.users()).length).toBe(1));
});
