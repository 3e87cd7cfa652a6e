// The planner of a RedisCluster, pure: from what the servers report (model.ts), the spec and the
// migration recorded in status, the next safe actions and the problems to report. It never
// proposes a destructive command: nodes are met, given free slots, attached as replicas, slots
// are moved with their keys, and a node is forgotten only once it owns no slot.
//
// Order of work: report problems; meet the nodes that do not know each other; on a fresh cluster
// assign redis-cli's split; attach replicas; finish open slots and give uncovered slots an owner;
// resume the recorded migration; then — only while every node says cluster_state:ok and nothing
// else is in flight — start a new migration (new shard, removed shard, weights) or forget nodes.

import { HASH_SLOTS, type ClusterNode, type SlotRange } from '../../drivers/redis/cluster.js';
import { myself, type ObservedInstance } from './model.js';
import { allocateSlots, outOfBalance, planMoves, targetCounts, type SlotMove } from './slots.js';

export interface ShardSpec {
  name: string;
  instances: string[];
  primary?: string;
  weight: number;
}

export interface PlanInput {
  shards: ShardSpec[];
  instances: ObservedInstance[];
  paused: boolean;
  rebalanceThresholdPercent: number;
  /** Node IDs recorded in status (shard name and instance name), including shards being removed. */
  recordedIds: Map<string, { shard: string; name: string }>;
  /** The migration recorded in status (steps still to do), if any. */
  migration?: SlotMove[];
}

export const instanceKey = (i: Pick<ObservedInstance, 'shard' | 'name'>): string => `${i.shard}/${i.name}`;

export type Action =
  | { kind: 'Meet'; node: string; ip: string; port: number; busPort: number; peer: string }
  | { kind: 'AddSlots'; node: string; ranges: SlotRange[] }
  | { kind: 'Replicate'; node: string; masterId: string; master: string }
  | { kind: 'Failover'; node: string }
  | { kind: 'FixOpenSlot'; slot: number; fromId: string; toId: string }
  | { kind: 'AssignSlots'; node: string; slots: number[] }
  | { kind: 'StartMigration'; moves: SlotMove[] }
  | { kind: 'ResumeMigration'; moves: SlotMove[] }
  | { kind: 'Forget'; nodeId: string; on: string[] };

export type ProblemReason =
  | 'Unreachable'
  | 'AuthFailed'
  | 'ClusterDisabled'
  | 'NotResolved'
  | 'ForeignCluster'
  | 'NodeNotEmpty'
  | 'NodeFailed'
  | 'SlotsUncovered'
  | 'OpenSlots'
  | 'ConflictingPrimaries'
  | 'ReplicaColocated'
  | 'AnnounceAddressMismatch';

export interface Problem {
  reason: ProblemReason;
  message: string;
  /** Instance key, when the problem is one instance's. */
  instance?: string;
}

export interface Plan {
  actions: Action[];
  problems: Problem[];
  /** Why no topology change is started now although one is wanted (Progressing stays True). */
  waiting?: { reason: string; message: string };
  view: ClusterView;
}

// ---------------------------------------------------------------------------------------------
// The consolidated view

export interface ShardView {
  spec: ShardSpec;
  members: ObservedInstance[];
  /** The member that is a master owning slots now. */
  current?: ObservedInstance;
  /** spec.primary, else the current primary, else the first instance. */
  desired: ObservedInstance;
  /** Members that are masters owning slots (more than one is a conflict). */
  owning: ObservedInstance[];
  slots: number[];
}

export interface ClusterView {
  /** Slot → node ID of its owner (undefined: uncovered). */
  owner: (string | undefined)[];
  /** Slot → the owner other nodes still believe in (after a node dropped a slot, e.g. CLUSTER DELSLOTS). */
  believedOwner: (string | undefined)[];
  /** Every node the reachable instances know (not handshakes), by ID: the node's own line when it is reachable. */
  nodes: Map<string, ClusterNode>;
  /** Instance key by node ID. */
  instanceById: Map<string, ObservedInstance>;
  open: { slot: number; migrating: { on: string; to: string }[]; importing: { on: string; from: string }[] }[];
  shards: ShardView[];
  /** Nodes outside spec (by ID) that own slots: shards removed from spec, or nodes added by hand. */
  strangersWithSlots: string[];
  foreign: Set<string>;
  bootstrap: boolean;
}

const reachable = (i: ObservedInstance): boolean => i.state === 'Reachable' && !!i.id;
const addr = (ip: string | undefined, port: number) => `${ip ?? ''}:${port}`;

export function buildView(input: PlanInput): ClusterView {
  const specInstances = input.instances.filter((i) => !i.extra);
  // An instance whose cluster shares no node with this one is another cluster's: its view is ignored.
  const reachableIds = new Set(input.instances.filter((i) => reachable(i) && !i.extra).map((i) => i.id!));
  const specAddrs = new Set(specInstances.map((i) => addr(i.ip, i.port)));
  const allowed = (n: ClusterNode) =>
    reachableIds.has(n.id) || input.recordedIds.has(n.id) || specAddrs.has(addr(n.ip, n.port));
  const foreign = new Set<string>();
  for (const i of input.instances) {
    if (i.extra || !reachable(i)) continue;
    const others = (i.nodes ?? []).filter((n) => !n.myself && !n.handshake);
    if (others.length > 0 && !others.some(allowed)) foreign.add(instanceKey(i));
  }
  const live = input.instances.filter((i) => reachable(i) && !foreign.has(instanceKey(i)));
  const instanceById = new Map<string, ObservedInstance>();
  for (const i of live) instanceById.set(i.id!, i);
  for (const [id, rec] of input.recordedIds) {
    const i = specInstances.find((s) => s.shard === rec.shard && s.name === rec.name);
    if (i && !instanceById.has(id) && !i.id) instanceById.set(id, i);
  }

  const nodes = new Map<string, ClusterNode>();
  for (const i of live) for (const n of i.nodes ?? []) if (!n.handshake && !nodes.has(n.id)) nodes.set(n.id, n);
  for (const i of live) nodes.set(i.id!, myself(i)!);

  const owner: (string | undefined)[] = new Array(HASH_SLOTS).fill(undefined);
  const epochOf: number[] = new Array(HASH_SLOTS).fill(-1);
  const claim = (n: ClusterNode) => {
    for (const r of n.slots)
      for (let s = r.start; s <= r.end; s++) {
        if (owner[s] === undefined || n.configEpoch > epochOf[s]) {
          owner[s] = n.id;
          epochOf[s] = n.configEpoch;
        }
      }
  };
  for (const i of live) {
    const me = myself(i)!;
    if (me.master) claim(me);
  }
  // Slots of nodes that cannot be asked: as the others see them.
  const liveIds = new Set(live.map((i) => i.id!));
  const believedOwner: (string | undefined)[] = new Array(HASH_SLOTS).fill(undefined);
  for (const i of live) {
    for (const n of i.nodes ?? []) {
      if (n.myself || !n.master || n.handshake) continue;
      for (const r of n.slots) for (let s = r.start; s <= r.end; s++) believedOwner[s] ??= n.id;
    }
  }
  for (const n of nodes.values()) {
    if (liveIds.has(n.id) || !n.master) continue;
    for (const r of n.slots) for (let s = r.start; s <= r.end; s++) if (owner[s] === undefined) owner[s] = n.id;
  }

  const openBySlot = new Map<number, ClusterView['open'][number]>();
  const openOf = (slot: number) => {
    let o = openBySlot.get(slot);
    if (!o) openBySlot.set(slot, (o = { slot, migrating: [], importing: [] }));
    return o;
  };
  // Markers on a replica (a master demoted while a slot was open keeps them) mean nothing, and
  // SETSLOT is refused on replicas: only masters' count.
  for (const i of live) {
    const me = myself(i)!;
    if (!me.master) continue;
    for (const m of me.migrating) openOf(m.slot).migrating.push({ on: me.id, to: m.to });
    for (const m of me.importing) openOf(m.slot).importing.push({ on: me.id, from: m.from });
  }

  const shards: ShardView[] = input.shards.map((spec) => {
    const members = specInstances.filter((i) => i.shard === spec.name);
    const byName = (n: string | undefined) => members.find((m) => m.name === n);
    const slotCount = new Map<string, number>();
    owner.forEach((id) => id && slotCount.set(id, (slotCount.get(id) ?? 0) + 1));
    const owning = members.filter((m) => {
      const id = m.id ?? [...instanceById.entries()].find(([, i]) => i === m)?.[0];
      return id && (slotCount.get(id) ?? 0) > 0;
    });
    const current = owning[0];
    const desired = byName(spec.primary) ?? current ?? members[0];
    const currentId = current && idOf(current, instanceById);
    const slots = currentId ? owner.flatMap((id, s) => (id === currentId ? [s] : [])) : [];
    return { spec, members, current, desired, owning, slots };
  });

  const specIds = new Set([...instanceById.entries()].filter(([, i]) => !i.extra).map(([id]) => id));
  const strangersWithSlots = [...new Set(owner.filter((id): id is string => !!id))].filter(
    (id) => !specIds.has(id) && !isSpecByRecord(id, input, specInstances),
  );
  const bootstrap = owner.every((o) => o === undefined) && openBySlot.size === 0;
  return {
    owner,
    believedOwner,
    nodes,
    instanceById,
    open: [...openBySlot.values()].sort((a, b) => a.slot - b.slot),
    shards,
    strangersWithSlots,
    foreign,
    bootstrap,
  };
}

function isSpecByRecord(id: string, input: PlanInput, specInstances: ObservedInstance[]): boolean {
  const rec = input.recordedIds.get(id);
  return !!rec && specInstances.some((i) => i.shard === rec.shard && i.name === rec.name && !i.id);
}

function idOf(i: ObservedInstance, byId: Map<string, ObservedInstance>): string | undefined {
  if (i.id) return i.id;
  for (const [id, x] of byId) if (x === i) return id;
  return undefined;
}

/** Nodes outside spec that own slots and whose address is known: the controller observes them too, to drain them. */
export function strangersToObserve(instances: ObservedInstance[], recordedIds: PlanInput['recordedIds']) {
  const view = buildView({
    shards: [],
    instances,
    paused: true,
    rebalanceThresholdPercent: 0,
    recordedIds,
  });
  const have = new Set(instances.filter((i) => i.id).map((i) => i.id));
  return view.strangersWithSlots
    .filter((id) => !have.has(id))
    .map((id) => view.nodes.get(id)!)
    .filter((n) => n && n.ip && !n.noaddr)
    .map((n) => ({ id: n.id, ip: n.ip, port: n.port, busPort: n.busPort, shard: recordedIds.get(n.id)?.shard }));
}

// ---------------------------------------------------------------------------------------------
// The plan

export function plan(input: PlanInput): Plan {
  const view = buildView(input);
  const problems: Problem[] = [];
  const actions: Action[] = [];
  const specInstances = input.instances.filter((i) => !i.extra);
  const live = specInstances.filter(reachable);

  for (const i of input.instances) {
    if (i.state === 'Reachable') continue;
    problems.push({ reason: i.state === 'NotResolved' ? 'NotResolved' : i.state, message: msg(i), instance: key(i) });
  }
  for (const k of view.foreign) {
    problems.push({
      reason: 'ForeignCluster',
      instance: k,
      message: `${k} belongs to another cluster (it knows none of this cluster's nodes); it is left alone`,
    });
  }
  for (const i of live) {
    const me = myself(i)!;
    const inCluster = (i.nodes ?? []).some((n) => !n.myself);
    if (me.ip && i.ip && me.ip !== i.ip && inCluster && !view.foreign.has(key(i))) {
      problems.push({
        reason: 'AnnounceAddressMismatch',
        instance: key(i),
        message: `${key(i)} announces ${me.ip} but the spec expects ${i.ip} (set announceHost or cluster-announce-ip)`,
      });
    }
  }
  for (const n of view.nodes.values()) {
    if (n.flags.includes('fail')) {
      const who = view.instanceById.get(n.id);
      problems.push({
        reason: 'NodeFailed',
        instance: who ? key(who) : undefined,
        message: `node ${who ? key(who) : n.id} (${n.ip}:${n.port}) is marked failed by the cluster`,
      });
    }
  }

  // Instances the controller may act on: reachable, in spec, not in another cluster.
  const usable = live.filter((i) => !view.foreign.has(key(i)));
  const joinable = (i: ObservedInstance) => {
    const others = (i.nodes ?? []).filter((n) => !n.myself && !n.handshake);
    if (others.length > 0) return true; // already in this cluster
    const me = myself(i)!;
    const stealing = me.slots.some((r) => {
      for (let s = r.start; s <= r.end; s++) if (view.owner[s] !== undefined && view.owner[s] !== me.id) return true;
      return false;
    });
    return (i.keys ?? 0) === 0 && !stealing;
  };
  for (const i of usable) {
    if (!joinable(i)) {
      problems.push({
        reason: 'NodeNotEmpty',
        instance: key(i),
        message: `${key(i)} is alone and holds data (${i.keys} keys): a node joins only empty; it is left alone`,
      });
    }
  }
  const members = usable.filter(joinable);

  if (input.paused) return { actions, problems, view, waiting: { reason: 'Paused', message: 'spec.paused is true' } };

  // Meet: every pair that does not know each other (both ways unknown), from the first of the pair.
  const knows = (a: ObservedInstance, b: ObservedInstance) =>
    (a.nodes ?? []).some((n) => !n.handshake && n.id === b.id) ||
    (a.nodes ?? []).some((n) => n.handshake && addr(n.ip, n.port) === addr(b.ip, b.port));
  for (let x = 0; x < members.length; x++) {
    for (let y = x + 1; y < members.length; y++) {
      const a = members[x];
      const b = members[y];
      if (!knows(a, b) && !knows(b, a) && b.ip) {
        actions.push({ kind: 'Meet', node: key(a), peer: key(b), ip: b.ip, port: b.port, busPort: b.busPort });
      }
    }
  }
  const allMet = !actions.some((a) => a.kind === 'Meet') && members.length === specInstances.length;

  // Bootstrap: redis-cli's split over the shards' primaries, only with every instance present.
  if (view.bootstrap) {
    if (members.length < specInstances.length) {
      return {
        actions,
        problems,
        view,
        waiting: {
          reason: 'InstancesMissing',
          message: 'slots are assigned once every instance is reachable, empty and in no other cluster',
        },
      };
    }
    const ranges = allocateSlots(view.shards.map((s) => s.spec.weight));
    view.shards.forEach((s, i) => {
      const r = ranges[i];
      if (r) actions.push({ kind: 'AddSlots', node: key(s.desired), ranges: [r] });
    });
    return { actions, problems, view, waiting: { reason: 'Bootstrapping', message: 'forming the cluster' } };
  }

  // Replicas: every member other than the shard's primary replicates it.
  for (const s of view.shards) {
    const primary = s.current ?? s.desired;
    const pid = idOf(primary, view.instanceById);
    if (s.owning.length > 1) {
      problems.push({ reason: 'ConflictingPrimaries', message: `shard ${s.spec.name} has more than one primary` });
    }
    if (!pid) continue;
    for (const m of s.members) {
      if (m === primary || !members.includes(m)) continue;
      const me = myself(m)!;
      if (me.replica && me.masterId === pid) continue;
      if (me.master && me.slots.length > 0) continue;
      if ((m.nodes ?? []).some((n) => n.id === pid && !n.handshake)) {
        actions.push({ kind: 'Replicate', node: key(m), masterId: pid, master: key(primary) });
      }
    }
  }
  const replicasSet = !actions.some((a) => a.kind === 'Replicate');

  // Placement: a primary and its replica on one Kubernetes node lose the shard together.
  for (const s of view.shards) {
    const p = s.current ?? s.desired;
    for (const m of s.members) {
      if (m !== p && p.nodeName && m.nodeName === p.nodeName) {
        problems.push({
          reason: 'ReplicaColocated',
          instance: key(m),
          message: `${key(m)} runs on node ${m.nodeName} with its primary ${key(p)}; losing that node loses the shard`,
        });
      }
    }
  }

  // Open slots outside the recorded migration: finish them towards the node importing them.
  const inPlan = new Set((input.migration ?? []).flatMap((m) => m.slots));
  const strayOpen = view.open.filter((o) => !inPlan.has(o.slot));
  for (const o of strayOpen) {
    const owner = view.owner[o.slot];
    const to = o.importing[0]?.on ?? o.migrating[0]?.to;
    const from = owner && owner !== to ? owner : (o.importing[0]?.from ?? o.migrating[0]?.on);
    if (from && to) actions.push({ kind: 'FixOpenSlot', slot: o.slot, fromId: from, toId: to });
  }
  if (view.open.length > 0) {
    problems.push({
      reason: 'OpenSlots',
      message: `slots ${view.open
        .slice(0, 10)
        .map((o) => o.slot)
        .join(', ')}${view.open.length > 10 ? ', …' : ''} are importing or migrating`,
    });
  }

  // Uncovered slots (left by a crash or a lost node): given to the shards furthest below their share.
  const uncovered = view.owner.flatMap((o, s) => (o === undefined && !inPlan.has(s) ? [s] : []));
  const unreachable = input.instances.some((i) => !i.extra && i.state !== 'Reachable');
  if (uncovered.length > 0) {
    problems.push({ reason: 'SlotsUncovered', message: `${uncovered.length} slots have no owner` });
    const owners = view.shards.filter((s) => s.current);
    // A slot its owner dropped while the others still route to it goes back to that owner (it has the keys).
    const back = new Map<string, number[]>();
    for (const s of uncovered) {
      const b = view.believedOwner[s];
      const shard = b && owners.find((o) => o.current!.id === b);
      if (shard) back.set(key(shard.current!), [...(back.get(key(shard.current!)) ?? []), s]);
    }
    for (const [node, slots] of back) actions.push({ kind: 'AssignSlots', node, slots });
    const rest = uncovered.filter((s) => ![...back.values()].some((l) => l.includes(s)));
    if (!unreachable && owners.length > 0 && strayOpen.length === 0 && rest.length > 0) {
      const weights = owners.map((s) => s.spec.weight);
      const current = owners.map((s) => s.slots.length);
      const target = targetCounts(weights, current);
      const deficit = owners.map((s, i) => Math.max(0, target[i] - s.slots.length));
      let next = 0;
      owners.forEach((s, i) => {
        const take = rest.slice(next, next + deficit[i]);
        next += take.length;
        if (take.length > 0) actions.push({ kind: 'AssignSlots', node: key(s.current!), slots: take });
      });
      if (next < rest.length) {
        actions.push({ kind: 'AssignSlots', node: key(owners[0].current!), slots: rest.slice(next) });
      }
    }
  }

  // The recorded migration comes before anything new.
  if (input.migration && input.migration.length > 0) {
    // Both ends of every move must answer; until then the plan waits in status (nothing is lost).
    const primaryOf = (shard: string): ObservedInstance | undefined => {
      const s = view.shards.find((x) => x.spec.name === shard);
      if (s) return s.current ?? s.desired;
      return input.instances.find((i) => i.extra && (i.shard === shard || i.name === shard));
    };
    // (A restarted node refuses keyed commands until its cluster_state is ok again.)
    const serving = (i: ObservedInstance | undefined) => i?.state === 'Reachable' && i.info?.state === 'ok';
    const down = input.migration.flatMap((m) => {
      const [from, to] = [primaryOf(m.from), primaryOf(m.to)];
      return [...(!serving(to) ? [m.to] : []), ...(from && !serving(from) ? [m.from] : [])];
    });
    if (down.length > 0) {
      const message = `the migration waits for the primary of ${[...new Set(down)].join(', ')} to serve`;
      return { actions, problems, view, waiting: { reason: 'MigrationWaiting', message } };
    }
    actions.push({ kind: 'ResumeMigration', moves: input.migration });
    return { actions, problems, view };
  }

  const busy = actions.length > 0;
  const notOk = [...usable, ...input.instances.filter((i) => i.extra && reachable(i))].filter(
    (i) => i.info?.state !== 'ok',
  );
  const stable = () => {
    if (busy) return 'changes are in flight (meet, replicas, open or uncovered slots)';
    if (!allMet) return 'not every instance has joined the cluster';
    if (!replicasSet) return 'replicas are being attached';
    if (unreachable) return 'an instance is unreachable';
    const lost = view.strangersWithSlots.filter((id) => !input.instances.some((i) => i.extra && i.id === id));
    if (lost.length > 0) return `nodes outside spec that own slots cannot be reached: ${lost.join(', ')}`;
    if (notOk.length > 0) return `cluster_state is not ok on ${notOk.map(key).join(', ')}`;
    const handshakes = usable.some((i) => (i.nodes ?? []).some((n) => n.handshake));
    if (handshakes) return 'nodes are still in handshake';
    return undefined;
  };

  // Primary changes asked by spec.primary: a coordinated CLUSTER FAILOVER on the wanted replica.
  const failovers: Action[] = [];
  for (const s of view.shards) {
    if (!s.spec.primary || !s.current || s.desired === s.current) continue;
    const me = s.desired.state === 'Reachable' ? myself(s.desired) : undefined;
    if (me?.replica && me.masterId === s.current.id) failovers.push({ kind: 'Failover', node: key(s.desired) });
  }

  // Slot moves: shards added or removed always; weights only beyond the threshold.
  const holders = view.shards.filter((s) => s.spec.weight > 0 || s.slots.length > 0);
  const strangers = view.strangersWithSlots;
  const newShards = view.shards.filter((s) => s.spec.weight > 0 && s.slots.length === 0 && s.desired.id);
  const weights = holders.map((s) => s.spec.weight);
  const current = holders.map((s) => s.slots.length);
  const wantMoves =
    strangers.length > 0 ||
    newShards.length > 0 ||
    outOfBalance(weights, current, input.rebalanceThresholdPercent) ||
    view.shards.some((s) => s.spec.weight === 0 && s.slots.length > 0);

  // Nodes to forget: known, outside spec, owning no slot, replicated by no member.
  const forgets: Action[] = [];
  const specIds = new Set(specInstances.map((i) => idOf(i, view.instanceById)).filter(Boolean));
  const specAddrs = new Map(specInstances.map((i) => [addr(i.ip, i.port), i]));
  for (const n of view.nodes.values()) {
    if (specIds.has(n.id) || view.owner.includes(n.id)) continue;
    const at = specAddrs.get(addr(n.ip, n.port));
    if (at && !(n.flags.includes('fail') && at.id && at.id !== n.id)) continue;
    if (usable.some((m) => myself(m)!.masterId === n.id)) continue;
    const on = usable.filter((m) => (m.nodes ?? []).some((x) => x.id === n.id)).map(key);
    if (on.length > 0) forgets.push({ kind: 'Forget', nodeId: n.id, on });
  }

  if (!failovers.length && !wantMoves && !forgets.length) return { actions, problems, view };
  const why = stable();
  if (why) return { actions, problems, view, waiting: { reason: 'WaitingForStableCluster', message: why } };
  if (failovers.length > 0) return { actions: failovers, problems, view };
  if (wantMoves) {
    const targets = targetCounts(weights, current);
    const holdings = [
      ...holders.map((s, i) => ({ shard: s.spec.name, slots: s.slots, target: targets[i] })),
      ...strangers
        .map((id) => ({
          shard: input.recordedIds.get(id)?.shard ?? id,
          slots: view.owner.flatMap((o, s) => (o === id ? [s] : [])),
          target: 0,
        }))
        .sort((a, b) => a.shard.localeCompare(b.shard)),
    ];
    const moves = planMoves(holdings);
    if (moves.length > 0) return { actions: [{ kind: 'StartMigration', moves }], problems, view };
  }
  return { actions: forgets, problems, view };
}

const key = instanceKey;

function msg(i: ObservedInstance): string {
  const what: Record<string, string> = {
    Unreachable: 'is unreachable',
    AuthFailed: 'refused the credentials',
    ClusterDisabled: 'does not run with cluster-enabled yes',
    NotResolved: 'has no address',
  };
  return `${key(i)} ${what[i.state] ?? i.state}${i.message ? `: ${i.message}` : ''}`;
}
