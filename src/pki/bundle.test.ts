import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createCA, issueClientCert, issueServingCert, keyMatchesCert } from './certs.js';
import { ADMIN_USER, ensureLocalPKI, fresh } from './bundle.js';

const DAY = 24 * 60 * 60 * 1000;
let root: string;
let n = 0;
const freshDir = () => path.join(root, `pki-${++n}`);

beforeAll(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'upm-pki-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const mode = (p: string) => statSync(p).mode & 0o777;
const read = (dir: string, f: string) => readFileSync(path.join(dir, f), 'utf8');

describe('ensureLocalPKI', () => {
  it('creates a CA, a serving and an admin certificate with keys readable only by the owner', async () => {
    const dir = freshDir();
    const t0 = performance.now();
    const pki = await ensureLocalPKI(dir, { serverHosts: ['upm.example.test', '10.1.2.3'] });
    const ms = performance.now() - t0;
    // RSA key generation dominates; three keys on the thread pool take well under a few seconds.
    expect(ms).toBeLessThan(10_000);
    process.stdout.write(`ensureLocalPKI on a fresh directory: ${ms.toFixed(0)} ms\n`);

    expect(pki.generated.sort()).toEqual(['admin', 'apiserver', 'ca']);
    for (const f of ['ca', 'apiserver', 'admin']) {
      expect(mode(path.join(dir, `${f}.key`))).toBe(0o600);
      expect(mode(path.join(dir, `${f}.crt`))).toBe(0o644);
    }
    expect(existsSync(path.join(dir, '.lock'))).toBe(false);
    expect(pki.ca.certPem).toBe(read(dir, 'ca.crt'));
    expect(pki.apiserver.keyPem).toBe(read(dir, 'apiserver.key'));
    expect(pki.admin.certPath).toBe(path.join(path.resolve(dir), 'admin.crt'));

    const ca = new X509Certificate(pki.ca.certPem);
    const api = new X509Certificate(pki.apiserver.certPem);
    const admin = new X509Certificate(pki.admin.certPem);
    expect(ca.ca).toBe(true);
    expect(api.verify(ca.publicKey) && admin.verify(ca.publicKey)).toBe(true);
    for (const h of [
      'localhost',
      'upm-apiserver.upm-system.svc',
      'upm-apiserver.upm-system.svc.cluster.local',
      'upm.example.test',
    ]) {
      expect(api.checkHost(h)).toBe(h);
    }
    for (const ip of ['127.0.0.1', '::1', '10.1.2.3']) expect(api.checkIP(ip)).toBe(ip);
    expect(admin.subject.split('\n').sort()).toEqual(['CN=upm-admin', 'O=system:masters']);
    expect(keyMatchesCert(pki.admin.keyPem, pki.admin.certPem)).toBe(true);
  });

  it('is idempotent: a second call reuses every file', async () => {
    const dir = freshDir();
    const a = await ensureLocalPKI(dir, { serverHosts: ['h1.test'] });
    const b = await ensureLocalPKI(dir, { serverHosts: ['h1.test', 'localhost'] });
    expect(b.generated).toEqual([]);
    expect(b.ca.certPem).toBe(a.ca.certPem);
    expect(b.apiserver.certPem).toBe(a.apiserver.certPem);
    expect(b.admin.keyPem).toBe(a.admin.keyPem);
  });

  it('reissues only the serving certificate when a requested host is not covered', async () => {
    const dir = freshDir();
    const a = await ensureLocalPKI(dir, { serverHosts: [] });
    const b = await ensureLocalPKI(dir, { serverHosts: ['new.example.test'] });
    expect(b.generated).toEqual(['apiserver']);
    expect(b.ca.certPem).toBe(a.ca.certPem);
    expect(b.admin.certPem).toBe(a.admin.certPem);
    expect(new X509Certificate(b.apiserver.certPem).checkHost('new.example.test')).toBe('new.example.test');
    const c = await ensureLocalPKI(dir, { serverHosts: ['192.168.7.7'] });
    expect(c.generated).toEqual(['apiserver']);
    expect(new X509Certificate(c.apiserver.certPem).checkIP('192.168.7.7')).toBe('192.168.7.7');
  });

  it('reissues a leaf in the last third of its lifetime, but not before', async () => {
    const dir = freshDir();
    const a = await ensureLocalPKI(dir, { serverHosts: [] });
    const in200 = new Date(Date.now() + 200 * DAY);
    const b = await ensureLocalPKI(dir, { serverHosts: [], now: in200 });
    expect(b.generated).toEqual([]);
    const in250 = new Date(Date.now() + 250 * DAY);
    const c = await ensureLocalPKI(dir, { serverHosts: [], now: in250 });
    expect(c.generated.sort()).toEqual(['admin', 'apiserver']);
    expect(c.ca.certPem).toBe(a.ca.certPem);
    expect(fresh(new X509Certificate(c.apiserver.certPem), in250)).toBe(true);
  });

  it('replaces an expired leaf and a leaf that is not yet valid', async () => {
    const dir = freshDir();
    const a = await ensureLocalPKI(dir, { serverHosts: [] });
    const old = issueClientCert(a.ca, {
      commonName: ADMIN_USER,
      organizations: ['system:masters'],
      now: new Date(Date.now() - 400 * DAY),
    });
    writeFileSync(path.join(dir, 'admin.crt'), old.certPem);
    writeFileSync(path.join(dir, 'admin.key'), old.keyPem);
    expect((await ensureLocalPKI(dir, { serverHosts: [] })).generated).toEqual(['admin']);
    const future = issueClientCert(a.ca, {
      commonName: ADMIN_USER,
      organizations: ['system:masters'],
      now: new Date(Date.now() + 2 * DAY),
    });
    writeFileSync(path.join(dir, 'admin.crt'), future.certPem);
    writeFileSync(path.join(dir, 'admin.key'), future.keyPem);
    expect((await ensureLocalPKI(dir, { serverHosts: [] })).generated).toEqual(['admin']);
  });

  it('replaces leaves signed by another CA, with a mismatched key, with the wrong identity, or unreadable', async () => {
    const dir = freshDir();
    const a = await ensureLocalPKI(dir, { serverHosts: [] });
    const other = createCA('other');
    const foreign = issueServingCert(other, {
      commonName: 'x',
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1', '::1'],
    });
    writeFileSync(path.join(dir, 'apiserver.crt'), foreign.certPem);
    writeFileSync(path.join(dir, 'apiserver.key'), foreign.keyPem);
    expect((await ensureLocalPKI(dir, { serverHosts: [] })).generated).toEqual(['apiserver']);

    writeFileSync(path.join(dir, 'apiserver.key'), a.admin.keyPem);
    expect((await ensureLocalPKI(dir, { serverHosts: [] })).generated).toEqual(['apiserver']);

    const notAdmin = issueClientCert(a.ca, { commonName: 'someone', organizations: ['system:masters'] });
    writeFileSync(path.join(dir, 'admin.crt'), notAdmin.certPem);
    writeFileSync(path.join(dir, 'admin.key'), notAdmin.keyPem);
    expect((await ensureLocalPKI(dir, { serverHosts: [] })).generated).toEqual(['admin']);

    writeFileSync(path.join(dir, 'admin.crt'), 'not a certificate');
    expect((await ensureLocalPKI(dir, { serverHosts: [] })).generated).toEqual(['admin']);
  });

  it('regenerates everything when the CA is missing or broken', async () => {
    const dir = freshDir();
    const a = await ensureLocalPKI(dir, { serverHosts: [] });
    rmSync(path.join(dir, 'ca.key'));
    const b = await ensureLocalPKI(dir, { serverHosts: [] });
    expect(b.generated.sort()).toEqual(['admin', 'apiserver', 'ca']);
    expect(b.ca.certPem).not.toBe(a.ca.certPem);
    const ca = new X509Certificate(b.ca.certPem);
    expect(new X509Certificate(b.apiserver.certPem).verify(ca.publicKey)).toBe(true);
    expect(new X509Certificate(b.admin.certPem).verify(ca.publicKey)).toBe(true);

    // a leaf (not a CA) in ca.crt/ca.key
    writeFileSync(path.join(dir, 'ca.crt'), b.apiserver.certPem);
    writeFileSync(path.join(dir, 'ca.key'), b.apiserver.keyPem);
    expect((await ensureLocalPKI(dir, { serverHosts: [] })).generated.sort()).toEqual(['admin', 'apiserver', 'ca']);
  });

  it('gives concurrent callers on one directory the same, consistent result', async () => {
    const dir = freshDir();
    const results = await Promise.all([1, 2, 3, 4].map(() => ensureLocalPKI(dir, { serverHosts: ['c.test'] })));
    expect(results.filter((r) => r.generated.length > 0)).toHaveLength(1);
    for (const r of results) {
      expect(r.ca.certPem).toBe(results[0]!.ca.certPem);
      expect(r.apiserver.certPem).toBe(read(dir, 'apiserver.crt'));
    }
  });

  it('waits for a lock held by another process and breaks a stale one', async () => {
    const dir = freshDir();
    await ensureLocalPKI(dir, { serverHosts: [] });
    const lock = path.join(dir, '.lock');
    writeFileSync(lock, '99999');
    let done = false;
    const p = ensureLocalPKI(dir, { serverHosts: [] }).then((r) => ((done = true), r));
    await new Promise((r) => setTimeout(r, 150));
    expect(done).toBe(false);
    rmSync(lock);
    expect((await p).generated).toEqual([]);

    writeFileSync(lock, '99999');
    const { utimesSync } = await import('node:fs');
    const past = new Date(Date.now() - 5 * 60_000);
    utimesSync(lock, past, past);
    expect((await ensureLocalPKI(dir, { serverHosts: [] })).generated).toEqual([]);
  });
});
