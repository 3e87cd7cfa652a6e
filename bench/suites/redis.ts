// RedisReplication: switchover and failover times and writes lost, on three real redis-server
// processes under a steady write load (one writer, one SET at a time, loopback), with the
// RedisReplication controller in this process against `upm-engine local --controllers=false`.
// References measured in the same run on the same servers: Redis's own coordinated switchover
// (FAILOVER TO, Redis ≥ 6.2) for the switchover, the configured detection delay for the failover,
// the acknowledged writes for the writes lost.

import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { missingKeys, serverClients } from '../../src/controllers/drivers/testing/redis-load.js';
import { startRedisServer, type RedisServer } from '../../src/controllers/drivers/testing/redis-server.js';
import { addRedisReplication } from '../../src/controllers/kauntlet/redis/replication/index.js';
import { redisReplications, secrets } from '../../src/controllers/resources.js';
import { KubeClient, loadKubeConfig } from '../../src/controllers/runtime/client.js';
import { Manager } from '../../src/controllers/runtime/manager.js';
import type { KubeObject } from '../../src/machinery/object.js';
import { startLocalEngine, stopProcess } from '../lib/engine.js';
import { row, type Row, type Suite } from '../lib/types.js';

const names = ['r0', 'r1', 'r2'];
const password = 'bench-pw';
const delaySeconds = 1;
const rounds = 3;

type Obj = Record<string, any>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, fn: () => Promise<boolean> | boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** One SET at a time to whichever server reports role master; acknowledged keys are kept. */
function writer(servers: Record<string, RedisServer>, prefix: string) {
  const acked: string[] = [];
  let stop = false;
  let markAt = 0;
  let firstAfterMark = 0;
  const clients = serverClients(servers, 20_000);
  let target = names[0];
  const run = (async () => {
    for (let i = 0; !stop; i++) {
      const key = `${prefix}:${i}`;
      while (!stop) {
        try {
          if (!servers[target].running()) throw new Error('down');
          if ((await clients.get(target).set(key, String(i))) === 'OK') {
            acked.push(key);
            if (markAt && !firstAfterMark) firstAfterMark = Date.now();
          }
          break;
        } catch {
          await sleep(2);
          for (const n of names.filter((x) => servers[x].running())) {
            const info = await clients
              .get(n)
              .info('replication')
              .catch(() => '');
            if (/role:master/.test(info)) target = n;
          }
        }
      }
    }
  })();
  return {
    count: () => acked.length,
    mark() {
      markAt = Date.now();
      firstAfterMark = 0;
    },
    sinceMark: () => (firstAfterMark ? firstAfterMark - markAt : undefined),
    async stop() {
      stop = true;
      await run;
      clients.disconnect();
      return acked;
    },
  };
}

const lost = async (server: RedisServer, keys: string[]) => (await missingKeys(() => server.client(), keys)).length;

/** The first server (by name) that reports role master. */
async function reportedPrimary(servers: Record<string, RedisServer>): Promise<string> {
  const roles = await Promise.all(
    names.map(async (n) => {
      const c = servers[n].client();
      const r = await c.info('replication');
      c.disconnect();
      return /role:master/.test(r);
    }),
  );
  return names[roles.indexOf(true)];
}

export const redisSuite: Suite = {
  name: 'redis',
  scope: 'global',
  async run({ log }) {
    const dir = mkdtempSync(join(tmpdir(), 'upm-bench-redis-'));
    const servers: Record<string, RedisServer> = {};
    let engine: ChildProcess | undefined;
    let mgr: Manager | undefined;
    let client: KubeClient | undefined;
    try {
      engine = (await startLocalEngine(dir, ['--controllers=false'])).proc;
      client = new KubeClient(loadKubeConfig(join(dir, 'kubeconfig')));
      for (const n of names) {
        servers[n] = await startRedisServer({ password, config: ['repl-diskless-sync-delay 0'] });
      }
      await client.create(secrets, {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'auth', namespace: 'default' },
        stringData: { password },
      } as unknown as KubeObject);
      mgr = new Manager({ client, leaderElection: false });
      addRedisReplication(mgr);
      await mgr.start();
      await client.create(redisReplications, {
        apiVersion: 'upm.io/v1alpha1',
        kind: 'RedisReplication',
        metadata: { name: 'bench', namespace: 'default' },
        spec: {
          primary: 'r0',
          credentials: { name: 'auth' },
          failover: { mode: 'Automatic', delaySeconds, cooldownSeconds: 0 },
          instances: names.map((n) => ({ name: n, host: '127.0.0.1', port: servers[n].port })),
        },
      } as unknown as KubeObject);
      const get = async () => (await client!.get(redisReplications, 'default', 'bench')) as Obj;
      const ready = async () =>
        (await get()).status?.conditions?.some((c: Obj) => c.type === 'Ready' && c.status === 'True') === true;
      await until('the set Ready', ready);
      log('redis: formed');

      // Switchovers by the controller, then FAILOVER TO on the same servers, each under a writer.
      const ours: number[] = [];
      const theirs: number[] = [];
      let acked = 0;
      let missing = 0;
      for (let i = 0; i < rounds; i++) {
        const from = (await get()).status.currentPrimary as string;
        const to = names[(names.indexOf(from) + 1) % names.length];
        const w = writer(servers, `sw${i}`);
        await until('writes', () => w.count() > 200);
        const t0 = performance.now();
        await client.patch(redisReplications, 'default', 'bench', { spec: { primary: to } }, 'merge');
        await until('switchover', async () => {
          const s = (await get()).status;
          return s.currentPrimary === to && s.lastPrimaryChange?.phase === 'Completed';
        });
        ours.push(performance.now() - t0);
        const n = w.count();
        await until('writes on the new primary', () => w.count() > n + 100);
        const keys = await w.stop();
        acked += keys.length;
        missing += await lost(servers[to], keys);
        await until('Ready', ready);
      }
      await mgr.stop();
      mgr = undefined;
      for (let i = 0; i < rounds; i++) {
        const from = await reportedPrimary(servers);
        const c = servers[from].client();
        // FAILOVER TO hands over to one attached replica; it does not re-point the others (they
        // keep replicating, chained, from the old primary), so the target is an attached one.
        let to = '';
        await until('an attached replica', async () => {
          const ports = [...(await c.info('replication')).matchAll(/port=(\d+),state=online/g)].map((m) => +m[1]);
          to = names.find((n) => ports.includes(servers[n].port)) ?? '';
          return !!to;
        });
        const w = writer(servers, `ft${i}`);
        await until('writes', () => w.count() > 200);
        const t0 = performance.now();
        await c.call('FAILOVER', 'TO', '127.0.0.1', String(servers[to].port), 'TIMEOUT', '10000');
        await until('FAILOVER TO', async () => {
          const t = servers[to].client();
          const [a, b] = await Promise.all([t.info('replication'), c.info('replication')]);
          t.disconnect();
          return /role:master/.test(a) && /role:slave/.test(b);
        });
        theirs.push(performance.now() - t0);
        c.disconnect();
        await w.stop();
      }
      // Back under the controller for the failover; spec.primary is whatever Redis made primary.
      const primary = await reportedPrimary(servers);
      await client.patch(redisReplications, 'default', 'bench', { spec: { primary } }, 'merge');
      mgr = new Manager({ client, leaderElection: false });
      addRedisReplication(mgr);
      await mgr.start();
      await until('Ready again', async () => (await get()).status?.currentPrimary === primary && (await ready()));
      log('redis: switchovers done');

      const w = writer(servers, 'fo');
      await until('writes', () => w.count() > 200);
      await servers[primary].kill9();
      w.mark();
      const t0 = performance.now();
      await until('failover', async () => {
        const s = (await get()).status;
        return s.currentPrimary !== primary && s.lastPrimaryChange?.phase === 'Completed';
      });
      const failoverMs = performance.now() - t0;
      await until('a write on the new primary', () => w.sinceMark() !== undefined);
      const firstWriteMs = w.sinceMark()!;
      const promoted = (await get()).status.currentPrimary as string;
      await servers[primary].start();
      await until('the old primary rejoins', async () => {
        const s = (await get()).status;
        return s.instances?.find((x: Obj) => x.name === primary)?.role === 'Replica' && (await ready());
      });
      const n = w.count();
      await until('writes after the rejoin', () => w.count() > n + 100);
      const foKeys = await w.stop();
      const foLost = await lost(servers[promoted], foKeys);
      log('redis: failover done');

      const cond = `3 redis-server 7 on loopback, 1 writer (one SET at a time), median of ${rounds}`;
      return [
        row(
          this.name,
          null,
          'RedisReplication switchover (spec.primary changed → Completed)',
          median(ours),
          'ms',
          'FAILOVER TO (Redis built-in)',
          median(theirs),
          `${cond}; controller in-process, status via the API; runs: ${ours.map(Math.round).join(', ')} ms`,
        ),
        row(
          this.name,
          null,
          'RedisReplication failover (kill -9 → first acknowledged write)',
          firstWriteMs,
          'ms',
          'failover.delaySeconds',
          delaySeconds * 1000,
          `${cond.replace(/, median.*/, '')}; Completed in status after ${Math.round(failoverMs)} ms`,
        ),
        row(
          this.name,
          null,
          'RedisReplication acknowledged writes lost (switchover)',
          missing,
          'writes',
          'acknowledged writes',
          acked,
          `${rounds} switchovers`,
        ),
        row(
          this.name,
          null,
          'RedisReplication acknowledged writes lost (failover, kill -9)',
          foLost,
          'writes',
          'acknowledged writes',
          foKeys.length,
          'asynchronous replication: writes acknowledged by the killed primary but not yet replicated can be lost',
        ),
      ] as Row[];
    } finally {
      await mgr?.stop().catch(() => {});
      client?.close();
      await Promise.all(Object.values(servers).map((s) => s.stop().catch(() => {})));
      if (engine) await stopProcess(engine);
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
