import { createCA, issueClientCert } from '../../../pki/certs.js';
import { tlsSettingsFrom } from './tls.js';

const ca = createCA('test-ca');
const client = issueClientCert(ca, { commonName: 'kauntlet' });
const b64 = (s: string) => Buffer.from(s).toString('base64');
const secrets: Record<string, Record<string, string>> = {
  ca: { 'ca.crt': b64(ca.certPem) },
  client: { 'tls.crt': b64(client.certPem), 'tls.key': b64(client.keyPem) },
  'no-key': { 'tls.crt': b64(client.certPem) },
  junk: { 'ca.crt': b64('not PEM') },
};
const get = (name: string) => Promise.resolve(secrets[name] ? { data: secrets[name] } : undefined);

describe('tlsSettingsFrom', () => {
  it('reads the CA and the client certificate', async () => {
    expect(await tlsSettingsFrom(undefined, get)).toEqual({ ok: true, settings: undefined });
    expect(await tlsSettingsFrom({ mode: 'Disabled', ca: { name: 'gone', key: 'x' } }, get)).toEqual({
      ok: true,
      settings: undefined,
    });
    expect(
      await tlsSettingsFrom(
        { mode: 'VerifyFull', ca: { name: 'ca', key: 'ca.crt' }, clientCertificate: { name: 'client' } },
        get,
      ),
    ).toEqual({
      ok: true,
      settings: { mode: 'VerifyFull', ca: ca.certPem, cert: client.certPem, key: client.keyPem },
    });
  });

  it('gives a reason for a missing Secret or key and for unusable material', async () => {
    expect(await tlsSettingsFrom({ mode: 'VerifyCA', ca: { name: 'gone', key: 'ca.crt' } }, get)).toEqual({
      ok: false,
      reason: 'SecretNotFound',
      message: 'tls.ca: Secret "gone" not found',
    });
    expect(await tlsSettingsFrom({ mode: 'VerifyCA', ca: { name: 'ca', key: 'other.crt' } }, get)).toEqual({
      ok: false,
      reason: 'SecretKeyMissing',
      message: 'tls.ca: Secret "ca" has no key "other.crt"',
    });
    expect(await tlsSettingsFrom({ mode: 'Required', clientCertificate: { name: 'no-key' } }, get)).toEqual({
      ok: false,
      reason: 'SecretKeyMissing',
      message: 'tls.clientCertificate: Secret "no-key" has no key "tls.key"',
    });
    expect(await tlsSettingsFrom({ mode: 'VerifyFull', ca: { name: 'junk', key: 'ca.crt' } }, get)).toEqual({
      ok: false,
      reason: 'TLSConfigInvalid',
      message: 'tls.ca holds no PEM certificate',
    });
    expect(await tlsSettingsFrom({ mode: 'VerifyFull' }, get)).toEqual({
      ok: false,
      reason: 'TLSConfigInvalid',
      message: 'tls.mode VerifyFull needs tls.ca',
    });
  });
});
