// The accounts reader against a real mariadbd.

import { classifyAccount, readAccounts } from './mysql-accounts.js';
import { startMariadbServer, testAccounts, type MariadbServer } from '../testing/mariadb-server.js';

let db: MariadbServer;
const { admin } = testAccounts;
const target = () => ({ host: db.host, port: db.port, user: admin.user, password: admin.password });

beforeAll(async () => {
  db = await startMariadbServer({ serverId: 1, adminOnly: true, bootReadOnly: false });
  for (const sql of [
    "CREATE USER 'app'@'%' IDENTIFIED BY 'app-pw'",
    "CREATE USER 'app'@'10.0.%' IDENTIFIED BY 'app-pw'",
    "CREATE USER 'o''brien'@'%' IDENTIFIED BY 'x'",
    "CREATE USER 'nopw'@'%'",
    "CREATE USER 'sock'@'%' IDENTIFIED VIA unix_socket",
    "CREATE USER 'locked'@'%' IDENTIFIED BY 'x' ACCOUNT LOCK",
    "CREATE USER 'local'@'localhost' IDENTIFIED BY 'x'",
    'CREATE ROLE reader',
  ]) {
    await db.query(sql);
  }
}, 90_000);
afterAll(async () => {
  await db?.stop();
});

test('Exact host match: native hashes copied, other plugins, locked accounts and roles skipped with reasons', async () => {
  const snap = await readAccounts(target(), { hostMatch: 'Exact', hostPattern: '%', exclude: ['admin'] });
  expect(snap.version).toMatch(/MariaDB/);
  const [{ h: appHash }] = await db.query<{ h: string }>("SELECT PASSWORD('app-pw') AS h");
  expect(snap.accounts).toEqual([
    { username: 'app', host: '%', hash: appHash },
    { username: 'nopw', host: '%', hash: '' },
    { username: "o'brien", host: '%', hash: expect.stringMatching(/^\*[0-9A-F]{40}$/) },
  ]);
  expect(snap.skipped).toEqual([
    { username: 'locked', host: '%', reason: 'the account is locked' },
    { username: 'sock', host: '%', reason: 'authentication plugin unix_socket has no hash ProxySQL can check' },
  ]);
});

test('Like and Regex host matches are parameters, not SQL', async () => {
  const like = await readAccounts(target(), { hostMatch: 'Like', hostPattern: '10.0.%', exclude: [] });
  expect(like.accounts.map((a) => `${a.username}@${a.host}`)).toEqual(['app@10.0.%']);
  const regex = await readAccounts(target(), { hostMatch: 'Regex', hostPattern: '^local', exclude: [] });
  expect(regex.accounts.map((a) => `${a.username}@${a.host}`)).toEqual(['local@localhost']);
  const quote = await readAccounts(target(), { hostMatch: 'Exact', hostPattern: "%' OR '1'='1", exclude: [] });
  expect(quote.accounts).toEqual([]);
});

test('MySQL 8 rows (no server here): caching_sha2 skipped, native copied, roles as locked accounts skipped', () => {
  expect(
    classifyAccount({ User: 'a', Host: '%', plugin: 'caching_sha2_password', authentication_string: '$A$005$x' }),
  ).toEqual({
    username: 'a',
    host: '%',
    reason: 'authentication plugin caching_sha2_password has no hash ProxySQL can check',
  });
  expect(
    classifyAccount({
      User: 'b',
      Host: '%',
      plugin: 'mysql_native_password',
      authentication_string: '*' + 'a'.repeat(40),
      account_locked: 'N',
    }),
  ).toEqual({ username: 'b', host: '%', hash: '*' + 'A'.repeat(40) });
  expect(classifyAccount({ User: 'r', Host: '%', plugin: 'caching_sha2_password', account_locked: 'Y' })).toMatchObject(
    {
      reason: 'the account is locked',
    },
  );
});
