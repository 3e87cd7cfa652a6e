// metav1.LabelSelector → matcher, as metav1.LabelSelectorAsSelector builds it
// (k8s.io/apimachinery/pkg/apis/meta/v1/helpers.go, labels.NewRequirement): a missing selector
// selects nothing, `{}` everything; matchLabels and matchExpressions are ANDed. Invalid selectors
// (unknown operator, bad key/value, wrong number of values) are errors, not "match nothing".

import type { LabelSelector } from './types.js';

export type LabelMatcher = (labels: Record<string, string> | undefined) => boolean;

const namePart = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const dnsSubdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function keyError(key: string): string | undefined {
  const slash = key.indexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && (prefix.length === 0 || prefix.length > 253 || !dnsSubdomain.test(prefix))) {
    return `key: Invalid value: ${JSON.stringify(key)}: prefix part must be a valid DNS subdomain`;
  }
  if (name.length === 0 || name.length > 63 || !namePart.test(name)) {
    return `key: Invalid value: ${JSON.stringify(key)}: name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`;
  }
  return undefined;
}

function valueError(value: string): string | undefined {
  if (value === '') return undefined;
  if (value.length > 63 || !namePart.test(value)) {
    return `values[0][]: Invalid value: ${JSON.stringify(value)}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`;
  }
  return undefined;
}

type Req = { key: string; op: 'in' | 'notin' | 'exists' | 'doesnotexist'; values: string[] };

function has(labels: Record<string, string>, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(labels, key);
}

function matchesReq(r: Req, labels: Record<string, string>): boolean {
  switch (r.op) {
    case 'in':
      return has(labels, r.key) && r.values.includes(labels[r.key]);
    case 'notin':
      return !has(labels, r.key) || !r.values.includes(labels[r.key]);
    case 'exists':
      return has(labels, r.key);
    case 'doesnotexist':
      return !has(labels, r.key);
  }
}

/** Compiles a metav1.LabelSelector; throws Error with kube-like text when it is invalid. */
export function labelSelectorMatcher(selector: LabelSelector | null | undefined): LabelMatcher {
  if (selector === null || selector === undefined) return () => false;
  const reqs: Req[] = [];
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    const err = keyError(key) ?? valueError(value);
    if (err) throw new Error(err);
    reqs.push({ key, op: 'in', values: [value] });
  }
  for (const expr of selector.matchExpressions ?? []) {
    const values = expr.values ?? [];
    let op: Req['op'];
    switch (expr.operator) {
      case 'In':
        op = 'in';
        break;
      case 'NotIn':
        op = 'notin';
        break;
      case 'Exists':
        op = 'exists';
        break;
      case 'DoesNotExist':
        op = 'doesnotexist';
        break;
      default:
        throw new Error(`${JSON.stringify(expr.operator)} is not a valid label selector operator`);
    }
    const kErr = keyError(expr.key);
    if (kErr) throw new Error(kErr);
    if ((op === 'in' || op === 'notin') && values.length === 0) {
      throw new Error("values: Invalid value: []string{}: for 'in', 'notin' operators, values set can't be empty");
    }
    if ((op === 'exists' || op === 'doesnotexist') && values.length !== 0) {
      throw new Error('values: Invalid value: values set must be empty for exists and does not exist');
    }
    for (const v of values) {
      const vErr = valueError(v);
      if (vErr) throw new Error(vErr);
    }
    reqs.push({ key: expr.key, op, values: [...values] });
  }
  if (reqs.length === 0) return () => true;
  return (labels) => {
    const l = labels ?? {};
    return reqs.every((r) => matchesReq(r, l));
  };
}
