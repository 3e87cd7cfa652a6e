// What a MysqlReplication should do next, from its spec, its last status and what the servers
// report. Pure: no I/O, the clock is an input. The reconciler writes the returned change record
// (status.lastPrimaryChange, status.currentPrimary) before it runs the steps, so a controller that
// dies between two steps resumes at the recorded phase; every step is idempotent.
//
// Safety rules, in the order they are checked:
// - never two writable instances: an instance is made writable only when every reachable other
//   one is read-only (made so in the same batch, first);
// - a switchover fences the old primary before the candidate is promoted, and promotes only once
//   the candidate has applied every GTID of the fenced primary; on timeout it fails and the old
//   primary (still the current one) is made writable again;
// - a failover needs the primary unreachable for failover.delaySeconds AND every reachable
//   replica's receiver disconnected; it promotes the promotable replica whose GTID set contains
//   every other replica's, never one with errant transactions, and not within cooldownSeconds of
//   the last failover;
// - an instance with transactions the primary lacks is reported Diverged and left read-only,
//   never re-pointed (that would need a rebuild, which is not this controller's call).

import type {
  MysqlInstance,
  MysqlReplicationSpec,
  MysqlReplicationStatus,
  PrimaryChange,
} from '../../../api/generated/types.js';
import {
  errantTransactions,
  GtidParseError,
  formatGtidSet,
  isEmptyGtidSet,
  isGtidSubset,
  mostAdvanced,
  parseGtidSet,
  subtractGtidSet,
  unionGtidSet,
  waitPosition,
  type Flavor,
  type GtidSet,
} from '../../drivers/mysql/gtid.js';
import type { ServerState } from '../../drivers/mysql/operations.js';
import { formatTime } from '../../../machinery/time.js';

export interface InstanceObservation {
  name: string;
  /** host:port the controller connects to, when the instance could be resolved. */
  address?: string;
  host?: string;
  port?: number;
  /** Unit whose Pod runs the instance. */
  unit?: string;
  /** Why the instance could not be reached (resolution or connection error). */
  error?: string;
  state?: ServerState;
}

export type Step =
  | { kind: 'MakeReadOnly'; instance: string }
  | { kind: 'Fence'; instance: string }
  | { kind: 'MakeWritable'; instance: string }
  | { kind: 'Replicate'; instance: string; source: string; fresh: boolean }
  | { kind: 'StartReplication'; instance: string }
  | { kind: 'Detach'; instance: string }
  | { kind: 'SourceSemiSync'; instance: string; enabled: boolean }
  | { kind: 'ReplicaSemiSync'; instance: string; enabled: boolean }
  | { kind: 'WaitForGtids'; instance: string; position: string; timeoutSeconds: number }
  /**
   * Waits until `instance` has applied every transaction `source` (fenced) has; the steps after
   * it in the batch run only if it did within the timeout.
   */
  | { kind: 'CatchUpWith'; instance: string; source: string; timeoutSeconds: number }
  | { kind: 'Promote'; instance: string }
  | { kind: 'SetSpecPrimary'; primary: string };

export interface PlanEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export interface Finding {
  /** A Degraded reason: SplitBrain, ErrantTransactions, ReplicationBroken, PrimaryFailed, … */
  reason: string;
  message: string;
}

export interface Plan {
  currentPrimary?: string;
  change?: PrimaryChange;
  steps: Step[];
  events: PlanEvent[];
  /** Why the topology is not as wanted while nothing can be done about it now. */
  waiting?: { reason: string; message: string };
  findings: Finding[];
  /** Per instance: errant transactions that keep it out of replication. */
  diverged: Record<string, string>;
  /** Milliseconds until the next look when no step is planned. */
  requeueMs: number;
}

export interface PlanInput {
  spec: MysqlReplicationSpec;
  status: MysqlReplicationStatus | undefined;
  observations: InstanceObservation[];
  now: Date;
  /** When the change in progress entered its current phase (the reconciler's memory; now if unknown). */
  phaseSince?: Date;
  /**
   * Since when each instance has been unreachable without interruption (the reconciler's memory:
   * after a controller restart the failover delay starts again, never shorter).
   */
  unreachableSince?: Record<string, Date>;
  /**
   * Whether spec changed since the last switchover failed: only then is the same target tried
   * again (the reconciler compares metadata.generation with the one it saw at the failure).
   */
  specChangedSinceFailure?: boolean;
}

export const STEADY_REQUEUE_MS = 2000;
const WATCH_REQUEUE_MS = 250;
const WAIT_CHUNK_SECONDS = 1;

const done = (c: PrimaryChange | undefined): boolean => !c || c.phase === 'Completed' || c.phase === 'Failed';

interface Ctx {
  spec: MysqlReplicationSpec;
  status: MysqlReplicationStatus | undefined;
  obs: Map<string, InstanceObservation>;
  now: Date;
  phaseSince: Date;
  unreachableSince: Record<string, Date>;
  flavor: Flavor;
  plan: Plan;
}

const reachable = (o: InstanceObservation | undefined): o is InstanceObservation & { state: ServerState } => !!o?.state;
const writable = (s: ServerState): boolean => !s.readOnly && !s.superReadOnly;
const gtids = (ctx: Ctx, text: string | undefined): GtidSet => parseGtidSet(ctx.flavor, text);
const pointsAt = (s: ServerState, target: InstanceObservation): boolean =>
  !!s.replica && s.replica.sourceHost === target.host && s.replica.sourcePort === target.port;

export function planReplication(input: PlanInput): Plan {
  try {
    return planFrom(input);
  } catch (err) {
    if (!(err instanceof GtidParseError)) throw err;
    const plan = emptyPlan(input);
    const message = `cannot compare the instances' GTIDs: ${err.message}`;
    plan.findings.push({ reason: 'UnreadableGtids', message });
    return wait(plan, 'UnreadableGtids', message);
  }
}

function emptyPlan(input: PlanInput): Plan {
  return {
    currentPrimary: input.status?.currentPrimary || undefined,
    change: input.status?.lastPrimaryChange,
    steps: [],
    events: [],
    findings: [],
    diverged: {},
    requeueMs: STEADY_REQUEUE_MS,
  };
}

function planFrom(input: PlanInput): Plan {
  const plan = emptyPlan(input);
  const obs = new Map(input.observations.map((o) => [o.name, o]));
  // The flavor the servers report, else the one last seen (a MySQL topology all unreachable).
  const flavor =
    input.observations.find((o) => o.state)?.state?.flavor ??
    input.status?.instances?.find((i) => i.flavor)?.flavor ??
    'MariaDB';
  const ctx: Ctx = {
    ...input,
    obs,
    phaseSince: input.phaseSince ?? input.now,
    unreachableSince: input.unreachableSince ?? {},
    flavor,
    plan,
  };
  const { spec } = input;
  const primarySpec = spec.instances.find((i) => i.name === spec.primary);
  if (!primarySpec) return wait(plan, 'InvalidSpec', `spec.primary ${spec.primary} is not in spec.instances`);
  if (primarySpec.isolated) return wait(plan, 'InvalidSpec', `spec.primary ${spec.primary} is isolated`);
  const flavors = new Set(input.observations.flatMap((o) => (o.state ? [o.state.flavor] : [])));
  if (flavors.size > 1) return wait(plan, 'MixedFlavors', 'the instances mix MySQL and MariaDB servers');
  findSplitBrain(ctx);
  if (spec.paused) return wait(plan, 'Paused', 'spec.paused is set: the topology is observed, not changed');

  const change = plan.change;
  if (change && !done(change)) return planChange(ctx, change);
  if (!plan.currentPrimary) return planBootstrap(ctx);

  // A failover rewrites spec.primary; until that write lands the old name is not a request.
  if (
    change?.kind === 'Failover' &&
    change.phase === 'Completed' &&
    spec.primary === change.from &&
    plan.currentPrimary === change.to
  ) {
    plan.steps.push({ kind: 'SetSpecPrimary', primary: change.to });
    return plan;
  }
  const primary = obs.get(plan.currentPrimary);
  if (spec.primary !== plan.currentPrimary) {
    const failedBefore = change?.kind === 'Switchover' && change.phase === 'Failed' && change.to === spec.primary;
    if ((!failedBefore || input.specChangedSinceFailure) && reachable(primary))
      return startSwitchover(ctx, plan.currentPrimary, spec.primary);
  }
  if (!reachable(primary)) return planPrimaryLost(ctx, plan.currentPrimary);
  return planSteady(ctx, plan.currentPrimary);
}

function wait(plan: Plan, reason: string, message: string, requeueMs = STEADY_REQUEUE_MS): Plan {
  plan.waiting = { reason, message };
  plan.requeueMs = Math.min(plan.requeueMs, requeueMs);
  return plan;
}

function findSplitBrain(ctx: Ctx): void {
  const writers = [...ctx.obs.values()].filter((o) => reachable(o) && writable(o.state!)).map((o) => o.name);
  if (writers.length > 1) {
    ctx.plan.findings.push({ reason: 'SplitBrain', message: `more than one writable instance: ${writers.join(', ')}` });
  }
}

/** Steps making every reachable instance but `keep` read-only (before `keep` becomes writable). */
function fenceOthers(ctx: Ctx, ...keep: string[]): Step[] {
  return [...ctx.obs.values()]
    .filter((o) => !keep.includes(o.name) && reachable(o) && writable(o.state!))
    .map((o) => ({ kind: 'MakeReadOnly', instance: o.name }) as Step);
}

// ---------------------------------------------------------------------------------------------
// First primary

function planBootstrap(ctx: Ctx): Plan {
  const { plan, spec, obs } = ctx;
  // Adopt a running topology: the one writable instance that replicates from no one.
  const writers = [...obs.values()].filter((o) => reachable(o) && writable(o.state!) && !o.state!.replica);
  const chosen = writers.length === 1 ? writers[0].name : spec.primary;
  const p = obs.get(chosen);
  if (!reachable(p)) return wait(plan, 'PrimaryUnreachable', `primary ${chosen} is unreachable: ${p?.error ?? ''}`);
  const pSet = gtids(ctx, p.state.executed);
  for (const o of obs.values()) {
    if (o.name === chosen || !reachable(o)) continue;
    const ahead = errantTransactions(gtids(ctx, o.state.executed), pSet, p.state.origin);
    if (!isEmptyGtidSet(ahead)) {
      return wait(
        plan,
        'PrimaryBehind',
        `instance ${o.name} has transactions ${chosen} lacks (${formatGtidSet(ahead)}); choose it as spec.primary or rebuild it`,
      );
    }
  }
  plan.currentPrimary = chosen;
  plan.steps.push(...fenceOthers(ctx, chosen));
  if (p.state.replica || !writable(p.state)) plan.steps.push({ kind: 'Promote', instance: chosen });
  plan.events.push({ type: 'Normal', reason: 'PrimaryEstablished', message: `${chosen} is the primary` });
  return plan;
}

// ---------------------------------------------------------------------------------------------
// Steady state

function planSteady(ctx: Ctx, primaryName: string): Plan {
  const { plan, spec, obs } = ctx;
  const p = obs.get(primaryName)! as InstanceObservation & { state: ServerState };
  const semi = spec.mode === 'SemiSync';
  const pSet = gtids(ctx, p.state.executed);

  for (const inst of spec.instances) {
    if (inst.name === primaryName) continue;
    const o = obs.get(inst.name);
    if (!reachable(o)) continue;
    const s = o.state;
    if (inst.isolated) {
      if (s.replica) {
        plan.steps.push({ kind: 'Detach', instance: inst.name });
        plan.events.push({
          type: 'Normal',
          reason: 'Isolated',
          message: `${inst.name} no longer replicates (isolated)`,
        });
      } else if (writable(s)) plan.steps.push({ kind: 'MakeReadOnly', instance: inst.name });
      continue;
    }
    if (writable(s)) {
      plan.steps.push({ kind: 'MakeReadOnly', instance: inst.name });
      plan.events.push({
        type: 'Warning',
        reason: 'DriftRepaired',
        message: `replica ${inst.name} was writable; made read-only`,
      });
    }
    const errant = errantTransactions(gtids(ctx, s.executed), pSet, p.state.origin);
    if (!isEmptyGtidSet(errant)) {
      markDiverged(ctx, inst.name, errant);
      continue;
    }
    if (!s.replica || !pointsAt(s, p) || !s.replica.autoPosition) {
      plan.steps.push({ kind: 'Replicate', instance: inst.name, source: primaryName, fresh: !s.replica });
      plan.events.push({
        type: s.replica ? 'Warning' : 'Normal',
        reason: 'ReplicationConfigured',
        message:
          `${inst.name} now replicates from ${primaryName}` +
          (s.replica ? ` (was ${s.replica.sourceHost}:${s.replica.sourcePort})` : ''),
      });
      continue;
    }
    if (s.replica.ioRunning === 'No' || s.replica.sqlRunning === 'No') {
      const why = s.replica.lastSQLError || s.replica.lastIOError || 'replication threads stopped';
      plan.steps.push({ kind: 'StartReplication', instance: inst.name });
      plan.events.push({ type: 'Warning', reason: 'ReplicationRestarted', message: `${inst.name}: ${why}` });
      if (s.replica.lastSQLError) plan.findings.push({ reason: 'ReplicationBroken', message: `${inst.name}: ${why}` });
    }
    if (s.semiSync.replica !== semi || s.semiSync.source) {
      plan.steps.push({ kind: 'ReplicaSemiSync', instance: inst.name, enabled: semi });
    }
  }

  // The primary last: it becomes writable only once every other instance is read-only.
  const fixPrimary: Step[] = [];
  if (p.state.replica) {
    fixPrimary.push({ kind: 'Promote', instance: primaryName });
    plan.events.push({
      type: 'Warning',
      reason: 'DriftRepaired',
      message: `primary ${primaryName} was replicating; replication removed`,
    });
  } else if (!writable(p.state)) {
    fixPrimary.push({ kind: 'MakeWritable', instance: primaryName });
    plan.events.push({ type: 'Normal', reason: 'PrimaryWritable', message: `primary ${primaryName} made writable` });
  }
  if (!p.state.replica && (p.state.semiSync.source !== semi || p.state.semiSync.replica)) {
    fixPrimary.push({ kind: 'SourceSemiSync', instance: primaryName, enabled: semi });
  }
  if (fixPrimary.length) {
    const queued = new Set(plan.steps.flatMap((s) => (s.kind === 'MakeReadOnly' ? [s.instance] : [])));
    const fences = fenceOthers(ctx, primaryName).filter((f) => f.kind === 'MakeReadOnly' && !queued.has(f.instance));
    plan.steps.push(...fences, ...fixPrimary);
  }
  return plan;
}

function markDiverged(ctx: Ctx, name: string, errant: GtidSet): void {
  const text = formatGtidSet(errant);
  ctx.plan.diverged[name] = text;
  ctx.plan.findings.push({
    reason: 'ErrantTransactions',
    message: `${name} has transactions the primary lacks (${text}); it is kept read-only out of replication until rebuilt`,
  });
}

// ---------------------------------------------------------------------------------------------
// Switchover

function startSwitchover(ctx: Ctx, from: string, to: string): Plan {
  const { plan } = ctx;
  plan.change = {
    kind: 'Switchover',
    from,
    to,
    phase: 'Pending',
    epoch: (plan.change?.epoch ?? 0) + 1,
    startTime: formatTime(ctx.now),
    reason: 'SwitchoverRequested',
    message: `spec.primary changed from ${from} to ${to}`,
  };
  plan.events.push({ type: 'Normal', reason: 'SwitchoverStarted', message: `switchover from ${from} to ${to}` });
  return plan;
}

function setPhase(ctx: Ctx, phase: PrimaryChange['phase'], reason: string, message: string): Plan {
  const c = ctx.plan.change!;
  const terminal = phase === 'Completed' || phase === 'Failed';
  // A failover keeps the reasons of its choice (which replica, which were refused) in its message.
  if (c.kind === 'Failover') message = terminal ? `${message}; ${c.message ?? ''}` : (c.message ?? message);
  ctx.plan.change = { ...c, phase, reason, message };
  if (phase === 'Completed' || phase === 'Failed') {
    ctx.plan.change.completionTime = formatTime(ctx.now);
    ctx.plan.events.push({
      type: phase === 'Failed' ? 'Warning' : 'Normal',
      reason: `${c.kind}${phase}`,
      message: `${c.kind.toLowerCase()} from ${c.from ?? '?'} to ${c.to}: ${message}`,
    });
  }
  return ctx.plan;
}

function planChange(ctx: Ctx, c: PrimaryChange): Plan {
  const { plan, spec, obs } = ctx;
  const cand = obs.get(c.to);
  const old = c.from ? obs.get(c.from) : undefined;
  const candSpec = spec.instances.find((i) => i.name === c.to);
  if (!candSpec || candSpec.isolated) {
    if (c.phase === 'Pending' || c.phase === 'Fencing' || c.phase === 'CatchingUp') {
      return setPhase(ctx, 'Failed', 'InvalidCandidate', `${c.to} is not a non-isolated instance`);
    }
  }
  const switchover = c.kind === 'Switchover';
  const catchUpTimeout = spec.switchover?.catchUpTimeoutSeconds ?? 60;
  plan.requeueMs = WATCH_REQUEUE_MS;

  switch (c.phase) {
    case 'Pending': {
      if (spec.primary !== c.to) return setPhase(ctx, 'Failed', 'Superseded', `spec.primary is now ${spec.primary}`);
      if (!reachable(old)) return setPhase(ctx, 'Failed', 'PrimaryUnreachable', `${c.from} is unreachable`);
      if (!reachable(cand)) return pending(ctx, 'CandidateUnreachable', `${c.to} is unreachable: ${cand?.error ?? ''}`);
      const r = cand.state.replica;
      if (!r || !pointsAt(cand.state, old) || r.ioRunning !== 'Yes' || r.sqlRunning !== 'Yes') {
        return pending(ctx, 'CandidateNotReplicating', `${c.to} is not replicating from ${c.from}`);
      }
      const maxLag = spec.switchover?.maxLagSeconds ?? 30;
      if (r.secondsBehind === null || r.secondsBehind > maxLag) {
        return pending(ctx, 'CandidateLagging', `${c.to} is ${r.secondsBehind ?? '?'} s behind (at most ${maxLag} s)`);
      }
      const errant = errantTransactions(
        gtids(ctx, cand.state.executed),
        gtids(ctx, old.state.executed),
        old.state.origin,
      );
      if (!isEmptyGtidSet(errant)) {
        return setPhase(ctx, 'Failed', 'CandidateDiverged', `${c.to} has errant transactions ${formatGtidSet(errant)}`);
      }
      return setPhase(
        ctx,
        'Fencing',
        'Fencing',
        `making ${c.from} read-only and ending its client sessions, then promoting ${c.to} once it has applied ` +
          `every transaction of ${c.from}`,
      );
    }
    case 'Fencing': {
      if (reachable(old) && writable(old.state)) {
        plan.steps.push({ kind: 'Fence', instance: old.name });
        // The phase record names the candidate, so fencing, catching up and promoting can run as
        // one batch: writes stop only for as long as the candidate takes to apply the fenced
        // primary's last transactions. A controller that dies inside the batch resumes from
        // Fencing (the old primary read-only), which leads to the same checks below.
        if (switchover && reachable(cand) && cand.state.replica && pointsAt(cand.state, old)) {
          plan.steps.push(...fenceOthers(ctx, c.to, old.name), {
            kind: 'CatchUpWith',
            instance: c.to,
            source: old.name,
            timeoutSeconds: Math.min(WAIT_CHUNK_SECONDS, catchUpTimeout),
          });
          plan.steps.push({ kind: 'Promote', instance: c.to });
        }
        return plan;
      }
      if (switchover && !reachable(old)) {
        return setPhase(ctx, 'Failed', 'PrimaryUnreachable', `${c.from} became unreachable while being fenced`);
      }
      if (promotedAfterFence(ctx, c)) return promoted(ctx, c);
      return setPhase(ctx, 'CatchingUp', 'CatchingUp', `waiting for ${c.to} to apply every transaction of ${c.from}`);
    }
    case 'CatchingUp': {
      if (!reachable(cand)) return failOrWait(ctx, catchUpTimeout, 'CandidateUnreachable', `${c.to} is unreachable`);
      if (promotedAfterFence(ctx, c)) return promoted(ctx, c);
      const have = gtids(ctx, cand.state.executed);
      let target: GtidSet;
      if (switchover) {
        if (!reachable(old)) return setPhase(ctx, 'Failed', 'PrimaryUnreachable', `${c.from} became unreachable`);
        if (writable(old.state)) return setPhase(ctx, 'Fencing', 'Fencing', `${c.from} is writable again; fencing it`);
        target = gtids(ctx, old.state.executed);
      } else {
        target = gtids(ctx, cand.state.replica?.received);
      }
      if (isGtidSubset(target, have)) {
        return setPhase(ctx, 'Promoting', 'Promoting', `${c.to} has applied ${formatGtidSet(target) || 'everything'}`);
      }
      const elapsed = (ctx.now.getTime() - ctx.phaseSince.getTime()) / 1000;
      if (elapsed >= catchUpTimeout) {
        const missing = formatGtidSet(subtractGtidSet(target, have));
        return setPhase(
          ctx,
          'Failed',
          'CatchUpTimeout',
          `${c.to} did not apply ${missing} within ${catchUpTimeout} s` +
            (switchover ? `; ${c.from} stays primary` : ''),
        );
      }
      plan.steps.push({
        kind: 'WaitForGtids',
        instance: c.to,
        position: waitPosition(target),
        timeoutSeconds: Math.max(1, Math.min(WAIT_CHUNK_SECONDS, Math.ceil(catchUpTimeout - elapsed))),
      });
      return plan;
    }
    case 'Promoting': {
      if (!reachable(cand)) return wait(plan, 'CandidateUnreachable', `${c.to} is unreachable`, WATCH_REQUEUE_MS);
      if (cand.state.replica || !writable(cand.state)) {
        plan.steps.push(...fenceOthers(ctx, c.to), { kind: 'Promote', instance: c.to });
        return plan;
      }
      if (!switchover && spec.primary !== c.to) {
        plan.steps.push({ kind: 'SetSpecPrimary', primary: c.to });
        return plan;
      }
      return promoted(ctx, c);
    }
    case 'Repointing': {
      plan.currentPrimary = c.to;
      if (!reachable(cand)) return wait(plan, 'PrimaryUnreachable', `${c.to} is unreachable`, WATCH_REQUEUE_MS);
      const pSet = gtids(ctx, cand.state.executed);
      for (const inst of spec.instances) {
        if (inst.name === c.to || inst.isolated) continue;
        const o = obs.get(inst.name);
        if (!reachable(o)) continue;
        const errant = errantTransactions(gtids(ctx, o.state.executed), pSet, cand.state.origin);
        if (!isEmptyGtidSet(errant)) {
          markDiverged(ctx, inst.name, errant);
          if (writable(o.state)) plan.steps.push({ kind: 'MakeReadOnly', instance: inst.name });
          continue;
        }
        if (!o.state.replica || !pointsAt(o.state, cand)) {
          plan.steps.push({ kind: 'Replicate', instance: inst.name, source: c.to, fresh: !o.state.replica });
        }
      }
      if (plan.steps.length) return plan;
      plan.requeueMs = STEADY_REQUEUE_MS;
      return setPhase(ctx, 'Completed', 'Completed', `${c.to} is the primary`);
    }
    default:
      return plan;
  }
}

function promoted(ctx: Ctx, c: PrimaryChange): Plan {
  ctx.plan.currentPrimary = c.to;
  ctx.plan.events.push({ type: 'Normal', reason: 'Promoted', message: `${c.to} is the primary` });
  return setPhase(ctx, 'Repointing', 'Repointing', `attaching the other instances to ${c.to}`);
}

/**
 * A switchover whose batch promoted the candidate before its phase record moved on: the old
 * primary is read-only, the candidate writable, replicating from no one, and holding every
 * transaction of the old primary.
 */
function promotedAfterFence(ctx: Ctx, c: PrimaryChange): boolean {
  if (c.kind !== 'Switchover' || !c.from) return false;
  const cand = ctx.obs.get(c.to);
  const old = ctx.obs.get(c.from);
  if (!reachable(cand) || !reachable(old) || writable(old.state)) return false;
  if (cand.state.replica || !writable(cand.state)) return false;
  return isGtidSubset(gtids(ctx, old.state.executed), gtids(ctx, cand.state.executed));
}

function pending(ctx: Ctx, reason: string, message: string): Plan {
  const c = ctx.plan.change!;
  ctx.plan.change = { ...c, reason, message };
  ctx.plan.requeueMs = 1000;
  return ctx.plan;
}

function failOrWait(ctx: Ctx, timeoutSeconds: number, reason: string, message: string): Plan {
  const elapsed = (ctx.now.getTime() - ctx.phaseSince.getTime()) / 1000;
  if (elapsed >= timeoutSeconds) return setPhase(ctx, 'Failed', reason, message);
  return wait(ctx.plan, reason, message, WATCH_REQUEUE_MS);
}

// ---------------------------------------------------------------------------------------------
// Lost primary

function planPrimaryLost(ctx: Ctx, primaryName: string): Plan {
  const { plan, spec, obs, now, status } = ctx;
  const p = obs.get(primaryName);
  // Whatever happens, no replica takes writes meanwhile.
  for (const o of obs.values())
    if (reachable(o) && writable(o.state)) plan.steps.push({ kind: 'MakeReadOnly', instance: o.name });
  const failover = spec.failover ?? {};
  const unreachableMsg = `primary ${primaryName} is unreachable: ${p?.error ?? 'unknown error'}`;
  if (failover.mode !== 'Automatic') {
    plan.findings.push({
      reason: 'PrimaryFailed',
      message: `${unreachableMsg}; failover mode is Manual: set spec.primary`,
    });
    return wait(plan, 'PrimaryUnreachable', unreachableMsg, 1000);
  }
  const since = (ctx.unreachableSince[primaryName] ?? now).getTime();
  const delayMs = (failover.delaySeconds ?? 30) * 1000;
  const downMs = now.getTime() - since;
  if (downMs < delayMs) {
    return wait(
      plan,
      'PrimaryUnreachable',
      `${unreachableMsg}; failover in ${Math.ceil((delayMs - downMs) / 1000)} s`,
      Math.min(WATCH_REQUEUE_MS, delayMs - downMs),
    );
  }
  const last = plan.change;
  if (last?.kind === 'Failover' && last.completionTime) {
    const coolMs = (failover.cooldownSeconds ?? 300) * 1000 - (now.getTime() - Date.parse(last.completionTime));
    if (coolMs > 0) {
      plan.findings.push({
        reason: 'FailoverCooldown',
        message: `${unreachableMsg}; no failover until the cooldown ends in ${Math.ceil(coolMs / 1000)} s`,
      });
      return wait(plan, 'PrimaryUnreachable', unreachableMsg, Math.min(1000, coolMs));
    }
  }

  // The replicas must agree: a receiver still connected means the primary lives (the controller
  // alone lost it).
  const replicas = spec.instances
    .filter((i) => i.name !== primaryName && !i.isolated)
    .map((i) => ({ inst: i, o: obs.get(i.name) }))
    .filter((x): x is { inst: MysqlInstance; o: InstanceObservation & { state: ServerState } } => reachable(x.o));
  const connected = replicas.filter((x) => x.o.state.replica?.ioRunning === 'Yes');
  if (connected.length) {
    return wait(
      plan,
      'PrimaryUnreachable',
      `${unreachableMsg}, but ${connected.map((x) => x.o.name).join(', ')} still receive from it: no failover`,
      1000,
    );
  }
  if (!replicas.length) return wait(plan, 'PrimaryUnreachable', `${unreachableMsg}; no replica is reachable`, 1000);

  const known = gtids(ctx, status?.instances?.find((i) => i.name === primaryName)?.gtidExecuted);
  const refusals: string[] = [];
  const entries = replicas.map(({ inst, o }) => {
    const set = unionGtidSet(gtids(ctx, o.state.executed), gtids(ctx, o.state.replica?.received));
    const origin = o.state.replica?.sourceOrigin || undefined;
    const errant = errantTransactions(set, known, origin);
    return { inst, o, set: subtractGtidSet(set, errant), errant };
  });
  const candidates = entries.filter((e) => {
    if (!isEmptyGtidSet(e.errant)) {
      refusals.push(`${e.inst.name}: errant transactions ${formatGtidSet(e.errant)}`);
      return false;
    }
    if (e.inst.promotable === false) {
      refusals.push(`${e.inst.name}: not promotable`);
      return false;
    }
    if (!e.o.state.replica) {
      refusals.push(`${e.inst.name}: not a replica`);
      return false;
    }
    const lag = status?.instances?.find((i) => i.name === e.inst.name)?.secondsBehindSource;
    const maxLag = failover.maxLagSeconds ?? 60;
    if (lag !== undefined && lag > maxLag) {
      refusals.push(`${e.inst.name}: lagged ${lag} s (at most ${maxLag} s)`);
      return false;
    }
    return true;
  });
  // The winner must hold everything any other replica holds, or promoting it loses those writes.
  const best = mostAdvanced(candidates);
  const complete = best && entries.every((e) => isGtidSubset(e.set, best.set));
  if (!best || !complete) {
    const why = refusals.length ? ` (${refusals.join('; ')})` : '';
    plan.findings.push({
      reason: 'NoSafeCandidate',
      message: `${unreachableMsg}; no replica holds every transaction the others hold${why}`,
    });
    return wait(plan, 'PrimaryUnreachable', unreachableMsg, 1000);
  }
  plan.change = {
    kind: 'Failover',
    from: primaryName,
    to: best.inst.name,
    phase: 'Fencing',
    epoch: (last?.epoch ?? 0) + 1,
    startTime: formatTime(now),
    reason: 'PrimaryUnreachable',
    message:
      `${unreachableMsg} for ${Math.round(downMs / 1000)} s; promoting ${best.inst.name}, the most advanced replica ` +
      `(GTIDs received: ${entries.map((e) => `${e.inst.name} [${formatGtidSet(e.set)}]`).join(', ')})` +
      (refusals.length ? `; not promoted: ${refusals.join('; ')}` : ''),
  };
  if (refusals.length) plan.findings.push({ reason: 'CandidatesRefused', message: refusals.join('; ') });
  plan.events.push({ type: 'Warning', reason: 'FailoverStarted', message: plan.change.message! });
  plan.steps = [];
  return plan;
}
