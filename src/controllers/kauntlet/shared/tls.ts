// ClientTLS (api/replication.ts) of a replication object resolved to PEM material: the CA and
// the client certificate read from their Secrets and checked, or the reason they cannot be used.

import { tlsSettingsProblem, type TlsMode, type TlsSettings } from '../../drivers/tls.js';

export interface ClientTlsSpec {
  mode?: TlsMode;
  ca?: { name: string; key: string };
  clientCertificate?: { name: string };
}

export type TlsResult =
  | { ok: true; settings: TlsSettings | undefined }
  | { ok: false; reason: 'SecretNotFound' | 'SecretKeyMissing' | 'TLSConfigInvalid'; message: string };

type SecretData = { data?: Record<string, string> } | undefined;

/** The settings under `spec` (undefined for Disabled), reading Secrets with `getSecret`. */
export async function tlsSettingsFrom(
  spec: ClientTlsSpec | undefined,
  getSecret: (name: string) => Promise<SecretData>,
): Promise<TlsResult> {
  const mode = spec?.mode ?? 'Disabled';
  if (!spec || mode === 'Disabled') return { ok: true, settings: undefined };
  const read = async (field: string, name: string, key: string): Promise<string | TlsResult> => {
    const secret = await getSecret(name);
    if (!secret)
      return { ok: false, reason: 'SecretNotFound', message: `${field}: Secret ${JSON.stringify(name)} not found` };
    const v = secret.data?.[key];
    if (v === undefined) {
      return {
        ok: false,
        reason: 'SecretKeyMissing',
        message: `${field}: Secret ${JSON.stringify(name)} has no key ${JSON.stringify(key)}`,
      };
    }
    return Buffer.from(v, 'base64').toString('utf8');
  };
  const settings: TlsSettings = { mode };
  if (spec.ca) {
    const ca = await read('tls.ca', spec.ca.name, spec.ca.key);
    if (typeof ca !== 'string') return ca;
    settings.ca = ca;
  }
  if (spec.clientCertificate) {
    const name = spec.clientCertificate.name;
    const cert = await read('tls.clientCertificate', name, 'tls.crt');
    if (typeof cert !== 'string') return cert;
    const key = await read('tls.clientCertificate', name, 'tls.key');
    if (typeof key !== 'string') return key;
    Object.assign(settings, { cert, key });
  }
  const problem = tlsSettingsProblem(settings);
  if (problem) return { ok: false, reason: 'TLSConfigInvalid', message: problem };
  return { ok: true, settings };
}
