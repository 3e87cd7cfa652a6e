// Audit logging: the policy's levels, and the lines a running server writes.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { createCA, issueClientCert, issueServingCert } from '../../pki/certs.js';
import { openSqliteStore } from '../../storage/sqlite/store.js';
import { startAPIServer } from '../server.js';
import { widgetDefinition } from '../testing/widget.js';
import { AuditLogger, levelFor, parsePolicy } from './audit.js';

const policy = parsePolicy(`
apiVersion: audit.k8s.io/v1
kind: Policy
rules:
  - level: None
    nonResourceURLs: ["/healthz*", "/readyz*", "/livez*"]
  - level: None
    users: ["system:kube-controller-manager"]
  - level: Request
    verbs: [create, update, patch]
    resources:
      - group: test.upm.io
        resources: [widgets]
  - level: Metadata
`);

const subject = (verb: string, resource?: string, username = 'alice') => ({
  verb,
  requestURI: resource ? `/apis/test.upm.io/v1/${resource}` : '/healthz',
  user: { username, groups: ['system:authenticated'] },
  resource: resource ? { apiGroup: 'test.upm.io', apiVersion: 'v1', resource } : undefined,
});

describe('audit policy', () => {
  it('gives the level of the first matching rule', () => {
    expect(levelFor(policy, subject('get'))).toBe('None');
    expect(levelFor(policy, subject('create', 'widgets', 'system:kube-controller-manager'))).toBe('None');
    expect(levelFor(policy, subject('create', 'widgets'))).toBe('Request');
    expect(levelFor(policy, subject('get', 'widgets'))).toBe('Metadata');
    expect(levelFor(policy, subject('create', 'gadgets'))).toBe('Metadata');
    expect(levelFor({ rules: [] }, subject('get', 'widgets'))).toBe('None');
  });

  it('rejects what is not a policy', () => {
    expect(() => parsePolicy('rules: [{level: Everything}]')).toThrow(
      'rules[0].level: must be one of None, Metadata, Request, RequestResponse',
    );
    expect(() => parsePolicy('kind: Pod')).toThrow(/a Policy/);
  });
});

describe('audit log of a running server', () => {
  it('writes one audit.k8s.io/v1 Event per request at its level', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'upm-audit-'));
    const path = join(dir, 'audit.log');
    const ca = createCA('audit-ca');
    const serving = issueServingCert(ca, { commonName: 's', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
    const alice = issueClientCert(ca, { commonName: 'alice', organizations: ['dev', 'system:masters'] });
    const audit = new AuditLogger({ path, policy });
    const server = await startAPIServer({
      store: openSqliteStore(':memory:'),
      resources: [{ definition: widgetDefinition }],
      logger: pino({ level: 'silent' }),
      tls: { certPem: serving.certPem, keyPem: serving.keyPem, clientCAPem: ca.certPem },
      bindAddress: '127.0.0.1',
      port: 0,
      audit,
    });
    const call = (method: string, p: string, body?: unknown) =>
      new Promise<number>((resolve, reject) => {
        const req = request(
          new URL(p, server.url),
          {
            method,
            ca: ca.certPem,
            cert: alice.certPem,
            key: alice.keyPem,
            headers: body ? { 'Content-Type': 'application/json' } : {},
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode!));
          },
        );
        req.on('error', reject);
        req.end(body === undefined ? undefined : JSON.stringify(body));
      });
    try {
      const widget = { apiVersion: 'test.upm.io/v1', kind: 'Widget', metadata: { name: 'w1' }, spec: { size: 1 } };
      expect(await call('POST', '/apis/test.upm.io/v1/namespaces/default/widgets', widget)).toBe(201);
      expect(await call('GET', '/apis/test.upm.io/v1/namespaces/default/widgets/w1')).toBe(200);
      expect(await call('GET', '/apis/test.upm.io/v1/namespaces/default/widgets/nope')).toBe(404);
      expect(await call('GET', '/healthz')).toBe(200);
    } finally {
      await server.close();
      await audit.close();
    }
    const events = readFileSync(path, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    rmSync(dir, { recursive: true, force: true });
    expect(events).toHaveLength(3);
    expect(events[0]).toMatchObject({
      kind: 'Event',
      apiVersion: 'audit.k8s.io/v1',
      level: 'Request',
      stage: 'ResponseComplete',
      verb: 'create',
      requestURI: '/apis/test.upm.io/v1/namespaces/default/widgets',
      user: { username: 'alice', groups: ['dev', 'system:masters', 'system:authenticated'] },
      sourceIPs: ['127.0.0.1'],
      objectRef: { resource: 'widgets', namespace: 'default', apiGroup: 'test.upm.io', apiVersion: 'v1' },
      responseStatus: { code: 201 },
      requestObject: { metadata: { name: 'w1' }, spec: { size: 1 } },
      annotations: { 'apiserver.latency.k8s.io/total': expect.stringMatching(/^\d+ms$/) },
    });
    expect(events[0].requestReceivedTimestamp <= events[0].stageTimestamp).toBe(true);
    expect(events[1]).toMatchObject({
      level: 'Metadata',
      verb: 'get',
      objectRef: { name: 'w1' },
      responseStatus: { code: 200 },
    });
    expect(events[1].requestObject).toBeUndefined();
    expect(events[2]).toMatchObject({ level: 'Metadata', objectRef: { name: 'nope' }, responseStatus: { code: 404 } });
  });
});
