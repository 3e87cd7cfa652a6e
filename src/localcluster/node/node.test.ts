// The node runtime against a server with the built-in kinds: real redis-server processes on
// loopback addresses (root on Linux; the CI runs as root).

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { startTestCluster, type TestCluster } from '../testing/controlplane.js';
import { NodeRuntime } from './node.js';
import { detectSandboxSupport, processStartTime } from './sandbox.js';

const support = detectSandboxSupport();
const describeIfRoot = support.namespaces ? describe : describe.skip;

let c: TestCluster;
let node: NodeRuntime;
let dataDir: string;

async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 15_000): Promise<T> {
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
    await new Promise((r) => setTimeout(r, 50));
  }
}

const getPod = async (name: string) => (await c.call('GET', `/api/v1/namespaces/default/pods/${name}`)).json();
const condition = (pod: any, type: string) => pod.status?.conditions?.find((x: any) => x.type === type)?.status;

/** Sends one RESP command and returns the first reply line. */
function redis(host: string, command: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port: 6379 });
    let data = '';
    s.setTimeout(2000, () => {
      s.destroy();
      reject(new Error('timeout'));
    });
    s.on('error', reject);
    s.on('connect', () => s.write(`*${command.length}\r\n${command.map((a) => `$${a.length}\r\n${a}\r\n`).join('')}`));
    s.on('data', (d) => {
      data += d.toString();
      if (data.includes('\r\n')) {
        s.destroy();
        resolve(data.split('\r\n')[0]);
      }
    });
  });
}

/** Pids of processes whose command line contains `needle`. */
function pidsOf(needle: string): number[] {
  const out = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((l) => l.includes(needle) && !l.includes('ps -eo'))
    .map((l) => Number(l.trim().split(/\s+/)[0]));
}

describeIfRoot('node runtime (real processes)', () => {
  beforeAll(async () => {
    c = await startTestCluster();
    dataDir = mkdtempSync(join(tmpdir(), 'upm-node-'));
    node = new NodeRuntime({
      kubeconfig: c.kubeconfig,
      nodeName: 'node-test',
      dataDir,
      schedule: true,
      podCIDR: '127.77.0.0/16',
      leaseDurationSeconds: 4,
      logger: pino({ level: 'silent' }),
    });
    await node.start();
  });
  afterAll(async () => {
    await node?.stop();
    await c?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('registers a Ready Node with capacity and renews its Lease', async () => {
    const n = (await c.call('GET', '/api/v1/nodes/node-test')).json();
    expect(n.status.conditions.find((x: any) => x.type === 'Ready')).toMatchObject({
      status: 'True',
      reason: 'KubeletReady',
    });
    expect(Number(n.status.capacity.cpu)).toBeGreaterThan(0);
    expect(n.status.daemonEndpoints.kubeletEndpoint.Port).toBe(node.kubeletPort);
    const first = (
      await c.call('GET', '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/node-test')
    ).json();
    expect(first.spec.holderIdentity).toBe('node-test');
    await waitFor('lease renewal', async () => {
      const l = (
        await c.call('GET', '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/node-test')
      ).json();
      return l.spec.renewTime !== first.spec.renewTime;
    });
  });

  it('runs a redis:7 Pod as a real redis-server on its own address; kill -9 restarts it with backoff', async () => {
    const created = Date.now();
    const res = await c.call('POST', '/api/v1/namespaces/default/pods', {
      body: {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'cache', labels: { app: 'cache' } },
        spec: {
          terminationGracePeriodSeconds: 5,
          containers: [
            {
              name: 'redis',
              image: 'redis:7',
              env: [{ name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } }],
              args: ['--save', '', '--appendonly', 'no', '--replica-announce-ip', '$(POD_IP)'],
              ports: [{ name: 'redis', containerPort: 6379 }],
              readinessProbe: { exec: { command: ['redis-cli', 'ping'] }, periodSeconds: 1 },
              livenessProbe: { tcpSocket: { port: 'redis' }, periodSeconds: 1 },
            },
          ],
        },
      },
    });
    expect(res.status).toBe(201);
    const pod = await waitFor('cache Running and Ready', async () => {
      const p = await getPod('cache');
      return p.status?.phase === 'Running' && condition(p, 'Ready') === 'True' && p;
    });
    const readyMs = Date.now() - created;
    expect(pod.spec.nodeName).toBe('node-test');
    expect(pod.status.podIP).toMatch(/^127\.77\./);
    expect(await redis(pod.status.podIP, ['PING'])).toBe('+PONG');
    // $(POD_IP) in args was expanded from the downward API.
    expect(await redis(pod.status.podIP, ['CONFIG', 'GET', 'replica-announce-ip'])).toBe('*2');
    const pid = await waitFor('redis-server listening', async () => pidsOf(`redis-server ${pod.status.podIP}:6379`)[0]);
    // Not on 0.0.0.0: another address's 6379 stays free.
    await new Promise<void>((resolve, reject) => {
      const s = connect({ host: '127.77.250.250', port: 6379 });
      s.on('connect', () => reject(new Error('something listens on every address')));
      s.on('error', () => resolve());
    });
    process.stdout.write(`redis:7 pod Ready ${readyMs} ms after create\n`);

    process.kill(pid, 'SIGKILL');
    const restarted = await waitFor('restart after kill -9', async () => {
      const p = await getPod('cache');
      const s = p.status?.containerStatuses?.[0];
      return s?.restartCount === 1 && s.state.running && s.lastState.terminated && p;
    });
    const s = restarted.status.containerStatuses[0];
    expect(s.lastState.terminated).toMatchObject({ exitCode: 137, reason: 'Error' });
    await waitFor('redis answering again', async () => (await redis(pod.status.podIP, ['PING'])) === '+PONG');

    // A second crash right away waits 10 s: CrashLoopBackOff.
    const pid2 = await waitFor(
      'redis-server listening',
      async () => pidsOf(`redis-server ${pod.status.podIP}:6379`)[0],
    );
    process.kill(pid2, 'SIGKILL');
    const backingOff = await waitFor('CrashLoopBackOff', async () => {
      const p = await getPod('cache');
      const w = p.status?.containerStatuses?.[0]?.state?.waiting;
      return w?.reason === 'CrashLoopBackOff' && p;
    });
    expect(backingOff.status.containerStatuses[0].state.waiting.message).toMatch(
      /^back-off 10s restarting failed container=redis pod=cache_default\(/,
    );
    expect(backingOff.status.containerStatuses[0].restartCount).toBe(1);
    expect(condition(backingOff, 'Ready')).toBe('False');
    const events = (await c.call('GET', '/api/v1/namespaces/default/events')).json().items as any[];
    expect(events.map((e) => e.reason)).toEqual(expect.arrayContaining(['Scheduled', 'Created', 'Started', 'BackOff']));
  }, 60_000);

  it('deleting the Pod stops its process within the grace period', async () => {
    const pod = await waitFor(
      'cache running again',
      async () => {
        const p = await getPod('cache');
        return p.status?.containerStatuses?.[0]?.state?.running && p;
      },
      20_000,
    );
    const pid = await waitFor('redis-server listening', async () => pidsOf(`redis-server ${pod.status.podIP}:6379`)[0]);
    expect(processStartTime(pid)).toBeDefined();
    const t0 = Date.now();
    expect((await c.call('DELETE', '/api/v1/namespaces/default/pods/cache')).status).toBe(200);
    await waitFor('redis-server gone', async () => processStartTime(pid) === undefined, 10_000);
    expect(Date.now() - t0).toBeLessThan(5000);
    await node.idle();
  }, 40_000);
});
