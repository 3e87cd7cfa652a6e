// `upm-engine apiserver` learning its authentication from the cluster, as on a real cluster:
// a second upm.io server, given only --authentication-kubeconfig and --authorization-kubeconfig
// for the local control plane, reads kube-system/extension-apiserver-authentication (front-proxy
// CA, allowed names, X-Remote-* headers, client CA) and authorizes with SubjectAccessReviews.
// The in-cluster (service account) path is driven with the same functions the CLI calls, with a
// real service-account token and the RBAC files from config/apiservice.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ClusterAuthenticationConfigError,
  inClusterKubeConfig,
  loadClusterAuthenticationConfig,
  serviceAccountTokenPath,
} from '../../src/apiserver/authentication/cluster-config.js';
import { subjectAccessReviewerFor } from '../../src/apiserver/authorization/sar-client.js';
import { cleanup, cliPath, startEngine, waitFor, type Engine } from './harness.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

interface Response {
  status: number;
  body: any;
}

describe('apiserver with authentication from the cluster', () => {
  let engine: Engine;
  let second: ChildProcess | undefined;
  let secondURL: string;
  let secondLogs = '';
  let work: string;
  const pki = (name: string) => readFileSync(join(engine.dataDir, 'pki', name), 'utf8');

  beforeAll(async () => {
    engine = await startEngine();
    work = mkdtempSync(join(tmpdir(), 'upm-e2e-clusterauth-'));
    const env = { ...process.env };
    delete env['KUBERNETES_SERVICE_HOST']; // never the in-cluster defaults here
    second = spawn(
      process.execPath,
      [
        cliPath,
        'apiserver',
        '--secure-port=0',
        '--bind-address=127.0.0.1',
        `--tls-cert-file=${join(engine.dataDir, 'pki', 'apiserver.crt')}`,
        `--tls-private-key-file=${join(engine.dataDir, 'pki', 'apiserver.key')}`,
        `--storage=sqlite:${join(work, 'upm.db')}`,
        `--authentication-kubeconfig=${engine.kubeconfig}`,
        `--authorization-kubeconfig=${engine.kubeconfig}`,
        '--log-format=json',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env },
    );
    second.stdout!.on('data', (d: Buffer) => (secondLogs += d.toString()));
    second.stderr!.on('data', (d: Buffer) => (secondLogs += d.toString()));
    const exited = new Promise<never>((_, reject) =>
      second!.once('exit', (code) => reject(new Error(`apiserver exited with ${code}:\n${secondLogs}`))),
    );
    await Promise.race([
      exited,
      waitFor('the second apiserver to serve', () => /"msg":"API server is serving"/.test(secondLogs), 20_000),
    ]);
    secondURL = /"url":"(https:\/\/[^"]+)","backend"[^\n]*"msg":"API server is serving"/.exec(secondLogs)![1]!;
  }, 60_000);

  afterAll(async () => {
    if (second && second.exitCode === null && second.signalCode === null) {
      const gone = new Promise<void>((r) => second!.once('exit', () => r()));
      second.kill('SIGTERM');
      await gone;
    }
    await engine?.stop();
    if (engine) cleanup(engine);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  function call(
    path: string,
    cert: { crt: string; key: string } | null,
    headers: Record<string, string> = {},
  ): Promise<Response> {
    return new Promise((resolvePromise, reject) => {
      const req = request(
        new URL(path, secondURL),
        { ca: pki('ca.crt'), ...(cert ? { cert: pki(cert.crt), key: pki(cert.key) } : {}), headers, agent: false },
        (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () =>
            resolvePromise({ status: res.statusCode!, body: body.startsWith('{') ? JSON.parse(body) : body }),
          );
        },
      );
      req.on('error', reject);
      req.end();
    });
  }
  const frontProxy = { crt: 'front-proxy-client.crt', key: 'front-proxy-client.key' };
  const admin = { crt: 'admin.crt', key: 'admin.key' };
  const unitsets = '/apis/upm.io/v1alpha1/unitsets';

  it('logs that it read the ConfigMap through --authentication-kubeconfig', () => {
    expect(secondLogs).toMatch(
      /"clientCA":true,"requestHeader":true,"msg":"read cluster authentication configuration"/,
    );
  });

  it('trusts X-Remote-* headers from the front-proxy certificate the ConfigMap names', async () => {
    const r = await call(unitsets, frontProxy, { 'X-Remote-User': 'e2e-admin', 'X-Remote-Group': 'system:masters' });
    expect(r.status).toBe(200);
    expect(r.body.kind).toBe('UnitSetList');
    // The identity is the header's, as the Forbidden message shows ...
    const denied = await call(unitsets, frontProxy, { 'X-Remote-User': 'e2e-nobody', 'X-Remote-Group': 'e2e-team' });
    expect(denied.status).toBe(403);
    // ... decided by the cluster through --authorization-kubeconfig (SubjectAccessReview).
    expect(denied.body.message).toContain(
      'User "e2e-nobody" cannot list resource "unitsets" in API group "upm.io" at the cluster scope',
    );
  });

  it('ignores the headers without the front-proxy certificate', async () => {
    const anonymous = await call(unitsets, null, { 'X-Remote-User': 'e2e-admin', 'X-Remote-Group': 'system:masters' });
    expect(anonymous.status).toBe(401); // not authenticated: --anonymous-auth is off
  });

  it("trusts the ConfigMap's client CA (no --client-ca-file given), with headers ignored for such clients", async () => {
    expect((await call(unitsets, admin)).status).toBe(200);
    // upm-admin (system:masters) may list; as e2e-nobody it could not, so 200 shows the headers were not used.
    expect((await call(unitsets, admin, { 'X-Remote-User': 'e2e-nobody', 'X-Remote-Group': 'e2e-team' })).status).toBe(
      200,
    );
  });

  it('in a pod: the service account reads the ConfigMap and reviews access once config/apiservice RBAC is applied', async () => {
    const kubectl = async (args: string[], input?: string): Promise<string> => {
      const r = await engine.kubectl('1.33', args, input === undefined ? {} : { input });
      if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}):\n${r.stderr}`);
      return r.stdout;
    };
    const manifest = (name: string) => readFileSync(join(repoRoot, 'config/apiservice', name), 'utf8');
    // Local mode installs config/apiservice's RBAC as a cluster install does: take the two
    // bindings away to see what the server meets without them.
    await kubectl(['delete', '-f', '-'], manifest('auth-reader.yaml'));
    await kubectl(['delete', '-f', '-'], manifest('auth-delegator.yaml'));
    await kubectl(['apply', '-f', '-'], manifest('serviceaccount.yaml'));
    const token = (await kubectl(['create', 'token', 'upm-apiserver', '-n', 'upm-system'])).trim();
    const root = join(work, 'pod');
    const tokenFile = `${root}${serviceAccountTokenPath}`;
    mkdirSync(dirname(tokenFile), { recursive: true });
    writeFileSync(tokenFile, token);
    writeFileSync(join(dirname(tokenFile), 'ca.crt'), pki('ca.crt'));
    const saved = { host: process.env['KUBERNETES_SERVICE_HOST'], port: process.env['KUBERNETES_SERVICE_PORT'] };
    process.env['KUBERNETES_SERVICE_HOST'] = '127.0.0.1';
    process.env['KUBERNETES_SERVICE_PORT'] = String(engine.port);
    try {
      const kc = inClusterKubeConfig(root)!;
      expect(kc).toBeDefined();
      // Without the RoleBinding: a clear error naming the Role, at once.
      const err = await loadClusterAuthenticationConfig(kc, { retryIntervalMs: 50 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ClusterAuthenticationConfigError);
      expect((err as Error).message).toContain('HTTP 403');
      expect((err as Error).message).toContain('extension-apiserver-authentication-reader');
      const review = subjectAccessReviewerFor(kc);
      const spec = {
        user: 'e2e-nobody',
        groups: ['system:authenticated'],
        resourceAttributes: { group: 'upm.io', version: 'v1alpha1', resource: 'unitsets', verb: 'list' },
      };
      await expect(review(spec)).rejects.toThrow(/403/);

      await kubectl(['apply', '-f', '-'], manifest('auth-reader.yaml'));
      await kubectl(['apply', '-f', '-'], manifest('auth-delegator.yaml'));
      // RBAC caches update from watches: allow a moment.
      let cfg: Awaited<ReturnType<typeof loadClusterAuthenticationConfig>> | undefined;
      await waitFor('the auth-reader RoleBinding to take effect', async () => {
        cfg = await loadClusterAuthenticationConfig(kc, { retryIntervalMs: 50 }).catch(() => undefined);
        return cfg !== undefined;
      });
      expect(cfg!.clientCAPem).toBe(pki('ca.crt'));
      expect(cfg!.requestHeader).toEqual({
        clientCAPem: pki('front-proxy-ca.crt'),
        allowedNames: ['front-proxy-client'],
        usernameHeaders: ['X-Remote-User'],
        uidHeaders: ['X-Remote-Uid'],
        groupHeaders: ['X-Remote-Group'],
        extraHeaderPrefixes: ['X-Remote-Extra-'],
      });
      let status: Awaited<ReturnType<typeof review>> | undefined;
      await waitFor('the auth-delegator ClusterRoleBinding to take effect', async () => {
        status = await review(spec).catch(() => undefined);
        return status !== undefined;
      });
      expect(status!.allowed).toBe(false);
      expect((await review({ ...spec, groups: ['system:masters'] })).allowed).toBe(true);
    } finally {
      for (const [k, v] of [
        ['KUBERNETES_SERVICE_HOST', saved.host],
        ['KUBERNETES_SERVICE_PORT', saved.port],
      ] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});
