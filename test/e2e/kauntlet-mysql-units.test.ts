// MysqlReplication over Units run as real processes (local mode: Cube and Kauntlet in the
// engine, mariadbd Pods on their own loopback addresses): the controller labels the Pods with the
// observed role, and a client writing through the read-write Service's ClusterIP follows a
// switchover and a failover. Needs root on Linux (the node runtime); skipped otherwise.

import { createConnection, type Connection } from 'mysql2/promise';
import { startWriter, type Ack } from '../../src/controllers/drivers/testing/mysql-load.js';
import { cleanup, waitFor, type Engine } from './harness.js';
import { containerPid, createUnitSet, describeIfRoot, startUnitsEngine } from './units.js';

type Obj = Record<string, any>;

describeIfRoot('MysqlReplication on MariaDB Units run as processes', () => {
  let engine: Engine;
  const writers: { stop(): Promise<unknown> }[] = [];
  beforeAll(async () => {
    engine = await startUnitsEngine();
  }, 60_000);
  afterAll(async () => {
    await Promise.all(writers.map((w) => w.stop()));
    if (!engine) return;
    await engine.stop();
    cleanup(engine);
  }, 60_000);

  const ok = async (args: string[], input?: string): Promise<string> => {
    const r = await engine.kubectl('1.33', args, input === undefined ? {} : { input });
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}):\n${r.stderr}`);
    return r.stdout;
  };
  const json = async (...args: string[]): Promise<Obj> => JSON.parse(await ok([...args, '-o', 'json']));
  const mr = () => json('get', 'mysqlreplication', 'orders');
  const until = (what: string, cond: () => Promise<boolean>, ms = 60_000) =>
    waitFor(what, () => cond().catch(() => false), ms).catch(async (err: Error) => {
      const status = await mr().catch(() => undefined);
      throw new Error(`${err.message}\n${JSON.stringify(status?.['status'], null, 1)}`);
    });
  const podIP = async (unit: string) => (await json('get', 'unit', unit))['status'].podIP as string;
  const primaryPods = async () =>
    (await json('get', 'pods', '-l', 'upm.io/replication=orders,upm.io/role=primary'))['items'].map(
      (p: Obj) => p['metadata'].name,
    );
  let rootPassword = '';
  const asRoot = async (host: string): Promise<Connection> =>
    createConnection({ host, port: 3306, user: 'root', password: rootPassword, connectTimeout: 2000 });
  const settled = (primary: string) =>
    until(`${primary} primary, three ready`, async () => {
      const s = (await mr())['status'];
      const ready = s?.conditions?.find((c: Obj) => c.type === 'Ready')?.status === 'True';
      return s?.currentPrimary === primary && s.readyInstances === 3 && ready;
    });
  const lostOn = async (unit: string, acked: Ack[]) => {
    const conn = await asRoot(await podIP(unit));
    try {
      await until(
        `${unit} holds the acknowledged writes`,
        async () => {
          const [rows] = await conn.query('SELECT COUNT(*) AS n FROM app.w');
          return Number((rows as Obj[])[0]['n']) >= acked.length;
        },
        15_000,
      ).catch(() => undefined);
      const [rows] = await conn.query('SELECT id FROM app.w');
      const have = new Set((rows as Obj[]).map((r) => Number(r['id'])));
      return acked.filter((a) => !have.has(a.id)).length;
    } finally {
      await conn.end();
    }
  };

  it('forms from Units, labels the Pods by role, and the read-write ClusterIP follows a switchover and a failover', async () => {
    rootPassword = await createUnitSet(
      engine,
      {
        name: 'orders-db',
        type: 'mariadb',
        version: '10.11.8',
        units: 3,
        limits: { cpu: '1', memory: '512Mi' },
        // Boot read-only: only the controller makes a primary writable.
        parameters: { read_only: 'true', innodb_log_file_size: '32Mi' },
      },
      60_000,
    );

    const manifest = {
      apiVersion: 'upm.io/v1alpha1',
      kind: 'MysqlReplication',
      metadata: { name: 'orders', namespace: 'default' },
      spec: {
        primary: 'db-0',
        mode: 'SemiSync',
        instances: [0, 1, 2].map((i) => ({ name: `db-${i}`, unitRef: { name: `orders-db-${i}` } })),
        credentials: { admin: { name: 'orders-db-admin' } },
        failover: { mode: 'Automatic', delaySeconds: 1 },
      },
    };
    await ok(['apply', '-f', '-'], JSON.stringify(manifest));
    await settled('db-0');
    expect(await primaryPods()).toEqual(['orders-db-0']);
    const replicas = await json('get', 'pods', '-l', 'upm.io/replication=orders,upm.io/role=replica');
    expect(replicas['items'].map((p: Obj) => p['metadata'].name).sort()).toEqual(['orders-db-1', 'orders-db-2']);

    const clusterIP = (await json('get', 'service', 'orders-readwrite'))['spec'].clusterIP as string;
    const root = await asRoot(clusterIP);
    await root.query('CREATE DATABASE app');
    await root.query('CREATE TABLE app.w (id INT PRIMARY KEY, node VARCHAR(32))');
    await root.query("CREATE USER 'app'@'%' IDENTIFIED BY 'app-pw'");
    await root.query("GRANT ALL PRIVILEGES ON app.* TO 'app'@'%'");
    await root.end();
    const viaService = {
      name: 'readwrite',
      connect: async () => {
        const c = await createConnection({
          host: clusterIP,
          port: 3306,
          user: 'app',
          password: 'app-pw',
          database: 'app',
          connectTimeout: 2000,
        });
        c.on('error', () => {});
        return c;
      },
    };

    // Switchover: the Service's endpoint moves with the role label.
    const w1 = startWriter([viaService], 'readwrite');
    writers.push(w1);
    await until('writes through the Service', async () => w1.ackedOn('readwrite') > 50).catch((err: Error) => {
      throw new Error(`${w1.lastError()}\n${err.message}`);
    });
    await ok(['patch', 'mysqlreplication', 'orders', '--type=merge', '-p', '{"spec":{"primary":"db-1"}}']);
    await settled('db-1');
    expect(await primaryPods()).toEqual(['orders-db-1']);
    const after = w1.ackedOn('readwrite');
    await until('writes through the Service again', async () => w1.ackedOn('readwrite') > after + 50);
    const acked1 = await w1.stop();
    const gaps1 = acked1.slice(1).map((a, i) => a.at - acked1[i].at);
    expect(await lostOn('orders-db-1', acked1)).toBe(0);

    // Failover: the primary's mariadbd killed twice (the node restarts it at once, then after a
    // 10 s back-off), so it stays down longer than failover.delaySeconds.
    const w2 = startWriter([viaService], 'readwrite');
    writers.push(w2);
    await until('writes through the Service', async () => w2.ackedOn('readwrite') > 50);
    const uid = (await json('get', 'pod', 'orders-db-1'))['metadata'].uid;
    const killedAt = Date.now();
    const first = containerPid(engine, uid, 'mariadb')!;
    process.kill(first, 'SIGKILL');
    await until(
      'mariadbd restarted at once',
      async () => {
        const p = containerPid(engine, uid, 'mariadb');
        return p !== undefined && p !== first;
      },
      20_000,
    );
    process.kill(containerPid(engine, uid, 'mariadb')!, 'SIGKILL');
    await until('failover', async () => {
      const s = (await mr())['status'];
      return s?.lastPrimaryChange?.kind === 'Failover' && s.lastPrimaryChange.phase === 'Completed';
    });
    const promoted = (await mr())['status'].currentPrimary as string;
    expect(['db-0', 'db-2']).toContain(promoted);
    const promotedUnit = `orders-db-${promoted.slice(3)}`;
    await until('the promoted Pod labelled primary', async () => (await primaryPods()).join() === promotedUnit);
    const beforeResume = w2.ackedOn('readwrite');
    await until(
      'writes through the Service on the promoted replica',
      async () => w2.ackedOn('readwrite') > beforeResume + 20,
    );
    const acked2 = await w2.stop();
    const gaps2 = acked2.slice(1).map((a, i) => a.at - acked2[i].at);
    expect(await lostOn(promotedUnit, acked2)).toBe(0);
    const firstAfterKill = acked2.find((a, i) => i > 0 && a.at - acked2[i - 1].at === Math.max(...gaps2))!.at;
    console.log(
      `Units: switchover — writes through the ClusterIP paused ${Math.max(...gaps1)} ms at most, ` +
        `${acked1.length} acknowledged, 0 lost; failover after kill -9 — first write through the ClusterIP ` +
        `${firstAfterKill - killedAt} ms after the kill (longest pause ${Math.max(...gaps2)} ms), ` +
        `${acked2.length} acknowledged, 0 lost; promoted ${promoted}`,
    );
  }, 240_000);
});
