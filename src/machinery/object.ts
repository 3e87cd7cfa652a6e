// The untyped object shape the generic machinery handles, plus small helpers for it.

import type { ObjectMeta } from './meta.js';

export type { ObjectMeta, OwnerReference } from './meta.js';

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [key: string]: unknown;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function deepClone<T>(v: T): T {
  return structuredClone(v);
}

/** Deep equality of JSON values (key order does not matter). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => jsonEqual(a[k], b[k]));
  }
  return false;
}

/**
 * How deeply objects and arrays may nest in a request body or a patched object. Go's JSON decoder
 * (kube-apiserver) stops at 10000; the recursive built-ins the server runs on objects
 * (structuredClone, JSON.stringify) overflow the stack at about 2000, so the limit is lower here.
 */
export const maxObjectDepth = 1000;

/** Nesting depth of a JSON value (scalars 0, `{}` and `[]` 1), computed without recursion. */
export function jsonDepth(value: unknown): number {
  let max = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (d + 1 > max) max = d + 1;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (child !== null && typeof child === 'object') stack.push([child, d + 1]);
    }
  }
  return max;
}

/**
 * A request value for an error message. Unlike String() or a template literal, this never throws:
 * a decoded body can hold `{"toString": 1}`, which String() cannot convert.
 */
export function displayValue(v: unknown): string {
  return typeof v === 'string' ? v : (JSON.stringify(v) ?? String(v));
}
