// TLS for the controller's own connections to database servers, shared by every driver: the
// ClientTLS modes (api/replication.ts) mapped to node:tls options, and a check of the PEM
// material read from Secrets so that bad material is reported before any socket is opened.

import { X509Certificate } from 'node:crypto';
import { createSecureContext, type ConnectionOptions } from 'node:tls';

export type TlsMode = 'Disabled' | 'Required' | 'VerifyCA' | 'VerifyFull';

/** TLS settings of a replication object (ClientTLS) with the PEM material read from its Secrets. */
export interface TlsSettings {
  mode?: TlsMode;
  ca?: string;
  cert?: string;
  key?: string;
}

const skipHostNameCheck = () => undefined;

/**
 * node:tls options under `s`, undefined for plain TCP. Required encrypts and verifies nothing;
 * VerifyCA checks the chain only; VerifyFull also checks that the certificate names the host
 * connected to (node's default check). A client certificate is presented when one is given.
 */
export function tlsOptions(s: TlsSettings | undefined): ConnectionOptions | undefined {
  const mode = s?.mode ?? 'Disabled';
  if (mode === 'Disabled') return undefined;
  const client = s?.cert && s.key ? { cert: s.cert, key: s.key } : {};
  if (mode === 'Required') return { ...client, rejectUnauthorized: false };
  return {
    ...client,
    ca: s?.ca,
    rejectUnauthorized: true,
    ...(mode === 'VerifyCA' ? { checkServerIdentity: skipHostNameCheck } : {}),
  };
}

/** Whether `o` (from tlsOptions) checks the server's host name: VerifyFull. */
export function checksHostName(o: ConnectionOptions): boolean {
  return o.rejectUnauthorized !== false && o.checkServerIdentity === undefined;
}

/**
 * Why `s` cannot be used, or undefined when it can: a verify mode without a CA, a client
 * certificate without its key (or the reverse), PEM that does not parse, a key that does not
 * match its certificate.
 */
export function tlsSettingsProblem(s: TlsSettings): string | undefined {
  const mode = s.mode ?? 'Disabled';
  if (mode === 'Disabled') return undefined;
  if ((mode === 'VerifyCA' || mode === 'VerifyFull') && !s.ca) return `tls.mode ${mode} needs tls.ca`;
  if (!!s.cert !== !!s.key) return 'the client certificate needs both tls.crt and tls.key';
  if (s.ca) {
    const blocks = s.ca.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
    if (!blocks.length) return 'tls.ca holds no PEM certificate';
    try {
      blocks.map((b) => new X509Certificate(b));
    } catch (err) {
      return `tls.ca: ${(err as Error).message}`;
    }
  }
  if (s.cert && s.key) {
    try {
      createSecureContext({ cert: s.cert, key: s.key });
    } catch (err) {
      return `client certificate: ${(err as Error).message}`;
    }
  }
  return undefined;
}
