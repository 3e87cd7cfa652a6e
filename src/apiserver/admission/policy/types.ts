// ValidatingAdmissionPolicy and ValidatingAdmissionPolicyBinding (admissionregistration.k8s.io/v1)
// as they travel in JSON, with the v1 defaults.

import type { LabelSelector } from '../../../machinery/labels.js';
import type { ObjectMeta } from '../../../machinery/object.js';
import type { MatchCondition, MatchPolicyType, RuleWithOperations } from '../types.js';

export interface NamedRuleWithOperations extends RuleWithOperations {
  /** Names the rule applies to; empty means every name. */
  resourceNames?: string[];
}

export interface MatchResources {
  namespaceSelector?: LabelSelector;
  objectSelector?: LabelSelector;
  resourceRules?: NamedRuleWithOperations[];
  excludeResourceRules?: NamedRuleWithOperations[];
  matchPolicy?: MatchPolicyType;
}

export interface Validation {
  expression: string;
  message?: string;
  /** Unauthorized, Forbidden, Invalid (default) or RequestEntityTooLarge. */
  reason?: string;
  messageExpression?: string;
}

export interface AuditAnnotation {
  key: string;
  valueExpression: string;
}

export interface Variable {
  name: string;
  expression: string;
}

export interface ParamKind {
  apiVersion: string;
  kind: string;
}

export interface ValidatingAdmissionPolicy {
  apiVersion?: string;
  kind?: 'ValidatingAdmissionPolicy';
  metadata: ObjectMeta;
  spec?: {
    paramKind?: ParamKind;
    matchConstraints?: MatchResources;
    validations?: Validation[];
    /** Fail (default) or Ignore: what an error (compile, evaluation, missing params) does. */
    failurePolicy?: 'Fail' | 'Ignore';
    auditAnnotations?: AuditAnnotation[];
    matchConditions?: MatchCondition[];
    variables?: Variable[];
  };
}

export type ValidationAction = 'Deny' | 'Warn' | 'Audit';

export interface ParamRef {
  name?: string;
  namespace?: string;
  selector?: LabelSelector;
  /** Allow or Deny. */
  parameterNotFoundAction?: 'Allow' | 'Deny';
}

export interface ValidatingAdmissionPolicyBinding {
  apiVersion?: string;
  kind?: 'ValidatingAdmissionPolicyBinding';
  metadata: ObjectMeta;
  spec?: {
    policyName?: string;
    paramRef?: ParamRef;
    matchResources?: MatchResources;
    validationActions?: ValidationAction[];
  };
}

/** The Status reasons a validation may name, and their HTTP codes. */
export const reasonCodes: Record<string, number> = {
  Unauthorized: 401,
  Forbidden: 403,
  Invalid: 422,
  RequestEntityTooLarge: 413,
};

export const VALIDATION_FAILURE_ANNOTATION = 'validation.policy.admission.k8s.io/validation_failure';
