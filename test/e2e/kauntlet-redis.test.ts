// RedisReplication end to end: real redis-server processes on loopback, the engine's API server,
// and an in-process manager running only the RedisReplication controller. What a user sees:
// kubectl columns, status, Events, Pod role labels behind the read-write Service, and the data
// in the servers. Writers are bounded loops; every write a server acknowledged must be readable on
// the primary afterwards.

import type { Redis } from 'ioredis';
import { missingKeys, serverClients } from '../../src/controllers/drivers/testing/redis-load.js';
import { startRedisServer, type RedisServer } from '../../src/controllers/drivers/testing/redis-server.js';
import { addRedisReplication } from '../../src/controllers/kauntlet/redis/replication/index.js';
import { pods, redisReplications } from '../../src/controllers/resources.js';
import { KubeClient, loadKubeConfig } from '../../src/controllers/runtime/client.js';
import { Manager } from '../../src/controllers/runtime/manager.js';
import { cleanup, kubectlHelpers, startEngine, waitFor, type Engine } from './harness.js';

type Obj = Record<string, any>;
const password = 'kauntlet-test-pw';
const names = ['r0', 'r1', 'r2'];

let engine: Engine;
let client: KubeClient;
let mgr: Manager | undefined;
const servers: Record<string, RedisServer> = {};
const sentinels: RedisServer[] = [];
const clients: Redis[] = [];
const { ok, json } = kubectlHelpers(() => engine);

function connection(s: RedisServer): Redis {
  const c = s.client();
  clients.push(c);
  return c;
}

async function startManager(): Promise<Manager> {
  const m = new Manager({ client, leaderElection: false });
  addRedisReplication(m);
  await m.start();
  mgr = m;
  return m;
}

async function stopManager(): Promise<void> {
  const m = mgr;
  mgr = undefined;
  await m?.stop();
}

const getRR = async (name: string): Promise<Obj> => (await client.get(redisReplications, 'default', name)) as Obj;

async function waitRR(name: string, what: string, cond: (rr: Obj) => boolean, timeoutMs = 20_000): Promise<Obj> {
  let last: Obj = {};
  await waitFor(
    `${name}: ${what}`,
    async () => {
      last = await getRR(name);
      return cond(last);
    },
    timeoutMs,
  ).catch((err: Error) => {
    throw new Error(`${err.message}\nstatus: ${JSON.stringify(last.status, null, 1)}`);
  });
  return last;
}

const condition = (rr: Obj, type: string) => (rr.status?.conditions ?? []).find((c: Obj) => c.type === type);
const instance = (rr: Obj, name: string) => (rr.status?.instances ?? []).find((i: Obj) => i.name === name);

async function primaryPods(rr: string): Promise<string[]> {
  const list = (await client.list(pods, 'default', {
    labelSelector: `upm.io/replication=${rr},upm.io/role=primary`,
  })) as Obj;
  return list.items.map((p: Obj) => p.metadata.name);
}

/** Role and write-ability of a server: a primary takes writes unless min-replicas-to-write is not met. */
async function writable(c: Redis): Promise<boolean> {
  const info = await c.info('replication');
  if (!/role:master/.test(info)) return false;
  const min = Number(((await c.call('CONFIG', 'GET', 'min-replicas-to-write')) as string[])[1]);
  if (min === 0) return true;
  const good = Number(/min_slaves_good_slaves:(\d+)/.exec(info)?.[1] ?? 0);
  return good >= min;
}

/** Samples every running server every 25 ms; records the largest number of writable primaries seen at once. */
function roleSampler() {
  let maxWritable = 0;
  let samples = 0;
  const seen: string[] = [];
  let stop = false;
  const clients = serverClients(servers, 500);
  const run = (async () => {
    while (!stop) {
      const results = await Promise.all(
        names.map(async (n) => (servers[n].running() ? writable(clients.get(n)).catch(() => false) : false)),
      );
      const w = names.filter((_, i) => results[i]);
      if (w.length > maxWritable) maxWritable = w.length;
      if (w.length > 1) seen.push(w.join('+'));
      samples++;
      await new Promise((r) => setTimeout(r, 25));
    }
  })();
  return {
    async stop() {
      stop = true;
      await run;
      clients.disconnect();
      return { maxWritable, samples, splitBrain: seen };
    },
  };
}

/**
 * A bounded writer: SET k<i> <i>, one at a time, to whichever server takes it (it finds the primary
 * again after an error). Returns the acknowledged keys and when the first write after `mark()` was acknowledged.
 */
function writer(prefix: string, maxWrites = 200_000) {
  const acked: string[] = [];
  const errors: string[] = [];
  let stop = false;
  let markAt = 0;
  let firstAfterMark = 0;
  const clients = serverClients(servers, 20_000);
  let target = names.find((n) => servers[n].running())!;
  const run = (async () => {
    for (let i = 0; i < maxWrites && !stop; i++) {
      const key = `${prefix}:${i}`;
      for (;;) {
        if (stop) return;
        try {
          if (!servers[target].running()) throw new Error('down');
          const r = await clients.get(target).set(key, String(i));
          if (r === 'OK') {
            acked.push(key);
            if (markAt && !firstAfterMark) firstAfterMark = Date.now();
          }
          break;
        } catch (err) {
          errors.push(String((err as Error).message).slice(0, 40));
          // Find a primary again: the next server that reports role master.
          await new Promise((r) => setTimeout(r, 5));
          const order = names.filter((n) => servers[n].running());
          for (const n of order) {
            const info = await clients
              .get(n)
              .info('replication')
              .catch(() => '');
            if (/role:master/.test(info) && n !== target) {
              target = n;
              break;
            }
          }
        }
      }
    }
  })();
  return {
    acked,
    mark() {
      markAt = Date.now();
      firstAfterMark = 0;
    },
    firstAckAfterMark: () => (firstAfterMark ? firstAfterMark - markAt : undefined),
    count: () => acked.length,
    async stop() {
      stop = true;
      await run;
      clients.disconnect();
      return { acked, errors };
    },
  };
}

/** Every key in `keys` that `server` does not return with its value. */
const missing = (server: RedisServer, keys: string[]) => missingKeys(() => server.client(), keys);

function manifest(name: string, primary: string, extra: Obj = {}): Obj {
  return {
    apiVersion: 'upm.io/v1alpha1',
    kind: 'RedisReplication',
    metadata: { name, namespace: 'default' },
    spec: {
      primary,
      credentials: { name: 'redis-auth' },
      instances: names.map((n) => ({ name: n, unitRef: { name: n }, host: '127.0.0.1', port: servers[n].port })),
      ...extra,
    },
  };
}

async function applyManifest(obj: Obj): Promise<void> {
  const r = await engine.kubectl('1.33', ['apply', '-f', '-'], { input: JSON.stringify(obj) });
  if (r.code !== 0) throw new Error(r.stderr);
}

async function setPrimary(name: string, primary: string): Promise<void> {
  await ok('patch', 'rr', name, '--type=merge', '-p', JSON.stringify({ spec: { primary } }));
}

beforeAll(async () => {
  engine = await startEngine();
  client = new KubeClient(loadKubeConfig(engine.kubeconfig));
  // No 5 s wait before a full synchronisation (repl-diskless-sync-delay): quicker tests.
  for (const n of names) servers[n] = await startRedisServer({ password, config: ['repl-diskless-sync-delay 0'] });
  await ok('create', 'secret', 'generic', 'redis-auth', `--from-literal=password=${password}`);
  // Stand-ins for the Pods of the Units running the servers (no node runs them here): the
  // controller labels them, the Services select them.
  for (const n of names) {
    await applyManifest({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: n, namespace: 'default', labels: { 'upm.io/unit': n } },
      spec: { containers: [{ name: 'redis', image: 'redis:7.0' }] },
    });
  }
  await startManager();
}, 60_000);

afterAll(async () => {
  await stopManager().catch(() => {});
  for (const c of clients) c.disconnect();
  await Promise.all([...Object.values(servers), ...sentinels].map((s) => s.stop().catch(() => {})));
  client?.close();
  if (engine) {
    await engine.stop();
    cleanup(engine);
  }
}, 60_000);

// A test that fails midway must not leave a server down for the next one.
afterEach(async () => {
  for (const s of Object.values(servers)) if (!s.running()) await s.start();
});

const report: Record<string, unknown> = {};
afterAll(() => {
  // The numbers the issue asks to report.
  console.log(`kauntlet-redis measurements: ${JSON.stringify(report)}`);
});

describe('RedisReplication', () => {
  it('forms a primary and two replicas, labels the Pods and creates the Services', async () => {
    await applyManifest(
      manifest('cache', 'r0', {
        failover: { mode: 'Automatic', delaySeconds: 1, cooldownSeconds: 0 },
        switchover: { timeoutSeconds: 10 },
      }),
    );
    const rr = await waitRR('cache', 'Ready', (o) => condition(o, 'Ready')?.status === 'True');
    expect(rr.status.currentPrimary).toBe('r0');
    expect(rr.status.readyInstances).toBe(3);
    for (const n of ['r1', 'r2']) {
      expect(instance(rr, n)).toMatchObject({
        role: 'Replica',
        linkStatus: 'up',
        primaryPort: servers.r0.port,
        health: 'Healthy',
        ready: true,
      });
    }
    expect(instance(rr, 'r0')).toMatchObject({ role: 'Primary', connectedReplicas: 2 });
    // The servers agree.
    const info = await connection(servers.r1).info('replication');
    expect(info).toMatch(new RegExp(`master_port:${servers.r0.port}`));
    // kubectl's columns.
    const table = await ok('get', 'rr', 'cache');
    expect(table).toMatch(/^NAME\s+PRIMARY\s+READY\s+INSTANCES\s+STATUS\s+AGE/);
    expect(table).toMatch(/cache\s+r0\s+3\s+3\s+Ready/);
    // The read-write Service selects the primary's Pod, the read-only one the replicas'.
    await waitFor('Pod role labels', async () => (await primaryPods('cache')).join() === 'r0');
    const rw = await json('get', 'service', 'cache-readwrite');
    expect(rw.spec.selector).toEqual({ 'upm.io/replication': 'cache', 'upm.io/role': 'primary' });
    const replicas = await json('get', 'pods', '-l', 'upm.io/replication=cache,upm.io/role=replica');
    expect(replicas.items.map((p: Obj) => p.metadata.name).sort()).toEqual(['r1', 'r2']);
  });

  it('switches over under a steady write load without losing an acknowledged write', async () => {
    const w = writer('sw');
    await waitFor('writes flowing', () => w.count() > 500);
    const before = (await getRR('cache')).status.lastPrimaryChange?.epoch ?? 0;
    const started = Date.now();
    await setPrimary('cache', 'r1');
    const rr = await waitRR(
      'cache',
      'switchover completed',
      (o) => o.status?.currentPrimary === 'r1' && o.status?.lastPrimaryChange?.phase === 'Completed',
    );
    report.switchoverMs = Date.now() - started;
    await waitFor('writes flowing on r1', async () => w.count() > 0 && (await connection(servers.r1).dbsize()) > 0);
    const n = w.count();
    await waitFor('more writes after the switchover', () => w.count() > n + 200);
    const { acked } = await w.stop();
    expect(rr.status.lastPrimaryChange).toMatchObject({ kind: 'Switchover', from: 'r0', to: 'r1', epoch: before + 1 });
    expect(await missing(servers.r1, acked)).toEqual([]);
    report.switchoverAckedWrites = acked.length;
    report.switchoverWritesLost = 0;
    // The old primary follows the new one; the Service follows the observed primary.
    await waitRR('cache', 'r0 a replica of r1', (o) => instance(o, 'r0')?.primaryPort === servers.r1.port);
    await waitFor('read-write Service on r1', async () => (await primaryPods('cache')).join() === 'r1');
    const events = await ok('get', 'events', '--field-selector', 'involvedObject.name=cache');
    expect(events).toMatch(/SwitchoverStarted/);
    expect(events).toMatch(/SwitchoverCompleted/);
  });

  it('fails over to the replica with the highest offset after kill -9, and the old primary rejoins as a replica', async () => {
    await waitRR('cache', 'Ready', (o) => condition(o, 'Ready')?.status === 'True');
    const sampler = roleSampler();
    const w = writer('fo');
    await waitFor('writes flowing', () => w.count() > 300);
    // r0 (first by name) falls behind: its link to the primary breaks (a wrong masterauth) while
    // the primary takes more writes, so r2 has the highest offset when the primary dies.
    const r0 = connection(servers.r0);
    await r0.call('CONFIG', 'SET', 'masterauth', 'wrong');
    await r0.call('CLIENT', 'KILL', 'TYPE', 'master');
    await waitFor('r0 link down', async () => /master_link_status:down/.test(await r0.info('replication')));
    const n0 = w.count();
    await waitFor('writes while r0 lags', () => w.count() > n0 + 50);
    await servers.r1.kill9();
    w.mark();
    const killedAt = Date.now();
    const rr = await waitRR(
      'cache',
      'failover completed',
      (o) => o.status?.currentPrimary === 'r2' && o.status?.lastPrimaryChange?.phase === 'Completed',
    );
    expect(rr.status.lastPrimaryChange).toMatchObject({ kind: 'Failover', from: 'r1', to: 'r2' });
    expect(rr.spec.primary).toBe('r2');
    await waitFor('a write acknowledged by r2', () => w.firstAckAfterMark() !== undefined, 15_000);
    report.failoverKillToFirstWriteMs = w.firstAckAfterMark();
    report.failoverDetectionDelaySeconds = 1;
    await waitFor('read-write Service on r2', async () => (await primaryPods('cache')).join() === 'r2');

    // The old primary comes back as a primary with its data; it must not take writes, and is re-pointed.
    await servers.r1.start();
    await waitRR(
      'cache',
      'r1 a replica of r2',
      (o) => instance(o, 'r1')?.role === 'Replica' && instance(o, 'r1')?.primaryPort === servers.r2.port,
    );
    await waitRR('cache', 'Ready', (o) => condition(o, 'Ready')?.status === 'True');
    const n = w.count();
    await waitFor('writes after the rejoin', () => w.count() > n + 100);
    const { acked } = await w.stop();
    const roles = await sampler.stop();
    report.failoverRoleSamples = roles.samples;
    expect(roles.splitBrain).toEqual([]);
    expect(roles.maxWritable).toBe(1);
    const lost = await missing(servers.r2, acked);
    report.failoverAckedWrites = acked.length;
    report.failoverWritesLost = lost.length;
    report.failoverTotalMs = Date.now() - killedAt;
    expect((await primaryPods('cache')).join()).toBe('r2');
    const events = await ok('get', 'events', '--field-selector', 'involvedObject.name=cache');
    expect(events).toMatch(/FailoverStarted/);
    // What the re-pointing discarded is said when it is done.
    expect(events).toMatch(/DemoteFormerPrimary.*r1 came back as a primary; re-pointing it to r2/);
  }, 60_000);

  it('resumes a switchover after the controller stops in the middle of it', async () => {
    await waitRR('cache', 'Ready', (o) => condition(o, 'Ready')?.status === 'True');
    const w = writer('rs');
    await waitFor('writes flowing', () => w.count() > 300);
    let stoppedAt: Obj | undefined;
    // Stop the manager as soon as the change is seen between its first and its last step; a
    // switchover too quick to catch is switched back and tried again.
    for (const [from, to] of [
      ['r2', 'r0'],
      ['r0', 'r2'],
      ['r2', 'r0'],
      ['r0', 'r2'],
    ]) {
      const epoch = (await getRR('cache')).status.lastPrimaryChange?.epoch ?? 0;
      await setPrimary('cache', to);
      let phase = '';
      while (!['Fencing', 'CatchingUp', 'Promoting', 'Repointing'].includes(phase)) {
        const c = (await getRR('cache')).status.lastPrimaryChange;
        if (c?.epoch === epoch + 1 && c.phase === 'Completed') break;
        phase = c?.epoch === epoch + 1 ? c.phase : '';
      }
      await stopManager();
      const s = (await getRR('cache')).status;
      if (s.lastPrimaryChange.phase !== 'Completed') {
        stoppedAt = { from, to, ...s.lastPrimaryChange };
        break;
      }
      await startManager();
      await waitRR('cache', 'Ready', (o) => condition(o, 'Ready')?.status === 'True');
    }
    expect(stoppedAt).toBeDefined();
    report.resumedFromPhase = stoppedAt!.phase;
    // While no controller runs, at most one server takes writes.
    let writableNow = 0;
    for (const n of names) if (await writable(connection(servers[n]))) writableNow++;
    expect(writableNow).toBeLessThanOrEqual(1);
    await startManager();
    const rr = await waitRR(
      'cache',
      'the same change completed',
      (o) => o.status?.lastPrimaryChange?.phase === 'Completed' && o.status.currentPrimary === stoppedAt!.to,
    );
    expect(rr.status.lastPrimaryChange.epoch).toBe(stoppedAt!.epoch);
    await waitRR('cache', 'Ready', (o) => condition(o, 'Ready')?.status === 'True');
    const n = w.count();
    await waitFor('writes after the resumed switchover', () => w.count() > n + 100);
    const { acked } = await w.stop();
    expect(await missing(servers[stoppedAt!.to], acked)).toEqual([]);
  }, 60_000);

  it('reports a wrong password with a reason and an Event, and changes nothing', async () => {
    await ok('create', 'secret', 'generic', 'wrong-auth', '--from-literal=password=not-it');
    await applyManifest({
      ...manifest('cache-wrong', 'r0'),
      spec: { ...manifest('cache-wrong', 'r0').spec, credentials: { name: 'wrong-auth' } },
    });
    const rr = await waitRR('cache-wrong', 'instances unreachable', (o) =>
      (o.status?.instances ?? []).some((i: Obj) => /authentication failed/.test(i.message ?? '')),
    );
    expect(rr.status.currentPrimary).toBe('');
    expect(condition(rr, 'Ready')).toMatchObject({ status: 'False', reason: 'AuthenticationFailed' });
    await waitFor('an Event', async () =>
      /AuthenticationFailed.*r0: authentication failed/.test(
        await ok('get', 'events', '--field-selector', 'involvedObject.name=cache-wrong'),
      ),
    );
    // The set managed by "cache" is untouched.
    await waitRR('cache', 'still Ready', (o) => condition(o, 'Ready')?.status === 'True');
    await ok('delete', 'rr', 'cache-wrong');
  });

  it('reports TLS material it cannot read with a reason and an Event, and changes nothing', async () => {
    await applyManifest({
      ...manifest('cache-tls', 'r0'),
      spec: {
        ...manifest('cache-tls', 'r0').spec,
        tls: { mode: 'VerifyFull', ca: { name: 'no-such-ca', key: 'ca.crt' } },
      },
    });
    const rr = await waitRR('cache-tls', 'the reason', (o) => condition(o, 'Ready')?.reason === 'SecretNotFound');
    expect(condition(rr, 'Ready')).toMatchObject({ status: 'False', message: 'tls.ca: Secret "no-such-ca" not found' });
    expect(rr.status.currentPrimary).toBe('');
    await waitFor('an Event', async () =>
      /SecretNotFound.*no-such-ca/.test(await ok('get', 'events', '--field-selector', 'involvedObject.name=cache-tls')),
    );
    await waitRR('cache', 'still Ready', (o) => condition(o, 'Ready')?.status === 'True');
    await ok('delete', 'rr', 'cache-tls');
  });

  it('follows a failover decided by Sentinels', async () => {
    const primary = (await getRR('cache')).status.currentPrimary as string;
    await ok('delete', 'rr', 'cache');
    for (let i = 0; i < 3; i++) sentinels.push(await startRedisServer({ sentinel: true }));
    await applyManifest(
      manifest('cache-s', primary, {
        failover: { mode: 'Sentinel' },
        sentinel: {
          masterName: 'cache',
          quorum: 2,
          downAfterMilliseconds: 1000,
          instances: sentinels.map((s, i) => ({ name: `s${i}`, host: s.host, port: s.port })),
        },
      }),
    );
    await waitRR(
      'cache-s',
      'Sentinels monitoring the primary',
      (o) => o.status?.sentinel?.readySentinels === 3 && condition(o, 'Ready')?.status === 'True',
    );
    await waitFor('Pod labels of cache-s', async () => (await primaryPods('cache-s')).join() === primary);
    // Let the Sentinels discover each other before the primary dies.
    await waitFor(
      'Sentinels know each other',
      async () => {
        const m = (await connection(sentinels[0]).call('SENTINEL', 'MASTER', 'cache')) as string[];
        return Number(m[m.indexOf('num-other-sentinels') + 1]) === 2;
      },
      15_000,
    );
    await servers[primary].kill9();
    const rr = await waitRR(
      'cache-s',
      'the Sentinels failover followed',
      (o) => !!o.status?.currentPrimary && o.status.currentPrimary !== primary,
      30_000,
    );
    const elected = rr.status.currentPrimary;
    const addr = (await connection(sentinels[0]).call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', 'cache')) as string[];
    expect(Number(addr[1])).toBe(servers[elected].port);
    expect(rr.status.lastPrimaryChange).toMatchObject({ kind: 'Failover', to: elected, reason: 'SentinelFailover' });
    await waitRR('cache-s', 'spec.primary follows', (o) => o.spec.primary === elected);
    await waitFor(
      'read-write Service on the elected primary',
      async () => (await primaryPods('cache-s')).join() === elected,
    );
    await servers[primary].start();
  }, 90_000);
});
