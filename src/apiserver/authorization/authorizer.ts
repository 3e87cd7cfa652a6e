// The authorizer chain and kube's 403 text.
//
// Chain (newDefaultAuthorizer), mirroring kube-apiserver / k8s.io/apiserver delegated authz:
//   1. PrivilegedGroupsAuthorizer(system:masters): kube-apiserver puts
//      authorizerfactory.NewPrivilegedGroups(user.SystemPrivilegedGroup) before every mode, and
//      delegated authz has AlwaysAllowGroups ["system:masters"].
//   2. PathAuthorizer(DEFAULT_ALWAYS_ALLOW_PATHS): a separate authorizer, like delegated authz's
//      AlwaysAllowPaths (k8s.io/apiserver/pkg/authorization/path), so kubelet probes and
//      anonymous callers pass whatever RBAC holds. It allows any verb on those paths.
//   3. RBACAuthorizer.
// The same public paths are also available as RBAC objects (publicInfoViewerPolicy, kube's
// bootstrap `system:public-info-viewer`: get only, bound to system:authenticated and
// system:unauthenticated) for deployments that prefer policy over the path bypass.

import { StatusError, type Status } from '../../machinery/errors.js';
import type { Attributes, AuthorizationResult } from './attributes.js';
import { aggregateErrors, goQuote } from '../../machinery/goformat.js';
import { RBACAuthorizer, type RBACAuthorizerOptions, type RBACSource } from './rbac.js';
import type { ClusterRole, ClusterRoleBinding } from './types.js';
import { RBAC_API_VERSION, RBAC_GROUP } from './types.js';

export interface Authorizer {
  authorize(attrs: Attributes): AuthorizationResult;
}

export const SYSTEM_PRIVILEGED_GROUP = 'system:masters';
export const ALL_AUTHENTICATED_GROUP = 'system:authenticated';
export const ALL_UNAUTHENTICATED_GROUP = 'system:unauthenticated';

/**
 * First Allow or Deny wins (with that authorizer's reason and error); when every authorizer has
 * no opinion, NoOpinion with the non-empty reasons joined by newlines and the errors aggregated
 * (k8s.io/apiserver/pkg/authorization/union).
 */
export class UnionAuthorizer implements Authorizer {
  private readonly authorizers: Authorizer[];

  constructor(...authorizers: Authorizer[]) {
    this.authorizers = authorizers;
  }

  authorize(attrs: Attributes): AuthorizationResult {
    const reasons: string[] = [];
    const errors: string[] = [];
    for (const a of this.authorizers) {
      const r = a.authorize(attrs);
      if (r.error) errors.push(r.error);
      if (r.reason) reasons.push(r.reason);
      if (r.decision === 'Allow' || r.decision === 'Deny') return r;
    }
    const result: AuthorizationResult = { decision: 'NoOpinion', reason: reasons.join('\n') };
    if (errors.length > 0) result.error = aggregateErrors(errors);
    return result;
  }
}

/** Allows every request of a user in one of the groups, with an empty reason
 * (authorizerfactory.NewPrivilegedGroups). */
export class PrivilegedGroupsAuthorizer implements Authorizer {
  private readonly groups: string[];

  constructor(...groups: string[]) {
    this.groups = groups.length > 0 ? groups : [SYSTEM_PRIVILEGED_GROUP];
  }

  authorize(attrs: Attributes): AuthorizationResult {
    if (!attrs.user) return { decision: 'NoOpinion', reason: 'Error', error: 'no user on request.' };
    if (attrs.user.groups.some((g) => this.groups.includes(g))) return { decision: 'Allow', reason: '' };
    return { decision: 'NoOpinion', reason: '' };
  }
}

/** What the default chain always allows: the health endpoints (with their per-check
 * sub-paths, e.g. `/readyz/etcd`, `/livez/ping`) and `/version`. */
export const DEFAULT_ALWAYS_ALLOW_PATHS: readonly string[] = [
  '/healthz',
  '/healthz/*',
  '/livez',
  '/livez/*',
  '/readyz',
  '/readyz/*',
  '/version',
  '/version/',
];

/**
 * Allows non-resource requests (any verb) to the given paths: exact paths, or prefixes ending in
 * `*` (only a trailing `*` is allowed); a leading `/` is optional
 * (k8s.io/apiserver/pkg/authorization/path). Resource requests: no opinion.
 */
export class PathAuthorizer implements Authorizer {
  private readonly exact = new Set<string>();
  private readonly prefixes: string[] = [];

  constructor(paths: readonly string[]) {
    for (const raw of paths) {
      const p = raw.startsWith('/') ? raw.slice(1) : raw;
      if (p.length === 0) {
        this.exact.add(p);
        continue;
      }
      if (p.slice(0, -1).includes('*')) throw new Error(`only trailing * allowed in ${goQuote(p)}`);
      if (p.endsWith('*')) this.prefixes.push(p.slice(0, -1));
      else this.exact.add(p);
    }
  }

  authorize(attrs: Attributes): AuthorizationResult {
    if (attrs.isResourceRequest) return { decision: 'NoOpinion', reason: '' };
    const p = attrs.path.startsWith('/') ? attrs.path.slice(1) : attrs.path;
    if (this.exact.has(p) || this.prefixes.some((prefix) => p.startsWith(prefix)))
      return { decision: 'Allow', reason: '' };
    return { decision: 'NoOpinion', reason: '' };
  }
}

export interface DefaultAuthorizerOptions extends RBACAuthorizerOptions {
  /** Groups allowed everything; default ['system:masters']. */
  privilegedGroups?: string[];
  /** Paths allowed to everyone; default DEFAULT_ALWAYS_ALLOW_PATHS. `[]` disables the bypass. */
  alwaysAllowPaths?: readonly string[];
}

/** system:masters → always-allowed paths → RBAC. */
export function newDefaultAuthorizer(source: RBACSource, options: DefaultAuthorizerOptions = {}): UnionAuthorizer {
  const chain: Authorizer[] = [
    new PrivilegedGroupsAuthorizer(...(options.privilegedGroups ?? [SYSTEM_PRIVILEGED_GROUP])),
  ];
  const paths = options.alwaysAllowPaths ?? DEFAULT_ALWAYS_ALLOW_PATHS;
  if (paths.length > 0) chain.push(new PathAuthorizer(paths));
  chain.push(new RBACAuthorizer(source, { aggregation: options.aggregation }));
  return new UnionAuthorizer(...chain);
}

/** kube's bootstrap `system:public-info-viewer` ClusterRole and ClusterRoleBinding
 * (plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go). */
export function publicInfoViewerPolicy(): { clusterRole: ClusterRole; clusterRoleBinding: ClusterRoleBinding } {
  const labels = { 'kubernetes.io/bootstrapping': 'rbac-defaults' };
  return {
    clusterRole: {
      apiVersion: RBAC_API_VERSION,
      kind: 'ClusterRole',
      metadata: {
        name: 'system:public-info-viewer',
        labels: { ...labels },
        annotations: { 'rbac.authorization.kubernetes.io/autoupdate': 'true' },
      },
      rules: [{ verbs: ['get'], nonResourceURLs: ['/livez', '/readyz', '/healthz', '/version', '/version/'] }],
    },
    clusterRoleBinding: {
      apiVersion: RBAC_API_VERSION,
      kind: 'ClusterRoleBinding',
      metadata: {
        name: 'system:public-info-viewer',
        labels: { ...labels },
        annotations: { 'rbac.authorization.kubernetes.io/autoupdate': 'true' },
      },
      roleRef: { apiGroup: RBAC_GROUP, kind: 'ClusterRole', name: 'system:public-info-viewer' },
      subjects: [
        { apiGroup: RBAC_GROUP, kind: 'Group', name: ALL_AUTHENTICATED_GROUP },
        { apiGroup: RBAC_GROUP, kind: 'Group', name: ALL_UNAUTHENTICATED_GROUP },
      ],
    },
  };
}

// ---------------------------------------------------------------------------------------------
// 403

/** responsewriters: avoid emitting errors that look like HTML. Quotes are okay. */
function sanitize(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** responsewriters.forbiddenMessage: what the user may not do. */
function forbiddenDetail(attrs: Attributes): string {
  const username = attrs.user?.username ?? '';
  if (!attrs.isResourceRequest) {
    return `User ${goQuote(username)} cannot ${attrs.verb} path ${goQuote(attrs.path)}`;
  }
  const resource = attrs.subresource ? `${attrs.resource}/${attrs.subresource}` : attrs.resource;
  if (attrs.namespace) {
    return `User ${goQuote(username)} cannot ${attrs.verb} resource ${goQuote(resource)} in API group ${goQuote(attrs.apiGroup)} in the namespace ${goQuote(attrs.namespace)}`;
  }
  return `User ${goQuote(username)} cannot ${attrs.verb} resource ${goQuote(resource)} in API group ${goQuote(attrs.apiGroup)} at the cluster scope`;
}

/**
 * The Status message of kube's 403 (responsewriters.Forbidden + apierrors.NewForbidden):
 * `<resource>.<group> "<name>" is forbidden: <detail>[: <reason>]`, without the name part for
 * requests without a name, and `forbidden: <detail>` when there is neither group nor resource
 * (non-resource requests). The detail is HTML-sanitized, the reason is not.
 */
export function forbiddenMessage(attrs: Attributes, reason?: string): string {
  const detail = sanitize(forbiddenDetail(attrs));
  const err = reason ? `${detail}: ${reason}` : detail;
  if (!attrs.apiGroup && !attrs.resource) return `forbidden: ${err}`;
  const qualified = attrs.apiGroup ? `${attrs.resource}.${attrs.apiGroup}` : attrs.resource;
  if (!attrs.name) return `${qualified} is forbidden: ${err}`;
  return `${qualified} ${goQuote(attrs.name)} is forbidden: ${err}`;
}

/** A 403 StatusError whose Status always carries `details` (kube sends `"details":{}` even
 * when group, kind and name are all empty). */
export class ForbiddenError extends StatusError {
  override toStatus(): Status {
    const s = super.toStatus();
    s.details = { ...(this.details ?? {}) };
    return s;
  }
}

/** The full 403: reason Forbidden, details {group, kind: <resource>, name} (empty ones omitted). */
export function forbiddenError(attrs: Attributes, reason?: string): ForbiddenError {
  const details: { name?: string; group?: string; kind?: string } = {};
  if (attrs.name) details.name = attrs.name;
  if (attrs.apiGroup) details.group = attrs.apiGroup;
  if (attrs.resource) details.kind = attrs.resource;
  return new ForbiddenError(403, 'Forbidden', forbiddenMessage(attrs, reason), details);
}
