// `upm-engine node` attached to a real control plane (test/cluster: kube-apiserver, etcd,
// kube-controller-manager, kube-scheduler): the real scheduler binds a redis Pod to it, the node
// runs a real redis-server, kube-apiserver proxies kubectl logs to the node's endpoint, the
// ServiceAccount admission's projected token volume is mounted. kubectl exec does not work through
// kube-apiserver: it turns the WebSocket into SPDY towards kubelets, which this node does not speak.
// Root on Linux only.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultControllers, startRealCluster, type RealCluster } from '../cluster/cluster.js';
import { upmEngineCLI } from '../cluster/binaries.js';
import { waitFor } from './harness.js';

type Obj = Record<string, any>;
const isRoot = process.platform === 'linux' && process.getuid?.() === 0;
const describeIfRoot = isRoot ? describe : describe.skip;

function processesUnder(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readlinkSync(`/proc/${entry}/root`).startsWith(dir)) pids.push(Number(entry));
    } catch {
      // gone
    }
  }
  return pids;
}

function ping(host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port: 6379 });
    s.setTimeout(2000, () => s.destroy(new Error('timeout')));
    s.on('error', reject);
    s.on('connect', () => s.write('PING\r\n'));
    s.on('data', (d) => {
      s.destroy();
      resolve(d.toString().trim());
    });
  });
}

describeIfRoot('upm-engine node against a real control plane', () => {
  let cluster: RealCluster;
  let node: ChildProcess | undefined;
  let dataDir: string;
  let nodeLog = '';

  beforeAll(async () => {
    // The node lifecycle controller lifts the not-ready taint a new Node is registered with.
    cluster = await startRealCluster({ controllers: [...defaultControllers, 'node-lifecycle-controller'] });
    dataDir = mkdtempSync(join(tmpdir(), 'upm-node-real-'));
    node = spawn(
      process.execPath,
      [
        upmEngineCLI,
        'node',
        '--kubeconfig',
        cluster.kubeconfig,
        '--node-name',
        'upm-node',
        '--data-dir',
        dataDir,
        '--pod-cidr',
        '127.84.0.0/16',
        '--kubelet-port',
        '0',
        '--log-format',
        'json',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    node.stderr!.on('data', (d: Buffer) => (nodeLog += d.toString()));
  }, 180_000);
  afterAll(async () => {
    if (node && node.exitCode === null) {
      const exited = new Promise((r) => node!.once('exit', r));
      node.kill('SIGTERM');
      const timer = setTimeout(() => node!.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    }
    const left = dataDir ? processesUnder(dataDir) : [];
    await cluster?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    expect(left).toEqual([]);
  }, 120_000);

  const k = async (args: string[], input?: string) => {
    const r = await cluster.kubectl('1.33', args, input === undefined ? {} : { input });
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}):\n${r.stderr}`);
    return r.stdout;
  };

  it('the real scheduler binds a redis Pod to the node; it runs with its service account token, and kubectl logs reach it', async () => {
    await waitFor(
      'upm-node Ready',
      async () =>
        (await cluster.kubectl('1.33', ['get', 'node', 'upm-node', '--no-headers'])).stdout.includes(' Ready'),
      30_000,
    );
    const t0 = Date.now();
    await k(
      ['create', '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'cache' },
        spec: {
          containers: [
            {
              name: 'redis',
              image: 'redis:7',
              command: ['sh', '-c'],
              args: ['cat /var/run/secrets/kubernetes.io/serviceaccount/namespace; echo; exec redis-server --save ""'],
              readinessProbe: { exec: { command: ['redis-cli', 'ping'] }, periodSeconds: 1 },
            },
          ],
        },
      }),
    );
    try {
      await waitFor(
        'cache Ready',
        async () => (await cluster.kubectl('1.33', ['get', 'pod', 'cache', '--no-headers'])).stdout.includes('1/1'),
        60_000,
      );
    } catch (err) {
      const pod = await cluster.kubectl('1.33', ['describe', 'pod', 'cache']);
      throw new Error(`${(err as Error).message}\n${pod.stdout}\n${nodeLog.slice(-4000)}`);
    }
    const readyMs = Date.now() - t0;
    const pod = JSON.parse(await k(['get', 'pod', 'cache', '-o', 'json'])) as Obj;
    expect(pod['spec'].nodeName).toBe('upm-node');
    expect(pod['status'].podIP).toMatch(/^127\.84\./);
    expect(await ping(pod['status'].podIP)).toBe('+PONG');
    // kube-apiserver's ServiceAccount admission added the projected token volume; it is there.
    expect((pod['spec'].volumes as Obj[]).some((v) => v['projected'])).toBe(true);
    const logs = await k(['logs', 'cache']);
    expect(logs.split('\n')[0]).toBe('default');
    expect(logs).toContain('Ready to accept connections');
    const exec = await cluster.kubectl('1.33', ['exec', 'cache', '--', 'redis-cli', 'ping']);
    expect(exec.code).not.toBe(0);
    const events = await k(['get', 'events', '--field-selector', 'involvedObject.name=cache', '-o', 'json']);
    const reasons = (JSON.parse(events).items as Obj[]).map(
      (e) => `${e['reportingComponent'] || e['source']?.component}/${e['reason']}`,
    );
    expect(reasons).toEqual(expect.arrayContaining(['default-scheduler/Scheduled', 'kubelet/Started']));
    process.stdout.write(`real control plane: redis:7 Pod Ready on upm-node ${readyMs} ms after kubectl create\n`);
    await k(['delete', 'pod', 'cache', '--timeout=30s']);
    await waitFor('redis gone', async () => processesUnder(dataDir).length === 0, 10_000);
  }, 120_000);
});
