// The RedisReplication decisions, pure: from the object (spec and the status last written) and what
// the servers report, the next status and at most one step. The reconciler writes the status
// BEFORE it takes the step, so status.lastPrimaryChange always names the step that may have been
// taken, and a controller that stops anywhere resumes by taking that step again (every step is
// idempotent).
//
// Fencing: a primary that must stop taking writes gets min-replicas-to-write = WRITE_FENCE (writes
// fail with NOREPLICAS) and, during a switchover, CLIENT PAUSE WRITE so writers wait instead of
// failing. The pause ends by itself; the fence stays until the controller lifts it, so a
// controller that dies mid-switchover never leaves two primaries taking writes. With automatic or
// Sentinel failover, the primary runs with min-replicas-to-write 1, persisted by CONFIG REWRITE:
// a primary that restarts after it was replaced comes back (as Redis does) as a primary with its
// data, but with no replica attached it refuses writes until the controller re-points it. The
// price: the primary refuses writes while no replica is connected.

import type {
  PrimaryChange,
  RedisInstance,
  RedisInstanceStatus,
  RedisReplication,
  RedisReplicationStatus,
} from '../../../../api/generated/types.js';
import { setCondition, type Condition } from '../../../../machinery/conditions.js';
import { formatTime } from '../../../../machinery/time.js';
import { WRITE_FENCE } from '../../../drivers/redis/replication.js';
import type { PodRole } from '../../shared/services.js';
import type { Action, Address, NodeObservation, Observation, PlanEvent } from './model.js';

/** Annotation of compose-operator: any value but "false" stops topology changes, like spec.paused. */
export const skipReconcileAnnotation = 'compose-operator/skip.reconcile';

/** A failed switchover to the same candidate is retried after this long. */
export const switchoverRetryMs = 30_000;
/** lastSeen is refreshed at most this often, so a healthy set does not write its status every poll. */
const lastSeenRefreshMs = 10_000;

export interface PlanInput {
  rr: RedisReplication;
  observation: Observation;
  now: Date;
  /** How long the controller has failed to reach `name` without interruption (0 when reachable). */
  unreachableForMs: (name: string) => number;
  /** The credentials could not be read: nothing is observed and nothing is done. */
  credentialsProblem?: { reason: string; message: string };
}

export interface Plan {
  status: RedisReplicationStatus;
  actions: Action[];
  events: PlanEvent[];
  /** spec.primary to write before the status (after a failover). */
  specPrimary?: string;
  /** Role label of each instance's Pod (undefined: in no Service). */
  roles: Record<string, PodRole | undefined>;
  requeueAfterMs: number;
}

const inProgress = (c: PrimaryChange | undefined): boolean => !!c && c.phase !== 'Completed' && c.phase !== 'Failed';

const sameAddress = (a: Address | undefined, host: string | undefined, port: number | undefined) =>
  !!a && a.host === host && a.port === port;

const addr = (a: Address) => (a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`);

export function plan(input: PlanInput): Plan {
  return new Planner(input).run();
}

class Planner {
  private readonly rr: RedisReplication;
  private readonly spec: RedisReplication['spec'];
  private readonly old: RedisReplicationStatus;
  private readonly nodes = new Map<string, NodeObservation>();
  private readonly specs = new Map<string, RedisInstance>();
  private readonly messages = new Map<string, string>();
  private readonly diverged = new Set<string>();
  private readonly actions: Action[] = [];
  private readonly events: PlanEvent[] = [];
  private change: PrimaryChange | undefined;
  private current: string | undefined;
  private specPrimary: string | undefined;
  private requeueAfterMs: number;
  private readonly conditions: { Ready?: Condition; Progressing?: Condition; Degraded?: Condition } = {};
  private readonly mode: 'Manual' | 'Automatic' | 'Sentinel';
  private sentinelsMonitoring = false;

  constructor(private readonly input: PlanInput) {
    this.rr = input.rr;
    this.spec = input.rr.spec;
    this.old = input.rr.status ?? {};
    for (const i of this.spec.instances) this.specs.set(i.name, i);
    for (const n of input.observation.nodes) this.nodes.set(n.name, n);
    this.change = this.old.lastPrimaryChange;
    this.current =
      this.old.currentPrimary && this.specs.has(this.old.currentPrimary) ? this.old.currentPrimary : undefined;
    this.mode = this.spec.failover?.mode ?? 'Manual';
    // The poll is what notices a dead primary: quicker when the controller fails over itself.
    this.requeueAfterMs = this.mode === 'Automatic' ? 500 : 1000;
  }

  run(): Plan {
    const paused =
      this.spec.paused === true || (this.rr.metadata.annotations?.[skipReconcileAnnotation] ?? 'false') !== 'false';
    if (this.input.credentialsProblem) {
      const p = this.input.credentialsProblem;
      this.event('Warning', p.reason, p.message);
      this.set('Ready', 'False', p.reason, p.message);
      this.requeueAfterMs = 5000;
    } else if (paused) {
      this.establishFromObservation();
      this.set(
        'Progressing',
        'False',
        'Paused',
        'topology changes are paused (spec.paused or the skip.reconcile annotation)',
      );
    } else {
      this.decide();
    }
    return this.finish();
  }

  // -------------------------------------------------------------------------------------------
  // Decisions: the first that applies takes this reconcile's step.

  private decide(): void {
    if (this.mode === 'Sentinel') this.followSentinels();
    if (inProgress(this.change)) return this.advance(this.change!);
    if (!this.current) return this.form();
    const primary = this.nodes.get(this.current)!;
    if (this.mode !== 'Sentinel' && this.reachable(primary) && primary.info.role === 'replica') {
      // Someone else moved the primary (FAILOVER, REPLICAOF by hand): the one everybody replicates
      // from is the primary now; spec.primary, if it differs, is a switchover from there.
      const root = this.rootOf(primary);
      if (root) {
        this.current = root.name;
        this.event(
          'Warning',
          'PrimaryMoved',
          `${primary.name} replicates from ${root.name}: ${root.name} is the primary now`,
        );
        this.requeueAfterMs = 0;
        return;
      }
    }
    if (this.spec.primary !== this.current) {
      if (this.mode !== 'Sentinel') return this.startSwitchover();
      if (!this.specPrimary) {
        const msg = `spec.primary is ${this.spec.primary}, but in Sentinel mode the Sentinels choose the primary (${this.current}); spec.primary follows them`;
        this.set('Progressing', 'False', 'SwitchoverNotSupported', msg);
        this.event('Warning', 'SwitchoverNotSupported', msg);
      }
    }
    if (!this.reachable(primary)) return this.primaryLost(primary);
    this.steady(primary);
  }

  /** First reconcile (no current primary): adopt spec.primary, or its primary when it is a replica of one of ours. */
  private form(): void {
    const want = this.nodes.get(this.spec.primary);
    if (!want || !this.specs.has(this.spec.primary)) {
      return this.invalid('InvalidPrimary', `spec.primary ${JSON.stringify(this.spec.primary)} is not an instance`);
    }
    if (!this.reachable(want)) {
      const reason = want.problem?.reason === 'AuthenticationFailed' ? 'AuthenticationFailed' : 'PrimaryUnreachable';
      this.set('Ready', 'False', reason, `${want.name}: ${want.problem?.message ?? 'unreachable'}`);
      this.requeueAfterMs = 1000;
      return;
    }
    if (want.info!.role === 'master') {
      this.current = want.name;
      this.event('Normal', 'PrimaryEstablished', `${want.name} is the primary`);
      this.requeueAfterMs = 0;
      return;
    }
    const upstream = this.nodeAt(want.info!.masterHost, want.info!.masterPort);
    if (upstream && this.reachable(upstream) && upstream.info!.role === 'master') {
      // spec.primary replicates from another instance of the set: that one is the primary now,
      // and the difference is a switchover (next reconcile), with fencing and catch-up.
      this.current = upstream.name;
      this.event('Normal', 'PrimaryEstablished', `${upstream.name} is the primary; ${want.name} replicates from it`);
      this.requeueAfterMs = 0;
      return;
    }
    this.actions.push({ kind: 'promote', node: want.name, minReplicasToWrite: 0 });
    this.event('Normal', 'Promote', `promoting ${want.name}: it replicates from no instance of this set`);
    this.requeueAfterMs = 0;
  }

  private startSwitchover(): void {
    const to = this.spec.primary;
    const target = this.specs.get(to);
    if (!target) return this.invalid('InvalidPrimary', `spec.primary ${JSON.stringify(to)} is not an instance`);
    if (target.isolated) return this.invalid('InvalidPrimary', `spec.primary ${JSON.stringify(to)} is isolated`);
    const from = this.current!;
    const last = this.change;
    if (
      last?.phase === 'Failed' &&
      last.to === to &&
      last.from === from &&
      this.input.now.getTime() - Date.parse(last.completionTime ?? '') < switchoverRetryMs
    ) {
      this.set(
        'Progressing',
        'False',
        'SwitchoverFailed',
        `switchover to ${to} failed (${last.message}); retrying soon`,
      );
      this.requeueAfterMs = 1000;
      return;
    }
    const primary = this.nodes.get(from)!;
    const candidate = this.nodes.get(to)!;
    if (!this.reachable(primary)) {
      // The primary is gone: the change asked for is a failover to `to`, taken only when the
      // replicas confirm they lost the primary too.
      const confirm = this.confirmPrimaryLost(primary);
      if (!confirm.ok) return this.pending('Switchover', from, to, 'PrimaryUnreachable', confirm.message);
      if (!this.reachable(candidate) || candidate.info!.role !== 'replica') {
        return this.pending('Failover', from, to, 'CandidateNotReady', `${to} is not a reachable replica`);
      }
      return this.beginFailover(from, to, 'ManualFailover', `${from} is unreachable and spec.primary names ${to}`);
    }
    const check = this.candidateCheck(primary, candidate);
    if (!check.ok) return this.pending('Switchover', from, to, check.reason, check.message);
    const epoch = this.nextEpoch();
    this.change = {
      kind: 'Switchover',
      from,
      to,
      phase: 'Fencing',
      epoch,
      startTime: formatTime(this.input.now),
      reason: 'SwitchoverRequested',
      message: `pausing writes on ${from} until ${to} has its replication offset`,
    };
    this.actions.push({ kind: 'fence', node: from, pauseMs: this.pauseMs() });
    this.event('Normal', 'SwitchoverStarted', `switchover ${from} -> ${to}: fencing ${from} (CLIENT PAUSE WRITE)`);
    this.requeueAfterMs = 0;
  }

  private candidateCheck(
    primary: NodeObservation,
    candidate: NodeObservation,
  ): { ok: true } | { ok: false; reason: string; message: string } {
    const to = candidate.name;
    if (!this.reachable(candidate)) {
      return { ok: false, reason: 'CandidateUnreachable', message: `${to}: ${candidate.problem?.message}` };
    }
    const i = candidate.info!;
    if (i.role !== 'replica' || !this.replicatesFrom(candidate, primary)) {
      return { ok: false, reason: 'CandidateNotReplica', message: `${to} does not replicate from ${primary.name}` };
    }
    if (i.masterLinkStatus !== 'up' || i.masterSyncInProgress) {
      return {
        ok: false,
        reason: 'CandidateNotReady',
        message: `${to} link ${i.masterLinkStatus}, sync in progress ${!!i.masterSyncInProgress}`,
      };
    }
    const lag = primary.info!.masterReplOffset - (i.replicaOffset ?? 0);
    const max = this.spec.switchover?.maxLagBytes ?? 1048576;
    if (lag > max) {
      return { ok: false, reason: 'CandidateLagging', message: `${to} is ${lag} bytes behind (maximum ${max})` };
    }
    return { ok: true };
  }

  private pending(kind: PrimaryChange['kind'], from: string, to: string, reason: string, message: string): void {
    const same = this.change?.phase === 'Pending' && this.change.to === to;
    this.change = {
      kind,
      from,
      to,
      phase: 'Pending',
      epoch: same ? this.change!.epoch : this.nextEpoch(),
      startTime: same ? this.change!.startTime : formatTime(this.input.now),
      reason,
      message,
    };
    if (!same) this.event('Normal', 'SwitchoverPending', `switchover ${from} -> ${to} waits: ${message}`);
    this.requeueAfterMs = 500;
  }

  /** One step of the change in progress. */
  private advance(c: PrimaryChange): void {
    const from = c.from ? this.nodes.get(c.from) : undefined;
    const to = this.nodes.get(c.to);
    if (!to || !this.specs.has(c.to)) return this.fail(c, 'CandidateRemoved', `${c.to} is no longer an instance`);
    const elapsed = this.input.now.getTime() - Date.parse(c.startTime ?? formatTime(this.input.now));
    const timeoutMs = (this.spec.switchover?.timeoutSeconds ?? 10) * 1000;
    switch (c.phase) {
      case 'Pending':
        // Nothing was done yet: decided again, as the spec may have changed since.
        if (this.spec.primary === c.to && this.current && this.mode !== 'Sentinel') return this.startSwitchover();
        this.change = { ...c, phase: 'Failed', reason: 'Superseded', completionTime: formatTime(this.input.now) };
        return;
      case 'Fencing': {
        if (!from || !this.reachable(from)) {
          return this.fail(c, 'PrimaryUnreachable', `${c.from} became unreachable while being fenced`);
        }
        if (from.minReplicasToWrite !== WRITE_FENCE) {
          this.actions.push({ kind: 'fence', node: from.name, pauseMs: this.pauseMs() });
          this.requeueAfterMs = 0;
          return;
        }
        this.change = { ...c, phase: 'CatchingUp', message: `waiting for ${c.to} to reach the offset of ${c.from}` };
        this.requeueAfterMs = 0;
        return;
      }
      case 'CatchingUp': {
        if (!from || !this.reachable(from)) {
          return this.fail(c, 'PrimaryUnreachable', `${c.from} became unreachable during the catch-up`);
        }
        if (!this.reachable(to)) {
          return this.fail(c, 'CandidateUnreachable', `${c.to} became unreachable during the catch-up`, from);
        }
        const target = from.info!.masterReplOffset;
        const reached = to.info!.role === 'replica' ? (to.info!.replicaOffset ?? 0) : -1;
        if (to.info!.role === 'replica' && this.replicatesFrom(to, from) && reached >= target) {
          this.change = { ...c, phase: 'Promoting', message: `${c.to} reached offset ${target}; promoting it` };
          this.actions.push({ kind: 'promote', node: c.to, minReplicasToWrite: this.primaryMinReplicas(c.to) });
          this.event('Normal', 'Promoting', `${c.to} caught up with ${c.from} at offset ${target}; promoting it`);
          this.requeueAfterMs = 0;
          return;
        }
        if (elapsed > timeoutMs) {
          return this.fail(
            c,
            'CatchUpTimeout',
            `${c.to} did not reach offset ${target} of ${c.from} in ${timeoutMs / 1000}s (at ${reached})`,
            from,
          );
        }
        this.requeueAfterMs = 20;
        return;
      }
      case 'Promoting': {
        if (!this.reachable(to)) {
          if (elapsed > timeoutMs * 3) {
            // The candidate is gone; whether it was promoted is unknown. When it comes back as a
            // primary it is treated as any former primary: fenced, then re-pointed.
            return this.fail(c, 'CandidateUnreachable', `${c.to} unreachable while being promoted`, from);
          }
          this.change = { ...c, message: `${c.to} unreachable while being promoted; waiting` };
          this.requeueAfterMs = 500;
          return;
        }
        if (to.info!.role !== 'master') {
          this.actions.push({ kind: 'promote', node: c.to, minReplicasToWrite: this.primaryMinReplicas(c.to) });
          this.requeueAfterMs = 0;
          return;
        }
        this.change = { ...c, phase: 'Repointing', message: `attaching the other instances to ${c.to}` };
        this.repointAll(to, c.kind === 'Switchover' ? c.from : undefined);
        this.requeueAfterMs = 0;
        return;
      }
      case 'Repointing': {
        if (!this.reachable(to) || to.info!.role !== 'master') {
          this.change = { ...c, message: `${c.to} is not a reachable primary; waiting` };
          this.requeueAfterMs = 500;
          return;
        }
        const left = this.repointAll(to, c.kind === 'Switchover' ? c.from : undefined);
        if (left > 0) {
          this.requeueAfterMs = 0;
          return;
        }
        this.current = c.to;
        this.change = {
          ...c,
          phase: 'Completed',
          completionTime: formatTime(this.input.now),
          message: `${c.to} is the primary`,
        };
        if (this.spec.primary !== c.to) this.specPrimary = c.to;
        this.event('Normal', `${c.kind}Completed`, `${c.kind.toLowerCase()} ${c.from ?? ''} -> ${c.to} completed`);
        this.requeueAfterMs = 0;
        return;
      }
    }
  }

  /**
   * Re-points every reachable, non-isolated instance but `primary` that does not replicate from
   * it yet (`unpauseFrom`: the fenced old primary of a switchover, un-paused once it is a replica).
   * Returns how many needed it.
   */
  private repointAll(primary: NodeObservation, unpauseFrom: string | undefined): number {
    let n = 0;
    for (const node of this.nodes.values()) {
      if (node.name === primary.name || this.specs.get(node.name)?.isolated || !this.reachable(node)) continue;
      if (node.info!.role === 'replica' && this.replicatesFrom(node, primary)) continue;
      n++;
      this.actions.push({
        kind: 'repoint',
        node: node.name,
        to: primary.replicationAddress!,
        fenceFirst: node.info!.role === 'master',
        unpause: node.name === unpauseFrom,
      });
    }
    return n;
  }

  private fail(c: PrimaryChange, reason: string, message: string, unfence?: NodeObservation): void {
    this.change = { ...c, phase: 'Failed', reason, message, completionTime: formatTime(this.input.now) };
    if (unfence && this.reachable(unfence) && unfence.name === this.current) {
      this.actions.push({
        kind: 'unfence',
        node: unfence.name,
        minReplicasToWrite: this.primaryMinReplicas(unfence.name),
      });
    }
    this.event('Warning', `${c.kind}Failed`, `${c.kind.toLowerCase()} ${c.from ?? ''} -> ${c.to} failed: ${message}`);
    this.requeueAfterMs = 500;
  }

  // -------------------------------------------------------------------------------------------
  // Failure of the primary

  private primaryLost(primary: NodeObservation): void {
    const downMs = this.input.unreachableForMs(primary.name);
    const what = `${primary.name} unreachable: ${primary.problem?.message ?? ''}`;
    this.set('Ready', 'False', 'PrimaryUnreachable', what);
    if (this.mode !== 'Automatic') {
      this.set('Degraded', 'True', 'PrimaryFailed', what);
      const next = this.mode === 'Sentinel' ? 'waiting for the Sentinels' : 'change spec.primary to promote a replica';
      this.event('Warning', 'PrimaryFailed', `${what}; ${next}`);
      this.requeueAfterMs = 1000;
      return;
    }
    const delayMs = (this.spec.failover?.delaySeconds ?? 30) * 1000;
    if (downMs < delayMs) {
      this.set('Degraded', 'True', 'PrimaryFailed', `${what}; failing over after ${delayMs / 1000}s`);
      this.requeueAfterMs = Math.min(250, delayMs - downMs);
      return;
    }
    const confirm = this.confirmPrimaryLost(primary);
    if (!confirm.ok) {
      this.set('Degraded', 'True', 'PrimaryUnreachableFromController', confirm.message);
      this.requeueAfterMs = 500;
      return;
    }
    const last = this.change;
    const cooldownMs = (this.spec.failover?.cooldownSeconds ?? 300) * 1000;
    if (last?.kind === 'Failover' && last.completionTime) {
      const since = this.input.now.getTime() - Date.parse(last.completionTime);
      if (since < cooldownMs) {
        const msg = `last failover ${Math.round(since / 1000)}s ago; cooldown ${cooldownMs / 1000}s`;
        this.set('Degraded', 'True', 'FailoverCooldown', `${what}; ${msg}`);
        this.event('Warning', 'FailoverCooldown', `${what}; not failing over: ${msg}`);
        this.requeueAfterMs = Math.min(1000, cooldownMs - since);
        return;
      }
    }
    const candidate = this.electCandidate(primary);
    this.set('Degraded', 'True', 'PrimaryFailed', what);
    if (!candidate) {
      this.event('Warning', 'NoCandidate', `${what}; no promotable, connected replica to promote`);
      this.requeueAfterMs = 1000;
      return;
    }
    this.beginFailover(
      primary.name,
      candidate.name,
      'PrimaryUnreachable',
      `${primary.name} unreachable for ${Math.round(downMs / 100) / 10}s and the replicas lost their link; ` +
        `${candidate.name} has the highest offset (${candidate.info!.replicaOffset})`,
    );
  }

  private beginFailover(from: string, to: string, reason: string, message: string): void {
    this.change = {
      kind: 'Failover',
      from,
      to,
      phase: 'Promoting',
      epoch: this.change?.phase === 'Pending' && this.change.to === to ? this.change.epoch : this.nextEpoch(),
      startTime: formatTime(this.input.now),
      reason,
      message,
    };
    this.actions.push({ kind: 'promote', node: to, minReplicasToWrite: this.primaryMinReplicas(to) });
    this.event('Warning', 'FailoverStarted', `failover ${from} -> ${to}: ${message}`);
    this.requeueAfterMs = 0;
  }

  /** The replicas of `primary` the controller reaches must all have lost their link to it. */
  private confirmPrimaryLost(primary: NodeObservation): { ok: boolean; message: string } {
    const replicas = [...this.nodes.values()].filter(
      (n) =>
        n.name !== primary.name && this.reachable(n) && n.info!.role === 'replica' && this.replicatesFrom(n, primary),
    );
    if (replicas.length === 0)
      return { ok: false, message: `no reachable replica of ${primary.name} confirms it is down` };
    const up = replicas.filter((n) => n.info!.masterLinkStatus === 'up').map((n) => n.name);
    if (up.length > 0) {
      return { ok: false, message: `${up.join(', ')} still reach ${primary.name}: not failing over` };
    }
    return { ok: true, message: `${replicas.map((n) => n.name).join(', ')} lost their link to ${primary.name}` };
  }

  /** Highest replication offset, then lowest replica-priority, then name. */
  private electCandidate(primary: NodeObservation): NodeObservation | undefined {
    const eligible = [...this.nodes.values()].filter((n) => {
      const s = this.specs.get(n.name);
      const i = n.info;
      return (
        n.name !== primary.name &&
        s &&
        !s.isolated &&
        s.promotable !== false &&
        this.reachable(n) &&
        i!.role === 'replica' &&
        this.replicatesFrom(n, primary) &&
        !i!.masterSyncInProgress &&
        i!.replicaPriority !== 0
      );
    });
    eligible.sort(
      (a, b) =>
        (b.info!.replicaOffset ?? 0) - (a.info!.replicaOffset ?? 0) ||
        (a.info!.replicaPriority ?? 100) - (b.info!.replicaPriority ?? 100) ||
        a.name.localeCompare(b.name),
    );
    return eligible[0];
  }

  // -------------------------------------------------------------------------------------------
  // Sentinel

  private followSentinels(): void {
    const s = this.spec.sentinel;
    if (!s) {
      this.set('Degraded', 'True', 'SentinelMissing', 'failover.mode is Sentinel but spec.sentinel is not set');
      return;
    }
    const name = s.masterName ?? 'mymaster';
    const sentinels = this.input.observation.sentinels;
    const monitoring = sentinels.filter((x) => !x.problem && x.master && x.primary);
    this.sentinelsMonitoring = monitoring.length > 0;
    const votes = new Map<string, { address: Address; count: number }>();
    for (const x of monitoring) {
      const k = addr(x.primary!);
      votes.set(k, { address: x.primary!, count: (votes.get(k)?.count ?? 0) + 1 });
    }
    const ranked = [...votes.values()].sort((a, b) => b.count - a.count);
    const quorum = s.quorum ?? 2;
    const winner = ranked[0];
    if (ranked.length > 1) {
      this.set(
        'Degraded',
        'True',
        'SentinelsDisagree',
        ranked.map((v) => `${v.count} see ${addr(v.address)}`).join(', '),
      );
    }
    if (winner && winner.count >= Math.min(quorum, sentinels.length) && winner.count * 2 > monitoring.length) {
      const node = [...this.nodes.values()].find((n) =>
        sameAddress(n.replicationAddress, winner.address.host, winner.address.port),
      );
      if (!node) {
        this.set(
          'Degraded',
          'True',
          'SentinelsDisagree',
          `the Sentinels elected ${addr(winner.address)}, not an instance of this set`,
        );
      } else if (node.name !== this.current && this.reachable(node) && node.info!.role === 'master') {
        const from = this.current;
        this.current = node.name;
        this.change = {
          kind: 'Failover',
          from,
          to: node.name,
          phase: 'Completed',
          epoch: this.nextEpoch(),
          startTime: formatTime(this.input.now),
          completionTime: formatTime(this.input.now),
          reason: 'SentinelFailover',
          message: `the Sentinels elected ${node.name} (${addr(winner.address)})`,
        };
        if (this.spec.primary !== node.name) this.specPrimary = node.name;
        this.event('Normal', 'SentinelFailover', `the Sentinels made ${node.name} the primary; following them`);
      }
    }
    // Registration and settings, once the primary is known.
    const primary = this.current ? this.nodes.get(this.current) : undefined;
    if (!primary || !this.reachable(primary) || primary.info!.role !== 'master') return;
    const downAfter = s.downAfterMilliseconds ?? 5000;
    for (const x of sentinels) {
      if (x.problem) continue;
      if (!x.master) {
        this.actions.push({
          kind: 'sentinelMonitor',
          sentinel: x.name,
          primary: primary.replicationAddress!,
          quorum,
          downAfterMilliseconds: downAfter,
        });
        this.event('Normal', 'SentinelMonitor', `${x.name} now monitors ${primary.name} as ${name}`);
        continue;
      }
      const options: Record<string, string | number> = {};
      if (Number(x.master['quorum']) !== quorum) options['quorum'] = quorum;
      if (Number(x.master['down-after-milliseconds']) !== downAfter) options['down-after-milliseconds'] = downAfter;
      if (Object.keys(options).length) this.actions.push({ kind: 'sentinelSet', sentinel: x.name, options });
    }
  }

  // -------------------------------------------------------------------------------------------
  // Steady state: keep every instance where it belongs.

  private steady(primary: NodeObservation): void {
    const p = primary.info!;
    if (p.role !== 'master') {
      const msg = `${primary.name} replicates from ${p.masterHost}:${p.masterPort}; it is no longer the primary`;
      this.set('Degraded', 'True', 'PrimaryDemoted', msg);
      this.event('Warning', 'PrimaryDemoted', msg);
      return;
    }
    const want = this.primaryMinReplicas(primary.name);
    const have = primary.minReplicasToWrite;
    if (have === WRITE_FENCE || (this.mode !== 'Manual' && have !== undefined && have !== want)) {
      this.actions.push({
        kind: 'configurePrimary',
        node: primary.name,
        minReplicasToWrite: want,
        unpause: have === WRITE_FENCE,
      });
      if (have === WRITE_FENCE) this.event('Normal', 'Unfence', `${primary.name} takes writes again`);
    }
    // Once the Sentinels monitor the set they re-point instances themselves; two writers of the
    // topology would race, so the controller leaves the instances to them.
    if (this.mode === 'Sentinel' && this.sentinelsMonitoring) return;
    for (const node of this.nodes.values()) {
      if (node.name === primary.name || !this.reachable(node)) continue;
      const s = this.specs.get(node.name)!;
      const i = node.info!;
      if (s.isolated) {
        if (i.role === 'replica') this.actions.push({ kind: 'isolate', node: node.name });
        else if (node.minReplicasToWrite !== WRITE_FENCE) this.actions.push({ kind: 'fence', node: node.name });
        continue;
      }
      if (i.role === 'replica') {
        if (this.replicatesFrom(node, primary)) continue;
        const upstream = this.nodeAt(i.masterHost, i.masterPort);
        if (upstream || !i.keys) {
          this.actions.push({ kind: 'repoint', node: node.name, to: primary.replicationAddress! });
          this.event(
            'Normal',
            'Repoint',
            `${node.name} replicates from ${i.masterHost}:${i.masterPort}; re-pointing it to ${primary.name}`,
          );
        } else {
          this.divergent(
            node,
            `replicates from ${i.masterHost}:${i.masterPort}, outside this set, and holds ${i.keys} keys`,
          );
        }
        continue;
      }
      // A second primary.
      const formerPrimary = this.wasPrimary(node.name);
      if (!i.keys || formerPrimary) {
        const lost = this.writesOnlyOn(node, primary);
        if (formerPrimary) {
          this.messages.set(node.name, `former primary re-pointed to ${primary.name}: ${lost}`);
          this.event(
            lost.startsWith('none') ? 'Normal' : 'Warning',
            'DemoteFormerPrimary',
            `${node.name} came back as a primary; re-pointing it to ${primary.name} (${lost})`,
          );
        } else {
          this.event('Normal', 'Repoint', `${node.name} is an empty primary; making it a replica of ${primary.name}`);
        }
        this.actions.push({ kind: 'repoint', node: node.name, to: primary.replicationAddress!, fenceFirst: true });
        continue;
      }
      if (node.minReplicasToWrite !== WRITE_FENCE) this.actions.push({ kind: 'fence', node: node.name });
      this.divergent(
        node,
        `is a second primary holding ${i.keys} keys: fenced (it refuses writes), not re-pointed, as that would discard them; empty it or remove it from spec`,
      );
      this.set('Degraded', 'True', 'SplitBrain', `${node.name} is a primary besides ${primary.name}`);
    }
    if (this.actions.length) this.requeueAfterMs = 0;
  }

  private divergent(node: NodeObservation, message: string): void {
    this.diverged.add(node.name);
    this.messages.set(node.name, message);
    this.event('Warning', 'Diverged', `${node.name} ${message}`);
  }

  /** Whether the status says `name` was the primary (a returning primary is demoted, its data given up). */
  private wasPrimary(name: string): boolean {
    const c = this.old.lastPrimaryChange;
    return this.old.currentPrimary === name || c?.from === name || c?.to === name;
  }

  /** What re-pointing `node` to `primary` discards, from their replication ids and offsets. */
  private writesOnlyOn(node: NodeObservation, primary: NodeObservation): string {
    const n = node.info!;
    const p = primary.info!;
    if ((n.replId === p.replId2 || n.replId === p.replId) && n.masterReplOffset < p.secondReplOffset) {
      return `none: its history (offset ${n.masterReplOffset}) is part of ${primary.name}'s`;
    }
    if (n.replId === p.replId2) {
      return `${n.masterReplOffset - p.secondReplOffset + 1} bytes of writes it took after ${primary.name} was promoted are discarded`;
    }
    return `its history (replication id ${n.replId.slice(0, 8)}, offset ${n.masterReplOffset}) cannot be matched with ${primary.name}'s; writes only it has are discarded`;
  }

  // -------------------------------------------------------------------------------------------
  // Helpers

  private reachable(
    n: NodeObservation | undefined,
  ): n is NodeObservation & { info: NonNullable<NodeObservation['info']> } {
    return !!n && !n.problem && !!n.info;
  }

  private replicatesFrom(n: NodeObservation, primary: NodeObservation): boolean {
    return (
      sameAddress(primary.replicationAddress, n.info?.masterHost, n.info?.masterPort) ||
      sameAddress(primary.endpoint, n.info?.masterHost, n.info?.masterPort)
    );
  }

  /** The primary at the top of `n`'s replication chain, when it is an instance of this set. */
  private rootOf(n: NodeObservation): NodeObservation | undefined {
    let at: NodeObservation | undefined = n;
    for (let hops = 0; at && hops < this.nodes.size; hops++) {
      if (!this.reachable(at)) return undefined;
      if (at.info.role === 'master') return at;
      at = this.nodeAt(at.info.masterHost, at.info.masterPort);
    }
    return undefined;
  }

  private nodeAt(host: string | undefined, port: number | undefined): NodeObservation | undefined {
    return [...this.nodes.values()].find(
      (n) => sameAddress(n.replicationAddress, host, port) || sameAddress(n.endpoint, host, port),
    );
  }

  /** min-replicas-to-write of the primary: 1 with automatic or Sentinel failover and a replica to count on. */
  private primaryMinReplicas(primary: string): number {
    if (this.mode === 'Manual') return 0;
    // Counted among the instances reachable now: a primary promoted with no other instance alive
    // must take writes.
    const replicas = this.spec.instances.filter(
      (i) => i.name !== primary && !i.isolated && this.reachable(this.nodes.get(i.name)),
    ).length;
    return replicas > 0 ? 1 : 0;
  }

  private pauseMs(): number {
    return (this.spec.switchover?.timeoutSeconds ?? 10) * 1000 + 5000;
  }

  private nextEpoch(): number {
    return (this.old.lastPrimaryChange?.epoch ?? 0) + 1;
  }

  private invalid(reason: string, message: string): void {
    this.set('Ready', 'False', reason, message);
    this.event('Warning', reason, message);
    this.requeueAfterMs = 5000;
  }

  private event(type: PlanEvent['type'], reason: string, note: string): void {
    this.events.push({ type, reason, note });
  }

  private set(type: 'Ready' | 'Progressing' | 'Degraded', status: 'True' | 'False', reason: string, message: string) {
    if (this.conditions[type]) return; // the first (most specific) decision wins
    this.conditions[type] = { type, status, reason, message };
  }

  /** Adopts the observed primary without acting (paused objects). */
  private establishFromObservation(): void {
    if (this.current) return;
    const want = this.nodes.get(this.spec.primary);
    if (this.reachable(want) && want.info.role === 'master') this.current = want.name;
  }

  // -------------------------------------------------------------------------------------------
  // The status, conditions and labels that follow from the decisions.

  private finish(): Plan {
    const now = this.input.now;
    const change = this.change;
    const active = inProgress(change) ? change : undefined;
    const fencing = active?.kind === 'Switchover' && active.phase !== 'Pending' ? active.from : undefined;
    const primary = this.current ? this.nodes.get(this.current) : undefined;
    const primaryOffset =
      this.reachable(primary) && primary.info.role === 'master' ? primary.info.masterReplOffset : undefined;
    const fencedNow = new Set(
      this.actions.filter((a) => a.kind === 'fence' || a.kind === 'isolate').map((a) => a.node),
    );
    const roles: Record<string, PodRole | undefined> = {};
    const instances: RedisInstanceStatus[] = [];
    let ready = 0;
    const linkDown: string[] = [];
    for (const s of this.spec.instances) {
      const n = this.nodes.get(s.name);
      const before = this.old.instances?.find((x) => x.name === s.name);
      const st: RedisInstanceStatus = { name: s.name };
      if (n?.endpoint) st.address = addr(n.endpoint);
      let role: PodRole | undefined;
      let isReady = false;
      if (!this.reachable(n)) {
        st.role = 'Unknown';
        st.health = 'Unreachable';
        st.message = n?.problem?.message ?? 'not observed';
        if (before?.lastSeen) st.lastSeen = before.lastSeen;
      } else {
        const i = n.info;
        st.role = i.role === 'master' ? 'Primary' : 'Replica';
        st.health = this.diverged.has(s.name) ? 'Diverged' : 'Healthy';
        if (i.version) st.version = i.version;
        st.connectedReplicas = i.connectedReplicas.length;
        const fenced = n.minReplicasToWrite === WRITE_FENCE || fencedNow.has(s.name);
        if (i.role === 'master') {
          st.replicationOffset = i.masterReplOffset;
          if (s.isolated) isReady = fenced;
          else if (s.name === this.current && s.name !== fencing && !fenced) {
            isReady = true;
            role = 'primary';
          }
        } else {
          st.primaryHost = i.masterHost;
          st.primaryPort = i.masterPort;
          st.linkStatus = i.masterLinkStatus;
          st.syncInProgress = !!i.masterSyncInProgress;
          st.replicationOffset = i.replicaOffset;
          const ofPrimary = !!primary && this.replicatesFrom(n, primary);
          if (ofPrimary && primaryOffset !== undefined)
            st.lagBytes = Math.max(0, primaryOffset - (i.replicaOffset ?? 0));
          if (!s.isolated && ofPrimary && i.masterLinkStatus === 'up' && !i.masterSyncInProgress) {
            isReady = true;
            role = 'replica';
          } else if (!s.isolated && ofPrimary) linkDown.push(s.name);
        }
        const last = before?.lastSeen ? Date.parse(before.lastSeen) : 0;
        st.lastSeen = now.getTime() - last >= lastSeenRefreshMs ? formatTime(now) : before!.lastSeen;
        if (this.messages.has(s.name)) st.message = this.messages.get(s.name);
        else if (!isReady && !s.isolated) {
          st.message =
            i.role === 'master'
              ? s.name === this.current
                ? 'fenced: refuses writes'
                : 'a primary that is not the current one'
              : `link ${i.masterLinkStatus}${i.masterSyncInProgress ? ', full synchronisation running' : ''}`;
        }
      }
      st.ready = isReady;
      if (isReady) ready++;
      // Only Unit-backed instances have a Pod to label.
      if (n?.endpoint?.unit) roles[s.name] = role;
      instances.push(st);
    }

    const status: RedisReplicationStatus = {
      observedGeneration: this.rr.metadata.generation,
      currentPrimary: this.current ?? '',
      targetPrimary: active ? active.to : (this.current ?? ''),
      totalInstances: this.spec.instances.length,
      readyInstances: ready,
      instances,
      ...(change ? { lastPrimaryChange: change } : {}),
      services: {
        readWrite: `${this.rr.metadata.name}-readwrite`,
        ...(this.spec.service?.readOnly !== false ? { readOnly: `${this.rr.metadata.name}-readonly` } : {}),
      },
    };
    if (this.mode === 'Sentinel') {
      const sentinels = this.input.observation.sentinels;
      const p = primary?.replicationAddress;
      const monitoring = sentinels.filter((x) => !x.problem && x.primary);
      status.sentinel = {
        monitoredPrimary: monitoring[0]?.primary ? addr(monitoring[0].primary) : '',
        readySentinels: monitoring.filter((x) => sameAddress(p, x.primary!.host, x.primary!.port)).length,
      };
    }

    // Conditions.
    const allReady = ready === this.spec.instances.length;
    if (active) {
      this.set('Progressing', 'True', active.kind, `${active.phase}: ${active.message ?? ''}`);
      this.set(
        'Ready',
        'False',
        active.kind,
        `${active.kind.toLowerCase()} ${active.from ?? ''} -> ${active.to}: ${active.phase}`,
      );
    } else {
      this.set(
        'Progressing',
        'False',
        change?.phase === 'Failed' ? `${change.kind}Failed` : 'Idle',
        change
          ? `last change: ${change.kind.toLowerCase()} to ${change.to} ${change.phase.toLowerCase()}`
          : 'no change',
      );
    }
    if (!this.current) this.set('Ready', 'False', 'NoPrimary', 'no primary established yet');
    if (linkDown.length)
      this.set('Degraded', 'True', 'ReplicaLinkDown', `link to the primary down: ${linkDown.join(', ')}`);
    const unreachable = instances.filter((x) => x.health === 'Unreachable').map((x) => x.name);
    for (const n of this.nodes.values()) {
      if (n.problem) this.event('Warning', n.problem.reason, `${n.name}: ${n.problem.message}`);
    }
    for (const x of this.input.observation.sentinels) {
      if (x.problem) this.event('Warning', `Sentinel${x.problem.reason}`, `${x.name}: ${x.problem.message}`);
    }
    if (unreachable.length)
      this.set('Degraded', 'True', 'InstanceUnreachable', `unreachable: ${unreachable.join(', ')}`);
    this.set('Degraded', 'False', 'AsExpected', 'every instance is where it belongs');
    this.set(
      'Ready',
      allReady ? 'True' : 'False',
      allReady ? 'Ready' : 'InstancesNotReady',
      allReady
        ? `${this.current} is the primary; ${ready - 1} replicas attached`
        : `${ready}/${instances.length} instances ready`,
    );
    let conditions = (this.old.conditions ?? []) as unknown as Condition[];
    for (const c of Object.values(this.conditions)) {
      if (!c) continue;
      conditions = setCondition(conditions, { ...c, observedGeneration: this.rr.metadata.generation }, now).conditions;
    }
    status.conditions = conditions as RedisReplicationStatus['conditions'];
    return {
      status,
      actions: this.actions,
      events: this.events,
      specPrimary: this.specPrimary,
      roles,
      requeueAfterMs: this.requeueAfterMs,
    };
  }
}
