// Static tokens (kube's token file), service-account JWTs (issue and verify) and the bearer
// header, without a server.

import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bearerToken, DEFAULT_ISSUER, parseCSV, parseStaticTokens, TokenAuthenticator } from './tokens.js';

const keyPem = generateKeyPairSync('rsa', { modulusLength: 2048 })
  .privateKey.export({ type: 'pkcs8', format: 'pem' })
  .toString();
const req = (authorization?: string) =>
  ({ headers: authorization === undefined ? {} : { authorization } }) as unknown as IncomingMessage;
const payloadOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
const headerOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[0], 'base64url').toString());

describe('token file', () => {
  it('parses CSV like Go encoding/csv with TrimLeadingSpace', () => {
    expect(parseCSV('\ufeffa,b,c\r\n\n d,"e, ""f""",g\n"multi\nline",x')).toEqual([
      ['a', 'b', 'c'],
      ['d', 'e, "f"', 'g'],
      ['multi\nline', 'x'],
    ]);
    expect(() => parseCSV('a,"b')).toThrow(/extraneous or missing "/);
    expect(() => parseCSV('a,b"c')).toThrow(/bare "/);
  });

  it('reads users, uids and groups; skips empty tokens; a later duplicate wins', () => {
    const tokens = parseStaticTokens(
      ['t1,alice,1001,"dev,qa"', 't2,bob,', ',nobody,3', 't3,carol,1003,ops', 't1,alice2,1004'].join('\n'),
    );
    expect([...tokens.keys()]).toEqual(['t1', 't2', 't3']);
    expect(tokens.get('t1')).toEqual({ username: 'alice2', uid: '1004', groups: [] });
    expect(tokens.get('t2')).toEqual({ username: 'bob', groups: [] });
    expect(tokens.get('t3')).toEqual({ username: 'carol', uid: '1003', groups: ['ops'] });
    expect(parseStaticTokens('t1,alice,1,"dev,qa"').get('t1')!.groups).toEqual(['dev', 'qa']);
    expect(() => parseStaticTokens('t1,alice', '/etc/tokens.csv')).toThrow(
      "token file '/etc/tokens.csv' must have at least 3 columns (token, user name, user uid), found 2",
    );
  });

  it('loads from a file and reloads it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'upm-tokens-'));
    try {
      const file = join(dir, 'tokens.csv');
      writeFileSync(file, 'file-token,fileuser,9,"g1"\n');
      const auth = new TokenAuthenticator({ staticTokenFile: file, serviceAccounts: false });
      expect(auth.authenticateToken('file-token')).toEqual({
        authenticated: true,
        user: { username: 'fileuser', uid: '9', groups: ['g1', 'system:authenticated'] },
        audiences: [DEFAULT_ISSUER],
      });
      writeFileSync(file, 'other-token,other,10\n');
      auth.reloadStaticTokenFile();
      expect(auth.authenticateToken('file-token')).toEqual({ authenticated: false, error: 'invalid bearer token' });
      expect(auth.authenticateToken('other-token').authenticated).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is audience-agnostic: valid for the API audiences only', () => {
    const auth = new TokenAuthenticator({
      staticTokens: [{ token: 's', user: { username: 'u', groups: [] } }],
      apiAudiences: ['api', 'other'],
      serviceAccounts: false,
    });
    expect(auth.authenticateToken('s', ['other', 'x'])).toMatchObject({ authenticated: true, audiences: ['other'] });
    expect(auth.authenticateToken('s', ['vault'])).toEqual({ authenticated: false, error: 'invalid bearer token' });
  });
});

describe('bearer header', () => {
  it('takes the token of "Bearer <token>" (any case), nothing else', () => {
    expect(bearerToken(req('Bearer abc'))).toBe('abc');
    expect(bearerToken(req('  bearer abc extra'))).toBe('abc');
    expect(bearerToken(req('Basic abc'))).toBeUndefined();
    expect(bearerToken(req('Bearer '))).toBeUndefined();
    expect(bearerToken(req('Bearer'))).toBeUndefined();
    expect(bearerToken(req())).toBeUndefined();
  });

  it('removes the Authorization header once authenticated', () => {
    const auth = new TokenAuthenticator({ staticTokens: 'tok,alice,1', serviceAccounts: false });
    const ok = req('Bearer tok');
    expect(auth.authenticate(ok)).toEqual({ username: 'alice', uid: '1', groups: ['system:authenticated'] });
    expect(ok.headers.authorization).toBeUndefined();
    const bad = req('Bearer nope');
    expect(auth.authenticate(bad)).toBeUndefined();
    expect(bad.headers.authorization).toBe('Bearer nope');
  });
});

describe('service-account tokens', () => {
  let clock = 1_700_000_000_000;
  const now = () => clock;
  const exists = new Set(['ns1/sa1/uid-1']);
  const make = (extra: Partial<ConstructorParameters<typeof TokenAuthenticator>[0]> = {}) =>
    new TokenAuthenticator({
      now,
      serviceAccounts: {
        signingKeyPem: keyPem,
        serviceAccountExists: (ns, name, uid) =>
          exists.has(`${ns}/${name}/${uid ?? ''}`) || (!uid && [...exists].some((e) => e.startsWith(`${ns}/${name}/`))),
      },
      ...extra,
    });

  beforeEach(() => {
    clock = 1_700_000_000_000;
  });

  it('issues RS256 JWTs with kube claims', () => {
    const auth = make();
    const jwt = auth.issueServiceAccountToken('ns1', 'sa1', 'uid-1', { expirationSeconds: 600 });
    expect(headerOf(jwt)).toEqual({ alg: 'RS256', kid: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) });
    const claims = payloadOf(jwt);
    expect(claims).toEqual({
      aud: [DEFAULT_ISSUER],
      exp: 1_700_000_600,
      iat: 1_700_000_000,
      nbf: 1_700_000_000,
      iss: DEFAULT_ISSUER,
      jti: expect.stringMatching(/^[0-9a-f-]{36}$/),
      'kubernetes.io': { namespace: 'ns1', serviceaccount: { name: 'sa1', uid: 'uid-1' } },
      sub: 'system:serviceaccount:ns1:sa1',
    });
    expect(auth.jwks().keys[0]).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig', kid: headerOf(jwt).kid });
    expect(auth.publicKeyPem).toContain('BEGIN PUBLIC KEY');
    expect(auth.authenticateToken(jwt)).toEqual({
      authenticated: true,
      user: {
        username: 'system:serviceaccount:ns1:sa1',
        uid: 'uid-1',
        groups: ['system:serviceaccounts', 'system:serviceaccounts:ns1', 'system:authenticated'],
        extra: { 'authentication.kubernetes.io/credential-id': [`JTI=${claims.jti}`] },
      },
      audiences: [DEFAULT_ISSUER],
    });
  });

  it('accepts tokens across instances with the same key, not with another key', () => {
    const jwt = make().issueServiceAccountToken('ns1', 'sa1', 'uid-1');
    expect(make().authenticateToken(jwt).authenticated).toBe(true);
    const otherKey = new TokenAuthenticator({ now });
    expect(otherKey.authenticateToken(jwt)).toEqual({ authenticated: false, error: 'token signature is invalid' });
    const forged = `${jwt.split('.')[0]}.${Buffer.from(JSON.stringify({ ...payloadOf(jwt), sub: 'system:serviceaccount:kube-system:admin' })).toString('base64url')}.${jwt.split('.')[2]}`;
    expect(make().authenticateToken(forged)).toEqual({ authenticated: false, error: 'token signature is invalid' });
  });

  it('ignores tokens of other issuers and non-JWTs', () => {
    const jwt = make({
      serviceAccounts: { signingKeyPem: keyPem, issuer: 'https://elsewhere' },
    }).issueServiceAccountToken('ns1', 'sa1', 'uid-1');
    expect(make().authenticateToken(jwt)).toEqual({ authenticated: false, error: 'invalid bearer token' });
    expect(make().authenticateToken('a.b.c')).toEqual({ authenticated: false, error: 'invalid bearer token' });
  });

  it('checks expiry and not-before with a one-minute leeway', () => {
    const auth = make();
    const jwt = auth.issueServiceAccountToken('ns1', 'sa1', 'uid-1', { expirationSeconds: 600 });
    clock += 660_000;
    expect(auth.authenticateToken(jwt).authenticated).toBe(true);
    clock += 1_000;
    expect(auth.authenticateToken(jwt)).toEqual({ authenticated: false, error: 'service account token has expired' });
    clock = 1_700_000_000_000 - 61_000;
    expect(auth.authenticateToken(jwt)).toEqual({
      authenticated: false,
      error: 'service account token is not valid yet',
    });
  });

  it('checks audiences', () => {
    const auth = make({ apiAudiences: ['api'] });
    const defaults = auth.issueServiceAccountToken('ns1', 'sa1', 'uid-1');
    expect(payloadOf(defaults).aud).toEqual(['api']);
    const vault = auth.issueServiceAccountToken('ns1', 'sa1', 'uid-1', { audiences: ['vault', 'api2'] });
    expect(auth.authenticateToken(vault)).toEqual({
      authenticated: false,
      error: 'token audiences ["vault" "api2"] is invalid for the target audiences ["api"]',
    });
    expect(auth.authenticateToken(vault, ['api2', 'vault'])).toMatchObject({
      authenticated: true,
      audiences: ['vault', 'api2'],
    });
  });

  it('rejects tokens of ServiceAccounts that no longer exist (or were recreated)', () => {
    const auth = make();
    expect(auth.authenticateToken(auth.issueServiceAccountToken('ns1', 'gone', 'uid-9'))).toEqual({
      authenticated: false,
      error: 'serviceaccounts "gone" not found',
    });
    expect(auth.authenticateToken(auth.issueServiceAccountToken('ns1', 'sa1', 'uid-old'))).toEqual({
      authenticated: false,
      error: 'serviceaccounts "sa1" not found',
    });
    const noUid = auth.authenticateToken(auth.issueServiceAccountToken('ns1', 'sa1'));
    expect(noUid.authenticated && noUid.user.uid).toBeUndefined();
  });

  it('can be turned off', () => {
    const off = new TokenAuthenticator({ serviceAccounts: false });
    expect(() => off.issueServiceAccountToken('a', 'b')).toThrow('service-account tokens are disabled');
    expect(off.jwks()).toEqual({ keys: [] });
    expect(off.authenticateToken(make().issueServiceAccountToken('ns1', 'sa1', 'uid-1'))).toEqual({
      authenticated: false,
      error: 'invalid bearer token',
    });
  });

  it('refuses non-RSA keys and bad expirations', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString();
    expect(() => new TokenAuthenticator({ serviceAccounts: { signingKeyPem: ec } })).toThrow('RSA');
    expect(() => make().issueServiceAccountToken('ns1', 'sa1', undefined, { expirationSeconds: 0 })).toThrow(
      'invalid expirationSeconds',
    );
  });
});
