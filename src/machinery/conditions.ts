// Status conditions as Kubernetes keeps them (k8s.io/apimachinery/pkg/api/meta SetStatusCondition):
// one entry per type; `lastTransitionTime` moves only when `status` changes.

import { formatTime } from './time.js';

export type ConditionStatus = 'True' | 'False' | 'Unknown';

/** metav1.Condition, plus whatever else a kind's conditions carry (a Pod's lastProbeTime). */
export interface Condition {
  type: string;
  status: ConditionStatus | string;
  reason?: string;
  message?: string;
  observedGeneration?: number;
  lastTransitionTime?: string;
  [field: string]: unknown;
}

export function findCondition<C extends { type: string }>(
  conditions: readonly C[] | null | undefined,
  type: string,
): C | undefined {
  return conditions?.find((c) => c.type === type);
}

/** Whether the condition of `type` has status True. */
export function isConditionTrue(conditions: readonly Condition[] | null | undefined, type: string): boolean {
  return findCondition(conditions, type)?.status === 'True';
}

/**
 * `conditions` with `next` set in place of the entry of its type (appended when there is none). The
 * entry's lastTransitionTime is kept while its status stays the same, and is `next`'s or now when it
 * changes. `changed` is false, and `conditions` the input array, when nothing would change.
 */
export function setCondition<C extends Condition>(
  conditions: readonly C[] | null | undefined,
  next: C,
  now: Date = new Date(),
): { conditions: C[]; changed: boolean } {
  const list = conditions ?? [];
  const old = findCondition(list, next.type);
  const lastTransitionTime =
    old && old.status === next.status && old.lastTransitionTime
      ? old.lastTransitionTime
      : (next.lastTransitionTime ?? formatTime(now));
  const merged = { ...next, lastTransitionTime } as C;
  if (old && sameCondition(old, merged)) return { conditions: [...list], changed: false };
  return {
    conditions: old ? list.map((c) => (c === old ? merged : c)) : [...list, merged],
    changed: true,
  };
}

/** `conditions` without the entry of `type`. */
export function removeCondition<C extends { type: string }>(
  conditions: readonly C[] | null | undefined,
  type: string,
): C[] {
  return (conditions ?? []).filter((c) => c.type !== type);
}

function sameCondition(a: Condition, b: Condition): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) if (a[k] !== b[k]) return false;
  return true;
}
