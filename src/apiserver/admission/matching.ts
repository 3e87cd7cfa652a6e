// Whether a webhook applies to a request, as k8s.io/apiserver's webhook/generic.ShouldCallHook
// decides: namespaceSelector, then objectSelector, then rules (predicates/rules/rules.go), then
// matchConditions. Selector errors surface only when a rule matches.
//
// matchConditions are CEL expressions over object, oldObject and request (cel/compile.ts). With
// the default policy, 'evaluate', they are evaluated as kube does: any false condition skips the
// webhook; an error (one that does not compile, or fails) follows failurePolicy: Fail rejects
// the request with 403, Ignore skips the webhook. The other policies leave CEL out: 'call' treats
// a webhook with matchConditions as matching (a superset of the requests kube would send it,
// reported as MatchDecision.unevaluatedConditions), 'error' behaves as if every condition failed.
// Equivalent matchPolicy is handled as Exact: the server serves each resource in one version,
// and there is no conversion to send an object in another version.

import { labelSelectorMatcher } from '../../machinery/labels.js';
import { forbidden, internalError, notFound, type StatusError } from '../../machinery/errors.js';
import type { KubeObject } from '../../machinery/object.js';
import { compileCEL, firstLine, toCEL } from './cel/compile.js';
import {
  ADMISSIONREGISTRATION_GROUP,
  reviewUserInfo,
  type MatchCondition,
  type AdmissionAttributes,
  type GroupVersionKind,
  type LabelSelector,
  type MutatingWebhook,
  type RuleWithOperations,
  type ValidatingWebhook,
} from './types.js';

export type MatchConditionsPolicy = 'evaluate' | 'call' | 'error';

/** The attributes matching looks at (a subset of AdmissionAttributes). */
export type MatchAttributes = Pick<
  AdmissionAttributes,
  'operation' | 'kind' | 'resource' | 'subResource' | 'namespace' | 'name' | 'object' | 'oldObject'
> &
  Partial<Pick<AdmissionAttributes, 'userInfo' | 'dryRun' | 'options' | 'requestKind' | 'requestResource'>>;

/** Labels of a namespace, or undefined when it does not exist. */
export type NamespaceLabelsFn = (
  name: string,
) => Record<string, string> | undefined | Promise<Record<string, string> | undefined>;

export type MatchDecision =
  | { call: false; reason: 'rules' | 'namespaceSelector' | 'objectSelector' | 'matchConditions' }
  | { call: true; /** matchConditions not evaluated (policy 'call'). */ unevaluatedConditions: number }
  | { call: false; error: StatusError };

const namespaceResource = { group: '', version: 'v1', resource: 'namespaces' };

function isNamespaceResource(a: MatchAttributes): boolean {
  return (
    a.resource.group === namespaceResource.group &&
    a.resource.version === namespaceResource.version &&
    a.resource.resource === namespaceResource.resource
  );
}

function exactOrWildcard(items: string[] | undefined, requested: string): boolean {
  return (items ?? []).some((i) => i === '*' || i === requested);
}

function splitResource(resSub: string): [string, string] {
  const i = resSub.indexOf('/');
  return i < 0 ? [resSub, ''] : [resSub.slice(0, i), resSub.slice(i + 1)];
}

/** One RuleWithOperations against a request (rules.Matcher.Matches). */
export function ruleMatches(rule: RuleWithOperations, a: MatchAttributes): boolean {
  // scope: namespace objects are cluster-scoped even though their requests carry a namespace.
  const scope = rule.scope ?? '*';
  const namespaced = !!a.namespace;
  if (scope === 'Namespaced' && (isNamespaceResource(a) || !namespaced)) return false;
  if (scope === 'Cluster' && !(isNamespaceResource(a) || !namespaced)) return false;
  if (scope !== '*' && scope !== 'Namespaced' && scope !== 'Cluster') return false;
  if (!(rule.operations ?? []).some((op) => op === '*' || op === a.operation)) return false;
  if (!exactOrWildcard(rule.apiGroups, a.resource.group)) return false;
  if (!exactOrWildcard(rule.apiVersions, a.resource.version)) return false;
  const opSub = a.subResource ?? '';
  return (rule.resources ?? []).some((r) => {
    const [res, sub] = splitResource(r);
    return (res === '*' || res === a.resource.resource) && (sub === '*' || sub === opSub);
  });
}

export function rulesMatch(rules: RuleWithOperations[] | undefined, a: MatchAttributes): boolean {
  return (rules ?? []).some((r) => ruleMatches(r, a));
}

/**
 * Webhooks are never called for the objects that configure admission
 * (rules.IsExemptAdmissionConfigurationResource), so a broken webhook cannot lock itself in.
 */
export function isExemptAdmissionConfigurationResource(kind: GroupVersionKind): boolean {
  return (
    kind.group === ADMISSIONREGISTRATION_GROUP &&
    [
      'ValidatingWebhookConfiguration',
      'MutatingWebhookConfiguration',
      'ValidatingAdmissionPolicy',
      'ValidatingAdmissionPolicyBinding',
      'MutatingAdmissionPolicy',
      'MutatingAdmissionPolicyBinding',
    ].includes(kind.kind)
  );
}

function isEmptySelector(s: LabelSelector): boolean {
  return Object.keys(s.matchLabels ?? {}).length === 0 && (s.matchExpressions ?? []).length === 0;
}

type SelectorResult = { matches: boolean; error?: StatusError };

/** namespace.Matcher.MatchNamespaceSelector: cluster-scoped objects (other than namespaces) always match. */
export async function matchNamespaceSelector(
  w: ValidatingWebhook,
  a: MatchAttributes,
  namespaceLabels: NamespaceLabelsFn,
): Promise<SelectorResult> {
  const ns = a.namespace ?? '';
  if (ns === '' && a.resource.resource !== 'namespaces') return { matches: true };
  const selector = w.namespaceSelector ?? {};
  let matcher;
  try {
    matcher = labelSelectorMatcher(selector);
  } catch (err) {
    return { matches: false, error: internalError(err) };
  }
  if (isEmptySelector(selector)) return { matches: true };
  let labels: Record<string, string> | undefined;
  // A namespace being created or updated: its own (new) labels; the lister does not have them yet.
  if (
    a.resource.resource === 'namespaces' &&
    !a.subResource &&
    (a.operation === 'CREATE' || a.operation === 'UPDATE')
  ) {
    labels = a.object?.metadata?.labels ?? {};
  } else {
    const name = ns || a.name || '';
    try {
      labels = await namespaceLabels(name);
    } catch (err) {
      return { matches: false, error: internalError(err) };
    }
    if (labels === undefined) return { matches: false, error: notFound({ group: '', resource: 'namespaces', name }) };
  }
  return { matches: matcher(labels ?? {}) };
}

function objectLabels(o: KubeObject | null | undefined): Record<string, string> | undefined {
  if (!o || typeof o !== 'object' || !o.metadata || typeof o.metadata !== 'object') return undefined;
  return o.metadata.labels ?? {};
}

/** object.Matcher.MatchObjectSelector: matches when the new or the old object's labels match. */
export function matchObjectSelector(w: ValidatingWebhook, a: MatchAttributes): SelectorResult {
  const selector = w.objectSelector ?? {};
  let matcher;
  try {
    matcher = labelSelectorMatcher(selector);
  } catch (err) {
    return { matches: false, error: internalError(err) };
  }
  if (isEmptySelector(selector)) return { matches: true };
  const match = (o: KubeObject | null | undefined): boolean => {
    const l = objectLabels(o);
    return l !== undefined && matcher(l);
  };
  return { matches: match(a.object) || match(a.oldObject) };
}

export interface ShouldCallOptions {
  namespaceLabels: NamespaceLabelsFn;
  matchConditionsPolicy?: MatchConditionsPolicy;
}

/** generic.Webhook.ShouldCallHook for one webhook. */
export async function shouldCallWebhook(
  w: ValidatingWebhook | MutatingWebhook,
  a: MatchAttributes,
  opts: ShouldCallOptions,
): Promise<MatchDecision> {
  const ns = await matchNamespaceSelector(w, a, opts.namespaceLabels);
  if (!ns.matches && !ns.error) return { call: false, reason: 'namespaceSelector' };
  const obj = matchObjectSelector(w, a);
  if (!obj.matches && !obj.error) return { call: false, reason: 'objectSelector' };
  if (!rulesMatch(w.rules, a)) return { call: false, reason: 'rules' };
  if (ns.error) return { call: false, error: ns.error };
  if (obj.error) return { call: false, error: obj.error };
  const conditions = w.matchConditions ?? [];
  const policy = opts.matchConditionsPolicy ?? 'evaluate';
  if (conditions.length > 0 && policy === 'evaluate') {
    const outcome = evaluateMatchConditions(conditions, a);
    if (outcome === true) return { call: true, unevaluatedConditions: 0 };
    if (outcome === false) return { call: false, reason: 'matchConditions' };
    if ((w.failurePolicy ?? 'Fail') === 'Ignore') return { call: false, reason: 'matchConditions' };
    return {
      call: false,
      error: forbidden(
        { group: a.resource.group, resource: a.resource.resource, name: a.name ?? '' },
        `failed to evaluate matchConditions of webhook "${w.name}": ${outcome.error}`,
      ),
    };
  }
  if (conditions.length > 0 && policy === 'error') {
    if ((w.failurePolicy ?? 'Fail') === 'Ignore') return { call: false, reason: 'matchConditions' };
    return {
      call: false,
      error: forbidden(
        { group: a.resource.group, resource: a.resource.resource, name: a.name ?? '' },
        `matchConditions of webhook "${w.name}" cannot be evaluated: CEL is not supported by this server`,
      ),
    };
  }
  return { call: true, unevaluatedConditions: conditions.length };
}

const conditionVariables = ['object', 'oldObject', 'request'] as const;

/** All conditions true, one false, or the first error (kube evaluates them all; false wins over an error). */
export function evaluateMatchConditions(conditions: MatchCondition[], a: MatchAttributes): boolean | { error: string } {
  const activation = {
    object: a.object ? toCEL(a.object) : null,
    oldObject: a.oldObject ? toCEL(a.oldObject) : null,
    request: toCEL({
      kind: a.kind,
      resource: a.resource,
      subResource: a.subResource ?? '',
      requestKind: a.requestKind ?? a.kind,
      requestResource: a.requestResource ?? a.resource,
      name: a.name ?? '',
      namespace: a.namespace ?? '',
      operation: a.operation,
      userInfo: a.userInfo ? reviewUserInfo(a.userInfo) : {},
      dryRun: !!a.dryRun,
      options: a.options ?? null,
    }),
  };
  let error: string | undefined;
  for (const c of conditions) {
    try {
      const v = compileCEL(c.expression, conditionVariables).evaluate(activation);
      if (v === false) return false;
      if (v !== true) error ??= `matchCondition '${c.name}' did not evaluate to bool`;
    } catch (err) {
      error ??= `matchCondition '${c.name}': ${firstLine(err)}`;
    }
  }
  return error === undefined ? true : { error };
}
