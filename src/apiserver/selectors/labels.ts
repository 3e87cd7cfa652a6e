// Label selectors in their string form (k8s.io/apimachinery/pkg/labels): `a=b`, `a==b`,
// `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`, `a>1`, `a<1`; comma means AND.

import { badRequest } from '../errors.js';

export type Requirement =
  | { key: string; op: 'in' | 'notin'; values: string[] }
  | { key: string; op: 'exists' | 'doesnotexist' }
  | { key: string; op: 'gt' | 'lt'; value: number };

export interface LabelSelector {
  requirements: Requirement[];
  matches(labels: Record<string, string> | undefined): boolean;
  isEmpty(): boolean;
}

const keyPattern =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const valuePattern = /^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/;

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
  if (!keyPattern.test(key) || key.length > 316)
    fail(
      selector,
      `invalid label key "${key}": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`,
    );
}

function checkValue(selector: string, value: string): void {
  if (!valuePattern.test(value))
    fail(
      selector,
      `invalid label value: "${value}": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`,
    );
}

export function parseLabelSelector(selector: string | null | undefined): LabelSelector {
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
    matches(labels) {
      const l = labels ?? {};
      return requirements.every((r) => {
        const has = Object.prototype.hasOwnProperty.call(l, r.key);
        switch (r.op) {
          case 'in':
            return has && r.values.includes(l[r.key]);
          case 'notin':
            return !has || !r.values.includes(l[r.key]);
          case 'exists':
            return has;
          case 'doesnotexist':
            return !has;
          case 'gt':
          case 'lt': {
            if (!has) return false;
            const n = Number(l[r.key]);
            if (!Number.isFinite(n)) return false;
            return r.op === 'gt' ? n > r.value : n < r.value;
          }
        }
      });
    },
  };
}
