// Behavioural tests of server-side apply and managedFields tracking.
// "spec cases" implements T1–T40 of /work/shared/reference/server-side-apply.md §4 one to one
// (test names start with the case number). The smd cases (T1–T30) put the case's schema at the
// root of the object; apiVersion/kind/metadata.name are never tracked, so the expected field
// sets are exactly the spec's. Notation: A(m) = applyPatch by m, F(m) = forced, U(m) X = a
// non-apply write whose resulting object is X (updateManagedFields).

import type { JSONSchema } from '../../machinery/definition.js';
import type { ManagedFieldsEntry } from '../../machinery/meta.js';
import type { KubeObject } from '../../machinery/object.js';
import { StatusError } from '../../machinery/errors.js';
import { applyJSONPatch, parseJSONPatch } from '../patch/json-patch.js';
import { applyMergePatch } from '../patch/merge-patch.js';
import { applyPatch, decodeApplyBody, updateManagedFields, validatePatchOptions } from './apply.js';
import { benchApply } from '../../../bench/micro/apply.js';
import { FieldSet, fieldPE } from './fieldset.js';
import {
  capUpdateManagers,
  decodeManagedFields,
  encodeManagedFields,
  findFieldsOwners,
  LAST_APPLIED_ANNOTATION,
  LAST_APPLIED_PATH,
  managerFromUserAgent,
  upgradeManagedFields,
  validateManagedFieldsEntries,
} from './managed-fields.js';
import { cloneValue } from './values.js';

type Obj = Record<string, unknown>;

// ---- harness ------------------------------------------------------------------------------

interface SimOptions {
  apiVersion?: string;
  kind?: string;
  statusSubresource?: boolean;
  /** Clock offset in seconds. */
  startAt?: number;
}

const T0 = Date.UTC(2026, 0, 2, 3, 4, 5);
/** The timestamp of the n-th operation of a Sim (each operation is one second later). */
const at = (n: number) => new Date(T0 + n * 1000).toISOString().replace('.000Z', 'Z');

/** A tiny registry: one object, a clock, apply and non-apply writes. */
class Sim {
  obj: KubeObject | undefined;
  private clock = 0;
  readonly apiVersion: string;
  readonly kind: string;

  constructor(
    readonly schema: JSONSchema,
    readonly opts: SimOptions = {},
  ) {
    this.apiVersion = opts.apiVersion ?? 'test.upm.io/v1';
    this.kind = opts.kind ?? 'Thing';
    this.clock = opts.startAt ?? 0;
  }

  private tick(): Date {
    return new Date(T0 + this.clock++ * 1000);
  }

  private store(o: KubeObject): KubeObject {
    if (!this.obj) o.metadata.uid = 'uid-1'; // what the registry's create adds
    this.obj = o;
    return o;
  }

  /** A(m) / F(m): apply a configuration with this content (name/namespace added). */
  apply(manager: string, content: Obj, opts: { force?: boolean; subresource?: 'status' } = {}): KubeObject {
    const { metadata, ...rest } = content;
    const applied = {
      apiVersion: this.apiVersion,
      kind: this.kind,
      metadata: { name: 'x', namespace: 'ns', ...(metadata as Obj) },
      ...rest,
    };
    const now = this.tick();
    return this.store(
      applyPatch({
        live: this.obj,
        applied,
        manager,
        force: opts.force,
        schema: this.schema,
        apiVersion: this.apiVersion,
        kind: this.kind,
        subresource: opts.subresource,
        statusSubresource: this.opts.statusSubresource,
        name: 'x',
        namespace: 'ns',
        now,
      }),
    );
  }

  /** U(m) X: a write whose resulting object has exactly this content (metadata merged over live's). */
  update(manager: string, content: Obj, opts: { managedFields?: unknown; subresource?: string } = {}): KubeObject {
    const { metadata, ...rest } = content;
    const liveMeta = this.obj ? cloneValue(this.obj.metadata) : { name: 'x', namespace: 'ns' };
    const updated = {
      apiVersion: this.apiVersion,
      kind: this.kind,
      metadata: { ...liveMeta, ...(metadata as Obj) },
      ...rest,
    } as KubeObject;
    if ('managedFields' in opts) (updated.metadata as Obj).managedFields = opts.managedFields;
    return this.write(manager, updated, opts.subresource);
  }

  /** A JSON merge patch by `manager`. */
  mergePatch(manager: string, patch: Obj, subresource?: string): KubeObject {
    return this.write(manager, applyMergePatch(this.obj, patch) as KubeObject, subresource);
  }

  /** A JSON patch by `manager`. */
  jsonPatch(manager: string, ops: unknown): KubeObject {
    return this.write(manager, applyJSONPatch(this.obj, parseJSONPatch(ops)) as KubeObject);
  }

  write(manager: string, updated: KubeObject, subresource?: string): KubeObject {
    return this.store(
      updateManagedFields({
        old: this.obj,
        updated,
        manager,
        apiVersion: this.apiVersion,
        schema: this.schema,
        subresource,
        statusSubresource: this.opts.statusSubresource,
        now: this.tick(),
      }),
    );
  }

  /** The object without apiVersion, kind and metadata. */
  content(): Obj {
    const { apiVersion: _a, kind: _k, metadata: _m, ...rest } = this.obj as Obj;
    return rest;
  }

  entries(): ManagedFieldsEntry[] | undefined {
    return this.obj?.metadata.managedFields;
  }

  /** Field sets by manager (`name`, or `name/Operation[/subresource]` when a name is used twice), as JSON text. */
  managed(): Record<string, string> {
    const entries = this.entries() ?? [];
    const out: Record<string, string> = {};
    for (const e of entries) {
      const clash = entries.filter((x) => x.manager === e.manager).length > 1;
      const key = clash ? [e.manager, e.operation, e.subresource].filter(Boolean).join('/') : e.manager!;
      out[key] = JSON.stringify(e.fieldsV1);
    }
    return out;
  }
}

/** Expects exactly these managers with exactly these FieldsV1 (key order included). */
function expectManaged(sim: Sim, expected: Record<string, Obj>): void {
  const want: Record<string, string> = {};
  for (const [k, v] of Object.entries(expected)) want[k] = JSON.stringify(v);
  expect(sim.managed()).toEqual(want);
}

function catchError(fn: () => unknown): StatusError {
  try {
    fn();
  } catch (err) {
    if (err instanceof StatusError) return err;
    throw err;
  }
  throw new Error('expected a StatusError');
}

/** Expects a 409 apply conflict with this message and these cause fields; the object must not change. */
function expectConflict(sim: Sim, fn: () => unknown, message: string, fields: string[]): StatusError {
  const before = cloneValue(sim.obj);
  const err = catchError(fn);
  expect(err.code).toBe(409);
  expect(err.reason).toBe('Conflict');
  expect(err.message).toBe(message);
  expect(err.details?.causes?.map((c) => c.field)).toEqual(fields);
  expect(err.details?.causes?.every((c) => c.reason === 'FieldManagerConflict')).toBe(true);
  expect(err.toStatus()).toMatchObject({ kind: 'Status', status: 'Failure', code: 409, reason: 'Conflict' });
  expect(sim.obj).toEqual(before);
  return err;
}

// FieldsV1 notation helpers: K({name:'a'}) is the key of a list-map item, V('a') of a set item.
const K = (fields: Obj) => 'k:' + JSON.stringify(fields);
const V = (v: unknown) => 'v:' + JSON.stringify(v);
const DOT = { '.': {} };

// ---- schemas of the smd cases (§4) ----------------------------------------------------------

const str: JSONSchema = { type: 'string' };
const num: JSONSchema = { type: 'number' };
const setOf = (items: JSONSchema): JSONSchema => ({ type: 'array', 'x-kubernetes-list-type': 'set', items });
const mapList = (keys: string[], properties: Record<string, JSONSchema>): JSONSchema => ({
  type: 'array',
  'x-kubernetes-list-type': 'map',
  'x-kubernetes-list-map-keys': keys,
  items: { type: 'object', properties },
});

const Leaf: JSONSchema = { type: 'object', properties: { numeric: num, string: str, bool: { type: 'boolean' } } };
const SetS: JSONSchema = { type: 'object', properties: { list: setOf(str) } };
const LMap: JSONSchema = { type: 'object', properties: { list: mapList(['name'], { name: str, value: num }) } };
const Ports: JSONSchema = {
  type: 'object',
  properties: {
    containerPorts: mapList(['port', 'protocol'], {
      port: { type: 'integer' },
      protocol: { type: 'string', default: 'TCP' },
      name: str,
    }),
  },
};
const Nested: JSONSchema = {
  type: 'object',
  properties: {
    listOfLists: mapList(['name'], { name: str, value: setOf(str) }),
    mapOfMaps: { type: 'object', additionalProperties: { type: 'object', additionalProperties: str } },
    struct: { type: 'object', properties: { name: str, value: num } },
  },
};
const St2: JSONSchema = {
  type: 'object',
  properties: {
    struct: {
      type: 'object',
      properties: { name: str, scalarField: str, complexField: { type: 'object', properties: { name: str } } },
    },
  },
};
const Atom: JSONSchema = {
  type: 'object',
  properties: {
    struct: { type: 'object', 'x-kubernetes-map-type': 'atomic', properties: { numeric: num, string: str } },
  },
};
const Dup: JSONSchema = { type: 'object', properties: { set: setOf(num) } };
const Ded: JSONSchema = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };

// ---- a Deployment-like kind for the kube-level cases -----------------------------------------

const Deploy: JSONSchema = {
  type: 'object',
  properties: {
    spec: {
      type: 'object',
      properties: {
        replicas: { type: 'integer' },
        paused: { type: 'boolean' },
        // atomic map (structType=atomic)
        selector: {
          type: 'object',
          'x-kubernetes-map-type': 'atomic',
          properties: { matchLabels: { type: 'object', additionalProperties: str } },
        },
        // granular map
        nodeSelector: { type: 'object', additionalProperties: str },
        // atomic list
        args: { type: 'array', items: str },
        // set
        finalizers: setOf(str),
        // map list keyed by name
        containers: mapList(['name'], {
          name: str,
          image: str,
          command: { type: 'array', items: str },
          env: mapList(['name'], { name: str, value: str }),
          ports: mapList(['containerPort', 'protocol'], {
            containerPort: { type: 'integer' },
            protocol: { type: 'string', default: 'TCP' },
            name: str,
          }),
        }),
      },
    },
    status: {
      type: 'object',
      properties: {
        replicas: { type: 'integer' },
        phase: str,
        conditions: mapList(['type'], { type: str, status: str }),
      },
    },
  },
};
const ConfigMap: JSONSchema = { type: 'object', properties: { data: { type: 'object', additionalProperties: str } } };

// ---- T1–T40 ---------------------------------------------------------------------------------

describe('spec cases (server-side-apply.md §4)', () => {
  // T1
  test('T1 leaf apply twice (leaf_test apply_twice)', () => {
    const sim = new Sim(Leaf);
    sim.apply('d', { numeric: 1, string: 's' });
    sim.apply('d', { numeric: 2, string: 's', bool: false });
    expect(sim.content()).toEqual({ numeric: 2, string: 's', bool: false });
    expectManaged(sim, { d: { 'f:bool': {}, 'f:numeric': {}, 'f:string': {} } });
  });

  // T2
  test('T2 update adds a field, no conflict (leaf_test apply_update_apply_no_conflict)', () => {
    const sim = new Sim(Leaf);
    sim.apply('d', { numeric: 1, string: 's' });
    sim.update('c', { numeric: 1, string: 's', bool: true });
    sim.apply('d', { numeric: 2, string: 's' });
    expect(sim.content()).toEqual({ numeric: 2, string: 's', bool: true });
    expectManaged(sim, { d: { 'f:numeric': {}, 'f:string': {} }, c: { 'f:bool': {} } });
  });

  // T3
  test('T3 update takes a field; apply conflicts; force wins (leaf_test apply_update_apply_with_conflict)', () => {
    const sim = new Sim(Leaf);
    sim.apply('d', { numeric: 1, string: 's' });
    sim.update('c', { numeric: 1, string: 'cs', bool: true });
    expectManaged(sim, { d: { 'f:numeric': {} }, c: { 'f:bool': {}, 'f:string': {} } });
    expectConflict(
      sim,
      () => sim.apply('d', { numeric: 2, string: 'us' }),
      'Apply failed with 1 conflict: conflict with "c" using test.upm.io/v1: .string',
      ['.string'],
    );
    sim.apply('d', { numeric: 2, string: 'us' }, { force: true });
    expect(sim.content()).toEqual({ numeric: 2, string: 'us', bool: true });
    expectManaged(sim, { d: { 'f:numeric': {}, 'f:string': {} }, c: { 'f:bool': {} } });
  });

  // T4
  test('T4 stop applying a field removes it (leaf_test apply_twice_remove)', () => {
    const sim = new Sim(Leaf);
    sim.apply('d', { numeric: 1, string: 's', bool: false });
    sim.apply('d', { string: 'new' });
    expect(sim.content()).toEqual({ string: 'new' });
    expectManaged(sim, { d: { 'f:string': {} } });
  });

  // T5
  test('T5 no prune without a previous Apply set (leaf_test update_apply_omits)', () => {
    const sim = new Sim(Leaf);
    sim.apply('d', { numeric: 2 });
    sim.update('c', { numeric: 1 });
    expectManaged(sim, { c: { 'f:numeric': {} } }); // d emptied, entry deleted
    sim.apply('d', {});
    expect(sim.content()).toEqual({ numeric: 1 });
    expectManaged(sim, { c: { 'f:numeric': {} } });
  });

  // T6
  test('T6 an empty apply removes everything the manager alone owned (leaf_test apply_remove_empty_set)', () => {
    const sim = new Sim(Leaf);
    sim.apply('d', { string: 's' });
    sim.apply('d', {});
    expect(sim.content()).toEqual({});
    expect(sim.obj!.metadata).not.toHaveProperty('managedFields');
  });

  // T7
  test('T7 ignored (reset) fields are not owned: status on the main resource (ignore_test apply_does_not_own_ignored)', () => {
    const schema: JSONSchema = { type: 'object', properties: { spec: Leaf, status: Leaf } };
    const sim = new Sim(schema, { statusSubresource: true });
    sim.apply('d', { spec: { numeric: 1 }, status: { string: 'x' } });
    // CRD strategy: the main resource keeps the stored status (none); d owns only what it may set
    expect(sim.content()).toEqual({ spec: { numeric: 1 } });
    expectManaged(sim, { d: { 'f:spec': { 'f:numeric': {} } } });
    // …and /status owns only status, with its own entry; spec sent there is ignored
    sim.apply('s', { spec: { numeric: 9 }, status: { string: 'x' } }, { subresource: 'status' });
    expect(sim.content()).toEqual({ spec: { numeric: 1 }, status: { string: 'x' } });
    expect(sim.entries()!.map((e) => [e.manager, e.subresource])).toEqual([
      ['d', undefined],
      ['s', 'status'],
    ]);
    expectManaged(sim, { d: { 'f:spec': { 'f:numeric': {} } }, s: { 'f:status': { 'f:string': {} } } });
    // without a status subresource, status is an ordinary field (smd behaviour without ignore)
    const plain = new Sim(schema);
    plain.apply('d', { spec: { numeric: 1 }, status: { string: 'x' } });
    expect(plain.content()).toEqual({ spec: { numeric: 1 }, status: { string: 'x' } });
    expectManaged(plain, { d: { 'f:spec': { 'f:numeric': {} }, 'f:status': { 'f:string': {} } } });
  });

  // T8
  test('T8 set: disjoint items keep their order (set_test apply_update_apply_no_overlap)', () => {
    const sim = new Sim(SetS);
    sim.apply('d', { list: ['a', 'c'] });
    sim.update('c', { list: ['a', 'b', 'c', 'd'] });
    sim.apply('d', { list: ['a', 'aprime', 'c', 'cprime'] });
    expect(sim.content()).toEqual({ list: ['a', 'b', 'aprime', 'c', 'd', 'cprime'] });
    expectManaged(sim, {
      d: { 'f:list': { [V('a')]: {}, [V('aprime')]: {}, [V('c')]: {}, [V('cprime')]: {} } },
      c: { 'f:list': { [V('b')]: {}, [V('d')]: {} } },
    });
  });

  // T9
  test('T9 set: the same item is shared ownership (set_test apply_update_apply_with_overlap)', () => {
    const sim = new Sim(SetS);
    sim.apply('d', { list: ['a', 'c'] });
    sim.update('c', { list: ['a', 'b', 'c', 'd'] });
    sim.apply('d', { list: ['a', 'b', 'c'] });
    expect(sim.content()).toEqual({ list: ['a', 'b', 'c', 'd'] });
    expectManaged(sim, {
      d: { 'f:list': { [V('a')]: {}, [V('b')]: {}, [V('c')]: {} } },
      c: { 'f:list': { [V('b')]: {}, [V('d')]: {} } },
    });
  });

  // T10
  test('T10 reordering is not a change (set_test apply_update_apply_reorder)', () => {
    const sim = new Sim(SetS);
    sim.apply('d', { list: ['a', 'b', 'c', 'd'] });
    sim.update('c', { list: ['a', 'd', 'c', 'b'] });
    expect(Object.keys(sim.managed())).toEqual(['d']); // c gets no entry
    sim.apply('d', { list: ['a', 'b', 'c', 'd'] });
    expect(sim.content()).toEqual({ list: ['a', 'b', 'c', 'd'] });
    expectManaged(sim, { d: { 'f:list': { [V('a')]: {}, [V('b')]: {}, [V('c')]: {}, [V('d')]: {} } } });
  });

  // T11
  test('T11 set item removal (set_test apply_twice_remove)', () => {
    const sim = new Sim(SetS);
    sim.apply('d', { list: ['a', 'b', 'c', 'd'] });
    sim.apply('d', { list: ['a', 'c'] });
    expect(sim.content()).toEqual({ list: ['a', 'c'] });
    expectManaged(sim, { d: { 'f:list': { [V('a')]: {}, [V('c')]: {} } } });
  });

  // T12
  test('T12 map-list with two appliers, one drops items (multiple_appliers_test remove_one)', () => {
    const sim = new Sim(LMap);
    sim.apply('one', { list: [{ name: 'a' }, { name: 'b' }] });
    sim.apply('two', { list: [{ name: 'c' }] });
    expect(sim.content()).toEqual({ list: [{ name: 'a' }, { name: 'b' }, { name: 'c' }] });
    sim.apply('one', { list: [{ name: 'a' }] });
    expect(sim.content()).toEqual({ list: [{ name: 'a' }, { name: 'c' }] });
    expectManaged(sim, {
      one: { 'f:list': { [K({ name: 'a' })]: { ...DOT, 'f:name': {} } } },
      two: { 'f:list': { [K({ name: 'c' })]: { ...DOT, 'f:name': {} } } },
    });
  });

  // T13
  test('T13 same value, two appliers, no conflict (multiple_appliers_test same_value_no_conflict)', () => {
    const sim = new Sim(LMap);
    sim.apply('one', { list: [{ name: 'a', value: 0 }] });
    sim.apply('two', { list: [{ name: 'a', value: 0 }] });
    const set = { 'f:list': { [K({ name: 'a' })]: { ...DOT, 'f:name': {}, 'f:value': {} } } };
    expectManaged(sim, { one: set, two: set });
  });

  // T14
  test('T14 apply vs apply conflict (multiple_appliers_test change_value_yes_conflict)', () => {
    const sim = new Sim(LMap);
    sim.apply('one', { list: [{ name: 'a', value: 0 }] });
    expectConflict(
      sim,
      () => sim.apply('two', { list: [{ name: 'a', value: 1 }] }),
      'Apply failed with 1 conflict: conflict with "one": .list[name="a"].value',
      ['.list[name="a"].value'],
    );
    expect(Object.keys(sim.managed())).toEqual(['one']); // two has no entry
  });

  // T15
  test('T15 a key change replaces the item (key_test removing_obsolete_applied_structs)', () => {
    const sim = new Sim(LMap);
    sim.apply('d', { list: [{ name: 'a', value: 1 }] });
    sim.apply('d', { list: [{ name: 'b', value: 2 }] });
    expect(sim.content()).toEqual({ list: [{ name: 'b', value: 2 }] });
    expectManaged(sim, { d: { 'f:list': { [K({ name: 'b' })]: { ...DOT, 'f:name': {}, 'f:value': {} } } } });
  });

  // T16
  test('T16 multi-key items with a defaulted key (default_keys_test apply_missing_defaulted_key_B)', () => {
    const sim = new Sim(Ports);
    sim.apply('d', { containerPorts: [{ port: 80 }, { port: 80, protocol: 'UDP' }] });
    expect(sim.content()).toEqual({ containerPorts: [{ port: 80 }, { port: 80, protocol: 'UDP' }] }); // defaulting comes later
    expectManaged(sim, {
      d: {
        'f:containerPorts': {
          [K({ port: 80, protocol: 'TCP' })]: { ...DOT, 'f:port': {} },
          [K({ port: 80, protocol: 'UDP' })]: { ...DOT, 'f:port': {}, 'f:protocol': {} },
        },
      },
    });
  });

  // T17
  test('T17 a defaulted key collides with an explicit key (default_keys_test apply_missing_defaulted_key_with_conflict)', () => {
    const sim = new Sim(Ports);
    sim.apply('one', { containerPorts: [{ port: 80, protocol: 'TCP', name: 'foo' }] });
    expectConflict(
      sim,
      () => sim.apply('two', { containerPorts: [{ port: 80, name: 'bar' }] }),
      'Apply failed with 1 conflict: conflict with "one": .containerPorts[port=80,protocol="TCP"].name',
      ['.containerPorts[port=80,protocol="TCP"].name'],
    );
    expectManaged(sim, {
      one: {
        'f:containerPorts': {
          [K({ port: 80, protocol: 'TCP' })]: { ...DOT, 'f:name': {}, 'f:port': {}, 'f:protocol': {} },
        },
      },
    });
  });

  // T18
  test('T18 ambiguous keys are rejected (TestDefaultKeysFlatErrors)', () => {
    for (const ports of [
      [{ port: 80 }, { port: 80 }],
      [{ port: 80 }, { port: 80, protocol: 'TCP' }],
    ]) {
      const sim = new Sim(Ports);
      const err = catchError(() => sim.apply('d', { containerPorts: ports }));
      expect(err.code).toBe(400);
      expect(err.message).toBe(
        'failed to create typed patch object (ns/x; test.upm.io/v1, Kind=Thing): .containerPorts: duplicate entries for key [port=80,protocol="TCP"]',
      );
      expect(sim.obj).toBeUndefined(); // nothing written
    }
  });

  // T19
  test('T19 an item is removed although another manager owns a field inside it (remove_one_with_dangling_subitem_keep_one)', () => {
    const sim = new Sim(Nested);
    sim.apply('one', { listOfLists: [{ name: 'a' }, { name: 'b', value: ['c'] }] });
    sim.apply('two', { listOfLists: [{ name: 'a', value: ['b'] }] });
    sim.update('ctl', {
      listOfLists: [
        { name: 'a', value: ['b'] },
        { name: 'b', value: ['c', 'd'] },
      ],
    });
    expectManaged(sim, {
      one: {
        'f:listOfLists': {
          [K({ name: 'a' })]: { ...DOT, 'f:name': {} },
          [K({ name: 'b' })]: { ...DOT, 'f:name': {}, 'f:value': { [V('c')]: {} } },
        },
      },
      two: { 'f:listOfLists': { [K({ name: 'a' })]: { ...DOT, 'f:name': {}, 'f:value': { [V('b')]: {} } } } },
      ctl: { 'f:listOfLists': { [K({ name: 'b' })]: { 'f:value': { [V('d')]: {} } } } },
    });
    sim.apply('one', { listOfLists: [{ name: 'a' }] });
    expect(sim.content()).toEqual({ listOfLists: [{ name: 'a', value: ['b'] }] });
    expectManaged(sim, {
      one: { 'f:listOfLists': { [K({ name: 'a' })]: { ...DOT, 'f:name': {} } } },
      two: { 'f:listOfLists': { [K({ name: 'a' })]: { ...DOT, 'f:name': {}, 'f:value': { [V('b')]: {} } } } },
    }); // ctl entry gone
  });

  // T20
  test('T20 an item is kept when its item path is co-owned (remove_one_keep_one_with_dangling_subitem)', () => {
    const sim = new Sim(Nested);
    sim.apply('one', { listOfLists: [{ name: 'a' }, { name: 'b', value: ['c'] }] });
    sim.apply('two', { listOfLists: [{ name: 'b', value: ['d'] }] });
    sim.update('ctl', { listOfLists: [{ name: 'a' }, { name: 'b', value: ['c', 'd', 'e'] }] });
    sim.apply('one', { listOfLists: [{ name: 'a' }] });
    expect(sim.content()).toEqual({ listOfLists: [{ name: 'a' }, { name: 'b', value: ['d', 'e'] }] });
    expectManaged(sim, {
      one: { 'f:listOfLists': { [K({ name: 'a' })]: { ...DOT, 'f:name': {} } } },
      two: { 'f:listOfLists': { [K({ name: 'b' })]: { ...DOT, 'f:name': {}, 'f:value': { [V('d')]: {} } } } },
      ctl: { 'f:listOfLists': { [K({ name: 'b' })]: { 'f:value': { [V('e')]: {} } } } },
    });
  });

  // T21
  test('T21 granular map entries are members (nested_test mapOfMaps_change_key_and_value)', () => {
    const sim = new Sim(Nested);
    sim.apply('d', { mapOfMaps: { a: { b: 'x', c: 'y' } } });
    expectManaged(sim, { d: { 'f:mapOfMaps': { 'f:a': { ...DOT, 'f:b': {}, 'f:c': {} } } } });
    sim.apply('d', { mapOfMaps: { b: { a: 'x', c: 'z' } } });
    expect(sim.content()).toEqual({ mapOfMaps: { b: { a: 'x', c: 'z' } } });
    expectManaged(sim, { d: { 'f:mapOfMaps': { 'f:b': { ...DOT, 'f:a': {}, 'f:c': {} } } } });
  });

  // T22
  test('T22 a struct stays because another applier owns a child (multiple_appliers_test unset_complex_shared_with_applier)', () => {
    const sim = new Sim(St2);
    sim.apply('one', { struct: { name: 'a', complexField: { name: 'b' } } });
    sim.apply('two', { struct: { complexField: { name: 'b' } } });
    const before = sim.content();
    sim.apply('one', { struct: { name: 'a' } });
    expect(sim.content()).toEqual(before);
    expectManaged(sim, {
      one: { 'f:struct': { 'f:name': {} } },
      two: { 'f:struct': { 'f:complexField': { 'f:name': {} } } },
    });
  });

  // T23
  test('T23 an Update-created struct gets "."; a co-owning applier lets go (unset_scalar_shared_with_updater)', () => {
    const sim = new Sim(St2);
    sim.update('upd', { struct: { name: 'a', scalarField: 'a' } });
    const upd = { 'f:struct': { ...DOT, 'f:name': {}, 'f:scalarField': {} } };
    expectManaged(sim, { upd });
    sim.apply('app', { struct: { name: 'a', scalarField: 'a' } }); // same values: no conflict
    sim.apply('app', { struct: { name: 'a' } });
    expect(sim.content()).toEqual({ struct: { name: 'a', scalarField: 'a' } });
    expectManaged(sim, { app: { 'f:struct': { 'f:name': {} } }, upd });
  });

  // T24
  test('T24 an Update takes a field without conflict (updater_claims_field)', () => {
    const sim = new Sim(St2);
    sim.apply('app', { struct: { name: 'a', scalarField: 'a' } });
    sim.update('upd', { struct: { name: 'a', scalarField: 'b' } });
    expect(sim.content()).toEqual({ struct: { name: 'a', scalarField: 'b' } });
    expectManaged(sim, { app: { 'f:struct': { 'f:name': {} } }, upd: { 'f:struct': { 'f:scalarField': {} } } });
  });

  // T25
  test('T25 an atomic struct is one field (schema_change_test to-atomic)', () => {
    const sim = new Sim(Atom);
    sim.apply('one', { struct: { numeric: 1, string: 'a' } });
    expectManaged(sim, { one: { 'f:struct': {} } });
    expectConflict(
      sim,
      () => sim.apply('two', { struct: { string: 'b' } }),
      'Apply failed with 1 conflict: conflict with "one": .struct',
      ['.struct'],
    );
    sim.apply('two', { struct: { string: 'b' } }, { force: true });
    expect(sim.content()).toEqual({ struct: { string: 'b' } }); // replaced whole
    expectManaged(sim, { two: { 'f:struct': {} } });
  });

  // T26
  test('T26 deduced lists are atomic (deduced_test apply_update_apply_list)', () => {
    const sim = new Sim(Ded);
    sim.apply('d', { list: ['a', 'c'] });
    sim.update('c', { list: ['a', 'b', 'c', 'd'] });
    expectManaged(sim, { c: { 'f:list': {} } }); // d deleted
    expectConflict(
      sim,
      () => sim.apply('d', { list: ['a', 'b', 'c'] }),
      'Apply failed with 1 conflict: conflict with "c" using test.upm.io/v1: .list',
      ['.list'],
    );
    sim.apply('d', { list: ['a', 'b', 'c'] }, { force: true });
    expect(sim.content()).toEqual({ list: ['a', 'b', 'c'] });
    expectManaged(sim, { d: { 'f:list': {} } });
  });

  // T27
  test('T27 explicit null (nested_test struct_apply_remove_dangling)', () => {
    // smd level (a nullable field keeps the null): {struct: null}, d owns f:struct
    const nullable: JSONSchema = {
      type: 'object',
      properties: { struct: { ...(Nested.properties!.struct as JSONSchema), nullable: true } },
    };
    const smd = new Sim(nullable);
    smd.apply('d', { struct: { name: 'a' } });
    smd.apply('d', { struct: null });
    expect(smd.content()).toEqual({ struct: null });
    expectManaged(smd, { d: { 'f:struct': {} } });
    // kube/CRD: the null of a non-nullable field is pruned afterwards; d still owns f:struct
    const sim = new Sim(Nested);
    sim.apply('d', { struct: { name: 'a' } });
    sim.apply('d', { struct: null });
    expect(sim.content()).toEqual({});
    expectManaged(sim, { d: { 'f:struct': {} } });
  });

  // T28
  test.each([null, {}])(
    'T28 null/{} keeps co-owned children (struct_apply_update_dict_null / _dict_dangling): %j',
    (value) => {
      const sim = new Sim(Nested);
      sim.apply('d', { struct: { name: 'a' } });
      sim.update('c', { struct: { name: 'a', value: 1 } });
      sim.apply('d', { struct: value });
      expect(sim.content()).toEqual({ struct: { value: 1 } });
      expectManaged(sim, { d: { 'f:struct': {} }, c: { 'f:struct': { 'f:value': {} } } });
    },
  );

  // T29
  test('T29 duplicates in live: conflict, then collapse (duplicates_test sets/merging/remove_duplicate)', () => {
    const sim = new Sim(Dup);
    sim.update('u', { set: [1, 1, 3, 4] });
    expectManaged(sim, { u: { 'f:set': { ...DOT, [V(1)]: {}, [V(3)]: {}, [V(4)]: {} } } });
    expectConflict(
      sim,
      () => sim.apply('a', { set: [1] }),
      'Apply failed with 1 conflict: conflict with "u" using test.upm.io/v1: .set[=1]',
      ['.set[=1]'],
    );
    sim.apply('a', { set: [1] }, { force: true });
    expect(sim.content()).toEqual({ set: [1, 3, 4] });
    expectManaged(sim, { a: { 'f:set': { [V(1)]: {} } }, u: { 'f:set': { ...DOT, [V(3)]: {}, [V(4)]: {} } } });
  });

  // T30
  test('T30 untouched duplicates survive (duplicates_test sets/merging/ignore_duplicate)', () => {
    const sim = new Sim(Dup);
    sim.update('u', { set: [1, 1, 3, 4] });
    sim.apply('a', { set: [5] });
    expect(sim.content()).toEqual({ set: [1, 1, 3, 4, 5] });
    expectManaged(sim, {
      a: { 'f:set': { [V(5)]: {} } },
      u: { 'f:set': { ...DOT, [V(1)]: {}, [V(3)]: {}, [V(4)]: {} } },
    });
  });

  // T31
  test('T31 an Update takes a field from an applier; an empty apply leaves no entry (TestApplyManagedFields, TestApplyRemovesEmptyManagedFields)', () => {
    const sim = new Sim(ConfigMap, { apiVersion: 'v1', kind: 'ConfigMap' });
    sim.apply('apply_test', { metadata: { labels: { 'test-label': 'test' } }, data: { key: 'value' } }); // T0
    sim.mergePatch('updater', { data: { 'new-key': 'value' } }); // T0+1
    sim.mergePatch('updater', { data: { key: 'new value' } }); // T0+2
    expect(JSON.stringify(sim.entries())).toBe(
      JSON.stringify([
        {
          manager: 'apply_test',
          operation: 'Apply',
          apiVersion: 'v1',
          time: at(0),
          fieldsType: 'FieldsV1',
          fieldsV1: { 'f:metadata': { 'f:labels': { 'f:test-label': {} } } },
        },
        {
          manager: 'updater',
          operation: 'Update',
          apiVersion: 'v1',
          time: at(2),
          fieldsType: 'FieldsV1',
          fieldsV1: { 'f:data': { 'f:key': {}, 'f:new-key': {} } },
        },
      ]),
    );
    // an apply of only apiVersion/kind/name/namespace, twice: no managedFields at all
    const empty = new Sim(ConfigMap, { apiVersion: 'v1', kind: 'ConfigMap' });
    empty.apply('apply_test', {});
    empty.apply('apply_test', {});
    expect(empty.obj!.metadata.managedFields).toBeUndefined();
    expect(empty.obj).toEqual({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'x', namespace: 'ns', uid: 'uid-1' },
    });
  });

  // T32
  test('T32 Update then conflicting Apply; force (TestUpdateApplyConflict, TestApplyUpdateApplyConflictForced)', () => {
    const sim = new Sim(Deploy, { apiVersion: 'apps/v1', kind: 'Deployment' });
    sim.update('fieldmanager_test', { spec: { replicas: 3 } }); // create
    const err = expectConflict(
      sim,
      () => sim.apply('fieldmanager_conflict', { spec: { replicas: 101 } }),
      'Apply failed with 1 conflict: conflict with "fieldmanager_test" using apps/v1: .spec.replicas',
      ['.spec.replicas'],
    );
    expect(err.details).toEqual({
      causes: [
        {
          reason: 'FieldManagerConflict',
          message: 'conflict with "fieldmanager_test" using apps/v1',
          field: '.spec.replicas',
        },
      ],
    });

    const sim2 = new Sim(Deploy, { apiVersion: 'apps/v1', kind: 'Deployment' });
    sim2.apply('applier', { spec: { replicas: 3, paused: false } });
    sim2.mergePatch('kubectl-edit', { spec: { replicas: 5 } });
    expectConflict(
      sim2,
      () => sim2.apply('applier', { spec: { replicas: 3, paused: false } }),
      'Apply failed with 1 conflict: conflict with "kubectl-edit" using apps/v1: .spec.replicas',
      ['.spec.replicas'],
    );
    sim2.apply('applier', { spec: { replicas: 3, paused: false } }, { force: true });
    expect(sim2.content()).toEqual({ spec: { replicas: 3, paused: false } });
    expectManaged(sim2, { applier: { 'f:spec': { 'f:paused': {}, 'f:replicas': {} } } });
  });

  // T33
  test('T33 before-first-apply (TestNoTrackManagedFieldsForClientSideApply)', () => {
    const sim = new Sim(Deploy, { apiVersion: 'apps/v1', kind: 'Deployment' });
    const spec = { replicas: 1, containers: [{ name: 'c', image: 'i' }] };
    sim.update('creator', { spec });
    expect(sim.entries()).toHaveLength(1);
    sim.update('editor', { spec }, { managedFields: [] }); // PUT with managedFields: []
    expect(sim.entries()).toBeUndefined();
    sim.update('editor', { spec: { ...spec, paused: true } });
    expect(sim.entries()).toBeUndefined(); // further updates are not tracked
    const before = cloneValue(sim.obj);

    sim.apply('x', { spec: { containers: [{ name: 'c', image: 'i' }] } });
    const item = { [K({ name: 'c' })]: { ...DOT, 'f:image': {}, 'f:name': {} } };
    expect(sim.entries()!.map((e) => [e.manager, e.operation, e.time])).toEqual([
      ['x', 'Apply', undefined], // identical values: no time
      ['before-first-apply', 'Update', at(3)],
    ]);
    expectManaged(sim, {
      x: { 'f:spec': { 'f:containers': item } },
      'before-first-apply': {
        'f:spec': { ...DOT, 'f:containers': { ...DOT, ...item }, 'f:paused': {}, 'f:replicas': {} },
      },
    });

    // x conflicts with before-first-apply on any value it changes
    sim.obj = before;
    expectConflict(
      sim,
      () => sim.apply('x', { spec: { replicas: 3 } }),
      'Apply failed with 1 conflict: conflict with "before-first-apply" using apps/v1: .spec.replicas',
      ['.spec.replicas'],
    );
  });

  // T34
  test.each([
    ['merge patch [{}]', (s: Sim) => s.mergePatch('m', { metadata: { managedFields: [{}] } })],
    [
      'JSON patch replace [{}]',
      (s: Sim) => s.jsonPatch('m', [{ op: 'replace', path: '/metadata/managedFields', value: [{}] }]),
    ],
    ['PUT [{}]', (s: Sim) => s.update('m', s.content(), { managedFields: [{}] })],
    ['PUT []', (s: Sim) => s.update('m', s.content(), { managedFields: [] })],
  ])('T34 reset managedFields with %s (TestClearManagedFieldsWith…)', (_name, reset) => {
    const sim = new Sim(Deploy);
    sim.apply('a', { metadata: { labels: { l: 'v' } }, spec: { replicas: 2 } });
    sim.mergePatch('b', { spec: { paused: true } });
    expect(sim.entries()).toHaveLength(2);
    const { managedFields: _mf, ...meta } = sim.obj!.metadata;
    const content = sim.content();
    reset(sim);
    expect(sim.obj!.metadata).toEqual(meta); // managedFields gone, other fields untouched
    expect(sim.content()).toEqual(content);
  });

  // T35
  test('T35 subresource entries (TestDroppingSubresourceFromSpecField, TestApplyDoesNotChangeManagedFieldsViaSubresources)', () => {
    const sim = new Sim(Deploy, { statusSubresource: true });
    sim.apply('first', { spec: { replicas: 1 } });
    sim.mergePatch('manager', { metadata: { labels: { a: 'two' } } });
    // managedFields in a /status body are ignored
    const patched = cloneValue(applyMergePatch(sim.obj, { status: { phase: 'Running' } })) as KubeObject;
    patched.metadata.managedFields = [
      { manager: 'evil', operation: 'Apply', apiVersion: 'v1', fieldsType: 'FieldsV1', fieldsV1: { 'f:spec': {} } },
    ];
    sim.write('manager', patched, 'status');
    expect(sim.entries()!.map((e) => [e.manager, e.operation, e.subresource])).toEqual([
      ['first', 'Apply', undefined],
      ['manager', 'Update', undefined],
      ['manager', 'Update', 'status'],
    ]);
    expectManaged(sim, {
      first: { 'f:spec': { 'f:replicas': {} } },
      'manager/Update': { 'f:metadata': { 'f:labels': { ...DOT, 'f:a': {} } } },
      'manager/Update/status': { 'f:status': { ...DOT, 'f:phase': {} } },
    });
    expect(JSON.stringify(sim.entries()![2])).toBe(
      `{"manager":"manager","operation":"Update","apiVersion":"test.upm.io/v1","time":"${at(2)}","fieldsType":"FieldsV1","fieldsV1":{"f:status":{".":{},"f:phase":{}}},"subresource":"status"}`,
    );
  });

  // T36
  test('T36 ancient-changes buckets (capmanagers_test, TestApplyGroupsManySeparateUpdates)', () => {
    const entry = (manager: string, apiVersion: string, t: number, field: string): ManagedFieldsEntry => ({
      manager,
      operation: 'Update',
      apiVersion,
      time: at(t),
      fieldsType: 'FieldsV1',
      fieldsV1: { [`f:${field}`]: {} },
    });
    const cap = (entries: ManagedFieldsEntry[]) =>
      encodeManagedFields(capUpdateManagers(decodeManagedFields(entries), 3));
    expect(
      cap([entry('u1', 'v1', 1, 'a'), entry('u2', 'v1', 2, 'b'), entry('u3', 'v1', 3, 'c'), entry('u4', 'v1', 4, 'd')]),
    ).toEqual([
      {
        manager: 'ancient-changes',
        operation: 'Update',
        apiVersion: 'v1',
        time: at(2),
        fieldsType: 'FieldsV1',
        fieldsV1: { 'f:a': {}, 'f:b': {} },
      },
      entry('u3', 'v1', 3, 'c'),
      entry('u4', 'v1', 4, 'd'),
    ]);
    expect(
      cap([
        entry('u1', 'v1', 1, 'a'),
        entry('u2', 'v2', 2, 'b'),
        entry('u3', 'v1', 3, 'c'),
        entry('u4', 'v1', 4, 'd'),
        entry('u5', 'v1', 5, 'e'),
      ]),
    ).toEqual([
      entry('u2', 'v2', 2, 'b'),
      {
        manager: 'ancient-changes',
        operation: 'Update',
        apiVersion: 'v1',
        time: at(4),
        fieldsType: 'FieldsV1',
        fieldsV1: { 'f:a': {}, 'f:c': {}, 'f:d': {} },
      },
      entry('u5', 'v1', 5, 'e'),
    ]);

    // integration, cap 10: 1 apply + 20 label merge patches by distinct managers
    const sim = new Sim(Deploy);
    sim.apply('apply_test', { spec: { replicas: 1 } });
    for (let i = 0; i < 20; i++)
      sim.mergePatch(`updater-${String(i).padStart(2, '0')}`, { metadata: { labels: { [`l${i}`]: 'v' } } });
    const entries = sim.entries()!;
    expect(entries).toHaveLength(11);
    expect(entries[0].manager).toBe('apply_test');
    expect(entries[1].manager).toBe('ancient-changes');
    expect(entries.slice(2).map((e) => e.manager)).toEqual(Array.from({ length: 9 }, (_, i) => `updater-${11 + i}`));
    // no ownership is lost: the bucket holds the labels container (created by updater-00) and 11 labels
    const bucketLabels = Object.keys((entries[1].fieldsV1!['f:metadata'] as Obj)['f:labels'] as Obj);
    expect(bucketLabels).toEqual(['.', ...Array.from({ length: 11 }, (_, i) => `f:l${i}`).sort()]);
    expect(entries[1].time).toBe(at(11)); // time of the last entry merged into it
  });

  // T37
  test('T37 client-side → server-side apply: conflicts last-applied accounts for are excused (TestUpgradeClientSideToServerSideApply)', () => {
    const sim = new Sim(Deploy, { apiVersion: 'apps/v1', kind: 'Deployment' });
    const lastApplied = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'x', namespace: 'ns', labels: { app: 'my-app' } },
      spec: { replicas: 3, containers: [{ name: 'c', image: 'my-image' }] },
    };
    sim.update('kubectl-client-side-apply', {
      metadata: { labels: { app: 'my-app' }, annotations: { [LAST_APPLIED_ANNOTATION]: JSON.stringify(lastApplied) } },
      spec: { replicas: 100000, containers: [{ name: 'c', image: 'my-image' }] },
    });
    // replicas differs from last-applied: not excused; the label conflict is not reported
    expectConflict(
      sim,
      () =>
        sim.apply('kubectl', {
          metadata: { labels: { app: 'my-new-label' } },
          spec: { replicas: 3, containers: [{ name: 'c', image: 'my-image' }] },
        }),
      'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas',
      ['.spec.replicas'],
    );
    // without replicas: label and image conflicts are excused, the apply is forced
    const config = {
      metadata: { labels: { app: 'my-new-label' } },
      spec: { containers: [{ name: 'c', image: 'my-image-new' }] },
    };
    sim.apply('kubectl', config);
    expect(sim.obj!.metadata.labels).toEqual({ app: 'my-new-label' });
    expect(sim.content()).toEqual({ spec: { replicas: 100000, containers: [{ name: 'c', image: 'my-image-new' }] } });
    // LastAppliedUpdater: the annotation now holds the applied config (Go JSON: sorted keys, newline)
    expect(sim.obj!.metadata.annotations![LAST_APPLIED_ANNOTATION]).toBe(
      '{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"labels":{"app":"my-new-label"},"name":"x","namespace":"ns"},"spec":{"containers":[{"image":"my-image-new","name":"c"}]}}\n',
    );
    expect(sim.managed().kubectl).toBe(
      JSON.stringify({
        'f:metadata': { 'f:labels': { 'f:app': {} } },
        'f:spec': { 'f:containers': { [K({ name: 'c' })]: { ...DOT, 'f:image': {}, 'f:name': {} } } },
      }),
    );
    // another manager gets no excuse
    const other = new Sim(Deploy, { apiVersion: 'apps/v1', kind: 'Deployment' });
    other.update('kubectl-client-side-apply', {
      metadata: { annotations: { [LAST_APPLIED_ANNOTATION]: JSON.stringify(lastApplied) } },
      spec: { replicas: 3 },
    });
    expect(catchError(() => other.apply('not-kubectl', { spec: { replicas: 4 } })).code).toBe(409);
  });

  // T38
  test('T38 csaupgrade combines the client-side-apply manager into the SSA manager (csa-combine-with-ssa-additional-keys)', () => {
    const annotations = { 'f:annotations': { ...DOT, 'f:kubectl.kubernetes.io/last-applied-configuration': {} } };
    const entries: ManagedFieldsEntry[] = [
      {
        manager: 'kubectl',
        operation: 'Apply',
        apiVersion: 'v1',
        time: at(1),
        fieldsType: 'FieldsV1',
        fieldsV1: { 'f:data': { ...DOT, 'f:key': {} }, 'f:metadata': annotations },
      },
      {
        manager: 'kubectl-client-side-apply',
        operation: 'Update',
        apiVersion: 'v1',
        time: at(0),
        fieldsType: 'FieldsV1',
        fieldsV1: { 'f:data': { ...DOT, 'f:key': {}, 'f:legacy': {} }, 'f:metadata': annotations },
      },
    ];
    const csaManagers = findFieldsOwners(entries, 'Update', LAST_APPLIED_PATH).map((e) => e.manager!);
    expect(csaManagers).toEqual(['kubectl-client-side-apply']);
    expect(upgradeManagedFields(entries, csaManagers, 'kubectl')).toEqual([
      {
        manager: 'kubectl',
        operation: 'Apply',
        apiVersion: 'v1',
        time: at(1),
        fieldsType: 'FieldsV1',
        fieldsV1: { 'f:data': { ...DOT, 'f:key': {}, 'f:legacy': {} }, 'f:metadata': annotations },
      },
    ]);
    // the server honours the result when kubectl sends it as a JSON patch
    const sim = new Sim(ConfigMap, { apiVersion: 'v1', kind: 'ConfigMap' });
    sim.update('kubectl-client-side-apply', {
      metadata: { annotations: { [LAST_APPLIED_ANNOTATION]: '{}' } },
      data: { key: 'v', legacy: 'l' },
    });
    const upgraded = upgradeManagedFields(sim.entries(), ['kubectl-client-side-apply'], 'kubectl');
    sim.jsonPatch('kubectl', [{ op: 'replace', path: '/metadata/managedFields', value: upgraded }]);
    expect(sim.entries()!.map((e) => [e.manager, e.operation])).toEqual([['kubectl', 'Apply']]);
    // re-sending the apply now prunes what the manifest dropped
    sim.apply('kubectl', { data: { key: 'v' } });
    expect(sim.content()).toEqual({ data: { key: 'v' } });
  });

  // T39
  test('T39 duplicates in live associative lists (TestDuplicatesInAssociativeLists)', () => {
    const sim = new Sim(Deploy, { apiVersion: 'apps/v1', kind: 'Deployment' });
    const env = [
      { name: 'ENV0', value: '0' },
      { name: 'PATH', value: '/usr/bin' },
      { name: 'PATH', value: '/usr/bin' },
    ];
    const ports = [{ containerPort: 1 }, { containerPort: 80 }, { containerPort: 80 }];
    sim.update('create', { spec: { containers: [{ name: 'c', image: 'i', env, ports }] } });
    const created = JSON.parse(sim.managed().create);
    const item = created['f:spec']['f:containers'][K({ name: 'c' })];
    expect(item['f:env'][K({ name: 'PATH' })]).toEqual({});
    expect(item['f:ports'][K({ containerPort: 80, protocol: 'TCP' })]).toEqual({});
    expect(item['f:env'][K({ name: 'ENV0' })]).toEqual({ ...DOT, 'f:name': {}, 'f:value': {} });

    sim.apply('apply', {
      spec: { containers: [{ name: 'c', env: [{ name: 'HOME', value: '/root' }], ports: [{ containerPort: 443 }] }] },
    });
    const c1 = (sim.content().spec as Obj).containers as Obj[];
    expect(c1[0].env).toHaveLength(4);
    expect(c1[0].ports).toHaveLength(4);
    const applied = JSON.parse(sim.managed().apply)['f:spec']['f:containers'][K({ name: 'c' })];
    expect(Object.keys(applied['f:env'])).toEqual([K({ name: 'HOME' })]);
    expect(Object.keys(applied['f:ports'])).toEqual([K({ containerPort: 443, protocol: 'TCP' })]);

    const forced = {
      spec: { containers: [{ name: 'c', env: [{ name: 'PATH', value: '/bin' }], ports: [{ containerPort: 80 }] }] },
    };
    expect(catchError(() => sim.apply('apply', forced)).code).toBe(409); // the duplicated items belong to "create"
    sim.apply('apply', forced, { force: true });
    const c2 = (sim.content().spec as Obj).containers as Obj[];
    expect(c2[0].env).toEqual([
      { name: 'ENV0', value: '0' },
      { name: 'PATH', value: '/bin' },
    ]); // duplicates collapse, HOME pruned
    expect(c2[0].ports).toEqual([{ containerPort: 1 }, { containerPort: 80 }]);
  });

  // T40
  test('T40 identity collision when renaming managers: the later entry wins (TestRenamingAppliedFieldManagers)', () => {
    const sim = new Sim(Deploy, { apiVersion: 'v1', kind: 'Pod' });
    sim.apply('multi_manager_one', { metadata: { labels: { a: '1' } } });
    sim.apply('multi_manager_two', { metadata: { labels: { b: '2' } } });
    const renamed = sim.entries()!.map((e) => ({ ...e, manager: 'multi_manager' }));
    sim.update('kubectl-replace', sim.content(), { managedFields: renamed });
    expect(sim.entries()).toEqual([
      {
        manager: 'multi_manager',
        operation: 'Apply',
        apiVersion: 'v1',
        time: at(1),
        fieldsType: 'FieldsV1',
        fieldsV1: { 'f:metadata': { 'f:labels': { 'f:b': {} } } },
      },
    ]);
  });
});

// ---- further behaviour ----------------------------------------------------------------------

describe('apply request validation', () => {
  const base = { live: undefined, manager: 'm', schema: Deploy, apiVersion: 'apps/v1', kind: 'Deployment' };
  const body = (extra: Obj = {}) => ({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'x' }, ...extra });

  it('rejects a body of another kind or version, or an empty body', () => {
    expect(catchError(() => applyPatch({ ...base, applied: { ...body(), apiVersion: 'apps/v2' } })).message).toBe(
      'invalid object type: apps/v2, Kind=Deployment',
    );
    expect(catchError(() => applyPatch({ ...base, applied: { ...body(), kind: 'Pod' } })).message).toBe(
      'invalid object type: apps/v1, Kind=Pod',
    );
    const empty = catchError(() => applyPatch({ ...base, applied: {} }));
    expect([empty.code, empty.message]).toEqual([400, 'invalid object type: /, Kind=']);
  });

  it('requires metadata.managedFields to be nil (null is accepted)', () => {
    for (const mf of [[], [{}]]) {
      const err = catchError(() =>
        applyPatch({ ...base, applied: body({ metadata: { name: 'x', managedFields: mf } }) }),
      );
      expect([err.code, err.reason, err.message]).toEqual([400, 'BadRequest', 'metadata.managedFields must be nil']);
    }
    expect(applyPatch({ ...base, applied: body({ metadata: { name: 'x', managedFields: null } }) }).metadata.name).toBe(
      'x',
    );
  });

  it('checks the name and namespace against the URL', () => {
    expect(catchError(() => applyPatch({ ...base, name: 'y', applied: body() })).message).toBe(
      'the name of the object (x) does not match the name on the URL (y)',
    );
    expect(
      catchError(() =>
        applyPatch({ ...base, name: 'x', namespace: 'a', applied: body({ metadata: { name: 'x', namespace: 'b' } }) }),
      ).message,
    ).toBe('the namespace of the object (b) does not match the namespace on the URL (a)');
  });

  it("reports schema errors of the config as 400 with kube's text", () => {
    const err = catchError(() =>
      applyPatch({ ...base, applied: body({ metadata: { name: 'x', namespace: 'ns' }, spec: { nope: 1 } }) }),
    );
    expect([err.code, err.message]).toEqual([
      400,
      'failed to create typed patch object (ns/x; apps/v1, Kind=Deployment): .spec.nope: field not declared in schema',
    ]);
  });

  it('validates the patch options', () => {
    const noManager = catchError(() => validatePatchOptions({ patchType: 'apply' }));
    expect([noManager.code, noManager.message]).toEqual([
      422,
      'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
    ]);
    const force = catchError(() => validatePatchOptions({ patchType: 'merge', force: false }));
    expect(force.message).toBe(
      'PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be specified for non-apply patch',
    );
    expect(
      catchError(() => validatePatchOptions({ patchType: 'apply', fieldManager: 'x'.repeat(129) })).message,
    ).toMatch(/fieldManager: Too long/);
    expect(() => validatePatchOptions({ patchType: 'apply', fieldManager: 'kubectl', force: true })).not.toThrow();
    expect(() => validatePatchOptions({ patchType: 'merge', fieldManager: 'kubectl-edit' })).not.toThrow();
  });

  it('decodes YAML and JSON apply bodies, rejecting duplicate keys when strict', () => {
    // YAML 1.1 scalars as go-yaml v2 resolves them (`yes` is a boolean, and so is the key `on`)
    expect(decodeApplyBody('apiVersion: v1\nkind: ConfigMap\ndata:\n  a: "1"\n  b: yes\n  on: x\n').object).toEqual({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      data: { a: '1', b: true, true: 'x' },
    });
    expect(decodeApplyBody('{"apiVersion":"v1","kind":"ConfigMap"}').object).toEqual({
      apiVersion: 'v1',
      kind: 'ConfigMap',
    });
    // An alias cycle is a 400, not a stack overflow later.
    expect(catchError(() => decodeApplyBody('apiVersion: v1\nkind: ConfigMap\ndata: &a\n  x: *a\n')).message).toMatch(
      /^error decoding YAML: /,
    );
    const dup = 'kind: A\nkind: B\n';
    expect(catchError(() => decodeApplyBody(dup)).message).toMatch(/^error strict decoding patch: /);
    expect(decodeApplyBody(dup, 'Warn').warnings).toHaveLength(1);
    expect(decodeApplyBody(dup, 'Ignore').warnings).toEqual([]);
    expect(catchError(() => decodeApplyBody('a: [')).message).toMatch(/^error decoding YAML: /);
    expect(decodeApplyBody('').object).toEqual({});
  });
});

describe('conflict messages', () => {
  it('groups several conflicts by manager (sorted), Apply managers without a version', () => {
    const sim = new Sim(Deploy, { apiVersion: 'apps/v1', kind: 'Deployment' });
    sim.apply('b-applier', { spec: { replicas: 1, paused: false } });
    sim.mergePatch('a-editor', { metadata: { labels: { x: '1' } }, spec: { args: ['a'] } });
    expectConflict(
      sim,
      () => sim.apply('c', { metadata: { labels: { x: '2' } }, spec: { replicas: 2, paused: true, args: ['b'] } }),
      'Apply failed with 4 conflicts: conflicts with "a-editor" using apps/v1:\n- .metadata.labels.x\n- .spec.args\nconflicts with "b-applier":\n- .spec.paused\n- .spec.replicas',
      ['.metadata.labels.x', '.spec.args', '.spec.paused', '.spec.replicas'],
    );
  });

  it('names the subresource of a status manager', () => {
    const sim = new Sim(Deploy, { apiVersion: 'apps/v1', kind: 'Deployment', statusSubresource: true });
    sim.apply('a', { spec: { replicas: 1 } });
    sim.apply('ctrl', { status: { phase: 'Up' } }, { subresource: 'status' });
    expectConflict(
      sim,
      () => sim.apply('other', { status: { phase: 'Down' } }, { subresource: 'status' }),
      'Apply failed with 1 conflict: conflict with "ctrl" with subresource "status": .status.phase',
      ['.status.phase'],
    );
  });
});

describe('timestamps and no-op writes', () => {
  it('keeps the object and its times when an apply changes nothing', () => {
    const sim = new Sim(Deploy);
    sim.apply('a', { spec: { replicas: 1 } });
    const before = cloneValue(sim.obj);
    sim.apply('a', { spec: { replicas: 1 } });
    expect(sim.obj).toEqual(before);
  });

  it("updates the applier's time only when the object changes, never another manager's", () => {
    const sim = new Sim(Deploy);
    sim.apply('a', { spec: { replicas: 1, paused: true } }); // 0
    sim.mergePatch('e', { spec: { replicas: 2 } }); // 1
    sim.apply('a', { spec: { replicas: 3, paused: true } }, { force: true }); // 2: takes replicas back
    expect(sim.entries()!.map((e) => [e.manager, e.time])).toEqual([['a', at(2)]]);
    sim.mergePatch('e', { spec: { paused: false } }); // 3
    sim.apply('b', { spec: { replicas: 3 } }); // 4: co-owns without change → entry without time
    expect(sim.entries()!.map((e) => [e.manager, e.time])).toEqual([
      ['b', undefined],
      ['a', at(2)],
      ['e', at(3)],
    ]);
  });

  it('keeps managedFields untouched when a write changes nothing, and gives no time to a writer that gained nothing', () => {
    const sim = new Sim(Deploy);
    sim.apply('a', { spec: { replicas: 1 } });
    const before = cloneValue(sim.obj);
    sim.update('u', sim.content());
    expect(sim.obj).toEqual(before);
    sim.mergePatch('e', { spec: { replicas: 5 } });
    sim.mergePatch('e', { spec: { replicas: null } }); // e only loses fields: its entry goes
    expect(sim.managed()).toEqual({});
  });

  it('merges Update entries of the same manager and version, and keeps one Apply entry per manager across versions', () => {
    const sim = new Sim(Deploy);
    sim.mergePatch('e', { spec: { replicas: 1 } });
    sim.mergePatch('e', { spec: { paused: true } });
    expectManaged(sim, { e: { 'f:spec': { ...DOT, 'f:paused': {}, 'f:replicas': {} } } });
    const v2 = new Sim(Deploy, { apiVersion: 'test.upm.io/v2', startAt: 10 });
    v2.obj = sim.obj;
    v2.obj!.apiVersion = 'test.upm.io/v2';
    v2.mergePatch('e', { spec: { args: ['x'] } });
    expect(v2.entries()!.map((e) => [e.manager, e.apiVersion])).toEqual([
      ['e', 'test.upm.io/v1'],
      ['e', 'test.upm.io/v2'],
    ]);
    v2.apply('a', { spec: { args: ['x'] } });
    v2.obj!.apiVersion = 'test.upm.io/v1';
    sim.obj = v2.obj;
    sim.apply('a', { spec: { args: ['x'], replicas: 1 } });
    expect(
      sim
        .entries()!
        .filter((e) => e.manager === 'a')
        .map((e) => e.apiVersion),
    ).toEqual(['test.upm.io/v1']);
  });

  it('never fails a non-apply write: undecodable live managedFields are kept as they were', () => {
    const sim = new Sim(Deploy);
    sim.apply('a', { spec: { replicas: 1 } });
    const broken = [{ manager: 'x', operation: 'Bogus' }];
    const out = updateManagedFields({
      old: { ...sim.obj!, metadata: { ...sim.obj!.metadata, managedFields: broken as ManagedFieldsEntry[] } },
      updated: { ...sim.obj!, spec: { replicas: 2 } },
      manager: 'u',
      apiVersion: 'test.upm.io/v1',
      schema: Deploy,
      now: new Date(T0),
    });
    expect(out.metadata.managedFields).toEqual([
      {
        manager: 'u',
        operation: 'Update',
        apiVersion: 'test.upm.io/v1',
        time: at(0),
        fieldsType: 'FieldsV1',
        fieldsV1: { 'f:spec': { 'f:replicas': {} } },
      },
    ]);
    expect(
      catchError(() =>
        applyPatch({
          live: { ...sim.obj!, metadata: { ...sim.obj!.metadata, managedFields: broken as ManagedFieldsEntry[] } },
          applied: { apiVersion: 'test.upm.io/v1', kind: 'Thing', metadata: { name: 'x' } },
          manager: 'a',
          schema: Deploy,
          apiVersion: 'test.upm.io/v1',
          kind: 'Thing',
        }),
      ).code,
    ).toBe(500);
  });
});

describe('manager identities and subresources', () => {
  it('treats Apply-m and Update-m as different managers', () => {
    const sim = new Sim(Deploy);
    sim.mergePatch('m', { spec: { replicas: 1 } });
    expectConflict(
      sim,
      () => sim.apply('m', { spec: { replicas: 2 } }),
      'Apply failed with 1 conflict: conflict with "m" using test.upm.io/v1: .spec.replicas',
      ['.spec.replicas'],
    );
    sim.apply('m', { spec: { replicas: 1 } });
    expect(sim.entries()!.map((e) => [e.manager, e.operation])).toEqual([
      ['m', 'Apply'],
      ['m', 'Update'],
    ]);
  });

  it('records /scale writes at the parent path with subresource "scale"', () => {
    const sim = new Sim(Deploy);
    sim.apply('a', { spec: { replicas: 1 } });
    const scaled = cloneValue(sim.obj!);
    (scaled.spec as Obj).replicas = 5;
    sim.write('kubectl', scaled, 'scale');
    // a lost its only field to the scale write: its entry is gone
    expect(sim.entries()).toEqual([
      {
        manager: 'kubectl',
        operation: 'Update',
        apiVersion: 'test.upm.io/v1',
        time: at(1),
        fieldsType: 'FieldsV1',
        fieldsV1: { 'f:spec': { 'f:replicas': {} } },
        subresource: 'scale',
      },
    ]);
  });

  it('ignores spec and metadata changes in the field sets of /status writes', () => {
    const sim = new Sim(Deploy, { statusSubresource: true });
    sim.apply('a', { spec: { replicas: 1 } });
    const updated = cloneValue(sim.obj!);
    updated.status = { phase: 'Up' };
    (updated.spec as Obj).replicas = 7;
    updated.metadata.labels = { l: 'v' };
    sim.write('ctrl', updated, 'status');
    expectManaged(sim, { a: { 'f:spec': { 'f:replicas': {} } }, ctrl: { 'f:status': { ...DOT, 'f:phase': {} } } });
  });
});

describe('metadata and the schema markers of the test kind', () => {
  it('tracks labels, annotations, finalizers and ownerReferences like ObjectMeta', () => {
    const sim = new Sim(Deploy);
    sim.apply('a', {
      metadata: {
        labels: { app: 'x' },
        annotations: { note: 'n' },
        finalizers: ['f/one'],
        ownerReferences: [{ apiVersion: 'v1', kind: 'K', name: 'o', uid: 'u-1' }],
      },
    });
    expectManaged(sim, {
      a: {
        'f:metadata': {
          'f:annotations': { 'f:note': {} },
          'f:finalizers': { [V('f/one')]: {} },
          'f:labels': { 'f:app': {} },
          'f:ownerReferences': {
            [K({ uid: 'u-1' })]: { ...DOT, 'f:apiVersion': {}, 'f:kind': {}, 'f:name': {}, 'f:uid': {} },
          },
        },
      },
    });
    // another manager adds a finalizer and a label; dropping ours keeps theirs
    sim.mergePatch('gc', { metadata: { finalizers: ['f/one', 'f/two'], labels: { other: 'y' } } });
    sim.apply('a', { metadata: { labels: { app: 'x' } } });
    expect(sim.obj!.metadata.finalizers).toEqual(['f/two']);
    expect(sim.obj!.metadata.labels).toEqual({ app: 'x', other: 'y' });
    expect(sim.obj!.metadata.annotations).toBeUndefined();
    expect(sim.obj!.metadata.ownerReferences).toBeUndefined();
  });

  it('merges granular maps and map lists, replaces atomic maps and lists', () => {
    const sim = new Sim(Deploy);
    sim.apply('a', {
      spec: {
        nodeSelector: { zone: 'a' },
        selector: { matchLabels: { app: 'x', tier: 'db' } },
        args: ['--a'],
        finalizers: ['p'],
        containers: [{ name: 'db', image: 'mysql:8', command: ['run'] }],
      },
    });
    sim.apply('b', {
      spec: {
        nodeSelector: { disk: 'ssd' },
        finalizers: ['q'],
        containers: [{ name: 'side', image: 'busybox' }],
      },
    });
    expect(sim.content()).toEqual({
      spec: {
        nodeSelector: { zone: 'a', disk: 'ssd' },
        selector: { matchLabels: { app: 'x', tier: 'db' } },
        args: ['--a'],
        finalizers: ['p', 'q'],
        containers: [
          { name: 'db', image: 'mysql:8', command: ['run'] },
          { name: 'side', image: 'busybox' },
        ],
      },
    });
    expectManaged(sim, {
      a: {
        'f:spec': {
          'f:args': {},
          'f:containers': { [K({ name: 'db' })]: { ...DOT, 'f:command': {}, 'f:image': {}, 'f:name': {} } },
          'f:finalizers': { [V('p')]: {} },
          'f:nodeSelector': { 'f:zone': {} },
          'f:selector': {},
        },
      },
      b: {
        'f:spec': {
          'f:containers': { [K({ name: 'side' })]: { ...DOT, 'f:image': {}, 'f:name': {} } },
          'f:finalizers': { [V('q')]: {} },
          'f:nodeSelector': { 'f:disk': {} },
        },
      },
    });
    // a's atomic selector is replaced whole by a force apply of b
    sim.apply('b', { spec: { selector: { matchLabels: { app: 'y' } } } }, { force: true });
    expect((sim.content().spec as Obj).selector).toEqual({ matchLabels: { app: 'y' } });
    expect((sim.content().spec as Obj).containers).toEqual([{ name: 'db', image: 'mysql:8', command: ['run'] }]); // b's side container pruned
  });

  it("never prunes unowned fields outside the applier's last set (e.g. defaulted ones) unless inside a removed node", () => {
    const sim = new Sim(St2);
    sim.apply('one', { struct: { name: 'a', complexField: { name: 'b' } } });
    sim.apply('two', { struct: { complexField: { name: 'b' } } });
    (sim.obj!.struct as Obj).scalarField = 'defaulted'; // set by defaulting: owned by nobody
    sim.apply('one', { struct: { complexField: { name: 'b' } } });
    expect(sim.content()).toEqual({ struct: { complexField: { name: 'b' }, scalarField: 'defaulted' } });
    expectManaged(sim, {
      one: { 'f:struct': { 'f:complexField': { 'f:name': {} } } },
      two: { 'f:struct': { 'f:complexField': { 'f:name': {} } } },
    });
    // inside a removed list item, an unowned field goes with the item
    const list = new Sim(LMap);
    list.apply('one', { list: [{ name: 'a' }, { name: 'b' }] });
    ((list.obj!.list as Obj[])[1] as Obj).value = 7;
    list.apply('one', { list: [{ name: 'a' }] });
    expect(list.content()).toEqual({ list: [{ name: 'a' }] });
  });

  it('removes spec entirely when its only owner stops applying it, and applies a defaulter to changed results', () => {
    const sim = new Sim(Deploy);
    sim.apply('a', { spec: { replicas: 2 } });
    const out = applyPatch({
      live: sim.obj,
      applied: { apiVersion: 'test.upm.io/v1', kind: 'Thing', metadata: { name: 'x', namespace: 'ns' } },
      manager: 'a',
      schema: Deploy,
      apiVersion: 'test.upm.io/v1',
      kind: 'Thing',
      defaulter: (o) => {
        o.spec ??= { replicas: 1 };
      },
    });
    expect(out.spec).toEqual({ replicas: 1 }); // re-defaulted, owned by nobody
    expect(out.metadata.managedFields).toBeUndefined();
  });
});

describe('helpers', () => {
  it('derives the default manager from the User-Agent', () => {
    expect(managerFromUserAgent('kubectl/v1.31.0 (linux/amd64) kubernetes/abc')).toBe('kubectl');
    expect(managerFromUserAgent('my\u0007agent/1')).toBe('myagent');
    expect(managerFromUserAgent('x'.repeat(200))).toHaveLength(128);
    expect(managerFromUserAgent(undefined)).toBe('');
  });

  it('validates managedFields entries like ObjectMeta validation', () => {
    expect(
      validateManagedFieldsEntries([
        { manager: 'ok', operation: 'Apply', fieldsType: 'FieldsV1' },
        { operation: 'Patch', fieldsType: 'FieldsV2', manager: 'a\nb' },
      ]).map((e) => e.field),
    ).toEqual([
      'metadata.managedFields[1].operation',
      'metadata.managedFields[1].fieldsType',
      'metadata.managedFields[1].manager',
    ]);
  });

  it('decodes entries strictly and lets the later duplicate identity win', () => {
    expect(() => decodeManagedFields([{ operation: 'Update', apiVersion: 'v1' }])).toThrow(/missing fieldsType/);
    expect(() => decodeManagedFields([{ operation: 'Apply', apiVersion: '', fieldsType: 'FieldsV1' }])).toThrow(
      /apiVersion/,
    );
    const m = decodeManagedFields([
      {
        manager: 'm',
        operation: 'Apply',
        apiVersion: 'v1',
        fieldsType: 'FieldsV1',
        fieldsV1: { 'f:a': {} },
        time: '2026-01-02T03:04:05.999+01:00',
      },
      { manager: 'm', operation: 'Apply', apiVersion: 'v2', fieldsType: 'FieldsV1', fieldsV1: { 'f:b': {} } },
    ]);
    expect([...m.values()].map((e) => [e.apiVersion, e.set.toStrings()])).toEqual([['v2', ['.b']]]);
    expect(
      decodeManagedFields([
        {
          manager: 'm',
          operation: 'Update',
          apiVersion: 'v1',
          fieldsType: 'FieldsV1',
          time: '2026-01-02T03:04:05.999+01:00',
        },
      ])
        .values()
        .next().value!.time,
    ).toBe('2026-01-02T02:04:05Z');
    expect(new FieldSet().insert([fieldPE('a')]).size()).toBe(1);
  });

  it('runs the micro-benchmark (not timed)', () => {
    const r = benchApply(2, 5);
    expect(r.ratio).toBeGreaterThan(0);
    expect(Number.isFinite(r.applyMicros)).toBe(true);
  });
});
