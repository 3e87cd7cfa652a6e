import { builtinPatchMeta } from '../../machinery/protobuf/patch-meta.js';
import { applyStrategicMergePatch, StrategicPatchError } from './strategic-merge-patch.js';

const podMeta = builtinPatchMeta('v1', 'Pod');
const pod = (spec: Record<string, unknown>, metadata: Record<string, unknown> = { name: 'web' }) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata,
  spec,
});
const names = (list: unknown) => (list as { name: string }[]).map((i) => i.name);
const patchPod = (original: unknown, patch: Record<string, unknown>) =>
  applyStrategicMergePatch(original, patch, podMeta) as any;

describe('strategic merge patch with the Pod type’s metadata', () => {
  it('merges maps key by key and deletes keys set to null', () => {
    const out = patchPod(pod({}, { name: 'web', labels: { app: 'web', tier: 'fe' } }), {
      metadata: { labels: { tier: null, track: 'stable' } },
    });
    expect(out.metadata.labels).toEqual({ app: 'web', track: 'stable' });
  });

  it('merges containers by name and replaces lists without a strategy', () => {
    const original = pod({
      containers: [
        { name: 'app', image: 'app:1', args: ['a', 'b'], env: [{ name: 'A', value: '1' }] },
        { name: 'side', image: 'side:1' },
      ],
    });
    const out = patchPod(original, {
      spec: {
        containers: [
          { name: 'app', image: 'app:2', args: ['c'], env: [{ name: 'B', value: '2' }] },
          { name: 'new', image: 'new:1' },
        ],
      },
    });
    // kube's order: the patch's items in patch order; a server-only item goes before a patch item
    // only when both are in the live list and it came first there, so new items come before it.
    expect(out.spec.containers).toEqual([
      {
        name: 'app',
        image: 'app:2',
        args: ['c'],
        env: [
          { name: 'B', value: '2' },
          { name: 'A', value: '1' },
        ],
      },
      { name: 'new', image: 'new:1' },
      { name: 'side', image: 'side:1' },
    ]);
  });

  it('orders the patch’s items as the patch does and server-only items by their place in the live list', () => {
    const original = pod({ containers: [{ name: 'b' }, { name: 'c' }, { name: 'a' }] });
    const out = patchPod(original, {
      spec: { containers: [{ name: 'a', image: "a'" }, { name: 'b', image: "b'" }, { name: 'd' }] },
    });
    expect(names(out.spec.containers)).toEqual(['c', 'a', 'b', 'd']);
  });

  it('follows $setElementOrder and interleaves server-only items by their live positions', () => {
    const original = pod({
      containers: [{ name: '1', x: 'a' }, { name: '2' }, { name: '9' }, { name: '3' }, { name: '4' }],
    });
    const out = patchPod(original, {
      spec: { '$setElementOrder/containers': [{ name: '2' }, { name: '1' }, { name: '4' }, { name: '3' }] },
    });
    expect(names(out.spec.containers)).toEqual(['2', '1', '9', '4', '3']);
    expect(out.spec.containers[1]).toEqual({ name: '1', x: 'a' });
    expect(out.spec).not.toHaveProperty('$setElementOrder/containers');
  });

  it('deletes list items with $patch: delete and replaces a whole list with $patch: replace', () => {
    const original = pod({ containers: [{ name: 'a' }, { name: 'b' }, { name: 'c' }] });
    expect(
      names(patchPod(original, { spec: { containers: [{ name: 'b', $patch: 'delete' }] } }).spec.containers),
    ).toEqual(['a', 'c']);
    const replaced = patchPod(original, { spec: { containers: [{ $patch: 'replace' }, { name: 'z', image: 'z' }] } });
    expect(replaced.spec.containers).toEqual([{ name: 'z', image: 'z' }]);
  });

  it('replaces or deletes a map with $patch, and drops directives from values it adds', () => {
    const original = pod({ nodeSelector: { a: '1', b: '2' }, containers: [] });
    expect(patchPod(original, { spec: { nodeSelector: { $patch: 'replace', c: '3' } } }).spec.nodeSelector).toEqual({
      c: '3',
    });
    expect(patchPod(original, { spec: { nodeSelector: { $patch: 'delete' } } }).spec.nodeSelector).toEqual({});
    const added = patchPod(original, {
      spec: { securityContext: { runAsUser: 1, seLinuxOptions: { $patch: 'delete' }, fsGroup: null } },
    });
    expect(added.spec.securityContext).toEqual({ runAsUser: 1 });
  });

  it('unions primitive merge lists and removes values with $deleteFromPrimitiveList', () => {
    const original = pod({}, { name: 'web', finalizers: ['a', 'b'] });
    expect(patchPod(original, { metadata: { finalizers: ['b', 'c'] } }).metadata.finalizers).toEqual(['a', 'b', 'c']);
    expect(
      patchPod(original, { metadata: { '$deleteFromPrimitiveList/finalizers': ['a'] } }).metadata.finalizers,
    ).toEqual(['b']);
  });

  it('keeps only $retainKeys in a volume, so switching its source drops the old one', () => {
    const original = pod({ volumes: [{ name: 'data', emptyDir: {} }] });
    const out = patchPod(original, {
      spec: { volumes: [{ name: 'data', configMap: { name: 'cfg' }, $retainKeys: ['configMap', 'name'] }] },
    });
    expect(out.spec.volumes).toEqual([{ name: 'data', configMap: { name: 'cfg' } }]);
    expect(() =>
      patchPod(original, { spec: { volumes: [{ name: 'data', secret: { secretName: 's' }, $retainKeys: ['name'] }] } }),
    ).toThrow(StrategicPatchError);
  });

  it('merges ports by containerPort (a number) and leaves the input objects alone', () => {
    const original = pod({ containers: [{ name: 'app', ports: [{ containerPort: 80 }, { containerPort: 443 }] }] });
    const snapshot = JSON.stringify(original);
    const out = patchPod(original, {
      spec: { containers: [{ name: 'app', ports: [{ containerPort: 443, name: 'https' }] }] },
    });
    expect(out.spec.containers[0].ports).toEqual([{ containerPort: 80 }, { containerPort: 443, name: 'https' }]);
    expect(JSON.stringify(original)).toBe(snapshot);
  });

  it('rejects list items without their merge key and unknown directives', () => {
    const original = pod({ containers: [{ name: 'a' }] });
    expect(() => patchPod(original, { spec: { containers: [{ image: 'x' }] } })).toThrow(
      'does not contain declared merge key: name',
    );
    expect(() => patchPod(original, { spec: { $patch: 'explode' } })).toThrow('Unknown patch type: explode');
  });
});
