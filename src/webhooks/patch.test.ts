import { applyJSONPatch, parseJSONPatch } from '../apiserver/patch/json-patch.js';
import { createJSONPatch } from './patch.js';

/** Applies the generated patch with the API server's RFC 6902 implementation. */
function roundTrip(before: unknown, after: unknown): unknown {
  const ops = createJSONPatch(before, after);
  return applyJSONPatch(structuredClone(before), parseJSONPatch(JSON.parse(JSON.stringify(ops))));
}

describe('JSON patch generator', () => {
  it('produces nothing for equal documents', () => {
    expect(createJSONPatch({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] })).toEqual([]);
  });

  it('adds a missing map whole and escapes keys', () => {
    const before = { metadata: { name: 'p' } };
    const after = { metadata: { name: 'p', annotations: { 'sidecarset.upm.io/injected': '{}' } } };
    expect(createJSONPatch(before, after)).toEqual([
      { op: 'add', path: '/metadata/annotations', value: { 'sidecarset.upm.io/injected': '{}' } },
    ]);
    const withMap = { metadata: { annotations: { a: '1' } } };
    expect(createJSONPatch(withMap, { metadata: { annotations: { a: '1', 'x/y~z': '2' } } })).toEqual([
      { op: 'add', path: '/metadata/annotations/x~1y~0z', value: '2' },
    ]);
  });

  it('appends with "-" and inserts in the middle at the index', () => {
    const c = (name: string) => ({ name, image: name });
    expect(createJSONPatch({ containers: [c('a')] }, { containers: [c('a'), c('b'), c('c')] })).toEqual([
      { op: 'add', path: '/containers/-', value: c('b') },
      { op: 'add', path: '/containers/-', value: c('c') },
    ]);
    expect(createJSONPatch({ containers: [c('a')] }, { containers: [c('s'), c('a')] })).toEqual([
      { op: 'add', path: '/containers/0', value: c('s') },
    ]);
  });

  it('replaces changed scalars, patches changed elements in place and removes dropped keys', () => {
    expect(createJSONPatch({ a: 1, b: [{ x: 1 }, { x: 2 }], c: true }, { a: 2, b: [{ x: 1 }, { x: 3 }] })).toEqual([
      { op: 'remove', path: '/c' },
      { op: 'replace', path: '/a', value: 2 },
      { op: 'replace', path: '/b/1/x', value: 3 },
    ]);
  });

  it('turns any document into any other when applied (checked by applying the patch)', () => {
    const cases: [unknown, unknown][] = [
      [{ spec: { containers: [{ name: 'a' }] } }, { spec: { containers: [{ name: 'a' }], volumes: [{ name: 'v' }] } }],
      [{ l: [1, 2, 3, 4] }, { l: [1, 9, 9, 4] }],
      [{ l: [1, 2, 3, 4] }, { l: [0, 1, 4] }],
      [{ l: [1, 2, 3, 4] }, { l: [] }],
      [{ l: [] }, { l: [[1], { a: null }] }],
      [{ a: { b: { c: 1 } } }, { a: { b: 'flat' } }],
      [{ a: [1] }, { a: { 0: 1 } }],
      [
        { 'a/b': 1, '~': 2 },
        { 'a/b': 2, '~': { '/': 3 } },
      ],
      [
        [1, 2],
        [2, 1],
      ],
    ];
    for (const [before, after] of cases) expect(roundTrip(before, after)).toEqual(after);
  });

  it('round-trips random documents', () => {
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const gen = (depth: number): unknown => {
      const k = rand(depth > 2 ? 3 : 6);
      if (k === 0) return rand(5);
      if (k === 1) return ['x', 'y/z', '~a'][rand(3)];
      if (k === 2) return null;
      if (k === 3) return Array.from({ length: rand(4) }, () => gen(depth + 1));
      return Object.fromEntries(
        Array.from({ length: rand(4) }, () => [['a', 'b', 'c/d', 'e~'][rand(4)], gen(depth + 1)]),
      );
    };
    for (let i = 0; i < 500; i++) {
      const before = gen(0);
      const after = gen(0);
      expect(roundTrip(before, after)).toEqual(after);
    }
  });
});
