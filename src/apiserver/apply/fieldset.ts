// Field sets (smd fieldpath.Set) and their FieldsV1 serialisation.
//
// A set holds paths; a path is a list of path elements (PE):
//   f:<name>   struct field or map key
//   k:{...}    item of a list-map, identified by its key fields (sorted by name)
//   v:<json>   item of a set list, identified by its value
//   i:<n>      list index (parsed, never produced)
// The set is stored as a trie: `members` are the paths ending at this node, `children` the
// sub-tries. Sets are immutable once built (the operations share unchanged sub-tries);
// only `insert` mutates, and only on a set its caller just created.

import { compareStrings, compareValues, goJSON, isPlainObject, valueToString } from './values.js';

export type PathElement =
  | { readonly kind: 'f'; readonly key: string; readonly name: string }
  | { readonly kind: 'k'; readonly key: string; readonly fields: readonly (readonly [string, unknown])[] }
  | { readonly kind: 'v'; readonly key: string; readonly value: unknown }
  | { readonly kind: 'i'; readonly key: string; readonly index: number };

export type Path = readonly PathElement[];

const fieldCache = new Map<string, PathElement>();

/** The PE of a struct field or map key. */
export function fieldPE(name: string): PathElement {
  let pe = fieldCache.get(name);
  if (!pe) {
    pe = { kind: 'f', key: 'f:' + name, name };
    if (fieldCache.size < 50000) fieldCache.set(name, pe);
  }
  return pe;
}

/** The PE of a list-map item; `fields` in any order (they are sorted by name here). */
export function keyPE(fields: Iterable<readonly [string, unknown]>): PathElement {
  const sorted = [...fields];
  if (sorted.length > 1) sorted.sort((a, b) => compareStrings(a[0], b[0]));
  const key = 'k:{' + sorted.map(([n, v]) => JSON.stringify(n) + ':' + goJSON(v)).join(',') + '}';
  return { kind: 'k', key, fields: sorted };
}

/** The PE of a set item. */
export function valuePE(value: unknown): PathElement {
  return { kind: 'v', key: 'v:' + goJSON(value), value };
}

export function indexPE(index: number): PathElement {
  return { kind: 'i', key: 'i:' + index, index };
}

const kindOrder = { f: 0, k: 1, v: 2, i: 3 } as const;

/** smd's PathElement order: f: < k: < v: < i:, then by name / key list / value / index. */
export function comparePE(a: PathElement, b: PathElement): number {
  if (a.kind !== b.kind) return kindOrder[a.kind] < kindOrder[b.kind] ? -1 : 1;
  switch (a.kind) {
    case 'f':
      return compareStrings(a.name, (b as typeof a).name);
    case 'k': {
      const fa = a.fields;
      const fb = (b as typeof a).fields;
      for (let i = 0; ; i++) {
        if (i >= fa.length && i >= fb.length) return 0;
        if (i >= fa.length) return -1;
        if (i >= fb.length) return 1;
        const c = compareStrings(fa[i][0], fb[i][0]);
        if (c !== 0) return c;
        const cv = compareValues(fa[i][1], fb[i][1]);
        if (cv !== 0) return cv;
      }
    }
    case 'v':
      return compareValues(a.value, (b as typeof a).value);
    case 'i': {
      const ib = (b as typeof a).index;
      return a.index < ib ? -1 : a.index > ib ? 1 : 0;
    }
  }
}

/** A PE as smd prints it in paths: `.name`, `[name="x",port=80]`, `[="v"]`, `[0]`. */
export function peToString(pe: PathElement): string {
  switch (pe.kind) {
    case 'f':
      return '.' + pe.name;
    case 'k':
      return '[' + pe.fields.map(([n, v]) => `${n}=${valueToString(v)}`).join(',') + ']';
    case 'v':
      return '[=' + valueToString(pe.value) + ']';
    case 'i':
      return `[${pe.index}]`;
  }
}

/** A path as kube prints it in conflict messages: `.spec.containers[name="nginx"].image`. */
export function pathToString(path: Path): string {
  return path.map(peToString).join('');
}

const parsed = new Map<string, PathElement>();
const MAX_PARSED = 20000;

/** Parses one FieldsV1 key. Returns null for an unknown PE type (silently dropped by kube). */
export function parsePE(s: string): PathElement | null {
  const hit = parsed.get(s);
  if (hit) return hit;
  const pe = parsePEUncached(s);
  if (pe && pe.kind !== 'f') {
    if (parsed.size >= MAX_PARSED) parsed.clear();
    parsed.set(s, pe);
  }
  return pe;
}

function parsePEUncached(s: string): PathElement | null {
  if (s.length < 2) throw new Error(`key must be 2 characters long: ${JSON.stringify(s)}`);
  if (s[1] !== ':') return null;
  const rest = s.slice(2);
  switch (s[0]) {
    case 'f':
      return fieldPE(rest);
    case 'v':
      return valuePE(JSON.parse(rest));
    case 'k': {
      const obj: unknown = JSON.parse(rest);
      if (!isPlainObject(obj))
        throw new Error(`parsing key as path element: expected an object in ${JSON.stringify(s)}`);
      return keyPE(Object.entries(obj));
    }
    case 'i': {
      if (!/^-?\d+$/.test(rest)) throw new Error(`parsing key as path element: invalid index in ${JSON.stringify(s)}`);
      return indexPE(Number(rest));
    }
    default:
      return null;
  }
}

export interface SetNode {
  readonly pe: PathElement;
  readonly set: FieldSet;
}

export class FieldSet {
  /** PEs of the paths that end at this node, by PE key. */
  readonly members = new Map<string, PathElement>();
  /** Non-empty sub-sets, by PE key. */
  readonly children = new Map<string, SetNode>();

  static readonly EMPTY: FieldSet = new FieldSet();

  static fromPaths(paths: Iterable<Path>): FieldSet {
    const s = new FieldSet();
    for (const p of paths) s.insert(p);
    return s;
  }

  isEmpty(): boolean {
    return this.members.size === 0 && this.children.size === 0;
  }

  /** Adds a path (mutates; the empty path is ignored as in smd). */
  insert(path: Path): this {
    if (path.length === 0) return this;
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    let node: FieldSet = this;
    for (let i = 0; i < path.length - 1; i++) {
      const pe = path[i];
      let child = node.children.get(pe.key);
      if (!child) {
        child = { pe, set: new FieldSet() };
        node.children.set(pe.key, child);
      }
      node = child.set;
    }
    const last = path[path.length - 1];
    node.members.set(last.key, last);
    return this;
  }

  addMember(pe: PathElement): void {
    this.members.set(pe.key, pe);
  }

  /** Attaches a sub-set (mutates; ignored when empty). */
  addChild(pe: PathElement, set: FieldSet | null | undefined): void {
    if (set && !set.isEmpty()) this.children.set(pe.key, { pe, set });
  }

  has(path: Path): boolean {
    if (path.length === 0) return false;
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    let node: FieldSet = this;
    for (let i = 0; i < path.length - 1; i++) {
      const child = node.children.get(path[i].key);
      if (!child) return false;
      node = child.set;
    }
    return node.members.has(path[path.length - 1].key);
  }

  hasMember(pe: PathElement): boolean {
    return this.members.has(pe.key);
  }

  /** The sub-set of paths under `pe` (relative to it). */
  withPrefix(pe: PathElement): FieldSet {
    return this.children.get(pe.key)?.set ?? FieldSet.EMPTY;
  }

  union(other: FieldSet): FieldSet {
    if (other.isEmpty()) return this;
    if (this.isEmpty()) return other;
    const out = new FieldSet();
    for (const [k, pe] of this.members) out.members.set(k, pe);
    for (const [k, pe] of other.members) out.members.set(k, pe);
    for (const [k, node] of this.children) {
      const o = other.children.get(k);
      out.children.set(k, o ? { pe: node.pe, set: node.set.union(o.set) } : node);
    }
    for (const [k, node] of other.children) if (!this.children.has(k)) out.children.set(k, node);
    return out;
  }

  intersection(other: FieldSet): FieldSet {
    if (this.isEmpty() || other.isEmpty()) return FieldSet.EMPTY;
    const out = new FieldSet();
    const [small, big] =
      this.members.size <= other.members.size ? [this.members, other.members] : [other.members, this.members];
    for (const [k, pe] of small) if (big.has(k)) out.members.set(k, pe);
    for (const [k, node] of this.children) {
      const o = other.children.get(k);
      if (o) out.addChild(node.pe, node.set.intersection(o.set));
    }
    return out;
  }

  /** Paths of this set that are not paths of `other` (descendants are not affected). */
  difference(other: FieldSet): FieldSet {
    if (other.isEmpty() || this.isEmpty()) return this;
    const out = new FieldSet();
    for (const [k, pe] of this.members) if (!other.members.has(k)) out.members.set(k, pe);
    for (const [k, node] of this.children) {
      const o = other.children.get(k);
      if (!o) out.children.set(k, node);
      else out.addChild(node.pe, node.set.difference(o.set));
    }
    return out;
  }

  /** Like difference, but a member of `other` also removes everything below it. */
  recursiveDifference(other: FieldSet): FieldSet {
    if (other.isEmpty() || this.isEmpty()) return this;
    const out = new FieldSet();
    for (const [k, pe] of this.members) if (!other.members.has(k)) out.members.set(k, pe);
    for (const [k, node] of this.children) {
      if (other.members.has(k)) continue;
      const o = other.children.get(k);
      if (!o) out.children.set(k, node);
      else out.addChild(node.pe, node.set.recursiveDifference(o.set));
    }
    return out;
  }

  equals(other: FieldSet): boolean {
    if (this === other) return true;
    if (this.members.size !== other.members.size || this.children.size !== other.children.size) return false;
    for (const k of this.members.keys()) if (!other.members.has(k)) return false;
    for (const [k, node] of this.children) {
      const o = other.children.get(k);
      if (!o || !node.set.equals(o.set)) return false;
    }
    return true;
  }

  /** All paths, in smd's iteration order: this node's members (sorted), then each child (sorted). */
  paths(): Path[] {
    const out: Path[] = [];
    this.collect([], out);
    return out;
  }

  private collect(prefix: PathElement[], out: Path[]): void {
    for (const pe of sortedPEs(this.members.values())) out.push([...prefix, pe]);
    for (const node of [...this.children.values()].sort((a, b) => comparePE(a.pe, b.pe))) {
      prefix.push(node.pe);
      node.set.collect(prefix, out);
      prefix.pop();
    }
  }

  /** Number of paths. */
  size(): number {
    let n = this.members.size;
    for (const node of this.children.values()) n += node.set.size();
    return n;
  }

  /** Paths rendered as strings (`.spec.replicas`), in iteration order; handy in tests and logs. */
  toStrings(): string[] {
    return this.paths().map(pathToString);
  }
}

function sortedPEs(pes: Iterable<PathElement>): PathElement[] {
  return [...pes].sort(comparePE);
}

export type FieldsV1 = Record<string, unknown>;

/** The FieldsV1 trie exactly as kube serialises it (canonical key order, `"."` first). */
export function toFieldsV1(set: FieldSet): FieldsV1 {
  return emit(set, false);
}

function emit(set: FieldSet, includeSelf: boolean): FieldsV1 {
  const out: FieldsV1 = {};
  if (includeSelf && !set.isEmpty()) out['.'] = {};
  const pes: PathElement[] = [...set.members.values()];
  for (const [k, node] of set.children) if (!set.members.has(k)) pes.push(node.pe);
  pes.sort(comparePE);
  for (const pe of pes) {
    const child = set.children.get(pe.key);
    out[pe.key] = child ? emit(child.set, set.members.has(pe.key)) : {};
  }
  return out;
}

/** The FieldsV1 text kube stores (compact JSON of `toFieldsV1`). */
export function toFieldsV1JSON(set: FieldSet): string {
  return JSON.stringify(toFieldsV1(set));
}

/**
 * Parses a FieldsV1 trie (any key order). Keys with an unknown PE type are dropped;
 * malformed keys or non-object values throw.
 */
export function fromFieldsV1(v: unknown): FieldSet {
  if (v === undefined || v === null) return new FieldSet();
  if (!isPlainObject(v)) throw new Error('FieldsV1 must be a JSON object');
  return readNode(v).set ?? new FieldSet();
}

function readNode(obj: Record<string, unknown>): { set: FieldSet | null; member: boolean } {
  let set: FieldSet | null = null;
  let member = false;
  for (const [key, value] of Object.entries(obj)) {
    if (key === '.') {
      member = true;
      continue;
    }
    let pe: PathElement | null;
    try {
      pe = parsePE(key);
    } catch (err) {
      throw new Error(`parsing key as path element: ${(err as Error).message}`);
    }
    if (!pe) continue;
    if (!isPlainObject(value)) throw new Error(`expected an object for ${JSON.stringify(key)}`);
    const child = readNode(value);
    if (child.member) (set ??= new FieldSet()).addMember(pe);
    if (child.set && !child.set.isEmpty()) (set ??= new FieldSet()).addChild(pe, child.set);
  }
  if (set === null) member = true;
  return { set, member };
}
