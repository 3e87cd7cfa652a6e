// The driver against real mariadbd processes: observation, replication set-up with GTID
// positioning, fencing, GTID waits and promotion, as the controller uses them.

import { startMariadbServers, testAccounts, type MariadbServer } from '../testing/mariadb-server.js';
import { connectMysql, withMysql, type MysqlTarget } from './connection.js';
import { errantTransactions, isGtidSubset, parseGtidSet, waitPosition } from './gtid.js';
import { fence, fencedPosition, promote, readServerState, replicateFrom, waitForGtids } from './operations.js';

let servers: MariadbServer[] = [];
const target = (s: MariadbServer): MysqlTarget => ({ host: s.host, port: s.port, ...adminCreds });
const adminCreds = { user: testAccounts.admin.user, password: testAccounts.admin.password };
const source = (s: MariadbServer) => ({ host: s.host, port: s.port, ...testAccounts.repl });

beforeAll(async () => {
  servers = await startMariadbServers(2);
}, 60_000);
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});

const until = async (what: string, cond: () => Promise<boolean>, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

describe('MySQL driver on MariaDB', () => {
  it('reports a wrong password without the password', async () => {
    const err = await connectMysql({ ...target(servers[0]), password: 'not-the-password' }).catch((e: Error) => e);
    expect(String(err)).toMatch(/Access denied/);
    expect(String(err)).not.toContain('not-the-password');
  });

  it('says when the server ends a session', async () => {
    const watched = await connectMysql(target(servers[0]));
    const [{ id }] = await watched.run<{ id: number }>({ sql: 'SELECT CONNECTION_ID() AS id' });
    let ended = false;
    void watched.closed.then(() => (ended = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(ended).toBe(false);
    await withMysql(target(servers[0]), (s) => s.run(s.dialect.kill(Number(id))));
    await watched.closed;
    expect(ended).toBe(true);
    await watched.close();
  });

  it('observes, replicates with GTIDs, fences, waits and promotes', async () => {
    const [a, b] = servers;
    const stateA = await withMysql(target(a), readServerState);
    expect(stateA).toMatchObject({ flavor: 'MariaDB', origin: '1', readOnly: true, replica: undefined });
    expect(stateA.version).toMatch(/MariaDB/);

    await withMysql(target(a), (s) => promote(s, undefined));
    const stateB = await withMysql(target(b), readServerState);
    await withMysql(target(b), (s) => replicateFrom(s, stateB, source(a), { fresh: true, semiSync: false }));
    await a.query('CREATE DATABASE app');
    await a.query('CREATE TABLE app.t (id INT PRIMARY KEY)');
    await a.query('INSERT INTO app.t VALUES (1), (2)');
    await until(
      'b to apply',
      async () => (await b.query('SELECT COUNT(*) AS n FROM app.t').catch(() => [{ n: 0 }]))[0].n == 2,
    );

    const obsB = await withMysql(target(b), readServerState);
    expect(obsB.readOnly).toBe(true);
    expect(obsB.replica).toMatchObject({
      sourceHost: a.host,
      sourcePort: a.port,
      ioRunning: 'Yes',
      sqlRunning: 'Yes',
      sourceOrigin: '1',
      autoPosition: true,
    });
    const obsA = await withMysql(target(a), readServerState);
    const setA = parseGtidSet('MariaDB', obsA.executed);
    const setB = parseGtidSet('MariaDB', obsB.executed);
    expect(isGtidSubset(setA, setB) && isGtidSubset(setB, setA)).toBe(true);

    // An application cannot write to the read-only replica.
    const app = await b.connect('app', 'app');
    await expect(app.query('INSERT INTO t VALUES (3)')).rejects.toThrow(/read-only|READ.ONLY/i);
    await app.end();

    // Fencing the source ends client sessions and rejects writes; the replica catches up.
    await expect(withMysql(target(a), fencedPosition)).rejects.toThrow(/writable/);
    const client = await a.connect('app', 'app');
    const killed = await withMysql(target(a), fence);
    expect(killed).toBeGreaterThanOrEqual(1);
    await expect(client.query('SELECT 1')).rejects.toThrow();
    client.destroy();
    const fenced = await withMysql(target(a), readServerState);
    expect(fenced.readOnly).toBe(true);
    const pos = await withMysql(target(a), fencedPosition);
    expect(pos).toBe(waitPosition(parseGtidSet('MariaDB', fenced.executed)));
    expect(pos).toMatch(/^0-1-\d+$/);
    expect(await withMysql(target(b), (s) => waitForGtids(s, pos, 5))).toBe(true);

    // Promote b, re-point a: a is a replica of b with no errant transactions.
    await withMysql(target(b), (s) => promote(s, undefined));
    await withMysql(target(a), (s) => replicateFrom(s, fenced, source(b), { fresh: true, semiSync: false }));
    await b.query('INSERT INTO app.t VALUES (10)');
    await until('a to apply', async () => (await a.query('SELECT COUNT(*) AS n FROM app.t'))[0].n == 3);
    const [na, nb] = await Promise.all([a, b].map((s) => withMysql(target(s), readServerState)));
    expect(nb.readOnly).toBe(false);
    expect(na.replica).toMatchObject({ sourcePort: b.port, ioRunning: 'Yes', sqlRunning: 'Yes' });
    const errant = errantTransactions(
      parseGtidSet('MariaDB', na.executed),
      parseGtidSet('MariaDB', nb.executed),
      nb.origin,
    );
    expect(errant.sequences.size).toBe(0);
  });
});
