// Field selectors (k8s.io/apimachinery/pkg/fields): `f=v`, `f==v`, `f!=v`, comma = AND, with
// `\,` `\=` `\\` escapes in values. Only declared fields may be selected: metadata.name,
// metadata.namespace, plus each kind's selectableFields.

import { badRequest } from './errors.js';

export interface FieldRequirement {
  field: string;
  op: '=' | '!=';
  value: string;
}

export interface FieldSelector {
  requirements: FieldRequirement[];
  matches(fields: Record<string, string>): boolean;
  isEmpty(): boolean;
  /** The value a requirement pins with `=`, e.g. the name for `metadata.name=x`. */
  exactValue(field: string): string | undefined;
}

function splitUnescaped(s: string, sep: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (ch === '\\' && i + 1 < s.length) {
      cur += ch + s[i + 1];
      i++;
    } else if (ch === sep) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

function unescape(s: string): string {
  return s.replace(/\\(.)/g, '$1');
}

export function parseFieldSelector(selector: string | null | undefined, allowed: readonly string[]): FieldSelector {
  const requirements: FieldRequirement[] = [];
  const text = (selector ?? '').trim();
  if (text !== '') {
    for (const term of splitUnescaped(text, ',')) {
      const m = /^([^=!]+?)\s*(==|=|!=)\s*(.*)$/s.exec(term.trim());
      if (!m)
        throw badRequest(
          `invalid field selector: '${term}' is not a valid field selector: requirement must be of the form key=value, key==value or key!=value`,
        );
      const field = m[1].trim();
      if (!allowed.includes(field)) {
        const list = allowed.map((f) => `"${f}"`).join(', ');
        throw badRequest(`"${field}" is not a known field selector: only ${list}`);
      }
      requirements.push({ field, op: m[2] === '!=' ? '!=' : '=', value: unescape(m[3]) });
    }
  }
  return {
    requirements,
    isEmpty: () => requirements.length === 0,
    matches(fields) {
      return requirements.every((r) => ((fields[r.field] ?? '') === r.value) === (r.op === '='));
    },
    exactValue(field) {
      return requirements.find((r) => r.field === field && r.op === '=')?.value;
    },
  };
}
