// The RedisCluster reconciler: observe every server, plan (pure), act, and write what it saw into
// status. A migration is written to status before its first slot moves and checkpointed between
// batches, so a controller that stops or dies mid-way resumes it from status. The reconciler
// reads the object from the API (not the cache) at the start of every pass, as the plan it
// resumes must be the last one written.

import type { RedisCluster, RedisClusterMigration, Unit } from '../../../api/generated/types.js';
import { isNotFound } from '../../../machinery/errors.js';
import { jsonEqual, type KubeObject } from '../../../machinery/object.js';
import { formatTime } from '../../../machinery/time.js';
import { redisClusters, secrets } from '../../resources.js';
import type { KubeClient } from '../../runtime/client.js';
import type { ReconcileContext, Request, Result } from '../../runtime/controller.js';
import type { EventRecorder } from '../../runtime/events.js';
import type { Informer } from '../../runtime/informer.js';
import { credentialsFrom } from '../shared/credentials.js';
import type { UnitAddressing } from '../shared/instances.js';
import { Actor } from './act.js';
import { observe } from './observe.js';
import { plan, type Action, type Plan, type PlanInput } from './plan.js';
import type { SlotMove } from './slots.js';
import { buildStatus, migrationStatus, movesOf } from './status.js';

export const redisClusterFieldManager = 'upm.io/rediscluster-controller';

export interface RedisClusterReconcilerOptions {
  addressing: UnitAddressing;
  /** Poll of a stable cluster. */
  resyncMs?: number;
  /** Longest time one pass spends moving slots before it checkpoints and requeues. */
  migrationSliceMs?: number;
}

export class RedisClusterReconciler {
  constructor(
    private readonly client: KubeClient,
    private readonly caches: { units: Informer },
    private readonly events: EventRecorder,
    private readonly opts: RedisClusterReconcilerOptions,
    private readonly now: () => Date = () => new Date(),
  ) {}

  readonly reconcile = async (req: Request, ctx: ReconcileContext): Promise<Result | void> => {
    let rc: RedisCluster;
    try {
      rc = (await this.client.get(redisClusters, req.namespace, req.name)) as unknown as RedisCluster;
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
    if (rc.metadata.deletionTimestamp) return;
    const obj = rc as unknown as KubeObject;
    const event = (reason: string, note: string, warning = false) =>
      this.events.event(obj, warning ? 'Warning' : 'Normal', reason, 'Reconcile', note);

    const secret = await this.client
      .get(secrets, req.namespace, rc.spec.credentials.name)
      .catch((err) => (isNotFound(err) ? undefined : Promise.reject(err)));
    const creds = credentialsFrom(rc.spec.credentials, secret as { data?: Record<string, string> } | undefined);
    if (!creds.ok) {
      event(creds.reason, creds.message, true);
      await this.writeStatus(rc, {
        ...(rc.status ?? {}),
        observedGeneration: rc.metadata.generation,
        conditions: this.credentialConditions(rc, creds.reason, creds.message) as never,
      });
      return { requeueAfterMs: 10_000 };
    }

    const recordedIds: PlanInput['recordedIds'] = new Map();
    for (const s of rc.status?.shards ?? []) {
      for (const n of s.nodes ?? []) if (n.nodeId) recordedIds.set(n.nodeId, { shard: s.name, name: n.name });
    }
    const obs = await observe(rc, {
      credentials: creds.credentials,
      unitOf: (name) => this.caches.units.get(req.namespace, name) as unknown as Unit | undefined,
      addressing: this.opts.addressing,
      recordedIds,
    });
    try {
      const recorded = movesOf(rc.status?.migration);
      const p = plan({
        shards: rc.spec.shards.map((s) => ({
          name: s.name,
          instances: s.instances.map((i) => i.name),
          primary: s.primary,
          weight: s.weight ?? 1,
        })),
        instances: obs.instances,
        paused: rc.spec.paused ?? false,
        rebalanceThresholdPercent: rc.spec.slotMigration?.rebalanceThresholdPercent ?? 2,
        recordedIds,
        migration: recorded,
      });
      for (const prob of p.problems) {
        if (['Unreachable', 'AuthFailed', 'ForeignCluster', 'NodeNotEmpty', 'ClusterDisabled'].includes(prob.reason)) {
          event(prob.reason, prob.message, true);
        }
      }

      let migration: RedisClusterMigration | undefined = rc.status?.migration?.steps?.length
        ? rc.status.migration
        : undefined;
      let error: string | undefined;
      const acted: Action[] = [];
      const actor = new Actor({
        instances: obs.instances,
        clients: obs.clients,
        view: p.view,
        credentials: creds.credentials,
        keysPerBatch: rc.spec.slotMigration?.keysPerBatch ?? 100,
        migrateTimeoutMs: rc.spec.slotMigration?.timeoutMilliseconds ?? 60_000,
        signal: ctx.signal,
        deadline: Date.now() + (this.opts.migrationSliceMs ?? 5000),
        checkpoint: async (remaining, progress) => {
          migration = migrationStatus(remaining, progress, migration?.startTime ?? formatTime(this.now()));
          await this.writeStatus(rc, { ...(rc.status ?? {}), migration });
        },
        event,
      });
      let more = false;
      try {
        const simple = p.actions.filter((a) => !['FixOpenSlot', 'StartMigration', 'ResumeMigration'].includes(a.kind));
        if (simple.length > 0) {
          await actor.runSimple(simple);
          acted.push(...simple);
        }
        const fixes = p.actions.filter((a): a is Extract<Action, { kind: 'FixOpenSlot' }> => a.kind === 'FixOpenSlot');
        if (fixes.length > 0) {
          await actor.fixOpenSlots(fixes);
          acted.push(...fixes);
        }
        const move = p.actions.find(
          (a): a is Extract<Action, { kind: 'StartMigration' | 'ResumeMigration' }> =>
            a.kind === 'StartMigration' || a.kind === 'ResumeMigration',
        );
        if (move) {
          acted.push(move);
          if (move.kind === 'StartMigration') {
            // The plan is in status before the first slot moves.
            migration = migrationStatus(move.moves, { moved: 0 }, formatTime(this.now()));
            await this.writeStatus(rc, { ...(rc.status ?? {}), migration });
            event('MigrationStarted', describeMoves(move.moves));
          }
          const result = await actor.migrate(move.moves);
          if (result.remaining) {
            more = true;
          } else {
            migration = undefined;
            event(
              'MigrationCompleted',
              `moved ${total(move.moves)} slots as planned (${result.keysMoved} keys this pass)`,
            );
          }
        }
      } catch (err) {
        error = err instanceof Error ? err.message : String(err);
        event('ActionFailed', error, true);
      }

      const status = buildStatus({ rc, instances: obs.instances, plan: p, migration, acted, error, now: this.now() });
      if (this.worthWriting(rc.status, status)) await this.writeStatus(rc, status);
      if (error) throw new Error(error);
      const ready = status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
      return { requeueAfterMs: this.nextPoll(p, acted, more, ready) };
    } finally {
      obs.close();
    }
  };

  private nextPoll(p: Plan, acted: Action[], more: boolean, ready: boolean): number {
    if (more) return 0;
    if (acted.length > 0) return 100;
    if (p.waiting && p.waiting.reason !== 'Paused') return 250;
    // Settling (gossip, cluster_state): looked at often, as a client is waiting for Ready.
    if (!ready && p.problems.length === 0) return 100;
    if (p.problems.length > 0) return 2000;
    return this.opts.resyncMs ?? 10_000;
  }

  /** Skips writes that would only refresh lastSeen (each write wakes every watcher), unless a minute old. */
  private worthWriting(before: RedisCluster['status'], after: NonNullable<RedisCluster['status']>): boolean {
    if (!before) return true;
    const strip = (s: RedisCluster['status']): unknown =>
      JSON.parse(JSON.stringify(s, (k, v: unknown) => (k === 'lastSeen' ? undefined : v)));
    if (!jsonEqual(strip(before), strip(after))) return true;
    const seen =
      after.shards
        ?.flatMap((s) => s.nodes ?? [])
        .filter((n) => n.health !== 'Unreachable')
        .map((n) =>
          Date.parse(before.shards?.flatMap((s) => s.nodes ?? []).find((b) => b.name === n.name)?.lastSeen ?? ''),
        ) ?? [];
    return seen.some((t) => !Number.isFinite(t) || this.now().getTime() - t > 60_000);
  }

  private credentialConditions(rc: RedisCluster, reason: string, message: string) {
    const at = formatTime(this.now());
    const c = (type: string, status: string) => ({
      type,
      status,
      reason,
      message,
      observedGeneration: rc.metadata.generation,
      lastTransitionTime: at,
    });
    const keep = (rc.status?.conditions ?? []).filter((x) => !['Ready', 'Degraded'].includes(x.type));
    return [...keep, c('Ready', 'False'), c('Degraded', 'True')];
  }

  private async writeStatus(rc: RedisCluster, status: RedisCluster['status']): Promise<void> {
    await this.client.apply(
      redisClusters,
      {
        apiVersion: rc.apiVersion,
        kind: 'RedisCluster',
        metadata: { name: rc.metadata.name, namespace: rc.metadata.namespace },
        status,
      } as unknown as KubeObject,
      redisClusterFieldManager,
      { subresource: 'status' },
    );
    rc.status = status;
  }
}

const total = (moves: SlotMove[]) => moves.reduce((n, m) => n + m.slots.length, 0);

function describeMoves(moves: SlotMove[]): string {
  return `moving ${total(moves)} slots: ${moves.map((m) => `${m.slots.length} ${m.from}→${m.to}`).join(', ')}`;
}
