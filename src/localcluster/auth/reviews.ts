// The create-only review endpoints, as kube-apiserver's registries answer them
// (pkg/registry/authentication/{tokenreview,selfsubjectreview},
// pkg/registry/authorization/{subjectaccessreview,selfsubjectaccessreview,
// localsubjectaccessreview,selfsubjectrulesreview}). Each is a VirtualCreate: it receives the
// decoded body and the caller and returns the object with `status` filled in; nothing is stored.
// Who may create them is up to the authorizer (system:auth-delegator, system:basic-user).

import type { UserInfo } from '../../apiserver/authentication/authenticator.js';
import {
  attributesFromSelfSubjectAccessReviewSpec,
  attributesFromSubjectAccessReviewSpec,
  subjectAccessReviewStatus,
  validateSubjectAccessReviewSpec,
  type Attributes,
  type AuthorizationResult,
  type SubjectAccessReviewSpec,
} from '../../apiserver/authorization/attributes.js';
import type { SubjectRulesReviewStatus } from '../../apiserver/authorization/types.js';
import { badRequest, invalid, type FieldError } from '../../machinery/errors.js';
import type { ResourceDefinition } from '../../machinery/definition.js';
import { isPlainObject, type KubeObject } from '../../machinery/object.js';
import { formatTime } from '../../machinery/time.js';
import type { APIRegistry, ResourceRegistration, VirtualCreate } from '../../apiserver/registry/registry.js';
import {
  AUTHORIZATION_GROUP,
  localSubjectAccessReviewDefinition,
  selfSubjectAccessReviewDefinition,
  selfSubjectReviewDefinition,
  selfSubjectRulesReviewDefinition,
  subjectAccessReviewDefinition,
  tokenReviewDefinition,
} from './definitions.js';
import type { TokenResult } from './tokens.js';

/** What TokenReview needs: TokenAuthenticator.authenticateToken. */
export interface TokenReviewer {
  authenticateToken(token: string, audiences?: string[]): TokenResult;
}

/** What the access and rules reviews need: ControlPlaneAuthorizer (or any chain). */
export interface ReviewAuthorizer {
  authorize(attrs: Attributes): AuthorizationResult | Promise<AuthorizationResult>;
  /** SelfSubjectRulesReview; without it the answer is `incomplete`. */
  rulesFor?(user: UserInfo, namespace: string): SubjectRulesReviewStatus;
}

// ---- decoding -------------------------------------------------------------------------------

/** A Go decoding failure: `<Kind> in version "v1" cannot be handled as a <Kind>: <detail>`. */
function decodeError(kind: string, detail: string): Error {
  return badRequest(`${kind} in version "v1" cannot be handled as a ${kind}: ${detail}`);
}

function goType(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (v === null) return 'null';
  return typeof v === 'object' ? 'object' : typeof v;
}

class Reader {
  constructor(
    private readonly kind: string,
    private readonly goStruct: string,
  ) {}

  private fail(path: string, v: unknown, want: string): never {
    throw decodeError(
      this.kind,
      `json: cannot unmarshal ${goType(v)} into Go struct field ${this.goStruct}.${path} of type ${want}`,
    );
  }

  string(o: Record<string, unknown>, key: string, path: string): string | undefined {
    const v = o[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') this.fail(path, v, 'string');
    return v;
  }

  strings(o: Record<string, unknown>, key: string, path: string): string[] | undefined {
    const v = o[key];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) this.fail(path, v, '[]string');
    return [...(v as string[])];
  }

  object(o: Record<string, unknown>, key: string, path: string, want: string): Record<string, unknown> | undefined {
    const v = o[key];
    if (v === undefined || v === null) return undefined;
    if (!isPlainObject(v)) this.fail(path, v, want);
    return v;
  }

  extra(o: Record<string, unknown>, key: string, path: string): Record<string, string[]> | undefined {
    const v = this.object(o, key, path, 'map[string]v1.ExtraValue');
    if (!v) return undefined;
    const out: Record<string, string[]> = {};
    for (const [k, vals] of Object.entries(v)) {
      if (vals === null) {
        out[k] = [];
        continue;
      }
      if (!Array.isArray(vals) || vals.some((x) => typeof x !== 'string')) this.fail(`${path}`, vals, 'v1.ExtraValue');
      out[k] = [...(vals as string[])];
    }
    return out;
  }
}

function specOf(body: KubeObject, kind: string): Record<string, unknown> {
  const spec = body['spec'];
  if (spec === undefined || spec === null) return {};
  if (!isPlainObject(spec))
    throw decodeError(
      kind,
      `json: cannot unmarshal ${goType(spec)} into Go struct field ${kind}.spec of type v1.${kind === 'LocalSubjectAccessReview' ? 'SubjectAccessReview' : kind}Spec`,
    );
  return spec;
}

function readAccessSpec(body: KubeObject, kind: string, self: boolean): SubjectAccessReviewSpec {
  const specType = self ? 'SelfSubjectAccessReviewSpec' : 'SubjectAccessReviewSpec';
  const r = new Reader(kind, `${specType}`);
  const spec = specOf(body, kind);
  const out: SubjectAccessReviewSpec = {};
  const ra = r.object(spec, 'resourceAttributes', 'spec.resourceAttributes', 'v1.ResourceAttributes');
  if (ra) {
    const attrs: NonNullable<SubjectAccessReviewSpec['resourceAttributes']> = {};
    for (const k of ['namespace', 'verb', 'group', 'version', 'resource', 'subresource', 'name'] as const) {
      const v = r.string(ra, k, `spec.resourceAttributes.${k}`);
      if (v) attrs[k] = v;
    }
    for (const k of ['fieldSelector', 'labelSelector'] as const) {
      const sel = r.object(
        ra,
        k,
        `spec.resourceAttributes.${k}`,
        `v1.${k === 'fieldSelector' ? 'Field' : 'Label'}SelectorAttributes`,
      );
      if (sel) attrs[k] = structuredClone(sel) as never;
    }
    out.resourceAttributes = attrs;
  }
  const nra = r.object(spec, 'nonResourceAttributes', 'spec.nonResourceAttributes', 'v1.NonResourceAttributes');
  if (nra) {
    const attrs: NonNullable<SubjectAccessReviewSpec['nonResourceAttributes']> = {};
    const path = r.string(nra, 'path', 'spec.nonResourceAttributes.path');
    const verb = r.string(nra, 'verb', 'spec.nonResourceAttributes.verb');
    if (path) attrs.path = path;
    if (verb) attrs.verb = verb;
    out.nonResourceAttributes = attrs;
  }
  if (!self) {
    const user = r.string(spec, 'user', 'spec.user');
    const groups = r.strings(spec, 'groups', 'spec.groups');
    const extra = r.extra(spec, 'extra', 'spec.extra');
    const uid = r.string(spec, 'uid', 'spec.uid');
    if (user) out.user = user;
    if (groups && groups.length > 0) out.groups = groups;
    if (extra && Object.keys(extra).length > 0) out.extra = extra;
    if (uid) out.uid = uid;
  }
  return out;
}

/** metadata fields that are set (Go's zero values, including `creationTimestamp: null`, are not). */
function setMetadataFields(body: KubeObject, except: string[] = []): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body.metadata ?? {})) {
    if (except.includes(k) || v === undefined || v === null || v === '' || v === 0) continue;
    if (Array.isArray(v) && v.length === 0) continue;
    if (isPlainObject(v) && Object.keys(v).length === 0) continue;
    out[k] = v;
  }
  return out;
}

function specErrors(spec: SubjectAccessReviewSpec, self: boolean): FieldError[] {
  return validateSubjectAccessReviewSpec(spec, self).map((e) =>
    e.field === 'spec.user'
      ? { type: 'FieldValueInvalid', field: e.field, value: spec.user ?? '', detail: e.message }
      : { type: 'FieldValueInvalid', field: e.field, detail: e.message },
  );
}

function answer(
  def: ResourceDefinition,
  metadata: Record<string, unknown>,
  spec: unknown,
  status: unknown,
): KubeObject {
  const obj: KubeObject = {
    kind: def.kind,
    apiVersion: `${def.group}/${def.version}`,
    metadata: { ...metadata, creationTimestamp: null } as unknown as KubeObject['metadata'],
  };
  if (spec !== undefined) obj['spec'] = spec;
  obj['status'] = status;
  return obj;
}

// ---- handlers -------------------------------------------------------------------------------

/** TokenReview: authenticates spec.token for spec.audiences (default: the API audiences). */
export function tokenReviewHandler(tokens: TokenReviewer | undefined): VirtualCreate {
  return (body) => {
    const kind = tokenReviewDefinition.kind;
    const r = new Reader(kind, 'TokenReviewSpec');
    const spec = specOf(body, kind);
    const token = r.string(spec, 'token', 'spec.token') ?? '';
    const audiences = r.strings(spec, 'audiences', 'spec.audiences');
    if (token === '') throw badRequest('token is required for TokenReview in authentication');
    const echoed: Record<string, unknown> = { token };
    if (audiences && audiences.length > 0) echoed['audiences'] = audiences;
    if (!tokens) return answer(tokenReviewDefinition, {}, echoed, { user: {} });
    const result = tokens.authenticateToken(token, audiences);
    // v1.TokenReviewStatus: every field but user is omitempty.
    const status: Record<string, unknown> = {};
    if (result.authenticated) {
      status['authenticated'] = true;
      status['user'] = userInfoJSON(result.user);
      if (result.audiences.length > 0) status['audiences'] = [...result.audiences];
    } else {
      status['user'] = {};
      if (result.error) status['error'] = result.error;
    }
    return answer(tokenReviewDefinition, {}, echoed, status);
  };
}

/** v1.UserInfo with kube's omitempty. */
function userInfoJSON(user: UserInfo): Record<string, unknown> {
  const u: Record<string, unknown> = {};
  if (user.username) u['username'] = user.username;
  if (user.uid) u['uid'] = user.uid;
  if (user.groups.length > 0) u['groups'] = [...user.groups];
  if (user.extra && Object.keys(user.extra).length > 0)
    u['extra'] = Object.fromEntries(Object.entries(user.extra).map(([k, v]) => [k, [...v]]));
  return u;
}

/** SelfSubjectReview (`kubectl auth whoami`): the caller as authenticated (or impersonated). */
export function selfSubjectReviewHandler(): VirtualCreate {
  return (_body, user) => {
    const obj = answer(selfSubjectReviewDefinition, {}, undefined, { userInfo: userInfoJSON(user) });
    obj.metadata.creationTimestamp = formatTime();
    return obj;
  };
}

/** SubjectAccessReview: may spec.user/groups do spec's action? */
export function subjectAccessReviewHandler(authorizer: ReviewAuthorizer): VirtualCreate {
  return async (body) => {
    const kind = subjectAccessReviewDefinition.kind;
    const spec = readAccessSpec(body, kind, false);
    const errs = specErrors(spec, false);
    const meta = setMetadataFields(body);
    if (Object.keys(meta).length > 0)
      errs.unshift({ type: 'FieldValueInvalid', field: 'metadata', value: meta, detail: 'must be empty' });
    if (errs.length > 0) throw invalid(kind, AUTHORIZATION_GROUP, '', errs);
    const result = await authorizer.authorize(attributesFromSubjectAccessReviewSpec(spec));
    return answer(subjectAccessReviewDefinition, {}, spec, subjectAccessReviewStatus(result));
  };
}

/** SelfSubjectAccessReview (`kubectl auth can-i`): may the caller do spec's action? */
export function selfSubjectAccessReviewHandler(authorizer: ReviewAuthorizer): VirtualCreate {
  return async (body, user) => {
    const kind = selfSubjectAccessReviewDefinition.kind;
    const spec = readAccessSpec(body, kind, true);
    const errs = specErrors(spec, true);
    const meta = setMetadataFields(body);
    if (Object.keys(meta).length > 0)
      errs.unshift({ type: 'FieldValueInvalid', field: 'metadata', value: meta, detail: 'must be empty' });
    if (errs.length > 0) throw invalid(kind, AUTHORIZATION_GROUP, '', errs);
    const result = await authorizer.authorize(attributesFromSelfSubjectAccessReviewSpec(user, spec));
    return answer(selfSubjectAccessReviewDefinition, {}, spec, subjectAccessReviewStatus(result));
  };
}

/** LocalSubjectAccessReview: a SubjectAccessReview confined to the namespace of the URL; an
 * empty spec.resourceAttributes.namespace defaults to it. */
export function localSubjectAccessReviewHandler(authorizer: ReviewAuthorizer): VirtualCreate {
  return async (body) => {
    const kind = localSubjectAccessReviewDefinition.kind;
    const namespace = typeof body.metadata.namespace === 'string' ? body.metadata.namespace : '';
    if (!namespace) throw badRequest(`namespace is required on this type: ${namespace}`);
    const spec = readAccessSpec(body, kind, false);
    if (spec.resourceAttributes && !spec.resourceAttributes.namespace) spec.resourceAttributes.namespace = namespace;
    const errs = specErrors(spec, false);
    const meta = setMetadataFields(body, ['namespace']);
    if (Object.keys(meta).length > 0)
      errs.unshift({
        type: 'FieldValueInvalid',
        field: 'metadata',
        value: meta,
        detail: 'must be empty except for namespace',
      });
    if (spec.resourceAttributes && spec.resourceAttributes.namespace !== namespace) {
      errs.push({
        type: 'FieldValueInvalid',
        field: 'spec.resourceAttributes.namespace',
        value: spec.resourceAttributes.namespace,
        detail: 'must match metadata.namespace',
      });
    }
    if (spec.nonResourceAttributes)
      errs.push({
        type: 'FieldValueInvalid',
        field: 'spec.nonResourceAttributes',
        detail: 'disallowed on this kind of request',
      });
    if (errs.length > 0) throw invalid(kind, AUTHORIZATION_GROUP, '', errs);
    const result = await authorizer.authorize(attributesFromSubjectAccessReviewSpec(spec));
    return answer(localSubjectAccessReviewDefinition, { namespace }, spec, subjectAccessReviewStatus(result));
  };
}

/** SelfSubjectRulesReview (`kubectl auth can-i --list`): the caller's rules in spec.namespace.
 * Like kube, the answer carries only the status. */
export function selfSubjectRulesReviewHandler(authorizer: ReviewAuthorizer): VirtualCreate {
  return (body, user) => {
    const kind = selfSubjectRulesReviewDefinition.kind;
    const spec = specOf(body, kind);
    const namespace = new Reader(kind, 'SelfSubjectRulesReviewSpec').string(spec, 'namespace', 'spec.namespace') ?? '';
    if (!namespace) throw badRequest('no namespace on request');
    let status: SubjectRulesReviewStatus;
    if (authorizer.rulesFor) {
      status = authorizer.rulesFor(user, namespace);
    } else {
      status = {
        resourceRules: [],
        nonResourceRules: [],
        incomplete: true,
        evaluationError: 'the authorizer does not support rules evaluation',
      };
    }
    return answer(selfSubjectRulesReviewDefinition, {}, {}, status);
  };
}

// ---- wiring ---------------------------------------------------------------------------------

export interface ReviewRegistrationOptions {
  /** TokenReview's authenticator; without it TokenReviews are answered without a status. */
  tokens?: TokenReviewer;
  authorizer: ReviewAuthorizer;
}

/** The registrations (definition + virtualCreate) of every review kind, for startAPIServer. */
export function reviewRegistrations(opts: ReviewRegistrationOptions): ResourceRegistration[] {
  return [
    { definition: tokenReviewDefinition, virtualCreate: tokenReviewHandler(opts.tokens) },
    { definition: selfSubjectReviewDefinition, virtualCreate: selfSubjectReviewHandler() },
    { definition: subjectAccessReviewDefinition, virtualCreate: subjectAccessReviewHandler(opts.authorizer) },
    { definition: selfSubjectAccessReviewDefinition, virtualCreate: selfSubjectAccessReviewHandler(opts.authorizer) },
    { definition: localSubjectAccessReviewDefinition, virtualCreate: localSubjectAccessReviewHandler(opts.authorizer) },
    { definition: selfSubjectRulesReviewDefinition, virtualCreate: selfSubjectRulesReviewHandler(opts.authorizer) },
  ];
}

/**
 * Makes sure each served registration has its virtualCreate handler. Needed while APIRegistry's
 * constructor does not copy `virtualCreate` from the registrations onto the ServedResource
 * (without it a review POST would reach the generic store); harmless afterwards.
 */
export function installVirtualCreates(registry: APIRegistry, registrations: readonly ResourceRegistration[]): void {
  for (const r of registrations) {
    if (!r.virtualCreate) continue;
    const served = registry.lookup(r.definition.group, r.definition.version, r.definition.plural);
    if (!served) throw new Error(`${r.definition.plural}.${r.definition.group} is not served`);
    if (!served.virtualCreate) served.virtualCreate = r.virtualCreate;
  }
}
