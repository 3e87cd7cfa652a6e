// Kubernetes RBAC evaluation, following kube's own implementation:
//   - rule matching: k8s.io/kubernetes pkg/apis/rbac/v1/evaluation_helpers.go (VerbMatches,
//     APIGroupMatches, ResourceMatches, ResourceNameMatches, NonResourceURLMatches) and
//     plugin/pkg/auth/authorizer/rbac/rbac.go (RuleAllows, Authorize, RulesFor);
//   - which rules apply to a user: pkg/registry/rbac/validation/rule.go (VisitRulesFor,
//     appliesTo, GetRoleReferenceRules, the "allowed by ..." describers);
//   - aggregated ClusterRoles: pkg/controller/clusterroleaggregation (see aggregateClusterRoles).
//
// RBAC only ever allows: the answer is Allow or NoOpinion (deny by default), never Deny.

import type { UserInfo } from '../authentication/authenticator.js';
import type { Attributes, AuthorizationResult } from './attributes.js';
import { aggregateErrors, goQuote } from '../../machinery/goformat.js';
import { labelSelectorMatcher } from '../../machinery/labels.js';
import type {
  ClusterRole,
  ClusterRoleBinding,
  NonResourceRule,
  PolicyRule,
  RBACObject,
  ResourceRule,
  Role,
  RoleBinding,
  RoleRef,
  Subject,
  SubjectRulesReviewStatus,
} from './types.js';
import { WILDCARD } from './types.js';

// ---------------------------------------------------------------------------------------------
// Rule matching

export function verbMatches(rule: PolicyRule, verb: string): boolean {
  return (rule.verbs ?? []).some((v) => v === WILDCARD || v === verb);
}

/** `""` in apiGroups is the core group and matches only it; `*` matches every group. */
export function apiGroupMatches(rule: PolicyRule, group: string): boolean {
  return (rule.apiGroups ?? []).some((g) => g === WILDCARD || g === group);
}

/**
 * `combinedResource` is `resource` or `resource/subresource`. A rule resource matches when it is
 * `*` (any resource and any subresource), equal to the combined resource, or `*\/<subresource>`
 * for a request of that subresource. `resource/*` is NOT a wildcard in kube (it only matches a
 * literal "resource/*"; kubernetes/kubernetes#78936, kubernetes/enhancements#4961).
 */
export function resourceMatches(rule: PolicyRule, combinedResource: string, subresource: string): boolean {
  for (const r of rule.resources ?? []) {
    if (r === WILDCARD || r === combinedResource) return true;
    if (!subresource) continue;
    if (r.length === subresource.length + 2 && r.startsWith('*/') && r.endsWith(subresource)) return true;
  }
  return false;
}

/** No resourceNames: every name (and no name). Otherwise the request's name must be listed, so
 * create, list, watch and deletecollection without a name never match. */
export function resourceNameMatches(rule: PolicyRule, name: string): boolean {
  const names = rule.resourceNames ?? [];
  if (names.length === 0) return true;
  return names.includes(name);
}

/** `*` matches every path; a URL ending in `*` matches by prefix (`/apis/*` → `/apis/x`, and
 * `/healthz*` → `/healthzfoo`); anything else must be equal. */
export function nonResourceURLMatches(rule: PolicyRule, path: string): boolean {
  for (const u of rule.nonResourceURLs ?? []) {
    if (u === WILDCARD || u === path) return true;
    if (u.endsWith('*') && path.startsWith(u.replace(/\*+$/, ''))) return true;
  }
  return false;
}

export function ruleAllows(attrs: Attributes, rule: PolicyRule): boolean {
  if (attrs.isResourceRequest) {
    const combined = attrs.subresource ? `${attrs.resource}/${attrs.subresource}` : attrs.resource;
    return (
      verbMatches(rule, attrs.verb) &&
      apiGroupMatches(rule, attrs.apiGroup) &&
      resourceMatches(rule, combined, attrs.subresource) &&
      resourceNameMatches(rule, attrs.name)
    );
  }
  return verbMatches(rule, attrs.verb) && nonResourceURLMatches(rule, attrs.path);
}

export function rulesAllow(attrs: Attributes, rules: readonly PolicyRule[]): boolean {
  return rules.some((r) => ruleAllows(attrs, r));
}

// ---------------------------------------------------------------------------------------------
// Subjects

export const SERVICE_ACCOUNT_USERNAME_PREFIX = 'system:serviceaccount:';
export const ALL_SERVICE_ACCOUNTS_GROUP = 'system:serviceaccounts';

/** `system:serviceaccount:<namespace>:<name>` (k8s.io/apiserver/pkg/authentication/serviceaccount). */
export function serviceAccountUsername(namespace: string, name: string): string {
  return `${SERVICE_ACCOUNT_USERNAME_PREFIX}${namespace}:${name}`;
}

/** The groups kube's token authenticator gives a service account: `system:serviceaccounts`,
 * `system:serviceaccounts:<namespace>` (and the authn layer adds `system:authenticated`). */
export function serviceAccountGroups(namespace: string): string[] {
  return [ALL_SERVICE_ACCOUNTS_GROUP, `${ALL_SERVICE_ACCOUNTS_GROUP}:${namespace}`];
}

/** A service account's UserInfo as kube-apiserver would authenticate it. */
export function serviceAccountUser(namespace: string, name: string): UserInfo {
  return {
    username: serviceAccountUsername(namespace, name),
    groups: [...serviceAccountGroups(namespace), 'system:authenticated'],
  };
}

/**
 * Whether a binding subject is this user. `bindingNamespace` is the RoleBinding's namespace, or
 * '' for a ClusterRoleBinding: a ServiceAccount subject without a namespace means "in the
 * binding's namespace", so in a ClusterRoleBinding it never matches. Group subjects match the
 * user's groups, which is how `system:serviceaccounts[:<ns>]` and `system:authenticated` work.
 */
export function subjectAppliesToUser(user: UserInfo, subject: Subject, bindingNamespace: string): boolean {
  switch (subject.kind) {
    case 'User':
      return user.username === subject.name;
    case 'Group':
      return user.groups.includes(subject.name);
    case 'ServiceAccount': {
      const ns = subject.namespace ? subject.namespace : bindingNamespace;
      if (!ns) return false;
      return user.username === serviceAccountUsername(ns, subject.name);
    }
    default:
      return false;
  }
}

/** Index of the first subject that is this user, or -1. */
export function appliesTo(
  user: UserInfo,
  subjects: readonly Subject[] | null | undefined,
  bindingNamespace: string,
): number {
  const list = subjects ?? [];
  for (let i = 0; i < list.length; i++) if (subjectAppliesToUser(user, list[i], bindingNamespace)) return i;
  return -1;
}

function describeSubject(s: Subject, bindingNamespace: string): string {
  if (s.kind === 'ServiceAccount') {
    // kube prints name/namespace (sic), defaulting the namespace to the binding's.
    return `${s.kind} ${goQuote(`${s.name}/${s.namespace ? s.namespace : bindingNamespace}`)}`;
  }
  return `${s.kind} ${goQuote(s.name)}`;
}

function describeClusterRoleBinding(b: ClusterRoleBinding, s: Subject): string {
  return `ClusterRoleBinding ${goQuote(b.metadata.name)} of ${b.roleRef.kind} ${goQuote(b.roleRef.name)} to ${describeSubject(s, '')}`;
}

function describeRoleBinding(b: RoleBinding, s: Subject): string {
  const ns = b.metadata.namespace ?? '';
  return `RoleBinding ${goQuote(`${b.metadata.name}/${ns}`)} of ${b.roleRef.kind} ${goQuote(b.roleRef.name)} to ${describeSubject(s, ns)}`;
}

// ---------------------------------------------------------------------------------------------
// Sources

/**
 * Where RBAC objects come from: synchronous reads of an in-memory cache (an informer's store
 * later). Getters return undefined for a missing object; any method may throw (e.g. cache not
 * ready), which the authorizer records as an evaluation error like kube's lister errors.
 */
export interface RBACSource {
  listRoles(namespace: string): Role[];
  getRole(namespace: string, name: string): Role | undefined;
  listClusterRoles(): ClusterRole[];
  getClusterRole(name: string): ClusterRole | undefined;
  listRoleBindings(namespace: string): RoleBinding[];
  listClusterRoleBindings(): ClusterRoleBinding[];
}

export interface InMemoryRBACObjects {
  roles?: Role[];
  clusterRoles?: ClusterRole[];
  roleBindings?: RoleBinding[];
  clusterRoleBindings?: ClusterRoleBinding[];
}

type RBACKind = 'Role' | 'ClusterRole' | 'RoleBinding' | 'ClusterRoleBinding';

/** A plain in-memory RBACSource; list order is insertion order. */
export class InMemoryRBACSource implements RBACSource {
  private readonly roles = new Map<string, Role>();
  private readonly clusterRoles = new Map<string, ClusterRole>();
  private readonly roleBindings = new Map<string, RoleBinding>();
  private readonly clusterRoleBindings = new Map<string, ClusterRoleBinding>();

  constructor(objects: InMemoryRBACObjects = {}) {
    for (const r of objects.roles ?? []) this.putRole(r);
    for (const r of objects.clusterRoles ?? []) this.putClusterRole(r);
    for (const b of objects.roleBindings ?? []) this.putRoleBinding(b);
    for (const b of objects.clusterRoleBindings ?? []) this.putClusterRoleBinding(b);
  }

  private static nsKey(kind: string, namespace: string | undefined, name: string): string {
    if (!namespace) throw new Error(`${kind} ${goQuote(name)} needs metadata.namespace`);
    return `${namespace}/${name}`;
  }

  putRole(role: Role): void {
    this.roles.set(InMemoryRBACSource.nsKey('Role', role.metadata.namespace, role.metadata.name), role);
  }

  putClusterRole(role: ClusterRole): void {
    this.clusterRoles.set(role.metadata.name, role);
  }

  putRoleBinding(binding: RoleBinding): void {
    this.roleBindings.set(
      InMemoryRBACSource.nsKey('RoleBinding', binding.metadata.namespace, binding.metadata.name),
      binding,
    );
  }

  putClusterRoleBinding(binding: ClusterRoleBinding): void {
    this.clusterRoleBindings.set(binding.metadata.name, binding);
  }

  /** Adds or replaces an object by its `kind`. */
  put(obj: RBACObject): void {
    switch (obj.kind) {
      case 'Role':
        return this.putRole(obj);
      case 'ClusterRole':
        return this.putClusterRole(obj);
      case 'RoleBinding':
        return this.putRoleBinding(obj);
      case 'ClusterRoleBinding':
        return this.putClusterRoleBinding(obj);
      default:
        throw new Error(`unknown RBAC kind ${goQuote(String((obj as { kind?: unknown }).kind))}`);
    }
  }

  /** Removes an object; `namespace` is ignored for cluster-scoped kinds. */
  delete(kind: RBACKind, namespace: string, name: string): boolean {
    switch (kind) {
      case 'Role':
        return this.roles.delete(`${namespace}/${name}`);
      case 'ClusterRole':
        return this.clusterRoles.delete(name);
      case 'RoleBinding':
        return this.roleBindings.delete(`${namespace}/${name}`);
      case 'ClusterRoleBinding':
        return this.clusterRoleBindings.delete(name);
    }
  }

  listRoles(namespace: string): Role[] {
    return [...this.roles.values()].filter((r) => r.metadata.namespace === namespace);
  }

  getRole(namespace: string, name: string): Role | undefined {
    return this.roles.get(`${namespace}/${name}`);
  }

  listClusterRoles(): ClusterRole[] {
    return [...this.clusterRoles.values()];
  }

  getClusterRole(name: string): ClusterRole | undefined {
    return this.clusterRoles.get(name);
  }

  listRoleBindings(namespace: string): RoleBinding[] {
    return [...this.roleBindings.values()].filter((b) => b.metadata.namespace === namespace);
  }

  listClusterRoleBindings(): ClusterRoleBinding[] {
    return [...this.clusterRoleBindings.values()];
  }
}

// ---------------------------------------------------------------------------------------------
// ClusterRole aggregation

function sameList(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** equality.Semantic.DeepEqual on two PolicyRules (a missing list and `[]` differ, as nil and
 * an empty slice do in Go). */
function sameRule(a: PolicyRule, b: PolicyRule): boolean {
  return (
    sameList(a.verbs, b.verbs) &&
    sameList(a.apiGroups, b.apiGroups) &&
    sameList(a.resources, b.resources) &&
    sameList(a.resourceNames, b.resourceNames) &&
    sameList(a.nonResourceURLs, b.nonResourceURLs)
  );
}

interface ResolvedRules {
  rules: PolicyRule[];
  errors: string[];
}

function resolveAggregated(role: ClusterRole, all: readonly ClusterRole[], visiting: Set<string>): ResolvedRules {
  const rule = role.aggregationRule;
  if (!rule) return { rules: role.rules ?? [], errors: [] };
  const name = role.metadata.name;
  visiting.add(name);
  try {
    const rules: PolicyRule[] = [];
    const errors: string[] = [];
    const selectors = rule.clusterRoleSelectors ?? [];
    for (let i = 0; i < selectors.length; i++) {
      let matches;
      try {
        matches = labelSelectorMatcher(selectors[i]);
      } catch (err) {
        // The controller fails this sync and leaves the stored rules alone.
        const msg = `clusterrole ${goQuote(name)}: aggregationRule.clusterRoleSelectors[${i}]: ${(err as Error).message}`;
        return { rules: role.rules ?? [], errors: [msg] };
      }
      const selected = all
        .filter((cr) => matches(cr.metadata.labels))
        .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0));
      for (const cr of selected) {
        if (cr.metadata.name === name) continue;
        // A role already being resolved higher up (an aggregation cycle) adds nothing new: its
        // rules are the union of what is reachable from it, which this walk already covers.
        if (visiting.has(cr.metadata.name)) continue;
        const sub = resolveAggregated(cr, all, visiting);
        errors.push(...sub.errors);
        for (const r of sub.rules) if (!rules.some((x) => sameRule(x, r))) rules.push(r);
      }
    }
    return { rules, errors };
  } finally {
    visiting.delete(name);
  }
}

/**
 * The rules the ClusterRole aggregation controller converges to for `role`: for each selector
 * in order, every other ClusterRole whose labels match it, sorted by name, contributes its
 * (itself aggregated) rules, skipping rules already present. The role's own `rules` are
 * replaced, as the controller overwrites them. An invalid selector leaves the stored rules and
 * reports an error, as a failed controller sync would.
 */
export function aggregatedRules(role: ClusterRole, clusterRoles: readonly ClusterRole[]): ResolvedRules {
  return resolveAggregated(role, clusterRoles, new Set());
}

/** Copies of `clusterRoles` with every aggregated ClusterRole's `rules` set to what the
 * aggregation controller would write (see aggregatedRules). Others are returned unchanged. */
export function aggregateClusterRoles(
  clusterRoles: readonly ClusterRole[],
  onError?: (message: string) => void,
): ClusterRole[] {
  return clusterRoles.map((cr) => {
    if (!cr.aggregationRule) return cr;
    const { rules, errors } = aggregatedRules(cr, clusterRoles);
    errors.forEach((e) => onError?.(e));
    return { ...cr, rules };
  });
}

// ---------------------------------------------------------------------------------------------
// The authorizer

export interface RBACAuthorizerOptions {
  /**
   * 'resolve' (default): aggregated ClusterRoles are resolved at evaluation time from the
   * current ClusterRoles, i.e. what the aggregation controller would have written (use when no
   * controller runs, as in standalone mode). 'stored': use `rules` as stored, for caches fed
   * from a kube-apiserver whose controller already aggregated them.
   */
  aggregation?: 'resolve' | 'stored';
}

/** Called for each applicable rule (with the binding that grants it) or resolution error;
 * return false to stop. */
export type RuleVisitor = (
  source: string | undefined,
  rule: PolicyRule | undefined,
  error: string | undefined,
) => boolean;

export class RBACAuthorizer {
  private readonly aggregation: 'resolve' | 'stored';

  constructor(
    private readonly source: RBACSource,
    options: RBACAuthorizerOptions = {},
  ) {
    this.aggregation = options.aggregation ?? 'resolve';
  }

  /** Rules of the role a binding references; `bindingNamespace` is '' for ClusterRoleBindings.
   * A RoleBinding may reference a ClusterRole: its rules then apply in that namespace only. */
  getRoleReferenceRules(roleRef: RoleRef, bindingNamespace: string): ResolvedRules {
    switch (roleRef.kind) {
      case 'Role': {
        const role = this.source.getRole(bindingNamespace, roleRef.name);
        if (!role) return { rules: [], errors: [`role.rbac.authorization.k8s.io ${goQuote(roleRef.name)} not found`] };
        return { rules: role.rules ?? [], errors: [] };
      }
      case 'ClusterRole': {
        const role = this.source.getClusterRole(roleRef.name);
        if (!role)
          return { rules: [], errors: [`clusterrole.rbac.authorization.k8s.io ${goQuote(roleRef.name)} not found`] };
        if (this.aggregation === 'resolve' && role.aggregationRule) {
          return aggregatedRules(role, this.source.listClusterRoles());
        }
        return { rules: role.rules ?? [], errors: [] };
      }
      default:
        return { rules: [], errors: [`unsupported role reference kind: ${goQuote(roleRef.kind)}`] };
    }
  }

  /** VisitRulesFor: ClusterRoleBindings first, then (for a namespaced request) the namespace's
   * RoleBindings; for each binding with a subject that is this user, the referenced role's rules. */
  visitRulesFor(user: UserInfo, namespace: string, visitor: RuleVisitor): void {
    const safe = <T>(read: () => T): { value?: T; error?: string } => {
      try {
        return { value: read() };
      } catch (err) {
        return { error: err instanceof Error ? err.message : String(err) };
      }
    };
    const visitBinding = (
      binding: ClusterRoleBinding | RoleBinding,
      bindingNamespace: string,
      describe: (s: Subject) => string,
    ): boolean => {
      const idx = appliesTo(user, binding.subjects, bindingNamespace);
      if (idx < 0) return true;
      const resolved = safe(() => this.getRoleReferenceRules(binding.roleRef, bindingNamespace));
      if (resolved.error !== undefined) return visitor(undefined, undefined, resolved.error);
      const { rules, errors } = resolved.value!;
      for (const e of errors) if (!visitor(undefined, undefined, e)) return false;
      const subjects = binding.subjects ?? [];
      const description = describe(subjects[idx]);
      for (const r of rules) if (!visitor(description, r, undefined)) return false;
      return true;
    };

    const crbs = safe(() => this.source.listClusterRoleBindings());
    if (crbs.error !== undefined) {
      if (!visitor(undefined, undefined, crbs.error)) return;
    } else {
      for (const b of crbs.value!) {
        if (!visitBinding(b, '', (s) => describeClusterRoleBinding(b, s))) return;
      }
    }
    if (!namespace) return;
    const rbs = safe(() => this.source.listRoleBindings(namespace));
    if (rbs.error !== undefined) {
      visitor(undefined, undefined, rbs.error);
      return;
    }
    for (const b of rbs.value!) {
      if (!visitBinding(b, namespace, (s) => describeRoleBinding(b, s))) return;
    }
  }

  /** Allow with `RBAC: allowed by <binding>`, else NoOpinion; the NoOpinion reason lists the
   * resolution errors met on the way (`RBAC: <err>` / `RBAC: [<err>, <err>]`), or is empty. */
  authorize(attrs: Attributes): AuthorizationResult {
    let allowedBy: string | undefined;
    const errors: string[] = [];
    this.visitRulesFor(attrs.user, attrs.namespace, (source, rule, error) => {
      if (rule && ruleAllows(attrs, rule)) {
        allowedBy = source;
        return false;
      }
      if (error !== undefined) errors.push(error);
      return true;
    });
    if (allowedBy !== undefined) return { decision: 'Allow', reason: `RBAC: allowed by ${allowedBy}` };
    return { decision: 'NoOpinion', reason: errors.length > 0 ? `RBAC: ${aggregateErrors(errors)}` : '' };
  }

  /** Every rule that applies to the user in the namespace (cluster-wide bindings only when
   * namespace is ''), plus the resolution errors. */
  policyRulesFor(user: UserInfo, namespace: string): { rules: PolicyRule[]; errors: string[] } {
    const rules: PolicyRule[] = [];
    const errors: string[] = [];
    this.visitRulesFor(user, namespace, (_source, rule, error) => {
      if (rule) rules.push(rule);
      if (error !== undefined) errors.push(error);
      return true;
    });
    return { rules, errors };
  }

  /** What a SelfSubjectRulesReview answers from RBAC: rules with resources as resourceRules,
   * rules with nonResourceURLs as nonResourceRules; RBAC is never incomplete. */
  rulesFor(user: UserInfo, namespace: string): SubjectRulesReviewStatus {
    const { rules, errors } = this.policyRulesFor(user, namespace);
    const resourceRules: ResourceRule[] = [];
    const nonResourceRules: NonResourceRule[] = [];
    for (const r of rules) {
      if ((r.resources ?? []).length > 0) {
        const rr: ResourceRule = { verbs: [...(r.verbs ?? [])] };
        if (r.apiGroups) rr.apiGroups = [...r.apiGroups];
        rr.resources = [...(r.resources ?? [])];
        if (r.resourceNames) rr.resourceNames = [...r.resourceNames];
        resourceRules.push(rr);
      }
      if ((r.nonResourceURLs ?? []).length > 0) {
        nonResourceRules.push({ verbs: [...(r.verbs ?? [])], nonResourceURLs: [...(r.nonResourceURLs ?? [])] });
      }
    }
    const status: SubjectRulesReviewStatus = { resourceRules, nonResourceRules, incomplete: false };
    if (errors.length > 0) status.evaluationError = aggregateErrors(errors);
    return status;
  }
}
