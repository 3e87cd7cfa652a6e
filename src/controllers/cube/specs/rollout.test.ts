import type { Unit } from '../../../api/generated/types.js';
import { planRollout, planScale, resolveMaxUnavailable, unitState, type UnitState } from './rollout.js';
import { testUnitSet } from './testing/fixtures.js';

const NEW = 'new-rev';
const OLD = 'old-rev';

/** Units orders-0..n-1, all Ready on OLD unless told otherwise. */
function units(n: number, edit: Record<number, Partial<UnitState>> = {}): UnitState[] {
  return Array.from({ length: n }, (_, i) => ({
    name: `orders-${i}`,
    ordinal: i,
    revision: OLD,
    ready: true,
    ...edit[i],
  }));
}

describe('resolveMaxUnavailable', () => {
  it('takes a count or a percentage of spec.units rounded down, at least 1', () => {
    const us = (maxUnavailable: number | string, n = 10) =>
      testUnitSet({ units: n, updateStrategy: { rollingUpdate: { maxUnavailable } } });
    expect(resolveMaxUnavailable(testUnitSet())).toBe(1);
    expect(resolveMaxUnavailable(us(3))).toBe(3);
    expect(resolveMaxUnavailable(us('25%'))).toBe(2);
    expect(resolveMaxUnavailable(us('5%'))).toBe(1);
    expect(resolveMaxUnavailable(us(0))).toBe(1);
  });
});

describe('planScale', () => {
  it('creates every missing ordinal at once', () => {
    const plan = planScale(
      testUnitSet({ units: 5 }),
      units(3).filter((u) => u.ordinal !== 1),
    );
    expect(plan).toEqual({ create: ['orders-1', 'orders-3', 'orders-4'], remove: [] });
  });

  it('removes from the highest ordinal with the whenScaled claim policy', () => {
    const us = testUnitSet({ units: 2, storage: { persistentVolumeClaimRetentionPolicy: { whenScaled: 'Delete' } } });
    const plan = planScale(us, units(5, { 3: { volumeClaimRetentionPolicy: 'Delete' }, 4: { terminating: true } }));
    expect(plan.create).toEqual([]);
    expect(plan.remove).toEqual([
      { name: 'orders-3', ordinal: 3, claims: 'Delete', policySet: true },
      { name: 'orders-2', ordinal: 2, claims: 'Delete', policySet: false },
    ]);
  });

  it('retains the claims by default', () => {
    const plan = planScale(testUnitSet({ units: 1 }), units(2, { 1: { volumeClaimRetentionPolicy: 'Delete' } }));
    expect(plan.remove).toEqual([{ name: 'orders-1', ordinal: 1, claims: 'Retain', policySet: false }]);
  });
});

describe('planRollout', () => {
  it('updates one Unit at a time from the highest ordinal, waiting for readiness', () => {
    const us = testUnitSet({ units: 3 });
    expect(planRollout(us, units(3), NEW)).toEqual({
      update: ['orders-2'],
      pending: ['orders-0', 'orders-1'],
      held: [],
      complete: false,
      blocked: { reason: 'WaitingForReady', message: 'waiting for orders-2 to be Ready (maxUnavailable 1)' },
    });
    // orders-2 was updated and is not Ready yet: nothing else moves.
    const waiting = planRollout(us, units(3, { 2: { revision: NEW, ready: false } }), NEW);
    expect(waiting.update).toEqual([]);
    expect(waiting.blocked).toEqual({
      reason: 'WaitingForReady',
      message: 'waiting for orders-2 to be Ready (maxUnavailable 1)',
    });
    expect(planRollout(us, units(3, { 2: { revision: NEW } }), NEW).update).toEqual(['orders-1']);
    const done = planRollout(us, units(3, { 0: { revision: NEW }, 1: { revision: NEW }, 2: { revision: NEW } }), NEW);
    expect(done).toEqual({ update: [], pending: [], held: [], complete: true });
  });

  it('updates replicas before the primary, and the primary only once the others are updated and Ready', () => {
    const us = testUnitSet({ units: 3 });
    const roles = { 0: {}, 2: { role: 'primary' } };
    expect(planRollout(us, units(3, roles), NEW).update).toEqual(['orders-1']);
    const step2 = planRollout(us, units(3, { ...roles, 1: { revision: NEW } }), NEW);
    expect(step2.update).toEqual(['orders-0']);
    const replicasNotReady = planRollout(
      us,
      units(3, { 0: { revision: NEW, ready: false }, 1: { revision: NEW }, 2: { role: 'primary' } }),
      NEW,
    );
    expect(replicasNotReady.update).toEqual([]);
    expect(replicasNotReady.blocked).toEqual({
      reason: 'WaitingForReplicas',
      message: 'primary orders-2 is updated after orders-0 run the update revision and are Ready',
    });
    const last = planRollout(us, units(3, { 0: { revision: NEW }, 1: { revision: NEW }, 2: { role: 'Primary' } }), NEW);
    expect(last.update).toEqual(['orders-2']);
  });

  it('keeps the primary last even when maxUnavailable would allow more at once', () => {
    const us = testUnitSet({ units: 3, updateStrategy: { rollingUpdate: { maxUnavailable: 3 } } });
    const plan = planRollout(us, units(3, { 0: { role: 'primary' } }), NEW);
    expect(plan.update).toEqual(['orders-2', 'orders-1']);
    expect(plan.blocked?.reason).toBe('WaitingForReplicas');
  });

  it('goes strictly by ordinal with order Ordinal', () => {
    const us = testUnitSet({ units: 3, updateStrategy: { rollingUpdate: { order: 'Ordinal' } } });
    expect(planRollout(us, units(3, { 2: { role: 'primary' } }), NEW).update).toEqual(['orders-2']);
  });

  it('leaves Units below the partition on their revision', () => {
    const us = testUnitSet({ units: 4, updateStrategy: { rollingUpdate: { partition: 2 } } });
    expect(planRollout(us, units(4), NEW).update).toEqual(['orders-3']);
    const reached = planRollout(us, units(4, { 2: { revision: NEW }, 3: { revision: NEW } }), NEW);
    expect(reached).toEqual({ update: [], pending: [], held: ['orders-0', 'orders-1'], complete: true });
  });

  it('updates as many Units as maxUnavailable allows, counting Units already down', () => {
    const us = testUnitSet({ units: 4, updateStrategy: { rollingUpdate: { maxUnavailable: '50%' } } });
    expect(planRollout(us, units(4), NEW).update).toEqual(['orders-3', 'orders-2']);
    // orders-0 is down for another reason: only one more may go, but updating orders-0 itself costs nothing.
    expect(planRollout(us, units(4, { 0: { ready: false } }), NEW).update).toEqual(['orders-3', 'orders-0']);
  });

  it('applies non-disruptive updates to every Unit at once', () => {
    const all = units(3, {
      0: { disruptive: false },
      1: { disruptive: false },
      2: { disruptive: false, ready: false },
    });
    expect(planRollout(testUnitSet({ units: 3 }), all, NEW).update).toEqual(['orders-2', 'orders-1', 'orders-0']);
  });

  it('waits for deletion with OnDelete', () => {
    const us = testUnitSet({ units: 2, updateStrategy: { type: 'OnDelete' } });
    expect(planRollout(us, units(2), NEW)).toEqual({
      update: [],
      pending: ['orders-0', 'orders-1'],
      held: [],
      complete: false,
      blocked: { reason: 'OnDelete', message: '2 Unit(s) are updated when deleted: orders-0, orders-1' },
    });
  });

  it('does not update Units that are being scaled away', () => {
    expect(planRollout(testUnitSet({ units: 2 }), units(3), NEW).update).toEqual(['orders-1']);
  });
});

describe('unitState', () => {
  const unit = (status: Unit['status'], labels: Record<string, string> = {}): Unit => ({
    apiVersion: 'upm.io/v1alpha1',
    kind: 'Unit',
    metadata: { name: 'orders-4', labels: { 'upm.io/revision': 'r1', ...labels } },
    spec: { unitTemplate: 't', podTemplate: { spec: {} } },
    status,
  });

  it('reads ordinal, revision, readiness and role', () => {
    expect(unitState('orders', unit({ ready: true, role: 'primary' }))).toEqual({
      name: 'orders-4',
      ordinal: 4,
      revision: 'r1',
      ready: true,
      role: 'primary',
      terminating: false,
      volumeClaimRetentionPolicy: undefined,
    });
  });

  it('falls back to the Ready condition and to the role label of the Pod', () => {
    const u = unit({
      conditions: [{ type: 'Ready', status: 'True', reason: 'R', message: '', lastTransitionTime: 'x' }],
    });
    const state = unitState('orders', u, { metadata: { labels: { 'upm.io/role': 'replica' } } }, false)!;
    expect(state.ready).toBe(true);
    expect(state.role).toBe('replica');
    expect(state.disruptive).toBe(false);
  });

  it('counts a Unit whose controller has not caught up with its latest spec as not ready', () => {
    // Updated by the UnitSet controller a moment ago: its Pod may be about to be replaced.
    const u = unit({ ready: true, observedGeneration: 2 });
    u.metadata.generation = 3;
    expect(unitState('orders', u)!.ready).toBe(false);
    u.status!.observedGeneration = 3;
    expect(unitState('orders', u)!.ready).toBe(true);
  });

  it('skips Units whose name is not <unitset>-<ordinal>', () => {
    const u = unit({});
    u.metadata.name = 'stranger';
    expect(unitState('orders', u)).toBeUndefined();
  });
});
