// Unit tests of the building blocks: FieldsV1 encoding (byte-exact round trips, canonical
// order, decoding rules), path rendering, set algebra, and the schema walks (field sets,
// comparison, merge order, validation).

import type { JSONSchema } from '../../machinery/definition.js';
import {
  FieldSet,
  fieldPE,
  fromFieldsV1,
  keyPE,
  parsePE,
  pathToString,
  toFieldsV1,
  toFieldsV1JSON,
  valuePE,
  indexPE,
  type Path,
} from './fieldset.js';
import { mergeValues, removeItems } from './merge.js';
import {
  compareObjects,
  ensureNamedFieldsAreMembers,
  formatValidationErrors,
  kindType,
  toFieldSet,
  typeFromSchema,
  validateValue,
} from './schema-walk.js';
import { compareStrings, goJSON } from './values.js';

const f = fieldPE;
const roundTrip = (json: string) => toFieldsV1JSON(fromFieldsV1(JSON.parse(json)));

describe('FieldsV1 encoding', () => {
  it("round-trips kube's canonical example byte for byte", () => {
    const canonical =
      '{"f:metadata":{"f:labels":{"f:sidecar_version":{}}},"f:spec":{"f:template":{"f:spec":{"f:containers":{"k:{\\"name\\":\\"sidecar\\"}":{".":{},"f:image":{},"f:name":{}}}}}}}';
    expect(roundTrip(canonical)).toBe(canonical);
    const set = fromFieldsV1(JSON.parse(canonical));
    expect(set.toStrings()).toEqual([
      '.metadata.labels.sidecar_version',
      '.spec.template.spec.containers[name="sidecar"]',
      '.spec.template.spec.containers[name="sidecar"].image',
      '.spec.template.spec.containers[name="sidecar"].name',
    ]);
  });

  it('round-trips every PE kind, with "." first and members before children in PE order', () => {
    const canonical =
      '{"f:a":{},"f:list":{"k:{\\"name\\":\\"a\\"}":{".":{},"f:name":{}},"k:{\\"name\\":\\"b\\"}":{"f:x":{}}},' +
      '"f:set":{"v:1":{},"v:2.5":{},"v:\\"a\\"":{},"v:false":{},"v:true":{}},"f:z":{"i:2":{},"i:10":{}}}';
    expect(roundTrip(canonical)).toBe(canonical);
  });

  it('sorts keys canonically whatever the input order', () => {
    const shuffled = {
      'f:z': {},
      'v:"s"': {},
      'i:1': {},
      'k:{"b":1,"a":2}': { 'f:y': {}, '.': {}, 'f:x': {} },
      'f:a': { 'f:b': {} },
      'v:3': {},
    };
    expect(JSON.stringify(toFieldsV1(fromFieldsV1(shuffled)))).toBe(
      '{"f:a":{"f:b":{}},"f:z":{},"k:{\\"a\\":2,\\"b\\":1}":{".":{},"f:x":{},"f:y":{}},"v:3":{},"v:\\"s\\"":{},"i:1":{}}',
    );
  });

  it('orders field names by UTF-8 bytes, not UTF-16 units', () => {
    // U+FF61 is one UTF-16 unit above the surrogate range, but U+1F600 is a larger code point.
    const set = FieldSet.fromPaths([[f('\u{1F600}')], [f('\uFF61')], [f('B')], [f('a')]]);
    expect(Object.keys(toFieldsV1(set))).toEqual(['f:B', 'f:a', 'f:\uFF61', 'f:\u{1F600}']);
    expect(compareStrings('\uFF61', '\u{1F600}')).toBe(-1);
  });

  it('orders k: by key list (name, then value; a prefix first) and v: by value kind', () => {
    const pes = [
      keyPE([['name', 'b']]),
      keyPE([
        ['name', 'a'],
        ['port', 80],
      ]),
      keyPE([['name', 'a']]),
      keyPE([['id', 9]]),
      valuePE(null),
      valuePE({ a: 1 }),
      valuePE([1]),
      valuePE(true),
      valuePE(false),
      valuePE('a'),
      valuePE(10),
      valuePE(9.5),
    ];
    const set = FieldSet.fromPaths(pes.map((pe) => [pe]));
    expect(Object.keys(toFieldsV1(set))).toEqual([
      'k:{"id":9}',
      'k:{"name":"a"}',
      'k:{"name":"a","port":80}',
      'k:{"name":"b"}',
      'v:9.5',
      'v:10',
      'v:"a"',
      'v:false',
      'v:true',
      'v:[1]',
      'v:{"a":1}',
      'v:null',
    ]);
  });

  it('treats {} and {".":{}} as membership and child-only objects as descendants only', () => {
    const a = fromFieldsV1({ 'f:a': {}, 'f:b': { '.': {} }, 'f:c': { 'f:d': {} }, 'f:e': { '.': {}, 'f:g': {} } });
    // smd iteration order: the members of a node first, then its children
    expect(a.toStrings()).toEqual(['.a', '.b', '.e', '.c.d', '.e.g']);
    expect(a.has([f('c')])).toBe(false);
    expect(JSON.stringify(toFieldsV1(a))).toBe('{"f:a":{},"f:b":{},"f:c":{"f:d":{}},"f:e":{".":{},"f:g":{}}}');
    expect(fromFieldsV1({}).isEmpty()).toBe(true);
    expect(toFieldsV1(new FieldSet())).toEqual({});
  });

  it('drops keys with an unknown PE type and rejects malformed ones', () => {
    expect(fromFieldsV1({ 'x:foo': {}, 'f:a': { 'q:bar': { 'f:z': {} } }, ab: {} }).toStrings()).toEqual(['.a']);
    expect(() => fromFieldsV1({ f: {} })).toThrow(/2 characters/);
    expect(() => fromFieldsV1({ 'k:{"name":': {} })).toThrow();
    expect(() => fromFieldsV1({ 'v:"a"x': {} })).toThrow();
    expect(() => fromFieldsV1({ 'k:[1]': {} })).toThrow();
    expect(() => fromFieldsV1({ 'i:x': {} })).toThrow();
    expect(() => fromFieldsV1({ 'f:a': 1 })).toThrow(/object/);
    expect(() => fromFieldsV1([])).toThrow();
  });

  it('HTML-escapes strings in k:/v: values but not key names, like Go', () => {
    const set = FieldSet.fromPaths([[keyPE([['<n>', 'a<b>&c\u2028']])], [valuePE('x&y')]]);
    const keys = Object.keys(toFieldsV1(set));
    expect(keys).toEqual(['k:{"<n>":"a\\u003cb\\u003e\\u0026c\\u2028"}', 'v:"x\\u0026y"']);
    expect(roundTrip(JSON.stringify(toFieldsV1(set)))).toBe(JSON.stringify(toFieldsV1(set)));
    expect(goJSON({ b: 1, a: ['<'] })).toBe('{"a":["\\u003c"],"b":1}');
  });

  it('writes field names raw', () => {
    const set = FieldSet.fromPaths([
      [f('metadata'), f('annotations'), f('kubectl.kubernetes.io/last-applied-configuration')],
    ]);
    expect(toFieldsV1JSON(set)).toBe(
      '{"f:metadata":{"f:annotations":{"f:kubectl.kubernetes.io/last-applied-configuration":{}}}}',
    );
  });

  it('parses each PE kind', () => {
    expect(parsePE('f:a.b')).toEqual(f('a.b'));
    expect(parsePE('k:{"port":80,"protocol":"TCP"}')).toMatchObject({
      kind: 'k',
      fields: [
        ['port', 80],
        ['protocol', 'TCP'],
      ],
    });
    expect(parsePE('v:1.0')?.key).toBe('v:1');
    expect(parsePE('i:3')).toEqual(indexPE(3));
    expect(parsePE('z:1')).toBeNull();
  });
});

describe('paths', () => {
  it('renders paths as kube prints them in conflicts', () => {
    const cases: [Path, string][] = [
      [[f('spec'), f('replicas')], '.spec.replicas'],
      [[f('spec'), f('containers'), keyPE([['name', 'nginx']]), f('image')], '.spec.containers[name="nginx"].image'],
      [
        [
          f('ports'),
          keyPE([
            ['protocol', 'TCP'],
            ['containerPort', 80],
          ]),
        ],
        '.ports[containerPort=80,protocol="TCP"]',
      ],
      [[f('metadata'), f('finalizers'), valuePE('a')], '.metadata.finalizers[="a"]'],
      [[f('set'), valuePE(1)], '.set[=1]'],
      [[f('list'), indexPE(0)], '.list[0]'],
    ];
    for (const [p, s] of cases) expect(pathToString(p)).toBe(s);
  });
});

describe('set algebra', () => {
  const s = (...paths: string[][]) => FieldSet.fromPaths(paths.map((p) => p.map((n) => f(n))));
  it('union, intersection, difference, recursiveDifference, has and isEmpty are path-set operations', () => {
    const a = s(['spec'], ['spec', 'replicas'], ['spec', 'x', 'y'], ['status']);
    const b = s(['spec', 'replicas'], ['metadata', 'labels', 'a']);
    expect(a.union(b).toStrings()).toEqual(['.spec', '.status', '.metadata.labels.a', '.spec.replicas', '.spec.x.y']);
    expect(a.intersection(b).toStrings()).toEqual(['.spec.replicas']);
    expect(a.difference(b).toStrings()).toEqual(['.spec', '.status', '.spec.x.y']);
    // parent − child = parent; a member removes its descendants only recursively
    expect(a.difference(s(['spec'])).toStrings()).toEqual(['.status', '.spec.replicas', '.spec.x.y']);
    expect(a.recursiveDifference(s(['spec'])).toStrings()).toEqual(['.status']);
    expect(a.has([f('spec'), f('x'), f('y')])).toBe(true);
    expect(a.has([f('spec'), f('x')])).toBe(false);
    expect(a.difference(a).isEmpty()).toBe(true);
    expect(a.union(b).equals(b.union(a))).toBe(true);
    expect(new FieldSet().insert([]).isEmpty()).toBe(true);
  });
});

const schema: JSONSchema = {
  type: 'object',
  properties: {
    spec: {
      type: 'object',
      properties: {
        replicas: { type: 'integer' },
        port: { 'x-kubernetes-int-or-string': true },
        struct: { type: 'object', properties: { a: { type: 'string' } } },
        atomicList: { type: 'array', items: { type: 'string' } },
        set: { type: 'array', 'x-kubernetes-list-type': 'set', items: { type: 'string' } },
        items: {
          type: 'array',
          'x-kubernetes-list-type': 'map',
          'x-kubernetes-list-map-keys': ['name'],
          items: { type: 'object', properties: { name: { type: 'string' }, v: { type: 'integer' } } },
        },
        free: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
        labels: { type: 'object', additionalProperties: { type: 'string' } },
      },
    },
  },
};
const root = kindType(schema);
const fs = (v: unknown) => JSON.stringify(toFieldsV1(toFieldSet(v, root)));

describe('field set of a value (ToFieldSet)', () => {
  it('records leaves, list items with ".", undeclared keys as members, declared fields through descendants', () => {
    expect(
      fs({
        metadata: { labels: { app: 'x' } },
        spec: { replicas: 1, items: [{ name: 'a', v: 1 }], labels: { k: 'v' } },
      }),
    ).toBe(
      '{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:items":{"k:{\\"name\\":\\"a\\"}":{".":{},"f:name":{},"f:v":{}}},"f:labels":{"f:k":{}},"f:replicas":{}}}',
    );
  });
  it('treats null and {} of a declared field as a leaf, [] of an associative list as nothing, an atomic [] as a leaf', () => {
    expect(fs({ spec: { struct: null } })).toBe('{"f:spec":{"f:struct":{}}}');
    expect(fs({ spec: { struct: {} } })).toBe('{"f:spec":{"f:struct":{}}}');
    expect(fs({ spec: { items: [], set: [] } })).toBe('{"f:spec":{}}'.replace('{"f:spec":{}}', '{}'));
    expect(fs({ spec: { atomicList: [] } })).toBe('{"f:spec":{"f:atomicList":{}}}');
    expect(fs({ spec: { items: null } })).toBe('{"f:spec":{"f:items":{}}}');
  });
  it('treats int-or-string and atomic lists as leaves, deduced maps as granular and deduced lists as atomic', () => {
    expect(
      fs({ spec: { port: 'http', atomicList: ['a', 'b'], set: ['b', 'a'], free: { x: { y: [1, { z: 2 }] } } } }),
    ).toBe(
      '{"f:spec":{"f:atomicList":{},"f:free":{"f:x":{".":{},"f:y":{}}},"f:port":{},"f:set":{"v:\\"a\\"":{},"v:\\"b\\"":{}}}}',
    );
  });
  it('tracks ownerReferences by uid and finalizers by value', () => {
    expect(
      fs({
        metadata: { ownerReferences: [{ apiVersion: 'v1', kind: 'K', name: 'n', uid: 'u1' }], finalizers: ['a/b'] },
      }),
    ).toBe(
      '{"f:metadata":{"f:finalizers":{"v:\\"a/b\\"":{}},"f:ownerReferences":{"k:{\\"uid\\":\\"u1\\"}":{".":{},"f:apiVersion":{},"f:kind":{},"f:name":{},"f:uid":{}}}}}',
    );
  });
  it('records duplicated list items once, without children', () => {
    expect(
      fs({
        spec: {
          items: [
            { name: 'a', v: 1 },
            { name: 'a', v: 2 },
          ],
        },
      }),
    ).toBe('{"f:spec":{"f:items":{"k:{\\"name\\":\\"a\\"}":{}}}}');
  });
});

describe('schema markers', () => {
  it('leaves an absent key field without default out of the item key; all keys absent is an error', () => {
    const t = typeFromSchema({
      type: 'array',
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['a', 'b'],
      items: { type: 'object', properties: { a: { type: 'string' }, b: { type: 'string' } } },
    });
    expect(JSON.stringify(toFieldsV1(toFieldSet([{ a: 'x' }, { a: 'x', b: 'y' }], t)))).toBe(
      '{"k:{\\"a\\":\\"x\\"}":{".":{},"f:a":{}},"k:{\\"a\\":\\"x\\",\\"b\\":\\"y\\"}":{".":{},"f:a":{},"f:b":{}}}',
    );
    expect(validateValue([{}], t)[0].message).toMatch(/omits all key fields/);
  });
  it('falls back to x-kubernetes-patch-strategy markers when list-type is absent', () => {
    const keyed = typeFromSchema({
      type: 'array',
      items: { type: 'object', properties: { name: { type: 'string' } } },
      'x-kubernetes-patch-strategy': 'merge',
      'x-kubernetes-patch-merge-key': 'name',
    } as JSONSchema);
    expect(keyed).toMatchObject({ kind: 'list', atomic: false, keys: ['name'] });
    const set = typeFromSchema({
      type: 'array',
      items: { type: 'string' },
      'x-kubernetes-patch-strategy': 'merge',
    } as JSONSchema);
    expect(set).toMatchObject({ kind: 'list', atomic: false, keys: [] });
    expect(typeFromSchema({ type: 'array', items: { type: 'string' } })).toMatchObject({ kind: 'list', atomic: true });
    expect(
      typeFromSchema({ type: 'object', 'x-kubernetes-map-type': 'atomic', additionalProperties: { type: 'string' } }),
    ).toMatchObject({ kind: 'map', atomic: true });
    expect(typeFromSchema({ type: 'string', format: 'date-time' })).toMatchObject({ kind: 'scalar' });
    expect(typeFromSchema({})).toEqual({ kind: 'untyped' });
  });
});

describe('comparison (Compare)', () => {
  const cmp = (a: unknown, b: unknown) => {
    const c = compareObjects(a, b, root);
    return { added: c.added.toStrings(), modified: c.modified.toStrings(), removed: c.removed.toStrings() };
  };
  it('marks new containers and items as added, with their contents', () => {
    expect(
      cmp({ spec: { replicas: 1 } }, { spec: { replicas: 2, struct: { a: 'x' }, items: [{ name: 'a' }] } }),
    ).toEqual({
      added: ['.spec.items', '.spec.struct', '.spec.items[name="a"]', '.spec.items[name="a"].name', '.spec.struct.a'],
      modified: ['.spec.replicas'],
      removed: [],
    });
  });
  it('ignores reordering of associative lists and keeps {} and null distinct', () => {
    expect(
      cmp(
        { spec: { set: ['a', 'b'], items: [{ name: 'a' }, { name: 'b' }] } },
        { spec: { set: ['b', 'a'], items: [{ name: 'b' }, { name: 'a' }] } },
      ),
    ).toEqual({
      added: [],
      modified: [],
      removed: [],
    });
    expect(cmp({ spec: { struct: {} } }, { spec: { struct: null } }).modified).toEqual(['.spec.struct']);
    expect(cmp({ spec: { atomicList: ['a', 'b'] } }, { spec: { atomicList: ['b', 'a'] } }).modified).toEqual([
      '.spec.atomicList',
    ]);
  });
  it('reports removed paths, containers included', () => {
    expect(cmp({ spec: { struct: { a: 'x' } } }, { spec: {} }).removed).toEqual(['.spec.struct', '.spec.struct.a']);
  });
});

describe('merge order of associative lists', () => {
  const setType = typeFromSchema({ type: 'array', 'x-kubernetes-list-type': 'set', items: { type: 'string' } });
  it('keeps live-only items after the item that preceded them (smd set_test examples)', () => {
    expect(mergeValues(['a', 'b', 'c', 'd'], ['a', 'aprime', 'c', 'cprime'], setType)).toEqual([
      'a',
      'b',
      'aprime',
      'c',
      'd',
      'cprime',
    ]);
    expect(mergeValues(['a', 'd', 'c', 'b'], ['a', 'b', 'c', 'd'], setType)).toEqual(['a', 'b', 'c', 'd']);
    // a shared item met before its turn is skipped and emitted at its config position
    expect(mergeValues(['x', 'b', 'y', 'a'], ['a', 'b'], setType)).toEqual(['x', 'y', 'a', 'b']);
    expect(mergeValues(['a', 'b'], [], setType)).toEqual(['a', 'b']);
    expect(mergeValues(['a', 'b'], null, setType)).toEqual(['a', 'b']);
    expect(mergeValues([], null, setType)).toBeNull();
  });
  it('keeps live children when the config has null or {} for a granular struct', () => {
    expect(mergeValues({ spec: { struct: { a: 'x' } } }, { spec: { struct: null } }, root)).toEqual({
      spec: { struct: { a: 'x' } },
    });
    expect(mergeValues({ spec: { struct: {} } }, { spec: { struct: null } }, root)).toEqual({ spec: { struct: null } });
  });
  it('turns a granular container emptied by removal into null', () => {
    const toRemove = FieldSet.fromPaths([[f('spec'), f('struct'), f('a')]]);
    expect(removeItems({ spec: { struct: { a: 'x' } } }, toRemove, root)).toEqual({ spec: { struct: null } });
  });
});

describe('validation of apply configurations', () => {
  const errs = (v: unknown) => formatValidationErrors(validateValue(v, root));
  it('reports undeclared fields, wrong types, keyless and duplicate items like smd', () => {
    expect(errs({ spec: { nope: 1 } })).toBe('.spec.nope: field not declared in schema');
    expect(errs({ spec: { replicas: '3' } })).toBe('.spec.replicas: expected numeric (int or float), got string');
    expect(errs({ spec: { items: [{ name: 'a' }, { name: 'a' }] } })).toBe(
      '.spec.items: duplicate entries for key [name="a"]',
    );
    expect(errs({ spec: { items: [{ v: 1 }] } })).toMatch(
      /^\.spec\.items: element 0: associative list with keys has an element that omits all key fields/,
    );
    expect(errs({ spec: { set: [{ a: 1 }] } })).toBe(
      ".spec.set: element 0: associative list without keys has an element that's a map type",
    );
    expect(errs({ spec: { items: [null] } })).toBe(
      '.spec.items: element 0: associative list with keys may not have a null element',
    );
    expect(errs({ metadata: { labels: { a: 1 } }, spec: { struct: 'x' } })).toBe(
      'errors:\n  .metadata.labels.a: expected string, got 1\n  .spec.struct: expected map, got "x"',
    );
    expect(validateValue({ apiVersion: 'v1', spec: { free: { anything: [1, { b: null }] }, port: 80 } }, root)).toEqual(
      [],
    );
  });
});

describe('EnsureNamedFieldsAreMembers', () => {
  it('adds declared struct-field ancestors but not list items or map entries', () => {
    const set = FieldSet.fromPaths([
      [f('spec'), f('items'), keyPE([['name', 'a']]), f('v')],
      [f('spec'), f('labels'), f('k')],
      [f('spec'), f('free'), f('x'), f('y')],
    ]);
    expect(ensureNamedFieldsAreMembers(set, root).toStrings()).toEqual([
      '.spec',
      '.spec.free',
      '.spec.items',
      '.spec.labels',
      '.spec.free.x.y',
      '.spec.items[name="a"].v',
      '.spec.labels.k',
    ]);
  });
});
