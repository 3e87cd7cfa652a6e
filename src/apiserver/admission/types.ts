// Admission webhook configuration (admissionregistration.k8s.io/v1) and AdmissionReview
// (admission.k8s.io/v1) shapes as they travel in JSON, with the v1 defaults
// (k8s.io/api/admissionregistration/v1 types.go, pkg/apis/admissionregistration/v1/defaults.go)
// and the configuration validation kube-apiserver applies on create
// (pkg/apis/admissionregistration/validation/validation.go).

import { isIP } from 'node:net';
import type { UserInfo } from '../authentication/authenticator.js';
import { labelSelectorMatcher, type LabelSelector } from '../../machinery/labels.js';
import type { FieldError } from '../../machinery/errors.js';
import type { KubeObject, ObjectMeta } from '../../machinery/object.js';
import type { GroupVersionKind, GroupVersionResource, Operation, ReviewUserInfo } from '../../machinery/admission.js';

export type {
  AdmissionRequest,
  AdmissionResponse,
  AdmissionReview,
  GroupVersionKind,
  GroupVersionResource,
  Operation,
  ReviewUserInfo,
} from '../../machinery/admission.js';

export type { LabelSelector, LabelSelectorRequirement } from '../../machinery/labels.js';

export const ADMISSIONREGISTRATION_GROUP = 'admissionregistration.k8s.io';
export const ADMISSIONREGISTRATION_API_VERSION = `${ADMISSIONREGISTRATION_GROUP}/v1`;
export const ADMISSION_GROUP = 'admission.k8s.io';

// ---- configuration -------------------------------------------------------------------------

export type OperationType = Operation | '*';
export type ScopeType = 'Cluster' | 'Namespaced' | '*';
export type FailurePolicyType = 'Ignore' | 'Fail';
export type MatchPolicyType = 'Exact' | 'Equivalent';
export type SideEffectClass = 'None' | 'NoneOnDryRun' | 'Some' | 'Unknown';
export type ReinvocationPolicyType = 'Never' | 'IfNeeded';

export interface RuleWithOperations {
  /** CREATE, UPDATE, DELETE, CONNECT or `*`. Required. */
  operations?: OperationType[];
  /** API groups; `""` is the core group, `*` all groups. Required. */
  apiGroups?: string[];
  /** API versions; `*` all versions. Required. */
  apiVersions?: string[];
  /** `pods`, `pods/status`, `pods/*`, `*\/status`, `*` (main resources only) or `*\/*`. Required. */
  resources?: string[];
  /** Defaults to `*`. */
  scope?: ScopeType;
}

export interface ServiceReference {
  namespace: string;
  name: string;
  /** URL path sent in requests to the service; must start with `/`. */
  path?: string;
  /** Defaults to 443. */
  port?: number;
}

export interface WebhookClientConfig {
  /** `https://host[:port]/path` (no user info, query or fragment). Exactly one of url and service. */
  url?: string;
  service?: ServiceReference;
  /** Base64 of a PEM bundle (the JSON encoding of a []byte field). Absent: the system roots. */
  caBundle?: string;
}

export interface MatchCondition {
  name: string;
  /** A CEL expression. This server cannot evaluate CEL: see matching.ts. */
  expression: string;
}

export interface ValidatingWebhook {
  /** Fully qualified: at least three dot-separated segments (`v.upm.io`). */
  name: string;
  clientConfig: WebhookClientConfig;
  rules?: RuleWithOperations[];
  /** Defaults to Fail. */
  failurePolicy?: FailurePolicyType;
  /** Defaults to Equivalent. */
  matchPolicy?: MatchPolicyType;
  /** Defaults to `{}` (every namespace). */
  namespaceSelector?: LabelSelector;
  /** Defaults to `{}` (every object). */
  objectSelector?: LabelSelector;
  /** Required in v1: None or NoneOnDryRun (Some and Unknown survive only from v1beta1). */
  sideEffects?: SideEffectClass;
  /** Defaults to 10; 1–30. */
  timeoutSeconds?: number;
  /** Required in v1; the first version this server knows (v1, v1beta1) is used. */
  admissionReviewVersions?: string[];
  /** At most 64. */
  matchConditions?: MatchCondition[];
}

export interface MutatingWebhook extends ValidatingWebhook {
  /** Defaults to Never. */
  reinvocationPolicy?: ReinvocationPolicyType;
}

export interface ValidatingWebhookConfiguration {
  apiVersion?: string;
  kind?: 'ValidatingWebhookConfiguration';
  metadata: ObjectMeta;
  webhooks?: ValidatingWebhook[] | null;
}

export interface MutatingWebhookConfiguration {
  apiVersion?: string;
  kind?: 'MutatingWebhookConfiguration';
  metadata: ObjectMeta;
  webhooks?: MutatingWebhook[] | null;
}

export const DEFAULT_TIMEOUT_SECONDS = 10;
export const MIN_TIMEOUT_SECONDS = 1;
export const MAX_TIMEOUT_SECONDS = 30;
export const DEFAULT_SERVICE_PORT = 443;
export const MAX_MATCH_CONDITIONS = 64;
/** The AdmissionReview versions this server can send, in preference order. */
export const SUPPORTED_REVIEW_VERSIONS = ['v1', 'v1beta1'] as const;

function defaultRules(rules: RuleWithOperations[] | undefined): RuleWithOperations[] {
  return (rules ?? []).map((r) => ({ ...r, scope: r.scope ?? '*' }));
}

function defaultClientConfig(c: WebhookClientConfig): WebhookClientConfig {
  if (!c?.service) return { ...c };
  return { ...c, service: { ...c.service, port: c.service.port ?? DEFAULT_SERVICE_PORT } };
}

/** A ValidatingWebhook with the v1 defaults filled in (a new object; the input is not changed). */
export function defaultValidatingWebhook(w: ValidatingWebhook): ValidatingWebhook {
  return {
    ...w,
    clientConfig: defaultClientConfig(w.clientConfig),
    rules: defaultRules(w.rules),
    failurePolicy: w.failurePolicy ?? 'Fail',
    matchPolicy: w.matchPolicy ?? 'Equivalent',
    namespaceSelector: w.namespaceSelector ?? {},
    objectSelector: w.objectSelector ?? {},
    timeoutSeconds: w.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS,
  };
}

/** A MutatingWebhook with the v1 defaults filled in (reinvocationPolicy Never, and the validating ones). */
export function defaultMutatingWebhook(w: MutatingWebhook): MutatingWebhook {
  return { ...defaultValidatingWebhook(w), reinvocationPolicy: w.reinvocationPolicy ?? 'Never' };
}

export function withValidatingConfigurationDefaults(c: ValidatingWebhookConfiguration): ValidatingWebhookConfiguration {
  return { ...c, webhooks: (c.webhooks ?? []).map(defaultValidatingWebhook) };
}

export function withMutatingConfigurationDefaults(c: MutatingWebhookConfiguration): MutatingWebhookConfiguration {
  return { ...c, webhooks: (c.webhooks ?? []).map(defaultMutatingWebhook) };
}

// ---- configuration validation ---------------------------------------------------------------

const dns1123Subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const qualifiedNamePart = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

function supported(values: readonly string[]): string {
  return `supported values: ${values.map((v) => JSON.stringify(v)).join(', ')}`;
}

function checkEnum(
  errs: FieldError[],
  field: string,
  value: unknown,
  values: readonly string[],
  required = false,
): void {
  if (value === undefined || value === null || value === '') {
    if (required) errs.push({ type: 'FieldValueRequired', field, detail: `must specify one of ${values.join(', ')}` });
    return;
  }
  if (typeof value !== 'string' || !values.includes(value))
    errs.push({ type: 'FieldValueNotSupported', field, value, detail: supported(values) });
}

function validateURL(errs: FieldError[], field: string, raw: string): void {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    errs.push({ type: 'FieldValueInvalid', field, value: raw, detail: 'must be a valid URL' });
    return;
  }
  if (u.protocol !== 'https:')
    errs.push({ type: 'FieldValueInvalid', field, value: raw, detail: "'https' is the only allowed URL scheme" });
  if (!u.hostname) errs.push({ type: 'FieldValueInvalid', field, value: raw, detail: 'host must be specified' });
  if (u.username || u.password)
    errs.push({ type: 'FieldValueInvalid', field, value: raw, detail: 'user information is not permitted in the URL' });
  if (u.hash || raw.includes('#'))
    errs.push({ type: 'FieldValueInvalid', field, value: raw, detail: 'fragments are not permitted in the URL' });
  if (u.search || raw.includes('?'))
    errs.push({
      type: 'FieldValueInvalid',
      field,
      value: raw,
      detail: 'query parameters are not permitted in the URL',
    });
}

function validateSelector(errs: FieldError[], field: string, selector: LabelSelector | undefined): void {
  if (selector === undefined || selector === null) return;
  try {
    labelSelectorMatcher(selector);
  } catch (err) {
    errs.push({ type: 'FieldValueInvalid', field, value: selector, detail: (err as Error).message });
  }
}

function validateRule(errs: FieldError[], field: string, r: RuleWithOperations): void {
  const ops = r.operations ?? [];
  if (ops.length === 0) errs.push({ type: 'FieldValueRequired', field: `${field}.operations`, detail: '' });
  if (ops.length > 1 && ops.includes('*'))
    errs.push({
      type: 'FieldValueInvalid',
      field: `${field}.operations`,
      value: ops,
      detail: "if '*' is present, must not specify other operations",
    });
  ops.forEach((op, i) =>
    checkEnum(errs, `${field}.operations[${i}]`, op, ['*', 'CREATE', 'UPDATE', 'DELETE', 'CONNECT']),
  );
  for (const key of ['apiGroups', 'apiVersions', 'resources'] as const) {
    const list = r[key] ?? [];
    if (list.length === 0) errs.push({ type: 'FieldValueRequired', field: `${field}.${key}`, detail: '' });
    if (list.length > 1 && list.includes('*') && key !== 'resources')
      errs.push({
        type: 'FieldValueInvalid',
        field: `${field}.${key}`,
        value: list,
        detail: `if '*' is present, must not specify other ${key === 'apiGroups' ? 'API groups' : 'API versions'}`,
      });
  }
  for (const [i, res] of (r.resources ?? []).entries()) {
    if (res === '') errs.push({ type: 'FieldValueRequired', field: `${field}.resources[${i}]`, detail: '' });
    const [main, sub] = res.split('/', 2);
    if (main === '' || sub === '')
      errs.push({
        type: 'FieldValueInvalid',
        field: `${field}.resources[${i}]`,
        value: res,
        detail: 'must be a resource, resource/subresource or */subresource',
      });
  }
  checkEnum(errs, `${field}.scope`, r.scope, ['Cluster', 'Namespaced', '*']);
}

function validateWebhook(errs: FieldError[], field: string, w: MutatingWebhook, mutating: boolean): void {
  if (!w || typeof w !== 'object') {
    errs.push({ type: 'FieldValueRequired', field, detail: '' });
    return;
  }
  if (!w.name) errs.push({ type: 'FieldValueRequired', field: `${field}.name`, detail: '' });
  else if (w.name.length > 253 || !dns1123Subdomain.test(w.name)) {
    errs.push({
      type: 'FieldValueInvalid',
      field: `${field}.name`,
      value: w.name,
      detail:
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
    });
  } else if (w.name.split('.').length < 3) {
    errs.push({
      type: 'FieldValueInvalid',
      field: `${field}.name`,
      value: w.name,
      detail: 'should be a domain with at least three segments separated by dots',
    });
  }
  (w.rules ?? []).forEach((r, i) => validateRule(errs, `${field}.rules[${i}]`, r));
  checkEnum(errs, `${field}.failurePolicy`, w.failurePolicy, ['Fail', 'Ignore']);
  checkEnum(errs, `${field}.matchPolicy`, w.matchPolicy, ['Equivalent', 'Exact']);
  checkEnum(errs, `${field}.sideEffects`, w.sideEffects, ['None', 'NoneOnDryRun'], true);
  if (mutating) checkEnum(errs, `${field}.reinvocationPolicy`, w.reinvocationPolicy, ['IfNeeded', 'Never']);
  if (
    w.timeoutSeconds !== undefined &&
    (!Number.isInteger(w.timeoutSeconds) ||
      w.timeoutSeconds < MIN_TIMEOUT_SECONDS ||
      w.timeoutSeconds > MAX_TIMEOUT_SECONDS)
  ) {
    errs.push({
      type: 'FieldValueInvalid',
      field: `${field}.timeoutSeconds`,
      value: w.timeoutSeconds,
      detail: 'the timeout value must be between 1 and 30 seconds',
    });
  }
  const versions = w.admissionReviewVersions ?? [];
  if (versions.length === 0) {
    errs.push({
      type: 'FieldValueRequired',
      field: `${field}.admissionReviewVersions`,
      detail: `must specify one of ${SUPPORTED_REVIEW_VERSIONS.join(', ')}`,
    });
  } else {
    if (!versions.some((v) => (SUPPORTED_REVIEW_VERSIONS as readonly string[]).includes(v))) {
      errs.push({
        type: 'FieldValueInvalid',
        field: `${field}.admissionReviewVersions`,
        value: versions,
        detail: `must include at least one of ${SUPPORTED_REVIEW_VERSIONS.join(', ')}`,
      });
    }
    versions.forEach((v, i) => {
      if (versions.indexOf(v) !== i)
        errs.push({
          type: 'FieldValueDuplicate',
          field: `${field}.admissionReviewVersions[${i}]`,
          value: v,
          detail: '',
        });
    });
  }
  validateSelector(errs, `${field}.namespaceSelector`, w.namespaceSelector);
  validateSelector(errs, `${field}.objectSelector`, w.objectSelector);

  const cc = w.clientConfig ?? {};
  const cf = `${field}.clientConfig`;
  if ((cc.url === undefined) === (cc.service === undefined)) {
    errs.push({ type: 'FieldValueRequired', field: cf, detail: 'exactly one of url or service is required' });
  } else if (cc.url !== undefined) {
    validateURL(errs, `${cf}.url`, cc.url);
  } else if (cc.service) {
    const s = cc.service;
    if (!s.name)
      errs.push({ type: 'FieldValueRequired', field: `${cf}.service.name`, detail: 'service name is required' });
    if (!s.namespace)
      errs.push({
        type: 'FieldValueRequired',
        field: `${cf}.service.namespace`,
        detail: 'service namespace is required',
      });
    if (s.path !== undefined && s.path !== '' && !s.path.startsWith('/'))
      errs.push({
        type: 'FieldValueInvalid',
        field: `${cf}.service.path`,
        value: s.path,
        detail: "must start with a '/'",
      });
    if (s.port !== undefined && (!Number.isInteger(s.port) || s.port < 1 || s.port > 65535)) {
      errs.push({
        type: 'FieldValueInvalid',
        field: `${cf}.service.port`,
        value: s.port,
        detail: 'port is not valid: must be between 1 and 65535, inclusive',
      });
    }
  }
  if (cc.caBundle !== undefined && decodeCABundle(cc.caBundle) === undefined) {
    errs.push({
      type: 'FieldValueInvalid',
      field: `${cf}.caBundle`,
      value: '(bytes)',
      detail: 'must be base64 of a PEM-encoded certificate bundle',
    });
  }

  const conds = w.matchConditions ?? [];
  if (conds.length > MAX_MATCH_CONDITIONS)
    errs.push({
      type: 'FieldValueTooMany',
      field: `${field}.matchConditions`,
      detail: `must have at most ${MAX_MATCH_CONDITIONS} items`,
    });
  const seen = new Set<string>();
  conds.forEach((c, i) => {
    const f = `${field}.matchConditions[${i}]`;
    if (!c.name) errs.push({ type: 'FieldValueRequired', field: `${f}.name`, detail: '' });
    else if (seen.has(c.name))
      errs.push({ type: 'FieldValueDuplicate', field: `${f}.name`, value: c.name, detail: '' });
    else if (!qualifiedNamePart.test(c.name.split('/').pop() ?? ''))
      errs.push({ type: 'FieldValueInvalid', field: `${f}.name`, value: c.name, detail: 'must be a qualified name' });
    seen.add(c.name);
    if (!c.expression) errs.push({ type: 'FieldValueRequired', field: `${f}.expression`, detail: '' });
  });
}

/**
 * Field errors of a webhook configuration as kube-apiserver validates a v1 create (names,
 * rules, enums, timeout range, admissionReviewVersions, clientConfig, selectors, matchConditions).
 * Pass the configuration as received (before defaulting) or defaulted: both validate the same.
 */
export function validateWebhookConfiguration(
  c: MutatingWebhookConfiguration | ValidatingWebhookConfiguration,
  mutating: boolean,
): FieldError[] {
  const errs: FieldError[] = [];
  const names = new Set<string>();
  (c.webhooks ?? []).forEach((w, i) => {
    validateWebhook(errs, `webhooks[${i}]`, w as MutatingWebhook, mutating);
    if (w?.name) {
      if (names.has(w.name))
        errs.push({ type: 'FieldValueDuplicate', field: `webhooks[${i}].name`, value: w.name, detail: '' });
      names.add(w.name);
    }
  });
  return errs;
}

/** The PEM text of a caBundle (base64 of PEM, or PEM itself); undefined when it holds no certificate. */
export function decodeCABundle(caBundle: string | undefined): string | undefined {
  if (caBundle === undefined || caBundle === '') return undefined;
  let text = caBundle;
  if (!caBundle.includes('-----BEGIN')) {
    const compact = caBundle.replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact) || compact.length % 4 !== 0) return undefined;
    text = Buffer.from(compact, 'base64').toString('utf8');
  }
  return /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.test(text) ? text : undefined;
}

/** Base64 of a PEM bundle, for building configurations (the JSON form of caBundle). */
export function encodeCABundle(pem: string): string {
  return Buffer.from(pem, 'utf8').toString('base64');
}

/** Whether a URL host is an IP literal (no SNI for those). */
export function isIPHost(host: string): boolean {
  return isIP(host.replace(/^\[|\]$/g, '')) !== 0;
}

export function reviewUserInfo(user: UserInfo): ReviewUserInfo {
  const u: ReviewUserInfo = {};
  if (user.username) u.username = user.username;
  if (user.uid) u.uid = user.uid;
  if (user.groups.length > 0) u.groups = [...user.groups];
  if (user.extra && Object.keys(user.extra).length > 0) u.extra = structuredClone(user.extra);
  return u;
}

/**
 * The operation options kube-apiserver sends in AdmissionRequest.options: CreateOptions for
 * CREATE, UpdateOptions for UPDATE, DeleteOptions for DELETE (meta.k8s.io/v1). `dryRun` true
 * becomes `dryRun: ["All"]`.
 */
export function operationOptions(
  operation: Operation,
  opts: {
    dryRun?: boolean;
    fieldManager?: string;
    fieldValidation?: string;
    propagationPolicy?: string;
    gracePeriodSeconds?: number;
    preconditions?: Record<string, unknown>;
  } = {},
): Record<string, unknown> | null {
  const kind =
    operation === 'CREATE'
      ? 'CreateOptions'
      : operation === 'UPDATE'
        ? 'UpdateOptions'
        : operation === 'DELETE'
          ? 'DeleteOptions'
          : undefined;
  if (!kind) return null;
  const out: Record<string, unknown> = { kind, apiVersion: 'meta.k8s.io/v1' };
  if (opts.dryRun) out['dryRun'] = ['All'];
  if (operation !== 'DELETE') {
    if (opts.fieldManager) out['fieldManager'] = opts.fieldManager;
    if (opts.fieldValidation) out['fieldValidation'] = opts.fieldValidation;
  } else {
    if (opts.propagationPolicy) out['propagationPolicy'] = opts.propagationPolicy;
    if (opts.gracePeriodSeconds !== undefined) out['gracePeriodSeconds'] = opts.gracePeriodSeconds;
    if (opts.preconditions) out['preconditions'] = opts.preconditions;
  }
  return out;
}

// ---- what the registry passes -----------------------------------------------------------------

/**
 * One admission request, as the registry describes it (k8s.io/apiserver admission.Attributes).
 * `kind`/`resource`/`subResource` are what the request addresses (for `/status` the object's kind;
 * for `/scale` autoscaling/v1 Scale). `namespace` is empty for cluster-scoped resources.
 */
export interface AdmissionAttributes {
  operation: Operation;
  kind: GroupVersionKind;
  resource: GroupVersionResource;
  subResource?: string;
  /** When the request came in under another version than the one sent (matchPolicy Equivalent). Default: kind/resource/subResource. */
  requestKind?: GroupVersionKind;
  requestResource?: GroupVersionResource;
  requestSubResource?: string;
  /** Empty on CREATE with generateName (the name is generated after mutating admission). */
  name?: string;
  namespace?: string;
  /** The new object: CREATE and UPDATE; null/undefined on DELETE. */
  object?: KubeObject | null;
  /** The current stored object: UPDATE and DELETE; null/undefined on CREATE. */
  oldObject?: KubeObject | null;
  userInfo: UserInfo;
  dryRun?: boolean;
  /** CreateOptions/UpdateOptions/DeleteOptions; see operationOptions(). */
  options?: Record<string, unknown> | null;
  /** Sink for Warning headers; filled as webhooks answer, also when the request then fails. */
  warnings?: string[];
  /** Sink for audit annotations (`<webhook name>/<key>`, failed-open and mutation markers). */
  auditAnnotations?: Record<string, string>;
  /** Applied to the object after each mutating webhook's patch, as kube-apiserver re-defaults (schema defaulting). */
  defaulter?: (obj: KubeObject) => KubeObject | void;
}
