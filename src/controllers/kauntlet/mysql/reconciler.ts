// The MysqlReplication controller: observe every instance → plan (pure) → write status → act,
// repeated within one reconcile while the plan has steps (each pass re-reads the object and
// the servers, so a step is decided on fresh state and recorded before it is taken).

import type { V1Pod } from '@kubernetes/client-node';
import type { MysqlReplication, MysqlReplicationStatus, Unit } from '../../../api/generated/types.js';
import { setCondition, type Condition } from '../../../machinery/conditions.js';
import { isNotFound } from '../../../machinery/errors.js';
import type { KubeObject } from '../../../machinery/object.js';
import { isTlsFailure, withMysql, type MysqlTarget, type MysqlTimeouts } from '../../drivers/mysql/connection.js';
import {
  fence,
  fencedPosition,
  makeReadOnly,
  makeWritable,
  promote,
  readServerState,
  replicateFrom,
  setReplicaSemiSync,
  setSourceSemiSync,
  startReplication,
  waitForGtids,
  detach,
} from '../../drivers/mysql/operations.js';
import type { SemiSyncSettings, SourceAddress } from '../../drivers/mysql/dialect.js';
import { tlsOptions } from '../../drivers/tls.js';
import { mysqlReplications, pods, secrets, services } from '../../resources.js';
import type { KubeClient } from '../../runtime/client.js';
import type { ReconcileContext, Request, Result } from '../../runtime/controller.js';
import type { EventRecorder } from '../../runtime/events.js';
import type { Informer } from '../../runtime/informer.js';
import { credentialsFrom, type Credentials } from '../shared/credentials.js';
import { detaching, finalizerPatch } from '../shared/detach.js';
import { runDetach } from '../shared/detach-run.js';
import type { LivenessWatches } from '../shared/liveness.js';
import { addressOf, resolveInstance, type UnitAddressing } from '../shared/instances.js';
import { tlsSettingsFrom } from '../shared/tls.js';
import {
  podRoleLabelPatch,
  readOnlyServiceName,
  readWriteServiceName,
  replicationServices,
} from '../shared/services.js';
import { planReplication, type InstanceObservation, type Plan, type Step } from './plan.js';
import { podRoles, replicationStatus } from './status.js';

export const mysqlReplicationFieldManager = 'upm.io/mysqlreplication-controller';

/** Passes (observe → plan → act) one reconcile may run before it yields the worker. */
const MAX_PASSES = 30;

export interface MysqlReplicationCaches {
  replications: Informer;
  units: Informer;
}

export interface MysqlReplicationOptions {
  unitAddressing?: UnitAddressing;
  timeouts?: MysqlTimeouts;
  now?: () => Date;
  /** A connection held to each current primary, so its death is seen at once (see liveness.ts). */
  liveness?: LivenessWatches<MysqlTarget>;
  /** How long a deleted object with deletionPolicy Detach waits for unreachable instances (DETACH_TIMEOUT_MS). */
  detachTimeoutMs?: number;
}

interface Access {
  admin: Credentials;
  replication: Credentials;
  /** node:tls options of the controller's connections (undefined: plain TCP). */
  tls: MysqlTarget['tls'];
  /** How the replicas connect to their source. */
  channel: Pick<SourceAddress, 'tls' | 'caFile' | 'verifyHostName'>;
}

interface Memory {
  phaseKey?: string;
  phaseSince?: Date;
  unreachableSince: Record<string, Date>;
  /** The last failed switchover (by epoch) and the generation seen when it had failed. */
  failed?: { epoch: number; generation: number };
  servicesApplied?: string;
}

const asObject = (o: unknown) => o as KubeObject;

export class MysqlReplicationReconciler {
  private readonly memory = new Map<string, Memory>();
  private readonly now: () => Date;

  constructor(
    private readonly client: KubeClient,
    private readonly caches: MysqlReplicationCaches,
    private readonly events: EventRecorder,
    private readonly opts: MysqlReplicationOptions = {},
  ) {
    this.now = opts.now ?? (() => new Date());
  }

  readonly reconcile = async (req: Request, ctx: ReconcileContext): Promise<Result | void> => {
    for (let pass = 0; pass < MAX_PASSES; pass++) {
      if (ctx.signal?.aborted) return;
      const mr = await this.fetch(req);
      if (!mr || mr.metadata.deletionTimestamp) {
        if (!mr) this.memory.delete(`${req.namespace}/${req.name}`);
        this.opts.liveness?.track(req, undefined);
        return mr && detaching(mr) ? this.detachOnDelete(mr, ctx) : undefined;
      }
      const finalizer = finalizerPatch(mr);
      if (finalizer) {
        await this.client.patch(mysqlReplications, req.namespace, req.name, finalizer, 'json');
        continue;
      }
      const mem = this.memoryOf(mr);
      const access = await this.access(mr);
      if ('reason' in access) {
        await this.writeStatus(mr, this.blockedStatus(mr, access));
        return { requeueAfterMs: 10_000 };
      }
      const observations = await this.observe(mr, access);
      const tlsFailed = tlsFailures(observations);
      if (tlsFailed) {
        await this.writeStatus(mr, this.blockedStatus(mr, tlsFailed));
        return { requeueAfterMs: 10_000 };
      }
      const now = this.now();
      for (const o of observations) {
        if (o.state) delete mem.unreachableSince[o.name];
        else mem.unreachableSince[o.name] ??= now;
      }
      const change = mr.status?.lastPrimaryChange;
      const phaseKey = change ? `${change.epoch}/${change.phase}` : undefined;
      if (phaseKey !== mem.phaseKey) {
        mem.phaseKey = phaseKey;
        mem.phaseSince = now;
      }
      const generation = mr.metadata.generation ?? 0;
      if (change?.kind === 'Switchover' && change.phase === 'Failed' && mem.failed?.epoch !== change.epoch) {
        mem.failed = { epoch: change.epoch ?? 0, generation };
      }
      const plan = planReplication({
        specChangedSinceFailure: !!mem.failed && generation > mem.failed.generation,
        spec: mr.spec,
        status: mr.status,
        observations,
        now,
        phaseSince: mem.phaseSince,
        unreachableSince: mem.unreachableSince,
      });
      const status = replicationStatus({
        mr,
        plan,
        observations,
        now,
        services: this.serviceNames(mr),
      });
      // The change record first: a step is taken only once the phase that calls for it is stored.
      await this.writeStatus(mr, status);
      for (const e of plan.events) this.events.event(asObject(mr), e.type, e.reason, 'Reconcile', e.message);
      if (!plan.steps.length) {
        const primary = observations.find((o) => o.name === status.currentPrimary && o.state);
        this.opts.liveness?.track(req, primary ? this.target(primary, access) : undefined);
        await this.syncServices(mr, status, observations, mem);
        return { requeueAfterMs: plan.requeueMs };
      }
      try {
        await this.act(mr, plan, observations, access, ctx);
      } catch (err) {
        const message = (err as Error).message;
        ctx.log?.warn({ err: message }, 'mysql replication step failed');
        this.events.event(asObject(mr), 'Warning', 'StepFailed', 'Reconcile', message);
        return { requeueAfterMs: 1000 };
      }
    }
    return { requeueAfterMs: 100 };
  };

  private memoryOf(mr: MysqlReplication): Memory {
    const key = `${mr.metadata.namespace}/${mr.metadata.name}`;
    let mem = this.memory.get(key);
    if (!mem) this.memory.set(key, (mem = { unreachableSince: {} }));
    return mem;
  }

  private async fetch(req: Request): Promise<MysqlReplication | undefined> {
    // Fresh from the API, not the cache: the change record written by the previous pass decides
    // the next step.
    try {
      return (await this.client.get(mysqlReplications, req.namespace, req.name)) as unknown as MysqlReplication;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  private async access(mr: MysqlReplication): Promise<Access | { reason: string; message: string }> {
    const ns = mr.metadata.namespace!;
    const read = async (ref: { name: string; usernameKey?: string; passwordKey?: string }) => {
      const secret = await this.client.get(secrets, ns, ref.name).catch((err: unknown) => {
        if (isNotFound(err)) return undefined;
        throw err;
      });
      return credentialsFrom(ref, secret as { data?: Record<string, string> } | undefined);
    };
    const admin = await read(mr.spec.credentials.admin);
    if (!admin.ok) return { reason: admin.reason, message: `credentials.admin: ${admin.message}` };
    const replRef = mr.spec.credentials.replication;
    const repl = replRef ? await read(replRef) : admin;
    if (!repl.ok) return { reason: repl.reason, message: `credentials.replication: ${repl.message}` };
    const tls = await tlsSettingsFrom(mr.spec.tls, async (name) => {
      const secret = await this.client.get(secrets, ns, name).catch((err: unknown) => {
        if (isNotFound(err)) return undefined;
        throw err;
      });
      return secret as { data?: Record<string, string> } | undefined;
    });
    if (!tls.ok) return { reason: tls.reason, message: tls.message };
    const mode = tls.settings?.mode ?? 'Disabled';
    const verify = mode === 'VerifyCA' || mode === 'VerifyFull';
    return {
      admin: admin.credentials,
      replication: repl.credentials,
      tls: tlsOptions(tls.settings),
      channel: {
        tls: mode !== 'Disabled',
        caFile: verify ? mr.spec.tls?.serverCAFile : undefined,
        verifyHostName: mode === 'VerifyFull',
      },
    };
  }

  private target(o: InstanceObservation, access: Access): MysqlTarget {
    return {
      host: o.host!,
      port: o.port!,
      user: access.admin.username,
      password: access.admin.password,
      tls: access.tls,
    };
  }

  private async observe(mr: MysqlReplication, access: Access): Promise<Observed[]> {
    const ns = mr.metadata.namespace!;
    return Promise.all(
      mr.spec.instances.map(async (inst): Promise<Observed> => {
        const unit = inst.unitRef
          ? (this.caches.units.get(ns, inst.unitRef.name) as unknown as Unit | undefined)
          : undefined;
        const r = resolveInstance(inst, unit, 3306, this.opts.unitAddressing);
        if (!r.ok) return { name: inst.name, error: r.message };
        const e = r.endpoint;
        const o: Observed = {
          name: inst.name,
          host: e.host,
          port: e.port,
          address: addressOf(e),
          unit: e.unit,
        };
        try {
          o.state = await withMysql(this.target(o, access), readServerState, this.opts.timeouts);
        } catch (err) {
          o.error = (err as Error).message;
          o.tlsFailed = isTlsFailure(err);
        }
        return o;
      }),
    );
  }

  private async act(
    mr: MysqlReplication,
    plan: Plan,
    observations: InstanceObservation[],
    access: Access,
    ctx: ReconcileContext,
  ): Promise<void> {
    const byName = new Map(observations.map((o) => [o.name, o]));
    const on = <T>(name: string, fn: Parameters<typeof withMysql<T>>[1]) => {
      const o = byName.get(name);
      if (!o?.host) throw new Error(`instance ${name} has no address`);
      return withMysql(this.target(o, access), fn, this.opts.timeouts);
    };
    const semi: SemiSyncSettings | undefined =
      mr.spec.mode === 'SemiSync'
        ? {
            timeoutMs: mr.spec.semiSync?.timeoutSeconds ? mr.spec.semiSync.timeoutSeconds * 1000 : undefined,
            waitForReplicaCount: mr.spec.semiSync?.waitForReplicaCount,
          }
        : undefined;
    for (const step of plan.steps) {
      ctx.log?.info({ step: describe(step) }, 'mysql replication step');
      if ((await this.run(mr, step, byName, access, semi, on)) === false) {
        ctx.log?.info({ step: describe(step) }, 'mysql replication step not met; the rest of the batch waits');
        return;
      }
    }
  }

  private async run(
    mr: MysqlReplication,
    step: Step,
    byName: Map<string, InstanceObservation>,
    access: Access,
    semi: SemiSyncSettings | undefined,
    on: <T>(name: string, fn: Parameters<typeof withMysql<T>>[1]) => Promise<T>,
  ): Promise<boolean | void> {
    switch (step.kind) {
      case 'MakeReadOnly':
        return on(step.instance, makeReadOnly);
      case 'Fence': {
        const killed = await on(step.instance, fence);
        this.events.event(
          asObject(mr),
          'Normal',
          'Fenced',
          'Switchover',
          `${step.instance} is read-only; ${killed} client session(s) ended`,
        );
        return;
      }
      case 'MakeWritable':
        return on(step.instance, makeWritable);
      case 'Promote':
        return on(step.instance, (s) => promote(s, semi));
      case 'Replicate': {
        const src = byName.get(step.source);
        if (!src?.host || !src.port) throw new Error(`source ${step.source} has no address`);
        const state = byName.get(step.instance)?.state;
        if (!state) throw new Error(`instance ${step.instance} was not observed`);
        if (access.channel.tls && access.tls?.rejectUnauthorized !== false && !access.channel.caFile) {
          this.events.event(
            asObject(mr),
            'Warning',
            'ReplicationUnverified',
            'Replicate',
            `${step.instance} replicates from ${step.source} over TLS without verifying its certificate: ` +
              'spec.tls.serverCAFile is not set',
          );
        }
        return on(step.instance, (s) =>
          replicateFrom(
            s,
            state,
            {
              host: src.host!,
              port: src.port!,
              user: access.replication.username ?? 'root',
              password: access.replication.password,
              ...access.channel,
            },
            { fresh: step.fresh, semiSync: !!semi },
          ),
        );
      }
      case 'StartReplication':
        return on(step.instance, startReplication);
      case 'Detach':
        return on(step.instance, detach);
      case 'SourceSemiSync':
        return on(step.instance, (s) => setSourceSemiSync(s, step.enabled, semi));
      case 'ReplicaSemiSync':
        return on(step.instance, (s) => setReplicaSemiSync(s, step.enabled));
      case 'WaitForGtids':
        await on(step.instance, (s) => waitForGtids(s, step.position, step.timeoutSeconds));
        return;
      case 'CatchUpWith': {
        const position = await on(step.source, fencedPosition);
        return on(step.instance, (s) => waitForGtids(s, position, step.timeoutSeconds));
      }
      case 'SetSpecPrimary':
        await this.client.patch(
          mysqlReplications,
          mr.metadata.namespace,
          mr.metadata.name!,
          { spec: { primary: step.primary } },
          'merge',
          { fieldManager: mysqlReplicationFieldManager },
        );
        this.events.event(asObject(mr), 'Normal', 'PrimaryUpdated', 'Failover', `spec.primary set to ${step.primary}`);
        return;
    }
  }

  /** deletionPolicy Detach: every reachable replica stops replicating and stays read-only (paused or not). */
  private async detachOnDelete(mr: MysqlReplication, ctx: ReconcileContext): Promise<Result | void> {
    const access = await this.access(mr);
    const observations =
      'reason' in access
        ? mr.spec.instances.map((i) => ({ name: i.name, error: access.message }) as InstanceObservation)
        : await this.observe(mr, access);
    const byName = new Map(observations.map((o) => [o.name, o]));
    return runDetach({
      client: this.client,
      events: this.events,
      resource: mysqlReplications,
      fieldManager: mysqlReplicationFieldManager,
      obj: asObject(mr) as never,
      instances: observations.map((o) => ({
        name: o.name,
        problem: o.state ? undefined : o.error,
        replicating: !!o.state?.replica,
      })),
      podNames: mr.spec.instances.flatMap((i) => (i.unitRef ? [i.unitRef.name] : [])),
      now: this.now(),
      timeoutMs: this.opts.detachTimeoutMs,
      detachOne: async (name) => {
        const o = byName.get(name)!;
        if ('reason' in access) throw new Error(access.message);
        await withMysql(this.target(o, access), detach, this.opts.timeouts);
      },
      writeCondition: (c) =>
        this.writeStatus(mr, {
          ...mr.status,
          conditions: setCondition(
            (mr.status?.conditions ?? []) as Condition[],
            { ...c, observedGeneration: mr.metadata.generation },
            this.now(),
          ).conditions as MysqlReplicationStatus['conditions'],
        }),
      ctx,
    });
  }

  private serviceNames(mr: MysqlReplication) {
    const name = mr.metadata.name!;
    return {
      readWrite: readWriteServiceName(name),
      readOnly: mr.spec.service?.readOnly === false ? undefined : readOnlyServiceName(name),
    };
  }

  private writeStatus(mr: MysqlReplication, status: MysqlReplicationStatus): Promise<void> {
    return this.client.applyStatus(mysqlReplications, mr, status, mysqlReplicationFieldManager);
  }

  private blockedStatus(mr: MysqlReplication, blocked: { reason: string; message: string }): MysqlReplicationStatus {
    const plan = planReplication({
      spec: { ...mr.spec, paused: true },
      status: mr.status,
      observations: [],
      now: this.now(),
    });
    plan.waiting = blocked;
    return replicationStatus({ mr, plan, observations: [], now: this.now(), services: this.serviceNames(mr), blocked });
  }

  /** The Services and, for Unit-backed instances, the Pod role labels that drive them. */
  private async syncServices(
    mr: MysqlReplication,
    status: MysqlReplicationStatus,
    observations: InstanceObservation[],
    mem: Memory,
  ): Promise<void> {
    let result: { ok: boolean; message: string };
    try {
      const desired = replicationServices(mr as never, mr.spec.service, { name: 'mysql', port: 3306 });
      for (const svc of desired) {
        const port = mr.spec.instances.find((i) => i.name === status.currentPrimary)?.port ?? 3306;
        svc.spec!.ports = [{ name: 'mysql', port, targetPort: port as never, protocol: 'TCP' }];
      }
      const key = JSON.stringify(desired);
      if (mem.servicesApplied !== key) {
        for (const svc of desired) await this.client.apply(services, asObject(svc), mysqlReplicationFieldManager);
        mem.servicesApplied = key;
      }
      const roles = podRoles(mr, status.instances ?? [], status.currentPrimary);
      let labelled = 0;
      for (const o of observations) {
        if (!o.unit) continue;
        const pod = (await this.client.get(pods, mr.metadata.namespace, o.unit).catch((err: unknown) => {
          if (isNotFound(err)) return undefined;
          throw err;
        })) as V1Pod | undefined;
        const patch = podRoleLabelPatch(pod as never, mr.metadata.name!, roles.get(o.name));
        if (patch) {
          await this.client.patch(pods, mr.metadata.namespace, o.unit, { metadata: { labels: patch } }, 'merge', {
            fieldManager: mysqlReplicationFieldManager,
          });
          labelled++;
        }
      }
      result = {
        ok: true,
        message: labelled ? `relabelled ${labelled} Pod(s)` : 'Services and Pod labels match the topology',
      };
    } catch (err) {
      result = { ok: false, message: (err as Error).message };
    }
    const { conditions, changed } = setCondition(
      (status.conditions ?? []) as Condition[],
      {
        type: 'ServicesReady',
        status: result.ok ? 'True' : 'False',
        reason: result.ok ? 'Synced' : 'SyncFailed',
        message: result.message,
        observedGeneration: mr.metadata.generation,
      },
      this.now(),
    );
    if (changed) {
      await this.writeStatus(
        { ...mr, status },
        {
          ...status,
          conditions: conditions as MysqlReplicationStatus['conditions'],
        },
      );
    }
  }
}

type Observed = InstanceObservation & { tlsFailed?: boolean };

/**
 * TLS failing with every instance (a wrong CA, certificates that do not name the hosts, servers
 * without TLS) is a configuration problem, reported as such rather than as unreachable servers.
 */
function tlsFailures(observations: Observed[]): { reason: string; message: string } | undefined {
  if (!observations.length || !observations.every((o) => o.tlsFailed)) return undefined;
  return { reason: 'TLSHandshakeFailed', message: observations.map((o) => `${o.name}: ${o.error}`).join('; ') };
}

function describe(step: Step): string {
  return Object.entries(step)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ');
}
