import { encodeForStorage, ServedObject, servedJSON } from './encoding.js';
import type { KubeObject } from '../../machinery/object.js';

const unitSet = (): KubeObject => ({
  spec: { units: 3, note: '"metadata":{ in a string' },
  metadata: { name: 'a', namespace: 'default', resourceVersion: '9', labels: { app: 'x' } },
  kind: 'UnitSet',
  apiVersion: 'upm.io/v1alpha1',
});

describe('stored and served JSON', () => {
  it('stores apiVersion, kind and metadata first, without the resourceVersion', () => {
    const stored = encodeForStorage(unitSet());
    expect(stored.startsWith('{"apiVersion":"upm.io/v1alpha1","kind":"UnitSet","metadata":{"name":"a"')).toBe(true);
    expect(JSON.parse(stored)).toEqual({
      ...unitSet(),
      metadata: { name: 'a', namespace: 'default', labels: { app: 'x' } },
    });
  });

  it('serves a stored value with the write revision as resourceVersion, without reparsing', () => {
    const text = servedJSON(encodeForStorage(unitSet()), 42);
    expect(JSON.parse(text)).toEqual({ ...unitSet(), metadata: { ...unitSet().metadata, resourceVersion: '42' } });
  });

  it.each([
    ['another key order', JSON.stringify({ kind: 'UnitSet', metadata: { name: 'a' }, apiVersion: 'upm.io/v1alpha1' })],
    ['an empty metadata', '{"apiVersion":"v1","kind":"X","metadata":{},"spec":{}}'],
    ['an escaped kind', '{"apiVersion":"v1","kind":"A\\"B","metadata":{"name":"a"}}'],
  ])('falls back to parsing for %s', (_what, stored) => {
    const served = JSON.parse(servedJSON(stored, 7)) as KubeObject;
    const expected = JSON.parse(stored) as KubeObject;
    expect(served).toEqual({ ...expected, metadata: { ...expected.metadata, resourceVersion: '7' } });
  });

  it('hands out one parsed instance while it is held, and the JSON of an object it was given', () => {
    const served = ServedObject.fromStored({ value: encodeForStorage(unitSet()), modRevision: 5 });
    const a = served.object();
    expect(served.object()).toBe(a);
    expect(a.metadata.resourceVersion).toBe('5');
    const obj = unitSet();
    const fromObject = ServedObject.fromObject(obj);
    expect(fromObject.object()).toBe(obj);
    expect(JSON.parse(fromObject.json)).toEqual(obj);
  });
});
