// Tesseract Cube under faults, with the controllers in their own processes (`upm-engine
// controllers`) against `upm-engine local --controllers=false`, as on a cluster: two managers
// never both lead, a manager killed mid-rollout is replaced by one that finishes it without
// replacing an updated Unit twice, a restarted API server (every watch lost) does not stop
// reconciliation, and a failed Pod is recovered.

import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { issueClientCert } from '../../src/pki/certs.js';
import { buildKubeconfig } from '../../src/pki/kubeconfig.js';
import { cleanup, cliPath, kubectlHelpers, repoRoot, startEngine, waitFor, type Engine } from './harness.js';

let engine: Engine;
const managers: { proc: ChildProcess; output: () => string }[] = [];

const { ok, json } = kubectlHelpers(() => engine);

/** Short lease timings make takeovers quick; `patient` ones (kube's defaults) outlast an API server restart. */
function startManager(timings: 'quick' | 'patient' = 'quick'): { proc: ChildProcess; output: () => string } {
  const lease = timings === 'quick' ? ['3s', '2s', '500ms'] : ['15s', '10s', '2s'];
  const proc = spawn(
    process.execPath,
    [
      cliPath,
      'controllers',
      '--kubeconfig',
      controllersKubeconfig,
      '--leader-election-namespace',
      'upm-system',
      '--leader-elect-lease-duration',
      lease[0],
      '--leader-elect-renew-deadline',
      lease[1],
      '--leader-elect-retry-period',
      lease[2],
      '--health-probe-bind-address',
      '0',
      '--log-format',
      'json',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const m = { proc, output: () => out };
  managers.push(m);
  return m;
}

async function kill9(m: { proc: ChildProcess }) {
  if (m.proc.exitCode !== null || m.proc.signalCode !== null) return;
  const exited = new Promise((r) => m.proc.once('exit', r));
  m.proc.kill('SIGKILL');
  await exited;
}

const identityOf = (m: { proc: ChildProcess }) => new RegExp(`_${m.proc.pid}$`);
const leaseHolder = async () =>
  String((await json('get', 'lease', '-n', 'upm-system', 'upm-engine-controllers')).spec?.holderIdentity ?? '');
const leads = (m: { output: () => string }) => m.output().includes('"msg":"became leader"');

async function podUIDs(): Promise<Record<string, string>> {
  const pods = (await json('get', 'pods', '-l', 'upm.io/unitset=faults-db')).items as any[];
  return Object.fromEntries(
    pods.filter((p) => !p.metadata.deletionTimestamp).map((p) => [p.metadata.name, p.metadata.uid]),
  );
}

async function readyUnits(n: number, timeoutMs = 30_000) {
  await waitFor(
    `${n} ready and updated Units`,
    async () => {
      const us = await json('get', 'us', 'faults-db');
      const s = us.status ?? {};
      return (
        s.observedGeneration === us.metadata.generation && s.readyUnits === n && s.updatedUnits === n && s.units === n
      );
    },
    timeoutMs,
  );
}

const unitSet = `apiVersion: upm.io/v1alpha1
kind: UnitSet
metadata: {name: faults-db}
spec:
  type: mariadb
  version: 10.11.8
  units: 3
  storage:
    volumes: [{name: data, size: 1Gi}]
`;

let controllersKubeconfig: string;

/**
 * The controllers act as the service account of config/controllers, with exactly the RBAC those
 * manifests grant (a client certificate naming that account, since no Pod mounts a token here):
 * if the manifests missed a permission the controllers need, these tests fail.
 */
function serviceAccountKubeconfig(): string {
  const pki = join(engine.dataDir, 'pki');
  const ca = { certPem: readFileSync(join(pki, 'ca.crt'), 'utf8'), keyPem: readFileSync(join(pki, 'ca.key'), 'utf8') };
  const sa = issueClientCert(ca, {
    commonName: 'system:serviceaccount:upm-system:upm-controllers',
    organizations: ['system:serviceaccounts', 'system:serviceaccounts:upm-system', 'system:authenticated'],
  });
  const path = join(engine.dataDir, 'controllers.kubeconfig');
  writeFileSync(
    path,
    buildKubeconfig({
      clusterName: 'local',
      server: engine.url,
      caPem: ca.certPem,
      user: 'upm-controllers',
      clientCertPem: sa.certPem,
      clientKeyPem: sa.keyPem,
    }),
  );
  return path;
}

beforeAll(async () => {
  engine = await startEngine({ extraArgs: ['--simulate-pods-only'] });
  await ok('apply', '-f', join(repoRoot, 'examples/unittemplates/mariadb-community-10.11.8.yaml'));
  await engine.kubectl('1.33', ['apply', '-f', '-'], {
    input: '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"upm-system"}}',
  });
  await ok('apply', '-f', join(repoRoot, 'config/controllers/serviceaccount.yaml'));
  await ok('apply', '-f', join(repoRoot, 'config/controllers/rbac.yaml'));
  controllersKubeconfig = serviceAccountKubeconfig();
}, 60_000);

afterAll(async () => {
  for (const m of managers) await kill9(m);
  await engine?.stop();
  if (engine) cleanup(engine);
});

describe('controllers in their own processes', () => {
  it('two managers started together: exactly one leads, and the other takes over when it dies', async () => {
    const a = startManager();
    const b = startManager();
    await waitFor('a leader', async () => leads(a) || leads(b), 20_000);
    const [leader, standby] = leads(a) ? [a, b] : [b, a];
    expect(await leaseHolder()).toMatch(identityOf(leader));
    await engine.kubectl('1.33', ['apply', '-f', '-'], { input: unitSet });
    await readyUnits(3);
    expect(leads(standby)).toBe(false);
    await kill9(leader);
    await waitFor('the standby to lead', async () => leads(standby), 15_000);
    expect(await leaseHolder()).toMatch(identityOf(standby));
    // And it acts: a scale-up is carried out by the new leader.
    await ok('scale', 'us/faults-db', '--replicas=4');
    await readyUnits(4);
    await ok('scale', 'us/faults-db', '--replicas=3');
    await readyUnits(3);
  });

  it('a manager killed mid-rollout is replaced by one that finishes it, replacing no updated Unit twice', async () => {
    const seen = new Map<string, Set<string>>();
    const record = async () => {
      for (const [name, uid] of Object.entries(await podUIDs())) {
        if (!seen.has(name)) seen.set(name, new Set());
        seen.get(name)!.add(uid);
      }
    };
    await record();
    let polling = true;
    const poller = (async () => {
      while (polling) {
        await record().catch(() => undefined);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    try {
      await ok(
        'patch',
        'ut/mariadb-community-10.11.8',
        '--type=json',
        '-p',
        '[{"op":"replace","path":"/spec/podTemplate/spec/containers/0/image","value":"mariadb:10.11.9"}]',
      );
      await waitFor('the first Pod replaced', async () => [...seen.values()].some((s) => s.size > 1), 20_000);
      for (const m of managers) await kill9(m);
      startManager();
      await waitFor(
        'every Pod on the new image',
        async () => {
          const pods = (await json('get', 'pods', '-l', 'upm.io/unitset=faults-db')).items as any[];
          return (
            pods.length === 3 &&
            pods.every(
              (p) =>
                !p.metadata.deletionTimestamp &&
                p.spec.containers.find((c: any) => c.name === 'mariadb').image === 'mariadb:10.11.9',
            )
          );
        },
        40_000,
      );
      await readyUnits(3);
    } finally {
      polling = false;
      await poller;
    }
    for (const [name, uids] of seen) expect([name, uids.size]).toEqual([name, 2]);
  });

  it('keeps reconciling after the API server restarts (every watch lost)', async () => {
    for (const m of managers) await kill9(m);
    const manager = startManager('patient');
    await waitFor('the patient manager to lead', async () => leads(manager), 25_000);
    await engine.stop('SIGTERM');
    engine = await startEngine({ dataDir: engine.dataDir, port: engine.port, extraArgs: ['--simulate-pods-only'] });
    await ok('scale', 'us/faults-db', '--replicas=4');
    await readyUnits(4, 40_000).catch((err) => {
      throw new Error(
        `${err.message}\n${manager.output().split('\n').slice(-15).join('\n')}\n${engine.logs().slice(-3000)}`,
      );
    });
    expect(Object.keys(await podUIDs()).sort()).toEqual(['faults-db-0', 'faults-db-1', 'faults-db-2', 'faults-db-3']);
  });

  it('recovers a Pod that failed, after the Unit failedPodRecovery delay', async () => {
    await ok('patch', 'unit', 'faults-db-1', '--type=merge', '-p', '{"spec":{"failedPodRecovery":{"delaySeconds":1}}}');
    const before = (await podUIDs())['faults-db-1'];
    await ok(
      'patch',
      'pod',
      'faults-db-1',
      '--subresource=status',
      '--type=merge',
      '-p',
      '{"status":{"phase":"Failed","reason":"Evicted","message":"The node was low on resource: memory."}}',
    );
    await waitFor(
      'a new Pod for faults-db-1',
      async () => {
        const now = (await podUIDs())['faults-db-1'];
        return now !== undefined && now !== before;
      },
      20_000,
    );
    await readyUnits(4);
    const events = await ok('get', 'events', '--field-selector', 'involvedObject.name=faults-db-1');
    expect(events).toMatch(/Recreating.*phase Failed/);
  });

  it('pins each Unit to the node its Pod first ran on; a recreated Pod must go back there', async () => {
    // faults-db-1 was recreated by the previous test: its new Pod carries the pin of the first one.
    const unit = await json('get', 'unit', 'faults-db-1');
    const pod = await json('get', 'pod', 'faults-db-1');
    expect(unit.spec.pinnedNode).toMatch(/^node-[123]$/);
    expect(pod.spec.nodeName).toBe(unit.spec.pinnedNode);
    const terms = pod.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms;
    for (const t of terms)
      expect(t.matchExpressions).toContainEqual({
        key: 'kubernetes.io/hostname',
        operator: 'In',
        values: [unit.spec.pinnedNode],
      });
    // Opting out on the UnitSet unpins its Units.
    await ok('patch', 'unitset', 'faults-db', '--type=merge', '-p', '{"spec":{"scheduling":{"pinToNode":false}}}');
    await waitFor(
      'Units unpinned',
      async () =>
        ((await json('get', 'units', '-l', 'upm.io/unitset=faults-db')).items as any[]).every(
          (u) => !u.spec.pinnedNode,
        ),
      20_000,
    );
  });
});
