// RFC 6902 JSON patches from two versions of a document, as a mutating webhook answers them.
// Computed against the object exactly as received: a map that is absent is added whole (an
// `add` below a missing parent fails, the Vault/Linkerd lesson), list elements inserted in the
// middle are added at their index rather than rewriting the elements after them, and keys are
// escaped (`~0`, `~1`).

export type JSONPatchOp =
  | { op: 'add'; path: string; value: unknown }
  | { op: 'replace'; path: string; value: unknown }
  | { op: 'remove'; path: string };

export function escapePointerToken(token: string): string {
  return token.replace(/~/g, '~0').replace(/\//g, '~1');
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function equal(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => equal(x, b[i]));
  if (isObject(a)) {
    if (!isObject(b)) return false;
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && equal(a[k], b[k]));
  }
  return false;
}

function diffArrays(path: string, before: unknown[], after: unknown[], ops: JSONPatchOp[]): void {
  let prefix = 0;
  while (prefix < before.length && prefix < after.length && equal(before[prefix], after[prefix])) prefix++;
  let suffix = 0;
  while (
    suffix < before.length - prefix &&
    suffix < after.length - prefix &&
    equal(before[before.length - 1 - suffix], after[after.length - 1 - suffix])
  )
    suffix++;
  const removed = before.slice(prefix, before.length - suffix);
  const added = after.slice(prefix, after.length - suffix);
  // Elements changed in place (same count in the middle): patch each one.
  if (removed.length === added.length) {
    removed.forEach((b, i) => diffValues(`${path}/${prefix + i}`, b, added[i], ops));
    return;
  }
  for (let i = removed.length - 1; i >= 0; i--) ops.push({ op: 'remove', path: `${path}/${prefix + i}` });
  added.forEach((v, i) => {
    const index = prefix + i;
    // Appending at the end uses `-`, which reads the intent and survives a concurrent append.
    ops.push({ op: 'add', path: `${path}/${suffix === 0 ? '-' : index}`, value: structuredClone(v) });
  });
}

function diffValues(path: string, before: unknown, after: unknown, ops: JSONPatchOp[]): void {
  if (equal(before, after)) return;
  if (isObject(before) && isObject(after)) {
    for (const k of Object.keys(before))
      if (!Object.hasOwn(after, k)) ops.push({ op: 'remove', path: `${path}/${escapePointerToken(k)}` });
    for (const [k, v] of Object.entries(after)) {
      const p = `${path}/${escapePointerToken(k)}`;
      if (!Object.hasOwn(before, k)) ops.push({ op: 'add', path: p, value: structuredClone(v) });
      else diffValues(p, before[k], v, ops);
    }
    return;
  }
  if (Array.isArray(before) && Array.isArray(after)) {
    diffArrays(path, before, after, ops);
    return;
  }
  ops.push({ op: 'replace', path, value: structuredClone(after) });
}

/** The operations that turn `before` into `after` (both JSON documents); empty when equal. */
export function createJSONPatch(before: unknown, after: unknown): JSONPatchOp[] {
  const ops: JSONPatchOp[] = [];
  diffValues('', before, after, ops);
  return ops;
}
