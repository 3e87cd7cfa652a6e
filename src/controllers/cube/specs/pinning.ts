// Node pinning: a Unit whose data lives on one node keeps its Pods there. The requirement is added
// to the Pod when it is created, after the restart revision is hashed, so pinning never counts as a
// change that replaces a running Pod; the Pod records the node it was pinned to so that an
// in-place update applies exactly the spec the Pod was created with (a Pod's spec is immutable).

import type { V1Pod, V1PodSpec } from '@kubernetes/client-node';
import type { Unit, UnitSet } from '../../../api/generated/types.js';

export const pinnedNodeAnnotation = 'upm.io/pinned-node';
const hostnameLabel = 'kubernetes.io/hostname';

/** `pod` required to run on `node` (ANDed into every node selector term), or `pod` itself without a node. */
export function pinnedPod(pod: V1Pod, node: string | undefined): V1Pod {
  if (!node) return pod;
  const spec: V1PodSpec = structuredClone(pod.spec!);
  const affinity = (spec.affinity ??= {});
  const nodeAffinity = (affinity.nodeAffinity ??= {});
  const required = (nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution ??= { nodeSelectorTerms: [] });
  if (required.nodeSelectorTerms.length === 0) required.nodeSelectorTerms.push({});
  const requirement = { key: hostnameLabel, operator: 'In', values: [node] };
  required.nodeSelectorTerms = required.nodeSelectorTerms.map((t) => ({
    ...t,
    matchExpressions: [...(t.matchExpressions ?? []), requirement],
  }));
  return {
    ...pod,
    metadata: { ...pod.metadata, annotations: { ...pod.metadata?.annotations, [pinnedNodeAnnotation]: node } },
    spec,
  };
}

/** The node `pod` was pinned to when it was created. */
export const pinOf = (pod: V1Pod): string | undefined => pod.metadata?.annotations?.[pinnedNodeAnnotation];

/**
 * What the Unit's spec.pinnedNode should become: the node its Pod runs on once placed, when its
 * UnitSet pins Units; nothing when the UnitSet stopped pinning (null: remove it); undefined to
 * leave it as it is. A Unit outside a UnitSet keeps whatever its user set.
 */
export function pinDecision(
  unit: Unit,
  unitSet: UnitSet | undefined,
  pod: V1Pod | undefined,
): string | null | undefined {
  if (!unitSet) return undefined;
  const pinning = unitSet.spec.scheduling?.pinToNode ?? true;
  if (!pinning) return unit.spec.pinnedNode ? null : undefined;
  if (unit.spec.pinnedNode) return undefined;
  const node = pod?.spec?.nodeName;
  const placed = pod?.status?.phase === 'Running' && !pod.metadata?.deletionTimestamp;
  return node && placed ? node : undefined;
}

/** Whether `pod` waits for a node other than the one the Unit is pinned to now (it must be replaced). */
export function waitsForStalePin(unit: Unit, pod: V1Pod): boolean {
  return !pod.spec?.nodeName && (pinOf(pod) ?? '') !== (unit.spec.pinnedNode ?? '');
}
