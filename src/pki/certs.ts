// X.509 issuance for the local control plane, the aggregated API server and the webhooks.
//
// Keys come from node:crypto (native, RSA 2048: the key type node-forge can describe in a
// certificate). node-forge builds the TBSCertificate (names, validity, extensions); the RSA
// signature over its DER is computed natively with node:crypto, which is much faster than
// forge's pure-JS RSA and produces the same PKCS#1 v1.5 sha256WithRSAEncryption signature.
//
// Every certificate:
// - has a random positive serial of up to 128 bits, minimally DER-encoded (Go's x509 parser
//   rejects non-minimal integers);
// - is valid from one hour in the past (clock skew between machines);
// - carries SubjectKeyIdentifier, and AuthorityKeyIdentifier when issued by a CA;
// - encodes names as UTF8String (PrintableString cannot hold '@', '_' or '*').
// The issuer name of a leaf is copied byte for byte from the CA certificate's subject, so chain
// building works even for CAs made by other tools (OpenSSL, kubeadm).

import {
  createPrivateKey,
  createPublicKey,
  generateKeyPair,
  generateKeyPairSync,
  randomBytes,
  sign,
  X509Certificate,
} from 'node:crypto';
import { isIP } from 'node:net';
import { promisify } from 'node:util';
import forge from 'node-forge';

/** A certificate and its private key, both PEM. */
export interface CertKeyPair {
  certPem: string;
  /** PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`). */
  keyPem: string;
}

interface CommonOptions {
  /** Lifetime counted from now (not from the back-dated notBefore). */
  validityDays?: number;
  /** A PEM private key (RSA) to certify instead of generating a new one. */
  keyPem?: string;
  /** Issue as if the current time were this (tests, back-dating). Defaults to now. */
  now?: Date;
}

export type CAOptions = CommonOptions;

export interface ServingCertOptions extends CommonOptions {
  commonName: string;
  /** DNS subjectAltNames. */
  dnsNames: string[];
  /** IP subjectAltNames (IPv4 or IPv6). */
  ipAddresses: string[];
}

export interface ClientCertOptions extends CommonOptions {
  /** The user name (Kubernetes reads the subject CN). */
  commonName: string;
  /** The groups (Kubernetes reads each subject O). */
  organizations?: string[];
}

export const DEFAULT_CA_VALIDITY_DAYS = 3650;
export const DEFAULT_LEAF_VALIDITY_DAYS = 365;
/** How far notBefore is set in the past. */
export const CLOCK_SKEW_MS = 60 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

const RSA_KEY_OPTIONS = {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
} as const;

/** A new RSA 2048 private key, PKCS#8 PEM. Blocks the event loop for tens of milliseconds. */
export function generateKeySync(): string {
  return generateKeyPairSync('rsa', RSA_KEY_OPTIONS).privateKey;
}

const generateKeyPairAsync = promisify(generateKeyPair);

/** A new RSA 2048 private key, PKCS#8 PEM, generated on the libuv thread pool. */
export async function generateKey(): Promise<string> {
  const { privateKey } = await generateKeyPairAsync('rsa', RSA_KEY_OPTIONS);
  return privateKey;
}

/** A self-signed CA: BasicConstraints CA:true (critical), KeyUsage keyCertSign+cRLSign+digitalSignature. */
export function createCA(commonName: string, opts: CAOptions = {}): CertKeyPair {
  requireNonEmpty(commonName, 'commonName');
  const keyPem = opts.keyPem ?? generateKeySync();
  const publicKey = forgePublicKey(keyPem);
  const cert = newCertificate(publicKey, opts.now, opts.validityDays ?? DEFAULT_CA_VALIDITY_DAYS);
  const subject = [attr('commonName', commonName)];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', critical: true, keyCertSign: true, cRLSign: true, digitalSignature: true },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: cert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  return { certPem: signCertificate(cert, keyPem, null), keyPem };
}

/** A TLS server certificate signed by `ca`: EKU serverAuth, SANs from dnsNames and ipAddresses. */
export function issueServingCert(ca: CertKeyPair, opts: ServingCertOptions): CertKeyPair {
  requireNonEmpty(opts.commonName, 'commonName');
  if (opts.dnsNames.length + opts.ipAddresses.length === 0) {
    throw new Error('a serving certificate needs at least one DNS name or IP address');
  }
  const altNames: { type: number; value?: string; ip?: string }[] = [];
  for (const name of unique(opts.dnsNames)) {
    if (
      !/^(\*\.)?[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?$/.test(name)
    ) {
      throw new Error(`invalid DNS name for a certificate: ${JSON.stringify(name)}`);
    }
    altNames.push({ type: 2, value: name.toLowerCase() });
  }
  for (const ip of unique(opts.ipAddresses)) {
    if (isIP(ip) === 0) throw new Error(`invalid IP address for a certificate: ${JSON.stringify(ip)}`);
    altNames.push({ type: 7, ip });
  }
  return issueLeaf(
    ca,
    opts,
    [attr('commonName', opts.commonName)],
    [
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames },
    ],
  );
}

/** A TLS client certificate signed by `ca`: EKU clientAuth, CN = user, one O per group. */
export function issueClientCert(ca: CertKeyPair, opts: ClientCertOptions): CertKeyPair {
  requireNonEmpty(opts.commonName, 'commonName');
  const subject = [
    ...unique(opts.organizations ?? []).map((o) => attr('organizationName', requireNonEmpty(o, 'organization'))),
    attr('commonName', opts.commonName),
  ];
  return issueLeaf(ca, opts, subject, [{ name: 'extKeyUsage', clientAuth: true }]);
}

/** True when the private key belongs to the certificate. */
export function keyMatchesCert(keyPem: string, certPem: string): boolean {
  try {
    const fromKey = createPublicKey(createPrivateKey(keyPem)).export({ type: 'spki', format: 'der' });
    const fromCert = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
    return fromKey.equals(fromCert);
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------

type Attr = { name: string; value: string; valueTagClass: number };

function attr(name: string, value: string): Attr {
  // valueTagClass is honoured by forge's DN encoder; its typings omit it.
  return { name, value, valueTagClass: forge.asn1.Type.UTF8 as number };
}

function issueLeaf(ca: CertKeyPair, opts: CommonOptions, subject: Attr[], extensions: object[]): CertKeyPair {
  if (!keyMatchesCert(ca.keyPem, ca.certPem)) throw new Error('the CA private key does not match the CA certificate');
  const caX509 = new X509Certificate(ca.certPem);
  if (!caX509.ca) throw new Error('the issuer certificate is not a CA (BasicConstraints CA:false)');
  const caCert = forge.pki.certificateFromPem(ca.certPem);

  const keyPem = opts.keyPem ?? generateKeySync();
  const cert = newCertificate(forgePublicKey(keyPem), opts.now, opts.validityDays ?? DEFAULT_LEAF_VALIDITY_DAYS);
  cert.setSubject(subject);
  cert.setIssuer(caCert.subject.attributes); // replaced by the raw CA subject when signing
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', critical: true, digitalSignature: true, keyEncipherment: true },
    ...extensions,
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: caKeyIdentifier(caCert) },
  ]);
  return { certPem: signCertificate(cert, ca.keyPem, rawSubject(ca.certPem)), keyPem };
}

function newCertificate(
  publicKey: forge.pki.PublicKey,
  now: Date | undefined,
  validityDays: number,
): forge.pki.Certificate {
  if (!(validityDays > 0)) throw new Error(`validityDays must be positive, got ${validityDays}`);
  const t = (now ?? new Date()).getTime();
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = randomSerialHex();
  // Whole seconds: X.509 times carry no fractions, and equal values keep comparisons exact.
  cert.validity.notBefore = new Date(Math.floor((t - CLOCK_SKEW_MS) / 1000) * 1000);
  cert.validity.notAfter = new Date(Math.floor((t + validityDays * DAY_MS) / 1000) * 1000);
  return cert;
}

/** 128 random bits as a positive, minimally encoded DER INTEGER body (hex). */
function randomSerialHex(): string {
  let bytes = randomBytes(16);
  while (bytes.length > 1 && bytes[0] === 0 && bytes[1]! < 0x80) bytes = bytes.subarray(1);
  if (bytes.length === 1 && bytes[0] === 0) bytes = Buffer.from([1]);
  if (bytes[0]! >= 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return bytes.toString('hex');
}

function forgePublicKey(keyPem: string): forge.pki.PublicKey {
  const key = createPrivateKey(keyPem);
  if (key.asymmetricKeyType !== 'rsa') {
    throw new Error(`only RSA keys are supported, got ${key.asymmetricKeyType ?? 'unknown'}`);
  }
  return forge.pki.publicKeyFromPem(createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString());
}

function caKeyIdentifier(caCert: forge.pki.Certificate): string {
  const ski = caCert.getExtension('subjectKeyIdentifier') as { subjectKeyIdentifier?: string } | null;
  if (ski?.subjectKeyIdentifier) return forge.util.hexToBytes(ski.subjectKeyIdentifier);
  return caCert.generateSubjectKeyIdentifier().getBytes();
}

/** The DER subject Name of a certificate, as a forge ASN.1 node. */
function rawSubject(certPem: string): forge.asn1.Asn1 {
  const der = forge.pem.decode(certPem)[0]!.body;
  const tbs = (forge.asn1.fromDer(der).value as forge.asn1.Asn1[])[0]!;
  const fields = tbs.value as forge.asn1.Asn1[];
  // TBSCertificate: [0] version (optional, explicit), serial, signature, issuer, validity, subject
  const offset = fields[0]!.tagClass === forge.asn1.Class.CONTEXT_SPECIFIC ? 1 : 0;
  return fields[offset + 4]!;
}

/** Signs with sha256WithRSAEncryption; `issuerName` replaces the encoded issuer when given. */
function signCertificate(
  cert: forge.pki.Certificate,
  signerKeyPem: string,
  issuerName: forge.asn1.Asn1 | null,
): string {
  const c = cert as forge.pki.Certificate & { tbsCertificate: forge.asn1.Asn1; signatureOid: string };
  c.signatureOid = forge.pki.oids['sha256WithRSAEncryption']!;
  cert.siginfo.algorithmOid = c.signatureOid;
  // getTBSCertificate exists in node-forge but is missing from @types/node-forge.
  c.tbsCertificate = (
    forge.pki as unknown as { getTBSCertificate(c: forge.pki.Certificate): forge.asn1.Asn1 }
  ).getTBSCertificate(cert);
  if (issuerName) (c.tbsCertificate.value as forge.asn1.Asn1[])[3] = issuerName;
  const tbsDer = Buffer.from(forge.asn1.toDer(c.tbsCertificate).getBytes(), 'binary');
  cert.signature = sign('sha256', tbsDer, signerKeyPem).toString('binary');
  return forge.pki.certificateToPem(cert).replace(/\r\n/g, '\n');
}

function requireNonEmpty(value: string, what: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new Error(`${what} must be a non-empty string`);
  return value;
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}
