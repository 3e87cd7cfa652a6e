// spec.deletionPolicy of MysqlReplication and RedisReplication end to end: an API server (no
// Cube), both controllers in this process, two real mariadbd and three redis-server processes on
// loopback, and stand-in Pods for the Units (the controllers label them). What a user sees after
// `kubectl delete`: the object gone, Events, Pod labels, and on the servers whether replicas still
// replicate, who takes writes and that the data is there.

import type { Redis } from 'ioredis';
import {
  startMariadbServers,
  testAccounts,
  type MariadbServer,
} from '../../src/controllers/drivers/testing/mariadb-server.js';
import { startRedisServer, type RedisServer } from '../../src/controllers/drivers/testing/redis-server.js';
import { addMysqlReplication } from '../../src/controllers/kauntlet/mysql/index.js';
import { addRedisReplication } from '../../src/controllers/kauntlet/redis/replication/index.js';
import { detachFinalizer } from '../../src/controllers/kauntlet/shared/detach.js';
import { mysqlReplications, pods, redisReplications, services } from '../../src/controllers/resources.js';
import { KubeClient, loadKubeConfig, type ResourceType } from '../../src/controllers/runtime/client.js';
import { Manager } from '../../src/controllers/runtime/manager.js';
import { isNotFound } from '../../src/machinery/errors.js';
import { cleanup, kubectlHelpers, startEngine, waitFor, type Engine } from './harness.js';

type Obj = Record<string, any>;
const ns = 'default';
const redisPassword = 'detach-test-pw';
const dbNames = ['db-0', 'db-1'];
const redisNames = ['r0', 'r1', 'r2'];

let engine: Engine;
let client: KubeClient;
let mgr: Manager | undefined;
let dbs: MariadbServer[] = [];
const redis: Record<string, RedisServer> = {};
const redisClients: Redis[] = [];
const { ok, json } = kubectlHelpers(() => engine);

const db = (name: string) => dbs[dbNames.indexOf(name)];
const rc = (name: string): Redis => {
  const c = redis[name].client();
  redisClients.push(c);
  return c;
};

async function apply(obj: Obj): Promise<void> {
  const r = await engine.kubectl('1.33', ['apply', '-f', '-'], { input: JSON.stringify(obj) });
  if (r.code !== 0) throw new Error(r.stderr);
}

const getOrGone = async (type: ResourceType, name: string): Promise<Obj | undefined> =>
  ((await client.get(type, ns, name).catch((err: unknown) => {
    if (isNotFound(err)) return undefined;
    throw err;
  })) as Obj | undefined) ?? undefined;

async function until(type: ResourceType, name: string, what: string, cond: (o: Obj) => boolean, timeoutMs = 30_000) {
  let last: Obj | undefined;
  await waitFor(
    `${name}: ${what}`,
    async () => {
      last = await getOrGone(type, name);
      return !!last && cond(last);
    },
    timeoutMs,
  ).catch((err: Error) => {
    throw new Error(`${err.message}\nobject: ${JSON.stringify(last, null, 1)}`);
  });
  return last!;
}

const ready = (o: Obj) =>
  (o.status?.conditions ?? []).some((c: Obj) => c.type === 'Ready' && c.status === 'True') &&
  o.status?.readyInstances === o.spec.instances.length;
const eventReasons = async (name: string): Promise<string[]> =>
  (await json('get', 'events', '--field-selector', `involvedObject.name=${name}`)).items.map((e: Obj) => e.reason);
const eventMessage = async (name: string, reason: string): Promise<string | undefined> =>
  (await json('get', 'events', '--field-selector', `involvedObject.name=${name}`)).items.find(
    (e: Obj) => e.reason === reason,
  )?.message;
const podLabels = async (name: string): Promise<Record<string, string>> =>
  ((await client.get(pods, ns, name)) as Obj).metadata.labels ?? {};

function mysqlManifest(name: string, deletionPolicy: string) {
  return {
    apiVersion: 'upm.io/v1alpha1',
    kind: 'MysqlReplication',
    metadata: { name, namespace: ns },
    spec: {
      primary: 'db-0',
      deletionPolicy,
      instances: dbs.map((s, i) => ({ name: dbNames[i], unitRef: { name: dbNames[i] }, host: s.host, port: s.port })),
      credentials: { admin: { name: 'mysql-admin' }, replication: { name: 'mysql-repl' } },
    },
  };
}

function redisManifest(name: string, deletionPolicy: string) {
  return {
    apiVersion: 'upm.io/v1alpha1',
    kind: 'RedisReplication',
    metadata: { name, namespace: ns },
    spec: {
      primary: 'r0',
      deletionPolicy,
      credentials: { name: 'redis-auth' },
      // Automatic failover: the primary runs with min-replicas-to-write 1, which Detach lifts.
      failover: { mode: 'Automatic', delaySeconds: 1, cooldownSeconds: 0 },
      instances: redisNames.map((n) => ({ name: n, unitRef: { name: n }, host: '127.0.0.1', port: redis[n].port })),
    },
  };
}

const replicaStatus = (name: string) => db(name).query<Obj>('SHOW SLAVE STATUS');

beforeAll(async () => {
  engine = await startEngine();
  dbs = await startMariadbServers(2);
  client = new KubeClient(loadKubeConfig(engine.kubeconfig));
  for (const n of redisNames) {
    redis[n] = await startRedisServer({ password: redisPassword, config: ['repl-diskless-sync-delay 0'] });
  }
  for (const [n, a] of [
    ['mysql-admin', testAccounts.admin],
    ['mysql-repl', testAccounts.repl],
  ] as const) {
    await apply({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: n },
      stringData: { username: a.user, password: a.password },
    });
  }
  await ok('create', 'secret', 'generic', 'redis-auth', `--from-literal=password=${redisPassword}`);
  // Stand-ins for the Pods of the Units (no node runs them here).
  for (const n of [...dbNames, ...redisNames]) {
    await apply({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: n, namespace: ns, labels: { 'upm.io/unit': n } },
      spec: { containers: [{ name: 'server', image: 'server:1' }] },
    });
  }
  mgr = new Manager({ client, leaderElection: false });
  addMysqlReplication(mgr, { timeouts: { connectMs: 500, queryMs: 3000 } });
  addRedisReplication(mgr, { detachTimeoutMs: 4000 });
  await mgr.start();
}, 90_000);

afterAll(async () => {
  await mgr?.stop();
  for (const c of redisClients) c.disconnect();
  await Promise.all([...dbs, ...Object.values(redis)].map((s) => s.stop().catch(() => {})));
  client?.close();
  if (engine) {
    await engine.stop();
    cleanup(engine);
  }
}, 60_000);

describe('MysqlReplication deletionPolicy', () => {
  it('Retain (the default): the object goes at once, replication keeps running', async () => {
    await apply(mysqlManifest('kept', 'Retain'));
    const mr = await until(mysqlReplications, 'kept', 'Ready', ready);
    expect(mr.metadata.finalizers ?? []).not.toContain(detachFinalizer);
    await db('db-0').query('CREATE DATABASE app');
    await db('db-0').query('CREATE TABLE app.t (id INT PRIMARY KEY)');
    await db('db-0').query('INSERT INTO app.t VALUES (1)');
    await ok('delete', 'mysqlreplication', 'kept', '--timeout=10s');
    expect(await getOrGone(mysqlReplications, 'kept')).toBeUndefined();
    await db('db-0').query('INSERT INTO app.t VALUES (2)');
    await waitFor('row 2 replicated', async () => (await db('db-1').query('SELECT id FROM app.t')).length === 2);
    const [st] = await replicaStatus('db-1');
    expect(st).toMatchObject({ Slave_IO_Running: 'Yes', Slave_SQL_Running: 'Yes', Master_Port: db('db-0').port });
    expect(await podLabels('db-1')).toMatchObject({ 'upm.io/replication': 'kept', 'upm.io/role': 'replica' });
  }, 60_000);

  it('Detach: the finalizer follows the policy; a paused object deleted stops replication and keeps data', async () => {
    await apply(mysqlManifest('orders', 'Detach'));
    await until(
      mysqlReplications,
      'orders',
      'Ready with the finalizer',
      (o) => ready(o) && (o.metadata.finalizers ?? []).includes(detachFinalizer),
    );
    await until(services, 'orders-readwrite', 'Service', () => true);
    await waitFor('db-0 labelled primary of orders', async () => {
      const labels = await podLabels('db-0');
      return labels['upm.io/replication'] === 'orders' && labels['upm.io/role'] === 'primary';
    });
    await ok('patch', 'mysqlreplication', 'orders', '--type=merge', '-p', '{"spec":{"deletionPolicy":"Retain"}}');
    await until(mysqlReplications, 'orders', 'no finalizer under Retain', (o) => !(o.metadata.finalizers ?? []).length);
    await ok(
      'patch',
      'mysqlreplication',
      'orders',
      '--type=merge',
      '-p',
      '{"spec":{"deletionPolicy":"Detach","paused":true}}',
    );
    await until(mysqlReplications, 'orders', 'the finalizer again', (o) =>
      (o.metadata.finalizers ?? []).includes(detachFinalizer),
    );

    await ok('delete', 'mysqlreplication', 'orders', '--timeout=30s');
    expect(await getOrGone(mysqlReplications, 'orders')).toBeUndefined();
    expect(await eventReasons('orders')).toEqual(expect.arrayContaining(['DetachingInstances', 'Detached']));
    expect(await eventMessage('orders', 'Detached')).toBe(
      'db-1 no longer replicates and stays read-only; Pod role labels removed; no data deleted',
    );
    expect(await replicaStatus('db-1')).toEqual([]);
    expect(Number((await db('db-1').query<Obj>('SELECT @@read_only AS r'))[0].r)).toBe(1);
    const replicaApp = await db('db-1').connect('app', 'app');
    await expect(replicaApp.query('INSERT INTO t VALUES (3)')).rejects.toThrow(/read-only/);
    await replicaApp.end();
    await db('db-0').query('INSERT INTO app.t VALUES (4)');
    expect((await db('db-0').query('SELECT id FROM app.t ORDER BY id')).map((r) => r.id)).toEqual([1, 2, 4]);
    // db-1 keeps what it had and gets nothing new.
    await new Promise((r) => setTimeout(r, 500));
    expect((await db('db-1').query('SELECT id FROM app.t ORDER BY id')).map((r) => r.id)).toEqual([1, 2]);
    for (const n of dbNames) {
      const labels = await podLabels(n);
      expect(labels['upm.io/role']).toBeUndefined();
      expect(labels['upm.io/replication']).toBeUndefined();
      expect(labels['upm.io/unit']).toBe(n);
    }
    for (const svc of ['orders-readwrite', 'orders-readonly']) expect(await getOrGone(services, svc)).toBeUndefined();
  }, 90_000);
});

describe('RedisReplication deletionPolicy', () => {
  const info = async (n: string) => rc(n).info('replication');

  it('Retain (the default): the object goes at once, replication keeps running', async () => {
    await apply(redisManifest('kept', 'Retain'));
    const rr = await until(redisReplications, 'kept', 'Ready', ready);
    expect(rr.metadata.finalizers ?? []).not.toContain(detachFinalizer);
    await ok('delete', 'redisreplication', 'kept', '--timeout=10s');
    expect(await getOrGone(redisReplications, 'kept')).toBeUndefined();
    await rc('r0').set('retained', '1');
    for (const n of ['r1', 'r2']) {
      expect(await info(n)).toMatch(/role:slave/);
      await waitFor(`retained on ${n}`, async () => (await rc(n).get('retained')) === '1');
    }
  }, 60_000);

  it('Detach: replicas leave replication fenced, the primary takes writes; an unreachable one is named, not waited for forever', async () => {
    await apply(redisManifest('cache', 'Detach'));
    await until(
      redisReplications,
      'cache',
      'Ready with the finalizer',
      (o) => ready(o) && (o.metadata.finalizers ?? []).includes(detachFinalizer),
    );
    await until(services, 'cache-readwrite', 'Service', () => true);
    await rc('r0').set('before', 'x');
    await waitFor('before on r1 and r2', async () =>
      (await Promise.all(['r1', 'r2'].map((n) => rc(n).get('before')))).every((v) => v === 'x'),
    );
    await redis.r2.stop({ keepData: true });

    const started = Date.now();
    await ok('delete', 'redisreplication', 'cache', '--timeout=30s');
    const tookMs = Date.now() - started;
    expect(await getOrGone(redisReplications, 'cache')).toBeUndefined();
    expect(await eventReasons('cache')).toEqual(expect.arrayContaining(['WaitingForInstances', 'DetachIncomplete']));
    expect(await eventMessage('cache', 'DetachIncomplete')).toBe(
      'gave up after 4 s: r2 could not be reached and is left as it was',
    );
    // The bound counts from deletionTimestamp: the delete took about detachTimeoutMs.
    expect(tookMs).toBeGreaterThanOrEqual(3000);

    const r1 = await info('r1');
    expect(r1).toMatch(/role:master/);
    expect(r1).not.toMatch(/master_host/);
    await expect(rc('r1').set('k', 'v')).rejects.toThrow(/NOREPLICAS/);
    expect(await rc('r1').get('before')).toBe('x');
    expect(await rc('r0').set('after', 'y')).toBe('OK');
    expect(await rc('r0').get('before')).toBe('x');
    // Persisted: r1 restarted is still out of replication and refusing writes.
    await redis.r1.stop({ keepData: true });
    await redis.r1.start();
    const r1c = rc('r1');
    expect(await r1c.info('replication')).toMatch(/role:master/);
    await expect(r1c.set('k', 'v')).rejects.toThrow(/NOREPLICAS/);
    // r2 was left as it was: back, it is a replica of r0 again.
    await redis.r2.start();
    await waitFor('r2 replicates r0 as before', async () => /master_link_status:up/.test(await info('r2')));
    for (const svc of ['cache-readwrite', 'cache-readonly']) expect(await getOrGone(services, svc)).toBeUndefined();
    for (const n of redisNames) {
      const labels = await podLabels(n);
      expect(labels['upm.io/role']).toBeUndefined();
      expect(labels['upm.io/replication']).toBeUndefined();
    }
  }, 90_000);
});
