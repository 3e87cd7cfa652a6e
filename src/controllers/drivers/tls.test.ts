import { createCA, issueClientCert } from '../../pki/certs.js';
import { checksHostName, tlsOptions, tlsSettingsProblem } from './tls.js';

describe('tlsOptions', () => {
  it('maps each ClientTLS mode to node:tls options', () => {
    expect(tlsOptions(undefined)).toBeUndefined();
    expect(tlsOptions({ mode: 'Disabled', ca: 'CA' })).toBeUndefined();
    expect(tlsOptions({ mode: 'Required' })).toEqual({ rejectUnauthorized: false });
    expect(tlsOptions({ mode: 'VerifyFull', ca: 'CA' })).toEqual({ ca: 'CA', rejectUnauthorized: true });
    const verifyCA = tlsOptions({ mode: 'VerifyCA', ca: 'CA', cert: 'C', key: 'K' })!;
    expect(verifyCA).toMatchObject({ ca: 'CA', cert: 'C', key: 'K', rejectUnauthorized: true });
    expect(verifyCA.checkServerIdentity!('elsewhere', {} as never)).toBeUndefined();
  });
  it('tells which options check the host name', () => {
    expect(checksHostName(tlsOptions({ mode: 'VerifyFull', ca: 'CA' })!)).toBe(true);
    expect(checksHostName(tlsOptions({ mode: 'VerifyCA', ca: 'CA' })!)).toBe(false);
    expect(checksHostName(tlsOptions({ mode: 'Required' })!)).toBe(false);
  });
});

describe('tlsSettingsProblem', () => {
  const ca = createCA('test-ca');
  const client = issueClientCert(ca, { commonName: 'kauntlet' });
  const other = issueClientCert(ca, { commonName: 'other' });

  it('accepts usable material', () => {
    expect(tlsSettingsProblem({ mode: 'Disabled' })).toBeUndefined();
    expect(tlsSettingsProblem({ mode: 'Required' })).toBeUndefined();
    expect(tlsSettingsProblem({ mode: 'VerifyFull', ca: ca.certPem + ca.certPem })).toBeUndefined();
    expect(
      tlsSettingsProblem({ mode: 'VerifyCA', ca: ca.certPem, cert: client.certPem, key: client.keyPem }),
    ).toBeUndefined();
  });
  it('names what is missing or malformed', () => {
    expect(tlsSettingsProblem({ mode: 'VerifyCA' })).toBe('tls.mode VerifyCA needs tls.ca');
    expect(tlsSettingsProblem({ mode: 'VerifyFull', ca: 'not a certificate' })).toBe('tls.ca holds no PEM certificate');
    const broken = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n';
    expect(tlsSettingsProblem({ mode: 'VerifyFull', ca: broken })).toMatch(/^tls\.ca: /);
    expect(tlsSettingsProblem({ mode: 'Required', cert: client.certPem })).toBe(
      'the client certificate needs both tls.crt and tls.key',
    );
    expect(tlsSettingsProblem({ mode: 'Required', cert: client.certPem, key: other.keyPem })).toMatch(
      /^client certificate: .*key values mismatch/,
    );
    expect(tlsSettingsProblem({ mode: 'Required', cert: 'junk', key: client.keyPem })).toMatch(/^client certificate: /);
  });
});
