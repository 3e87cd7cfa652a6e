// The serving certificate against a real API server (the local control plane's kinds over
// HTTPS): created in a Secret, shared by replicas, renewed while a client keeps sending
// reviews (none fails), and followed, not written, when cert-manager owns the Secret.

import { X509Certificate } from 'node:crypto';
import { Agent, request as httpsRequest } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import pino from 'pino';
import { WebhookClient } from '../apiserver/admission/client.js';
import { startTestCluster, type TestCluster } from '../localcluster/testing/controlplane.js';
import { createCA, issueServingCert } from '../pki/certs.js';
import { CERT_MANAGER_ANNOTATION, ServingCertificates, type ServingCertificatesOptions } from './certificates.js';
import { startWebhookServer } from './server.js';
import { unitTemplateWebhook } from './unittemplate/validate.js';

const log = pino({ level: 'silent' });
const namespace = 'upm-system';

describe('serving certificates in a Secret', () => {
  let cluster: TestCluster;
  let core: CoreV1Api;

  beforeAll(async () => {
    cluster = await startTestCluster();
    const kc = new KubeConfig();
    kc.loadFromString(cluster.kubeconfigText);
    core = kc.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } } });
  });
  afterAll(async () => {
    await cluster?.close();
  });

  const manager = (secretName: string, extra: Partial<ServingCertificatesOptions> = {}) =>
    new ServingCertificates({ core, namespace, secretName, serviceName: 'upm-webhooks', log, ...extra });

  it('creates the Secret with a CA and a certificate for the Service, and reuses it', async () => {
    const first = await manager('certs-a', { extraHosts: ['127.0.0.1'] }).ensure();
    const cert = new X509Certificate(first.certPem);
    expect(cert.subjectAltName).toBe(
      'DNS:upm-webhooks.upm-system.svc, DNS:upm-webhooks.upm-system.svc.cluster.local, IP Address:127.0.0.1',
    );
    expect(cert.checkIssued(new X509Certificate(first.caPem))).toBe(true);
    const secret = await core.readNamespacedSecret({ name: 'certs-a', namespace });
    expect(secret.type).toBe('kubernetes.io/tls');
    expect(Object.keys(secret.data ?? {}).sort()).toEqual(['ca.crt', 'ca.key', 'tls.crt', 'tls.key']);
    // Another replica (or a restart) uses what is there.
    const again = await manager('certs-a', { extraHosts: ['127.0.0.1'] }).ensure();
    expect(again.certPem).toBe(first.certPem);
    // Different names: a new certificate from the same CA.
    const renamed = await manager('certs-a', { extraHosts: ['10.0.0.1'] }).ensure();
    expect(renamed.certPem).not.toBe(first.certPem);
    expect(renamed.caPem).toBe(first.caPem);
  });

  it('lets racing replicas end up with one certificate', async () => {
    const results = await Promise.all([1, 2, 3].map(() => manager('certs-race').ensure()));
    expect(new Set(results.map((r) => r.certPem)).size).toBe(1);
  });

  it('renews an expiring certificate while a client sends reviews in a loop, and none fails', async () => {
    const certs = manager('certs-rotate', { extraHosts: ['127.0.0.1'], validityMs: 2_500, renewBeforeMs: 1_500 });
    const initial = await certs.ensure();
    const server = await startWebhookServer({
      webhooks: [unitTemplateWebhook],
      certPem: initial.certPem,
      keyPem: initial.keyPem,
      port: 0,
      bindAddress: '127.0.0.1',
      log,
    });
    const renewals: string[] = [];
    certs.onChange((b) => {
      renewals.push(b.certPem);
      server.setCertificate(b.certPem, b.keyPem);
    });
    certs.start(200);
    const client = new WebhookClient({ resolveService: () => ({ host: '127.0.0.1', port: server.port }) });
    const target = () => ({
      name: 'unittemplates.validate.upm.io',
      clientConfig: {
        service: { namespace, name: 'upm-webhooks', path: '/validate-unittemplate' },
        caBundle: Buffer.from(certs.current().caPem).toString('base64'),
      },
      timeoutSeconds: 5,
      admissionReviewVersions: ['v1'],
    });
    const review = (i: number) => ({
      uid: `u${i}`,
      kind: { group: 'upm.io', version: 'v1alpha1', kind: 'UnitTemplate' },
      resource: { group: 'upm.io', version: 'v1alpha1', resource: 'unittemplates' },
      operation: 'CREATE' as const,
      userInfo: {},
      object: { apiVersion: 'upm.io/v1alpha1', kind: 'UnitTemplate', metadata: { name: 't' }, spec: {} },
      oldObject: null,
      dryRun: false,
      options: null,
    });
    /** A new TLS connection each time: which certificate is served now. */
    const freshConnection = () =>
      new Promise<string>((resolve, reject) => {
        const agent = new Agent({ keepAlive: false });
        const req = httpsRequest(
          {
            host: '127.0.0.1',
            port: server.port,
            path: '/healthz',
            ca: certs.current().caPem,
            servername: 'upm-webhooks.upm-system.svc',
            agent,
          },
          (res) => {
            const serial = (res.socket as TLSSocket).getPeerCertificate().serialNumber;
            res.resume();
            res.on('end', () => resolve(serial));
          },
        );
        req.on('error', reject);
        req.end();
      });

    let sent = 0;
    const failures: string[] = [];
    const serials = new Set<string>();
    const until = Date.now() + 5_000;
    const loop = async (fresh: boolean) => {
      while (Date.now() < until) {
        const i = sent++;
        try {
          if (fresh) serials.add(await freshConnection());
          else {
            const r = await client.review(target(), review(i), false);
            if (!r.allowed && r.status?.code !== 422) failures.push(`review ${i}: ${JSON.stringify(r.status)}`);
          }
        } catch (err) {
          failures.push(`request ${i}: ${(err as Error).message}`);
        }
      }
    };
    try {
      await Promise.all([loop(false), loop(false), loop(true)]);
    } finally {
      certs.stop();
      client.close();
      await server.close();
    }
    expect(failures).toEqual([]);
    expect(sent).toBeGreaterThan(100);
    expect(renewals.length).toBeGreaterThanOrEqual(2);
    expect(serials.size).toBeGreaterThanOrEqual(2);
    // The Secret holds the latest one.
    const secret = await core.readNamespacedSecret({ name: 'certs-rotate', namespace });
    expect(Buffer.from(secret.data!['tls.crt']!, 'base64').toString()).toBe(certs.current().certPem);
  });

  it('keeps trusting the old CA while a new one takes over', async () => {
    // On a clock of our own (certificate times are whole seconds): the CA expires at t0+3 s, so
    // at t0+2 s it is due for renewal (1.5 s before expiry) and still valid.
    let now = Date.parse('2026-06-01T00:00:00Z');
    const certs = manager('certs-ca', {
      caValidityMs: 3_500,
      validityMs: 2_000,
      renewBeforeMs: 1_500,
      now: () => new Date(now),
    });
    const before = await certs.ensure();
    now += 2_000;
    const after = await certs.ensure();
    expect(after.certPem).not.toBe(before.certPem);
    const bundle = after.caPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)!;
    expect(bundle).toHaveLength(2);
    expect(bundle[1]!.trim()).toBe(before.caPem.trim());
    expect(new X509Certificate(after.certPem).checkIssued(new X509Certificate(bundle[0]!))).toBe(true);
  });

  it('follows a Secret that cert-manager owns and never writes it', async () => {
    const ca = createCA('cert-manager-ca');
    const issue = () =>
      issueServingCert(ca, {
        commonName: 'upm-webhooks',
        dnsNames: ['upm-webhooks.upm-system.svc', 'upm-webhooks.upm-system.svc.cluster.local'],
        ipAddresses: [],
        validityDays: 1 / 24 / 60,
      });
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const write = async (pair: { certPem: string; keyPem: string }, create: boolean) => {
      const resourceVersion = create
        ? undefined
        : (await core.readNamespacedSecret({ name: 'certs-cm', namespace })).metadata?.resourceVersion;
      const body = {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: {
          name: 'certs-cm',
          namespace,
          resourceVersion,
          annotations: { [CERT_MANAGER_ANNOTATION]: 'upm-webhooks' },
        },
        type: 'kubernetes.io/tls',
        data: { 'tls.crt': b64(pair.certPem), 'tls.key': b64(pair.keyPem), 'ca.crt': b64(ca.certPem) },
      };
      if (create) await core.createNamespacedSecret({ namespace, body });
      else await core.replaceNamespacedSecret({ name: 'certs-cm', namespace, body });
    };
    const first = issue();
    await write(first, true);
    const certs = manager('certs-cm');
    const changes: string[] = [];
    certs.onChange((b) => changes.push(b.certPem));
    // Due for renewal by our rules (one minute left, a third of a year asked): still not ours to renew.
    const got = await certs.ensure();
    expect(got).toMatchObject({ certPem: first.certPem, owner: 'cert-manager', caPem: ca.certPem });
    const rv = (await core.readNamespacedSecret({ name: 'certs-cm', namespace })).metadata?.resourceVersion;
    certs.start(100);
    let second: { certPem: string; keyPem: string } | undefined;
    try {
      await new Promise((r) => setTimeout(r, 400));
      expect((await core.readNamespacedSecret({ name: 'certs-cm', namespace })).metadata?.resourceVersion).toBe(rv);
      // cert-manager renews: the new certificate is picked up.
      second = issue();
      await write(second, false);
      const deadline = Date.now() + 3_000;
      while (changes.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    } finally {
      certs.stop();
    }
    expect(changes).toEqual([second?.certPem]);
  });
});
