import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { createCA, issueServingCert } from '../../pki/certs.js';
import { WebhookCallError, WebhookClient, chooseReviewVersion, verifyAdmissionResponse, webhookURL } from './client.js';
import { encodeCABundle, type AdmissionReview } from './types.js';

function reason(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    if (err instanceof WebhookCallError) return err.reason;
    throw err;
  }
  throw new Error('expected a WebhookCallError');
}

const review = (response: unknown, apiVersion = 'admission.k8s.io/v1') => ({
  apiVersion,
  kind: 'AdmissionReview',
  response,
});

describe('webhookURL and endpoint', () => {
  it('builds service URLs with the default port, path and timeout query', async () => {
    const w = {
      name: 'w',
      clientConfig: { service: { namespace: 'ns', name: 'svc', path: '/validate' } },
      timeoutSeconds: 5,
    };
    expect(webhookURL(w)).toBe('https://svc.ns.svc:443/validate?timeout=5s');
    const resolved: unknown[] = [];
    const c = new WebhookClient({
      resolveService: (...args) => (resolved.push(args), { host: '10.0.0.7', port: 9443 }),
    });
    expect(await c.endpoint(w)).toEqual({
      url: 'https://svc.ns.svc:443/validate?timeout=5s',
      host: '10.0.0.7',
      port: 9443,
      path: '/validate?timeout=5s',
      servername: 'svc.ns.svc',
      hostHeader: 'svc.ns.svc:443',
    });
    expect(resolved).toEqual([['ns', 'svc', 443]]);
    c.close();
  });

  it('builds url endpoints; IP hosts get no SNI; timeouts are clamped to 1..30 and default to 10', async () => {
    const c = new WebhookClient();
    expect(await c.endpoint({ name: 'w', clientConfig: { url: 'https://hooks.example.com/a/b' } })).toEqual({
      url: 'https://hooks.example.com/a/b?timeout=10s',
      host: 'hooks.example.com',
      port: 443,
      path: '/a/b?timeout=10s',
      servername: 'hooks.example.com',
      hostHeader: 'hooks.example.com',
    });
    const ip = await c.endpoint({ name: 'w', clientConfig: { url: 'https://[::1]:8443' }, timeoutSeconds: 99 });
    expect(ip).toMatchObject({ host: '::1', port: 8443, path: '/?timeout=30s', hostHeader: '[::1]:8443' });
    expect(ip.servername).toBeUndefined();
    expect(
      webhookURL({
        name: 'w',
        clientConfig: { service: { namespace: 'n', name: 's', port: 8443 } },
        timeoutSeconds: 0,
      }),
    ).toBe('https://s.n.svc:8443/?timeout=1s');
    await expect(c.endpoint({ name: 'w', clientConfig: { url: 'http://plain.example.com' } })).rejects.toThrow(
      'only https',
    );
    c.close();
  });

  it('chooses the first AdmissionReview version it knows', () => {
    expect(chooseReviewVersion(['v2', 'v1beta1', 'v1'])).toBe('v1beta1');
    expect(chooseReviewVersion(['v1', 'v1beta1'])).toBe('v1');
    expect(chooseReviewVersion(['v2'])).toBeUndefined();
    expect(chooseReviewVersion(undefined)).toBeUndefined();
  });

  it('a caBundle without certificates is a call failure before any connection', async () => {
    const c = new WebhookClient({
      resolveService: () => {
        throw new Error('must not resolve');
      },
    });
    const w = {
      name: 'w.upm.io',
      clientConfig: { service: { namespace: 'n', name: 's' }, caBundle: Buffer.from('junk').toString('base64') },
      admissionReviewVersions: ['v1'],
    };
    const req = {
      uid: 'u',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      operation: 'CREATE' as const,
      userInfo: {},
      object: null,
      oldObject: null,
      dryRun: false,
      options: null,
    };
    await expect(c.review(w, req, false)).rejects.toThrow(
      'failed calling webhook "w.upm.io": could not get REST client: unable to load root certificates: unable to parse bytes as PEM block',
    );
    c.close();
  });
});

describe('verifyAdmissionResponse', () => {
  it('accepts a v1 answer and decodes the patch', () => {
    const patch = Buffer.from('[{"op":"add","path":"/a","value":1}]');
    const r = verifyAdmissionResponse(
      'w',
      'v1',
      'u1',
      true,
      review({
        uid: 'u1',
        allowed: true,
        patch: patch.toString('base64'),
        patchType: 'JSONPatch',
        warnings: ['w1'],
        auditAnnotations: { k: 'v' },
      }),
    );
    expect(r).toEqual({
      reviewVersion: 'v1',
      allowed: true,
      patch,
      patchType: 'JSONPatch',
      warnings: ['w1'],
      auditAnnotations: { k: 'v' },
    });
  });

  it('a missing allowed is a denial, as Go decodes it', () => {
    expect(verifyAdmissionResponse('w', 'v1', 'u1', false, review({ uid: 'u1', status: { message: 'x' } }))).toEqual({
      reviewVersion: 'v1',
      allowed: false,
      status: { message: 'x' },
      warnings: [],
      auditAnnotations: {},
    });
  });

  it('rejects malformed v1 answers with kube texts', () => {
    expect(reason(() => verifyAdmissionResponse('w', 'v1', 'u1', false, review(undefined)))).toBe(
      'received invalid webhook response: webhook response was absent',
    );
    expect(reason(() => verifyAdmissionResponse('w', 'v1', 'u1', false, review({ allowed: true })))).toBe(
      'received invalid webhook response: expected response.uid="u1", got ""',
    );
    expect(
      reason(() => verifyAdmissionResponse('w', 'v1', 'u1', false, { response: { uid: 'u1', allowed: true } })),
    ).toBe(
      'received invalid webhook response: expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview, got , Kind=',
    );
    expect(
      reason(() =>
        verifyAdmissionResponse(
          'w',
          'v1',
          'u1',
          true,
          review({ uid: 'u1', allowed: true, patchType: '', patch: 'W10=' }),
        ),
      ),
    ).toBe('received invalid webhook response: webhook returned invalid response.patchType of ""');
    expect(
      reason(() =>
        verifyAdmissionResponse('w', 'v1', 'u1', false, review({ uid: 'u1', allowed: true, patchType: 'JSONPatch' })),
      ),
    ).toBe('received invalid webhook response: validating webhook may not return response.patchType');
    expect(reason(() => verifyAdmissionResponse('w', 'v1', 'u1', false, review({ uid: 'u1', allowed: 'yes' })))).toBe(
      'failed to call webhook: json: cannot unmarshal "yes" into Go struct field AdmissionResponse.response.allowed of type bool',
    );
    expect(
      reason(() =>
        verifyAdmissionResponse(
          'w',
          'v1',
          'u1',
          true,
          review({ uid: 'u1', allowed: true, patch: 'a*==', patchType: 'JSONPatch' }),
        ),
      ),
    ).toBe('failed to call webhook: illegal base64 data at input byte 1');
    expect(
      reason(() =>
        verifyAdmissionResponse(
          'w',
          'v1',
          'u1',
          true,
          review({ uid: 'u1', allowed: true, patch: 'abc', patchType: 'JSONPatch' }),
        ),
      ),
    ).toBe('failed to call webhook: illegal base64 data at input byte 0');
    expect(reason(() => verifyAdmissionResponse('w', 'v1', 'u1', false, [1]))).toMatch(
      /^failed to call webhook: json: cannot unmarshal/,
    );
  });

  it('v1beta1: no uid or kind check; a patch is JSONPatch', () => {
    const r = verifyAdmissionResponse('w', 'v1beta1', 'u1', true, {
      response: { uid: 'other', allowed: true, patch: 'W10=' },
    });
    expect(r.patchType).toBe('JSONPatch');
    expect(r.patch?.toString()).toBe('[]');
    expect(
      verifyAdmissionResponse('w', 'v1beta1', 'u1', false, { response: { allowed: true, patch: 'W10=' } }).patch,
    ).toBeUndefined();
  });
});

describe('pooled connections', () => {
  it('sends again on a new connection when a reused one was closed by the server', async () => {
    const ca = createCA('pool-ca');
    const cert = issueServingCert(ca, { commonName: 'x', dnsNames: [], ipAddresses: ['127.0.0.1'] });
    const perSocket = new Map<Socket, number>();
    let requests = 0;
    const server = https.createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
      requests++;
      const n = (perSocket.get(req.socket) ?? 0) + 1;
      perSocket.set(req.socket, n);
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        // The second request on a kept-alive connection finds it closed (an idle timeout race).
        if (n > 1) return req.socket.destroy();
        const review = JSON.parse(Buffer.concat(chunks).toString()) as AdmissionReview;
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(
          JSON.stringify({
            apiVersion: 'admission.k8s.io/v1',
            kind: 'AdmissionReview',
            response: { uid: review.request!.uid, allowed: true },
          }),
        );
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const c = new WebhookClient();
    const w = {
      name: 'w.upm.io',
      clientConfig: { url: `https://127.0.0.1:${port}/`, caBundle: encodeCABundle(ca.certPem) },
      admissionReviewVersions: ['v1'],
    };
    const req = (uid: string) => ({
      uid,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      operation: 'CREATE' as const,
      userInfo: {},
      object: null,
      oldObject: null,
      dryRun: false,
      options: null,
    });
    try {
      expect((await c.review(w, req('one'), false)).allowed).toBe(true);
      expect((await c.review(w, req('two'), false)).allowed).toBe(true);
      expect(requests).toBe(3);
      expect(perSocket.size).toBe(2);
    } finally {
      c.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
