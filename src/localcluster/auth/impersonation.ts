// User impersonation (`kubectl --as/--as-group/--as-uid`), as kube-apiserver's impersonation
// filter does it (k8s.io/apiserver/pkg/endpoints/filters/impersonation.go): after the caller is
// authenticated, each Impersonate-User / -Uid / -Group / -Extra-<key> header is authorized as verb
// `impersonate` on users, serviceaccounts (namespaced), uids, groups or userextras/<key>
// (authentication.k8s.io), and the request continues as the impersonated user.
//
// The server's authenticator interface is synchronous and cannot answer a request itself, so
// this is an Authenticator wrapper: a refused impersonation returns the caller marked with the
// refusal, and ControlPlaneAuthorizer (./authorizer.ts) answers that marked request with kube's
// 403 (or 500 for groups without a user) before anything else runs.

import type { IncomingMessage } from 'node:http';
import { anonymousUser, type Authenticator, type UserInfo } from '../../apiserver/authentication/authenticator.js';
import type { Attributes } from '../../apiserver/authorization/attributes.js';
import {
  ALL_AUTHENTICATED_GROUP,
  ALL_UNAUTHENTICATED_GROUP,
  forbiddenError,
  type Authorizer,
} from '../../apiserver/authorization/authorizer.js';
import {
  SERVICE_ACCOUNT_USERNAME_PREFIX,
  serviceAccountGroups,
  serviceAccountUsername,
} from '../../apiserver/authorization/rbac.js';
import { internalError, type StatusError } from '../../machinery/errors.js';

export const IMPERSONATE_USER_HEADER = 'impersonate-user';
export const IMPERSONATE_UID_HEADER = 'impersonate-uid';
export const IMPERSONATE_GROUP_HEADER = 'impersonate-group';
export const IMPERSONATE_EXTRA_PREFIX = 'impersonate-extra-';

const failures = new WeakMap<UserInfo, StatusError>();

/** The error a request must fail with because its impersonation was refused, if any. */
export function impersonationFailure(user: UserInfo | undefined): StatusError | undefined {
  return user ? failures.get(user) : undefined;
}

const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const dnsSubdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** serviceaccount.SplitUsername: namespace and name of `system:serviceaccount:<ns>:<name>`. */
export function splitServiceAccountUsername(username: string): { namespace: string; name: string } | undefined {
  if (!username.startsWith(SERVICE_ACCOUNT_USERNAME_PREFIX)) return undefined;
  const parts = username.slice(SERVICE_ACCOUNT_USERNAME_PREFIX.length).split(':');
  if (parts.length !== 2) return undefined;
  const [namespace, name] = parts;
  if (namespace.length > 63 || !dnsLabel.test(namespace) || name.length > 253 || !dnsSubdomain.test(name))
    return undefined;
  return { namespace, name };
}

/** Every value of each header, lower-cased names (duplicate headers kept apart). */
function headerValues(req: IncomingMessage): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const raw = req.rawHeaders ?? [];
  if (raw.length > 0) {
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const k = raw[i].toLowerCase();
      out.set(k, [...(out.get(k) ?? []), raw[i + 1]]);
    }
    return out;
  }
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined) continue;
    out.set(k.toLowerCase(), Array.isArray(v) ? v : [v]);
  }
  return out;
}

function unescapeExtraKey(key: string): string {
  try {
    return decodeURIComponent(key);
  } catch {
    return key;
  }
}

interface ImpersonationRequest {
  kind: 'User' | 'ServiceAccount' | 'Group' | 'UserExtra' | 'UID';
  name: string;
  namespace?: string;
  /** UserExtra: the extra key. */
  key?: string;
}

/** buildImpersonationRequests: what the headers ask for, in kube's order; undefined without any. */
function impersonationRequests(
  headers: Map<string, string[]>,
): { requests: ImpersonationRequest[]; error?: string } | undefined {
  const requests: ImpersonationRequest[] = [];
  const user = (headers.get(IMPERSONATE_USER_HEADER) ?? [])[0] ?? '';
  if (user) {
    const sa = splitServiceAccountUsername(user);
    requests.push(
      sa ? { kind: 'ServiceAccount', namespace: sa.namespace, name: sa.name } : { kind: 'User', name: user },
    );
  }
  const groups = headers.get(IMPERSONATE_GROUP_HEADER) ?? [];
  for (const g of groups) requests.push({ kind: 'Group', name: g });
  let hasExtra = false;
  for (const [header, values] of headers) {
    if (!header.startsWith(IMPERSONATE_EXTRA_PREFIX)) continue;
    hasExtra = true;
    const key = unescapeExtraKey(header.slice(IMPERSONATE_EXTRA_PREFIX.length).toLowerCase());
    for (const v of values) requests.push({ kind: 'UserExtra', name: v, key });
  }
  const uid = (headers.get(IMPERSONATE_UID_HEADER) ?? [])[0] ?? '';
  if (uid) requests.push({ kind: 'UID', name: uid });
  if (requests.length === 0) return undefined;
  if ((groups.length > 0 || hasExtra || uid) && !user) {
    const described = requests
      .map((r) => `{${r.kind} ${r.namespace ?? ''} ${r.name}${r.key ? ` ${r.key}` : ''}}`)
      .join(' ');
    return { requests, error: `requested [${described}] without impersonating a user` };
  }
  return { requests };
}

export interface ImpersonationOptions {
  /** When the server serves unauthenticated requests as system:anonymous (anonymousAuth), an
   * unauthenticated request with impersonation headers is checked as system:anonymous (and
   * refused unless policy allows), as kube does; otherwise it is left to the server (401). */
  anonymousAuth?: boolean;
}

/**
 * Wraps the authenticators: the caller they identify may impersonate another user when the
 * authorizer allows each `impersonate` (kube's filter), and the impersonation headers are
 * removed. Give it the synchronous chain (`ControlPlaneAuthorizer.chain`).
 */
export class ImpersonatingAuthenticator implements Authenticator {
  private readonly inner: Authenticator[];

  constructor(
    inner: Authenticator | Authenticator[],
    private readonly authorizer: Authorizer,
    private readonly opts: ImpersonationOptions = {},
  ) {
    this.inner = Array.isArray(inner) ? inner : [inner];
  }

  authenticate(req: IncomingMessage): UserInfo | undefined {
    let requestor: UserInfo | undefined;
    for (const a of this.inner) {
      requestor = a.authenticate(req);
      if (requestor) break;
    }
    const headers = headerValues(req);
    const parsed = impersonationRequests(headers);
    if (!parsed) return requestor;
    if (!requestor) {
      if (!this.opts.anonymousAuth) return undefined;
      requestor = anonymousUser;
    }
    const refuse = (err: StatusError): UserInfo => {
      const marked: UserInfo = { ...requestor! };
      failures.set(marked, err);
      return marked;
    };
    if (parsed.error) return refuse(internalError(new Error(parsed.error)));

    let username = '';
    let uid = '';
    let groups: string[] = [];
    const extra: Record<string, string[]> = {};
    const groupsSpecified = (headers.get(IMPERSONATE_GROUP_HEADER) ?? []).length > 0;
    for (const r of parsed.requests) {
      const attrs: Attributes = {
        user: requestor,
        verb: 'impersonate',
        namespace: '',
        apiGroup: '',
        apiVersion: '',
        resource: '',
        subresource: '',
        name: r.name,
        isResourceRequest: true,
        path: '',
      };
      switch (r.kind) {
        case 'ServiceAccount':
          attrs.resource = 'serviceaccounts';
          attrs.namespace = r.namespace!;
          username = serviceAccountUsername(r.namespace!, r.name);
          if (!groupsSpecified) groups = serviceAccountGroups(r.namespace!);
          break;
        case 'User':
          attrs.resource = 'users';
          username = r.name;
          break;
        case 'Group':
          attrs.resource = 'groups';
          groups.push(r.name);
          break;
        case 'UserExtra':
          attrs.apiGroup = 'authentication.k8s.io';
          attrs.apiVersion = 'v1';
          attrs.resource = 'userextras';
          attrs.subresource = r.key!;
          (extra[r.key!] ??= []).push(r.name);
          break;
        case 'UID':
          attrs.apiGroup = 'authentication.k8s.io';
          attrs.apiVersion = 'v1';
          attrs.resource = 'uids';
          uid = r.name;
          break;
      }
      const result = this.authorizer.authorize(attrs);
      if (result.decision !== 'Allow') return refuse(forbiddenError(attrs, result.reason));
    }

    if (username !== anonymousUser.username) {
      if (!groups.some((g) => g === ALL_AUTHENTICATED_GROUP || g === ALL_UNAUTHENTICATED_GROUP))
        groups.push(ALL_AUTHENTICATED_GROUP);
    } else if (!groups.includes(ALL_UNAUTHENTICATED_GROUP)) {
      groups.push(ALL_UNAUTHENTICATED_GROUP);
    }
    for (const h of Object.keys(req.headers)) {
      const k = h.toLowerCase();
      if (
        k === IMPERSONATE_USER_HEADER ||
        k === IMPERSONATE_GROUP_HEADER ||
        k === IMPERSONATE_UID_HEADER ||
        k.startsWith(IMPERSONATE_EXTRA_PREFIX)
      )
        delete req.headers[h];
    }
    const user: UserInfo = { username, groups };
    if (uid) user.uid = uid;
    if (Object.keys(extra).length > 0) user.extra = extra;
    return user;
  }
}
