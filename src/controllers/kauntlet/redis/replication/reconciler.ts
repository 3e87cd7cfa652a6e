// The RedisReplication reconciler: observe the servers, plan (pure), then in this order write
// spec.primary (after a failover), the Pod role labels and Services, the status (which records
// the step about to be taken), and only then take the step. A controller stopped anywhere finds
// the step in status and takes it again; every step is idempotent.

import type { V1Pod, V1Service } from '@kubernetes/client-node';
import type { RedisReplication, Unit } from '../../../../api/generated/types.js';
import { setCondition, type Condition } from '../../../../machinery/conditions.js';
import { isNotFound } from '../../../../machinery/errors.js';
import { jsonEqual, type KubeObject } from '../../../../machinery/object.js';
import { withRedis, type RedisTarget } from '../../../drivers/redis/connection.js';
import { sentinelRemove, WRITE_FENCE } from '../../../drivers/redis/replication.js';
import { tlsOptions } from '../../../drivers/tls.js';
import { pods, redisReplications, secrets, services, units } from '../../../resources.js';
import type { KubeClient, ResourceType } from '../../../runtime/client.js';
import type { ReconcileContext, Request, Result } from '../../../runtime/controller.js';
import type { EventRecorder } from '../../../runtime/events.js';
import type { Informer } from '../../../runtime/informer.js';
import { credentialsFrom, type Credentials } from '../../shared/credentials.js';
import { tlsSettingsFrom } from '../../shared/tls.js';
import type { LivenessWatches } from '../../shared/liveness.js';
import { resolveInstance, type Resolution, type UnitAddressing } from '../../shared/instances.js';
import { podRoleLabelPatch, replicationServices } from '../../shared/services.js';
import { detaching, finalizerPatch } from '../../shared/detach.js';
import { runDetach } from '../../shared/detach-run.js';
import { act, describeAction, type ActContext } from './act.js';
import type { Observation } from './model.js';
import { observe } from './observe.js';
import { plan } from './plan.js';

export const redisReplicationFieldManager = 'upm.io/redisreplication-controller';

export interface RedisReplicationOptions {
  unitAddressing?: UnitAddressing;
  now?: () => Date;
  /** A connection held to each current primary, so its death is seen at once (see liveness.ts). */
  liveness?: LivenessWatches<RedisTarget>;
  /** How long a deleted object with deletionPolicy Detach waits for unreachable instances (DETACH_TIMEOUT_MS). */
  detachTimeoutMs?: number;
}

type Secret = { data?: Record<string, string> };

export class RedisReplicationReconciler {
  /** First failed contact per instance (uid/name): how long a primary has been down, as this process saw it. */
  private readonly downSince = new Map<string, number>();

  constructor(
    private readonly client: KubeClient,
    private readonly caches: { services: Informer },
    private readonly events: EventRecorder,
    private readonly opts: RedisReplicationOptions = {},
  ) {}

  readonly reconcile = async (req: Request, ctx: ReconcileContext): Promise<Result | void> => {
    // Read from the API, not the cache: the status this reconcile continues from must be the one
    // the last reconcile wrote (a step recorded there may have been taken).
    const rr = (await this.getOrUndefined(redisReplications, req.namespace, req.name)) as unknown as
      RedisReplication | undefined;
    if (!rr || rr.metadata.deletionTimestamp) {
      this.opts.liveness?.track(req, undefined);
      if (!rr || !detaching(rr)) return;
    } else {
      const finalizer = finalizerPatch(rr);
      if (finalizer) {
        await this.client.patch(redisReplications, req.namespace, req.name, finalizer, 'json');
        return { requeueAfterMs: 1 };
      }
    }
    const now = this.opts.now?.() ?? new Date();
    const ns = req.namespace;
    const spec = rr.spec;

    const creds = credentialsFrom(
      spec.credentials,
      (await this.getOrUndefined(secrets, ns, spec.credentials.name)) as Secret | undefined,
    );
    let sentinelCreds: Credentials | undefined;
    if (spec.sentinel?.credentials) {
      const r = credentialsFrom(
        spec.sentinel.credentials,
        (await this.getOrUndefined(secrets, ns, spec.sentinel.credentials.name)) as Secret | undefined,
      );
      if (r.ok) sentinelCreds = r.credentials;
    }
    const tlsResult = await tlsSettingsFrom(
      spec.tls,
      async (name) => (await this.getOrUndefined(secrets, ns, name)) as Secret | undefined,
    );
    const tls = tlsResult.ok ? tlsResult.settings : undefined;
    // Credentials or TLS material that cannot be used: nothing is observed and nothing is done.
    const connectionProblem = !creds.ok
      ? { reason: creds.reason, message: creds.message }
      : !tlsResult.ok
        ? { reason: tlsResult.reason, message: tlsResult.message }
        : undefined;
    const target =
      (c: Credentials | undefined) =>
      (host: string, port: number): RedisTarget => ({
        host,
        port,
        username: c?.username,
        password: c?.password,
        tls: tlsOptions(tls),
      });
    const nodeTarget = target(creds.ok ? creds.credentials : undefined);
    const sentinelTarget = target(sentinelCreds);

    const resolutions = new Map<string, Resolution>();
    for (const i of spec.instances) resolutions.set(i.name, await this.resolve(ns, i, 6379));
    const sentinelResolutions = new Map<string, Resolution>();
    for (const s of spec.sentinel?.instances ?? []) sentinelResolutions.set(s.name, await this.resolve(ns, s, 26379));
    const masterName = spec.sentinel?.masterName ?? 'mymaster';

    const observation = !connectionProblem
      ? await observe(
          spec.instances.map((i) => ({
            name: i.name,
            resolution: resolutions.get(i.name)!,
            announce: { host: i.announceHost, port: i.announcePort },
          })),
          spec.failover?.mode === 'Sentinel'
            ? [...sentinelResolutions].map(([name, resolution]) => ({ name, resolution }))
            : [],
          masterName,
          { node: nodeTarget, sentinel: sentinelTarget },
        )
      : { nodes: [], sentinels: [] };

    if (rr.metadata.deletionTimestamp) {
      const problem = connectionProblem?.message;
      return this.detachOnDelete(rr, observation, now, ctx, {
        node: (name) => {
          const r = resolutions.get(name);
          return r?.ok ? nodeTarget(r.endpoint.host, r.endpoint.port) : undefined;
        },
        sentinel: (name) => {
          const r = sentinelResolutions.get(name);
          return r?.ok ? sentinelTarget(r.endpoint.host, r.endpoint.port) : undefined;
        },
        credentials: creds.ok ? creds.credentials : undefined,
        tlsReplication: (tls?.mode ?? 'Disabled') !== 'Disabled',
        masterName,
        problem,
      });
    }

    const uid = rr.metadata.uid ?? '';
    for (const n of observation.nodes) {
      const key = `${uid}/${n.name}`;
      if (n.problem) {
        if (!this.downSince.has(key)) this.downSince.set(key, now.getTime());
      } else this.downSince.delete(key);
    }

    const p = plan({
      rr,
      observation,
      now,
      unreachableForMs: (name) => {
        const since = this.downSince.get(`${uid}/${name}`);
        return since === undefined ? 0 : now.getTime() - since;
      },
      credentialsProblem: connectionProblem,
    });

    if (p.specPrimary) {
      await this.client.patch(redisReplications, ns, req.name, { spec: { primary: p.specPrimary } }, 'merge', {
        fieldManager: redisReplicationFieldManager,
      });
    }

    const servicesReady = await this.applyServicesAndLabels(rr, p.roles, resolutions);
    const conditions = setCondition(
      (p.status.conditions ?? []) as unknown as Condition[],
      {
        type: 'ServicesReady',
        ...servicesReady,
        observedGeneration: rr.metadata.generation,
      },
      now,
    ).conditions;
    const status = { ...p.status, conditions: conditions as typeof p.status.conditions };
    await this.client.applyStatus(redisReplications, rr as unknown as KubeObject, status, redisReplicationFieldManager);
    // A controller asked to stop takes no step after recording it: the next one takes it.
    if (ctx.signal.aborted) return;

    const actCtx = {
      node: (name: string) => {
        const r = resolutions.get(name);
        return r?.ok ? nodeTarget(r.endpoint.host, r.endpoint.port) : undefined;
      },
      sentinel: (name: string) => {
        const r = sentinelResolutions.get(name);
        return r?.ok ? sentinelTarget(r.endpoint.host, r.endpoint.port) : undefined;
      },
      credentials: creds.ok ? creds.credentials : undefined,
      tlsReplication: (tls?.mode ?? 'Disabled') !== 'Disabled',
      masterName,
    };
    const obj = rr as unknown as KubeObject;
    for (const a of p.actions) {
      try {
        await act(a, actCtx);
      } catch (err) {
        const message = `${describeAction(a)} failed: ${(err as Error).message}`;
        ctx.log?.warn({ action: a.kind }, message);
        this.events.event(obj, 'Warning', 'StepFailed', 'Reconcile', message);
        return { requeueAfterMs: 500 };
      }
    }
    for (const e of p.events) this.events.event(obj, e.type, e.reason, 'Reconcile', e.note);
    const primary = observation.nodes.find((n) => n.name === status.currentPrimary && !n.problem);
    this.opts.liveness?.track(req, primary ? actCtx.node(primary.name) : undefined);
    return { requeueAfterMs: p.requeueAfterMs || 1 };
  };

  /**
   * deletionPolicy Detach (paused or not): Sentinels stop monitoring the set (they would re-point
   * the detached replicas), the current primary drops the min-replicas-to-write guard of
   * automatic failover (it would refuse writes without replicas), and every reachable replica
   * leaves replication fenced (min-replicas-to-write WRITE_FENCE, REPLICAOF NO ONE, persisted).
   */
  private async detachOnDelete(
    rr: RedisReplication,
    observation: Observation,
    now: Date,
    ctx: ReconcileContext,
    actCtx: ActContext & { problem?: string },
  ): Promise<Result | void> {
    const obj = rr as unknown as KubeObject;
    const seen = new Map(observation.nodes.map((n) => [n.name, n]));
    const bestEffort = async (what: string, fn: () => Promise<void>) => {
      try {
        await fn();
      } catch (err) {
        this.events.event(obj, 'Warning', 'DetachFailed', 'Delete', `${what}: ${(err as Error).message}`);
      }
    };
    for (const s of observation.sentinels) {
      if (s.problem) {
        const note = `${s.name}: not reached (${s.problem.message}); it may still monitor ${actCtx.masterName}`;
        this.events.event(obj, 'Warning', 'DetachFailed', 'Delete', note);
      }
      if (!s.master) continue;
      const target = actCtx.sentinel(s.name);
      if (target)
        await bestEffort(`${s.name}: SENTINEL REMOVE`, () =>
          withRedis(target, (c) => sentinelRemove(c, actCtx.masterName)),
        );
    }
    const primary = seen.get(rr.status?.currentPrimary ?? '');
    const guard = primary?.minReplicasToWrite;
    if (primary?.info?.role === 'master' && guard !== undefined && guard > 0 && guard !== WRITE_FENCE) {
      await bestEffort(`${primary.name}: min-replicas-to-write 0`, () =>
        act({ kind: 'configurePrimary', node: primary.name, minReplicasToWrite: 0 }, actCtx),
      );
    }
    return runDetach({
      client: this.client,
      events: this.events,
      resource: redisReplications,
      fieldManager: redisReplicationFieldManager,
      obj: obj as never,
      instances: rr.spec.instances.map((i) => {
        const n = seen.get(i.name);
        const problem = actCtx.problem ?? (n?.problem ? n.problem.message : n?.info ? undefined : 'not observed');
        return { name: i.name, problem, replicating: n?.info?.role === 'replica' };
      }),
      podNames: rr.spec.instances.flatMap((i) => (i.unitRef ? [i.unitRef.name] : [])),
      now,
      timeoutMs: this.opts.detachTimeoutMs,
      detachOne: (name) => act({ kind: 'isolate', node: name }, actCtx),
      writeCondition: (c) =>
        this.client.applyStatus(
          redisReplications,
          obj,
          {
            ...rr.status,
            conditions: setCondition(
              (rr.status?.conditions ?? []) as unknown as Condition[],
              { ...c, observedGeneration: rr.metadata.generation },
              now,
            ).conditions,
          },
          redisReplicationFieldManager,
        ),
      ctx,
    });
  }

  private async resolve(
    ns: string,
    ref: { name: string; unitRef?: { name: string }; host?: string; port?: number },
    defaultPort: number,
  ): Promise<Resolution> {
    const unit =
      ref.unitRef && !ref.host
        ? ((await this.getOrUndefined(units, ns, ref.unitRef.name)) as unknown as Unit | undefined)
        : undefined;
    return resolveInstance(ref, unit, defaultPort, this.opts.unitAddressing ?? 'dns');
  }

  /** The Services (when they differ from the cache) and the role label of each Unit-backed instance's Pod. */
  private async applyServicesAndLabels(
    rr: RedisReplication,
    roles: Record<string, 'primary' | 'replica' | undefined>,
    resolutions: Map<string, Resolution>,
  ): Promise<{ status: 'True' | 'False'; reason: string; message: string }> {
    const ns = rr.metadata.namespace;
    const name = rr.metadata.name!;
    const problems: string[] = [];
    const primarySpec = rr.spec.instances.find((i) => i.name === rr.spec.primary) ?? rr.spec.instances[0];
    const desired = replicationServices(
      rr as unknown as KubeObject & { apiVersion: string; kind: string },
      rr.spec.service,
      {
        name: 'redis',
        port: primarySpec?.port ?? 6379,
      },
    );
    for (const svc of desired) {
      const have = this.caches.services.get(ns, svc.metadata!.name!) as V1Service | undefined;
      const same =
        have &&
        jsonEqual(have.spec?.selector, svc.spec!.selector) &&
        have.spec?.type === svc.spec!.type &&
        jsonEqual(
          (have.spec?.ports ?? []).map((p) => [p.name, p.port, p.targetPort]),
          svc.spec!.ports!.map((p) => [p.name, p.port, p.targetPort]),
        ) &&
        jsonEqual(have.metadata?.annotations ?? {}, svc.metadata!.annotations ?? {});
      if (same) continue;
      try {
        await this.client.apply(services, svc as unknown as KubeObject, redisReplicationFieldManager);
      } catch (err) {
        problems.push(`Service ${svc.metadata!.name}: ${(err as Error).message}`);
      }
    }
    for (const [instance, role] of Object.entries(roles)) {
      const r = resolutions.get(instance);
      const podName = r?.ok ? r.endpoint.unit : undefined;
      if (!podName) continue;
      try {
        const pod = (await this.getOrUndefined(pods, ns, podName)) as V1Pod | undefined;
        if (!pod) {
          problems.push(`Pod ${podName} of ${instance} not found`);
          continue;
        }
        const patch = podRoleLabelPatch(pod as unknown as KubeObject, name, role);
        if (patch) {
          await this.client.patch(pods, ns, podName, { metadata: { labels: patch } }, 'merge', {
            fieldManager: redisReplicationFieldManager,
          });
        }
      } catch (err) {
        problems.push(`Pod ${podName}: ${(err as Error).message}`);
      }
    }
    return problems.length
      ? { status: 'False', reason: 'SyncFailed', message: problems.join('; ') }
      : { status: 'True', reason: 'Synced', message: 'Services and Pod role labels follow the observed topology' };
  }

  private async getOrUndefined(
    type: ResourceType,
    ns: string | undefined,
    name: string,
  ): Promise<KubeObject | undefined> {
    try {
      return await this.client.get(type, ns, name);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }
}
