// A second reference client: test/clientgo, a Go program using client-go v0.34 (discovery, the
// dynamic and metadata clients, a shared informer resuming its watches, server-side apply,
// retry.RetryOnConflict), run against upm.io four ways: through the local control plane's
// aggregation layer and directly (`upm-engine local --standalone`), through the real
// kube-apiserver's aggregator and directly (test/cluster). It prints `ok <check>` per check and
// exits 0, or names the check that failed. The same checks pass against kube-apiserver serving
// a CustomResourceDefinition with UnitSet's schema: they hold Kubernetes' behaviour, not ours.

import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unitSetDefinition } from '../../src/api/unitset.js';
import { startRealCluster, type RealCluster } from '../cluster/cluster.js';
import { crdOf } from '../cluster/crd.js';
import { cleanup, controlPlanes, repoRoot, startEngine, waitFor, type Engine } from './harness.js';

/** Every check of test/clientgo, in the order it runs them: none may be skipped. */
const checks = [
  'discovery-aggregated',
  'discovery-legacy',
  'discovery-preferred-resources',
  'rest-mapper',
  'openapi-v3',
  'dynamic-create-get',
  'dynamic-list-label-selector',
  'dynamic-update',
  'dynamic-merge-patch',
  'dynamic-json-patch',
  'dynamic-delete',
  'metadata-client',
  'informer-list-watch-resume',
  'informer-watch-list',
  'server-side-apply',
  'server-side-apply-conflict-force',
  'retry-on-conflict',
];

// A cold build (empty module and build caches: client-go's modules are downloaded from the
// proxy, then compiled) takes a few minutes on 2 cores; with Go's build cache warm, seconds.
const buildTimeoutMs = 10 * 60_000;
const runTimeoutMs = 120_000;

const crdGroup = 'crd.upm.io';

const buildDir = mkdtempSync(join(tmpdir(), 'upm-clientgo-'));
const binary = join(buildDir, 'upm-clientgo');

function build(): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(
      'go',
      ['build', '-o', binary, '.'],
      {
        cwd: join(repoRoot, 'test/clientgo'),
        env: { ...process.env, CGO_ENABLED: '0' },
        timeout: buildTimeoutMs,
        killSignal: 'SIGKILL',
      },
      (err, _stdout, stderr) => {
        if (err)
          reject(
            new Error(
              `go build of test/clientgo failed (Go is needed, as for hack/kubernetes): ${err.message}\n${stderr}`,
            ),
          );
        else resolve();
      },
    );
  });
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the program; never rejects (the exit code and output are the result). */
function runClientGo(kubeconfig: string, extraArgs: string[] = []): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(binary, ['--kubeconfig', kubeconfig, '--namespace', 'default', ...extraArgs], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), runTimeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      resolve({ code: null, stdout, stderr: `${stderr}${err.message}` });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Every check passed: the output names them all, in order; on failure the output is the message. */
async function expectAllChecks(run: Promise<Run>): Promise<void> {
  const r = await run;
  const lines = r.stdout.split('\n').filter((l) => l !== '');
  if (r.code !== 0) throw new Error(`upm-clientgo exited with ${r.code}:\n${r.stdout}\nstderr:\n${r.stderr}`);
  expect(lines).toEqual(checks.map((c) => `ok ${c}`));
}

beforeAll(build, buildTimeoutMs + 10_000);
afterAll(() => rmSync(buildDir, { recursive: true, force: true }));

// UPM_E2E_CONTROL_PLANES selects the control planes, as for the other e2e suites.
const planes = controlPlanes();

(planes.includes('local') ? describe : describe.skip)('client-go against upm-engine local', () => {
  let aggregated: Engine | undefined;
  let standalone: Engine | undefined;
  let runs: { aggregated: Promise<Run>; direct: Promise<Run> };

  beforeAll(async () => {
    // Settled, not Promise.all: an engine that started is stopped by afterAll even if the other failed.
    const started = await Promise.allSettled([startEngine(), startEngine({ extraArgs: ['--standalone'] })]);
    [aggregated, standalone] = started.map((s) => (s.status === 'fulfilled' ? s.value : undefined));
    for (const s of started) if (s.status === 'rejected') throw s.reason;
    // Both programs run at once (about 20 s each, mostly waiting for the server to end watches).
    runs = { aggregated: runClientGo(aggregated!.kubeconfig), direct: runClientGo(standalone!.kubeconfig) };
  }, 60_000);

  afterAll(async () => {
    await Promise.all([runs?.aggregated, runs?.direct]);
    for (const e of [aggregated, standalone]) {
      await e?.stop();
      if (e) cleanup(e);
    }
  }, 30_000);

  it('passes every check through the local control plane (its aggregation layer proxies upm.io)', async () => {
    await expectAllChecks(runs.aggregated);
  }, 90_000);

  it('passes every check against the upm.io server directly (--standalone)', async () => {
    await expectAllChecks(runs.direct);
  }, 90_000);
});

(planes.includes('real') ? describe : describe.skip)('client-go against a real control plane', () => {
  let cluster: RealCluster | undefined;
  let runs: { aggregated: Promise<Run>; direct: Promise<Run>; crd: Promise<Run> };

  beforeAll(async () => {
    cluster = await startRealCluster();
    const crd = crdOf(unitSetDefinition, crdGroup);
    for (const args of [
      ['apply', '--server-side', '-f', '-'],
      ['wait', '--for=condition=Established', `crd/${crd['metadata'].name}`, '--timeout=60s'],
    ]) {
      const r = await cluster.kubectl('1.33', args, { input: JSON.stringify(crd) });
      if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed: ${r.stderr}`);
    }
    // kube-apiserver publishes a new CRD's OpenAPI v3 document a moment after it is Established.
    await waitFor(
      `/openapi/v3 to list apis/${crdGroup}/v1alpha1`,
      async () =>
        (await cluster!.kubectl('1.33', ['get', '--raw', '/openapi/v3'])).stdout.includes(`apis/${crdGroup}/v1alpha1`),
      30_000,
    );
    runs = {
      aggregated: runClientGo(cluster.kubeconfig),
      direct: runClientGo(cluster.upmKubeconfig),
      // crdOf leaves the short name to the aggregated kind.
      crd: runClientGo(cluster.kubeconfig, ['--group', crdGroup, '--short-name', '']),
    };
  }, 180_000);

  afterAll(async () => {
    await Promise.all([runs?.aggregated, runs?.direct, runs?.crd]);
    await cluster?.stop();
  }, 60_000);

  it("passes every check through kube-apiserver's aggregator", async () => {
    await expectAllChecks(runs.aggregated);
  }, 90_000);

  it('passes every check against the upm.io server directly', async () => {
    await expectAllChecks(runs.direct);
  }, 90_000);

  it("passes every check against a CRD with UnitSet's schema served by kube-apiserver (the oracle)", async () => {
    await expectAllChecks(runs.crd);
  }, 90_000);
});
