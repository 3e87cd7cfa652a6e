// The local PKI of `upm-engine local`: one CA, the API server's serving certificate and an
// admin client certificate, kept in a directory and reused across runs.
//
//   <dir>/ca.crt         ca.key          self-signed CA (10 years)
//   <dir>/apiserver.crt  apiserver.key   serving cert (1 year), SANs: localhost, 127.0.0.1, ::1,
//                                        upm-apiserver.upm-system.svc[.cluster.local], serverHosts
//   <dir>/admin.crt      admin.key       client cert (1 year), CN upm-admin, O system:masters
//
// ensureLocalPKI is idempotent: it loads what is there and regenerates only what is missing,
// unreadable, not matching its key, not signed by the current CA, expired or in the last third
// of its lifetime, or (serving cert) not covering every requested host. A new CA forces new
// leaves, because the old ones no longer verify. Keys are written with mode 0600, certificates
// 0644, each through a temporary file and rename so a reader never sees half a file; a lock file
// serialises processes working on the same directory.

import { X509Certificate } from 'node:crypto';
import { chmod, mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import path from 'node:path';
import {
  createCA,
  DEFAULT_CA_VALIDITY_DAYS,
  DEFAULT_LEAF_VALIDITY_DAYS,
  generateKey,
  issueClientCert,
  issueServingCert,
  keyMatchesCert,
  type CertKeyPair,
} from './certs.js';

export const CA_COMMON_NAME = 'upm-engine-ca';
export const APISERVER_COMMON_NAME = 'upm-apiserver';
export const ADMIN_USER = 'upm-admin';
export const ADMIN_GROUPS = ['system:masters'];
/** In-cluster names of the API server's Service (config/apiservice/service.yaml). */
export const SERVICE_HOSTS = ['upm-apiserver.upm-system.svc', 'upm-apiserver.upm-system.svc.cluster.local'];
export const DEFAULT_SERVING_HOSTS = ['localhost', '127.0.0.1', '::1', ...SERVICE_HOSTS];

export type PKIFileName = 'ca' | 'apiserver' | 'admin';

export interface PKIFile extends CertKeyPair {
  certPath: string;
  keyPath: string;
}

export interface LocalPKI {
  dir: string;
  ca: PKIFile;
  apiserver: PKIFile;
  admin: PKIFile;
  /** What this call (re)generated; empty when everything was reused. */
  generated: PKIFileName[];
}

export interface EnsureLocalPKIOptions {
  /** Extra DNS names or IPs the serving certificate must cover (besides DEFAULT_SERVING_HOSTS). */
  serverHosts: string[];
  /** Evaluate expiry and issue as of this time (tests). Defaults to now. */
  now?: Date;
  caValidityDays?: number;
  leafValidityDays?: number;
}

/** Loads or creates the local CA, serving and admin certificates in `dir`. */
export async function ensureLocalPKI(dir: string, opts: EnsureLocalPKIOptions): Promise<LocalPKI> {
  const abs = path.resolve(dir);
  // Serialise calls in this process (the lock file below handles other processes).
  const previous = inProcess.get(abs) ?? Promise.resolve();
  const run = previous.catch(() => undefined).then(() => withDirLock(abs, () => ensureUnlocked(abs, opts)));
  const tail = run.catch(() => undefined);
  inProcess.set(abs, tail);
  void tail.then(() => {
    if (inProcess.get(abs) === tail) inProcess.delete(abs);
  });
  return run;
}

const inProcess = new Map<string, Promise<unknown>>();

async function ensureUnlocked(dir: string, opts: EnsureLocalPKIOptions): Promise<LocalPKI> {
  const now = opts.now ?? new Date();
  const hosts = [
    ...new Set([...DEFAULT_SERVING_HOSTS, ...opts.serverHosts.map((h) => h.trim()).filter((h) => h !== '')]),
  ];
  const dnsNames = hosts.filter((h) => isIP(h) === 0).map((h) => h.toLowerCase());
  const ipAddresses = hosts.filter((h) => isIP(h) !== 0);
  const leafDays = opts.leafValidityDays ?? DEFAULT_LEAF_VALIDITY_DAYS;
  const generated: PKIFileName[] = [];

  const [caOld, apiOld, adminOld] = await Promise.all([load(dir, 'ca'), load(dir, 'apiserver'), load(dir, 'admin')]);

  const needCA = !caOld || !usable(caOld, now, null, (c) => c.ca);
  const apiserverOk = (c: X509Certificate) =>
    !c.ca &&
    dnsNames.every((h) => c.checkHost(h, { subject: 'never' }) !== undefined) &&
    ipAddresses.every((ip) => c.checkIP(ip) !== undefined);
  const adminOk = (c: X509Certificate) => {
    const rdns = c.subject.split('\n');
    return !c.ca && rdns.includes(`CN=${ADMIN_USER}`) && ADMIN_GROUPS.every((g) => rdns.includes(`O=${g}`));
  };
  // A new CA invalidates every leaf; otherwise each leaf must verify against the current CA.
  const caX509Old = needCA ? null : new X509Certificate(caOld!.certPem);
  const needApiserver = !caX509Old || !apiOld || !usable(apiOld, now, caX509Old, apiserverOk);
  const needAdmin = !caX509Old || !adminOld || !usable(adminOld, now, caX509Old, adminOk);
  // RSA key generation dominates the cost: generate all needed keys concurrently on the thread pool.
  const [caKey, apiKey, adminKey] = await Promise.all(
    [needCA, needApiserver, needAdmin].map((need) => (need ? generateKey() : null)),
  );

  const ca: PKIFile = caKey
    ? {
        ...paths(dir, 'ca'),
        ...createCA(CA_COMMON_NAME, {
          keyPem: caKey,
          now,
          validityDays: opts.caValidityDays ?? DEFAULT_CA_VALIDITY_DAYS,
        }),
      }
    : caOld!;
  if (caKey) generated.push('ca');
  const apiserver: PKIFile = apiKey
    ? {
        ...paths(dir, 'apiserver'),
        ...issueServingCert(ca, {
          commonName: APISERVER_COMMON_NAME,
          dnsNames,
          ipAddresses,
          keyPem: apiKey,
          now,
          validityDays: leafDays,
        }),
      }
    : apiOld!;
  const admin: PKIFile = adminKey
    ? {
        ...paths(dir, 'admin'),
        ...issueClientCert(ca, {
          commonName: ADMIN_USER,
          organizations: ADMIN_GROUPS,
          keyPem: adminKey,
          now,
          validityDays: leafDays,
        }),
      }
    : adminOld!;
  if (apiKey) generated.push('apiserver');
  if (adminKey) generated.push('admin');

  if (generated.length > 0) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const byName = { ca, apiserver, admin };
    // Leaves first, CA last: an interrupted run leaves either the old CA (new leaves fail to
    // verify and are regenerated) or everything new.
    for (const name of (['apiserver', 'admin', 'ca'] as const).filter((n) => generated.includes(n))) {
      const f = byName[name];
      await writeAtomic(f.keyPath, f.keyPem, 0o600);
      await writeAtomic(f.certPath, f.certPem, 0o644);
    }
  }
  return { dir, ca, apiserver, admin, generated };
}

function paths(dir: string, name: PKIFileName): { certPath: string; keyPath: string } {
  return { certPath: path.join(dir, `${name}.crt`), keyPath: path.join(dir, `${name}.key`) };
}

async function load(dir: string, name: PKIFileName): Promise<PKIFile | null> {
  const p = paths(dir, name);
  try {
    const [certPem, keyPem] = await Promise.all([readFile(p.certPath, 'utf8'), readFile(p.keyPath, 'utf8')]);
    return { ...p, certPem, keyPem };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** Parses, matches key, checks issuer, freshness and the caller's predicate. */
function usable(f: PKIFile, now: Date, issuer: X509Certificate | null, ok: (c: X509Certificate) => boolean): boolean {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(f.certPem);
  } catch {
    return false;
  }
  if (!keyMatchesCert(f.keyPem, f.certPem)) return false;
  const signer = issuer ?? cert;
  if (!cert.checkIssued(signer) || !cert.verify(signer.publicKey)) return false;
  if (!fresh(cert, now)) return false;
  return ok(cert);
}

/** Valid now and not in the last third of its lifetime. */
export function fresh(cert: X509Certificate, now: Date = new Date()): boolean {
  const from = Date.parse(cert.validFrom);
  const to = Date.parse(cert.validTo);
  const t = now.getTime();
  if (!(t >= from && t < to)) return false;
  return to - t > (to - from) / 3;
}

async function writeAtomic(file: string, data: string, mode: number): Promise<void> {
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    await writeFile(tmp, data, { mode, flag: 'wx' });
    await chmod(tmp, mode); // the umask may have narrowed or the file may pre-exist on odd filesystems
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

const LOCK_STALE_MS = 60_000;
const LOCK_WAIT_MS = 120_000;

async function withDirLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const lock = path.join(dir, '.lock');
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      const h = await open(lock, 'wx', 0o600);
      await h.writeFile(String(process.pid));
      await h.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const st = await stat(lock).catch(() => null);
      if (st && Date.now() - st.mtimeMs > LOCK_STALE_MS) {
        await rm(lock, { force: true });
        continue;
      }
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${lock}; remove it if no other upm-engine is running`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { force: true });
  }
}
