// The control plane's authentication and authorization end to end over HTTPS: static and
// service-account bearer tokens, RBAC from stored objects with the bootstrap policy, the review
// endpoints, impersonation, and the real kubectl (`auth can-i`, `--list`, `whoami`, `--as`).

import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { startAPIServer, type RunningAPIServer } from '../../apiserver/server.js';
import { widgetDefinition } from '../../apiserver/testing/widget.js';
import { createCA, issueClientCert, issueServingCert, type CertKeyPair } from '../../pki/certs.js';
import { buildKubeconfig } from '../../pki/kubeconfig.js';
import { openSqliteStore } from '../../storage/sqlite/store.js';
import { coreRegistrations, initCoreResources } from '../kinds/index.js';
import { kubectlBinary } from '../testing/controlplane.js';
import { controlPlaneAuth, type ControlPlaneAuth } from './index.js';

let server: RunningAPIServer;
let auth: ControlPlaneAuth;
let ca: CertKeyPair;
let admin: CertKeyPair;
let dir: string;
let robotToken: string;
let skewMs = 0;

const RBAC = 'rbac.authorization.k8s.io';
const staticTokens = [
  'alice-token,alice,1001,"dev,qa"',
  'bob-token,bob,1002',
  'delegator-token,delegator,1003',
  'impersonator-token,impersonator,1004',
].join('\n');

interface Res {
  status: number;
  body: any;
}

function call(
  method: string,
  path: string,
  opts: { token?: string; cert?: CertKeyPair; body?: unknown; headers?: Record<string, string | string[]> } = {},
): Promise<Res> {
  const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(path, server.url),
      {
        method,
        ca: ca.certPem,
        ...(opts.cert ? { cert: opts.cert.certPem, key: opts.cert.keyPem } : {}),
        headers: {
          ...(payload ? { 'Content-Type': 'application/json' } : {}),
          ...(opts.token ? { Authorization: `Bearer ${opts.token}` } : {}),
          ...(opts.headers ?? {}),
        },
      },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => {
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {
            // plain text
          }
          resolve({ status: res.statusCode!, body });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

const asAdmin = (method: string, path: string, body?: unknown) => call(method, path, { cert: admin, body });

async function eventually(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function tokenKubeconfig(name: string, token: string): string {
  const file = join(dir, `kubeconfig-${name}`);
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    preferences: {},
    clusters: [
      {
        name: 'local',
        cluster: { server: server.url, 'certificate-authority-data': Buffer.from(ca.certPem).toString('base64') },
      },
    ],
    users: [{ name, user: { token } }],
    contexts: [{ name: `${name}@local`, context: { cluster: 'local', user: name, namespace: 'team-a' } }],
    'current-context': `${name}@local`,
  };
  writeFileSync(file, stringify(config), { mode: 0o600 });
  return file;
}

function kubectl(
  kubeconfig: string,
  args: string[],
  version = '1.33',
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      kubectlBinary(version),
      ['--kubeconfig', kubeconfig, '--cache-dir', join(dir, 'cache', kubeconfig.split('-').pop()!), ...args],
      { timeout: 30_000 },
      (err, stdout, stderr) => {
        const code = err
          ? typeof (err as { code?: unknown }).code === 'number'
            ? (err as { code: number }).code
            : 1
          : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

beforeAll(async () => {
  ca = createCA('auth-test-ca');
  const serving = issueServingCert(ca, {
    commonName: 'localhost',
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
  });
  admin = issueClientCert(ca, { commonName: 'admin', organizations: ['system:masters'] });
  auth = controlPlaneAuth({ clientCAPem: ca.certPem, staticTokens, now: () => Date.now() + skewMs });
  server = await startAPIServer({
    store: openSqliteStore(':memory:'),
    resources: [...coreRegistrations(), ...auth.resources, { definition: widgetDefinition }],
    logger: pino({ level: 'silent' }),
    tls: { certPem: serving.certPem, keyPem: serving.keyPem, clientCAPem: ca.certPem },
    bindAddress: '127.0.0.1',
    port: 0,
    authenticators: auth.authenticators,
    authorizer: auth.authorizer,
    delegate: auth.delegate(),
  });
  await initCoreResources(server.registry, { apiServerPort: server.port });
  server.health.addReadinessCheck(auth.readinessCheck);
  expect((await call('GET', '/readyz?verbose', { cert: admin })).body).toContain('[-]rbac-bootstrap failed');
  const boot = await auth.start(server.registry);
  expect((await call('GET', '/readyz')).status).toBe(200);
  expect(boot.created).toContain('clusterroles/cluster-admin');
  dir = mkdtempSync(join(tmpdir(), 'upm-auth-test-'));

  for (const ns of ['team-a', 'team-b']) {
    expect(
      (await asAdmin('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }))
        .status,
    ).toBe(201);
    const w = await asAdmin('POST', `/apis/test.upm.io/v1/namespaces/${ns}/widgets`, {
      apiVersion: 'test.upm.io/v1',
      kind: 'Widget',
      metadata: { name: 'w1' },
      spec: { size: 1 },
    });
    expect(w.status).toBe(201);
  }
  const sa = await asAdmin('POST', '/api/v1/namespaces/team-a/serviceaccounts', {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: { name: 'robot' },
  });
  expect(sa.status).toBe(201);
  robotToken = auth.tokens.issueServiceAccountToken('team-a', 'robot', sa.body.metadata.uid);

  const created = await Promise.all([
    asAdmin('POST', `/apis/${RBAC}/v1/namespaces/team-a/roles`, {
      apiVersion: `${RBAC}/v1`,
      kind: 'Role',
      metadata: { name: 'widget-reader' },
      rules: [{ apiGroups: ['test.upm.io'], resources: ['widgets'], verbs: ['get', 'list'] }],
    }),
    asAdmin('POST', `/apis/${RBAC}/v1/namespaces/team-a/rolebindings`, {
      apiVersion: `${RBAC}/v1`,
      kind: 'RoleBinding',
      metadata: { name: 'widget-readers' },
      roleRef: { apiGroup: RBAC, kind: 'Role', name: 'widget-reader' },
      subjects: [
        { apiGroup: RBAC, kind: 'User', name: 'alice' },
        { kind: 'ServiceAccount', name: 'robot' },
        { apiGroup: RBAC, kind: 'Group', name: 'widget-readers' },
      ],
    }),
    asAdmin('POST', `/apis/${RBAC}/v1/clusterrolebindings`, {
      apiVersion: `${RBAC}/v1`,
      kind: 'ClusterRoleBinding',
      metadata: { name: 'delegator' },
      roleRef: { apiGroup: RBAC, kind: 'ClusterRole', name: 'system:auth-delegator' },
      subjects: [{ apiGroup: RBAC, kind: 'User', name: 'delegator' }],
    }),
    asAdmin('POST', `/apis/${RBAC}/v1/clusterroles`, {
      apiVersion: `${RBAC}/v1`,
      kind: 'ClusterRole',
      metadata: { name: 'impersonate-alice' },
      rules: [{ apiGroups: [''], resources: ['users'], verbs: ['impersonate'], resourceNames: ['alice'] }],
    }),
    asAdmin('POST', `/apis/${RBAC}/v1/clusterrolebindings`, {
      apiVersion: `${RBAC}/v1`,
      kind: 'ClusterRoleBinding',
      metadata: { name: 'impersonator' },
      roleRef: { apiGroup: RBAC, kind: 'ClusterRole', name: 'impersonate-alice' },
      subjects: [{ apiGroup: RBAC, kind: 'User', name: 'impersonator' }],
    }),
  ]);
  for (const c of created) expect(c.status).toBe(201);
  await eventually(
    () =>
      auth.rbac.listRoleBindings('team-a').length === 1 &&
      auth.rbac.listClusterRoleBindings().some((b) => b.metadata.name === 'impersonator'),
    'RBAC informers',
  );
  await eventually(() => auth.serviceAccounts.exists('team-a', 'robot'), 'ServiceAccount informer');
});

afterAll(async () => {
  auth?.stop();
  await server?.close();
  server?.registry.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const widgets = (ns: string) => `/apis/test.upm.io/v1/namespaces/${ns}/widgets`;
const newWidget = { apiVersion: 'test.upm.io/v1', kind: 'Widget', metadata: { name: 'w2' }, spec: { size: 2 } };

describe('RBAC-bound users', () => {
  it.each([
    ['a static token', () => 'alice-token', 'alice'],
    ['a service-account token', () => robotToken, 'system:serviceaccount:team-a:robot'],
  ])('with %s: list in the bound namespace, 403 on create and elsewhere', async (_what, token, username) => {
    const list = await call('GET', widgets('team-a'), { token: token() });
    expect(list.status).toBe(200);
    expect(list.body.items.map((w: any) => w.metadata.name)).toEqual(['w1']);
    expect((await call('GET', `${widgets('team-a')}/w1`, { token: token() })).status).toBe(200);

    const create = await call('POST', widgets('team-a'), { token: token(), body: newWidget });
    expect(create.status).toBe(403);
    expect(create.body).toMatchObject({
      kind: 'Status',
      reason: 'Forbidden',
      code: 403,
      message: `widgets.test.upm.io is forbidden: User "${username}" cannot create resource "widgets" in API group "test.upm.io" in the namespace "team-a"`,
      details: { group: 'test.upm.io', kind: 'widgets' },
    });
    const other = await call('GET', widgets('team-b'), { token: token() });
    expect(other.status).toBe(403);
    expect(other.body.message).toBe(
      `widgets.test.upm.io is forbidden: User "${username}" cannot list resource "widgets" in API group "test.upm.io" in the namespace "team-b"`,
    );
    expect((await call('GET', '/apis/test.upm.io/v1/widgets', { token: token() })).status).toBe(403);
  });

  it('gives every authenticated user discovery and public info, and nothing else', async () => {
    expect((await call('GET', '/api', { token: 'bob-token' })).status).toBe(200);
    expect((await call('GET', '/apis/test.upm.io/v1', { token: 'bob-token' })).status).toBe(200);
    expect((await call('GET', '/version', { token: 'bob-token' })).status).toBe(200);
    expect((await call('GET', '/healthz')).status).toBe(200);
    expect((await call('GET', widgets('team-a'), { token: 'bob-token' })).status).toBe(403);
    const metrics = await call('GET', '/metrics', { token: 'bob-token' });
    expect(metrics.status).toBe(403);
    expect(metrics.body.message).toBe('forbidden: User "bob" cannot get path "/metrics"');
  });

  it('answers 401 without a credential and for an unknown token', async () => {
    expect((await call('GET', '/api')).status).toBe(401);
    expect((await call('GET', '/api', { token: 'nope' })).status).toBe(401);
  });

  it('stops accepting a service-account token once the account is deleted', async () => {
    const sa = await asAdmin('POST', '/api/v1/namespaces/team-a/serviceaccounts', {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: 'temp' },
    });
    const token = auth.tokens.issueServiceAccountToken('team-a', 'temp', sa.body.metadata.uid);
    await eventually(() => auth.serviceAccounts.exists('team-a', 'temp'), 'temp ServiceAccount');
    expect((await call('GET', '/api', { token })).status).toBe(200);
    expect((await asAdmin('DELETE', '/api/v1/namespaces/team-a/serviceaccounts/temp')).status).toBe(200);
    await eventually(() => !auth.serviceAccounts.exists('team-a', 'temp'), 'temp ServiceAccount deletion');
    expect((await call('GET', '/api', { token })).status).toBe(401);
    // Recreated under the same name: a new uid, so the old token stays invalid.
    await asAdmin('POST', '/api/v1/namespaces/team-a/serviceaccounts', {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: 'temp' },
    });
    await eventually(() => auth.serviceAccounts.exists('team-a', 'temp'), 'temp ServiceAccount again');
    expect((await call('GET', '/api', { token })).status).toBe(401);
  });
});

describe('TokenRequest (serviceaccounts/token)', () => {
  const path = '/api/v1/namespaces/team-a/serviceaccounts/robot/token';
  const tokenRequest = (spec: unknown) => ({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec });

  it('issues a token for a stored ServiceAccount', async () => {
    const res = await call('POST', path, { cert: admin, body: tokenRequest({ expirationSeconds: 900 }) });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      kind: 'TokenRequest',
      apiVersion: 'authentication.k8s.io/v1',
      metadata: { name: 'robot', namespace: 'team-a' },
      spec: {
        audiences: ['https://kubernetes.default.svc.cluster.local'],
        expirationSeconds: 900,
        boundObjectRef: null,
      },
    });
    const { token, expirationTimestamp } = res.body.status;
    expect(Date.parse(expirationTimestamp) - Date.parse(res.body.metadata.creationTimestamp)).toBe(900_000);
    expect((await call('GET', widgets('team-a'), { token })).status).toBe(200);
    const vault = await call('POST', path, { cert: admin, body: tokenRequest({ audiences: ['vault'] }) });
    expect(vault.body.spec).toMatchObject({ audiences: ['vault'], expirationSeconds: 3600 });
    expect((await call('GET', widgets('team-a'), { token: vault.body.status.token })).status).toBe(401);
  });

  it('validates, looks the account up and is authorized as create serviceaccounts/token', async () => {
    const short = await call('POST', path, { cert: admin, body: tokenRequest({ expirationSeconds: 60 }) });
    expect(short.status).toBe(422);
    expect(short.body.message).toBe(
      'TokenRequest.authentication.k8s.io "robot" is invalid: spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes',
    );
    const missing = await call('POST', path.replace('robot', 'ghost'), { cert: admin, body: tokenRequest({}) });
    expect(missing.status).toBe(404);
    expect(missing.body.message).toBe('serviceaccounts "ghost" not found');
    const denied = await call('POST', path, { token: 'alice-token', body: tokenRequest({}) });
    expect(denied.status).toBe(403);
    expect(denied.body.message).toBe(
      'serviceaccounts "robot" is forbidden: User "alice" cannot create resource "serviceaccounts/token" in API group "" in the namespace "team-a"',
    );
  });

  it('kubectl create token', async () => {
    const kc = join(dir, 'kubeconfig-admin-token');
    writeFileSync(
      kc,
      buildKubeconfig({
        clusterName: 'local',
        server: server.url,
        caPem: ca.certPem,
        user: 'admin',
        clientCertPem: admin.certPem,
        clientKeyPem: admin.keyPem,
      }),
      { mode: 0o600 },
    );
    const res = await kubectl(kc, ['create', 'token', 'robot', '-n', 'team-a', '--duration', '20m']);
    expect(res).toMatchObject({ code: 0, stderr: '' });
    const token = res.stdout.trim();
    const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
    expect(claims.exp - claims.iat).toBe(1200);
    expect(claims.sub).toBe('system:serviceaccount:team-a:robot');
    expect(await kubectl(tokenKubeconfig('robot2', token), ['auth', 'can-i', 'list', 'widgets'])).toMatchObject({
      code: 0,
      stdout: 'yes\n',
    });
    const audience = await kubectl(kc, ['create', 'token', 'robot', '-n', 'team-a', '--audience', 'vault']);
    expect(JSON.parse(Buffer.from(audience.stdout.trim().split('.')[1], 'base64url').toString()).aud).toEqual([
      'vault',
    ]);
  });
});

describe('TokenReview', () => {
  const review = (token: string, audiences?: string[]) => ({
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenReview',
    spec: { token, ...(audiences ? { audiences } : {}) },
  });

  it('authenticates a static token', async () => {
    const res = await call('POST', '/apis/authentication.k8s.io/v1/tokenreviews', {
      token: 'delegator-token',
      body: review('alice-token'),
    });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenReview',
      metadata: { creationTimestamp: null },
      spec: { token: 'alice-token' },
      status: {
        authenticated: true,
        user: { username: 'alice', uid: '1001', groups: ['dev', 'qa', 'system:authenticated'] },
        audiences: ['https://kubernetes.default.svc.cluster.local'],
      },
    });
  });

  it('authenticates a service-account token with its audience', async () => {
    const token = auth.tokens.issueServiceAccountToken(
      'team-a',
      'robot',
      auth.serviceAccounts.uidOf('team-a', 'robot'),
      { audiences: ['vault'] },
    );
    const res = await call('POST', '/apis/authentication.k8s.io/v1/tokenreviews', {
      cert: admin,
      body: review(token, ['vault', 'other']),
    });
    expect(res.status).toBe(201);
    expect(res.body.status).toMatchObject({
      authenticated: true,
      user: {
        username: 'system:serviceaccount:team-a:robot',
        groups: ['system:serviceaccounts', 'system:serviceaccounts:team-a', 'system:authenticated'],
      },
      audiences: ['vault'],
    });
    expect(res.body.status.user.extra['authentication.kubernetes.io/credential-id'][0]).toMatch(/^JTI=/);
    // Not for the API server's audience.
    const api = await call('POST', '/apis/authentication.k8s.io/v1/tokenreviews', { cert: admin, body: review(token) });
    expect(api.body.status).toEqual({
      user: {},
      error:
        'token audiences ["vault"] is invalid for the target audiences ["https://kubernetes.default.svc.cluster.local"]',
    });
  });

  it('reports invalid and expired tokens', async () => {
    const bad = await call('POST', '/apis/authentication.k8s.io/v1/tokenreviews', {
      cert: admin,
      body: review('garbage'),
    });
    expect(bad.status).toBe(201);
    expect(bad.body.status).toEqual({ user: {}, error: 'invalid bearer token' });

    const short = auth.tokens.issueServiceAccountToken(
      'team-a',
      'robot',
      auth.serviceAccounts.uidOf('team-a', 'robot'),
      { expirationSeconds: 600 },
    );
    expect(
      (await call('POST', '/apis/authentication.k8s.io/v1/tokenreviews', { cert: admin, body: review(short) })).body
        .status.authenticated,
    ).toBe(true);
    skewMs = 661_000; // past exp + the one-minute leeway
    try {
      const expired = await call('POST', '/apis/authentication.k8s.io/v1/tokenreviews', {
        cert: admin,
        body: review(short),
      });
      expect(expired.body.status).toEqual({ user: {}, error: 'service account token has expired' });
      expect((await call('GET', '/api', { token: short })).status).toBe(401);
    } finally {
      skewMs = 0;
    }
    const tampered = `${short.slice(0, short.lastIndexOf('.'))}.AAAA`;
    expect(
      (await call('POST', '/apis/authentication.k8s.io/v1/tokenreviews', { cert: admin, body: review(tampered) })).body
        .status.error,
    ).toBe('token signature is invalid');
  });

  it('requires a token, and permission (system:auth-delegator)', async () => {
    const empty = await call('POST', '/apis/authentication.k8s.io/v1/tokenreviews', { cert: admin, body: review('') });
    expect(empty.status).toBe(400);
    expect(empty.body.message).toBe('token is required for TokenReview in authentication');
    const denied = await call('POST', '/apis/authentication.k8s.io/v1/tokenreviews', {
      token: 'alice-token',
      body: review('bob-token'),
    });
    expect(denied.status).toBe(403);
    expect(denied.body.message).toBe(
      'tokenreviews.authentication.k8s.io is forbidden: User "alice" cannot create resource "tokenreviews" in API group "authentication.k8s.io" at the cluster scope',
    );
    // Never stored: nothing to list.
    expect((await asAdmin('GET', '/apis/authentication.k8s.io/v1/tokenreviews')).status).toBe(405);
  });
});

describe('SubjectAccessReview and friends', () => {
  const sar = (spec: unknown) => ({ apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec });

  it('allows with the granting binding as reason, and denies', async () => {
    const allowed = await call('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
      token: 'delegator-token',
      body: sar({
        user: 'alice',
        resourceAttributes: { namespace: 'team-a', verb: 'list', group: 'test.upm.io', resource: 'widgets' },
      }),
    });
    expect(allowed.status).toBe(201);
    expect(allowed.body).toEqual({
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      metadata: { creationTimestamp: null },
      spec: {
        user: 'alice',
        resourceAttributes: { namespace: 'team-a', verb: 'list', group: 'test.upm.io', resource: 'widgets' },
      },
      status: {
        allowed: true,
        reason: 'RBAC: allowed by RoleBinding "widget-readers/team-a" of Role "widget-reader" to User "alice"',
      },
    });
    const denied = await call('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
      token: 'delegator-token',
      body: sar({
        user: 'alice',
        resourceAttributes: { namespace: 'team-a', verb: 'delete', group: 'test.upm.io', resource: 'widgets' },
      }),
    });
    expect(denied.body.status).toEqual({ allowed: false });
    const masters = await call('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
      token: 'delegator-token',
      body: sar({ user: 'x', groups: ['system:masters'], nonResourceAttributes: { path: '/metrics', verb: 'get' } }),
    });
    expect(masters.body.status).toEqual({ allowed: true });
    const viaGroup = await call('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
      token: 'delegator-token',
      body: sar({
        user: 'x',
        groups: ['system:authenticated'],
        nonResourceAttributes: { path: '/apis/test.upm.io', verb: 'get' },
      }),
    });
    expect(viaGroup.body.status).toEqual({
      allowed: true,
      reason:
        'RBAC: allowed by ClusterRoleBinding "system:discovery" of ClusterRole "system:discovery" to Group "system:authenticated"',
    });
  });

  it('explains a denial caused by a dangling role reference', async () => {
    await asAdmin('POST', `/apis/${RBAC}/v1/namespaces/team-b/rolebindings`, {
      apiVersion: `${RBAC}/v1`,
      kind: 'RoleBinding',
      metadata: { name: 'dangling' },
      roleRef: { apiGroup: RBAC, kind: 'Role', name: 'missing' },
      subjects: [{ apiGroup: RBAC, kind: 'User', name: 'alice' }],
    });
    await eventually(() => auth.rbac.listRoleBindings('team-b').length === 1, 'dangling binding');
    const res = await call('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
      cert: admin,
      body: sar({
        user: 'alice',
        resourceAttributes: { namespace: 'team-b', verb: 'get', group: 'test.upm.io', resource: 'widgets' },
      }),
    });
    expect(res.body.status).toEqual({
      allowed: false,
      reason: 'RBAC: role.rbac.authorization.k8s.io "missing" not found',
    });
    // kubectl shows the reason too.
    const kc = tokenKubeconfig('alice', 'alice-token');
    expect(await kubectl(kc, ['auth', 'can-i', 'get', 'widgets', '-n', 'team-b'])).toMatchObject({
      code: 1,
      stdout: 'no - RBAC: role.rbac.authorization.k8s.io "missing" not found\n',
    });
    await asAdmin('DELETE', `/apis/${RBAC}/v1/namespaces/team-b/rolebindings/dangling`);
    await eventually(() => auth.rbac.listRoleBindings('team-b').length === 0, 'dangling binding removal');
  });

  it('validates the spec (422)', async () => {
    const res = await call('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
      cert: admin,
      body: sar({ resourceAttributes: { verb: 'get' } }),
    });
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({
      reason: 'Invalid',
      message:
        'SubjectAccessReview.authorization.k8s.io "" is invalid: spec.user: Invalid value: "": at least one of user or group must be specified',
      details: { group: 'authorization.k8s.io', kind: 'SubjectAccessReview' },
    });
    const both = await call('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
      cert: admin,
      body: sar({ user: 'a', resourceAttributes: { verb: 'get' }, nonResourceAttributes: { path: '/x', verb: 'get' } }),
    });
    expect(both.status).toBe(422);
    expect(both.body.message).toContain(
      'spec.nonResourceAttributes: Invalid value: cannot be specified in combination with resourceAttributes',
    );
    const typed = await call('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
      cert: admin,
      body: sar({ user: 7 }),
    });
    expect(typed.status).toBe(400);
    const sarDenied = await call('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
      token: 'alice-token',
      body: sar({ user: 'alice', nonResourceAttributes: { path: '/', verb: 'get' } }),
    });
    expect(sarDenied.status).toBe(403);
  });

  it('answers SelfSubjectAccessReview for the caller', async () => {
    const ssar = (resourceAttributes: unknown) => ({
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SelfSubjectAccessReview',
      spec: { resourceAttributes },
    });
    const yes = await call('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', {
      token: robotToken,
      body: ssar({ namespace: 'team-a', verb: 'get', group: 'test.upm.io', resource: 'widgets', name: 'w1' }),
    });
    expect(yes.status).toBe(201);
    expect(yes.body.status).toEqual({
      allowed: true,
      reason:
        'RBAC: allowed by RoleBinding "widget-readers/team-a" of Role "widget-reader" to ServiceAccount "robot/team-a"',
    });
    const no = await call('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', {
      token: robotToken,
      body: ssar({ namespace: 'team-b', verb: 'get', group: 'test.upm.io', resource: 'widgets' }),
    });
    expect(no.body.status).toEqual({ allowed: false });
  });

  it('answers LocalSubjectAccessReview in the URL namespace only', async () => {
    const lsar = (spec: unknown) => ({ apiVersion: 'authorization.k8s.io/v1', kind: 'LocalSubjectAccessReview', spec });
    const path = '/apis/authorization.k8s.io/v1/namespaces/team-a/localsubjectaccessreviews';
    const ok = await call('POST', path, {
      cert: admin,
      body: lsar({ user: 'alice', resourceAttributes: { verb: 'list', group: 'test.upm.io', resource: 'widgets' } }),
    });
    expect(ok.status).toBe(201);
    expect(ok.body.metadata).toEqual({ namespace: 'team-a', creationTimestamp: null });
    expect(ok.body.spec.resourceAttributes.namespace).toBe('team-a');
    expect(ok.body.status.allowed).toBe(true);
    const mismatch = await call('POST', path, {
      cert: admin,
      body: lsar({ user: 'alice', resourceAttributes: { namespace: 'team-b', verb: 'list', resource: 'widgets' } }),
    });
    expect(mismatch.status).toBe(422);
    expect(mismatch.body.message).toBe(
      'LocalSubjectAccessReview.authorization.k8s.io "" is invalid: spec.resourceAttributes.namespace: Invalid value: "team-b": must match metadata.namespace',
    );
    const nonResource = await call('POST', path, {
      cert: admin,
      body: lsar({ user: 'alice', nonResourceAttributes: { path: '/x', verb: 'get' } }),
    });
    expect(nonResource.status).toBe(422);
    // admin (the aggregated role) grants it; a RoleBinding to admin in team-a lets a user ask there.
    await asAdmin('POST', `/apis/${RBAC}/v1/namespaces/team-a/rolebindings`, {
      apiVersion: `${RBAC}/v1`,
      kind: 'RoleBinding',
      metadata: { name: 'bob-admin' },
      roleRef: { apiGroup: RBAC, kind: 'ClusterRole', name: 'admin' },
      subjects: [{ apiGroup: RBAC, kind: 'User', name: 'bob' }],
    });
    await eventually(() => auth.rbac.listRoleBindings('team-a').length === 2, 'bob-admin binding');
    const asBob = await call('POST', path, {
      token: 'bob-token',
      body: lsar({ user: 'alice', resourceAttributes: { verb: 'list', group: 'test.upm.io', resource: 'widgets' } }),
    });
    expect(asBob.status).toBe(201);
    expect(
      (
        await call('POST', path.replace('team-a', 'team-b'), {
          token: 'bob-token',
          body: lsar({ user: 'alice', resourceAttributes: { verb: 'list', resource: 'widgets' } }),
        })
      ).status,
    ).toBe(403);
    // admin aggregates edit and view: bob may now manage pods and read secrets in team-a.
    const podsAsBob = await call('GET', '/api/v1/namespaces/team-a/pods', { token: 'bob-token' });
    expect(podsAsBob.status).toBe(200);
    expect((await call('GET', '/api/v1/namespaces/team-a/secrets', { token: 'bob-token' })).status).toBe(200);
    expect((await call('GET', `/apis/${RBAC}/v1/namespaces/team-a/roles`, { token: 'bob-token' })).status).toBe(200);
    expect((await call('GET', '/api/v1/namespaces/team-b/pods', { token: 'bob-token' })).status).toBe(403);
    await asAdmin('DELETE', `/apis/${RBAC}/v1/namespaces/team-a/rolebindings/bob-admin`);
    await eventually(() => auth.rbac.listRoleBindings('team-a').length === 1, 'bob-admin binding removal');
    expect((await call('GET', '/api/v1/namespaces/team-a/pods', { token: 'bob-token' })).status).toBe(403);
  });

  it('answers SelfSubjectRulesReview and SelfSubjectReview', async () => {
    const res = await call('POST', '/apis/authorization.k8s.io/v1/selfsubjectrulesreviews', {
      token: 'alice-token',
      body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectRulesReview', spec: { namespace: 'team-a' } },
    });
    expect(res.status).toBe(201);
    expect(res.body.spec).toEqual({});
    expect(res.body.status.incomplete).toBe(false);
    expect(res.body.status.resourceRules).toContainEqual({
      verbs: ['get', 'list'],
      apiGroups: ['test.upm.io'],
      resources: ['widgets'],
    });
    expect(res.body.status.resourceRules).toContainEqual({
      verbs: ['create'],
      apiGroups: ['authorization.k8s.io'],
      resources: ['selfsubjectaccessreviews', 'selfsubjectrulesreviews'],
    });
    expect(res.body.status.nonResourceRules).toContainEqual({
      verbs: ['get'],
      nonResourceURLs: ['/healthz', '/livez', '/readyz', '/version', '/version/'],
    });
    const noNs = await call('POST', '/apis/authorization.k8s.io/v1/selfsubjectrulesreviews', {
      token: 'alice-token',
      body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectRulesReview', spec: {} },
    });
    expect(noNs.status).toBe(400);

    const who = await call('POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', {
      token: 'alice-token',
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
    });
    expect(who.status).toBe(201);
    expect(who.body.status).toEqual({
      userInfo: { username: 'alice', uid: '1001', groups: ['dev', 'qa', 'system:authenticated'] },
    });
  });
});

describe('impersonation', () => {
  it('lets system:masters act as anyone, with default groups', async () => {
    const who = await call('POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', {
      cert: admin,
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
      headers: {
        'Impersonate-User': 'carol',
        'Impersonate-Group': ['g1', 'g2'],
        'Impersonate-Extra-Scopes%2Fv1': ['a', 'b'],
        'Impersonate-Uid': 'u-1',
      },
    });
    expect(who.status).toBe(201);
    expect(who.body.status.userInfo).toEqual({
      username: 'carol',
      uid: 'u-1',
      groups: ['g1', 'g2', 'system:authenticated'],
      extra: { 'scopes/v1': ['a', 'b'] },
    });
    const sa = await call('POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', {
      cert: admin,
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
      headers: { 'Impersonate-User': 'system:serviceaccount:team-a:robot' },
    });
    expect(sa.body.status.userInfo).toEqual({
      username: 'system:serviceaccount:team-a:robot',
      groups: ['system:serviceaccounts', 'system:serviceaccounts:team-a', 'system:authenticated'],
    });
    // The impersonated user's permissions apply.
    expect(
      (await call('GET', widgets('team-a'), { cert: admin, headers: { 'Impersonate-User': 'alice' } })).status,
    ).toBe(200);
    expect(
      (await call('GET', widgets('team-b'), { cert: admin, headers: { 'Impersonate-User': 'alice' } })).status,
    ).toBe(403);
  });

  it('refuses impersonation that RBAC does not grant', async () => {
    const res = await call('GET', widgets('team-a'), { token: 'alice-token', headers: { 'Impersonate-User': 'bob' } });
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({
      reason: 'Forbidden',
      message:
        'users "bob" is forbidden: User "alice" cannot impersonate resource "users" in API group "" at the cluster scope',
      details: { name: 'bob', kind: 'users' },
    });
    // impersonate on users/alice only.
    expect(
      (await call('GET', widgets('team-a'), { token: 'impersonator-token', headers: { 'Impersonate-User': 'alice' } }))
        .status,
    ).toBe(200);
    const group = await call('GET', widgets('team-a'), {
      token: 'impersonator-token',
      headers: { 'Impersonate-User': 'alice', 'Impersonate-Group': 'system:masters' },
    });
    expect(group.status).toBe(403);
    expect(group.body.message).toBe(
      'groups "system:masters" is forbidden: User "impersonator" cannot impersonate resource "groups" in API group "" at the cluster scope',
    );
    const noUser = await call('GET', widgets('team-a'), { cert: admin, headers: { 'Impersonate-Group': 'dev' } });
    expect(noUser.status).toBe(500);
    expect(noUser.body.message).toContain('without impersonating a user');
  });
});

describe('kubectl', () => {
  it('auth can-i answers yes/no for a static-token user and a service account', async () => {
    for (const [name, token] of [
      ['alice', 'alice-token'],
      ['robot', robotToken],
    ]) {
      const kc = tokenKubeconfig(name, token);
      const yes = await kubectl(kc, ['auth', 'can-i', 'list', 'widgets.test.upm.io', '-n', 'team-a']);
      expect({ name, ...yes }).toMatchObject({ name, code: 0, stdout: 'yes\n', stderr: '' });
      const getW = await kubectl(kc, ['auth', 'can-i', 'get', 'widgets/w1']);
      expect(getW).toMatchObject({ code: 0, stdout: 'yes\n' });
      const create = await kubectl(kc, ['auth', 'can-i', 'create', 'widgets', '-n', 'team-a']);
      expect(create).toMatchObject({ code: 1, stdout: 'no\n' });
      const elsewhere = await kubectl(kc, ['auth', 'can-i', 'list', 'widgets', '-n', 'team-b']);
      expect(elsewhere).toMatchObject({ code: 1, stdout: 'no\n' });
      const got = await kubectl(kc, ['get', 'widgets', '-o', 'name']);
      expect(got).toMatchObject({ code: 0, stdout: 'widget.test.upm.io/w1\n' });
      const forbidden = await kubectl(kc, ['get', 'widgets', '-n', 'team-b']);
      expect(forbidden.code).toBe(1);
      expect(forbidden.stderr).toContain('Error from server (Forbidden): widgets.test.upm.io is forbidden');
    }
  });

  it.each(['1.27', '1.28', '1.29', '1.30', '1.31', '1.32'])(
    'auth can-i and --list with kubectl %s',
    async (version) => {
      const kc = tokenKubeconfig('alice', 'alice-token');
      expect(await kubectl(kc, ['auth', 'can-i', 'list', 'widgets'], version)).toMatchObject({
        code: 0,
        stdout: 'yes\n',
      });
      expect(await kubectl(kc, ['auth', 'can-i', 'delete', 'widgets'], version)).toMatchObject({
        code: 1,
        stdout: 'no\n',
      });
      expect((await kubectl(kc, ['auth', 'can-i', '--list'], version)).stdout).toMatch(
        /widgets\.test\.upm\.io\s+\[\]\s+\[\]\s+\[get list\]/,
      );
    },
  );

  it('auth can-i --list shows the rules (SelfSubjectRulesReview)', async () => {
    const res = await kubectl(tokenKubeconfig('alice', 'alice-token'), ['auth', 'can-i', '--list', '-n', 'team-a']);
    expect(res.code).toBe(0);
    const lines = res.stdout.split('\n');
    expect(lines[0]).toMatch(/^Resources\s+Non-Resource URLs\s+Resource Names\s+Verbs$/);
    expect(lines.some((l) => /^widgets\.test\.upm\.io\s+\[\]\s+\[\]\s+\[get list\]$/.test(l))).toBe(true);
    expect(
      lines.some((l) => /^selfsubjectaccessreviews\.authorization\.k8s\.io\s+\[\]\s+\[\]\s+\[create\]$/.test(l)),
    ).toBe(true);
    expect(lines.some((l) => /^\s+\[\/api\/\*\]\s+\[\]\s+\[get\]$/.test(l))).toBe(true);
    const other = await kubectl(tokenKubeconfig('alice', 'alice-token'), ['auth', 'can-i', '--list', '-n', 'team-b']);
    expect(other.stdout).not.toContain('widgets.test.upm.io');
  });

  it('auth whoami (SelfSubjectReview)', async () => {
    const res = await kubectl(tokenKubeconfig('robot', robotToken), ['auth', 'whoami', '-o', 'json']);
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout).status.userInfo.username).toBe('system:serviceaccount:team-a:robot');
  });

  it('--as / --as-group impersonation', async () => {
    const kc = join(dir, 'kubeconfig-admin');
    writeFileSync(
      kc,
      buildKubeconfig({
        clusterName: 'local',
        server: server.url,
        caPem: ca.certPem,
        user: 'admin',
        clientCertPem: admin.certPem,
        clientKeyPem: admin.keyPem,
      }),
      { mode: 0o600 },
    );
    expect(await kubectl(kc, ['auth', 'can-i', 'list', 'widgets', '-n', 'team-a', '--as', 'alice'])).toMatchObject({
      code: 0,
      stdout: 'yes\n',
    });
    expect(await kubectl(kc, ['auth', 'can-i', 'list', 'widgets', '-n', 'team-a', '--as', 'bob'])).toMatchObject({
      code: 1,
      stdout: 'no\n',
    });
    expect(
      await kubectl(kc, [
        'auth',
        'can-i',
        'list',
        'widgets',
        '-n',
        'team-a',
        '--as',
        'carol',
        '--as-group',
        'widget-readers',
      ]),
    ).toMatchObject({ code: 0, stdout: 'yes\n' });
    expect(
      await kubectl(kc, [
        'auth',
        'can-i',
        'list',
        'widgets',
        '-n',
        'team-a',
        '--as',
        'system:serviceaccount:team-a:robot',
      ]),
    ).toMatchObject({ code: 0, stdout: 'yes\n' });
    expect(await kubectl(kc, ['auth', 'can-i', 'create', 'widgets', '-n', 'team-a'])).toMatchObject({
      code: 0,
      stdout: 'yes\n',
    });
    const listAs = await kubectl(kc, ['auth', 'can-i', '--list', '-n', 'team-a', '--as', 'alice']);
    expect(listAs.stdout).toMatch(/widgets\.test\.upm\.io\s+\[\]\s+\[\]\s+\[get list\]/);
    const whoami = await kubectl(kc, [
      'auth',
      'whoami',
      '--as',
      'carol',
      '--as-group',
      'a',
      '--as-group',
      'b',
      '-o',
      'json',
    ]);
    expect(JSON.parse(whoami.stdout).status.userInfo).toEqual({
      username: 'carol',
      groups: ['a', 'b', 'system:authenticated'],
    });
    // alice may not impersonate.
    const refused = await kubectl(tokenKubeconfig('alice', 'alice-token'), [
      'auth',
      'can-i',
      'list',
      'widgets',
      '--as',
      'bob',
    ]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain(
      'users "bob" is forbidden: User "alice" cannot impersonate resource "users" in API group "" at the cluster scope',
    );
  });
});
