// The act phase of a RedisCluster: runs the planner's actions with the connections the observe
// phase opened. Slot moves follow the order redis-cli uses (IMPORTING on the destination,
// MIGRATING on the source, keys, then NODE on the destination, the source and every other
// master) but for a batch of slots at a time, each step one pipeline, so a move costs a few round
// trips per batch instead of several per slot. Progress is checkpointed into status between
// batches; a slot already owned by its destination counts as done, so a plan resumes anywhere.

import type { Redis } from 'ioredis';
import {
  clusterAddSlots,
  clusterFailover,
  clusterForget,
  clusterMeet,
  clusterReplicate,
  majorVersion,
  migrateSlotKeys,
  setSlots,
  toRanges,
  type MigrateTarget,
} from '../../drivers/redis/cluster.js';
import type { Credentials } from '../shared/credentials.js';
import { myself, type ObservedInstance } from './model.js';
import { instanceKey, type Action, type ClusterView } from './plan.js';
import type { SlotMove } from './slots.js';

/** Slots moved per batch: each batch is a handful of pipelines; a crash leaves at most this many open. */
export const SLOTS_PER_BATCH = 256;

export interface ActContext {
  instances: ObservedInstance[];
  clients: Map<string, Redis>;
  view: ClusterView;
  credentials: Credentials;
  keysPerBatch: number;
  migrateTimeoutMs: number;
  signal: AbortSignal;
  /** The migration runs until then, checkpoints, and the reconcile comes back for the rest. */
  deadline: number;
  /** Records the migration's remaining moves in status (awaited before the next batch starts). */
  checkpoint(
    remaining: SlotMove[],
    progress: { slot?: number; moved: number; from?: string; to?: string },
  ): Promise<void>;
  event(reason: string, note: string, warning?: boolean): void;
}

export interface ActResult {
  /** Moves left when the migration stopped at its deadline; undefined when it is complete. */
  remaining?: SlotMove[];
  slotsMoved: number;
  keysMoved: number;
}

export class Actor {
  private readonly byKey = new Map<string, ObservedInstance>();
  private readonly byId = new Map<string, ObservedInstance>();

  constructor(private readonly ctx: ActContext) {
    for (const i of ctx.instances) {
      this.byKey.set(instanceKey(i), i);
      if (i.id && i.state === 'Reachable') this.byId.set(i.id, i);
    }
  }

  private client(key: string): Redis {
    const c = this.ctx.clients.get(key);
    if (!c) throw new Error(`no connection to ${key}`);
    return c;
  }

  private clientById(id: string): { c: Redis; i: ObservedInstance } {
    const i = this.byId.get(id);
    if (!i) throw new Error(`node ${id} is not reachable`);
    return { c: this.client(instanceKey(i)), i };
  }

  /** Runs the actions that change no slot ownership, all at once (they touch different nodes or are idempotent). */
  async runSimple(actions: Action[]): Promise<void> {
    const meets = actions.filter((a) => a.kind === 'Meet');
    await Promise.all(
      actions.map(async (a) => {
        switch (a.kind) {
          case 'Meet':
            return clusterMeet(this.client(a.node), a.ip, a.port, a.busPort);
          case 'AddSlots':
            await clusterAddSlots(this.client(a.node), a.ranges, majorVersion(this.byKey.get(a.node)?.version));
            this.ctx.event('SlotsAssigned', `assigned slots ${a.ranges.map(fmt).join(',')} to ${a.node}`);
            return;
          case 'Replicate':
            await clusterReplicate(this.client(a.node), a.masterId);
            this.ctx.event('ReplicaAttached', `${a.node} replicates ${a.master}`);
            return;
          case 'Failover':
            await clusterFailover(this.client(a.node));
            this.ctx.event('FailoverStarted', `CLUSTER FAILOVER on ${a.node} (spec.primary)`);
            return;
          case 'AssignSlots':
            await clusterAddSlots(
              this.client(a.node),
              toRanges(a.slots),
              majorVersion(this.byKey.get(a.node)?.version),
            );
            // A newer config epoch makes every node take this claim over a stale one.
            await this.client(a.node).call('CLUSTER', 'BUMPEPOCH');
            this.ctx.event(
              'UncoveredSlotsAssigned',
              `assigned ${a.slots.length} slots without owner to ${a.node}`,
              true,
            );
            return;
          case 'Forget':
            await Promise.all(
              a.on.map((k) =>
                clusterForget(this.client(k), a.nodeId).catch((err: Error) => {
                  if (!/Unknown node/i.test(err.message)) throw err;
                }),
              ),
            );
            this.ctx.event('NodeForgotten', `every node forgot ${a.nodeId}, which owns no slot`);
            return;
          default:
            return;
        }
      }),
    );
    if (meets.length > 0) {
      this.ctx.event('NodesMet', `CLUSTER MEET: ${meets.map((m) => `${m.node}→${m.peer}`).join(', ')}`);
    }
  }

  /** Finishes open slots left by a crash: every key to the node importing it, then NODE everywhere. */
  async fixOpenSlots(actions: Extract<Action, { kind: 'FixOpenSlot' }>[]): Promise<void> {
    for (const a of actions) {
      if (this.ctx.view.owner[a.slot] === a.toId) {
        // The importer owns it already (NODE reached it, not the others): only the markers are left.
        await this.clearMarkers([a.slot], a.toId);
        this.ctx.event('OpenSlotFixed', `slot ${a.slot} was left open; its owner ${this.name(a.toId)} was confirmed`);
        continue;
      }
      await this.moveBatch(a.fromId, a.toId, [a.slot]);
      this.ctx.event(
        'OpenSlotFixed',
        `slot ${a.slot} was left open; its keys were moved to ${this.name(a.toId)}`,
        true,
      );
    }
  }

  private name(id: string): string {
    const i = this.byId.get(id);
    return i ? instanceKey(i) : id;
  }

  /** The node that should receive or give a shard's slots: its primary (for a shard outside spec, the node itself). */
  private nodeOfShard(shard: string): string | undefined {
    const s = this.ctx.view.shards.find((x) => x.spec.name === shard);
    if (s) return (s.current ?? s.desired).id;
    const extra = this.ctx.instances.find((i) => i.extra && (i.shard === shard || i.name === shard));
    return extra?.id ?? (this.ctx.view.nodes.has(shard) ? shard : undefined);
  }

  /**
   * Runs (or resumes) `moves` until done or the deadline. Moves run side by side (MIGRATE blocks
   * its source while the destination persists each key, so separate pairs overlap their waits);
   * checkpoints are written one at a time.
   */
  async migrate(moves: SlotMove[]): Promise<ActResult> {
    const owner = [...this.ctx.view.owner];
    const remaining = moves.map((m) => ({ ...m, slots: [...m.slots] }));
    let slotsMoved = 0;
    let keysMoved = 0;
    let lastCheckpoint = Date.now();
    let writing: Promise<void> = Promise.resolve();
    const checkpoint = (current?: SlotMove) => {
      const left = remaining.filter((m) => m.slots.length > 0);
      const progress = { moved: slotsMoved, from: current?.from, to: current?.to, slot: current?.slots[0] };
      writing = writing.then(() => this.ctx.checkpoint(left, progress));
      return writing;
    };
    let stopped = false;
    // Every runner is awaited, even after one fails (the others end their batch and stop): a
    // runner left going would race the next pass.
    const results = await Promise.allSettled(
      remaining.map(async (move) => {
        const fromId = this.nodeOfShard(move.from);
        const toId = this.nodeOfShard(move.to);
        if (!toId) throw new Error(`shard ${move.to} has no primary to receive slots`);
        // Slots already at the destination are done (their open markers cleared); slots that went elsewhere are dropped.
        await this.clearMarkers(
          move.slots.filter((s) => owner[s] === toId),
          toId,
        );
        move.slots = move.slots.filter((s) => owner[s] !== toId && fromId && owner[s] === fromId);
        while (move.slots.length > 0) {
          if (stopped || this.ctx.signal.aborted || Date.now() > this.ctx.deadline) {
            stopped = true;
            return;
          }
          const batch = move.slots.slice(0, SLOTS_PER_BATCH);
          try {
            keysMoved += await this.moveBatch(fromId!, toId, batch);
          } catch (err) {
            stopped = true;
            throw err;
          }
          for (const s of batch) owner[s] = toId;
          move.slots = move.slots.slice(batch.length);
          slotsMoved += batch.length;
          if (Date.now() - lastCheckpoint > 250 && move.slots.length > 0) {
            lastCheckpoint = Date.now();
            await checkpoint(move);
          }
        }
      }),
    );
    await writing;
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    const left = remaining.filter((m) => m.slots.length > 0);
    if (left.length > 0) {
      await checkpoint(left[0]);
      return { remaining: left, slotsMoved, keysMoved };
    }
    return { slotsMoved, keysMoved };
  }

  private async clearMarkers(slots: number[], toId: string): Promise<void> {
    if (slots.length === 0) return;
    const set = new Set(slots);
    for (const i of this.ctx.instances) {
      const me = i.state === 'Reachable' ? myself(i) : undefined;
      if (!me?.master) continue;
      const open = [...me.migrating.map((m) => m.slot), ...me.importing.map((m) => m.slot)].filter((s) => set.has(s));
      if (open.length > 0) {
        await setSlots(
          this.client(instanceKey(i)),
          open.map((slot) => ({ slot, state: { node: toId } })),
        );
      }
    }
  }

  /** Moves `slots` (owned by `fromId`) with their keys to `toId`. Returns the number of keys moved. */
  private async moveBatch(fromId: string, toId: string, slots: number[]): Promise<number> {
    const from = this.clientById(fromId);
    const to = this.clientById(toId);
    await setSlots(
      to.c,
      slots.map((slot) => ({ slot, state: { importing: fromId } })),
    );
    await setSlots(
      from.c,
      slots.map((slot) => ({ slot, state: { migrating: toId } })),
    );
    const target: MigrateTarget = {
      ip: to.i.ip ?? to.i.host,
      port: to.i.port,
      username: this.ctx.credentials.username,
      password: this.ctx.credentials.password,
      timeoutMs: this.ctx.migrateTimeoutMs,
    };
    const keys = await migrateSlotKeys(from.c, target, slots, this.ctx.keysPerBatch);
    const assign = slots.map((slot) => ({ slot, state: { node: toId } }));
    await setSlots(to.c, assign);
    // A source that gave away its last slot may already have turned into the destination's replica
    // (Redis 7 replica migration) from gossip: it needs no telling then.
    await setSlots(from.c, assign).catch((err: Error) => {
      if (!/only with masters/.test(err.message)) throw err;
    });
    // The other masters learn it from gossip too; telling them now saves clients a redirection.
    const others = this.ctx.instances.filter(
      (i) => i.state === 'Reachable' && i.id !== fromId && i.id !== toId && myself(i)?.master,
    );
    await Promise.all(others.map((i) => setSlots(this.client(instanceKey(i)), assign).catch(() => undefined)));
    return keys;
  }
}

const fmt = (r: { start: number; end: number }) => (r.start === r.end ? `${r.start}` : `${r.start}-${r.end}`);
