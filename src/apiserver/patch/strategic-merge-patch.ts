// Strategic merge patch (`application/strategic-merge-patch+json`), as
// k8s.io/apimachinery/pkg/util/strategicpatch applies it on the server (StrategicMergeMapPatch,
// MergeParallelList and IgnoreUnmatchedNulls on): maps merge key by key and `null` deletes; lists
// are replaced unless their field's strategy is `merge`, in which case items with a merge key are
// merged by it and scalars are unioned. Directives: `$patch: replace|delete` in a map or as a list
// item, `$retainKeys`, `$setElementOrder/<list>` and `$deleteFromPrimitiveList/<list>`. The
// strategies and merge keys come from the kind's type metadata (PatchMeta). Pure: inputs are not
// modified.

import type { FieldPatchMeta, PatchMeta } from '../../machinery/protobuf/patch-meta.js';

type Obj = Record<string, unknown>;

const DIRECTIVE = '$patch';
const RETAIN_KEYS = '$retainKeys';
const SET_ELEMENT_ORDER = '$setElementOrder/';
const DELETE_FROM_PRIMITIVE_LIST = '$deleteFromPrimitiveList/';

/** A patch that cannot be applied; the server answers 422, as kube does for strategicpatch errors. */
export class StrategicPatchError extends Error {}

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function clone<T>(v: T): T {
  return v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T);
}

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

/** Applies `patch` to `original` (the object's JSON form). */
export function applyStrategicMergePatch(original: unknown, patch: unknown, meta: PatchMeta | undefined): unknown {
  if (!isObj(patch)) throw new StrategicPatchError('a strategic merge patch must be a JSON object');
  return mergeMap(isObj(original) ? clone(original) : {}, clone(patch), meta);
}

/** Removes null values from a value that is added as a whole (discardNullValuesFromPatch). */
function discardNulls(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(discardNulls);
  if (!isObj(v)) return v;
  const out: Obj = {};
  for (const [k, x] of Object.entries(v)) if (x !== null) out[k] = discardNulls(x);
  return out;
}

const DROP = Symbol('drop');

/** Drops every map carrying a `$patch` directive from a value that is added as a whole (removeDirectives). */
function removeDirectives(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(removeDirectives).filter((x) => x !== DROP);
  if (!isObj(v)) return v;
  if (DIRECTIVE in v) return DROP;
  const out: Obj = {};
  for (const [k, x] of Object.entries(v)) {
    const kept = removeDirectives(x);
    if (kept !== DROP) out[k] = kept;
  }
  return out;
}

/** A patch value taken as it is, without nulls and directives; undefined when it is itself a directive. */
function added(v: unknown): unknown {
  const kept = removeDirectives(discardNulls(v));
  return kept === DROP ? undefined : kept;
}

function mergeMap(original: Obj, patch: Obj, meta: PatchMeta | undefined): Obj {
  if (DIRECTIVE in patch) {
    const directive = patch[DIRECTIVE];
    if (directive === 'replace') {
      delete patch[DIRECTIVE];
      return patch;
    }
    if (directive === 'delete') return {};
    throw new StrategicPatchError(`Unknown patch type: ${String(directive)} in map: ${JSON.stringify(patch)}`);
  }
  applyRetainKeys(original, patch);
  mergeOrderedLists(original, patch, meta);
  for (const key of Object.keys(patch)) {
    const value = patch[key];
    let k = key;
    let deleteList = false;
    if (key.startsWith(DELETE_FROM_PRIMITIVE_LIST)) {
      k = key.slice(DELETE_FROM_PRIMITIVE_LIST.length);
      deleteList = true;
    }
    if (value === null) {
      delete original[k];
      continue;
    }
    const current = original[k];
    if (!(k in original) || kindOf(current) !== kindOf(value)) {
      if (deleteList) continue;
      const v = added(value);
      if (v === undefined) delete original[k];
      else original[k] = v;
      continue;
    }
    const field = meta?.field(k);
    if (isObj(current)) {
      original[k] = field?.strategies.includes('replace') ? value : mergeMap(current, value as Obj, field?.value);
    } else if (Array.isArray(current)) {
      original[k] = mergeListField(current, value as unknown[], field, deleteList);
    } else {
      original[k] = value;
    }
  }
  return original;
}

/** `$retainKeys`: after the merge, only the listed keys stay (strategy retainKeys, e.g. volume sources). */
function applyRetainKeys(original: Obj, patch: Obj): void {
  if (!(RETAIN_KEYS in patch)) return;
  const retain = patch[RETAIN_KEYS];
  delete patch[RETAIN_KEYS];
  if (!Array.isArray(retain) || !retain.every((k) => typeof k === 'string'))
    throw new StrategicPatchError(`invalid patch: the value of ${RETAIN_KEYS} must be a list of strings`);
  for (const [k, v] of Object.entries(patch)) {
    if (v === null || k.startsWith(SET_ELEMENT_ORDER) || k.startsWith(DELETE_FROM_PRIMITIVE_LIST)) continue;
    if (!retain.includes(k)) throw new StrategicPatchError('invalid patch format of retainKeys');
  }
  for (const k of Object.keys(original)) if (!retain.includes(k)) delete original[k];
}

/** `$setElementOrder/<list>`: merges that list now and orders the result as the directive says. */
function mergeOrderedLists(original: Obj, patch: Obj, meta: PatchMeta | undefined): void {
  for (const key of Object.keys(patch)) {
    if (!key.startsWith(SET_ELEMENT_ORDER)) continue;
    const order = patch[key];
    delete patch[key];
    const k = key.slice(SET_ELEMENT_ORDER.length);
    if (!Array.isArray(order)) throw new StrategicPatchError(`invalid patch: ${key} must be a list`);
    const field = meta?.field(k);
    const inOriginal = Array.isArray(original[k]);
    const inPatch = Array.isArray(patch[k]);
    const originalList = inOriginal ? (original[k] as unknown[]) : [];
    const patchList = inPatch ? (patch[k] as unknown[]) : [];
    if (!inOriginal && !inPatch) continue;
    const merged = !inPatch
      ? originalList
      : !inOriginal
        ? (added(patchList) as unknown[])
        : mergeListField(originalList, patchList, field, false);
    const mergeKey = field?.mergeKey;
    const inOrder = (item: unknown) => indexIn(order, item, mergeKey) >= 0;
    const patchItems = merged.filter(inOrder);
    const serverOnly = merged.filter((item) => !inOrder(item));
    original[k] = normalizeOrder(patchItems, serverOnly, order, originalList, mergeKey);
    delete patch[k];
  }
}

function mergeListField(
  original: unknown[],
  patch: unknown[],
  field: FieldPatchMeta | undefined,
  deleteList: boolean,
): unknown[] {
  if (!field?.strategies.includes('merge')) return deleteList ? original : patch;
  if (deleteList) return original.filter((v) => !patch.some((p) => sameScalar(p, v)));
  return mergeList(original, patch, field);
}

function sameScalar(a: unknown, b: unknown): boolean {
  return a === b || (typeof a === 'object' && JSON.stringify(a) === JSON.stringify(b));
}

/** mergeSlice: merges a `merge`-strategy list and orders the result (patch order, then server order). */
function mergeList(original: unknown[], patch: unknown[], field: FieldPatchMeta): unknown[] {
  if (original.length === 0 && patch.length === 0) return original;
  const mergeKey = field.mergeKey;
  const maps = [...original, ...patch].some(isObj);
  let merged: unknown[];
  let patchItems: unknown[] = patch;
  if (!maps) {
    merged = [];
    for (const v of [...original, ...patch]) if (!merged.some((m) => sameScalar(m, v))) merged.push(v);
  } else {
    if (!mergeKey) throw new StrategicPatchError('cannot merge lists without merge key');
    let base = original;
    const plain: unknown[] = [];
    let replace = false;
    for (const item of patch) {
      if (!isObj(item)) throw new StrategicPatchError(`invalid list item ${JSON.stringify(item)}: a map is expected`);
      if (!(DIRECTIVE in item)) {
        plain.push(item);
        continue;
      }
      const directive = item[DIRECTIVE];
      if (directive === 'delete') {
        if (!(mergeKey in item))
          throw new StrategicPatchError(
            `map: ${JSON.stringify(item)} does not contain declared merge key: ${mergeKey}`,
          );
        base = base.filter((o) => !(isObj(o) && sameScalar(o[mergeKey], item[mergeKey])));
      } else if (directive === 'replace') {
        replace = true;
      } else if (directive === 'merge') {
        throw new StrategicPatchError('merging lists cannot yet be specified in the patch');
      } else {
        throw new StrategicPatchError(`Unknown patch type: ${String(directive)} in map: ${JSON.stringify(item)}`);
      }
    }
    patchItems = plain;
    if (replace) {
      base = plain;
      patchItems = [];
    }
    merged = [...base];
    for (const item of patchItems as Obj[]) {
      if (!(mergeKey in item))
        throw new StrategicPatchError(`map: ${JSON.stringify(item)} does not contain declared merge key: ${mergeKey}`);
      const at = merged.findIndex((o) => isObj(o) && sameScalar(o[mergeKey], item[mergeKey]));
      if (at >= 0) merged[at] = mergeMap(merged[at] as Obj, item, field.value);
      else merged.push(discardNulls(item));
    }
    if (replace) return merged;
    original = base;
  }
  const inPatch = (item: unknown) => indexIn(patchItems, item, maps ? mergeKey : undefined) >= 0;
  return normalizeOrder(
    merged.filter(inPatch),
    merged.filter((i) => !inPatch(i)),
    patchItems,
    original,
    maps ? mergeKey : undefined,
  );
}

/** The position of `item` in `list`, matched by merge key for maps and by value for scalars. */
function indexIn(list: unknown[], item: unknown, mergeKey: string | undefined): number {
  if (mergeKey && isObj(item)) return list.findIndex((o) => isObj(o) && sameScalar(o[mergeKey], item[mergeKey]));
  return list.findIndex((o) => sameScalar(o, item));
}

/**
 * normalizeElementOrder: the patch's items in patch order and the server-only items in server
 * order, interleaved by their positions in the server's list; an item the server did not have
 * goes before the server-only items still to place.
 */
function normalizeOrder(
  patchItems: unknown[],
  serverOnly: unknown[],
  patchOrder: unknown[],
  serverOrder: unknown[],
  mergeKey: string | undefined,
): unknown[] {
  const sortBy = (items: unknown[], order: unknown[]) =>
    items
      .map((item, i) => ({ item, i, at: indexIn(order, item, mergeKey) }))
      .sort((a, b) => (a.at >= 0 && b.at >= 0 ? a.at - b.at : a.i - b.i))
      .map((x) => x.item);
  const left = sortBy(serverOnly, serverOrder);
  const right = sortBy(patchItems, patchOrder);
  const out: unknown[] = [];
  let i = 0;
  let j = 0;
  while (i < left.length || j < right.length) {
    if (j >= right.length) out.push(left[i++]);
    else if (i >= left.length) out.push(right[j++]);
    else {
      const li = indexIn(serverOrder, left[i], mergeKey);
      const ri = indexIn(serverOrder, right[j], mergeKey);
      if (li >= 0 && ri >= 0 && li < ri) out.push(left[i++]);
      else out.push(right[j++]);
    }
  }
  return out;
}
