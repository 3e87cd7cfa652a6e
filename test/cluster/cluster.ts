// A real Kubernetes control plane on loopback, in a temporary directory, for the real-cluster
// tests: etcd, kube-apiserver (RBAC, service accounts, the aggregation layer with its own
// front-proxy CA), kube-controller-manager, kube-scheduler, kwok for fake nodes, and
// `upm-engine apiserver` (dist/) registered through an APIService, set up from
// config/apiservice/ as a user would, as far as a process outside a Pod can be:
//
// - the namespace, service account and RBAC manifests are applied unchanged;
// - the server runs with a token of its service account (`kubectl create token`) as
//   --authentication-kubeconfig and --authorization-kubeconfig, so it reads
//   kube-system/extension-apiserver-authentication and sends SubjectAccessReviews with exactly
//   the permissions config/apiservice grants it;
// - its Service becomes `type: ExternalName` to 127.0.0.1 (Endpoints reject loopback addresses;
//   the aggregator resolves an ExternalName Service to https://<externalName>:<APIService port>),
//   and the APIService gets the serving CA as caBundle (what hack/gen-certs.sh's overlay does).
//   The serving certificate is for <service>.<namespace>.svc, the name the aggregator verifies.
// The Deployment, PVC and PodDisruptionBudget are not applied: the server runs as a process.

import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { buildKubeconfig } from '../../src/pki/index.js';
import { controlPlaneBinaries, repoRoot, upmEngineCLI } from './binaries.js';
import { runKubectl, type KubectlOptions, type KubectlResult } from './kubectl.js';
import { createControlPlanePKI, upmServiceName, upmServiceNamespace, type ControlPlanePKI } from './pki.js';
import { freePorts, startComponent, waitReady, type Component } from './process.js';

/** kube-controller-manager's controllers the tests rely on (the rest stay off to spare CPU). */
export const defaultControllers = [
  'garbage-collector-controller',
  'namespace-controller',
  'endpointslice-controller',
  'serviceaccount-controller',
  'serviceaccount-token-controller',
  'clusterrole-aggregation-controller',
  'root-ca-certificate-publisher-controller',
];

/** Manifests of config/apiservice/ applied unchanged. */
const applied = [
  'namespace.yaml',
  'serviceaccount.yaml',
  'auth-delegator.yaml',
  'auth-reader.yaml',
  'rbac.yaml',
  'aggregate-roles.yaml',
];

export interface RealClusterOptions {
  controllers?: string[];
  /** Fake nodes managed by kwok (named kwok-node-<i>), Ready before startRealCluster returns. */
  nodes?: number;
  /**
   * Give `upm-engine apiserver` --kubeconfig (its service account token for kube-apiserver), so
   * the cluster's admission webhooks and ValidatingAdmissionPolicies apply to upm.io writes.
   */
  admission?: boolean;
}

export interface RealCluster {
  dir: string;
  kubeVersion: string;
  /** kube-apiserver's URL. */
  url: string;
  /** Admin (system:masters) kubeconfig for kube-apiserver. */
  kubeconfig: string;
  /** kubectl's --cache-dir (discovery and OpenAPI caches), private to this cluster. */
  cacheDir: string;
  /** The upm.io server's own URL (the APIService points the aggregator at it). */
  upmURL: string;
  /** Admin kubeconfig for the upm.io server directly, bypassing the aggregator. */
  upmKubeconfig: string;
  pki: ControlPlanePKI;
  components: Component[];
  /** Runs kubectl (version e.g. '1.33') as cluster admin. */
  kubectl(version: string, args: string[], opts?: KubectlOptions): Promise<KubectlResult>;
  /** Stops every process (reverse start order) and removes the directory. */
  stop(): Promise<void>;
}

export async function startRealCluster(opts: RealClusterOptions = {}): Promise<RealCluster> {
  const bins = controlPlaneBinaries();
  if (!existsSync(upmEngineCLI)) throw new Error(`${upmEngineCLI} is missing: run npm run build first`);
  const dir = mkdtempSync(join(tmpdir(), 'upm-real-cluster-'));
  const logDir = join(dir, 'logs');
  mkdirSync(logDir);
  const cacheDir = join(dir, 'kubectl-cache');
  const components: Component[] = [];
  const start = (name: string, command: string, args: string[], env?: NodeJS.ProcessEnv) => {
    const c = startComponent(name, command, args, logDir, env);
    components.push(c);
    return c;
  };
  const stop = async () => {
    for (const c of [...components].reverse()) await c.stop();
    if (!process.env['UPM_KEEP_CLUSTER']) rmSync(dir, { recursive: true, force: true });
  };

  try {
    const pki = createControlPlanePKI(join(dir, 'pki'));
    const [etcdPort, etcdPeerPort, apiPort, kcmPort, schedPort, kwokPort, upmPort] = await freePorts(7);
    const url = `https://127.0.0.1:${apiPort}`;
    const kubeconfigFor = (name: string, id: { certPem: string; keyPem: string }) => {
      const file = join(dir, `${name}.kubeconfig`);
      const text = buildKubeconfig({
        clusterName: 'real',
        server: url,
        caPem: pki.ca.certPem,
        user: name,
        clientCertPem: id.certPem,
        clientKeyPem: id.keyPem,
      });
      writeFileSync(file, text, { mode: 0o600 });
      return file;
    };
    const kubeconfig = kubeconfigFor('admin', pki.admin);

    const etcdURL = `http://127.0.0.1:${etcdPort}`;
    const etcd = start('etcd', bins.path('etcd'), [
      '--name=default',
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=${etcdURL}`,
      `--advertise-client-urls=${etcdURL}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
      `--initial-cluster=default=http://127.0.0.1:${etcdPeerPort}`,
      '--unsafe-no-fsync=true',
      '--log-level=warn',
    ]);
    await waitReady(etcd, async () => (await httpStatus(`${etcdURL}/health`)) === 200, 30_000);

    const apiserver = start('kube-apiserver', bins.path('kube-apiserver'), [
      `--etcd-servers=${etcdURL}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      `--cert-dir=${join(dir, 'kube-apiserver')}`,
      `--tls-cert-file=${pki.apiserver.cert}`,
      `--tls-private-key-file=${pki.apiserver.key}`,
      `--client-ca-file=${pki.ca.files.cert}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${pki.serviceAccountPublicKey}`,
      `--service-account-signing-key-file=${pki.serviceAccountKey}`,
      '--service-cluster-ip-range=10.0.0.0/24',
      '--authorization-mode=Node,RBAC',
      '--allow-privileged=true',
      `--requestheader-client-ca-file=${pki.frontProxyCA.files.cert}`,
      '--requestheader-allowed-names=front-proxy-client',
      '--requestheader-username-headers=X-Remote-User',
      '--requestheader-group-headers=X-Remote-Group',
      '--requestheader-extra-headers-prefix=X-Remote-Extra-',
      `--proxy-client-cert-file=${pki.frontProxyClient.cert}`,
      `--proxy-client-key-file=${pki.frontProxyClient.key}`,
      // Who kube-apiserver is to kubelets (pods/log, pods/exec): a system:masters client.
      `--kubelet-client-certificate=${pki.admin.files.cert}`,
      `--kubelet-client-key=${pki.admin.files.key}`,
      '--profiling=false',
    ]);
    const admin = { ca: pki.ca.certPem, cert: pki.admin.certPem, key: pki.admin.keyPem };
    await waitReady(apiserver, async () => (await httpsStatus(`${url}/readyz`, admin)) === 200, 90_000);

    const k = (args: string[], input?: string) => runKubectl('1.33', kubeconfig, cacheDir, args, { input });
    const must = async (args: string[], input?: string) => {
      const r = await k(args, input);
      if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}):\n${r.stderr}${r.stdout}`);
      return r.stdout;
    };
    await must(['apply', '-f', '-'], applied.map((f) => manifest(f)).join('\n---\n'));
    const token = (await must(['create', 'token', upmServiceName, '-n', upmServiceNamespace, '--duration=24h'])).trim();
    const upmKubeconfig = join(dir, 'upm-apiserver.kubeconfig');
    writeFileSync(upmKubeconfig, tokenKubeconfig(url, pki.ca.certPem, token), { mode: 0o600 });

    const env = { ...process.env };
    delete env['KUBERNETES_SERVICE_HOST']; // outside a Pod: never the in-cluster defaults
    const upm = start(
      'upm-apiserver',
      process.execPath,
      [
        upmEngineCLI,
        'apiserver',
        `--secure-port=${upmPort}`,
        '--bind-address=127.0.0.1',
        `--tls-cert-file=${pki.upmServing.cert}`,
        `--tls-private-key-file=${pki.upmServing.key}`,
        `--storage=sqlite:${join(dir, 'upm.db')}`,
        `--authentication-kubeconfig=${upmKubeconfig}`,
        `--authorization-kubeconfig=${upmKubeconfig}`,
        ...(opts.admission ? [`--kubeconfig=${upmKubeconfig}`] : []),
        '--log-format=json',
      ],
      env,
    );
    const upmURL = `https://127.0.0.1:${upmPort}`;
    const directKubeconfig = join(dir, 'upm-direct.kubeconfig');
    writeFileSync(
      directKubeconfig,
      buildKubeconfig({
        clusterName: 'upm-direct',
        server: upmURL,
        caPem: pki.upmServingCA.certPem,
        user: 'admin',
        clientCertPem: pki.admin.certPem,
        clientKeyPem: pki.admin.keyPem,
      }),
      { mode: 0o600 },
    );
    await waitReady(
      upm,
      async () => (await httpsStatus(`${upmURL}/readyz`, { ca: pki.upmServingCA.certPem })) === 200,
      30_000,
    );
    await must(['apply', '-f', '-'], [externalNameService(upmPort), apiService(upmPort, pki)].join('\n---\n'));
    await waitReady(
      upm,
      async () =>
        (await k(['wait', '--for=condition=Available', 'apiservice/v1alpha1.upm.io', '--timeout=5s'])).code === 0,
      60_000,
      0,
    );
    // kube-apiserver aggregates the APIService's OpenAPI a moment after it becomes Available;
    // kubectl explain (v3, and v2 for kubectl 1.27) reads it, so wait until both carry UnitSet.
    await waitReady(
      upm,
      async () =>
        (await httpsStatus(`${url}/openapi/v3/apis/upm.io/v1alpha1`, admin)) === 200 &&
        (await k(['get', '--raw', '/openapi/v2'])).stdout.includes('io.upm.v1alpha1.UnitSet'),
      60_000,
    );

    // The controllers start once upm.io is in discovery, so the garbage collector's first
    // discovery already includes it (it would otherwise pick it up only at its 30 s resync).
    const kcmKubeconfig = kubeconfigFor('controller-manager', pki.controllerManager);
    const kcm = start('kube-controller-manager', bins.path('kube-controller-manager'), [
      `--kubeconfig=${kcmKubeconfig}`,
      `--authentication-kubeconfig=${kcmKubeconfig}`,
      `--authorization-kubeconfig=${kcmKubeconfig}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${kcmPort}`,
      `--cert-dir=${join(dir, 'kube-controller-manager')}`,
      '--leader-elect=false',
      '--use-service-account-credentials=true',
      `--controllers=${(opts.controllers ?? defaultControllers).join(',')}`,
      `--service-account-private-key-file=${pki.serviceAccountKey}`,
      `--root-ca-file=${pki.ca.files.cert}`,
      `--cluster-signing-cert-file=${pki.ca.files.cert}`,
      `--cluster-signing-key-file=${pki.ca.files.key}`,
      '--profiling=false',
    ]);
    const schedKubeconfig = kubeconfigFor('scheduler', pki.scheduler);
    const scheduler = start('kube-scheduler', bins.path('kube-scheduler'), [
      `--kubeconfig=${schedKubeconfig}`,
      `--authentication-kubeconfig=${schedKubeconfig}`,
      `--authorization-kubeconfig=${schedKubeconfig}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${schedPort}`,
      `--cert-dir=${join(dir, 'kube-scheduler')}`,
      '--leader-elect=false',
      '--profiling=false',
    ]);
    const kwokHome = join(dir, 'kwok');
    mkdirSync(kwokHome);
    const kwok = start(
      'kwok',
      bins.path('kwok'),
      [
        `--kubeconfig=${kubeconfigFor('kwok', pki.kwok)}`,
        `--config=${join(repoRoot, 'test/cluster/kwok-stages.yaml')}`,
        '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
        `--server-address=127.0.0.1:${kwokPort}`,
        '--node-ip=127.0.0.1',
        '--cidr=10.244.0.0/16',
      ],
      { ...process.env, HOME: kwokHome },
    );

    const insecure = { rejectUnauthorized: false };
    await Promise.all([
      waitReady(kcm, async () => (await httpsStatus(`https://127.0.0.1:${kcmPort}/healthz`, insecure)) === 200, 60_000),
      waitReady(
        scheduler,
        async () => (await httpsStatus(`https://127.0.0.1:${schedPort}/healthz`, insecure)) === 200,
        60_000,
      ),
      waitReady(kwok, async () => (await httpStatus(`http://127.0.0.1:${kwokPort}/healthz`)) === 200, 60_000),
    ]);
    if (opts.nodes) {
      await must(
        ['apply', '-f', '-'],
        Array.from({ length: opts.nodes }, (_, i) => fakeNode(`kwok-node-${i}`)).join('\n---\n'),
      );
      await waitReady(
        kwok,
        async () => (await k(['wait', '--for=condition=Ready', 'node', '--all', '--timeout=5s'])).code === 0,
        60_000,
        0,
      );
    }

    return {
      dir,
      kubeVersion: bins.kubeVersion,
      url,
      kubeconfig,
      cacheDir,
      upmURL,
      upmKubeconfig: directKubeconfig,
      pki,
      components,
      kubectl: (version, args, o = {}) => runKubectl(version, kubeconfig, cacheDir, args, o),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

function manifest(file: string): string {
  return readFileSync(join(repoRoot, 'config/apiservice', file), 'utf8');
}

function firstObject(file: string): any {
  return parseAllDocuments(manifest(file))[0]!.toJS();
}

function externalNameService(port: number): string {
  const svc = firstObject('service.yaml');
  svc.spec = {
    type: 'ExternalName',
    externalName: '127.0.0.1',
    ports: [{ name: 'https', port, protocol: 'TCP' }],
  };
  return stringify(svc);
}

function apiService(port: number, pki: ControlPlanePKI): string {
  const api = firstObject('apiservice.yaml');
  api.spec.service.port = port;
  api.spec.caBundle = Buffer.from(pki.upmServingCA.certPem).toString('base64');
  return stringify(api);
}

function fakeNode(name: string): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
      labels: { type: 'kwok', 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux' },
    },
    spec: { taints: [] },
  });
}

export function tokenKubeconfig(server: string, caPem: string, token: string): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      { name: 'real', cluster: { server, 'certificate-authority-data': Buffer.from(caPem).toString('base64') } },
    ],
    users: [{ name: upmServiceName, user: { token } }],
    contexts: [{ name: 'upm-apiserver', context: { cluster: 'real', user: upmServiceName } }],
    'current-context': 'upm-apiserver',
  });
}

interface TLSOptions {
  ca?: string;
  cert?: string;
  key?: string;
  rejectUnauthorized?: boolean;
}

function httpsStatus(url: string, tls: TLSOptions): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { ...tls, timeout: 5_000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

function httpStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { timeout: 5_000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}
