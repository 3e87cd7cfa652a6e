// The status of a UnitSet from what its controller observed: counts, revisions, and conditions
// Ready, Available, Progressing, Degraded and TemplateResolved with reasons.

import { setCondition, type Condition as MachineryCondition } from '../../../machinery/conditions.js';
import type { Condition, UnitSet, UnitSetStatus } from '../../../api/generated/types.js';
import { unitSetLabel } from '../../../api/labels.js';
import { clientServiceName, headlessServiceName } from './names.js';
import { resolveMaxUnavailable, type RolloutPlan, type UnitState } from './rollout.js';

export interface Problem {
  /** CamelCase reason, for example InvalidParameterValue or CreateFailed. */
  reason: string;
  message: string;
}

export interface UnitSetStatusInput {
  unitSet: UnitSet;
  /** The existing Units of the set. */
  units: readonly UnitState[];
  /** The UnitTemplate resolution: its name when found, or why not. */
  template: { name: string; revision: string } | { problem: Problem };
  /** The rollout step planned in this pass (planRollout), when the template resolved. */
  rollout?: RolloutPlan;
  /** What stops the controller from creating or updating Units (Degraded). */
  problems?: readonly Problem[];
  now: Date;
}

/** The full status to write; conditions keep their lastTransitionTime while their status stays. */
export function unitSetStatus(input: UnitSetStatusInput): UnitSetStatus {
  const { unitSet, units, now } = input;
  const name = unitSet.metadata.name!;
  const want = unitSet.spec.units;
  const previous = unitSet.status ?? {};
  const resolved = 'name' in input.template ? input.template : undefined;
  const updateRevision = resolved?.revision ?? previous.updateRevision;

  const readyUnits = units.filter((u) => u.ready && !u.terminating).length;
  const updated = units.filter((u) => updateRevision !== undefined && u.revision === updateRevision);
  const live = units.filter((u) => u.ordinal < want);
  const allUpdated = live.length === want && live.every((u) => u.revision === updateRevision);
  // As a StatefulSet's: the current revision moves once every Unit runs the update revision and is Ready.
  const rolledOut = allUpdated && live.every((u) => u.ready && !u.terminating);
  const status: UnitSetStatus = {
    observedGeneration: unitSet.metadata.generation,
    units: units.length,
    readyUnits,
    updatedUnits: updated.length,
    selector: `${unitSetLabel}=${name}`,
    services: { headless: headlessServiceName(name) },
  };
  if (updateRevision !== undefined) {
    status.updateRevision = updateRevision;
    status.currentRevision = rolledOut
      ? updateRevision
      : (previous.currentRevision ??
        mostCommon(units.map((u) => u.revision).filter((r) => r !== updateRevision)) ??
        updateRevision);
  }
  const template = resolved?.name ?? previous.template;
  if (template !== undefined) status.template = template;
  const external = unitSet.spec.services?.external?.type;
  if (external && external !== 'None') status.services!.external = clientServiceName(name);
  const updating = new Set([
    ...(input.rollout?.update ?? []),
    ...updated.filter((u) => !u.ready && u.ordinal < want).map((u) => u.name),
  ]);
  if (updating.size > 0) status.updatingUnits = [...updating].sort().slice(0, 1024);

  let conditions = (previous.conditions ?? []) as unknown as MachineryCondition[];
  const set = (c: Omit<Condition, 'lastTransitionTime' | 'observedGeneration'>) => {
    conditions = setCondition(
      conditions,
      { ...c, observedGeneration: unitSet.metadata.generation } as MachineryCondition,
      now,
    ).conditions;
  };

  // TemplateResolved
  if ('problem' in input.template) set({ type: 'TemplateResolved', status: 'False', ...input.template.problem });
  else
    set({
      type: 'TemplateResolved',
      status: 'True',
      reason: 'Resolved',
      message: `UnitTemplate ${input.template.name}`,
    });

  // Ready: every wanted Unit exists, runs the update revision and is Ready.
  const unitsText = `${readyUnits} of ${want} Units ready, ${updated.length} updated`;
  if ('problem' in input.template)
    set({
      type: 'Ready',
      status: 'False',
      reason: input.template.problem.reason,
      message: input.template.problem.message,
    });
  else if (units.length < want)
    set({ type: 'Ready', status: 'False', reason: 'ScalingUp', message: `${units.length} of ${want} Units exist` });
  else if (units.length > want)
    set({
      type: 'Ready',
      status: 'False',
      reason: 'ScalingDown',
      message: `${units.length} Units exist, ${want} wanted`,
    });
  else if (!allUpdated) set({ type: 'Ready', status: 'False', reason: 'Updating', message: unitsText });
  else if (readyUnits < want) set({ type: 'Ready', status: 'False', reason: 'UnitsNotReady', message: unitsText });
  else set({ type: 'Ready', status: 'True', reason: 'UnitsReady', message: unitsText });

  // Available: no more Units down than the update strategy allows.
  const minimum = Math.max(0, want - resolveMaxUnavailable(unitSet));
  const readyWanted = live.filter((u) => u.ready && !u.terminating).length;
  if (readyWanted >= minimum) {
    set({
      type: 'Available',
      status: 'True',
      reason: 'MinimumUnitsAvailable',
      message: `${readyWanted} of ${want} Units ready, ${minimum} required`,
    });
  } else {
    set({
      type: 'Available',
      status: 'False',
      reason: 'MinimumUnitsUnavailable',
      message: `${readyWanted} of ${want} Units ready, ${minimum} required`,
    });
  }

  // Progressing: Units are being created, removed or updated.
  const rollout = input.rollout;
  if ('problem' in input.template)
    set({
      type: 'Progressing',
      status: 'False',
      reason: input.template.problem.reason,
      message: input.template.problem.message,
    });
  else if (units.length < want)
    set({
      type: 'Progressing',
      status: 'True',
      reason: 'ScalingUp',
      message: `creating ${want - units.length} Unit(s)`,
    });
  else if (units.length > want)
    set({
      type: 'Progressing',
      status: 'True',
      reason: 'ScalingDown',
      message: `removing ${units.length - want} Unit(s)`,
    });
  else if (rollout?.blocked?.reason === 'OnDelete')
    set({ type: 'Progressing', status: 'False', reason: 'WaitingForDeletion', message: rollout.blocked.message });
  else if (
    rollout &&
    (rollout.update.length > 0 ||
      rollout.pending.length > 0 ||
      (previous.currentRevision !== undefined && previous.currentRevision !== updateRevision && !rollout.complete))
  ) {
    const message = rollout.blocked?.message ?? `updating ${[...updating].sort().join(', ') || 'Units'}`;
    set({ type: 'Progressing', status: 'True', reason: 'Updating', message });
  } else if (rollout && rollout.held.length > 0) {
    set({
      type: 'Progressing',
      status: 'False',
      reason: 'PartitionReached',
      message: `${rollout.held.join(', ')} stay on revision ${status.currentRevision} below partition`,
    });
  } else
    set({
      type: 'Progressing',
      status: 'False',
      reason: 'UpToDate',
      message: `every Unit runs revision ${updateRevision}`,
    });

  // Degraded: something stops the controller.
  const problems = [...(input.problems ?? []), ...('problem' in input.template ? [input.template.problem] : [])];
  if (problems.length > 0) {
    set({
      type: 'Degraded',
      status: 'True',
      reason: problems[0].reason,
      message: problems
        .map((p) => p.message)
        .join('; ')
        .slice(0, 32768),
    });
  } else set({ type: 'Degraded', status: 'False', reason: 'AsExpected', message: '' });

  status.conditions = conditions as unknown as Condition[];
  return status;
}

function mostCommon(values: (string | undefined)[]): string | undefined {
  const counts = new Map<string, number>();
  for (const v of values) if (v !== undefined) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best: string | undefined;
  for (const [v, n] of [...counts].sort(([a], [b]) => (a < b ? -1 : 1)))
    if (best === undefined || n > counts.get(best)!) best = v;
  return best;
}
