// Bearer-token authentication for the local control plane, as kube-apiserver does it:
//   - static tokens: the --token-auth-file CSV (`token,user,uid,"group1,group2"`,
//     plugin/pkg/authenticator/token/tokenfile), audience-agnostic;
//   - service-account tokens this control plane issues: RS256 JWTs with kube's claims
//     (pkg/serviceaccount/claims.go), verified on use: signature, issuer, expiry (with kube's
//     one-minute leeway), audience, and that the ServiceAccount still exists.
// Audiences follow k8s.io/apiserver/pkg/authentication/authenticator/audiences.go: a request
// targets the API audiences (default: the issuer); a TokenReview may name others.

import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomUUID,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import {
  withAuthenticatedGroup,
  type Authenticator,
  type UserInfo,
} from '../../apiserver/authentication/authenticator.js';
import { serviceAccountGroups, serviceAccountUsername } from '../../apiserver/authorization/rbac.js';

export const DEFAULT_ISSUER = 'https://kubernetes.default.svc.cluster.local';
/** Extra key kube sets to identify the credential (`JTI=<jti>` for service-account tokens). */
export const CREDENTIAL_ID_EXTRA = 'authentication.kubernetes.io/credential-id';

// ---------------------------------------------------------------------------------------------
// Static tokens

/** Go encoding/csv with FieldsPerRecord=-1 and TrimLeadingSpace, enough for token files:
 * quoted fields (with "" escapes and line breaks), blank lines skipped. */
export function parseCSV(text: string): string[][] {
  const records: string[][] = [];
  let s = text.startsWith('\ufeff') ? text.slice(1) : text;
  s = s.replace(/\r\n/g, '\n');
  let i = 0;
  while (i < s.length) {
    const record: string[] = [];
    for (;;) {
      while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++;
      let field = '';
      if (s[i] === '"') {
        i++;
        for (;;) {
          if (i >= s.length) throw new Error(`extraneous or missing " in quoted-field (record ${records.length + 1})`);
          if (s[i] === '"') {
            if (s[i + 1] === '"') {
              field += '"';
              i += 2;
              continue;
            }
            i++;
            break;
          }
          field += s[i++];
        }
        if (i < s.length && s[i] !== ',' && s[i] !== '\n')
          throw new Error(`extraneous or missing " in quoted-field (record ${records.length + 1})`);
      } else {
        while (i < s.length && s[i] !== ',' && s[i] !== '\n') {
          if (s[i] === '"') throw new Error(`bare " in non-quoted-field (record ${records.length + 1})`);
          field += s[i++];
        }
      }
      record.push(field);
      if (s[i] === ',') {
        i++;
        continue;
      }
      i++; // newline or end
      break;
    }
    if (!(record.length === 1 && record[0] === '')) records.push(record);
  }
  return records;
}

/**
 * Users by token from token-file text (tokenfile.NewCSV): at least 3 columns (token, user name,
 * uid), an optional 4th with comma-separated groups; records with an empty token are skipped and
 * a later duplicate wins, as in kube.
 */
export function parseStaticTokens(text: string, source = 'static tokens'): Map<string, UserInfo> {
  const tokens = new Map<string, UserInfo>();
  for (const record of parseCSV(text)) {
    if (record.length < 3)
      throw new Error(
        `token file '${source}' must have at least 3 columns (token, user name, user uid), found ${record.length}`,
      );
    const [token, username, uid, groups] = record;
    if (token === '') continue;
    const user: UserInfo = { username, groups: groups === undefined ? [] : groups.split(',').filter((g) => g !== '') };
    if (uid) user.uid = uid;
    tokens.set(token, user);
  }
  return tokens;
}

export function loadStaticTokenFile(path: string): Map<string, UserInfo> {
  return parseStaticTokens(readFileSync(path, 'utf8'), path);
}

export interface StaticToken {
  token: string;
  user: UserInfo;
}

// ---------------------------------------------------------------------------------------------
// Service-account tokens

export interface ServiceAccountTokenOptions {
  /** `iss` of issued tokens, and the only issuer accepted. Default DEFAULT_ISSUER. */
  issuer?: string;
  /** PEM RSA private key (PKCS#1 or PKCS#8) to sign with, so tokens survive restarts; a new
   * 2048-bit key is generated when absent. */
  signingKeyPem?: string;
  /** Whether the ServiceAccount a token names still exists (with that uid, when the token has
   * one). Without it tokens are trusted until they expire. */
  serviceAccountExists?: (namespace: string, name: string, uid: string | undefined) => boolean;
}

export interface IssueTokenOptions {
  /** Default 3600. */
  expirationSeconds?: number;
  /** `aud`; default the API audiences. */
  audiences?: string[];
}

interface ServiceAccountClaims {
  iss?: unknown;
  sub?: unknown;
  aud?: unknown;
  exp?: unknown;
  nbf?: unknown;
  iat?: unknown;
  jti?: unknown;
  'kubernetes.io'?: { namespace?: unknown; serviceaccount?: { name?: unknown; uid?: unknown } };
}

function b64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

function parseSegment(seg: string): Record<string, unknown> | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(seg)) return undefined;
  try {
    const v = JSON.parse(Buffer.from(seg, 'base64url').toString('utf8')) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The intersection, in the order of `a` (authenticator.Audiences.Intersect). */
function intersect(a: readonly string[], b: readonly string[]): string[] {
  return a.filter((x) => b.includes(x));
}

function quoteList(xs: readonly string[]): string {
  return `[${xs.map((x) => JSON.stringify(x)).join(' ')}]`;
}

// ---------------------------------------------------------------------------------------------
// The authenticator

export type TokenResult =
  /** The token is valid: the user (with system:authenticated) and the audiences it is good for. */
  | { authenticated: true; user: UserInfo; audiences: string[] }
  /** Not a token we know (`error` "invalid bearer token") or a known one that failed a check. */
  | { authenticated: false; error: string };

export interface TokenAuthenticatorOptions {
  /** Static tokens: token-file CSV text, parsed entries, or a map. */
  staticTokens?: string | StaticToken[] | Map<string, UserInfo>;
  /** A --token-auth-file path, read at construction (see reloadStaticTokenFile). */
  staticTokenFile?: string;
  /** Service-account tokens; `false` disables issuing and accepting them. */
  serviceAccounts?: ServiceAccountTokenOptions | false;
  /** --api-audiences; default [issuer]. */
  apiAudiences?: string[];
  /** Clock in ms (tests). */
  now?: () => number;
  /** Allowed clock skew for exp/nbf/iat, seconds; default 60 (go-jose's DefaultLeeway). */
  leewaySeconds?: number;
}

export class TokenAuthenticator implements Authenticator {
  private staticTokens = new Map<string, UserInfo>();
  private readonly staticTokenFile: string | undefined;
  readonly issuer: string;
  readonly apiAudiences: string[];
  private readonly privateKey: KeyObject | undefined;
  private readonly publicKey: KeyObject | undefined;
  private readonly keyId: string;
  private readonly serviceAccountExists: ServiceAccountTokenOptions['serviceAccountExists'];
  private readonly now: () => number;
  private readonly leeway: number;

  constructor(opts: TokenAuthenticatorOptions = {}) {
    const sa = opts.serviceAccounts === false ? undefined : (opts.serviceAccounts ?? {});
    this.issuer = (sa && sa.issuer) || DEFAULT_ISSUER;
    this.apiAudiences = opts.apiAudiences && opts.apiAudiences.length > 0 ? [...opts.apiAudiences] : [this.issuer];
    this.now = opts.now ?? Date.now;
    this.leeway = opts.leewaySeconds ?? 60;
    this.serviceAccountExists = sa?.serviceAccountExists;
    if (sa) {
      this.privateKey = sa.signingKeyPem
        ? createPrivateKey(sa.signingKeyPem)
        : generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
      if (this.privateKey.asymmetricKeyType !== 'rsa')
        throw new Error('the service-account signing key must be an RSA key');
      this.publicKey = createPublicKey(this.privateKey);
      // kube's keyIDFromPublicKey: base64url(sha256(PKIX DER)).
      this.keyId = b64url(
        createHash('sha256')
          .update(this.publicKey.export({ type: 'spki', format: 'der' }))
          .digest(),
      );
    } else {
      this.keyId = '';
    }
    if (opts.staticTokens !== undefined) {
      const given = opts.staticTokens;
      if (typeof given === 'string') this.staticTokens = parseStaticTokens(given);
      else if (given instanceof Map) this.staticTokens = new Map(given);
      else for (const t of given) this.staticTokens.set(t.token, t.user);
    }
    this.staticTokenFile = opts.staticTokenFile;
    if (opts.staticTokenFile)
      for (const [t, u] of loadStaticTokenFile(opts.staticTokenFile)) this.staticTokens.set(t, u);
  }

  /** Adds or replaces a static token. */
  addStaticToken(token: string, user: UserInfo): void {
    if (!token) throw new Error('empty token');
    this.staticTokens.set(token, user);
  }

  removeStaticToken(token: string): boolean {
    return this.staticTokens.delete(token);
  }

  /** Re-reads the static token file (replacing every static token). */
  reloadStaticTokenFile(): void {
    if (!this.staticTokenFile) throw new Error('no static token file configured');
    this.staticTokens = loadStaticTokenFile(this.staticTokenFile);
  }

  /** The service-account token verification key (PEM SPKI), e.g. for --service-account-key-file. */
  get publicKeyPem(): string {
    if (!this.publicKey) throw new Error('service-account tokens are disabled');
    return this.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  }

  /** The JWKS of the verification key, as served at /openid/v1/jwks. */
  jwks(): { keys: Record<string, unknown>[] } {
    if (!this.publicKey) return { keys: [] };
    return {
      keys: [{ use: 'sig', kty: 'RSA', kid: this.keyId, alg: 'RS256', ...this.publicKey.export({ format: 'jwk' }) }],
    };
  }

  /**
   * A signed service-account token with kube's bound-token claims (iss, sub, aud, exp, iat,
   * nbf, jti, kubernetes.io.{namespace, serviceaccount{name, uid}}).
   */
  issueServiceAccountToken(namespace: string, name: string, uid?: string, opts: IssueTokenOptions = {}): string {
    if (!this.privateKey) throw new Error('service-account tokens are disabled');
    if (!namespace || !name) throw new Error('namespace and name are required');
    const expirationSeconds = opts.expirationSeconds ?? 3600;
    if (!Number.isInteger(expirationSeconds) || expirationSeconds <= 0)
      throw new Error(`invalid expirationSeconds ${expirationSeconds}`);
    const iat = Math.floor(this.now() / 1000);
    const claims = {
      aud: opts.audiences && opts.audiences.length > 0 ? [...opts.audiences] : [...this.apiAudiences],
      exp: iat + expirationSeconds,
      iat,
      iss: this.issuer,
      jti: randomUUID(),
      'kubernetes.io': { namespace, serviceaccount: { name, uid: uid ?? '' } },
      nbf: iat,
      sub: serviceAccountUsername(namespace, name),
    };
    const signingInput = `${b64url(JSON.stringify({ alg: 'RS256', kid: this.keyId }))}.${b64url(JSON.stringify(claims))}`;
    return `${signingInput}.${b64url(sign('sha256', Buffer.from(signingInput), this.privateKey))}`;
  }

  /**
   * Authenticates a token for `audiences` (default: the API audiences), as the authentication
   * filter and the TokenReview endpoint do. Groups include system:authenticated.
   */
  authenticateToken(token: string, audiences?: string[]): TokenResult {
    const wanted = audiences && audiences.length > 0 ? audiences : this.apiAudiences;
    const errors: string[] = [];
    // Static tokens: audience-agnostic (authenticator.WrapAudienceAgnosticToken).
    const staticUser = this.staticTokens.get(token);
    if (staticUser) {
      const auds = intersect(this.apiAudiences, wanted);
      if (auds.length > 0)
        return { authenticated: true, user: withAuthenticatedGroup(copyUser(staticUser)), audiences: auds };
    }
    const sa = this.verifyServiceAccountToken(token, wanted);
    if (sa && 'user' in sa)
      return { authenticated: true, user: withAuthenticatedGroup(sa.user), audiences: sa.audiences };
    if (sa && 'error' in sa) errors.push(sa.error);
    // bearertoken.Authenticator: a token nobody recognized and nobody failed is "invalid bearer token".
    return {
      authenticated: false,
      error: errors.length === 0 ? 'invalid bearer token' : errors.length === 1 ? errors[0] : `[${errors.join(', ')}]`,
    };
  }

  /** `Authorization: Bearer <token>` (case-insensitive scheme); the header is removed once the
   * token has authenticated, as kube does. Failures fall through (undefined). */
  authenticate(req: IncomingMessage): UserInfo | undefined {
    const token = bearerToken(req);
    if (token === undefined) return undefined;
    const result = this.authenticateToken(token);
    if (!result.authenticated) return undefined;
    delete req.headers['authorization'];
    return result.user;
  }

  /** undefined: not one of ours (not a JWT, another issuer). */
  private verifyServiceAccountToken(
    token: string,
    wanted: readonly string[],
  ): { user: UserInfo; audiences: string[] } | { error: string } | undefined {
    if (!this.publicKey) return undefined;
    const parts = token.split('.');
    if (parts.length !== 3) return undefined;
    const header = parseSegment(parts[0]);
    const claims = parseSegment(parts[1]) as ServiceAccountClaims | undefined;
    if (!header || !claims || claims.iss !== this.issuer) return undefined;
    if (header['alg'] !== 'RS256') return { error: `unexpected signing algorithm ${JSON.stringify(header['alg'])}` };
    let signatureOK = false;
    try {
      signatureOK =
        /^[A-Za-z0-9_-]*$/.test(parts[2]) &&
        verify('sha256', Buffer.from(`${parts[0]}.${parts[1]}`), this.publicKey, Buffer.from(parts[2], 'base64url'));
    } catch {
      signatureOK = false;
    }
    if (!signatureOK) return { error: 'token signature is invalid' };

    // claims.go Validate: time checks with go-jose's leeway.
    const now = this.now() / 1000;
    if (typeof claims.exp === 'number' && now - this.leeway > claims.exp)
      return { error: 'service account token has expired' };
    if (typeof claims.nbf === 'number' && now + this.leeway < claims.nbf)
      return { error: 'service account token is not valid yet' };
    if (typeof claims.iat === 'number' && now + this.leeway < claims.iat)
      return { error: 'service account token is issued in the future' };
    const k8s = claims['kubernetes.io'];
    const namespace = k8s?.namespace;
    const name = k8s?.serviceaccount?.name;
    const uid = k8s?.serviceaccount?.uid;
    if (typeof namespace !== 'string' || !namespace || typeof name !== 'string' || !name)
      return { error: 'service account token claims could not be validated: kubernetes.io claims missing' };
    if (claims.sub !== serviceAccountUsername(namespace, name))
      return { error: 'service account token claims could not be validated: sub does not match kubernetes.io claims' };

    // jwt.go: token audiences ∩ requested audiences.
    const tokenAuds =
      typeof claims.aud === 'string'
        ? [claims.aud]
        : Array.isArray(claims.aud)
          ? claims.aud.filter((a): a is string => typeof a === 'string')
          : [];
    const effective = tokenAuds.length > 0 ? tokenAuds : this.apiAudiences;
    const auds = intersect(effective, wanted);
    if (auds.length === 0)
      return {
        error: `token audiences ${quoteList(effective)} is invalid for the target audiences ${quoteList(wanted)}`,
      };

    const uidClaim = typeof uid === 'string' && uid ? uid : undefined;
    if (this.serviceAccountExists && !this.serviceAccountExists(namespace, name, uidClaim))
      return { error: `serviceaccounts ${JSON.stringify(name)} not found` };

    const user: UserInfo = {
      username: serviceAccountUsername(namespace, name),
      groups: serviceAccountGroups(namespace),
    };
    if (uidClaim) user.uid = uidClaim;
    if (typeof claims.jti === 'string' && claims.jti) user.extra = { [CREDENTIAL_ID_EXTRA]: [`JTI=${claims.jti}`] };
    return { user, audiences: auds };
  }
}

function copyUser(u: UserInfo): UserInfo {
  const c: UserInfo = { username: u.username, groups: [...u.groups] };
  if (u.uid) c.uid = u.uid;
  if (u.extra) c.extra = Object.fromEntries(Object.entries(u.extra).map(([k, v]) => [k, [...v]]));
  return c;
}

/** The token of an `Authorization: Bearer <token>` header (bearertoken.AuthenticateRequest). */
export function bearerToken(req: IncomingMessage): string | undefined {
  const raw = req.headers['authorization'];
  if (typeof raw !== 'string') return undefined;
  const parts = raw.trim().split(' ');
  if (parts.length < 2 || parts[0].toLowerCase() !== 'bearer') return undefined;
  const token = parts[1];
  return token === '' ? undefined : token;
}
