// JSON value helpers with the semantics structured-merge-diff (smd) and Go's encoders use:
// byte-order string comparison, smd's total order on values, Go-compatible JSON text and
// Go-style rendering of values in field paths.

import { isPlainObject } from '../../machinery/object.js';

export { isPlainObject };

/** Compares strings by their UTF-8 bytes (what Go's `<` on strings does), not UTF-16 units. */
export function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const ca = a.charCodeAt(i);
    const cb = b.charCodeAt(i);
    if (ca === cb) continue;
    const sa = ca >= 0xd800 && ca <= 0xdfff;
    const sb = cb >= 0xd800 && cb <= 0xdfff;
    // A surrogate encodes a code point above U+FFFF, which sorts after every BMP character in UTF-8.
    if (sa !== sb) return sa ? 1 : -1;
    return ca < cb ? -1 : 1;
  }
  return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
}

function rank(v: unknown): number {
  if (typeof v === 'number') return 0;
  if (typeof v === 'string') return 1;
  if (typeof v === 'boolean') return 2;
  if (Array.isArray(v)) return 3;
  if (isPlainObject(v)) return 4;
  return 5; // null (and anything else)
}

/** smd's total order on values (value.CompareUsing): numbers < strings < booleans < lists < maps < null. */
export function compareValues(a: unknown, b: unknown): number {
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return ra < rb ? -1 : 1;
  switch (ra) {
    case 0:
      return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0;
    case 1:
      return compareStrings(a as string, b as string);
    case 2:
      return a === b ? 0 : a ? 1 : -1;
    case 3: {
      const la = a as unknown[];
      const lb = b as unknown[];
      const n = Math.min(la.length, lb.length);
      for (let i = 0; i < n; i++) {
        const c = compareValues(la[i], lb[i]);
        if (c !== 0) return c;
      }
      return la.length < lb.length ? -1 : la.length > lb.length ? 1 : 0;
    }
    case 4: {
      const ma = a as Record<string, unknown>;
      const mb = b as Record<string, unknown>;
      const ka = definedKeys(ma).sort(compareStrings);
      const kb = definedKeys(mb).sort(compareStrings);
      const n = Math.min(ka.length, kb.length);
      for (let i = 0; i < n; i++) {
        const c = compareStrings(ka[i], kb[i]);
        if (c !== 0) return c;
        const cv = compareValues(ma[ka[i]], mb[kb[i]]);
        if (cv !== 0) return cv;
      }
      return ka.length < kb.length ? -1 : ka.length > kb.length ? 1 : 0;
    }
    default:
      return 0;
  }
}

export function definedKeys(o: Record<string, unknown>): string[] {
  return Object.keys(o).filter((k) => o[k] !== undefined);
}

/** Deep equality of JSON values; absent (`undefined`) object members do not count. */
export function valuesEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!valuesEqual(a[i], b[i])) return false;
    return true;
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    let na = 0;
    for (const k in a) {
      if (a[k] === undefined) continue;
      na++;
      if (!valuesEqual(a[k], b[k])) return false;
    }
    let nb = 0;
    for (const k in b) if (b[k] !== undefined) nb++;
    return na === nb;
  }
  return false;
}

const htmlUnsafe = /[<>&\u2028\u2029]/g;

/** A JSON string literal as Go's encoding/json (and jsoniter's std-compatible config) writes it. */
export function goQuote(s: string): string {
  const q = JSON.stringify(s);
  return htmlUnsafe.test(q) ? q.replace(htmlUnsafe, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0')) : q;
}

/**
 * JSON text as Go's encoding/json writes a decoded (map-based) value: map keys sorted by
 * bytes, HTML characters escaped. `escapeKeys: false` keeps object keys unescaped.
 */
export function goJSON(v: unknown, escapeKeys = true): string {
  if (typeof v === 'string') return goQuote(v);
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'number') return Number.isFinite(v) ? JSON.stringify(v) : 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (Array.isArray(v)) return '[' + v.map((x) => goJSON(x, escapeKeys)).join(',') + ']';
  if (isPlainObject(v)) {
    const keys = definedKeys(v).sort(compareStrings);
    return (
      '{' +
      keys.map((k) => (escapeKeys ? goQuote(k) : JSON.stringify(k)) + ':' + goJSON(v[k], escapeKeys)).join(',') +
      '}'
    );
  }
  return 'null';
}

/** A value as smd's value.ToString renders it inside a path (`"nginx"`, `80`, `true`). */
export function valueToString(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return '[' + v.map(valueToString).join(',') + ']';
  if (isPlainObject(v)) {
    return (
      '{' +
      definedKeys(v)
        .sort(compareStrings)
        .map((k) => `${k}=${valueToString(v[k])}`)
        .join(',') +
      '}'
    );
  }
  return String(v);
}

export function isEmptyObject(v: unknown): boolean {
  if (!isPlainObject(v)) return false;
  for (const k in v) if (v[k] !== undefined) return false;
  return true;
}

/** A copy of a JSON value (no shared structure); absent (`undefined`) members are dropped. */
export function cloneValue<T>(v: T): T {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(cloneValue) as T;
  if (!isPlainObject(v)) return structuredClone(v);
  const out: Record<string, unknown> = {};
  for (const k in v) {
    const x = v[k];
    if (x !== undefined) out[k] = cloneValue(x);
  }
  return out as T;
}
