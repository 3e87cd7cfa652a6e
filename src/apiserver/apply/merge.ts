// Merging an applied configuration over the live object (smd typed.Merge with ruleKeepRHS),
// removing field sets from a value (typed.RemoveItems), and the prune step of an apply
// (smd merge/update.go prune, addBackOwnedItems, addBackDanglingItems).
//
// Values are never mutated: results share unchanged sub-values with the inputs, so callers
// must clone before mutating a result in place.

import { FieldSet, fieldPE, indexPE, type PathElement } from './fieldset.js';
import {
  ensureNamedFieldsAreMembers,
  fieldType,
  isEmptyish,
  listItemPE,
  rememberItemPE,
  resolve,
  shapeOf,
  toFieldSet,
  type ListType,
  type MapType,
  type TypeNode,
} from './schema-walk.js';
import { isEmptyObject, isPlainObject } from './values.js';

/**
 * Merges `config` over `live`: leaves and atomic values from the config win (explicit null
 * included); granular maps/structs are merged key by key (null or `{}` in the config keeps
 * live children); associative lists are merged item by item (by key or value) in smd's order.
 * `undefined` means absent. Live lists may contain duplicate items; the config must not
 * (validate it first).
 */
export function mergeValues(live: unknown, config: unknown, t: TypeNode): unknown {
  if (config === undefined) return live;
  if (live === undefined) return config;
  const sl = shapeOf(t, live);
  const sr = shapeOf(t, config);
  if (sl !== sr || sr === 'leaf') return config;
  if (isEmptyish(live) && isEmptyish(config)) return config;
  if (sr === 'list')
    return mergeList(resolve(t, config) as ListType, live as unknown[] | null, config as unknown[] | null);
  const map = resolve(t, config) as MapType;
  const lm = live as Record<string, unknown> | null;
  const rm = config as Record<string, unknown> | null;
  const out: Record<string, unknown> = {};
  if (lm) {
    for (const k in lm) {
      if (lm[k] === undefined) continue;
      const merged = mergeValues(lm[k], rm ? rm[k] : undefined, fieldType(map, k));
      if (merged !== undefined) out[k] = merged;
    }
  }
  if (rm) {
    for (const k in rm) {
      if (rm[k] === undefined || (lm && lm[k] !== undefined)) continue;
      out[k] = rm[k];
    }
  }
  return out;
}

const DUPLICATE = Symbol('duplicate');

interface Indexed {
  pes: PathElement[];
  /** First item per PE key; DUPLICATE when the key occurs more than once. */
  observed: Map<string, unknown>;
}

function index(t: ListType, list: unknown[] | null): Indexed {
  const pes: PathElement[] = [];
  const observed = new Map<string, unknown>();
  if (!list) return { pes, observed };
  for (let i = 0; i < list.length; i++) {
    let pe = listItemPE(t, list[i], i);
    // An item without identity (only possible in live objects) is carried through unchanged.
    if (typeof pe === 'string') pe = { ...indexPE(i), key: `#invalid:${i}` };
    pes.push(pe);
    observed.set(pe.key, observed.has(pe.key) ? DUPLICATE : list[i]);
  }
  return { pes, observed };
}

function mergeList(t: ListType, lhs: unknown[] | null, rhs: unknown[] | null): unknown[] {
  const out: unknown[] = [];
  const r = index(t, rhs);
  const l = index(t, lhs);
  const shared: string[] = [];
  for (const pe of r.pes) if (l.observed.has(pe.key)) shared.push(pe.key);
  let sharedIdx = 0;
  let nextShared: string | undefined = shared[sharedIdx++];
  const mergedRHS = new Set<string>();
  const emit = (pe: PathElement) => {
    const lChild = l.observed.get(pe.key);
    const merged = mergeValues(lChild === DUPLICATE ? undefined : lChild, r.observed.get(pe.key), t.item);
    if (merged === undefined) return;
    // A merged item has the identity of the items it was merged from.
    rememberItemPE(t, merged, pe);
    out.push(merged);
  };
  const lLen = l.pes.length;
  const rLen = r.pes.length;
  for (let lI = 0, rI = 0; lI < lLen || rI < rLen;) {
    if (lI < lLen && rI < rLen) {
      const pe = l.pes[lI];
      if (pe.key === r.pes[rI].key) {
        mergedRHS.add(pe.key);
        emit(pe);
        lI++;
        rI++;
        nextShared = shared[sharedIdx++];
        continue;
      }
      if (r.observed.has(pe.key) && nextShared !== undefined && nextShared !== pe.key) {
        // Shared item, but not the one expected next: it is emitted at its config position.
        lI++;
        continue;
      }
    }
    if (lI < lLen) {
      const pe = l.pes[lI];
      if (!r.observed.has(pe.key)) {
        out.push(lhs![lI]);
        lI++;
        continue;
      } else if (mergedRHS.has(pe.key)) {
        lI++;
        continue;
      }
    }
    if (rI < rLen) {
      const pe = r.pes[rI];
      mergedRHS.add(pe.key);
      emit(pe);
      rI++;
      if (nextShared !== undefined && nextShared === pe.key) nextShared = shared[sharedIdx++];
    }
  }
  return out;
}

/**
 * Removes the paths of `toRemove` (with their subtrees) from a value (smd RemoveItems).
 * A granular container that ends up empty becomes null, as in smd.
 */
export function removeItems(value: unknown, toRemove: FieldSet, t: TypeNode): unknown {
  if (toRemove.isEmpty()) return value;
  const r = resolve(t, value);
  if (r.kind === 'list') {
    if (!Array.isArray(value) || value.length === 0 || r.atomic) return null;
    const out: unknown[] = [];
    for (let i = 0; i < value.length; i++) {
      let item = value[i];
      const pe = listItemPE(r, item, i);
      if (typeof pe !== 'string') {
        if (toRemove.hasMember(pe)) continue;
        const sub = toRemove.withPrefix(pe);
        if (!sub.isEmpty()) item = removeItems(item, sub, r.item);
      }
      out.push(item);
    }
    return out.length > 0 ? out : null;
  }
  if (r.kind === 'map') {
    if (!isPlainObject(value) || isEmptyObject(value) || r.atomic) return null;
    const out: Record<string, unknown> = {};
    let n = 0;
    for (const k in value) {
      let v = value[k];
      if (v === undefined) continue;
      const pe = fieldPE(k);
      if (toRemove.hasMember(pe)) continue;
      const sub = toRemove.withPrefix(pe);
      if (!sub.isEmpty()) v = removeItems(v, sub, fieldType(r, k));
      out[k] = v;
      n++;
    }
    return n > 0 ? out : null;
  }
  return value;
}

/**
 * Removes what the applier applied last time (`lastSet`), does not apply any more, and no
 * manager (the applier's new set included) owns — with smd's add-back passes, so a field or
 * item survives when anyone owns it, and nothing outside `lastSet` (plus its named-field
 * ancestors) is ever removed. `applied` is the field set of the new config (enables a fast path).
 */
export function prune(
  merged: unknown,
  owned: FieldSet,
  lastSet: FieldSet | undefined,
  t: TypeNode,
  applied?: FieldSet,
): unknown {
  if (!lastSet || lastSet.isEmpty()) return merged;
  // Fast path: when the new config covers everything applied last time, nothing can go (every
  // list item or map entry above a config path is itself in the config set, and its named
  // fields are in lastSet⁺ ⊆ applied⁺ ⊆ owned⁺).
  if (applied && lastSet.difference(applied).isEmpty()) return merged;
  const last = ensureNamedFieldsAreMembers(lastSet, t);
  const pruned1 = removeItems(merged, last, t);
  const mergedSet = ensureNamedFieldsAreMembers(toFieldSet(merged, t), t);
  const pruned1Set = ensureNamedFieldsAreMembers(toFieldSet(pruned1, t), t);
  const ownedE = ensureNamedFieldsAreMembers(owned, t);
  // addBackOwnedItems
  const pruned2 = removeItems(merged, mergedSet.difference(pruned1Set.union(ownedE)), t);
  // addBackDanglingItems
  const pruned2Set = ensureNamedFieldsAreMembers(toFieldSet(pruned2, t), t);
  return removeItems(merged, mergedSet.difference(pruned2Set).intersection(last), t);
}
