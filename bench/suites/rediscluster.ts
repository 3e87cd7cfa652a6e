// RedisCluster (Kauntlet) against redis-cli on the same machine in one run: forming a 3-shard ×
// 1-replica cluster from six fresh redis-server processes (the controller from a RedisCluster
// object until Ready, redis-cli --cluster create until every node says cluster_state:ok), and
// moving 10,000 keys' slots onto a 4th shard (the controller's scale out from the spec change to
// Ready, redis-cli --cluster rebalance --cluster-use-empty-masters). The engine runs without its
// controllers; only the RedisCluster controller runs, in this process.

import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Cluster } from 'ioredis';
import { startRedisServer, type RedisServer } from '../../src/controllers/drivers/testing/redis-server.js';
import { addRedisCluster } from '../../src/controllers/kauntlet/rediscluster/index.js';
import { redisClusters, secrets } from '../../src/controllers/resources.js';
import { KubeClient, loadKubeConfig } from '../../src/controllers/runtime/client.js';
import { Manager } from '../../src/controllers/runtime/manager.js';
import type { KubeObject } from '../../src/machinery/object.js';
import { startCli, stopProcess } from '../lib/engine.js';
import { row, type Suite } from '../lib/types.js';

const run = promisify(execFile);
const PASSWORD = 'bench-secret';
const KEYS = 10_000;
const NODE_TIMEOUT_MS = 2000;
const config = ['cluster-enabled yes', `cluster-node-timeout ${NODE_TIMEOUT_MS}`];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function redisCli(...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-a', PASSWORD, '--no-auth-warning', ...args], { timeout: 120_000 });
  return stdout;
}

async function until(what: string, cond: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

async function allOk(nodes: RedisServer[], knownNodes?: number): Promise<boolean> {
  const out = await Promise.all(nodes.map((s) => redisCli('-p', String(s.port), 'cluster', 'info')));
  return out.every(
    (o) => o.includes('cluster_state:ok') && (!knownNodes || o.includes(`cluster_known_nodes:${knownNodes}`)),
  );
}

async function writeKeys(seed: RedisServer): Promise<void> {
  const c = new Cluster([{ host: seed.host, port: seed.port }], {
    enableAutoPipelining: true,
    redisOptions: { password: PASSWORD },
  });
  c.on('error', () => {});
  try {
    await Promise.all(Array.from({ length: KEYS }, (_, i) => c.set(`k:${i}`, `v${i}`)));
  } finally {
    c.disconnect();
  }
}

export const redisClusterSuite: Suite = {
  name: 'rediscluster',
  scope: 'global',
  async run({ log }) {
    const dir = mkdtempSync(join(tmpdir(), 'upm-bench-rc-'));
    const servers: RedisServer[] = [];
    const server = async () => {
      const s = await startRedisServer({ config, password: PASSWORD });
      servers.push(s);
      return s;
    };
    const engine = await startCli(
      ['local', '--data-dir', dir, '--port', '0', '--controllers=false', '--webhooks=false', '--log-level', 'warn'],
      (out) => out.includes('UPM Engine is serving at'),
    );
    const client = new KubeClient(loadKubeConfig(join(dir, 'kubeconfig')));
    const mgr = new Manager({ client, leaderElection: false });
    try {
      addRedisCluster(mgr, { resyncMs: 1000 });
      await mgr.start();
      await client.create(secrets, {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'auth', namespace: 'default' },
        stringData: { password: PASSWORD },
      } as unknown as KubeObject);
      const ours = await Promise.all(Array.from({ length: 8 }, server));
      const theirs = await Promise.all(Array.from({ length: 7 }, server));
      // A new master waits 2 s after its start before it may serve: both runs start past it.
      await sleep(2500);

      const shard = (i: number) => ({
        name: `s${i}`,
        instances: [0, 1].map((j) => ({ name: `s${i}-${j}`, host: ours[2 * i + j].host, port: ours[2 * i + j].port })),
      });
      const status = async () => ((await client.get(redisClusters, 'default', 'bench')) as any).status;
      const ready = async (shards: number) => {
        const s = await status();
        return (
          s?.readyShards === shards &&
          !s.migration &&
          s.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True')
        );
      };

      log('rediscluster: formation (controller, then redis-cli)');
      let t = performance.now();
      await client.create(redisClusters, {
        apiVersion: 'upm.io/v1alpha1',
        kind: 'RedisCluster',
        metadata: { name: 'bench', namespace: 'default' },
        spec: { credentials: { name: 'auth' }, shards: [0, 1, 2].map(shard) },
      } as unknown as KubeObject);
      await until('RedisCluster Ready', () => ready(3));
      const formMs = performance.now() - t;

      const cli6 = theirs.slice(0, 6);
      t = performance.now();
      await redisCli(
        '--cluster',
        'create',
        ...cli6.map((s) => `${s.host}:${s.port}`),
        '--cluster-replicas',
        '1',
        '--cluster-yes',
      );
      await until('redis-cli cluster ok', () => allOk(cli6));
      const cliFormMs = performance.now() - t;

      log('rediscluster: 10,000 keys onto a 4th shard (controller, then redis-cli)');
      await writeKeys(ours[0]);
      await writeKeys(cli6[0]);
      t = performance.now();
      await client.patch(redisClusters, 'default', 'bench', { spec: { shards: [0, 1, 2, 3].map(shard) } }, 'merge');
      let planned = 0;
      const watchPlan = until('the plan in status', async () => {
        planned = performance.now();
        return !!(await status())?.migration;
      });
      await until('RedisCluster Ready with 4 shards', () => ready(4));
      const readyAt = performance.now();
      const outMs = readyAt - t;
      await watchPlan;
      const movingMs = readyAt - planned;
      const moved = ((await status()).shards[3].keys as number) ?? 0;

      const added = theirs[6];
      await redisCli('--cluster', 'add-node', `${added.host}:${added.port}`, `${cli6[0].host}:${cli6[0].port}`);
      await until('the added node serving', () => allOk([...cli6, added], 7));
      t = performance.now();
      await redisCli('--cluster', 'rebalance', `${cli6[0].host}:${cli6[0].port}`, '--cluster-use-empty-masters');
      const cliOutMs = performance.now() - t;
      const cliMoved = Number(await redisCli('-p', String(added.port), 'dbsize'));

      const note = `redis-server 7 on loopback, appendfsync always, cluster-node-timeout ${NODE_TIMEOUT_MS} ms; machine shared`;
      return [
        row(
          this.name,
          null,
          'Redis Cluster formation (6 servers, 3 shards × 1 replica)',
          formMs / 1000,
          's',
          'redis-cli --cluster create',
          cliFormMs / 1000,
          `${note}; both end at cluster_state:ok on every node, which Redis delays min(node-timeout, 5 s) after a new master first owns slots`,
        ),
        row(
          this.name,
          null,
          'Redis Cluster slot migration onto a 4th shard (10,000 keys)',
          moved / (movingMs / 1000),
          'keys/s',
          'redis-cli --cluster rebalance --cluster-use-empty-masters',
          cliMoved / (cliOutMs / 1000),
          `${note}; controller: ${moved} keys, 4096 slots in ${(movingMs / 1000).toFixed(1)} s from the plan in status ` +
            `to Ready (${(outMs / 1000).toFixed(1)} s from the spec change, the new shard's join included); ` +
            `redis-cli: ${cliMoved} keys in ${(cliOutMs / 1000).toFixed(1)} s (add-node and join not counted)`,
        ),
      ];
    } finally {
      await mgr.stop();
      client.close();
      await Promise.all(servers.map((s) => s.stop()));
      await stopProcess(engine.proc);
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
