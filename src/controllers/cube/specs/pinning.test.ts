import type { V1Pod } from '@kubernetes/client-node';
import type { Unit, UnitSet } from '../../../api/generated/types.js';
import { pinDecision, pinnedNodeAnnotation, pinnedPod, pinOf, waitsForStalePin } from './pinning.js';

const pod = (spec: V1Pod['spec'], status?: V1Pod['status']): V1Pod => ({ metadata: { name: 'db-0' }, spec, status });
const unit = (pinnedNode?: string) => ({ metadata: { name: 'db-0' }, spec: { pinnedNode } }) as unknown as Unit;
const unitSet = (pinToNode?: boolean) => ({ spec: { scheduling: { pinToNode } } }) as unknown as UnitSet;

describe('node pinning', () => {
  it('ANDs the node into every required term and records it on the Pod', () => {
    const p = pod({
      containers: [],
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [
              { matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] },
              { matchExpressions: [{ key: 'zone', operator: 'In', values: ['b'] }] },
            ],
          },
        },
      },
    });
    const pinned = pinnedPod(p, 'node-2');
    const terms =
      pinned.spec!.affinity!.nodeAffinity!.requiredDuringSchedulingIgnoredDuringExecution!.nodeSelectorTerms;
    expect(terms.map((t) => t.matchExpressions!.map((e) => `${e.key}=${e.values}`))).toEqual([
      ['zone=a', 'kubernetes.io/hostname=node-2'],
      ['zone=b', 'kubernetes.io/hostname=node-2'],
    ]);
    expect(pinned.metadata!.annotations![pinnedNodeAnnotation]).toBe('node-2');
    expect(pinOf(pinned)).toBe('node-2');
    expect(
      p.spec!.affinity!.nodeAffinity!.requiredDuringSchedulingIgnoredDuringExecution!.nodeSelectorTerms[0]
        .matchExpressions,
    ).toHaveLength(1);
    expect(pinnedPod(p, undefined)).toBe(p);
    expect(
      pinnedPod(pod({ containers: [] }), 'n').spec!.affinity!.nodeAffinity!
        .requiredDuringSchedulingIgnoredDuringExecution!.nodeSelectorTerms,
    ).toEqual([{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['n'] }] }]);
  });

  it('pins a Unit of a pinning UnitSet once its Pod runs, and unpins when the UnitSet opts out', () => {
    const running = pod({ containers: [], nodeName: 'node-3' }, { phase: 'Running' });
    expect(pinDecision(unit(), unitSet(), running)).toBe('node-3');
    expect(
      pinDecision(unit(), unitSet(true), pod({ containers: [], nodeName: 'node-3' }, { phase: 'Pending' })),
    ).toBeUndefined();
    expect(pinDecision(unit('node-1'), unitSet(), running)).toBeUndefined();
    expect(pinDecision(unit('node-1'), unitSet(false), running)).toBeNull();
    expect(pinDecision(unit(), unitSet(false), running)).toBeUndefined();
    expect(pinDecision(unit(), undefined, running)).toBeUndefined();
  });

  it('replaces only an unscheduled Pod waiting for another node than the pin', () => {
    const waiting = pinnedPod(pod({ containers: [] }), 'node-1');
    expect(waitsForStalePin(unit('node-1'), waiting)).toBe(false);
    expect(waitsForStalePin(unit(undefined), waiting)).toBe(true);
    expect(waitsForStalePin(unit('node-2'), { ...waiting, spec: { ...waiting.spec!, nodeName: 'node-1' } })).toBe(
      false,
    );
  });
});
