// The controllers against a real control plane: `upm-engine controllers` as the service account
// of config/controllers (a token from `kubectl create token`, so kube's own RBAC decides with
// exactly what those manifests grant), kube-scheduler placing the Units' Pods on kwok nodes, the
// PersistentVolume controller binding their claims, and the API served by upm-engine behind
// kube-apiserver's aggregator. A UnitSet from examples/ must become Available, and scale.

import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { upmEngineCLI, repoRoot } from '../cluster/binaries.js';
import { defaultControllers, startRealCluster, tokenKubeconfig, type RealCluster } from '../cluster/cluster.js';

type Obj = Record<string, any>;

describe('upm-engine controllers on a real control plane with kwok nodes', () => {
  let cluster: RealCluster | undefined;
  let controllers: ChildProcess | undefined;
  let output = '';

  const ok = async (args: string[], input?: string): Promise<string> => {
    const r = await cluster!.kubectl('1.33', args, input === undefined ? {} : { input });
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.code}\n${r.stderr}`);
    return r.stdout;
  };
  const json = async (...args: string[]): Promise<Obj> => JSON.parse(await ok([...args, '-o', 'json']));
  async function eventually(what: string, cond: () => Promise<boolean>, timeoutMs = 90_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await cond())) {
      if (Date.now() > deadline) {
        const state = await cluster!.kubectl('1.33', ['get', 'unitsets,units,pods,pvc,pv', '-o', 'wide']);
        const us = await cluster!.kubectl('1.33', ['describe', 'pods', '-l', 'upm.io/unitset=orders-db']);
        throw new Error(
          `timed out waiting for ${what}\n${state.stdout}${state.stderr}\n${us.stdout.slice(-4000)}\ncontrollers:\n${output.slice(-3000)}`,
        );
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  beforeAll(async () => {
    cluster = await startRealCluster({
      nodes: 3,
      controllers: [
        ...defaultControllers,
        'persistentvolume-binder-controller',
        'persistentvolumeclaim-protection-controller',
        'persistentvolume-protection-controller',
      ],
    });
    // The API server taints new nodes not-ready; without heartbeats from kwok no node lifecycle
    // controller runs here to lift it once the nodes are Ready, so the test does.
    await ok(['taint', 'nodes', '--all', 'node.kubernetes.io/not-ready:NoSchedule-']);
    // upm-system exists: config/apiservice/ made it for the API server.
    for (const f of ['serviceaccount.yaml', 'rbac.yaml'])
      await ok(['apply', '-f', join(repoRoot, 'config/controllers', f)]);
    const token = (await ok(['create', 'token', 'upm-controllers', '-n', 'upm-system', '--duration=1h'])).trim();
    const kubeconfig = join(cluster.dir, 'controllers.kubeconfig');
    writeFileSync(kubeconfig, tokenKubeconfig(cluster.url, cluster.pki.ca.certPem, token), { mode: 0o600 });
    // Volumes for the claims: no provisioner runs here, so the claims bind to these (no class).
    const volumes = [0, 1, 2, 3, 4].map((i) => ({
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name: `pv-${i}` },
      spec: {
        capacity: { storage: '20Gi' },
        accessModes: ['ReadWriteOnce'],
        persistentVolumeReclaimPolicy: 'Retain',
        hostPath: { path: `/tmp/upm-real-pv-${i}` },
      },
    }));
    await ok(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: volumes }));
    controllers = spawn(
      process.execPath,
      [
        upmEngineCLI,
        'controllers',
        '--kubeconfig',
        kubeconfig,
        '--leader-election-namespace',
        'upm-system',
        '--health-probe-bind-address',
        '0',
        '--log-format',
        'json',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    controllers.stdout!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-200_000)));
    controllers.stderr!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-200_000)));
  }, 300_000);

  afterAll(async () => {
    if (controllers && controllers.exitCode === null) {
      const gone = new Promise((r) => controllers!.once('exit', r));
      controllers.kill('SIGTERM');
      await gone;
    }
    await cluster?.stop();
  }, 60_000);

  it('a MariaDB UnitSet from examples/ becomes Available with Pods on kwok nodes, then scales', async () => {
    await ok(['apply', '-f', join(repoRoot, 'examples/unittemplates/mariadb-community-10.11.8.yaml')]);
    await ok(['apply', '-f', join(repoRoot, 'examples/unitsets/mariadb.yaml')]);
    const available = async (units: number) => {
      const us = await json('get', 'unitset', 'orders-db');
      return (
        us['status']?.readyUnits === units &&
        us['status']?.conditions?.some((c: Obj) => c.type === 'Available' && c.status === 'True')
      );
    };
    await eventually('orders-db Available with 3 ready Units', () => available(3));
    const pods = (await json('get', 'pods', '-l', 'upm.io/unitset=orders-db'))['items'] as Obj[];
    expect(pods.map((p) => p['metadata'].name).sort()).toEqual(['orders-db-0', 'orders-db-1', 'orders-db-2']);
    for (const p of pods) expect(p['spec'].nodeName).toMatch(/^kwok-node-\d$/);
    // Preferred anti-affinity spread them over the three nodes.
    expect(new Set(pods.map((p) => p['spec'].nodeName)).size).toBe(3);
    const claims = (await json('get', 'pvc', '-l', 'upm.io/unitset=orders-db'))['items'] as Obj[];
    expect(claims.map((c) => c['status'].phase)).toEqual(['Bound', 'Bound', 'Bound']);
    // Events from the controllers reach the real API (events.k8s.io/v1).
    const events = await ok(['get', 'events', '--field-selector', 'involvedObject.name=orders-db']);
    expect(events).toMatch(/ScalingUp/);

    await ok(['scale', 'unitset', 'orders-db', '--replicas=5']);
    await eventually('5 ready Units', () => available(5));
    await ok(['scale', 'unitset', 'orders-db', '--replicas=2']);
    await eventually('2 ready Units and the others gone', async () => {
      const units = (await json('get', 'units', '-l', 'upm.io/unitset=orders-db'))['items'] as Obj[];
      return units.length === 2 && (await available(2));
    });
    expect(output).not.toMatch(/"statusCode":403|forbidden/i);
  }, 240_000);
});
