// Which Units to create, remove and update now: scale up in parallel, scale down from the highest
// ordinal with the claim retention the UnitSet asks for, and roll a new revision out under the
// update strategy (partition, maxUnavailable, replicas before the primary, readiness between steps).

import type { Unit, UnitSet } from '../../../api/generated/types.js';
import { ordinalLabel, revisionLabel, roleLabel } from '../../../api/labels.js';
import { isConditionTrue, type Condition } from '../../../machinery/conditions.js';
import { ordinalOf, unitName } from './names.js';

/** What the planners need to know about one existing Unit. */
export interface UnitState {
  name: string;
  ordinal: number;
  /** The Unit's revision label. */
  revision: string | undefined;
  ready: boolean;
  /** Replication role (status.role, else the Pod's upm.io/role label). */
  role?: string;
  /** Whether the Unit is being deleted. */
  terminating?: boolean;
  /**
   * Whether bringing this Unit to the update revision replaces its Pod (classifyChange(...).kind is
   * Disruptive). Non-disruptive updates are not limited by maxUnavailable. Unknown counts as disruptive.
   */
  disruptive?: boolean;
  volumeClaimRetentionPolicy?: 'Retain' | 'Delete';
}

/** A Unit as the planners see it; `pod` gives the role label when the Unit's status has no role yet. */
export function unitState(
  unitSetName: string,
  unit: Unit,
  pod?: { metadata?: { labels?: Record<string, string> } },
  disruptive?: boolean,
): UnitState | undefined {
  const name = unit.metadata.name!;
  const ordinal = ordinalOf(unitSetName, name) ?? Number(unit.metadata.labels?.[ordinalLabel] ?? NaN);
  if (!Number.isInteger(ordinal)) return undefined;
  const ready = unit.status?.ready ?? isConditionTrue(unit.status?.conditions as Condition[] | undefined, 'Ready');
  // A Unit whose controller has not acted on its latest spec yet may be about to lose its Pod:
  // it counts as unavailable until its status catches up (as a Deployment's observedGeneration).
  const observed = (unit.status?.observedGeneration ?? 0) >= (unit.metadata.generation ?? 0);
  const state: UnitState = {
    name,
    ordinal,
    revision: unit.metadata.labels?.[revisionLabel],
    ready: ready === true && observed,
    terminating: unit.metadata.deletionTimestamp !== undefined,
    volumeClaimRetentionPolicy: unit.spec.volumeClaimRetentionPolicy,
  };
  const role = unit.status?.role ?? pod?.metadata?.labels?.[roleLabel];
  if (role !== undefined) state.role = role;
  if (disruptive !== undefined) state.disruptive = disruptive;
  return state;
}

/** Whether a role names the writable instance (primary, master, leader; any case). */
export function isPrimaryRole(role: string | undefined): boolean {
  return role !== undefined && /^(primary|master|leader)$/i.test(role);
}

/** rollingUpdate.maxUnavailable as a number of Units: a count, or a percentage of spec.units rounded down; at least 1. */
export function resolveMaxUnavailable(unitSet: UnitSet): number {
  const raw = unitSet.spec.updateStrategy?.rollingUpdate?.maxUnavailable ?? 1;
  const text = String(raw);
  const n = text.endsWith('%') ? Math.floor((unitSet.spec.units * Number(text.slice(0, -1))) / 100) : Number(text);
  return Number.isFinite(n) ? Math.max(1, n) : 1;
}

// ---------------------------------------------------------------------------------------------
// Scaling

export interface UnitRemoval {
  name: string;
  ordinal: number;
  /** The volumeClaimRetentionPolicy the Unit must have when it is deleted (storage…whenScaled). */
  claims: 'Retain' | 'Delete';
  /**
   * Whether the Unit already has that policy. When false, set it on the Unit first and delete the
   * Unit once its claims' owner references follow (claimOwnerReferences), so the data is kept or
   * removed as asked even if the controller stops in between.
   */
  policySet: boolean;
}

export interface ScalePlan {
  /** Missing Units to create now, all at once, in ordinal order. */
  create: string[];
  /** Units beyond spec.units to remove, highest ordinal first. */
  remove: UnitRemoval[];
}

export function planScale(unitSet: UnitSet, existing: readonly UnitState[]): ScalePlan {
  const want = unitSet.spec.units;
  const have = new Set(existing.map((u) => u.ordinal));
  const create: string[] = [];
  for (let ordinal = 0; ordinal < want; ordinal++) {
    if (!have.has(ordinal)) create.push(unitName(unitSet.metadata.name!, ordinal));
  }
  const claims = unitSet.spec.storage?.persistentVolumeClaimRetentionPolicy?.whenScaled ?? 'Retain';
  const remove = existing
    .filter((u) => u.ordinal >= want && !u.terminating)
    .sort((a, b) => b.ordinal - a.ordinal)
    .map((u) => ({
      name: u.name,
      ordinal: u.ordinal,
      claims,
      policySet: (u.volumeClaimRetentionPolicy ?? 'Retain') === claims,
    }));
  return { create, remove };
}

// ---------------------------------------------------------------------------------------------
// Rolling update

export type RolloutBlockReason = 'OnDelete' | 'WaitingForReady' | 'WaitingForReplicas';

export interface RolloutPlan {
  /** Units to bring to the update revision now, in the order to do it. */
  update: string[];
  /** Units at or above the partition that still run another revision once `update` is done. */
  pending: string[];
  /** Units below the partition running another revision; they stay there by request. */
  held: string[];
  /** Why the rollout cannot go further now, when `pending` is not empty. */
  blocked?: { reason: RolloutBlockReason; message: string };
  /** Every Unit at or above the partition runs the update revision and is Ready. */
  complete: boolean;
}

/**
 * The next step of a rollout to `updateRevision`. Non-disruptive updates (ConfigMap, labels) go
 * to every Unit at once; disruptive ones go in order (ReplicasFirst: non-primaries by descending
 * ordinal, then primaries, only once every other Unit is updated and Ready; Ordinal: descending
 * ordinal) while at most maxUnavailable Units are unavailable. A Unit that is not Ready is already
 * unavailable: updating it costs nothing.
 */
export function planRollout(unitSet: UnitSet, units: readonly UnitState[], updateRevision: string): RolloutPlan {
  const strategy = unitSet.spec.updateStrategy ?? {};
  const partition = strategy.rollingUpdate?.partition ?? 0;
  const order = strategy.rollingUpdate?.order ?? 'ReplicasFirst';
  const live = units.filter((u) => u.ordinal < unitSet.spec.units);
  const outdated = live.filter((u) => u.revision !== updateRevision && !u.terminating);
  const held = outdated.filter((u) => u.ordinal < partition).map((u) => u.name);
  const targets = outdated.filter((u) => u.ordinal >= partition);
  const completeIfNothingPending = live
    .filter((u) => u.ordinal >= partition)
    .every((u) => u.revision === updateRevision && u.ready && !u.terminating);

  if ((strategy.type ?? 'RollingUpdate') === 'OnDelete') {
    const pending = sortedNames(targets);
    return {
      update: [],
      pending,
      held,
      complete: pending.length === 0 && completeIfNothingPending,
      ...(pending.length > 0
        ? {
            blocked: {
              reason: 'OnDelete',
              message: `${pending.length} Unit(s) are updated when deleted: ${pending.join(', ')}`,
            },
          }
        : {}),
    };
  }

  const update = targets.filter((u) => u.disruptive === false).sort((a, b) => b.ordinal - a.ordinal);
  const disruptive = targets
    .filter((u) => u.disruptive !== false)
    .sort((a, b) => {
      if (order === 'ReplicasFirst') {
        const pa = isPrimaryRole(a.role) ? 1 : 0;
        const pb = isPrimaryRole(b.role) ? 1 : 0;
        if (pa !== pb) return pa - pb;
      }
      return b.ordinal - a.ordinal;
    });

  const unavailable = live.filter((u) => !u.ready || u.terminating);
  const maxUnavailable = resolveMaxUnavailable(unitSet);
  let budget = maxUnavailable - unavailable.length;
  let blocked: RolloutPlan['blocked'];
  const chosen = new Set<string>();
  for (const u of disruptive) {
    if (order === 'ReplicasFirst' && isPrimaryRole(u.role)) {
      const others = live.filter((o) => o.name !== u.name && !isPrimaryRole(o.role));
      const waiting = others.filter(
        (o) => (o.revision !== updateRevision && o.ordinal >= partition) || chosen.has(o.name) || !o.ready,
      );
      if (waiting.length > 0) {
        blocked ??= {
          reason: 'WaitingForReplicas',
          message: `primary ${u.name} is updated after ${sortedNames(waiting).join(', ')} run the update revision and are Ready`,
        };
        continue;
      }
    }
    // A Unit that is not Ready is unavailable already: updating it (often the fix) costs nothing.
    if (!u.ready) {
      chosen.add(u.name);
      continue;
    }
    if (budget <= 0) {
      const busy = sortedNames([...unavailable, ...disruptive.filter((d) => chosen.has(d.name) && d.ready)]);
      blocked ??= {
        reason: 'WaitingForReady',
        message: `waiting for ${busy.join(', ')} to be Ready (maxUnavailable ${maxUnavailable})`,
      };
      continue;
    }
    budget--;
    chosen.add(u.name);
  }
  const ordered = [...update.map((u) => u.name), ...disruptive.filter((u) => chosen.has(u.name)).map((u) => u.name)];
  const pending = sortedNames(targets.filter((u) => !ordered.includes(u.name)));
  return {
    update: ordered,
    pending,
    held,
    complete: targets.length === 0 && completeIfNothingPending,
    ...(blocked && pending.length > 0 ? { blocked } : {}),
  };
}

function sortedNames(units: readonly UnitState[]): string[] {
  return [...units].sort((a, b) => a.ordinal - b.ordinal).map((u) => u.name);
}
