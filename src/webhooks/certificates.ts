// The webhook server's serving certificate, kept in a Secret (type kubernetes.io/tls: tls.crt,
// tls.key, ca.crt) so every replica serves the same one and a restart keeps it.
//
// Two owners, one code path: the Secret is read, checked (the key matches, the names cover
// `<service>.<namespace>.svc`, it is not about to expire) and followed. Who writes it depends on
// an annotation: a Secret annotated cert-manager.io/certificate-name belongs to cert-manager,
// which renews it (we only follow); any other is ours, with a self-managed CA (ca.key): we
// create it when missing, and issue a new certificate `renewBefore` its expiry (a new CA too,
// when the CA itself is that close; ca.crt then carries the old and the new CA until the old
// one expires, so callers trusting either keep working).
//
// Changes reach the server with setSecureContext: connections already open keep their
// certificate, new ones get the new one, so no request fails during a renewal. Several
// replicas may race to create or renew; the Secret's resourceVersion settles it and the loser
// reads the winner's certificate.

import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import type { CoreV1Api, V1Secret } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { isAlreadyExists, isConflict, isNotFound } from '../machinery/errors.js';
import { createCA, issueServingCert, keyMatchesCert, type CertKeyPair } from '../pki/certs.js';

export const CERT_MANAGER_ANNOTATION = 'cert-manager.io/certificate-name';
const DAY_MS = 24 * 60 * 60 * 1000;

export interface ServingBundle {
  certPem: string;
  keyPem: string;
  /** PEM of the CA certificates clients should trust (ca.crt). */
  caPem: string;
  notAfter: Date;
  /** Who renews it. */
  owner: 'self' | 'cert-manager';
}

export interface ServingCertificatesOptions {
  core: Pick<CoreV1Api, 'readNamespacedSecret' | 'createNamespacedSecret' | 'replaceNamespacedSecret'>;
  namespace: string;
  secretName: string;
  /** The Service in front of the server: the certificate names `<service>.<namespace>.svc` (and `.cluster.local`). */
  serviceName: string;
  /** More DNS names or IP addresses to certify (local mode: 127.0.0.1). */
  extraHosts?: string[];
  /** Lifetime of a serving certificate. Default 365 days. */
  validityMs?: number;
  /** Renew this long before expiry. Default a third of validityMs. */
  renewBeforeMs?: number;
  /** Lifetime of a self-managed CA. Default 10 years. */
  caValidityMs?: number;
  log: Pick<Logger, 'info' | 'warn'>;
  now?: () => Date;
}

interface SecretContents {
  bundle?: ServingBundle;
  ca?: CertKeyPair;
  resourceVersion?: string;
  managedByCertManager: boolean;
}

function text(secret: V1Secret, key: string): string | undefined {
  const b64 = secret.data?.[key];
  return b64 === undefined ? undefined : Buffer.from(b64, 'base64').toString('utf8');
}

function b64(s: string): string {
  return Buffer.from(s, 'utf8').toString('base64');
}

/** The certificates of a PEM bundle, oldest notAfter last is not assumed. */
function splitPEM(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? [];
}

export class ServingCertificates {
  private bundle: ServingBundle | undefined;
  private readonly listeners: ((b: ServingBundle) => void)[] = [];
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly hosts: string[];
  private readonly validityMs: number;
  private readonly renewBeforeMs: number;
  private readonly now: () => Date;

  constructor(private readonly o: ServingCertificatesOptions) {
    this.hosts = [
      `${o.serviceName}.${o.namespace}.svc`,
      `${o.serviceName}.${o.namespace}.svc.cluster.local`,
      ...(o.extraHosts ?? []),
    ];
    this.validityMs = o.validityMs ?? 365 * DAY_MS;
    this.renewBeforeMs = o.renewBeforeMs ?? Math.floor(this.validityMs / 3);
    this.now = o.now ?? (() => new Date());
  }

  /** The bundle being served; throws before ensure() succeeded. */
  current(): ServingBundle {
    if (!this.bundle) throw new Error('no serving certificate yet');
    return this.bundle;
  }

  /** Called with every new bundle after the first. */
  onChange(listener: (b: ServingBundle) => void): void {
    this.listeners.push(listener);
  }

  /** Reads the Secret and, when the certificate is ours and missing or due, issues one. */
  async ensure(): Promise<ServingBundle> {
    for (let attempt = 0; ; attempt++) {
      const contents = await this.read();
      if (contents.bundle && (contents.managedByCertManager || !this.due(contents.bundle, contents.ca))) {
        return this.use(contents.bundle);
      }
      if (contents.managedByCertManager) {
        throw new Error(
          `Secret ${this.o.namespace}/${this.o.secretName} belongs to cert-manager but holds no usable certificate for ${this.hosts[0]}`,
        );
      }
      try {
        return this.use(await this.issue(contents));
      } catch (err) {
        // Another replica wrote the Secret first: use what it wrote.
        if ((isConflict(err) || isAlreadyExists(err)) && attempt < 5) continue;
        throw err;
      }
    }
  }

  /** Checks (and renews) on a timer until stop(): at the renewal time, and at least every `pollMs`. */
  start(pollMs = 60_000): void {
    const schedule = () => {
      if (this.stopped) return;
      const b = this.bundle;
      const untilRenewal = b ? b.notAfter.getTime() - this.renewBeforeMs - this.now().getTime() : 0;
      const delay = Math.max(200, Math.min(pollMs, untilRenewal));
      this.timer = setTimeout(() => {
        this.ensure().then(schedule, (err: unknown) => {
          this.o.log.warn({ err: (err as Error).message }, 'checking the serving certificate failed; retrying');
          if (!this.stopped) this.timer = setTimeout(schedule, Math.min(pollMs, 5_000));
        });
      }, delay);
    };
    schedule();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private use(b: ServingBundle): ServingBundle {
    const changed = !this.bundle || this.bundle.certPem !== b.certPem || this.bundle.caPem !== b.caPem;
    const first = !this.bundle;
    this.bundle = b;
    if (changed && !first) {
      this.o.log.info({ notAfter: b.notAfter.toISOString(), owner: b.owner }, 'serving certificate changed');
      for (const l of this.listeners) l(b);
    }
    return b;
  }

  /** Whether a certificate must be replaced: wrong key, names or CA, or within renewBefore of expiry. */
  private due(b: ServingBundle, ca: CertKeyPair | undefined): boolean {
    const now = this.now().getTime();
    if (b.notAfter.getTime() - this.renewBeforeMs <= now) return true;
    if (!keyMatchesCert(b.keyPem, b.certPem)) return true;
    const cert = new X509Certificate(b.certPem);
    if (!this.hosts.every((h) => (isIP(h) ? cert.checkIP(h) : cert.checkHost(h)) !== undefined)) return true;
    if (ca) {
      if (!cert.checkIssued(new X509Certificate(ca.certPem))) return true;
      if (new Date(new X509Certificate(ca.certPem).validTo).getTime() - this.renewBeforeMs <= now) return true;
    }
    return false;
  }

  private async read(): Promise<SecretContents> {
    let secret: V1Secret;
    try {
      secret = await this.o.core.readNamespacedSecret({ name: this.o.secretName, namespace: this.o.namespace });
    } catch (err) {
      if (isNotFound(err)) return { managedByCertManager: false };
      throw err;
    }
    const managedByCertManager = secret.metadata?.annotations?.[CERT_MANAGER_ANNOTATION] !== undefined;
    const certPem = text(secret, 'tls.crt');
    const keyPem = text(secret, 'tls.key');
    const caPem = text(secret, 'ca.crt');
    const caKey = text(secret, 'ca.key');
    const out: SecretContents = { managedByCertManager, resourceVersion: secret.metadata?.resourceVersion };
    if (caPem && caKey) {
      const newest = splitPEM(caPem).find((c) => keyMatchesCert(caKey, c));
      if (newest) out.ca = { certPem: newest, keyPem: caKey };
    }
    if (certPem && keyPem) {
      try {
        out.bundle = {
          certPem,
          keyPem,
          caPem: caPem ?? '',
          notAfter: new Date(new X509Certificate(certPem).validTo),
          owner: managedByCertManager ? 'cert-manager' : 'self',
        };
      } catch {
        // unparseable: reissued below
      }
    }
    return out;
  }

  private async issue(contents: SecretContents): Promise<ServingBundle> {
    const now = this.now();
    let ca = contents.ca;
    let caPem = contents.bundle?.caPem ?? '';
    const caExpiring =
      ca && new Date(new X509Certificate(ca.certPem).validTo).getTime() - this.renewBeforeMs <= now.getTime();
    if (!ca || caExpiring) {
      ca = createCA(`${this.o.serviceName}-ca`, {
        validityDays: (this.o.caValidityMs ?? 3650 * DAY_MS) / DAY_MS,
        now,
      });
      // Keep trusting the CAs that have not expired yet, so certificates they signed stay valid.
      const stillValid = splitPEM(caPem).filter((c) => new Date(new X509Certificate(c).validTo) > now);
      caPem = [ca.certPem, ...stillValid].map((c) => c.trimEnd() + '\n').join('');
      this.o.log.info({ secret: `${this.o.namespace}/${this.o.secretName}` }, 'created a new webhook CA');
    } else if (!caPem.includes(ca.certPem.trim())) {
      caPem = ca.certPem;
    }
    const serving = issueServingCert(ca, {
      commonName: this.hosts[0]!,
      dnsNames: this.hosts.filter((h) => isIP(h) === 0),
      ipAddresses: this.hosts.filter((h) => isIP(h) !== 0),
      validityDays: this.validityMs / DAY_MS,
      now,
    });
    const secret: V1Secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: this.o.secretName,
        namespace: this.o.namespace,
        labels: { 'app.kubernetes.io/managed-by': 'upm-engine' },
        ...(contents.resourceVersion ? { resourceVersion: contents.resourceVersion } : {}),
      },
      type: 'kubernetes.io/tls',
      data: {
        'tls.crt': b64(serving.certPem),
        'tls.key': b64(serving.keyPem),
        'ca.crt': b64(caPem),
        'ca.key': b64(ca.keyPem),
      },
    };
    if (contents.resourceVersion)
      await this.o.core.replaceNamespacedSecret({ name: this.o.secretName, namespace: this.o.namespace, body: secret });
    else await this.o.core.createNamespacedSecret({ namespace: this.o.namespace, body: secret });
    const notAfter = new Date(new X509Certificate(serving.certPem).validTo);
    this.o.log.info(
      { secret: `${this.o.namespace}/${this.o.secretName}`, notAfter: notAfter.toISOString() },
      'issued a serving certificate',
    );
    return { certPem: serving.certPem, keyPem: serving.keyPem, caPem, notAfter, owner: 'self' };
  }
}
