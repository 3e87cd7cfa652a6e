import { createPrivateKey, X509Certificate } from 'node:crypto';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import forge from 'node-forge';
import {
  CLOCK_SKEW_MS,
  createCA,
  issueClientCert,
  issueServingCert,
  keyMatchesCert,
  type CertKeyPair,
} from './certs.js';

const DAY = 24 * 60 * 60 * 1000;
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

const ca = createCA('upm-test-ca');
const otherCA = createCA('some-other-ca');
const serving = issueServingCert(ca, {
  commonName: 'upm-apiserver',
  dnsNames: ['localhost', 'upm-apiserver.upm-system.svc', 'upm-apiserver.upm-system.svc.cluster.local'],
  ipAddresses: ['127.0.0.1', '::1'],
});
const admin = issueClientCert(ca, { commonName: 'upm-admin', organizations: ['system:masters'] });

function x509(pair: CertKeyPair): X509Certificate {
  return new X509Certificate(pair.certPem);
}

function forgeExt<T>(pem: string, name: string): T {
  return forge.pki.certificateFromPem(pem).getExtension(name) as T;
}

describe('createCA', () => {
  it('is a self-signed CA with keyCertSign/cRLSign and a back-dated 10-year validity', () => {
    const c = x509(ca);
    expect(c.ca).toBe(true);
    expect(c.subject).toBe('CN=upm-test-ca');
    expect(c.issuer).toBe(c.subject);
    expect(c.verify(c.publicKey)).toBe(true);
    expect(c.checkIssued(c)).toBe(true);
    const from = Date.parse(c.validFrom);
    const to = Date.parse(c.validTo);
    expect(Date.now() - from).toBeGreaterThanOrEqual(CLOCK_SKEW_MS - 2000);
    expect(Date.now() - from).toBeLessThanOrEqual(CLOCK_SKEW_MS + 60_000);
    expect(Math.round((to - Date.now()) / DAY)).toBe(3650);
    const bc = forgeExt<{ cA: boolean; critical: boolean }>(ca.certPem, 'basicConstraints');
    expect(bc).toMatchObject({ cA: true, critical: true });
    const ku = forgeExt<Record<string, boolean>>(ca.certPem, 'keyUsage');
    expect(ku).toMatchObject({ keyCertSign: true, cRLSign: true, critical: true });
    expect(forgeExt<{ subjectKeyIdentifier: string }>(ca.certPem, 'subjectKeyIdentifier').subjectKeyIdentifier).toMatch(
      /^[0-9a-f]{40}$/,
    );
  });

  it('returns a PKCS#8 RSA 2048 key matching the certificate', () => {
    expect(ca.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    const key = createPrivateKey(ca.keyPem);
    expect(key.asymmetricKeyType).toBe('rsa');
    expect(key.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(keyMatchesCert(ca.keyPem, ca.certPem)).toBe(true);
    expect(keyMatchesCert(otherCA.keyPem, ca.certPem)).toBe(false);
    expect(keyMatchesCert('garbage', ca.certPem)).toBe(false);
  });

  it('uses random, positive, minimally encoded serials of at most 128 bits', () => {
    // forge keeps the DER INTEGER body as hex
    const der = (pem: string) => forge.pki.certificateFromPem(pem).serialNumber;
    const serials = new Set<string>();
    for (let i = 0; i < 20; i++) serials.add(der(createCA('s', { keyPem: ca.keyPem }).certPem));
    serials.add(der(ca.certPem));
    serials.add(der(serving.certPem));
    expect(serials.size).toBe(22);
    expect(BigInt(`0x${x509(ca).serialNumber}`)).toBe(BigInt(`0x${der(ca.certPem)}`));
    for (const s of serials) {
      const n = BigInt(`0x${s}`);
      expect(n > 0n).toBe(true);
      expect(n < 1n << 128n).toBe(true);
      // DER: a leading 00 only when the next byte has its high bit set
      expect(s.startsWith('00') ? parseInt(s.slice(2, 4), 16) >= 0x80 : parseInt(s.slice(0, 2), 16) < 0x80).toBe(true);
    }
  });

  it('honours validityDays, now and a supplied key', () => {
    const now = new Date('2030-01-01T00:00:00Z');
    const c = x509(createCA('x', { validityDays: 2, now, keyPem: otherCA.keyPem }));
    expect(new Date(c.validFrom).toISOString()).toBe('2029-12-31T23:00:00.000Z');
    expect(new Date(c.validTo).toISOString()).toBe('2030-01-03T00:00:00.000Z');
    expect(keyMatchesCert(otherCA.keyPem, c.toString())).toBe(true);
    expect(() => createCA('x', { validityDays: 0 })).toThrow(/validityDays/);
    expect(() => createCA('')).toThrow(/commonName/);
  });
});

describe('issueServingCert', () => {
  const c = x509(serving);

  it('is issued and signed by the CA, is not a CA, and has EKU serverAuth only', () => {
    expect(c.issuer).toBe('CN=upm-test-ca');
    expect(c.subject).toBe('CN=upm-apiserver');
    expect(c.verify(x509(ca).publicKey)).toBe(true);
    expect(c.verify(x509(otherCA).publicKey)).toBe(false);
    expect(c.checkIssued(x509(ca))).toBe(true);
    expect(c.ca).toBe(false);
    expect(c.keyUsage).toEqual([SERVER_AUTH]);
    expect(keyMatchesCert(serving.keyPem, serving.certPem)).toBe(true);
    expect(Math.round((Date.parse(c.validTo) - Date.now()) / DAY)).toBe(365);
    expect(Date.parse(c.validFrom)).toBeLessThan(Date.now() - CLOCK_SKEW_MS + 60_000);
  });

  it('covers every requested DNS name and IP and nothing else', () => {
    for (const h of ['localhost', 'upm-apiserver.upm-system.svc', 'upm-apiserver.upm-system.svc.cluster.local']) {
      expect(c.checkHost(h)).toBe(h);
    }
    expect(c.checkHost('upm-apiserver')).toBeUndefined();
    expect(c.checkHost('evil.example.com')).toBeUndefined();
    expect(c.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(c.checkIP('::1')).toBe('::1');
    expect(c.checkIP('0:0:0:0:0:0:0:1')).toBe('0:0:0:0:0:0:0:1');
    expect(c.checkIP('10.0.0.1')).toBeUndefined();
    expect(c.subjectAltName).toBe(
      'DNS:localhost, DNS:upm-apiserver.upm-system.svc, DNS:upm-apiserver.upm-system.svc.cluster.local, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1',
    );
  });

  it('links to the CA by AuthorityKeyIdentifier = CA SubjectKeyIdentifier', () => {
    const caSki = forgeExt<{ subjectKeyIdentifier: string }>(ca.certPem, 'subjectKeyIdentifier').subjectKeyIdentifier;
    const aki = forge.pki.certificateFromPem(serving.certPem).getExtension('authorityKeyIdentifier') as {
      value: string;
    };
    // AuthorityKeyIdentifier ::= SEQUENCE { [0] keyIdentifier }
    const seq = forge.asn1.fromDer(aki.value);
    const keyId = (seq.value as forge.asn1.Asn1[])[0]!;
    expect(forge.util.bytesToHex(keyId.value as string)).toBe(caSki);
    const ski = forgeExt<{ subjectKeyIdentifier: string }>(
      serving.certPem,
      'subjectKeyIdentifier',
    ).subjectKeyIdentifier;
    expect(ski).toMatch(/^[0-9a-f]{40}$/);
    expect(ski).not.toBe(caSki);
    const bc = forgeExt<{ cA: boolean }>(serving.certPem, 'basicConstraints');
    expect(bc.cA).toBe(false);
  });

  it('rejects bad input', () => {
    expect(() => issueServingCert(ca, { commonName: 'x', dnsNames: [], ipAddresses: [] })).toThrow(/at least one/);
    expect(() => issueServingCert(ca, { commonName: 'x', dnsNames: ['bad name'], ipAddresses: [] })).toThrow(/DNS/);
    expect(() => issueServingCert(ca, { commonName: 'x', dnsNames: [], ipAddresses: ['300.1.1.1'] })).toThrow(/IP/);
    expect(() =>
      issueServingCert(
        { certPem: ca.certPem, keyPem: otherCA.keyPem },
        { commonName: 'x', dnsNames: ['a'], ipAddresses: [] },
      ),
    ).toThrow(/does not match/);
    expect(() => issueServingCert(serving, { commonName: 'x', dnsNames: ['a'], ipAddresses: [] })).toThrow(/not a CA/);
  });
});

describe('issueClientCert', () => {
  it('carries the user as CN and the groups as O, with EKU clientAuth', () => {
    const c = x509(admin);
    expect(c.subject.split('\n').sort()).toEqual(['CN=upm-admin', 'O=system:masters']);
    expect(c.keyUsage).toEqual([CLIENT_AUTH]);
    expect(c.ca).toBe(false);
    expect(c.verify(x509(ca).publicKey)).toBe(true);
    const multi = x509(
      issueClientCert(ca, { commonName: 'alice@example.com', organizations: ['dev_team', 'ops', 'dev_team'] }),
    );
    expect(multi.subject.split('\n').sort()).toEqual(['CN=alice@example.com', 'O=dev_team', 'O=ops']);
  });
});

describe('TLS handshake with the issued certificates', () => {
  let server: https.Server;
  let port: number;

  beforeAll(async () => {
    server = https.createServer(
      { cert: serving.certPem, key: serving.keyPem, ca: [ca.certPem], requestCert: true, rejectUnauthorized: false },
      (req, res) => {
        const socket = req.socket as TLSSocket;
        const peer = socket.getPeerCertificate();
        res.setHeader('content-type', 'application/json');
        res.end(
          JSON.stringify({
            authorized: socket.authorized,
            authorizationError: socket.authorizationError ? String(socket.authorizationError) : null,
            cn: peer?.subject?.CN ?? null,
            o: peer?.subject?.O ?? null,
          }),
        );
      },
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  function get(opts: https.RequestOptions): Promise<any> {
    return new Promise((resolve, reject) => {
      const req = https.request({ host: '127.0.0.1', port, path: '/', agent: false, ...opts }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve(JSON.parse(body)));
      });
      req.on('error', reject);
      req.end();
    });
  }

  it('authorizes the admin client certificate and exposes its CN and O', async () => {
    const r = await get({ ca: ca.certPem, cert: admin.certPem, key: admin.keyPem });
    expect(r).toEqual({ authorized: true, authorizationError: null, cn: 'upm-admin', o: 'system:masters' });
  });

  it('verifies the server under the in-cluster service name (SNI) used by kube-aggregator', async () => {
    const r = await get({
      ca: ca.certPem,
      servername: 'upm-apiserver.upm-system.svc',
      cert: admin.certPem,
      key: admin.keyPem,
    });
    expect(r.authorized).toBe(true);
  });

  it('sees a connection without a client certificate as unauthorized', async () => {
    const r = await get({ ca: ca.certPem });
    expect(r.authorized).toBe(false);
    expect(r.cn).toBeNull();
  });

  it('does not authorize a client certificate from a different CA', async () => {
    const stranger = issueClientCert(otherCA, { commonName: 'upm-admin', organizations: ['system:masters'] });
    const r = await get({ ca: ca.certPem, cert: stranger.certPem, key: stranger.keyPem });
    expect(r.authorized).toBe(false);
    expect(r.authorizationError).toMatch(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT/);
    expect(r.cn).toBe('upm-admin');
  });

  it('does not authorize a certificate without EKU clientAuth as a client', async () => {
    const r = await get({ ca: ca.certPem, cert: serving.certPem, key: serving.keyPem });
    expect(r.authorized).toBe(false);
    expect(r.authorizationError).toMatch(/purpose/i);
  });

  it('makes a client that trusts another CA, or expects another name, reject the server', async () => {
    await expect(get({ ca: otherCA.certPem })).rejects.toThrow(/self[- ]signed|unable to (get|verify)/i);
    await expect(get({ ca: ca.certPem, servername: 'upm-apiserver.other.svc' })).rejects.toThrow(/altnames|Hostname/i);
  });
});
