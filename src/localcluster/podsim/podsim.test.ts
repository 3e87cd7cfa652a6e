// The pod simulator against a server with the built-in kinds, through a kubeconfig over HTTPS.

import { startTestCluster, type TestCluster } from '../testing/controlplane.js';
import { PodSimulator } from './simulator.js';

let c: TestCluster;
let sim: PodSimulator;

async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const getPod = async (name: string, ns = 'default') =>
  (await c.call('GET', `/api/v1/namespaces/${ns}/pods/${name}`)).json();
const condition = (pod: any, type: string) => pod.status?.conditions?.find((x: any) => x.type === type)?.status;

async function createPod(name: string, spec: Record<string, unknown> = {}, ns = 'default') {
  const res = await c.call('POST', `/api/v1/namespaces/${ns}/pods`, {
    body: {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name },
      spec: {
        containers: [
          { name: 'app', image: 'nginx:1.25' },
          { name: 'sidecar', image: 'busybox' },
        ],
        ...spec,
      },
    },
  });
  expect(res.status).toBe(201);
  return res.json();
}

const running = (name: string, ns = 'default') =>
  waitFor(`${ns}/${name} Running and Ready`, async () => {
    const p = await getPod(name, ns);
    return p.status.phase === 'Running' && condition(p, 'Ready') === 'True' && p;
  });

beforeAll(async () => {
  c = await startTestCluster();
  sim = new PodSimulator({ kubeconfig: c.kubeconfig, startDelayMs: 200 });
  await sim.start();
});
afterAll(async () => {
  await sim?.stop();
  await c?.close();
});

describe('pod simulator', () => {
  it('registers three Ready nodes', async () => {
    const nodes = (await c.call('GET', '/api/v1/nodes')).json().items;
    expect(nodes.map((n: any) => n.metadata.name)).toEqual(['node-1', 'node-2', 'node-3']);
    for (const n of nodes) {
      expect(condition(n, 'Ready')).toBe('True');
      expect(n.status.addresses[0].type).toBe('InternalIP');
    }
    const lease = (await c.call('GET', '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/node-1')).json();
    expect(lease.spec).toMatchObject({ holderIdentity: 'node-1', leaseDurationSeconds: 40 });
    const out = await c.kubectl(['get', 'nodes']);
    expect(out.stdout).toMatch(/^node-1\s+Ready\s+<none>\s+\S+\s+v1\.33\.0$/m);
  });

  it('a created pod goes Pending → Running and Ready with containerStatuses', async () => {
    const created = await createPod('web');
    expect(created.status.phase).toBe('Pending');
    const started = Date.now();
    const p = await running('web');
    expect(Date.now() - started).toBeLessThan(2000);
    expect(p.spec.nodeName).toMatch(/^node-[123]$/);
    expect(p.status.podIP).toMatch(/^10\.244\.\d+\.\d+$/);
    expect(p.status.podIPs).toEqual([{ ip: p.status.podIP }]);
    expect(p.status.hostIP).toMatch(/^172\.18\.0\.\d+$/);
    expect(p.status.startTime).toMatch(/Z$/);
    for (const type of ['PodScheduled', 'Initialized', 'ContainersReady', 'Ready'])
      expect(condition(p, type)).toBe('True');
    expect(p.status.containerStatuses.map((s: any) => s.name)).toEqual(['app', 'sidecar']);
    for (const s of p.status.containerStatuses) {
      expect(s).toMatchObject({ ready: true, started: true, restartCount: 0 });
      expect(s.state.running.startedAt).toBeDefined();
    }
    expect(p.status.containerStatuses[0].image).toBe('nginx:1.25');
    const table = await c.kubectl(['get', 'pod', 'web']);
    expect(table.stdout).toMatch(/^web\s+2\/2\s+Running\s+0\s+\S+$/m);
    await sim.idle();
    const events = (
      await c.call(
        'GET',
        `/api/v1/namespaces/default/events?fieldSelector=${encodeURIComponent(`involvedObject.uid=${p.metadata.uid}`)}`,
      )
    ).json().items;
    expect(events.map((e: any) => e.reason)).toEqual(
      expect.arrayContaining(['Scheduled', 'Pulled', 'Created', 'Started']),
    );
  });

  it('spreads pods over the nodes', async () => {
    await Promise.all(['s1', 's2', 's3'].map((n) => createPod(n)));
    const pods = await Promise.all(['s1', 's2', 's3'].map((n) => running(n)));
    const counts = new Map<string, number>();
    for (const p of [...pods, await getPod('web')]) counts.set(p.spec.nodeName, (counts.get(p.spec.nodeName) ?? 0) + 1);
    expect([...counts.values()].sort()).toEqual([1, 1, 2]);
    const ips = new Set([...pods, await getPod('web')].map((p) => p.status.podIP));
    expect(ips.size).toBe(4);
  });

  it('failPod makes the pod Failed and not Ready', async () => {
    await createPod('doomed');
    await running('doomed');
    await sim.failPod('default', 'doomed', 'OOMKilled');
    const p = await getPod('doomed');
    expect(p.status.phase).toBe('Failed');
    expect(condition(p, 'Ready')).toBe('False');
    expect(p.status.containerStatuses[0]).toMatchObject({
      ready: false,
      state: { terminated: { exitCode: 1, reason: 'OOMKilled' } },
    });
    // Terminal: the simulator leaves it alone.
    await new Promise((r) => setTimeout(r, 400));
    expect((await getPod('doomed')).status.phase).toBe('Failed');
    expect((await c.kubectl(['get', 'pod', 'doomed'])).stdout).toMatch(/^doomed\s+0\/2\s+OOMKilled\s+0\s+\S+$/m);
  });

  it('setNodeReady(false) marks the node NotReady and its pods not Ready; true brings them back', async () => {
    const node = (await getPod('web')).spec.nodeName;
    await sim.setNodeReady(node, false);
    const n = (await c.call('GET', `/api/v1/nodes/${node}`)).json();
    expect(condition(n, 'Ready')).toBe('Unknown');
    expect(n.spec.taints.map((t: any) => `${t.key}:${t.effect}`)).toEqual([
      'node.kubernetes.io/unreachable:NoSchedule',
      'node.kubernetes.io/unreachable:NoExecute',
    ]);
    const onNode = (
      await c.call('GET', `/api/v1/pods?fieldSelector=${encodeURIComponent(`spec.nodeName=${node}`)}`)
    ).json().items;
    expect(onNode.length).toBeGreaterThan(0);
    for (const p of onNode) if (p.status.phase === 'Running') expect(condition(p, 'Ready')).toBe('False');
    expect((await c.kubectl(['get', 'node', node])).stdout).toMatch(new RegExp(`^${node}\\s+NotReady`, 'm'));

    // New pods avoid the NotReady node.
    await createPod('while-down');
    expect((await running('while-down')).spec.nodeName).not.toBe(node);

    await sim.setNodeReady(node, true);
    expect(condition((await c.call('GET', `/api/v1/nodes/${node}`)).json(), 'Ready')).toBe('True');
    await running('web');
  });

  it('evictPod fails the pod with reason Evicted and a kubelet message', async () => {
    await createPod('victim');
    await running('victim');
    await sim.evictPod('default', 'victim');
    const p = await getPod('victim');
    expect(p.status).toMatchObject({ phase: 'Failed', reason: 'Evicted' });
    expect(p.status.message).toMatch(/^The node was low on resource: memory\./);
    expect(condition(p, 'Ready')).toBe('False');
    expect(condition(p, 'DisruptionTarget')).toBe('True');
  });

  it('a pod whose nodeSelector matches no node stays Pending, Unschedulable', async () => {
    await createPod('picky', { nodeSelector: { disktype: 'ssd' } });
    const p = await waitFor('PodScheduled False', async () => {
      const x = await getPod('picky');
      return condition(x, 'PodScheduled') === 'False' && x;
    });
    expect(p.status.phase).toBe('Pending');
    expect(p.status.conditions[0].reason).toBe('Unschedulable');
  });

  it('deleting a pod deletes it at once', async () => {
    await createPod('gone');
    await running('gone');
    expect((await c.call('DELETE', '/api/v1/namespaces/default/pods/gone')).status).toBe(200);
    expect((await c.call('GET', '/api/v1/namespaces/default/pods/gone')).status).toBe(404);
  });

  it('handles pods created while it was stopped, and orphans of a vanished node, when it starts', async () => {
    await sim.stop();
    await createPod('late', {}, 'kube-system');
    await createPod('orphan', { nodeName: 'node-gone' });
    await new Promise((r) => setTimeout(r, 300));
    expect((await getPod('late', 'kube-system')).status.phase).toBe('Pending');
    sim = new PodSimulator({ kubeconfig: c.kubeconfigText, startDelayMs: 100 });
    await sim.start();
    await running('late', 'kube-system');
    const orphan = await waitFor('orphan Failed', async () => {
      const x = await getPod('orphan');
      return x.status.phase === 'Failed' && x;
    });
    expect(orphan.status.reason).toBe('NodeLost');
    expect(condition(orphan, 'DisruptionTarget')).toBe('True');
    // Pods that were already running stay as they were.
    expect((await getPod('web')).status.phase).toBe('Running');
  });
});
