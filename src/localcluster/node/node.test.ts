// The node runtime against a server with the built-in kinds: real redis-server processes on
// loopback addresses (root on Linux; the CI runs as root).

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

  const createPod = async (name: string, spec: Record<string, unknown>) => {
    const res = await c.call('POST', '/api/v1/namespaces/default/pods', {
      body: { apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { terminationGracePeriodSeconds: 3, ...spec } },
    });
    expect(res.status).toBe(201);
    return res.json();
  };
  const logOf = (pod: any, container: string, attempt = 0) =>
    readFileSync(join(dataDir, 'pods', pod.metadata.uid, 'logs', container, `${attempt}.log`), 'utf8');

  it('runs init containers first, in order, sharing an emptyDir; the container sees what they wrote', async () => {
    const created = await createPod('init', {
      initContainers: [
        {
          name: 'first',
          image: 'redis:7',
          command: ['sh', '-c', 'echo one > /work/greeting'],
          volumeMounts: [{ name: 'work', mountPath: '/work' }],
        },
        {
          name: 'second',
          image: 'redis:7',
          command: ['sh', '-c', 'echo two >> /work/greeting'],
          volumeMounts: [{ name: 'work', mountPath: '/work' }],
        },
      ],
      containers: [
        {
          name: 'main',
          image: 'redis:7',
          command: ['sh', '-c', 'cat /work/greeting; exec redis-server --save "" --port 6380'],
          volumeMounts: [{ name: 'work', mountPath: '/work' }],
        },
      ],
      volumes: [{ name: 'work', emptyDir: {} }],
    });
    const pod = await waitFor('init Running', async () => {
      const p = await getPod('init');
      return (
        p.status?.phase === 'Running' && condition(p, 'Initialized') === 'True' && condition(p, 'Ready') === 'True' && p
      );
    });
    expect(pod.status.initContainerStatuses.map((s: any) => [s.name, s.state.terminated?.reason])).toEqual([
      ['first', 'Completed'],
      ['second', 'Completed'],
    ]);
    await waitFor(
      'the greeting in the log',
      async () => logOf(created, 'main').includes('one') && logOf(created, 'main').includes('two'),
    );
    expect((await c.call('DELETE', '/api/v1/namespaces/default/pods/init')).status).toBe(200);
  }, 30_000);

  it('a failing liveness probe kills the container with a Killing event and it is restarted', async () => {
    const created = await createPod('alive', {
      containers: [
        {
          name: 'redis',
          image: 'redis:7',
          args: ['--save', ''],
          livenessProbe: {
            exec: { command: ['sh', '-c', 'test ! -e /flags/dead'] },
            periodSeconds: 1,
            failureThreshold: 1,
          },
          volumeMounts: [{ name: 'flags', mountPath: '/flags' }],
        },
      ],
      volumes: [{ name: 'flags', emptyDir: {} }],
    });
    await waitFor('alive running', async () => (await getPod('alive')).status?.containerStatuses?.[0]?.state?.running);
    writeFileSync(join(dataDir, 'pods', created.metadata.uid, 'volumes', 'flags', 'dead'), '');
    await waitFor('a restart', async () => (await getPod('alive')).status?.containerStatuses?.[0]?.restartCount === 1);
    rmSync(join(dataDir, 'pods', created.metadata.uid, 'volumes', 'flags', 'dead'));
    const about = await waitFor('the Killing event', async () => {
      const events = (await c.call('GET', '/api/v1/namespaces/default/events')).json().items as any[];
      const mine = events.filter((e) => e.involvedObject.name === 'alive');
      return mine.some((e) => e.reason === 'Killing') && mine;
    });
    expect(about.map((e: any) => [e.reason, e.message])).toEqual(
      expect.arrayContaining([
        ['Unhealthy', 'Liveness probe failed: '],
        ['Killing', 'Container redis failed liveness probe, will be restarted'],
      ]),
    );
    // redis-server ends cleanly on SIGTERM, as it would under a kubelet.
    const s = (await getPod('alive')).status.containerStatuses[0];
    expect(s.lastState.terminated).toMatchObject({ exitCode: 0, reason: 'Completed' });
    expect((await c.call('DELETE', '/api/v1/namespaces/default/pods/alive')).status).toBe(200);
  }, 30_000);

  it('restartPolicy: Never ends Failed, OnFailure ends Succeeded; the termination message is reported', async () => {
    await createPod('never', {
      restartPolicy: 'Never',
      containers: [
        { name: 'job', image: 'redis:7', command: ['sh', '-c', 'echo broken > /dev/termination-log; exit 3'] },
      ],
    });
    await createPod('onfailure', {
      restartPolicy: 'OnFailure',
      containers: [{ name: 'job', image: 'redis:7', command: ['sh', '-c', 'exit 0'] }],
    });
    const failed = await waitFor('never Failed', async () => {
      const p = await getPod('never');
      return p.status?.phase === 'Failed' && p;
    });
    expect(failed.status.containerStatuses[0].state.terminated).toMatchObject({
      exitCode: 3,
      reason: 'Error',
      message: 'broken\n',
    });
    expect(failed.status.containerStatuses[0].restartCount).toBe(0);
    const done = await waitFor('onfailure Succeeded', async () => {
      const p = await getPod('onfailure');
      return p.status?.phase === 'Succeeded' && p;
    });
    expect(condition(done, 'Ready')).toBe('False');
    for (const name of ['never', 'onfailure'])
      expect((await c.call('DELETE', `/api/v1/namespaces/default/pods/${name}`)).status).toBe(200);
  }, 30_000);

  it('a missing ConfigMap key is CreateContainerConfigError; a command that does not exist is a StartError', async () => {
    await createPod('badconfig', {
      containers: [
        {
          name: 'redis',
          image: 'redis:7',
          env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'nothing', key: 'k' } } }],
        },
      ],
    });
    await createPod('badcommand', { containers: [{ name: 'redis', image: 'redis:7', command: ['no-such-server'] }] });
    const bad = await waitFor('CreateContainerConfigError', async () => {
      const p = await getPod('badconfig');
      return p.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'CreateContainerConfigError' && p;
    });
    expect(bad.status.containerStatuses[0].state.waiting.message).toBe('configmap "nothing" not found');
    const start = await waitFor('StartError', async () => {
      const p = await getPod('badcommand');
      const s = p.status?.containerStatuses?.[0];
      return (s?.state?.terminated?.reason === 'StartError' || s?.lastState?.terminated?.reason === 'StartError') && s;
    });
    const t = start.state.terminated ?? start.lastState.terminated;
    expect(t).toMatchObject({ exitCode: 128, message: 'exec: "no-such-server": executable file not found in $PATH' });
    for (const name of ['badconfig', 'badcommand'])
      expect((await c.call('DELETE', `/api/v1/namespaces/default/pods/${name}`)).status).toBe(200);
  }, 30_000);

  it('containers of unknown images in a Pod it runs are simulated, and say so', async () => {
    await createPod('mixed', {
      containers: [
        { name: 'redis', image: 'redis:7', args: ['--save', ''] },
        { name: 'agent', image: 'example.com/agent:1' },
      ],
    });
    const pod = await waitFor('mixed Ready', async () => {
      const p = await getPod('mixed');
      return condition(p, 'Ready') === 'True' && p;
    });
    expect(pod.status.containerStatuses.map((s: any) => s.name)).toEqual(['agent', 'redis']);
    expect(pod.status.containerStatuses[0].containerID).toMatch(/^simulated:\/\//);
    const simulated = await waitFor('the Simulated event', async () => {
      const events = (await c.call('GET', '/api/v1/namespaces/default/events')).json().items as any[];
      return events.find((e) => e.involvedObject.name === 'mixed' && e.reason === 'Simulated');
    });
    expect(simulated.message).toBe(
      'Container agent is simulated, no process runs: image "example.com/agent:1" is not in this node\'s image table',
    );
    expect((await c.call('DELETE', '/api/v1/namespaces/default/pods/mixed')).status).toBe(200);
  }, 30_000);

  it('enforces memory limits with a cgroup and reports an OOM kill as OOMKilled', async () => {
    if (!node.cgroups.enforced) return;
    await createPod('hungry', {
      restartPolicy: 'Never',
      containers: [
        {
          name: 'eat',
          image: 'redis:7',
          command: ['sh', '-c', 'x=$(head -c 300000000 /dev/zero | tr "\\0" a); echo survived'],
          resources: { limits: { memory: '64Mi' } },
        },
      ],
    });
    const pod = await waitFor(
      'hungry Failed',
      async () => {
        const p = await getPod('hungry');
        return p.status?.phase === 'Failed' && p;
      },
      30_000,
    );
    expect(pod.status.containerStatuses[0].state.terminated).toMatchObject({ reason: 'OOMKilled', exitCode: 137 });
    expect(readdirSync(node.cgroups.root).filter((n) => n.startsWith(pod.metadata.uid))).toEqual([]);
    expect((await c.call('DELETE', '/api/v1/namespaces/default/pods/hungry')).status).toBe(200);
  }, 40_000);

  it('a container that listens on every address is stopped and says why', async () => {
    await createPod('greedy', {
      restartPolicy: 'Never',
      containers: [
        { name: 'redis', image: 'redis:7', command: ['/usr/bin/redis-server', '--port', '6391', '--save', ''] },
      ],
    });
    const pod = await waitFor(
      'greedy Failed',
      async () => {
        const p = await getPod('greedy');
        return p.status?.phase === 'Failed' && p;
      },
      15_000,
    );
    expect(pod.status.containerStatuses[0].state.terminated.message).toMatch(
      /^listens on 0\.0\.0\.0:6391, which takes port 6391 on every Pod's address of this node/,
    );
    expect(await redis('127.0.0.1', ['PING']).catch((e: Error) => e.message)).not.toBe('+PONG');
    expect((await c.call('DELETE', '/api/v1/namespaces/default/pods/greedy')).status).toBe(200);
  }, 30_000);
});
