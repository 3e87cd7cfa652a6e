// The smd type model derived from a kind's JSONSchema (kube-openapi schemaconv rules), and the
// walks over values that need it: the field set of a value (typed.ToFieldSet), the comparison of
// two values (typed.Compare), validation of an apply configuration, and
// Set.EnsureNamedFieldsAreMembers.

import type { JSONSchema } from '../../machinery/definition.js';
import { FieldSet, fieldPE, indexPE, keyPE, valuePE, peToString, type PathElement } from './fieldset.js';
import { isEmptyObject, isPlainObject, valuesEqual } from './values.js';

export type ScalarKind = 'numeric' | 'string' | 'boolean' | 'untyped';

export type TypeNode =
  | { readonly kind: 'scalar'; readonly scalar: ScalarKind }
  /** Any value, tracked as one atomic leaf (no type, int-or-string in a list, …). */
  | { readonly kind: 'untyped' }
  /** Shape taken from the value: maps granular (every key a member), lists atomic. */
  | { readonly kind: 'deduced' }
  | ListType
  | MapType;

export interface ListType {
  readonly kind: 'list';
  /** atomic lists are leaves; associative ones are lists of keyed maps or sets of scalars. */
  readonly atomic: boolean;
  /** Key fields of a list-map in schema order; empty for a set. */
  readonly keys: readonly string[];
  readonly item: TypeNode;
  /** Defaults of key fields, used when an item omits the key. */
  readonly keyDefaults: ReadonlyMap<string, unknown>;
}

export interface MapType {
  readonly kind: 'map';
  /** atomic structs/maps are leaves. */
  readonly atomic: boolean;
  /** Declared struct fields. */
  readonly fields: ReadonlyMap<string, TypeNode>;
  /** Type of undeclared keys (additionalProperties / preserve-unknown-fields), or null: undeclared keys are invalid. */
  readonly element: TypeNode | null;
}

const STRING: TypeNode = { kind: 'scalar', scalar: 'string' };
const NUMERIC: TypeNode = { kind: 'scalar', scalar: 'numeric' };
const BOOLEAN: TypeNode = { kind: 'scalar', scalar: 'boolean' };
export const UNTYPED: TypeNode = { kind: 'untyped' };
export const DEDUCED: TypeNode = { kind: 'deduced' };
const DEDUCED_MAP: MapType = { kind: 'map', atomic: false, fields: new Map(), element: DEDUCED };
const ATOMIC_LIST: ListType = { kind: 'list', atomic: true, keys: [], item: UNTYPED, keyDefaults: new Map() };

// ---- schema conversion ---------------------------------------------------------------

const converted = new WeakMap<JSONSchema, TypeNode>();

/** Converts a JSONSchema node (kube-openapi schemaconv semantics). */
export function typeFromSchema(s: JSONSchema): TypeNode {
  let t = converted.get(s);
  if (!t) {
    t = convert(s);
    converted.set(s, t);
  }
  return t;
}

function convert(s: JSONSchema): TypeNode {
  if (s['x-kubernetes-int-or-string']) return UNTYPED;
  const ext = s as Record<string, unknown>;
  const preserve = s['x-kubernetes-preserve-unknown-fields'] === true;
  let type = s.type;
  if (!type) {
    if (s.properties || s.additionalProperties !== undefined) type = 'object';
    else if (s.items) type = 'array';
    else return preserve ? DEDUCED : UNTYPED;
  }
  switch (type) {
    case 'string':
      return STRING;
    case 'integer':
    case 'number':
      return NUMERIC;
    case 'boolean':
      return BOOLEAN;
    case 'array': {
      const item = s.items ? typeFromSchema(s.items) : UNTYPED;
      let listType = s['x-kubernetes-list-type'];
      let keys = s['x-kubernetes-list-map-keys'] ?? [];
      if (!listType) {
        // Fallback for schemas carrying only the strategic-merge-patch markers.
        const strategy =
          typeof ext['x-kubernetes-patch-strategy'] === 'string' ? (ext['x-kubernetes-patch-strategy'] as string) : '';
        if (strategy.split(',').includes('merge')) {
          const mergeKey = ext['x-kubernetes-patch-merge-key'];
          if (typeof mergeKey === 'string' && mergeKey) {
            listType = 'map';
            keys = [mergeKey];
          } else listType = 'set';
        }
      }
      if (listType === 'map' && keys.length > 0) {
        const defaults = new Map<string, unknown>();
        for (const k of keys) {
          const d = s.items?.properties?.[k]?.default;
          if (d !== undefined) defaults.set(k, d);
        }
        return { kind: 'list', atomic: false, keys: [...keys], item, keyDefaults: defaults };
      }
      if (listType === 'set' || listType === 'map')
        return { kind: 'list', atomic: false, keys: [], item, keyDefaults: new Map() };
      return { kind: 'list', atomic: true, keys: [], item, keyDefaults: new Map() };
    }
    case 'object': {
      const fields = new Map<string, TypeNode>();
      for (const [name, prop] of Object.entries(s.properties ?? {})) fields.set(name, typeFromSchema(prop));
      let element: TypeNode | null = null;
      if (isPlainObject(s.additionalProperties)) element = typeFromSchema(s.additionalProperties as JSONSchema);
      else if (s.additionalProperties === true || preserve) element = DEDUCED;
      else if (!s.properties) element = DEDUCED; // free-form object
      if (s['x-kubernetes-embedded-resource']) {
        if (!fields.has('apiVersion')) fields.set('apiVersion', STRING);
        if (!fields.has('kind')) fields.set('kind', STRING);
        if (!fields.has('metadata')) fields.set('metadata', objectMetaType);
      }
      return { kind: 'map', atomic: s['x-kubernetes-map-type'] === 'atomic', fields, element };
    }
  }
  return UNTYPED;
}

function struct(fields: Record<string, TypeNode>, atomic = false): MapType {
  return { kind: 'map', atomic, fields: new Map(Object.entries(fields)), element: null };
}

const ownerReferenceType = struct({
  apiVersion: STRING,
  kind: STRING,
  name: STRING,
  uid: STRING,
  controller: BOOLEAN,
  blockOwnerDeletion: BOOLEAN,
});

/** ObjectMeta as kube's OpenAPI describes it (list/map markers of meta/v1 types.go). */
export const objectMetaType: MapType = struct({
  name: STRING,
  generateName: STRING,
  namespace: STRING,
  selfLink: STRING,
  uid: STRING,
  resourceVersion: STRING,
  generation: NUMERIC,
  creationTimestamp: UNTYPED,
  deletionTimestamp: UNTYPED,
  deletionGracePeriodSeconds: NUMERIC,
  labels: { kind: 'map', atomic: false, fields: new Map(), element: STRING },
  annotations: { kind: 'map', atomic: false, fields: new Map(), element: STRING },
  ownerReferences: { kind: 'list', atomic: false, keys: ['uid'], item: ownerReferenceType, keyDefaults: new Map() },
  finalizers: { kind: 'list', atomic: false, keys: [], item: STRING, keyDefaults: new Map() },
  managedFields: ATOMIC_LIST,
});

const kindTypes = new WeakMap<JSONSchema, MapType>();

/**
 * The type of a whole object of a kind: `apiVersion`, `kind`, the real ObjectMeta, and the
 * kind's own schema (`ResourceDefinition.schema`, which describes everything else).
 */
export function kindType(schema: JSONSchema): MapType {
  let t = kindTypes.get(schema);
  if (!t) {
    const base = typeFromSchema({ ...schema, type: 'object' });
    const fields = new Map<string, TypeNode>(base.kind === 'map' ? base.fields : []);
    fields.set('apiVersion', STRING);
    fields.set('kind', STRING);
    fields.set('metadata', objectMetaType);
    t = { kind: 'map', atomic: false, fields, element: base.kind === 'map' ? base.element : null };
    kindTypes.set(schema, t);
  }
  return t;
}

/** The type that describes `value` (deduced types take their shape from the value). */
export function resolve(t: TypeNode, value: unknown): TypeNode {
  if (t.kind !== 'deduced') return t;
  if (Array.isArray(value)) return ATOMIC_LIST;
  if (isPlainObject(value)) return DEDUCED_MAP;
  return UNTYPED;
}

/** Type of a child of a map type; undeclared keys of a closed struct are untyped leaves. */
export function fieldType(t: MapType, name: string): TypeNode {
  return t.fields.get(name) ?? t.element ?? UNTYPED;
}

export type Shape = 'leaf' | 'list' | 'map';

/** How a value of type `t` is walked: as a leaf, or as a granular list/map (null counts as empty). */
export function shapeOf(t: TypeNode, v: unknown): Shape {
  const r = resolve(t, v);
  if (r.kind === 'list') return !r.atomic && (v === null || Array.isArray(v)) ? 'list' : 'leaf';
  if (r.kind === 'map') return !r.atomic && (v === null || isPlainObject(v)) ? 'map' : 'leaf';
  return 'leaf';
}

// ---- list items ------------------------------------------------------------------------

interface ItemMemo {
  t: ListType;
  /** The item's key field values the PE was built from (undefined when absent). */
  values: unknown[];
  pe: PathElement;
}

let itemPEs = new WeakMap<object, ItemMemo>();

/** Drops the memo of list-item identities (it is also validated on every hit). */
export function resetItemMemo(): void {
  itemPEs = new WeakMap();
}

/** Records the identity of an item built from items with that identity (merge results). */
export function rememberItemPE(t: ListType, item: unknown, pe: PathElement): void {
  if (t.keys.length > 0 && pe.kind === 'k' && isPlainObject(item))
    itemPEs.set(item, { t, values: t.keys.map((k) => item[k]), pe });
}

/** The PE identifying a list item, or an error message (smd listItemToPathElement). */
export function listItemPE(t: ListType, item: unknown, index: number): PathElement | string {
  if (t.atomic) return indexPE(index);
  if (t.keys.length > 0) {
    if (item === null) return 'associative list with keys may not have a null element';
    if (!isPlainObject(item)) return 'associative list with keys may not have non-map elements';
    const memo = itemPEs.get(item);
    if (memo && memo.t === t && t.keys.every((k, i) => item[k] === memo.values[i])) return memo.pe;
    const fields: [string, unknown][] = [];
    for (const k of t.keys) {
      if (item[k] !== undefined) fields.push([k, item[k]]);
      else if (t.keyDefaults.has(k)) fields.push([k, t.keyDefaults.get(k)]);
    }
    if (fields.length === 0) {
      return `associative list with keys has an element that omits all key fields ${JSON.stringify(t.keys).replace(/,/g, ' ')} (and doesn't have default values for any key fields)`;
    }
    const pe = keyPE(fields);
    itemPEs.set(item, { t, values: t.keys.map((k) => item[k]), pe });
    return pe;
  }
  if (item === null) return "associative list without keys has an element that's an explicit null";
  if (Array.isArray(item)) return 'not supported: associative list with lists as elements';
  if (isPlainObject(item)) return "associative list without keys has an element that's a map type";
  return valuePE(item);
}

// ---- field sets ----------------------------------------------------------------------------

interface WalkResult {
  /** The node itself is a member (leaf). */
  self: boolean;
  /** Paths below the node, or null. */
  set: FieldSet | null;
}

const LEAF: WalkResult = { self: true, set: null };
const NOTHING: WalkResult = { self: false, set: null };

/**
 * The field set of a value (smd ToFieldSet): leaves for scalars and atomic values; list items
 * and undeclared map keys as members; declared fields only through their descendants unless
 * null or `{}`. Items duplicated in a list are recorded as one item path without children.
 * Invalid parts (which validation reports for apply configurations) are skipped.
 */
export function toFieldSet(value: unknown, t: TypeNode): FieldSet {
  return walkSet(value, t).set ?? new FieldSet();
}

function walkSet(v: unknown, t: TypeNode): WalkResult {
  const shape = shapeOf(t, v);
  if (shape === 'leaf') return LEAF;
  if (v === null) return NOTHING;
  const r = resolve(t, v);
  if (shape === 'list') {
    const list = r as ListType;
    const items = v as unknown[];
    const set = new FieldSet();
    const pes: (PathElement | null)[] = new Array(items.length);
    const seen = new Map<string, number>();
    for (let i = 0; i < items.length; i++) {
      const pe = listItemPE(list, items[i], i);
      if (typeof pe === 'string') {
        pes[i] = null;
        continue;
      }
      pes[i] = pe;
      seen.set(pe.key, (seen.get(pe.key) ?? 0) + 1);
    }
    for (let i = 0; i < items.length; i++) {
      const pe = pes[i];
      if (!pe) continue;
      set.addMember(pe);
      if (seen.get(pe.key)! > 1) continue;
      set.addChild(pe, walkSet(items[i], list.item).set);
    }
    return { self: false, set };
  }
  const map = r as MapType;
  const obj = v as Record<string, unknown>;
  const set = new FieldSet();
  for (const key in obj) {
    const child = obj[key];
    if (child === undefined) continue;
    const pe = fieldPE(key);
    const declared = map.fields.has(key);
    const res = walkSet(child, fieldType(map, key));
    if (res.self || !declared || child === null || isEmptyObject(child)) set.addMember(pe);
    set.addChild(pe, res.set);
  }
  return { self: false, set };
}

// ---- comparison ----------------------------------------------------------------------------

export interface Comparison {
  /** Paths present only in lhs. */
  removed: FieldSet;
  /** Leaves present on both sides with different values. */
  modified: FieldSet;
  /** Paths present only in rhs (including new containers and list items). */
  added: FieldSet;
}

interface CmpResult {
  self: 'added' | 'removed' | 'modified' | null;
  removed: FieldSet | null;
  modified: FieldSet | null;
  added: FieldSet | null;
}

const CMP_NONE: CmpResult = { self: null, removed: null, modified: null, added: null };

/** smd Compare(lhs, rhs): what changed from lhs to rhs, per path. */
export function compareObjects(lhs: unknown, rhs: unknown, t: TypeNode): Comparison {
  const r = cmp(lhs, rhs, t);
  return {
    removed: r.removed ?? new FieldSet(),
    modified: r.modified ?? new FieldSet(),
    added: r.added ?? new FieldSet(),
  };
}

export function isSame(c: Comparison): boolean {
  return c.removed.isEmpty() && c.modified.isEmpty() && c.added.isEmpty();
}

function leafCmp(l: unknown, r: unknown): CmpResult {
  if (l === undefined) return { ...CMP_NONE, self: 'added' };
  if (r === undefined) return { ...CMP_NONE, self: 'removed' };
  return valuesEqual(l, r) ? CMP_NONE : { ...CMP_NONE, self: 'modified' };
}

/** Absent, null, `[]` or `{}`: containers that compare and merge as leaves when both sides are like this. */
export function isEmptyish(v: unknown): boolean {
  return v === undefined || v === null || (Array.isArray(v) ? v.length === 0 : isEmptyObject(v));
}

class CmpBuilder {
  removed: FieldSet | null = null;
  modified: FieldSet | null = null;
  added: FieldSet | null = null;

  attach(pe: PathElement, c: CmpResult): void {
    if (c.self === 'added') (this.added ??= new FieldSet()).addMember(pe);
    else if (c.self === 'removed') (this.removed ??= new FieldSet()).addMember(pe);
    else if (c.self === 'modified') (this.modified ??= new FieldSet()).addMember(pe);
    if (c.added) (this.added ??= new FieldSet()).addChild(pe, c.added);
    if (c.removed) (this.removed ??= new FieldSet()).addChild(pe, c.removed);
    if (c.modified) (this.modified ??= new FieldSet()).addChild(pe, c.modified);
  }
}

function cmp(l: unknown, r: unknown, t: TypeNode): CmpResult {
  const sl = l === undefined ? undefined : shapeOf(t, l);
  const sr = r === undefined ? undefined : shapeOf(t, r);
  const shape = sl && sr && sl !== sr ? 'leaf' : (sr ?? sl)!;
  if (shape === 'leaf') return leafCmp(l, r);
  if (isEmptyish(l) && isEmptyish(r)) return leafCmp(l, r); // keeps {} vs null distinct
  const b = new CmpBuilder();
  if (shape === 'list') {
    const list = resolve(t, r ?? l) as ListType;
    cmpList(list, (l ?? null) as unknown[] | null, (r ?? null) as unknown[] | null, b);
  } else {
    const map = resolve(t, r ?? l) as MapType;
    const lm = (l ?? null) as Record<string, unknown> | null;
    const rm = (r ?? null) as Record<string, unknown> | null;
    if (lm) {
      for (const k in lm) {
        if (lm[k] === undefined) continue;
        b.attach(fieldPE(k), cmp(lm[k], rm ? rm[k] : undefined, fieldType(map, k)));
      }
    }
    if (rm) {
      for (const k in rm) {
        if (rm[k] === undefined || (lm && lm[k] !== undefined)) continue;
        b.attach(fieldPE(k), cmp(undefined, rm[k], fieldType(map, k)));
      }
    }
  }
  return {
    self: l === undefined ? 'added' : r === undefined ? 'removed' : null,
    removed: b.removed,
    modified: b.modified,
    added: b.added,
  };
}

interface IndexedItems {
  order: PathElement[];
  items: Map<string, unknown[]>;
}

function indexItems(t: ListType, list: unknown[] | null): IndexedItems {
  const order: PathElement[] = [];
  const items = new Map<string, unknown[]>();
  if (!list) return { order, items };
  for (let i = 0; i < list.length; i++) {
    const pe = listItemPE(t, list[i], i);
    if (typeof pe === 'string') continue;
    const existing = items.get(pe.key);
    if (existing) existing.push(list[i]);
    else {
      items.set(pe.key, [list[i]]);
      order.push(pe);
    }
  }
  return { order, items };
}

function cmpList(t: ListType, l: unknown[] | null, r: unknown[] | null, b: CmpBuilder): void {
  const li = indexItems(t, l);
  const ri = indexItems(t, r);
  const all = [...li.order];
  for (const pe of ri.order) if (!li.items.has(pe.key)) all.push(pe);
  for (const pe of all) {
    const ls = li.items.get(pe.key) ?? [];
    const rs = ri.items.get(pe.key) ?? [];
    if (ls.length >= 2 || rs.length >= 2) {
      // Duplicated items are compared as one atomic unit.
      if (ls.length === 0) b.attach(pe, { ...CMP_NONE, self: 'added' });
      else if (rs.length === 0) b.attach(pe, { ...CMP_NONE, self: 'removed' });
      else if (!valuesEqual(ls, rs)) b.attach(pe, { ...CMP_NONE, self: 'modified' });
      continue;
    }
    b.attach(pe, cmp(ls[0], rs[0], t.item));
  }
}

// ---- validation of apply configurations ----------------------------------------------------

/** A smd validation error: a path (`.spec.x`) and a message. */
export interface ValidationError {
  path: string;
  message: string;
}

/** Renders errors as smd's ValidationErrors.Error() does. */
export function formatValidationErrors(errs: ValidationError[]): string {
  const one = (e: ValidationError) => (e.path ? `${e.path}: ${e.message}` : e.message);
  if (errs.length === 1) return one(errs[0]);
  return ['errors:', ...errs.map((e) => '  ' + one(e))].join('\n');
}

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return '[]interface {}';
  if (isPlainObject(v)) return 'map[string]interface {}';
  return String(v);
}

function goType(v: unknown): string {
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'bool';
  if (Array.isArray(v)) return '[]interface {}';
  if (isPlainObject(v)) return 'map[string]interface {}';
  return typeof v;
}

/**
 * Validates an apply configuration against the type the way smd does when it converts the
 * patch to a typed value: scalar types, undeclared fields, list item identity, and no
 * duplicate items in associative lists.
 */
export function validateValue(v: unknown, t: TypeNode, path = '', errs: ValidationError[] = []): ValidationError[] {
  if (v === undefined) return errs;
  const r = resolve(t, v);
  switch (r.kind) {
    case 'untyped':
      return errs;
    case 'scalar': {
      if (v === null) return errs;
      const ok =
        r.scalar === 'numeric'
          ? typeof v === 'number'
          : r.scalar === 'string'
            ? typeof v === 'string'
            : r.scalar === 'boolean'
              ? typeof v === 'boolean'
              : typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean';
      if (!ok) {
        const message =
          r.scalar === 'numeric'
            ? `expected numeric (int or float), got ${goType(v)}`
            : r.scalar === 'untyped'
              ? `expected any scalar, got ${describe(v)}`
              : `expected ${r.scalar}, got ${describe(v)}`;
        errs.push({ path, message });
      }
      return errs;
    }
    case 'list': {
      if (v === null) return errs;
      if (!Array.isArray(v)) {
        errs.push({ path, message: `expected list, got ${describe(v)}` });
        return errs;
      }
      const seen = new Set<string>();
      for (let i = 0; i < v.length; i++) {
        const pe = listItemPE(r, v[i], i);
        if (typeof pe === 'string') {
          errs.push({ path, message: `element ${i}: ${pe}` });
          continue;
        }
        if (!r.atomic) {
          if (seen.has(pe.key)) {
            errs.push({ path, message: `duplicate entries for key ${peToString(pe)}` });
            continue;
          }
          seen.add(pe.key);
        }
        validateValue(v[i], r.item, path + peToString(pe), errs);
      }
      return errs;
    }
    case 'map': {
      if (v === null) return errs;
      if (!isPlainObject(v)) {
        errs.push({ path, message: `expected map, got ${describe(v)}` });
        return errs;
      }
      for (const k in v) {
        if (v[k] === undefined) continue;
        const ft = r.fields.get(k) ?? r.element;
        if (!ft) {
          errs.push({ path: `${path}.${k}`, message: 'field not declared in schema' });
          continue;
        }
        validateValue(v[k], ft, `${path}.${k}`, errs);
      }
      return errs;
    }
    default:
      return errs;
  }
}

// ---- EnsureNamedFieldsAreMembers ---------------------------------------------------------------

/**
 * The set plus, for every path in it, each ancestor that is a declared struct field
 * (list items and map entries are not added).
 */
export function ensureNamedFieldsAreMembers(set: FieldSet, t: TypeNode): FieldSet {
  if (set.children.size === 0) return set;
  const out = new FieldSet();
  for (const [k, pe] of set.members) out.members.set(k, pe);
  const r = t.kind === 'deduced' ? DEDUCED_MAP : t;
  for (const [k, node] of set.children) {
    let childType: TypeNode = UNTYPED;
    if (r.kind === 'map') {
      if (node.pe.kind === 'f') {
        childType = fieldType(r, node.pe.name);
        if (r.fields.has(node.pe.name)) out.members.set(k, node.pe);
      }
    } else if (r.kind === 'list') childType = r.item;
    out.children.set(k, { pe: node.pe, set: ensureNamedFieldsAreMembers(node.set, childType) });
  }
  return out;
}
