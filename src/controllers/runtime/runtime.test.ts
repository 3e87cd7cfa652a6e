// The controller runtime against a real API server (the local control plane's, over HTTPS with a
// kubeconfig), with faults injected at the TCP level: cut connections (lost watches, a restarted
// server) and frozen ones (a silent connection that never closes).

import { KubeConfig } from '@kubernetes/client-node';
import { startTestCluster, type TestCluster } from '../../localcluster/testing/controlplane.js';
import type { KubeObject } from '../../machinery/object.js';
import { KubeClient, type ResourceType } from './client.js';
import { Controller, TerminalError, type Request } from './controller.js';
import { Recorder } from './events.js';
import { Informer } from './informer.js';
import { LeaderElector } from './leaderelection.js';
import { Manager } from './manager.js';
import { startFaultProxy, type FaultProxy } from './testing/proxy.js';

const configMaps: ResourceType = {
  group: '',
  version: 'v1',
  resource: 'configmaps',
  kind: 'ConfigMap',
  namespaced: true,
};

/** A kind the test cluster does not serve: its list answers 404. */
const widgets: ResourceType = {
  group: 'example.test',
  version: 'v1',
  resource: 'widgets',
  kind: 'Widget',
  namespaced: false,
};

let cluster: TestCluster;
let proxy: FaultProxy;
let direct: KubeClient;
let viaProxy: KubeClient;
const cleanups: (() => Promise<void> | void)[] = [];

function clientFor(port: number): KubeClient {
  const kc = new KubeConfig();
  kc.loadFromString(cluster.kubeconfigText.replace(new URL(cluster.server.url).origin, `https://127.0.0.1:${port}`));
  return new KubeClient(kc);
}

async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition') {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const cm = (name: string, data: Record<string, string> = {}, namespace = 'default'): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace },
  data,
});

beforeAll(async () => {
  cluster = await startTestCluster();
  proxy = await startFaultProxy(new URL(cluster.server.url).port as unknown as number);
  direct = clientFor(Number(new URL(cluster.server.url).port));
  viaProxy = clientFor(proxy.port);
});

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  proxy.thaw();
});

afterAll(async () => {
  direct?.close();
  viaProxy?.close();
  await proxy?.close();
  await cluster?.close();
});

describe('Informer', () => {
  it('lists, then follows adds, updates and deletes in order', async () => {
    await direct.create(configMaps, cm('inf-a', { v: '1' }));
    const inf = new Informer(direct, configMaps, { namespace: 'default' });
    const seen: string[] = [];
    inf.addHandler({
      onAdd: (o) => seen.push(`add ${o.metadata.name}`),
      onUpdate: (o, n) => seen.push(`update ${n.metadata.name} ${(o['data'] as any)?.v}->${(n['data'] as any)?.v}`),
      onDelete: (o) => seen.push(`delete ${o.metadata.name}`),
    });
    inf.start();
    cleanups.push(() => inf.stop());
    await inf.waitForSync(5000);
    expect(inf.get('default', 'inf-a')?.['data']).toEqual({ v: '1' });
    await direct.patch(configMaps, 'default', 'inf-a', { data: { v: '2' } }, 'merge');
    await direct.create(configMaps, cm('inf-b'));
    await direct.delete(configMaps, 'default', 'inf-a');
    await eventually(() => seen.includes('delete inf-a'), 5000, 'delete event');
    expect(seen).toEqual(['add inf-a', 'update inf-a 1->2', 'add inf-b', 'delete inf-a']);
    expect(inf.list('default').map((o) => o.metadata.name)).toEqual(['inf-b']);
  });

  it('recovers from cut connections (a lost watch) and sees what changed meanwhile', async () => {
    const inf = new Informer(viaProxy, configMaps, { namespace: 'default', backoffMs: { initial: 50, max: 200 } });
    inf.start();
    cleanups.push(() => inf.stop());
    await inf.waitForSync(5000);
    for (let i = 0; i < 3; i++) {
      proxy.cut();
      await direct.create(configMaps, cm(`lost-${i}`));
      await eventually(() => !!inf.get('default', `lost-${i}`), 8000, `lost-${i} after cut ${i}`);
    }
    // And it is watching again afterwards, not only relisting.
    const lists = inf.stats.lists;
    await direct.create(configMaps, cm('lost-after'));
    await eventually(() => !!inf.get('default', 'lost-after'), 8000, 'lost-after');
    expect(inf.stats.lists).toBe(lists);
  });

  it('notices a silent connection and re-opens the watch', async () => {
    const inf = new Informer(viaProxy, configMaps, {
      namespace: 'default',
      idleTimeoutMs: 400,
      backoffMs: { initial: 50, max: 200 },
    });
    inf.start();
    cleanups.push(() => inf.stop());
    await inf.waitForSync(5000);
    // The watch is live (an object created now arrives through it) ...
    await direct.create(configMaps, cm('silent-0'));
    await eventually(() => !!inf.get('default', 'silent-0'), 5000, 'a live watch');
    // ... then its connection goes silent without closing.
    proxy.freeze();
    await direct.create(configMaps, cm('silent-1'));
    await eventually(() => !!inf.get('default', 'silent-1'), 8000, 'object after the silent connection').catch((e) => {
      throw new Error(`${e.message}: ${JSON.stringify(inf.stats)}`);
    });
    expect(inf.stats.idleAborts).toBeGreaterThanOrEqual(1);
    expect(inf.stats.lists).toBe(1); // re-watched from its revision, no relist
  });
  it('with notServedRetryMs, counts a kind the API does not serve as an empty list and looks for it again', async () => {
    const inf = new Informer(direct, widgets, { notServedRetryMs: 100, backoffMs: { initial: 50, max: 200 } });
    inf.start();
    cleanups.push(() => inf.stop());
    await inf.waitForSync(5000);
    expect(inf.list()).toEqual([]);
    expect(inf.isNotServed()).toBe(true);
    await eventually(() => inf.stats.notServed >= 2, 5000, 'a second look for the kind');
    expect(inf.stats.watchErrors).toBe(0);
  });

  it('without notServedRetryMs, a 404 is a failure: retried with backoff and never synced', async () => {
    const inf = new Informer(direct, widgets, { backoffMs: { initial: 50, max: 200 } });
    inf.start();
    cleanups.push(() => inf.stop());
    await eventually(() => inf.stats.watchErrors >= 2, 5000, 'retries');
    expect(inf.hasSynced()).toBe(false);
    expect(inf.isNotServed()).toBe(false);
  });
});

describe('Controller', () => {
  it('reconciles each key once per burst, never two workers on one key, and retries errors with backoff', async () => {
    const inf = new Informer(direct, configMaps, { namespace: 'default', labelSelector: 'test=ctrl' });
    const calls = new Map<string, number>();
    let inFlight = new Set<string>();
    let overlap = false;
    let failuresLeft = 3;
    const reconcile = async (req: Request) => {
      if (inFlight.has(req.name)) overlap = true;
      inFlight.add(req.name);
      await new Promise((r) => setTimeout(r, 20));
      inFlight.delete(req.name);
      calls.set(req.name, (calls.get(req.name) ?? 0) + 1);
      if (req.name === 'ctrl-flaky' && failuresLeft-- > 0) throw new Error('transient');
      if (req.name === 'ctrl-bad') throw new TerminalError('bad input');
    };
    const ctrl = new Controller('test-ctrl', reconcile, { workers: 4, backoff: { baseDelayMs: 10 } }).for(inf);
    inf.start();
    cleanups.push(async () => {
      await ctrl.stop();
      await inf.stop();
    });
    await ctrl.start(5000);
    const labelled = (name: string) => ({
      ...cm(name),
      metadata: { name, namespace: 'default', labels: { test: 'ctrl' } },
    });
    await direct.create(configMaps, labelled('ctrl-a'));
    for (let i = 0; i < 10; i++)
      await direct.patch(configMaps, 'default', 'ctrl-a', { data: { i: String(i) } }, 'merge');
    await direct.create(configMaps, labelled('ctrl-flaky'));
    await direct.create(configMaps, labelled('ctrl-bad'));
    await eventually(() => calls.get('ctrl-flaky') === 4, 5000, 'flaky to succeed on the 4th try');
    await new Promise((r) => setTimeout(r, 300));
    expect(overlap).toBe(false);
    // 11 writes to ctrl-a collapse into far fewer reconciles (each reconcile sees the latest state).
    expect(calls.get('ctrl-a')).toBeLessThanOrEqual(11);
    expect(calls.get('ctrl-bad')).toBe(1); // terminal: not retried
    expect(ctrl.queue.numRequeues('default/ctrl-flaky')).toBe(0); // forgotten after success
    inFlight = new Set();
  });

  it('brings a key back after requeueAfterMs without counting it as a failure', async () => {
    const inf = new Informer(direct, configMaps, { namespace: 'default', labelSelector: 'test=requeue' });
    const times: number[] = [];
    const ctrl = new Controller('requeue-ctrl', async () => {
      times.push(Date.now());
      return times.length < 3 ? { requeueAfterMs: 100 } : {};
    }).for(inf);
    inf.start();
    cleanups.push(async () => {
      await ctrl.stop();
      await inf.stop();
    });
    await ctrl.start(5000);
    await direct.create(configMaps, {
      ...cm('rq'),
      metadata: { name: 'rq', namespace: 'default', labels: { test: 'requeue' } },
    });
    await eventually(() => times.length === 3, 5000, 'three reconciles');
    expect(times[2] - times[1]).toBeGreaterThanOrEqual(90);
    expect(ctrl.queue.numRequeues('default/rq')).toBe(0);
  });
});

describe('Controller external sources', () => {
  it('reconciles the keys a source names from start until stop, and stops the source first', async () => {
    const seen: string[] = [];
    let enqueue: ((req: { namespace: string; name: string }) => void) | undefined;
    let stopped = false;
    const ctrl = new Controller('external-ctrl', async (req) => void seen.push(`${req.namespace}/${req.name}`)).from({
      start: (e) => (enqueue = e),
      stop: async () => {
        stopped = true;
      },
    });
    expect(enqueue).toBeUndefined();
    await ctrl.start(5000);
    enqueue!({ namespace: 'default', name: 'orders' });
    await eventually(() => seen.includes('default/orders'), 5000, 'reconcile');
    await ctrl.stop();
    expect(stopped).toBe(true);
  });
});

describe('LeaderElector', () => {
  const fast = { leaseDurationMs: 1500, renewDeadlineMs: 1000, retryPeriodMs: 200 };

  async function holder(name: string): Promise<string> {
    const lease = await direct.get(
      { group: 'coordination.k8s.io', version: 'v1', resource: 'leases', kind: 'Lease', namespaced: true },
      'default',
      name,
    );
    return String((lease['spec'] as { holderIdentity?: string }).holderIdentity ?? '');
  }

  function candidate(name: string, identity: string, log: string[]) {
    return new LeaderElector(direct, {
      namespace: 'default',
      name,
      identity,
      ...fast,
      onStartedLeading: () => log.push(`${identity} started`),
      onStoppedLeading: () => log.push(`${identity} stopped`),
    });
  }

  it('elects one of two candidates; never two leaders; a standby takes over when the leader dies', async () => {
    const log: string[] = [];
    const a = candidate('le-crash', 'a', log);
    const b = candidate('le-crash', 'b', log);
    a.start();
    b.start();
    let both = false;
    const sampler = setInterval(() => {
      if (a.isLeader() && b.isLeader()) both = true;
    }, 20);
    cleanups.push(() => clearInterval(sampler));
    await eventually(() => a.isLeader() || b.isLeader(), 5000, 'a leader');
    const [leader, standby] = a.isLeader() ? [a, b] : [b, a];
    const leaderId = a.isLeader() ? 'a' : 'b';
    expect(await holder('le-crash')).toBe(leaderId);
    await new Promise((r) => setTimeout(r, 800));
    expect(standby.isLeader()).toBe(false);
    // The leader's process dies: it stops renewing and never releases (simulated by a partition).
    const partitioned = leader as unknown as { tryAcquireOrRenew: () => Promise<boolean> };
    partitioned.tryAcquireOrRenew = async () => false;
    const t0 = Date.now();
    await eventually(() => standby.isLeader(), 6000, 'the standby to take over');
    const takeover = Date.now() - t0;
    // The partitioned leader gave up within its renew deadline, before the standby could take over.
    expect(log).toContain(`${leaderId} stopped`);
    expect(both).toBe(false);
    expect(takeover).toBeGreaterThanOrEqual(fast.leaseDurationMs - fast.renewDeadlineMs);
    await standby.stop();
    await leader.stop();
  });

  it('a leader that stops releases the Lease, so the standby takes over at its next retry', async () => {
    const log: string[] = [];
    const a = candidate('le-release', 'a', log);
    a.start();
    await eventually(() => a.isLeader(), 5000, 'a to lead');
    const b = candidate('le-release', 'b', log);
    b.start();
    await new Promise((r) => setTimeout(r, 400));
    expect(b.isLeader()).toBe(false);
    const t0 = Date.now();
    await a.stop();
    await eventually(() => b.isLeader(), 3000, 'b to lead');
    expect(Date.now() - t0).toBeLessThan(fast.leaseDurationMs);
    expect(await holder('le-release')).toBe('b');
    await b.stop();
  });
});

describe('Recorder and Manager', () => {
  it('records one Event per occurrence and counts repeats in series', async () => {
    const target = await direct.create(configMaps, cm('evented'));
    const rec = new Recorder(direct, { controller: 'upm.io/test-controller', instance: 'test-1', seriesWriteMs: 50 });
    rec.event(target, 'Normal', 'Created', 'Create', 'first');
    await rec.flush();
    rec.event(target, 'Normal', 'Created', 'Create', 'second');
    rec.event(target, 'Normal', 'Created', 'Create', 'third');
    rec.event(target, 'Warning', 'Failed', 'Update', 'other');
    await rec.flush();
    const events = await direct.list(
      { group: '', version: 'v1', resource: 'events', kind: 'Event', namespaced: true },
      'default',
    );
    const mine = events.items.filter((e) => (e['involvedObject'] as { name?: string })?.name === 'evented');
    expect(mine).toHaveLength(2);
    const created = mine.find((e) => e['reason'] === 'Created')!;
    expect(created['count']).toBe(3);
    expect(created['reportingComponent']).toBe('upm.io/test-controller');
    expect(mine.find((e) => e['reason'] === 'Failed')?.['type']).toBe('Warning');
  });

  it('serves health, readiness and controller-runtime metrics; a manager with a Lease runs controllers only when leading', async () => {
    const reconciled: string[] = [];
    const mgr = new Manager({
      client: direct,
      leaderElection: {
        namespace: 'default',
        name: 'mgr-test',
        leaseDurationMs: 1500,
        renewDeadlineMs: 1000,
        retryPeriodMs: 200,
      },
      probeAddress: { host: '127.0.0.1', port: 0 },
    });
    const inf = mgr.informer(configMaps, { namespace: 'default' });
    const ctrl = new Controller('metrics-ctrl', async (req) => void reconciled.push(req.name), {
      metrics: mgr.metrics,
    }).for(inf);
    mgr.add(ctrl);
    await mgr.start();
    cleanups.push(() => mgr.stop());
    await eventually(() => mgr.isLeader(), 5000, 'leadership');
    await direct.create(configMaps, cm('mgr-cm'));
    await eventually(() => reconciled.includes('mgr-cm'), 5000, 'reconcile');
    const port = mgr.probePort()!;
    const get = async (path: string) => {
      const res = await fetch(`http://127.0.0.1:${port}${path}`);
      return { status: res.status, text: await res.text() };
    };
    expect((await get('/healthz')).status).toBe(200);
    expect((await get('/readyz')).status).toBe(200);
    const metrics = (await get('/metrics')).text;
    expect(metrics).toMatch(/controller_runtime_reconcile_total\{controller="metrics-ctrl",result="success"\} [1-9]/);
    expect(metrics).toContain('workqueue_adds_total{name="metrics-ctrl",controller="metrics-ctrl"}');
    expect(metrics).toContain('leader_election_master_status{name="mgr-test"} 1');
  });
});
