// Label selectors (k8s.io/apimachinery/pkg/labels and metav1.LabelSelector), in one place:
// - the string form of list and watch requests: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`,
//   `a`, `!a`, `a>1`, `a<1`; comma means AND (parseLabelSelector, errors are 400 Status errors);
// - metav1.LabelSelector objects in specs (webhook selectors, RBAC aggregation, workloads), compiled as
//   metav1.LabelSelectorAsSelector does: a missing selector selects nothing, `{}` everything;
//   matchLabels and matchExpressions are ANDed; invalid selectors (unknown operator, bad key/value,
//   wrong number of values) are errors with kube's text, not "match nothing" (labelSelectorMatcher).
// Both compile to the same requirements and match labels the same way.

import { badRequest } from './errors.js';

export type Requirement =
  | { key: string; op: 'in' | 'notin'; values: string[] }
  | { key: string; op: 'exists' | 'doesnotexist' }
  | { key: string; op: 'gt' | 'lt'; value: number };

/** A parsed selector (kube's labels.Selector). */
export interface Selector {
  requirements: Requirement[];
  matches(labels: Record<string, string> | undefined): boolean;
  isEmpty(): boolean;
}

/** Qualified-name key and label value checks (k8s.io/apimachinery/pkg/util/validation). */
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

function fail(selector: string, why: string): never {
  throw badRequest(`unable to parse requirement: ${why}`, [
    { reason: 'FieldValueInvalid', message: `${why} (in selector "${selector}")`, field: 'labelSelector' },
  ]);
}

/** Splits on commas that are not inside parentheses. */
function splitTerms(s: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      terms.push(cur);
      cur = '';
    } else cur += ch;
  }
  terms.push(cur);
  return terms.map((t) => t.trim());
}

function checkKey(selector: string, key: string): void {
  if (keyError(key))
    fail(
      selector,
      `invalid label key "${key}": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`,
    );
}

function checkValue(selector: string, value: string): void {
  if (valueError(value))
    fail(
      selector,
      `invalid label value: "${value}": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`,
    );
}

export function parseLabelSelector(selector: string | null | undefined): Selector {
  const requirements: Requirement[] = [];
  const text = (selector ?? '').trim();
  if (text !== '') {
    for (const term of splitTerms(text)) {
      if (term === '') fail(text, 'found empty requirement');
      let m: RegExpExecArray | null;
      if ((m = /^(\S+)\s+(in|notin)\s*\((.*)\)$/.exec(term))) {
        checkKey(text, m[1]);
        const values = m[3].split(',').map((v) => v.trim());
        if (values.length === 1 && values[0] === '' && m[2] === 'in')
          fail(text, "for 'in', 'notin' operators, values set can't be empty");
        values.forEach((v) => checkValue(text, v));
        requirements.push({ key: m[1], op: m[2] as 'in' | 'notin', values });
      } else if ((m = /^([^=!<>\s]+)\s*(==|=|!=)\s*(.*)$/.exec(term))) {
        checkKey(text, m[1]);
        checkValue(text, m[3]);
        requirements.push({ key: m[1], op: m[2] === '!=' ? 'notin' : 'in', values: [m[3]] });
      } else if ((m = /^([^=!<>\s]+)\s*([<>])\s*(.*)$/.exec(term))) {
        checkKey(text, m[1]);
        const n = Number(m[3]);
        if (!/^-?\d+$/.test(m[3]) || !Number.isSafeInteger(n))
          fail(text, `for 'Gt', 'Lt' operators, the value must be an integer`);
        requirements.push({ key: m[1], op: m[2] === '>' ? 'gt' : 'lt', value: n });
      } else if ((m = /^!\s*(\S+)$/.exec(term))) {
        checkKey(text, m[1]);
        requirements.push({ key: m[1], op: 'doesnotexist' });
      } else if (/^\S+$/.test(term)) {
        checkKey(text, term);
        requirements.push({ key: term, op: 'exists' });
      } else {
        fail(text, `"${term}" is not a valid requirement`);
      }
    }
  }
  return {
    requirements,
    isEmpty: () => requirements.length === 0,
    matches: (labels) => requirements.every((r) => requirementMatches(r, labels ?? {})),
  };
}

export function requirementMatches(r: Requirement, labels: Record<string, string>): boolean {
  const has = Object.prototype.hasOwnProperty.call(labels, r.key);
  switch (r.op) {
    case 'in':
      return has && r.values.includes(labels[r.key]);
    case 'notin':
      return !has || !r.values.includes(labels[r.key]);
    case 'exists':
      return has;
    case 'doesnotexist':
      return !has;
    case 'gt':
    case 'lt': {
      if (!has) return false;
      const n = Number(labels[r.key]);
      if (!Number.isFinite(n)) return false;
      return r.op === 'gt' ? n > r.value : n < r.value;
    }
  }
}

// ---- metav1.LabelSelector --------------------------------------------------------------------

export interface LabelSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist' | string;
  values?: string[];
}

/** metav1.LabelSelector: matchLabels and matchExpressions are ANDed; `{}` selects everything. */
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

export type LabelMatcher = (labels: Record<string, string> | undefined) => boolean;

/** Compiles a metav1.LabelSelector; throws Error with kube's text when it is invalid. */
export function labelSelectorMatcher(selector: LabelSelector | null | undefined): LabelMatcher {
  if (selector === null || selector === undefined) return () => false;
  const reqs: Requirement[] = [];
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    const err = keyError(key) ?? valueError(value);
    if (err) throw new Error(err);
    reqs.push({ key, op: 'in', values: [value] });
  }
  for (const expr of selector.matchExpressions ?? []) {
    const values = expr.values ?? [];
    let op: 'in' | 'notin' | 'exists' | 'doesnotexist';
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
    reqs.push(
      op === 'exists' || op === 'doesnotexist' ? { key: expr.key, op } : { key: expr.key, op, values: [...values] },
    );
  }
  if (reqs.length === 0) return () => true;
  return (labels) => {
    const l = labels ?? {};
    return reqs.every((r) => requirementMatches(r, l));
  };
}
