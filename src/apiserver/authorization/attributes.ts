// Authorization attributes (k8s.io/apiserver/pkg/authorization/authorizer.AttributesRecord), how a
// request becomes them (endpoints/filters/authorization.go GetAuthorizerAttributes), and the
// SubjectAccessReview wire forms: spec → attributes as kube-apiserver's SAR endpoint does
// (pkg/registry/authorization/util/helpers.go), attributes → spec as the webhook authorizer sends
// it (staging/src/k8s.io/apiserver/plugin/pkg/authorizer/webhook/webhook.go), decision → status
// and status → decision.

import type { UserInfo } from '../authentication/authenticator.js';
import type { RequestInfo } from '../endpoints/requestinfo.js';

export interface Attributes {
  user: UserInfo;
  /** get, list, watch, create, update, patch, delete, deletecollection (resource requests), or
   * the lower-case HTTP method (non-resource requests). */
  verb: string;
  namespace: string;
  apiGroup: string;
  apiVersion: string;
  resource: string;
  subresource: string;
  name: string;
  isResourceRequest: boolean;
  /** The request path; what non-resource rules match. */
  path: string;
}

export type Decision = 'Allow' | 'NoOpinion' | 'Deny';

export interface AuthorizationResult {
  decision: Decision;
  /** Why; kube shows it to the user after the 403 message and in SAR status.reason. */
  reason: string;
  /** An evaluation error (SAR status.evaluationError); never set by RBAC itself. */
  error?: string;
}

/** k8s.io/apimachinery/pkg/api/validation/path.IsValidPathSegmentName. */
function isValidPathSegmentName(name: string): boolean {
  return name !== '.' && name !== '..' && !name.includes('/') && !name.includes('%');
}

/** fields.UnescapeValue; undefined for an invalid escape or an unescaped `,`/`=`. */
function unescapeFieldValue(s: string): string | undefined {
  let out = '';
  let inSlash = false;
  for (const c of s) {
    if (inSlash) {
      if (c !== '\\' && c !== ',' && c !== '=') return undefined;
      out += c;
      inSlash = false;
    } else if (c === '\\') {
      inSlash = true;
    } else if (c === ',' || c === '=') {
      return undefined;
    } else {
      out += c;
    }
  }
  return inSlash ? undefined : out;
}

/**
 * The name a list/watch field selector pins: `fields.ParseSelector(s).RequiresExactMatch("metadata.name")`
 * (k8s.io/apimachinery/pkg/fields/selector.go). Returns '' when the selector doesn't pin the name
 * with `=`/`==`, fails to parse, or names something that isn't a valid path segment (kube then
 * leaves RequestInfo.Name empty: endpoints/request/requestinfo.go).
 */
export function nameFromFieldSelector(selector: string | null | undefined): string {
  if (!selector) return '';
  // Split on commas not escaped by a backslash (fields.splitTerms).
  const terms: string[] = [];
  let cur = '';
  for (let i = 0; i < selector.length; i++) {
    const c = selector[i];
    if (c === '\\' && i + 1 < selector.length) {
      cur += c + selector[i + 1];
      i++;
    } else if (c === ',') {
      terms.push(cur);
      cur = '';
    } else {
      cur += c;
    }
  }
  terms.push(cur);
  // fields.parseSelector sorts the terms, so the first pin in sorted order wins.
  terms.sort();
  let found: string | undefined;
  for (const term of terms) {
    if (term === '') continue;
    // fields.splitTerm: the first position where one of !=, ==, = starts.
    let parsed: { lhs: string; op: string; rhs: string } | undefined;
    for (let i = 0; i < term.length && !parsed; i++) {
      for (const op of ['!=', '==', '=']) {
        if (term.startsWith(op, i)) {
          parsed = { lhs: term.slice(0, i), op, rhs: term.slice(i + op.length) };
          break;
        }
      }
    }
    if (!parsed) return ''; // parse error → kube drops the whole ListOptions
    const value = unescapeFieldValue(parsed.rhs);
    if (value === undefined) return '';
    if (found === undefined && parsed.op !== '!=' && parsed.lhs === 'metadata.name') found = value;
  }
  if (found === undefined || !isValidPathSegmentName(found)) return '';
  return found;
}

/**
 * Attributes for a request, as kube's authorization filter builds them from RequestInfo.
 * For non-resource requests only verb and path matter; group/version/resource fields are
 * cleared (this project's parseRequestInfo fills apiGroup/apiVersion for discovery paths such
 * as `/apis/upm.io`, kube's RequestInfo leaves them empty).
 *
 * `query`, when given, lets a list/watch without a name take it from a
 * `fieldSelector=metadata.name=<x>` parameter, as kube's NewRequestInfo does; pass it when the
 * RequestInfo parser doesn't do that itself.
 */
export function attributesFromRequest(user: UserInfo, info: RequestInfo, query?: URLSearchParams): Attributes {
  if (!info.isResourceRequest) {
    return {
      user,
      verb: info.verb,
      namespace: '',
      apiGroup: '',
      apiVersion: '',
      resource: '',
      subresource: '',
      name: '',
      isResourceRequest: false,
      path: info.path,
    };
  }
  let name = info.name;
  if (!name && query && (info.verb === 'list' || info.verb === 'watch')) {
    name = nameFromFieldSelector(query.get('fieldSelector'));
  }
  return {
    user,
    verb: info.verb,
    namespace: info.namespace,
    apiGroup: info.apiGroup,
    apiVersion: info.apiVersion,
    resource: info.resource,
    subresource: info.subresource,
    name,
    isResourceRequest: true,
    path: info.path,
  };
}

// ---- SubjectAccessReview (authorization.k8s.io/v1) ----

export interface FieldSelectorAttributes {
  rawSelector?: string;
  requirements?: { key: string; operator: string; values?: string[] }[];
}

export interface LabelSelectorAttributes {
  rawSelector?: string;
  requirements?: { key: string; operator: string; values?: string[] }[];
}

export interface ResourceAttributes {
  namespace?: string;
  verb?: string;
  group?: string;
  version?: string;
  resource?: string;
  subresource?: string;
  name?: string;
  /** Carried through for other authorizers; RBAC ignores selectors. */
  fieldSelector?: FieldSelectorAttributes;
  labelSelector?: LabelSelectorAttributes;
}

export interface NonResourceAttributes {
  path?: string;
  verb?: string;
}

export interface SubjectAccessReviewSpec {
  resourceAttributes?: ResourceAttributes;
  nonResourceAttributes?: NonResourceAttributes;
  user?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
  uid?: string;
}

export interface SelfSubjectAccessReviewSpec {
  resourceAttributes?: ResourceAttributes;
  nonResourceAttributes?: NonResourceAttributes;
}

/** As serialized: `allowed` always, the rest only when set (Go `omitempty`). */
export interface SubjectAccessReviewStatus {
  allowed: boolean;
  denied?: boolean;
  reason?: string;
  evaluationError?: string;
}

export interface SpecFieldError {
  field: string;
  message: string;
}

/** pkg/apis/authorization/validation ValidateSubjectAccessReviewSpec (`self` for the
 * SelfSubjectAccessReview variant, which has no user/groups). */
export function validateSubjectAccessReviewSpec(spec: SubjectAccessReviewSpec, self = false): SpecFieldError[] {
  const errs: SpecFieldError[] = [];
  if (spec.resourceAttributes && spec.nonResourceAttributes) {
    errs.push({
      field: 'spec.nonResourceAttributes',
      message: 'cannot be specified in combination with resourceAttributes',
    });
  }
  if (!spec.resourceAttributes && !spec.nonResourceAttributes) {
    errs.push({
      field: 'spec.resourceAttributes',
      message: 'exactly one of nonResourceAttributes or resourceAttributes must be specified',
    });
  }
  if (!self && !spec.user && (spec.groups ?? []).length === 0) {
    errs.push({ field: 'spec.user', message: 'at least one of user or group must be specified' });
  }
  return errs;
}

function attributesFromSpecParts(user: UserInfo, spec: SelfSubjectAccessReviewSpec): Attributes {
  const ra = spec.resourceAttributes;
  if (ra) {
    return {
      user,
      verb: ra.verb ?? '',
      namespace: ra.namespace ?? '',
      apiGroup: ra.group ?? '',
      // matchAllVersionIfEmpty
      apiVersion: ra.version ? ra.version : '*',
      resource: ra.resource ?? '',
      subresource: ra.subresource ?? '',
      name: ra.name ?? '',
      isResourceRequest: true,
      path: '',
    };
  }
  const nra = spec.nonResourceAttributes ?? {};
  return {
    user,
    verb: nra.verb ?? '',
    namespace: '',
    apiGroup: '',
    apiVersion: '',
    resource: '',
    subresource: '',
    name: '',
    isResourceRequest: false,
    path: nra.path ?? '',
  };
}

/** AuthorizationAttributesFrom: the user under review plus resource or non-resource attributes
 * (an empty version becomes `*`). Validate the spec first. */
export function attributesFromSubjectAccessReviewSpec(spec: SubjectAccessReviewSpec): Attributes {
  const user: UserInfo = { username: spec.user ?? '', groups: [...(spec.groups ?? [])] };
  if (spec.uid) user.uid = spec.uid;
  if (spec.extra) user.extra = Object.fromEntries(Object.entries(spec.extra).map(([k, v]) => [k, [...v]]));
  return attributesFromSpecParts(user, spec);
}

/** SelfSubjectAccessReview: same, for the requesting user. */
export function attributesFromSelfSubjectAccessReviewSpec(
  user: UserInfo,
  spec: SelfSubjectAccessReviewSpec,
): Attributes {
  return attributesFromSpecParts(user, spec);
}

/** The SAR spec kube's webhook authorizer sends for these attributes (empty fields omitted). */
export function subjectAccessReviewSpecFromAttributes(attrs: Attributes): SubjectAccessReviewSpec {
  const spec: SubjectAccessReviewSpec = {};
  if (attrs.isResourceRequest) {
    const ra: ResourceAttributes = {};
    if (attrs.namespace) ra.namespace = attrs.namespace;
    if (attrs.verb) ra.verb = attrs.verb;
    if (attrs.apiGroup) ra.group = attrs.apiGroup;
    if (attrs.apiVersion) ra.version = attrs.apiVersion;
    if (attrs.resource) ra.resource = attrs.resource;
    if (attrs.subresource) ra.subresource = attrs.subresource;
    if (attrs.name) ra.name = attrs.name;
    spec.resourceAttributes = ra;
  } else {
    const nra: NonResourceAttributes = {};
    if (attrs.path) nra.path = attrs.path;
    if (attrs.verb) nra.verb = attrs.verb;
    spec.nonResourceAttributes = nra;
  }
  if (attrs.user.username) spec.user = attrs.user.username;
  if (attrs.user.groups.length > 0) spec.groups = [...attrs.user.groups];
  if (attrs.user.extra && Object.keys(attrs.user.extra).length > 0) {
    spec.extra = Object.fromEntries(Object.entries(attrs.user.extra).map(([k, v]) => [k, [...v]]));
  }
  if (attrs.user.uid) spec.uid = attrs.user.uid;
  return spec;
}

/** SAR status for a decision, as kube-apiserver's SAR REST handler fills it. */
export function subjectAccessReviewStatus(result: AuthorizationResult): SubjectAccessReviewStatus {
  const status: SubjectAccessReviewStatus = { allowed: result.decision === 'Allow' };
  if (result.decision === 'Deny') status.denied = true;
  if (result.reason) status.reason = result.reason;
  if (result.error) status.evaluationError = result.error;
  return status;
}

/** The decision a SAR status stands for, as kube's webhook authorizer reads it: both allowed and
 * denied is a Deny with an error. */
export function decisionFromSubjectAccessReviewStatus(status: Partial<SubjectAccessReviewStatus>): AuthorizationResult {
  const reason = status.reason ?? '';
  if (status.denied && status.allowed) {
    return { decision: 'Deny', reason, error: 'webhook subject access review returned both allow and deny response' };
  }
  if (status.denied) return { decision: 'Deny', reason };
  if (status.allowed) return { decision: 'Allow', reason };
  return { decision: 'NoOpinion', reason };
}
