// The webhook server on a loopback port, called with the API server's own webhook client (the
// client kube-apiserver's behaviour is modelled on), so the wire format is checked both ways.

import { request as httpsRequest } from 'node:https';
import pino from 'pino';
import { WebhookCallError, WebhookClient } from '../apiserver/admission/client.js';
import { encodeCABundle } from '../apiserver/admission/types.js';
import type { AdmissionRequest } from '../machinery/admission.js';
import { createCA, issueServingCert, type CertKeyPair } from '../pki/certs.js';
import { unitTemplateWebhook } from './unittemplate/validate.js';
import { reviewBudgetMs, startWebhookServer, type RunningWebhookServer } from './server.js';
import type { AdmissionWebhook } from './webhook.js';

const log = pino({ level: 'silent' });

function request(object: unknown, operation: AdmissionRequest['operation'] = 'CREATE'): AdmissionRequest {
  return {
    uid: `uid-${Math.random()}`,
    kind: { group: 'upm.io', version: 'v1alpha1', kind: 'UnitTemplate' },
    resource: { group: 'upm.io', version: 'v1alpha1', resource: 'unittemplates' },
    name: 'mysql-community-8.0.36',
    operation,
    userInfo: { username: 'alice' },
    object: object as AdmissionRequest['object'],
    oldObject: null,
    dryRun: false,
    options: null,
  };
}

const goodTemplate = {
  apiVersion: 'upm.io/v1alpha1',
  kind: 'UnitTemplate',
  metadata: { name: 'mysql-community-8.0.36' },
  spec: {
    type: 'mysql',
    version: '8.0.36',
    podTemplate: { spec: { containers: [{ name: 'mysql', image: 'mysql' }] } },
  },
};

describe('webhook server', () => {
  let ca: CertKeyPair;
  let server: RunningWebhookServer;
  let client: WebhookClient;
  let slowRelease: (() => void) | undefined;
  const slow: AdmissionWebhook = {
    ...unitTemplateWebhook,
    name: 'slow.validate.upm.io',
    path: '/slow',
    timeoutSeconds: 2,
    review: (req) =>
      new Promise((resolve) => {
        slowRelease = () => resolve({ uid: req.uid, allowed: true });
      }),
  };
  const failing: AdmissionWebhook = {
    ...unitTemplateWebhook,
    name: 'failing.validate.upm.io',
    path: '/failing',
    review: () => {
      throw new Error('the cache of sidecarsets has not synced yet');
    },
  };

  beforeAll(async () => {
    ca = createCA('webhook-test-ca');
    const serving = issueServingCert(ca, {
      commonName: 'upm-webhooks',
      dnsNames: ['upm-webhooks.upm-system.svc'],
      ipAddresses: ['127.0.0.1'],
    });
    server = await startWebhookServer({
      webhooks: [unitTemplateWebhook, slow, failing],
      certPem: serving.certPem,
      keyPem: serving.keyPem,
      port: 0,
      bindAddress: '127.0.0.1',
      log,
      readinessChecks: [{ name: 'cache', check: () => {} }],
    });
    client = new WebhookClient({ resolveService: () => ({ host: '127.0.0.1', port: server.port }) });
  });
  afterAll(async () => {
    client?.close();
    await server?.close();
  });

  const target = (path: string, timeoutSeconds = 5) => ({
    name: 'unittemplates.validate.upm.io',
    clientConfig: {
      service: { namespace: 'upm-system', name: 'upm-webhooks', path, port: 443 },
      caBundle: encodeCABundle(ca.certPem),
    },
    timeoutSeconds,
    admissionReviewVersions: ['v1'],
  });

  it('allows a valid object and echoes the uid', async () => {
    const req = request(goodTemplate);
    const result = await client.review(target('/validate-unittemplate'), req, false);
    expect(result).toMatchObject({ reviewVersion: 'v1', allowed: true, warnings: [] });
  });

  it('denies an invalid object with 422 and the field errors', async () => {
    const bad = structuredClone(goodTemplate);
    bad.spec.type = 'mariadb';
    const result = await client.review(target('/validate-unittemplate'), request(bad), false);
    expect(result.allowed).toBe(false);
    expect(result.status).toMatchObject({
      code: 422,
      reason: 'Invalid',
      message: expect.stringMatching(
        /^UnitTemplate.upm.io "mysql-community-8.0.36" is invalid: spec.podTemplate.spec.containers: Required value: no container named "mariadb"/,
      ),
      details: {
        name: 'mysql-community-8.0.36',
        group: 'upm.io',
        kind: 'UnitTemplate',
        causes: [expect.objectContaining({ field: 'spec.podTemplate.spec.containers' })],
      },
    });
  });

  it('answers 500 before the API server gives up when a review does not finish in time', async () => {
    const started = Date.now();
    const err = await client.review(target('/slow', 2), request(goodTemplate), false).catch((e: unknown) => e);
    slowRelease?.();
    expect(err).toBeInstanceOf(WebhookCallError);
    expect((err as Error).message).toMatch(/the review did not finish within 1500 ms/);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('fails the call (500) when a review cannot read its inputs, so failurePolicy decides', async () => {
    const err = await client.review(target('/failing'), request(goodTemplate), false).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(
      /an error on the server|could not review the request|sidecarsets has not synced/,
    );
  });

  it('rejects a body that is not an AdmissionReview with 400', async () => {
    const res = await raw('POST', '/validate-unittemplate', JSON.stringify({ kind: 'Pod', apiVersion: 'v1' }));
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toMatchObject({
      kind: 'Status',
      code: 400,
      message: expect.stringMatching(/expected an AdmissionReview/),
    });
    expect((await raw('POST', '/validate-unittemplate', '{not json')).status).toBe(400);
  });

  it('serves health, readiness and metrics', async () => {
    expect(await raw('GET', '/healthz')).toMatchObject({ status: 200, body: 'ok' });
    expect(await raw('GET', '/readyz?verbose')).toMatchObject({
      status: 200,
      body: '[+]shutdown ok\n[+]cache ok\nreadyz check passed\n',
    });
    const metrics = await raw('GET', '/metrics');
    expect(metrics.body).toMatch(
      /upm_webhook_requests_total\{webhook="unittemplates.validate.upm.io",allowed="true",code="200"\} 1/,
    );
    expect((await raw('GET', '/nope')).status).toBe(404);
  });

  function raw(method: string, path: string, body?: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        {
          host: '127.0.0.1',
          port: server.port,
          method,
          path,
          ca: ca.certPem,
          servername: 'upm-webhooks.upm-system.svc',
          headers: { 'Content-Type': 'application/json' },
        },
        (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }
});

describe('review budget', () => {
  it('takes the smaller of the API server timeout and the webhook timeout, less the margin', () => {
    expect(reviewBudgetMs('10s', 5, 500)).toBe(4500);
    expect(reviewBudgetMs('2s', 5, 500)).toBe(1500);
    expect(reviewBudgetMs('1500ms', 5, 500)).toBe(1000);
    expect(reviewBudgetMs(undefined, 5, 500)).toBe(4500);
    expect(reviewBudgetMs('0s', 5, 500)).toBe(100);
  });
});
