// The ValidatingAdmissionPolicy plugin of kube-apiserver (k8s.io/apiserver pkg/admission/plugin/
// policy/validating) for the resources this server serves: every binding whose policy and
// match resources match the request is evaluated with its params; failed validations are
// enforced by the binding's validationActions.
//
//   Deny   the request fails: `<resource> "<name>" is forbidden: ValidatingAdmissionPolicy
//          '<policy>' with binding '<binding>' denied request: <message>`, code by reason
//          (Invalid 422 unless the validation names Forbidden, Unauthorized or
//          RequestEntityTooLarge);
//   Warn   a Warning header `Validation failed for ValidatingAdmissionPolicy '<policy>' with
//          binding '<binding>': <message>`;
//   Audit  the audit annotation validation.policy.admission.k8s.io/validation_failure.
// An error (an expression that does not compile or fails to evaluate, params that cannot be
// found) is a failed validation under failurePolicy Fail (the default) and is skipped under
// Ignore. CEL support: cel/compile.ts and README "Admission".

import { StatusError, internalError } from '../../../machinery/errors.js';
import { labelSelectorMatcher } from '../../../machinery/labels.js';
import type { KubeObject } from '../../../machinery/object.js';
import { CELCompileError, compileCEL, firstLine, fromCEL, toCEL, type Program } from '../cel/compile.js';
import { matchNamespaceSelector, matchObjectSelector, ruleMatches, type NamespaceLabelsFn } from '../matching.js';
import { reviewUserInfo, type AdmissionAttributes } from '../types.js';
import {
  reasonCodes,
  VALIDATION_FAILURE_ANNOTATION,
  type MatchResources,
  type ParamKind,
  type ParamRef,
  type ValidatingAdmissionPolicy,
  type ValidatingAdmissionPolicyBinding,
  type ValidationAction,
} from './types.js';

type MaybePromise<T> = T | Promise<T>;

export interface PolicySource {
  policies(): MaybePromise<ValidatingAdmissionPolicy[]>;
  bindings(): MaybePromise<ValidatingAdmissionPolicyBinding[]>;
}

/** Finds param objects; throws (with a message) when the param kind cannot be read. */
export interface ParamResolver {
  /** One object by name (undefined when absent), or every object a selector matches. */
  get(kind: ParamKind, namespace: string, name: string): MaybePromise<KubeObject | undefined>;
  list(
    kind: ParamKind,
    namespace: string,
    selector: (labels: Record<string, string>) => boolean,
  ): MaybePromise<KubeObject[]>;
  /** Whether objects of the kind live in namespaces. */
  namespaced(kind: ParamKind): MaybePromise<boolean>;
}

export interface PolicyValidatorOptions {
  source: PolicySource;
  params?: ParamResolver;
  namespaceLabels: NamespaceLabelsFn;
  /** The Namespace object of a namespaced request, for `namespaceObject`. */
  namespaceObject?: (name: string) => MaybePromise<KubeObject | undefined>;
}

export interface PolicyResult {
  warnings: string[];
  auditAnnotations: Record<string, string>;
}

const VARIABLES = ['object', 'oldObject', 'request', 'params', 'namespaceObject', 'variables'] as const;

type Compiled = { program: Program } | { error: string };

interface CompiledPolicy {
  variables: { name: string; compiled: Compiled }[];
  matchConditions: { name: string; compiled: Compiled }[];
  validations: {
    expression: string;
    message?: string;
    reason?: string;
    compiled: Compiled;
    messageExpression?: Compiled;
  }[];
  auditAnnotations: { key: string; compiled: Compiled }[];
}

function compile(expression: string): Compiled {
  try {
    return { program: compileCEL(expression, VARIABLES) };
  } catch (err) {
    return { error: err instanceof CELCompileError ? err.message : firstLine(err) };
  }
}

const compiledPolicies = new WeakMap<ValidatingAdmissionPolicy, CompiledPolicy>();

function compilePolicy(p: ValidatingAdmissionPolicy): CompiledPolicy {
  let c = compiledPolicies.get(p);
  if (!c) {
    const spec = p.spec ?? {};
    c = {
      variables: (spec.variables ?? []).map((v) => ({ name: v.name, compiled: compile(v.expression) })),
      matchConditions: (spec.matchConditions ?? []).map((m) => ({ name: m.name, compiled: compile(m.expression) })),
      validations: (spec.validations ?? []).map((v) => ({
        expression: v.expression,
        message: v.message,
        reason: v.reason,
        compiled: compile(v.expression),
        ...(v.messageExpression ? { messageExpression: compile(v.messageExpression) } : {}),
      })),
      auditAnnotations: (spec.auditAnnotations ?? []).map((a) => ({
        key: a.key,
        compiled: compile(a.valueExpression),
      })),
    };
    compiledPolicies.set(p, c);
  }
  return c;
}

/** A failure to evaluate (compile errors included): failurePolicy decides. */
class PolicyError extends Error {}

function run(compiled: Compiled, activation: Record<string, unknown>, expression: string): unknown {
  if ('error' in compiled) throw new PolicyError(`compilation error: ${compiled.error}`);
  try {
    return compiled.program.evaluate(activation);
  } catch (err) {
    throw new PolicyError(`expression '${expression}' resulted in error: ${firstLine(err)}`);
  }
}

async function matchesResources(
  m: MatchResources | undefined,
  attrs: AdmissionAttributes,
  namespaceLabels: NamespaceLabelsFn,
  /** A binding without matchResources matches whatever its policy matches. */
  emptyMatchesAll: boolean,
): Promise<boolean> {
  if (!m) return emptyMatchesAll;
  const selectors = {
    name: '',
    clientConfig: {},
    namespaceSelector: m.namespaceSelector ?? {},
    objectSelector: m.objectSelector ?? {},
  };
  const ns = await matchNamespaceSelector(selectors, attrs, namespaceLabels);
  if (ns.error) throw ns.error;
  if (!ns.matches) return false;
  const obj = matchObjectSelector(selectors, attrs);
  if (obj.error) throw obj.error;
  if (!obj.matches) return false;
  const named = (r: { resourceNames?: string[] }) =>
    !r.resourceNames || r.resourceNames.length === 0 || r.resourceNames.includes(attrs.name ?? '');
  if ((m.excludeResourceRules ?? []).some((r) => ruleMatches(r, attrs) && named(r))) return false;
  const rules = m.resourceRules ?? [];
  if (rules.length === 0) return emptyMatchesAll;
  return rules.some((r) => ruleMatches(r, attrs) && named(r));
}

function requestOf(attrs: AdmissionAttributes): Record<string, unknown> {
  return {
    kind: attrs.kind,
    resource: attrs.resource,
    subResource: attrs.subResource ?? '',
    requestKind: attrs.requestKind ?? attrs.kind,
    requestResource: attrs.requestResource ?? attrs.resource,
    requestSubResource: attrs.requestSubResource ?? attrs.subResource ?? '',
    name: attrs.name ?? '',
    namespace: attrs.namespace ?? '',
    operation: attrs.operation,
    userInfo: reviewUserInfo(attrs.userInfo),
    dryRun: !!attrs.dryRun,
    options: attrs.options ?? null,
  };
}

/** The `variables` of an activation: each computed when first read, from the ones before it. */
function lazyVariables(
  defs: CompiledPolicy['variables'],
  base: Record<string, unknown>,
  expressions: string[],
): object {
  const vars: Record<string, unknown> = {};
  const activation = { ...base, variables: vars };
  defs.forEach((d, i) => {
    let memo: { value: unknown } | { error: unknown } | undefined;
    Object.defineProperty(vars, d.name, {
      enumerable: true,
      get() {
        if (!memo) {
          try {
            memo = { value: run(d.compiled, activation, expressions[i]!) };
          } catch (err) {
            memo = { error: err };
          }
        }
        if ('error' in memo) throw memo.error;
        return memo.value;
      },
    });
  });
  return vars;
}

interface Decision {
  policy: string;
  binding: string;
  message: string;
  reason: string;
  expressionIndex?: number;
  actions: ValidationAction[];
}

export class PolicyValidator {
  constructor(private readonly o: PolicyValidatorOptions) {}

  /** Evaluates every matching binding; throws the first denial as a StatusError. */
  async validate(attrs: AdmissionAttributes): Promise<PolicyResult> {
    const result: PolicyResult = { warnings: [], auditAnnotations: {} };
    const policies = new Map((await this.o.source.policies()).map((p) => [p.metadata.name ?? '', p]));
    const bindings = [...(await this.o.source.bindings())].sort((a, b) =>
      (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''),
    );
    const decisions: Decision[] = [];
    const audits: object[] = [];
    for (const binding of bindings) {
      const policy = policies.get(binding.spec?.policyName ?? '');
      if (!policy) continue;
      const failurePolicy = policy.spec?.failurePolicy ?? 'Fail';
      const actions = binding.spec?.validationActions ?? [];
      const policyName = policy.metadata.name ?? '';
      const bindingName = binding.metadata.name ?? '';
      const fail = (err: unknown) => {
        if (!(err instanceof PolicyError) && !(err instanceof StatusError)) throw internalError(err);
        if (failurePolicy === 'Ignore') return;
        decisions.push({ policy: policyName, binding: bindingName, message: err.message, reason: 'Invalid', actions });
      };
      try {
        if (!(await matchesResources(policy.spec?.matchConstraints, attrs, this.o.namespaceLabels, false))) continue;
        if (!(await matchesResources(binding.spec?.matchResources, attrs, this.o.namespaceLabels, true))) continue;
      } catch (err) {
        fail(err instanceof StatusError ? new PolicyError(err.message) : err);
        continue;
      }
      let paramsList: (KubeObject | null)[];
      try {
        paramsList = await this.params(policy, binding, attrs);
      } catch (err) {
        fail(err);
        continue;
      }
      for (const params of paramsList) {
        try {
          await this.evaluate(policy, bindingName, actions, attrs, params, decisions, result);
        } catch (err) {
          fail(err);
        }
      }
    }
    for (const d of decisions) {
      if (d.actions.includes('Warn'))
        result.warnings.push(
          `Validation failed for ValidatingAdmissionPolicy '${d.policy}' with binding '${d.binding}': ${d.message}`,
        );
      if (d.actions.includes('Audit'))
        audits.push({
          message: d.message,
          policy: d.policy,
          binding: d.binding,
          ...(d.expressionIndex !== undefined ? { expressionIndex: d.expressionIndex } : {}),
          validationActions: d.actions,
        });
    }
    if (audits.length > 0) result.auditAnnotations[VALIDATION_FAILURE_ANNOTATION] = JSON.stringify(audits);
    for (const w of result.warnings) if (attrs.warnings && !attrs.warnings.includes(w)) attrs.warnings.push(w);
    if (attrs.auditAnnotations) Object.assign(attrs.auditAnnotations, result.auditAnnotations);
    const denied = decisions.find((d) => d.actions.includes('Deny'));
    if (denied) throw this.denial(attrs, denied);
    return result;
  }

  private denial(attrs: AdmissionAttributes, d: Decision): StatusError {
    const message = `ValidatingAdmissionPolicy '${d.policy}' with binding '${d.binding}' denied request: ${d.message}`;
    const resource = attrs.resource.group
      ? `${attrs.resource.resource}.${attrs.resource.group}`
      : attrs.resource.resource;
    const full = `${resource} "${attrs.name ?? ''}" is forbidden: ${message}`;
    const reason = reasonCodes[d.reason] ? d.reason : 'Invalid';
    return new StatusError(reasonCodes[reason]!, reason as never, full, {
      ...(attrs.name ? { name: attrs.name } : {}),
      group: attrs.resource.group,
      kind: attrs.resource.resource,
      causes: [{ message }],
    });
  }

  /** The param objects to evaluate with: [null] for a policy without paramKind. */
  private async params(
    policy: ValidatingAdmissionPolicy,
    binding: ValidatingAdmissionPolicyBinding,
    attrs: AdmissionAttributes,
  ): Promise<(KubeObject | null)[]> {
    const kind = policy.spec?.paramKind;
    if (!kind) return [null];
    const ref: ParamRef | undefined = binding.spec?.paramRef;
    if (!ref)
      throw new PolicyError(
        `failed to configure binding: paramRef is required when the policy has paramKind ${kind.apiVersion}/${kind.kind}`,
      );
    if (!this.o.params)
      throw new PolicyError(`failed to configure binding: params of kind ${kind.kind} cannot be read`);
    try {
      return await this.findParams(this.o.params, kind, ref, attrs);
    } catch (err) {
      if (err instanceof PolicyError) throw err;
      throw new PolicyError(`failed to configure binding: ${(err as Error).message}`);
    }
  }

  private async findParams(
    resolver: ParamResolver,
    kind: ParamKind,
    ref: ParamRef,
    attrs: AdmissionAttributes,
  ): Promise<KubeObject[]> {
    let namespace = '';
    if (await resolver.namespaced(kind)) {
      namespace = ref.namespace ?? attrs.namespace ?? '';
      if (!namespace)
        throw new PolicyError(
          'failed to configure binding: cannot use a namespaced paramRef without a namespace for a cluster-scoped request',
        );
    }
    let found: KubeObject[];
    if (ref.name) {
      const one = await resolver.get(kind, namespace, ref.name);
      found = one ? [one] : [];
    } else {
      let match;
      try {
        match = labelSelectorMatcher(ref.selector ?? {});
      } catch (err) {
        throw new PolicyError(`failed to configure binding: ${(err as Error).message}`);
      }
      found = await resolver.list(kind, namespace, (labels) => match(labels));
    }
    if (found.length > 0 || (ref.parameterNotFoundAction ?? 'Deny') === 'Allow') return found;
    throw new PolicyError(
      'failed to configure binding: no params found for policy binding with `Deny` parameterNotFoundAction',
    );
  }

  private async evaluate(
    policy: ValidatingAdmissionPolicy,
    bindingName: string,
    actions: ValidationAction[],
    attrs: AdmissionAttributes,
    params: KubeObject | null,
    decisions: Decision[],
    result: PolicyResult,
  ): Promise<void> {
    const c = compilePolicy(policy);
    const spec = policy.spec ?? {};
    const nsName = attrs.namespace ?? '';
    const namespaceObject = nsName && this.o.namespaceObject ? ((await this.o.namespaceObject(nsName)) ?? null) : null;
    const base: Record<string, unknown> = {
      object: attrs.object ? toCEL(attrs.object) : null,
      oldObject: attrs.oldObject ? toCEL(attrs.oldObject) : null,
      request: toCEL(requestOf(attrs)),
      params: params ? toCEL(params) : null,
      namespaceObject: namespaceObject ? toCEL(namespaceObject) : null,
    };
    const activation = {
      ...base,
      variables: lazyVariables(
        c.variables,
        base,
        (spec.variables ?? []).map((v) => v.expression),
      ),
    };
    // matchConditions: all true to go on; an error is a failure.
    for (const [i, m] of c.matchConditions.entries()) {
      const v = run(m.compiled, activation, spec.matchConditions![i]!.expression);
      if (typeof v !== 'boolean') throw new PolicyError(`matchCondition '${m.name}' must evaluate to bool`);
      if (!v) return;
    }
    const policyName = policy.metadata.name ?? '';
    for (const [i, v] of c.validations.entries()) {
      let ok: unknown;
      try {
        ok = run(v.compiled, activation, v.expression);
        if (typeof ok !== 'boolean')
          throw new PolicyError(
            `expression '${v.expression}' resulted in error: validation expression must evaluate to bool`,
          );
      } catch (err) {
        if (!(err instanceof PolicyError)) throw err;
        if ((spec.failurePolicy ?? 'Fail') === 'Fail')
          decisions.push({
            policy: policyName,
            binding: bindingName,
            message: err.message,
            reason: 'Invalid',
            expressionIndex: i,
            actions,
          });
        continue;
      }
      if (ok) continue;
      decisions.push({
        policy: policyName,
        binding: bindingName,
        message: this.message(v, activation),
        reason: v.reason ?? 'Invalid',
        expressionIndex: i,
        actions,
      });
    }
    for (const a of c.auditAnnotations) {
      try {
        const value = run(a.compiled, activation, a.key);
        if (value === null || value === undefined) continue;
        result.auditAnnotations[`${policyName}/${a.key}`] =
          typeof value === 'string' ? value : JSON.stringify(fromCEL(value));
      } catch {
        // kube drops an audit annotation whose expression fails
      }
    }
  }

  /** messageExpression when it yields a usable string, else message, else kube's default. */
  private message(v: CompiledPolicy['validations'][number], activation: Record<string, unknown>): string {
    if (v.messageExpression && 'program' in v.messageExpression) {
      try {
        const m = v.messageExpression.program.evaluate(activation);
        if (typeof m === 'string' && m.trim() !== '' && !m.includes('\n') && m.length <= 5000) return m.trim();
      } catch {
        // falls back to the static message, as kube does
      }
    }
    return v.message ?? `failed expression: ${v.expression}`;
  }
}
