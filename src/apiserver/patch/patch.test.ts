import { applyJSONPatch, JSONPatchError, parseJSONPatch } from './json-patch.js';
import { applyMergePatch } from './merge-patch.js';

describe('merge patch (RFC 7386)', () => {
  it.each([
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ])('%j + %j = %j', (target, patch, result) => {
    expect(applyMergePatch(target, patch)).toEqual(result);
  });
});

describe('JSON patch (RFC 6902)', () => {
  const doc = { metadata: { labels: { 'a/b': 'x' } }, spec: { list: [1, 2, 3] } };
  it('applies add, remove, replace, move, copy and test with escaped pointers', () => {
    const out = applyJSONPatch(
      doc,
      parseJSONPatch([
        { op: 'test', path: '/metadata/labels/a~1b', value: 'x' },
        { op: 'add', path: '/spec/list/1', value: 9 },
        { op: 'add', path: '/spec/list/-', value: 4 },
        { op: 'remove', path: '/spec/list/0' },
        { op: 'replace', path: '/metadata/labels/a~1b', value: 'y' },
        { op: 'copy', from: '/spec/list', path: '/spec/copy' },
        { op: 'move', from: '/spec/copy', path: '/spec/moved' },
      ]),
    );
    expect(out).toEqual({ metadata: { labels: { 'a/b': 'y' } }, spec: { list: [9, 2, 3, 4], moved: [9, 2, 3, 4] } });
    expect(doc.spec.list).toEqual([1, 2, 3]);
  });

  it('fails on a failed test, a missing path or an out-of-range index', () => {
    expect(() => applyJSONPatch(doc, parseJSONPatch([{ op: 'test', path: '/spec/list/0', value: 2 }]))).toThrow(
      JSONPatchError,
    );
    expect(() => applyJSONPatch(doc, parseJSONPatch([{ op: 'remove', path: '/spec/nope' }]))).toThrow(JSONPatchError);
    expect(() => applyJSONPatch(doc, parseJSONPatch([{ op: 'add', path: '/spec/list/7', value: 1 }]))).toThrow(
      JSONPatchError,
    );
    expect(() => applyJSONPatch(doc, parseJSONPatch([{ op: 'add', path: '/missing/child', value: 1 }]))).toThrow(
      JSONPatchError,
    );
    expect(() => parseJSONPatch({ op: 'add' })).toThrow(JSONPatchError);
  });
});
