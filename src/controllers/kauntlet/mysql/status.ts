// The status a MysqlReplication reports, from the plan and what the servers said. Pure. Fields
// that change on every look (lastSeen) are refreshed coarsely, so an unchanged topology writes no
// status and wakes no watcher.

import type { MysqlInstanceStatus, MysqlReplication, MysqlReplicationStatus } from '../../../api/generated/types.js';
import { setCondition, type Condition } from '../../../machinery/conditions.js';
import { formatTime } from '../../../machinery/time.js';
import type { PodRole } from '../shared/services.js';
import type { InstanceObservation, Plan } from './plan.js';

const LAST_SEEN_REFRESH_MS = 30_000;

export interface StatusInput {
  mr: MysqlReplication;
  plan: Plan;
  observations: InstanceObservation[];
  now: Date;
  services: { readWrite: string; readOnly?: string };
  /** Outcome of the last Services/Pod labels sync; undefined keeps the previous condition. */
  servicesSynced?: { ok: boolean; message: string };
  /** Problem that stopped the reconcile before observing (credentials, TLS). */
  blocked?: { reason: string; message: string };
}

const inProgress = (plan: Plan) => !!plan.change && plan.change.phase !== 'Completed' && plan.change.phase !== 'Failed';

/** Per instance: the role its Pod is labelled with (undefined: in no Service). */
export function podRoles(
  mr: MysqlReplication,
  instances: MysqlInstanceStatus[],
  primary: string | undefined,
): Map<string, PodRole | undefined> {
  const roles = new Map<string, PodRole | undefined>();
  for (const inst of mr.spec.instances) {
    const st = instances.find((i) => i.name === inst.name);
    const role =
      !st?.ready || inst.isolated ? undefined : inst.name === primary && st.role === 'Primary' ? 'primary' : 'replica';
    roles.set(inst.name, role);
  }
  return roles;
}

export function replicationStatus(input: StatusInput): MysqlReplicationStatus {
  const { mr, plan, observations, now } = input;
  const prev = mr.status ?? {};
  const obs = new Map(observations.map((o) => [o.name, o]));
  const primary = plan.currentPrimary;
  const p = primary ? obs.get(primary) : undefined;
  const instances: MysqlInstanceStatus[] = mr.spec.instances.map((inst) => {
    const o = obs.get(inst.name);
    const before = prev.instances?.find((i) => i.name === inst.name);
    const s = o?.state;
    if (!s) {
      return dropUndefined({
        name: inst.name,
        address: o?.address ?? before?.address,
        role: 'Unknown',
        health: 'Unreachable',
        ready: false,
        flavor: before?.flavor,
        version: before?.version,
        gtidExecuted: before?.gtidExecuted,
        secondsBehindSource: before?.secondsBehindSource,
        lastSeen: before?.lastSeen,
        message: o?.error ?? 'not observed',
      });
    }
    const r = s.replica;
    const writable = !s.readOnly && !s.superReadOnly;
    const diverged = plan.diverged[inst.name];
    const pointsAtPrimary = !!r && !!p && r.sourceHost === p.host && r.sourcePort === p.port;
    let ready: boolean;
    let message: string | undefined;
    if (inst.name === primary) {
      ready = writable && !r && !inProgress(plan);
      if (!ready) message = inProgress(plan) ? `${plan.change!.kind.toLowerCase()} in progress` : 'not yet writable';
    } else if (inst.isolated) {
      ready = !writable && !r;
      message = 'isolated';
    } else {
      ready = !writable && pointsAtPrimary && r!.ioRunning === 'Yes' && r!.sqlRunning === 'Yes' && !diverged;
      if (!ready) {
        message = diverged
          ? `errant transactions ${diverged}`
          : r?.lastSQLError ||
            r?.lastIOError ||
            (pointsAtPrimary ? 'replication not running' : 'not replicating from the primary');
      }
    }
    const failed = !!r && !!(r.lastSQLError || r.sqlRunning === 'No' || r.ioRunning === 'No');
    const lastSeen =
      before?.lastSeen && now.getTime() - Date.parse(before.lastSeen) < LAST_SEEN_REFRESH_MS
        ? before.lastSeen
        : formatTime(now);
    return dropUndefined({
      name: inst.name,
      address: o.address,
      role: r ? 'Replica' : 'Primary',
      health: diverged ? 'Diverged' : failed ? 'Failed' : 'Healthy',
      ready,
      flavor: s.flavor,
      version: s.version,
      readOnly: s.readOnly,
      superReadOnly: s.superReadOnly,
      sourceHost: r?.sourceHost,
      sourcePort: r?.sourcePort,
      ioThreadRunning: r?.ioRunning,
      sqlThreadRunning: r?.sqlRunning,
      secondsBehindSource: r?.secondsBehind ?? undefined,
      gtidExecuted: s.executed,
      lastIOError: r?.lastIOError || undefined,
      lastSQLError: r?.lastSQLError || undefined,
      semiSyncEnabled: r ? s.semiSync.replica : s.semiSync.source,
      lastSeen,
      message,
    });
  });

  const generation = mr.metadata.generation;
  let conditions = (prev.conditions ?? []) as Condition[];
  const set = (type: string, status: 'True' | 'False', reason: string, message: string) => {
    conditions = setCondition(
      conditions,
      { type, status, reason, message, observedGeneration: generation },
      now,
    ).conditions;
  };
  const notReady = instances.filter((i) => !i.ready && !mr.spec.instances.find((s) => s.name === i.name)?.isolated);
  const change = plan.change;
  if (input.blocked) set('Ready', 'False', input.blocked.reason, input.blocked.message);
  else if (mr.spec.paused) set('Ready', 'False', 'Paused', 'spec.paused is set');
  else if (inProgress(plan)) {
    set('Ready', 'False', `${change!.kind}InProgress`, `${change!.kind} to ${change!.to}: ${change!.phase}`);
  } else if (plan.waiting && (!primary || !p?.state || plan.waiting.reason === 'InvalidSpec')) {
    set('Ready', 'False', plan.waiting.reason, plan.waiting.message);
  } else if (!p?.state) set('Ready', 'False', 'PrimaryUnreachable', `primary ${primary ?? '?'} is unreachable`);
  else if (change?.phase === 'Failed' && change.to === mr.spec.primary && primary !== mr.spec.primary) {
    set('Ready', 'False', 'SwitchoverFailed', change.message ?? 'switchover failed');
  } else if (notReady.length) {
    set('Ready', 'False', 'ReplicasNotReady', notReady.map((i) => `${i.name}: ${i.message ?? 'not ready'}`).join('; '));
  } else set('Ready', 'True', 'Ready', `${primary} is the writable primary; every replica replicates from it`);

  if (inProgress(plan)) {
    set('Progressing', 'True', change!.reason ?? change!.phase, change!.message ?? change!.phase);
  } else {
    set(
      'Progressing',
      'False',
      change ? `${change.kind}${change.phase}` : 'Idle',
      change?.message ?? 'no change in progress',
    );
  }
  if (plan.findings.length) {
    set('Degraded', 'True', plan.findings[0].reason, plan.findings.map((f) => f.message).join('; '));
  } else set('Degraded', 'False', 'AsExpected', 'no problem found');
  if (input.servicesSynced) {
    set(
      'ServicesReady',
      input.servicesSynced.ok ? 'True' : 'False',
      input.servicesSynced.ok ? 'Synced' : 'SyncFailed',
      input.servicesSynced.message,
    );
  }

  return dropUndefined({
    observedGeneration: generation,
    currentPrimary: primary,
    targetPrimary: inProgress(plan) ? change!.to : primary,
    totalInstances: mr.spec.instances.length,
    readyInstances: instances.filter((i) => i.ready).length,
    instances,
    lastPrimaryChange: change,
    services: dropUndefined({ readWrite: input.services.readWrite, readOnly: input.services.readOnly }),
    conditions: conditions as MysqlReplicationStatus['conditions'],
  });
}

function dropUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
