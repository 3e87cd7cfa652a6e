// The status of a RedisCluster from an observation and its plan, pure: per shard its primary,
// slots and keys, per node its role and health, and the Ready/Progressing/Degraded conditions.

import type {
  RedisCluster,
  RedisClusterMigration,
  RedisClusterNodeStatus,
  RedisClusterShardStatus,
  RedisClusterStatus,
} from '../../../api/generated/types.js';
import { setCondition, type Condition } from '../../../machinery/conditions.js';
import { formatTime } from '../../../machinery/time.js';
import { formatRange, HASH_SLOTS, parseRange, slotsOf, toRanges } from '../../drivers/redis/cluster.js';
import { myself, type ObservedInstance } from './model.js';
import type { Action, Plan } from './plan.js';
import type { SlotMove } from './slots.js';

export interface StatusInput {
  rc: RedisCluster;
  instances: ObservedInstance[];
  plan: Plan;
  /** The migration to record (undefined: none in flight). */
  migration?: RedisClusterMigration;
  /** What this pass did, for Progressing. */
  acted: Action[];
  /** An error met while acting (the reconcile is retried). */
  error?: string;
  now: Date;
}

const progressReason: Record<Action['kind'], string> = {
  Meet: 'Joining',
  AddSlots: 'Bootstrapping',
  Replicate: 'AttachingReplicas',
  Failover: 'FailingOver',
  FixOpenSlot: 'RepairingOpenSlots',
  AssignSlots: 'RepairingUncoveredSlots',
  StartMigration: 'MigratingSlots',
  ResumeMigration: 'MigratingSlots',
  Forget: 'ForgettingNodes',
};

export function migrationStatus(
  moves: SlotMove[],
  progress: { slot?: number; moved: number; from?: string; to?: string },
  startTime: string,
): RedisClusterMigration {
  const remaining = moves.reduce((n, m) => n + m.slots.length, 0);
  return {
    fromShard: progress.from ?? moves[0]?.from,
    toShard: progress.to ?? moves[0]?.to,
    ...(progress.slot !== undefined ? { slot: progress.slot } : moves[0] ? { slot: moves[0].slots[0] } : {}),
    slotsRemaining: remaining,
    slotsMoved: progress.moved,
    startTime,
    steps: moves.map((m) => ({ fromShard: m.from, toShard: m.to, slots: toRanges(m.slots).map(formatRange) })),
  };
}

/** The moves recorded in status. */
export function movesOf(m: RedisClusterMigration | undefined): SlotMove[] | undefined {
  if (!m?.steps?.length) return undefined;
  return m.steps.map((s) => ({ from: s.fromShard, to: s.toShard, slots: slotsOf(s.slots.map(parseRange)) }));
}

export function buildStatus(input: StatusInput): RedisClusterStatus {
  const { rc, instances, plan, now } = input;
  const view = plan.view;
  const previous = rc.status;
  const seen = formatTime(now);
  const live = instances.filter((i) => i.state === 'Reachable' && !i.extra);

  const nodeStatus = (i: ObservedInstance, shardPrimaryId: string | undefined): RedisClusterNodeStatus => {
    const prev = previous?.shards?.find((s) => s.name === i.shard)?.nodes?.find((n) => n.name === i.name);
    const me = myself(i);
    const problem = plan.problems.find((p) => p.instance === `${i.shard}/${i.name}`);
    const id = i.id ?? prev?.nodeId;
    const seenBy = [...instances]
      .filter((x) => x !== i && x.state === 'Reachable')
      .map((x) => x.nodes?.find((n) => n.id === id))
      .find(Boolean);
    const role: RedisClusterNodeStatus['role'] = me ? (me.master ? 'Primary' : 'Replica') : 'Unknown';
    const isPrimary = !!id && id === shardPrimaryId;
    const ready =
      !!me &&
      !problem &&
      (i.nodes ?? []).length > 1 &&
      (isPrimary ? me.master && me.slots.length > 0 : me.replica && me.masterId === shardPrimaryId);
    const health: RedisClusterNodeStatus['health'] =
      i.state === 'Reachable' ? (problem || me?.failing ? 'Failed' : 'Healthy') : 'Unreachable';
    return {
      name: i.name,
      ...(id ? { nodeId: id } : {}),
      address: i.host ? `${i.host}:${i.port}` : undefined,
      role,
      health,
      ready,
      ...(me?.masterId ? { primaryNodeId: me.masterId } : {}),
      ...(seenBy || me ? { flags: (seenBy ?? me)!.flags.filter((f) => f !== 'myself') } : {}),
      ...(seenBy ? { linkState: seenBy.linkState } : {}),
      ...(i.state === 'Reachable' ? { lastSeen: seen } : prev?.lastSeen ? { lastSeen: prev.lastSeen } : {}),
      ...(problem ? { message: problem.message } : i.message ? { message: i.message } : {}),
    };
  };

  const shards: RedisClusterShardStatus[] = view.shards.map((s) => {
    const primary = s.current ?? (view.bootstrap ? undefined : s.desired);
    const primaryId = primary?.id ?? (primary ? idFromView(primary, view.instanceById) : undefined);
    const nodes = s.members.map((m) => nodeStatus(m, primaryId));
    return {
      name: s.spec.name,
      ...(s.current ? { currentPrimary: s.current.name } : {}),
      ...(s.desired !== s.current ? { targetPrimary: s.desired.name } : {}),
      slots: toRanges(s.slots).map(formatRange),
      slotCount: s.slots.length,
      ...(s.current?.keys !== undefined ? { keys: s.current.keys } : {}),
      readyInstances: nodes.filter((n) => n.ready).length,
      nodes,
    };
  });
  // Shards removed from spec stay listed while they still own slots.
  for (const x of instances.filter((i) => i.extra)) {
    const slots = view.owner.flatMap((o, s) => (o === x.id && x.id ? [s] : []));
    const name = x.shard;
    if (shards.some((s) => s.name === name)) continue;
    shards.push({
      name,
      currentPrimary: x.name,
      slots: toRanges(slots).map(formatRange),
      slotCount: slots.length,
      ...(x.keys !== undefined ? { keys: x.keys } : {}),
      readyInstances: 0,
      nodes: [
        {
          name: x.name,
          ...(x.id ? { nodeId: x.id } : {}),
          address: `${x.host}:${x.port}`,
          role: x.state === 'Reachable' ? 'Primary' : 'Unknown',
          health: x.state === 'Reachable' ? 'Healthy' : 'Unreachable',
          ready: false,
          message: 'removed from spec: its slots are moved away before the cluster forgets it',
        },
      ],
    });
  }

  const assigned = view.owner.filter((o) => o !== undefined).length;
  const allOk = live.length > 0 && live.every((i) => i.info?.state === 'ok');
  const readyShards = shards
    .slice(0, view.shards.length)
    .filter((s, i) => s.readyInstances === view.shards[i].members.length).length;

  let conditions = (previous?.conditions ?? []) as unknown as Condition[];
  const set = (c: Condition) =>
    (conditions = setCondition(conditions, { ...c, observedGeneration: rc.metadata.generation }, now).conditions);

  const problems = plan.problems;
  const inFlight = input.acted.length > 0 || !!input.migration;
  const progressing = inFlight || !!plan.waiting;
  const first = input.acted[0];
  set(
    progressing
      ? {
          type: 'Progressing',
          status: plan.waiting?.reason === 'Paused' && !inFlight ? 'False' : 'True',
          reason: input.migration
            ? 'MigratingSlots'
            : first
              ? progressReason[first.kind]
              : (plan.waiting?.reason ?? 'Reconciling'),
          message: input.migration
            ? `moving slots: ${input.migration.slotsRemaining} to go, ${input.migration.slotsMoved ?? 0} moved`
            : first
              ? describe(input.acted)
              : (plan.waiting?.message ?? ''),
        }
      : { type: 'Progressing', status: 'False', reason: 'Stable', message: 'no change in flight' },
  );
  set(
    problems.length > 0 || input.error
      ? {
          type: 'Degraded',
          status: 'True',
          reason: problems[0]?.reason ?? 'ReconcileError',
          message: [...problems.map((p) => p.message), ...(input.error ? [input.error] : [])].join('; ').slice(0, 4000),
        }
      : { type: 'Degraded', status: 'False', reason: 'Healthy', message: 'no problem found' },
  );
  const everyNodeReady = readyShards === view.shards.length;
  // Slots on a shard removed from spec: a scale-in to finish, or a drained master that restarted
  // and claims its old slots again until gossip settles. Either way the spec is not served yet.
  const leftover = shards.filter((s) => !view.shards.some((v) => v.spec.name === s.name) && (s.slotCount ?? 0) > 0);
  const ready =
    allOk && assigned === HASH_SLOTS && everyNodeReady && !inFlight && view.open.length === 0 && !leftover.length;
  set(
    ready
      ? {
          type: 'Ready',
          status: 'True',
          reason: 'ClusterReady',
          message: `${view.shards.length} shards serve all ${HASH_SLOTS} slots`,
        }
      : {
          type: 'Ready',
          status: 'False',
          reason: input.migration
            ? 'MigratingSlots'
            : (problems[0]?.reason ??
              (first
                ? progressReason[first.kind]
                : !allOk
                  ? 'ClusterStateFail'
                  : leftover.length
                    ? 'SlotsOnRemovedShards'
                    : 'NodesNotReady')),
          message: !allOk
            ? `cluster_state is not ok on every node (${assigned} of ${HASH_SLOTS} slots assigned)`
            : !everyNodeReady
              ? `${readyShards} of ${view.shards.length} shards have every node ready`
              : leftover.length
                ? `removed from spec but still owning slots: ${leftover.map((s) => `${s.name} (${s.slotCount})`).join(', ')}`
                : 'changes are in flight',
        },
  );

  return {
    observedGeneration: rc.metadata.generation,
    clusterState: allOk ? 'ok' : 'fail',
    slotsAssigned: assigned,
    slotsFail: Math.max(0, ...live.map((i) => i.info?.slotsFail ?? 0)),
    totalShards: rc.spec.shards.length,
    readyShards,
    shards,
    ...(input.migration ? { migration: input.migration } : {}),
    conditions: conditions as never,
  };
}

function idFromView(i: ObservedInstance, byId: Map<string, ObservedInstance>): string | undefined {
  for (const [id, x] of byId) if (x === i) return id;
  return undefined;
}

function describe(acted: Action[]): string {
  const counts = new Map<string, number>();
  for (const a of acted) counts.set(a.kind, (counts.get(a.kind) ?? 0) + 1);
  return [...counts].map(([k, n]) => `${k} ×${n}`).join(', ');
}
