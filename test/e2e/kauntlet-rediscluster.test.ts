// RedisCluster end to end: real redis-server processes (cluster-enabled yes) on loopback, the
// engine's API, and only the RedisCluster controller in this process. A 3×1 cluster forms from
// the object (timed against redis-cli --cluster create on six other fresh servers), 10,000 keys
// survive a scale out to 4 shards and a scale in to 2 (timed against redis-cli --cluster
// rebalance), a controller stopped mid-migration resumes from status, a master killed with -9
// mid-migration comes back and loses nothing, open and uncovered slots left by hand are repaired,
// and wrong credentials or a node of another cluster get a condition and no command.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Cluster } from 'ioredis';
import { addRedisCluster } from '../../src/controllers/kauntlet/rediscluster/index.js';
import { redisClusters, secrets } from '../../src/controllers/resources.js';
import { KubeClient, loadKubeConfig } from '../../src/controllers/runtime/client.js';
import { Manager } from '../../src/controllers/runtime/manager.js';
import { startRedisServer, type RedisServer } from '../../src/controllers/drivers/testing/redis-server.js';
import type { KubeObject } from '../../src/machinery/object.js';
import { cleanup, kubectlHelpers, startEngine, waitFor, type Engine } from './harness.js';

const run = promisify(execFile);
const PASSWORD = 'cluster-secret';
const KEYS = 10_000;
const config = ['cluster-enabled yes', 'cluster-node-timeout 2000'];

let engine: Engine;
let client: KubeClient;
let mgr: Manager | undefined;
const servers: RedisServer[] = [];
const report: Record<string, string> = {};
const { ok, json } = kubectlHelpers(() => engine);

async function server(): Promise<RedisServer> {
  const s = await startRedisServer({ config, password: PASSWORD });
  servers.push(s);
  return s;
}

async function startController(): Promise<Manager> {
  const m = new Manager({ client, leaderElection: false });
  addRedisCluster(m, { unitAddressing: 'podIP', resyncMs: 1000 });
  await m.start();
  return m;
}

const instances = (shard: string, nodes: RedisServer[]) => ({
  name: shard,
  instances: nodes.map((n, i) => ({ name: `${shard}-${i}`, host: n.host, port: n.port })),
});

async function get(name: string): Promise<any> {
  return client.get(redisClusters, 'default', name);
}

async function waitReady(name: string, shards: number, timeoutMs = 60_000): Promise<any> {
  let last: any;
  try {
    await waitFor(
      `RedisCluster ${name} Ready with ${shards} shards`,
      async () => {
        last = await get(name);
        const s = last.status ?? {};
        return (
          s.observedGeneration === last.metadata.generation &&
          s.readyShards === shards &&
          !s.migration &&
          s.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True')
        );
      },
      timeoutMs,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}\nlast status: ${JSON.stringify(last?.status, null, 1)}`);
  }
  return last;
}

function clusterClient(s: RedisServer, autoPipelining = true): Cluster {
  const c = new Cluster([{ host: s.host, port: s.port }], {
    enableAutoPipelining: autoPipelining,
    redisOptions: { password: PASSWORD },
    clusterRetryStrategy: () => 100,
  });
  c.on('error', () => {});
  return c;
}

async function writeKeys(c: Cluster, prefix: string): Promise<void> {
  await Promise.all(Array.from({ length: KEYS }, (_, i) => c.set(`${prefix}:${i}`, `v${i}`)));
}

/** Keys of `prefix` not readable with their value, through a new cluster client (a fresh slot map). */
async function missingKeys(seed: RedisServer, prefix: string): Promise<number> {
  const c = clusterClient(seed, false);
  try {
    const values = await Promise.all(Array.from({ length: KEYS }, (_, i) => c.get(`${prefix}:${i}`)));
    return values.filter((v, i) => v !== `v${i}`).length;
  } finally {
    c.disconnect();
  }
}

/** Open (importing/migrating) slots any of `nodes` reports about itself. */
async function openSlots(nodes: RedisServer[]): Promise<string[]> {
  const out: string[] = [];
  for (const s of nodes) {
    const c = s.client();
    try {
      const text = String(await c.call('CLUSTER', 'NODES'));
      const me = text.split('\n').find((l) => l.includes('myself'))!;
      out.push(...me.split(' ').filter((f) => f.startsWith('[')));
    } finally {
      c.disconnect();
    }
  }
  return out;
}

function expectBalanced(status: any, shards: number) {
  const counts = status.shards.filter((s: any) => s.slotCount > 0).map((s: any) => s.slotCount);
  expect(counts).toHaveLength(shards);
  expect(counts.reduce((a: number, b: number) => a + b, 0)).toBe(16384);
  for (const n of counts) expect(Math.abs(n - 16384 / shards)).toBeLessThanOrEqual(1);
}

async function redisCli(...args: string[]): Promise<string> {
  try {
    const { stdout } = await run('redis-cli', ['-a', PASSWORD, '--no-auth-warning', ...args], { timeout: 60_000 });
    return stdout;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
}

beforeAll(async () => {
  engine = await startEngine({ extraArgs: ['--webhooks=false'] });
  client = new KubeClient(loadKubeConfig(engine.kubeconfig));
  await client.create(secrets, {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'cluster-auth', namespace: 'default' },
    stringData: { password: PASSWORD },
  } as unknown as KubeObject);
  mgr = await startController();
}, 60_000);

afterAll(async () => {
  await mgr?.stop();
  client?.close();
  await Promise.all(servers.map((s) => s.stop()));
  await engine?.stop();
  if (engine) cleanup(engine);
  // The figures the issue asks for, in the test log.
  console.log(
    `RedisCluster figures:\n${Object.entries(report)
      .map(([k, v]) => `  ${k}: ${v}`)
      .join('\n')}`,
  );
}, 60_000);

describe('RedisCluster', () => {
  let ours: RedisServer[] = [];
  let cli: RedisServer[] = [];

  it('forms a 3-shard × 1-replica cluster from the object, timed against redis-cli --cluster create', async () => {
    [ours, cli] = [
      await Promise.all(Array.from({ length: 6 }, server)),
      await Promise.all(Array.from({ length: 6 }, server)),
    ];
    // A master stays cluster_state:fail for its first 2 s (CLUSTER_WRITABLE_DELAY): both runs start after it.
    await new Promise((r) => setTimeout(r, 2000));
    const t0 = Date.now();
    await client.create(redisClusters, {
      apiVersion: 'upm.io/v1alpha1',
      kind: 'RedisCluster',
      metadata: { name: 'cache', namespace: 'default' },
      spec: {
        credentials: { name: 'cluster-auth' },
        shards: [0, 1, 2].map((i) => instances(`s${i}`, [ours[2 * i], ours[2 * i + 1]])),
      },
    } as unknown as KubeObject);
    const rc = await waitReady('cache', 3);
    const ourMs = Date.now() - t0;

    const t1 = Date.now();
    await redisCli(
      '--cluster',
      'create',
      ...cli.map((s) => `${s.host}:${s.port}`),
      '--cluster-replicas',
      '1',
      '--cluster-yes',
    );
    await waitFor('redis-cli cluster ok', async () => {
      const out = await Promise.all(cli.map((s) => redisCli('-p', String(s.port), 'cluster', 'info')));
      return out.every((o) => o.includes('cluster_state:ok'));
    });
    const cliMs = Date.now() - t1;
    report['formation 3×1 (controller, from create to Ready)'] = `${ourMs} ms`;
    report['formation 3×1 (redis-cli --cluster create, to cluster_state:ok everywhere)'] = `${cliMs} ms`;
    report['formation ratio controller/redis-cli'] = (ourMs / cliMs).toFixed(2);

    // What a user sees: kubectl columns, shards with redis-cli's split, one replica per primary.
    const table = await ok('get', 'rcc', 'cache');
    expect(table).toMatch(/cache\s+ok\s+3\s+3\s+16384\s+ClusterReady/);
    expect(rc.status.shards.map((s: any) => s.slots)).toEqual([['0-5460'], ['5461-10922'], ['10923-16383']]);
    for (const [i, s] of rc.status.shards.entries()) {
      expect(s.currentPrimary).toBe(`s${i}-0`);
      expect(s.nodes.map((n: any) => n.role)).toEqual(['Primary', 'Replica']);
      expect(s.nodes[1].primaryNodeId).toBe(s.nodes[0].nodeId);
    }
    const conditions = Object.fromEntries(rc.status.conditions.map((c: any) => [c.type, [c.status, c.reason]]));
    expect(conditions).toEqual({
      Ready: ['True', 'ClusterReady'],
      Progressing: ['False', 'Stable'],
      Degraded: ['False', 'Healthy'],
    });
    expect(rc.status).toMatchObject({ clusterState: 'ok', slotsAssigned: 16384, totalShards: 3, readyShards: 3 });
    const events = await json('get', 'events', '--field-selector', 'involvedObject.name=cache');
    expect(events.items.map((e: any) => e.reason)).toEqual(
      expect.arrayContaining(['NodesMet', 'SlotsAssigned', 'ReplicaAttached']),
    );
    // Both wait for Redis's own rejoin delay (a new master turns cluster_state:ok only min(cluster-node-timeout,
    // 5 s) after it first owns slots), which dominates formation; the rest is the tools' own work (a loose
    // bound: this machine is shared and its load swings the figures).
    expect(ourMs).toBeLessThan(cliMs * 2.5);
  });

  async function patchShards(shards: object[]): Promise<void> {
    await client.patch(redisClusters, 'default', 'cache', { spec: { shards } }, 'merge');
  }
  const shardSpec = (n: number, extra: RedisServer[] = []) =>
    [...Array(n).keys()].map((i) =>
      instances(`s${i}`, i < 3 ? [ours[2 * i], ours[2 * i + 1]] : extra.slice(2 * (i - 3), 2 * (i - 3) + 2)),
    );
  let extra: RedisServer[] = [];

  it('keeps 10,000 keys through a scale out to 4 shards, balanced, and reports keys/s against redis-cli rebalance', async () => {
    const writer = clusterClient(ours[0]);
    await writeKeys(writer, 'k');
    writer.disconnect();
    extra = await Promise.all(Array.from({ length: 2 }, server));
    const t0 = Date.now();
    await patchShards(shardSpec(4, extra));
    // When the plan lands in status (the new shard has joined): from there on, slots move.
    let planned = 0;
    const watchPlan = waitFor('the plan in status', async () => {
      planned = Date.now();
      return !!(await get('cache')).status?.migration;
    }).catch(() => undefined);
    const rc = await waitReady('cache', 4);
    const readyAt = Date.now();
    const ourMs = readyAt - t0;
    await watchPlan;
    const movingMs = readyAt - planned;
    const moved = rc.status.shards[3].keys;
    expect(moved).toBeGreaterThan(KEYS / 4 - 500);
    expectBalanced(rc.status, 4);
    expect(await openSlots([...ours, ...extra])).toEqual([]);
    expect(await missingKeys(ours[0], 'k')).toBe(0);
    const events = await json('get', 'events', '--field-selector', 'involvedObject.name=cache');
    expect(events.items.map((e: any) => e.reason)).toEqual(
      expect.arrayContaining(['MigrationStarted', 'MigrationCompleted']),
    );

    // redis-cli on the same data: its cluster gets the same keys, an empty master, and rebalances onto it.
    const cliKeys = clusterClient(cli[0]);
    await writeKeys(cliKeys, 'k');
    const added = await server();
    await redisCli('--cluster', 'add-node', `${added.host}:${added.port}`, `${cli[0].host}:${cli[0].port}`);
    await waitFor('the added node known everywhere and serving', async () => {
      const out = await Promise.all([...cli, added].map((s) => redisCli('-p', String(s.port), 'cluster', 'info')));
      return out.every((o) => o.includes('cluster_known_nodes:7') && o.includes('cluster_state:ok'));
    });
    const t1 = Date.now();
    await redisCli('--cluster', 'rebalance', `${cli[0].host}:${cli[0].port}`, '--cluster-use-empty-masters');
    const cliMs = Date.now() - t1;
    const cliMoved = Number(await redisCli('-p', String(added.port), 'dbsize'));
    expect(await missingKeys(cli[0], 'k')).toBe(0);
    cliKeys.disconnect();
    report['scale out 3→4, keys moved (controller)'] =
      `${moved} keys, 4096 slots in ${ourMs} ms = ${Math.round((moved / ourMs) * 1000)} keys/s (from spec change to Ready)`;
    report['scale out 3→4, slot moves alone (controller, from the plan in status to Ready)'] =
      `${movingMs} ms = ${Math.round((moved / movingMs) * 1000)} keys/s`;
    report['rebalance onto an empty 4th master (redis-cli --cluster rebalance)'] =
      `${cliMoved} keys, 4096 slots in ${cliMs} ms = ${Math.round((cliMoved / cliMs) * 1000)} keys/s`;
    report['slot migration speed ratio controller/redis-cli (keys/s, slot moves alone)'] = (
      moved /
      movingMs /
      (cliMoved / cliMs)
    ).toFixed(2);
  });

  it('scales in to 2 shards, resuming from status after a controller stop and a master killed with -9 mid-migration', async () => {
    await patchShards(shardSpec(2));
    let planned: any;
    await waitFor('the migration plan in status', async () => {
      planned = (await get('cache')).status?.migration;
      return !!planned?.steps?.length;
    });
    // The plan is in status before any slot moves: every slot of the removed shards, to the kept ones.
    expect(planned.steps.map((s: any) => [s.fromShard, s.toShard])).toEqual([
      ['s2', 's0'],
      ['s3', 's1'],
    ]);
    expect(planned.slotsRemaining).toBe(8192);
    await mgr!.stop();
    mgr = undefined;
    const stopped = (await get('cache')).status.migration;
    expect(stopped.steps.length).toBeGreaterThan(0);
    expect(stopped.slotsRemaining).toBeGreaterThan(0);
    report['scale in: slots left when the controller was stopped'] = String(stopped.slotsRemaining);

    mgr = await startController();
    // The resumed migration moves slots away from s2's primary: it dies with -9 and is restarted at once, as a
    // supervisor would, within cluster-node-timeout (no failover to its replica).
    await waitFor(
      'the migration resumed',
      async () => {
        const m = (await get('cache')).status?.migration;
        return !m || m.slotsRemaining < stopped.slotsRemaining || m.slotsMoved > 0;
      },
      20_000,
    ).catch(() => undefined);
    const victim = ours[4];
    await victim.kill9();
    const killedAt = Date.now();
    const during = (await get('cache')).status;
    await new Promise((r) => setTimeout(r, 300));
    await victim.start();
    const rc = await waitReady('cache', 2, 90_000);
    report['scale in 4→2 after the kill: Ready again after restart'] = `${Date.now() - killedAt} ms after the kill`;
    report['migration state when s2-0 was killed'] = during.migration
      ? `${during.migration.slotsRemaining} slots still to move`
      : 'already complete';
    expectBalanced(rc.status, 2);
    expect(rc.status.shards.map((s: any) => s.name)).toEqual(['s0', 's1']);
    expect(await openSlots([...ours.slice(0, 4)])).toEqual([]);
    expect(await missingKeys(ours[0], 'k')).toBe(0);
    // The drained nodes are forgotten by every kept node.
    const known = String(await redisCli('-p', String(ours[0].port), 'cluster', 'nodes'))
      .trim()
      .split('\n');
    await waitFor(
      'removed nodes forgotten',
      async () => {
        const lines = String(await redisCli('-p', String(ours[0].port), 'cluster', 'nodes'))
          .trim()
          .split('\n');
        return lines.length === 4;
      },
      20_000,
    ).catch(() => undefined);
    const after = String(await redisCli('-p', String(ours[0].port), 'cluster', 'nodes'))
      .trim()
      .split('\n');
    expect({ before: known.length, after: after.length }).toEqual({ before: known.length, after: 4 });
  });

  it('repairs an open slot and a slot without owner left by hand, without losing keys', async () => {
    const ids = await Promise.all(ours.slice(0, 4).map((s) => redisCli('-p', String(s.port), 'cluster', 'myid')));
    const [s0, s1] = [ids[0].trim(), ids[2].trim()];
    const slotOfKey = async (k: string) => Number(await redisCli('-p', String(ours[0].port), 'cluster', 'keyslot', k));
    // A resharding that crashed: slot of k:1 is migrating on its owner and importing on the other primary.
    const open = await slotOfKey('k:1');
    const s0Owns =
      (await redisCli('-p', String(ours[0].port), 'cluster', 'countkeysinslot', String(open))).trim() !== '0';
    const [owner, other, ownerId, otherId] = s0Owns ? [ours[0], ours[2], s0, s1] : [ours[2], ours[0], s1, s0];
    await redisCli('-p', String(other.port), 'cluster', 'setslot', String(open), 'importing', ownerId);
    await redisCli('-p', String(owner.port), 'cluster', 'setslot', String(open), 'migrating', otherId);
    // A slot its owner dropped (DELSLOTS): the others still route to it, the owner answers CLUSTERDOWN.
    const dropped = await slotOfKey('k:2');
    const dropOwner =
      (await redisCli('-p', String(ours[0].port), 'cluster', 'countkeysinslot', String(dropped))).trim() !== '0'
        ? ours[0]
        : ours[2];
    await redisCli('-p', String(dropOwner.port), 'cluster', 'delslots', String(dropped));
    await waitFor('repaired', async () => (await openSlots(ours.slice(0, 4))).length === 0, 30_000);
    const rc = await waitReady('cache', 2, 30_000);
    expect(rc.status.slotsAssigned).toBe(16384);
    expect(await missingKeys(ours[0], 'k')).toBe(0);
    const events = await json('get', 'events', '--field-selector', 'involvedObject.name=cache');
    expect(events.items.map((e: any) => e.reason)).toEqual(
      expect.arrayContaining(['OpenSlotFixed', 'UncoveredSlotsAssigned']),
    );
  });

  it('moves a shard primary with CLUSTER FAILOVER when spec.primary names its replica, keeping every key', async () => {
    const shardsNow = (await get('cache')).spec.shards;
    shardsNow[0].primary = 's0-1';
    await patchShards(shardsNow);
    await waitFor(
      's0-1 primary',
      async () => (await get('cache')).status?.shards?.[0]?.currentPrimary === 's0-1',
      30_000,
    );
    const rc = await waitReady('cache', 2, 30_000);
    expect(rc.status.shards[0].nodes.map((n: any) => [n.name, n.role])).toEqual([
      ['s0-0', 'Replica'],
      ['s0-1', 'Primary'],
    ]);
    expect(await missingKeys(ours[0], 'k')).toBe(0);
    const events = await json('get', 'events', '--field-selector', 'involvedObject.name=cache');
    expect(events.items.map((e: any) => e.reason)).toContain('FailoverStarted');
  });

  it('reports wrong credentials and a node of another cluster with a reason, and sends them no command', async () => {
    const lone = await server();
    await client.create(secrets, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'wrong-auth', namespace: 'default' },
      stringData: { password: 'not-the-password' },
    } as unknown as KubeObject);
    await client.create(redisClusters, {
      apiVersion: 'upm.io/v1alpha1',
      kind: 'RedisCluster',
      metadata: { name: 'badauth', namespace: 'default' },
      spec: { credentials: { name: 'wrong-auth' }, shards: [instances('a', [lone])] },
    } as unknown as KubeObject);
    // One of redis-cli's cluster nodes listed with a fresh server: it belongs to another cluster.
    const fresh = await server();
    await client.create(redisClusters, {
      apiVersion: 'upm.io/v1alpha1',
      kind: 'RedisCluster',
      metadata: { name: 'intruder', namespace: 'default' },
      spec: { credentials: { name: 'cluster-auth' }, shards: [instances('a', [cli[0], fresh])] },
    } as unknown as KubeObject);
    const degraded = async (name: string, reason: string) =>
      waitFor(`${name} Degraded ${reason}`, async () =>
        ((await get(name)).status?.conditions ?? []).some((c: any) => c.type === 'Degraded' && c.reason === reason),
      );
    await degraded('badauth', 'AuthFailed');
    await degraded('intruder', 'ForeignCluster');
    const bad = await get('badauth');
    expect(JSON.stringify(bad.status)).not.toContain('not-the-password');
    expect(bad.status.shards[0].nodes[0]).toMatchObject({ health: 'Unreachable', role: 'Unknown' });
    const events = await json('get', 'events', '--field-selector', 'involvedObject.name=intruder');
    expect(events.items.map((e: any) => e.reason)).toContain('ForeignCluster');
    // Nothing was sent: the lone server and the fresh one know only themselves, the other cluster is unchanged.
    await new Promise((r) => setTimeout(r, 500));
    for (const s of [lone, fresh]) {
      expect(String(await redisCli('-p', String(s.port), 'cluster', 'info'))).toContain('cluster_known_nodes:1');
    }
    expect(String(await redisCli('-p', String(cli[0].port), 'cluster', 'info'))).toContain('cluster_known_nodes:7');
  });
});
