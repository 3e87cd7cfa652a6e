import { planRollout, type UnitState } from './rollout.js';
import { unitSetStatus, type UnitSetStatusInput } from './status.js';
import { testUnitSet } from './testing/fixtures.js';

const T0 = new Date('2026-03-01T10:00:00Z');
const T1 = new Date('2026-03-01T10:05:00Z');
const NEW = 'new-rev';
const OLD = 'old-rev';

function units(n: number, edit: Record<number, Partial<UnitState>> = {}): UnitState[] {
  return Array.from({ length: n }, (_, i) => ({
    name: `orders-${i}`,
    ordinal: i,
    revision: NEW,
    ready: true,
    ...edit[i],
  }));
}

function input(partial: Partial<UnitSetStatusInput> & { units: UnitState[] }): UnitSetStatusInput {
  const unitSet = partial.unitSet ?? testUnitSet();
  return {
    unitSet,
    template: { name: 'mariadb-community-10.11.8', revision: NEW },
    rollout: planRollout(unitSet, partial.units, NEW),
    now: T0,
    ...partial,
  };
}

const condition = (status: ReturnType<typeof unitSetStatus>, type: string) =>
  status.conditions?.find((c) => c.type === type);
const summary = (status: ReturnType<typeof unitSetStatus>) =>
  Object.fromEntries((status.conditions ?? []).map((c) => [c.type, `${c.status} ${c.reason}`]));

describe('unitSetStatus', () => {
  it('reports a UnitSet whose Units all run the update revision and are Ready', () => {
    const status = unitSetStatus(input({ units: units(3) }));
    expect(status).toMatchObject({
      observedGeneration: 3,
      units: 3,
      readyUnits: 3,
      updatedUnits: 3,
      currentRevision: NEW,
      updateRevision: NEW,
      template: 'mariadb-community-10.11.8',
      selector: 'upm.io/unitset=orders',
      services: { headless: 'orders-headless' },
    });
    expect(status.updatingUnits).toBeUndefined();
    expect(summary(status)).toEqual({
      TemplateResolved: 'True Resolved',
      Ready: 'True UnitsReady',
      Available: 'True MinimumUnitsAvailable',
      Progressing: 'False UpToDate',
      Degraded: 'False AsExpected',
    });
    expect(condition(status, 'Ready')).toEqual({
      type: 'Ready',
      status: 'True',
      reason: 'UnitsReady',
      message: '3 of 3 Units ready, 3 updated',
      observedGeneration: 3,
      lastTransitionTime: '2026-03-01T10:00:00Z',
    });
  });

  it('is progressing while scaling up, and available once enough Units are Ready', () => {
    const status = unitSetStatus(input({ units: units(2, { 1: { ready: false } }) }));
    expect(summary(status)).toMatchObject({
      Ready: 'False ScalingUp',
      Progressing: 'True ScalingUp',
      Available: 'False MinimumUnitsUnavailable',
    });
    expect(condition(status, 'Available')?.message).toBe('1 of 3 Units ready, 2 required');
    expect(summary(unitSetStatus(input({ units: units(3, { 2: { ready: false } }) })))).toMatchObject({
      Ready: 'False UnitsNotReady',
      Available: 'True MinimumUnitsAvailable',
      Progressing: 'False UpToDate',
    });
    expect(summary(unitSetStatus(input({ units: units(4) })))).toMatchObject({
      Ready: 'False ScalingDown',
      Progressing: 'True ScalingDown',
    });
  });

  it('tracks a rollout: current and update revision, updating Units, the reason it waits', () => {
    const unitSet = testUnitSet();
    unitSet.status = { currentRevision: OLD };
    const observed = units(3, { 0: { revision: OLD }, 1: { revision: OLD }, 2: { revision: NEW, ready: false } });
    const status = unitSetStatus(input({ unitSet, units: observed }));
    expect(status).toMatchObject({
      currentRevision: OLD,
      updateRevision: NEW,
      updatedUnits: 1,
      readyUnits: 2,
      updatingUnits: ['orders-2'],
    });
    expect(condition(status, 'Progressing')).toMatchObject({
      status: 'True',
      reason: 'Updating',
      message: 'waiting for orders-2 to be Ready (maxUnavailable 1)',
    });
    expect(condition(status, 'Ready')?.reason).toBe('Updating');
  });

  it('says when the partition holds Units back and when OnDelete waits', () => {
    const partitioned = testUnitSet({ updateStrategy: { rollingUpdate: { partition: 2 } } });
    partitioned.status = { currentRevision: OLD };
    const held = unitSetStatus(
      input({ unitSet: partitioned, units: units(3, { 0: { revision: OLD }, 1: { revision: OLD } }) }),
    );
    expect(condition(held, 'Progressing')).toMatchObject({
      status: 'False',
      reason: 'PartitionReached',
      message: `orders-0, orders-1 stay on revision ${OLD} below partition`,
    });
    const onDelete = testUnitSet({ updateStrategy: { type: 'OnDelete' } });
    const waiting = unitSetStatus(input({ unitSet: onDelete, units: units(3, { 0: { revision: OLD } }) }));
    expect(condition(waiting, 'Progressing')).toMatchObject({ status: 'False', reason: 'WaitingForDeletion' });
  });

  it('reports a missing template on Ready, TemplateResolved and Degraded', () => {
    const problem = { reason: 'TemplateNotFound', message: 'UnitTemplate mariadb-community-10.11.8 not found' };
    const status = unitSetStatus({ unitSet: testUnitSet(), units: [], template: { problem }, now: T0 });
    expect(summary(status)).toEqual({
      TemplateResolved: 'False TemplateNotFound',
      Ready: 'False TemplateNotFound',
      Available: 'False MinimumUnitsUnavailable',
      Progressing: 'False TemplateNotFound',
      Degraded: 'True TemplateNotFound',
    });
    expect(status.updateRevision).toBeUndefined();
  });

  it('reports problems as Degraded with every message', () => {
    const problems = [
      { reason: 'InvalidParameterValue', message: 'max_connections="5": below the minimum 10' },
      { reason: 'UnknownParameter', message: 'parameter "nope" is not defined' },
    ];
    const status = unitSetStatus(input({ units: units(3), problems }));
    expect(condition(status, 'Degraded')).toMatchObject({
      status: 'True',
      reason: 'InvalidParameterValue',
      message: 'max_connections="5": below the minimum 10; parameter "nope" is not defined',
    });
  });

  it('keeps lastTransitionTime while a condition keeps its status', () => {
    const unitSet = testUnitSet();
    unitSet.status = unitSetStatus(input({ units: units(3) }));
    const later = unitSetStatus(input({ unitSet, units: units(3), now: T1 }));
    expect(condition(later, 'Ready')?.lastTransitionTime).toBe('2026-03-01T10:00:00Z');
    const changed = unitSetStatus(input({ unitSet, units: units(3, { 0: { ready: false } }), now: T1 }));
    expect(condition(changed, 'Ready')?.lastTransitionTime).toBe('2026-03-01T10:05:00Z');
  });

  it('names the external Service when there is one', () => {
    const unitSet = testUnitSet({ services: { external: { type: 'ClusterIP' } } });
    expect(unitSetStatus(input({ unitSet, units: units(3) })).services).toEqual({
      headless: 'orders-headless',
      external: 'orders',
    });
  });
});
