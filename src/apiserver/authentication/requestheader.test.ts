// Front-proxy authentication and delegated authorization through the assembled server: the way
// kube-apiserver's aggregator reaches us.

import { request } from 'node:https';
import { pino } from 'pino';
import { createCA, issueClientCert, issueServingCert, type CertKeyPair } from '../../pki/certs.js';
import { openSqliteStore } from '../../storage/sqlite/store.js';
import {
  attributesFromSubjectAccessReviewSpec,
  subjectAccessReviewStatus,
  type SubjectAccessReviewSpec,
} from '../authorization/attributes.js';
import { DelegatingAuthorizer } from '../authorization/delegating.js';
import { InMemoryRBACSource, RBACAuthorizer } from '../authorization/rbac.js';
import { startAPIServer, type RunningAPIServer } from '../server.js';
import { widgetDefinition } from '../testing/widget.js';
import { defaultRequestHeaderConfig, RequestHeaderAuthenticator } from './requestheader.js';

let server: RunningAPIServer;
let ca: CertKeyPair;
let proxyCA: CertKeyPair;
let proxy: CertKeyPair;
let strangerProxy: CertKeyPair;
let admin: CertKeyPair;
const reviews: SubjectAccessReviewSpec[] = [];

function call(
  path: string,
  cert: CertKeyPair | null,
  headers: Record<string, string | string[]> = {},
): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(path, server.url),
      { ca: ca.certPem, ...(cert ? { cert: cert.certPem, key: cert.keyPem } : {}), headers },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, body: body.startsWith('{') ? JSON.parse(body) : body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  ca = createCA('client-ca');
  proxyCA = createCA('front-proxy-ca');
  proxy = issueClientCert(proxyCA, { commonName: 'front-proxy-client' });
  strangerProxy = issueClientCert(proxyCA, { commonName: 'someone-else' });
  admin = issueClientCert(ca, { commonName: 'admin', organizations: ['system:masters'] });
  const serving = issueServingCert(ca, { commonName: 'server', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  // The cluster's RBAC, evaluated by the real evaluator behind the SubjectAccessReview boundary.
  const rbac = new InMemoryRBACSource();
  rbac.put({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: { name: 'widget-reader', namespace: 'team-a' },
    rules: [{ apiGroups: ['test.upm.io'], resources: ['widgets'], verbs: ['get', 'list'] }],
  });
  rbac.put({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: 'dev-readers', namespace: 'team-a' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'widget-reader' },
    subjects: [{ kind: 'Group', name: 'dev', apiGroup: 'rbac.authorization.k8s.io' }],
  });
  const evaluator = new RBACAuthorizer(rbac);
  const authorizer = new DelegatingAuthorizer(async (spec) => {
    reviews.push(spec);
    return subjectAccessReviewStatus(evaluator.authorize(attributesFromSubjectAccessReviewSpec(spec)));
  });
  server = await startAPIServer({
    store: openSqliteStore(':memory:'),
    resources: [{ definition: widgetDefinition }],
    logger: pino({ level: 'silent' }),
    tls: {
      certPem: serving.certPem,
      keyPem: serving.keyPem,
      clientCAPem: ca.certPem,
      requestHeaderCAPem: proxyCA.certPem,
    },
    bindAddress: '127.0.0.1',
    port: 0,
    authenticators: [new RequestHeaderAuthenticator({ clientCAPem: proxyCA.certPem, ...defaultRequestHeaderConfig })],
    authorizer,
  });
});
afterAll(async () => server?.close());

const list = (ns: string) => `/apis/test.upm.io/v1/namespaces/${ns}/widgets`;

it('takes the user from X-Remote-* headers on a trusted front-proxy connection and asks the cluster', async () => {
  const res = await call(list('team-a'), proxy, {
    'X-Remote-User': 'alice',
    'X-Remote-Group': ['dev', 'qa'],
    'X-Remote-Extra-Authentication.kubernetes.io%2fcredential-Id': 'X509SHA256=abc',
  });
  expect(res.status).toBe(200);
  const spec = reviews.at(-1)!;
  expect(spec.user).toBe('alice');
  expect(spec.groups).toEqual(['dev', 'qa', 'system:authenticated']);
  expect(spec.extra).toEqual({ 'authentication.kubernetes.io/credential-id': ['X509SHA256=abc'] });
  expect(spec.resourceAttributes).toMatchObject({
    namespace: 'team-a',
    verb: 'list',
    group: 'test.upm.io',
    resource: 'widgets',
  });
});

it("answers 403 with kube's message when the cluster denies", async () => {
  const res = await call(list('team-b'), proxy, { 'X-Remote-User': 'alice', 'X-Remote-Group': 'dev' });
  expect(res.status).toBe(403);
  expect(res.body).toMatchObject({ kind: 'Status', reason: 'Forbidden', code: 403 });
  expect(res.body.message).toBe(
    'widgets.test.upm.io is forbidden: User "alice" cannot list resource "widgets" in API group "test.upm.io" in the namespace "team-b"',
  );
});

it('ignores identity headers from clients that are not the trusted proxy', async () => {
  // An x509 user signed by the client CA cannot pose as someone else.
  reviews.length = 0;
  const res = await call(list('team-a'), admin, { 'X-Remote-User': 'mallory', 'X-Remote-Group': 'dev' });
  expect(res.status).toBe(200);
  expect(reviews).toHaveLength(0); // system:masters is allowed locally: the user was admin, not mallory
  // A proxy certificate with a CN outside requestheader-allowed-names is not trusted at all.
  expect(
    (await call(list('team-a'), strangerProxy, { 'X-Remote-User': 'alice', 'X-Remote-Group': 'dev' })).status,
  ).toBe(401);
  // No certificate: headers mean nothing.
  expect(
    (await call(list('team-a'), null, { 'X-Remote-User': 'alice', 'X-Remote-Group': 'system:masters' })).status,
  ).toBe(401);
});

it('lets anyone read health endpoints', async () => {
  expect((await call('/readyz', null)).status).toBe(200);
  expect((await call('/healthz', proxy, { 'X-Remote-User': 'nobody' })).status).toBe(200);
});
