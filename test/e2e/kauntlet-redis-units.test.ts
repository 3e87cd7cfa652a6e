// RedisReplication on Redis Units in local mode: `upm-engine local` runs Cube and Kauntlet, the
// Units' Pods run as real redis-server processes on loopback Pod IPs, and the client writes through
// the read-write Service's ClusterIP (the local Service proxy). A switchover and a failover (the
// primary's redis-server killed with SIGKILL; the kubelet restarts it with its data) lose no
// acknowledged write of the switchover, and the Service follows the primary. Needs root on Linux
// (the node runtime), skipped otherwise.

import { Redis } from 'ioredis';
import { missingKeys } from '../../src/controllers/drivers/testing/redis-load.js';
import { cleanup, kubectlHelpers, waitFor, type Engine } from './harness.js';
import { containerPid, createUnitSet, describeIfRoot, startUnitsEngine } from './units.js';

type Obj = Record<string, any>;

let engine: Engine;
const { ok, json } = kubectlHelpers(() => engine);
const report: Record<string, unknown> = {};

/** One SET at a time through `host:6379` (the ClusterIP); a new connection after any error. */
function writer(host: string, password: string, prefix: string) {
  const acked: string[] = [];
  let stop = false;
  let c: Redis | undefined;
  const fresh = () => {
    c?.disconnect();
    c = new Redis({
      host,
      port: 6379,
      password,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      commandTimeout: 20_000,
    });
    c.on('error', () => {});
    return c;
  };
  const run = (async () => {
    let conn = fresh();
    for (let i = 0; !stop; i++) {
      const key = `${prefix}:${i}`;
      while (!stop) {
        try {
          if ((await conn.set(key, String(i))) === 'OK') acked.push(key);
          break;
        } catch {
          await new Promise((r) => setTimeout(r, 20));
          conn = fresh();
        }
      }
    }
  })();
  return {
    count: () => acked.length,
    async stop() {
      stop = true;
      await run;
      c?.disconnect();
      return acked;
    },
  };
}

describeIfRoot('RedisReplication on Redis Units (local mode)', () => {
  let password = '';
  const podIP = async (pod: string) => (await json('get', 'pod', pod)).status.podIP as string;
  const rr = () => json('get', 'rr', 'sessions');
  const primaryPods = async () =>
    ((await json('get', 'pods', '-l', 'upm.io/replication=sessions,upm.io/role=primary')).items as Obj[]).map(
      (p) => p.metadata.name,
    );
  const missing = async (host: string, keys: string[]) =>
    (await missingKeys(() => new Redis({ host, port: 6379, password }), keys)).length;
  const ready = (o: Obj) => o.status?.conditions?.some((c: Obj) => c.type === 'Ready' && c.status === 'True');

  beforeAll(async () => {
    engine = await startUnitsEngine();
    password = await createUnitSet(
      engine,
      { name: 'sessions', type: 'redis', version: '7.2.5', units: 3, limits: { cpu: '500m', memory: '256Mi' } },
      120_000,
    );
  }, 180_000);

  afterAll(async () => {
    console.log(`kauntlet-redis units measurements: ${JSON.stringify(report)}`);
    if (!engine) return;
    await engine.stop();
    cleanup(engine);
  }, 60_000);

  it('forms, switches over and fails over, with the client on the read-write Service', async () => {
    const manifest = {
      apiVersion: 'upm.io/v1alpha1',
      kind: 'RedisReplication',
      metadata: { name: 'sessions', namespace: 'default' },
      spec: {
        primary: 's0',
        credentials: { name: 'sessions-admin' },
        failover: { mode: 'Automatic', delaySeconds: 1, cooldownSeconds: 0 },
        instances: [0, 1, 2].map((i) => ({ name: `s${i}`, unitRef: { name: `sessions-${i}` } })),
      },
    };
    const applied = await engine.kubectl('1.33', ['apply', '-f', '-'], { input: JSON.stringify(manifest) });
    expect(applied.code).toBe(0);
    await waitFor('formed', async () => ready(await rr()), 60_000);
    await waitFor('read-write Service on s0', async () => (await primaryPods()).join() === 'sessions-0');
    const clusterIP = (await json('get', 'service', 'sessions-readwrite')).spec.clusterIP as string;

    // Switchover under writes through the ClusterIP.
    let w = writer(clusterIP, password, 'sw');
    await waitFor('writes through the Service', () => w.count() > 300, 20_000);
    const t0 = Date.now();
    await ok('patch', 'rr', 'sessions', '--type=merge', '-p', '{"spec":{"primary":"s1"}}');
    await waitFor(
      'switchover',
      async () => {
        const o = await rr();
        return o.status?.currentPrimary === 's1' && o.status.lastPrimaryChange?.phase === 'Completed';
      },
      30_000,
    );
    report.switchoverMs = Date.now() - t0;
    await waitFor('read-write Service on s1', async () => (await primaryPods()).join() === 'sessions-1');
    let n = w.count();
    await waitFor('writes through the Service after the switchover', () => w.count() > n + 200, 20_000);
    let acked = await w.stop();
    expect(await missing(await podIP('sessions-1'), acked)).toBe(0);
    report.switchoverAckedWrites = acked.length;

    // Failover: the primary's redis-server killed; the kubelet restarts it later, with its data.
    await waitFor('Ready', async () => ready(await rr()), 30_000);
    w = writer(clusterIP, password, 'fo');
    await waitFor('writes', () => w.count() > 300, 20_000);
    const uid = (await json('get', 'pod', 'sessions-1')).metadata.uid as string;
    const pid = containerPid(engine, uid, 'redis');
    expect(pid).toBeDefined();
    // The kubelet restarts a killed container at once the first time (the primary is back before
    // failover.delaySeconds: no failover is needed), then after a 10 s back-off: kill it twice.
    process.kill(pid!, 'SIGKILL');
    let again: number | undefined;
    await waitFor('the restarted redis-server', () => {
      again = containerPid(engine, uid, 'redis');
      return again !== undefined && again !== pid;
    });
    const killedAt = Date.now();
    process.kill(again!, 'SIGKILL');
    const after = await (async () => {
      let o: Obj = {};
      await waitFor(
        'failover',
        async () => {
          o = await rr();
          return (
            o.status?.currentPrimary !== 's1' &&
            o.status?.lastPrimaryChange?.kind === 'Failover' &&
            o.status.lastPrimaryChange.phase === 'Completed'
          );
        },
        30_000,
      );
      return o;
    })();
    report.failoverMs = Date.now() - killedAt;
    const promoted = after.status.currentPrimary as string;
    expect(after.spec.primary).toBe(promoted);
    await waitFor(
      'read-write Service on the promoted Unit',
      async () => (await primaryPods()).join() === `sessions-${promoted.slice(1)}`,
    );
    // The restarted server comes back a primary with its data and is made a replica again.
    await waitFor(
      'the old primary back as a replica',
      async () => {
        const i = (await rr()).status?.instances?.find((x: Obj) => x.name === 's1');
        return i?.role === 'Replica' && i.linkStatus === 'up';
      },
      60_000,
    );
    n = w.count();
    await waitFor('writes after the rejoin', () => w.count() > n + 100, 20_000);
    acked = await w.stop();
    report.failoverAckedWrites = acked.length;
    report.failoverWritesLost = await missing(await podIP(`sessions-${promoted.slice(1)}`), acked);
    expect((await primaryPods()).join()).toBe(`sessions-${promoted.slice(1)}`);
  }, 240_000);
});
