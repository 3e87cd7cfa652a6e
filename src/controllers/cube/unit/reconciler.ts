// The Unit controller: one Unit → its Pod, claims, rendered ConfigMap and per-Unit Service, and
// the Unit's status from what the Pod reports. Desired objects come from the pure builders in
// ../specs; writes are server-side applies with this controller's field manager, so a second
// pass changes nothing and fields others own are left alone. A change that needs a restart
// replaces the Pod (gracefully); anything else is updated in place. The finalizer makes deletion
// remove what the Unit made even where no garbage collector follows owner references across
// API servers (local mode); on a cluster the owner references do the same.

import type { V1ConfigMap, V1PersistentVolumeClaim, V1Pod, V1Service } from '@kubernetes/client-node';
import type { Unit, UnitSet, UnitStatus, UnitTemplate } from '../../../api/generated/types.js';
import { inServiceLabel, unitSetLabel } from '../../../api/labels.js';
import { setCondition, type Condition } from '../../../machinery/conditions.js';
import { isConflict, isForbidden, isInvalid, isNotFound } from '../../../machinery/errors.js';
import { jsonEqual, type KubeObject } from '../../../machinery/object.js';
import { configMaps, persistentVolumeClaims, pods, services, units } from '../../resources.js';
import type { KubeClient } from '../../runtime/client.js';
import type { ReconcileContext, Request, Result } from '../../runtime/controller.js';
import type { EventRecorder } from '../../runtime/events.js';
import type { Informer } from '../../runtime/informer.js';
import { classifyPodChange } from '../specs/change.js';
import { configMap, renderConfig, type ConfigProblem, type RenderedConfig } from '../specs/config.js';
import { claimName, configMapName, unitServiceName } from '../specs/names.js';
import { claimOwnerReferences, pod as desiredPod, pvcs } from '../specs/pod.js';
import { unitService } from '../specs/services.js';
import { volumesReadyCondition, type ClaimState } from '../specs/volumes.js';
import { pinDecision, pinnedPod, pinOf, waitsForStalePin } from '../specs/pinning.js';

export const unitFieldManager = 'upm.io/unit-controller';
export const unitCleanupFinalizer = 'upm.io/unit-cleanup';

export interface UnitCaches {
  unitSets: Informer;
  units: Informer;
  templates: Informer;
  pods: Informer;
  claims: Informer;
  configMaps: Informer;
  services: Informer;
}

const asObject = (o: unknown) => o as KubeObject;

export class UnitReconciler {
  constructor(
    private readonly client: KubeClient,
    private readonly caches: UnitCaches,
    private readonly events: EventRecorder,
    private readonly now: () => Date = () => new Date(),
  ) {}

  readonly reconcile = async (req: Request, ctx: ReconcileContext): Promise<Result | void> => {
    const unit = this.caches.units.get(req.namespace, req.name) as unknown as Unit | undefined;
    if (!unit) return;
    if (unit.metadata.deletionTimestamp) return this.cleanUp(unit);
    if (!unit.metadata.finalizers?.includes(unitCleanupFinalizer)) {
      await this.client.apply(
        units,
        asObject({
          apiVersion: unit.apiVersion,
          kind: 'Unit',
          metadata: { name: req.name, namespace: req.namespace, finalizers: [unitCleanupFinalizer] },
        }),
        unitFieldManager,
      );
    }

    const template = this.caches.templates.get(undefined, unit.spec.unitTemplate) as unknown as
      UnitTemplate | undefined;
    if (!template) {
      return this.writeStatus(unit, undefined, {
        type: 'ConfigSynced',
        status: 'False',
        reason: 'TemplateNotFound',
        message: `UnitTemplate ${unit.spec.unitTemplate} does not exist`,
      });
    }
    const rendered = renderConfig(unit, template);
    if (!rendered.ok) {
      const message = rendered.problems.map(describeProblem).join('; ');
      this.events.event(asObject(unit), 'Warning', 'InvalidConfig', 'RenderConfig', message);
      return this.writeStatus(unit, this.currentPod(unit), {
        type: 'ConfigSynced',
        status: 'False',
        reason: rendered.problems[0].reason,
        message,
      });
    }
    const config = rendered.config;

    await this.applyConfigMap(unit, config);
    const claims = await this.applyClaims(unit);
    const podState = await this.convergePod(unit, template, config, ctx);
    await this.pin(unit, podState.pod);
    await this.applyService(unit, template);
    await this.writeStatus(
      unit,
      podState.pod,
      { type: 'ConfigSynced', status: 'True', reason: 'Synced', message: `configuration revision ${config.revision}` },
      volumesReadyCondition(claims),
    );
    if (podState.requeueAfterMs) return { requeueAfterMs: podState.requeueAfterMs };
  };

  private currentPod(unit: Unit): V1Pod | undefined {
    return this.caches.pods.get(unit.metadata.namespace, unit.metadata.name!) as V1Pod | undefined;
  }

  private async applyConfigMap(unit: Unit, config: RenderedConfig): Promise<void> {
    const desired: V1ConfigMap = configMap(unit, config);
    const current = this.caches.configMaps.get(unit.metadata.namespace, configMapName(unit.metadata.name!));
    if (current && jsonEqual(current['data'] ?? {}, desired.data ?? {})) return;
    await this.client.apply(configMaps, asObject(desired), unitFieldManager);
  }

  /** Creates missing claims and grows smaller ones; returns each claim's state for VolumesReady. */
  private async applyClaims(unit: Unit): Promise<ClaimState[]> {
    const states: ClaimState[] = [];
    for (const claim of pvcs(unit)) {
      const current = this.caches.claims.get(unit.metadata.namespace, claim.metadata!.name!) as
        V1PersistentVolumeClaim | undefined;
      const state: ClaimState = { name: claim.metadata!.name!, claim: current };
      states.push(state);
      if (current) {
        // Only what may change on a bound claim: its owner (retention policy) and a larger size.
        const owners = claimOwnerReferences(unit, current.metadata?.ownerReferences as never);
        const want = claim.spec!.resources!.requests!['storage'];
        const have = current.spec?.resources?.requests?.['storage'];
        const sameOwners = JSON.stringify(owners) === JSON.stringify(current.metadata?.ownerReferences ?? []);
        if (sameOwners && want === have) continue;
        try {
          await this.client.patch(
            persistentVolumeClaims,
            unit.metadata.namespace,
            claim.metadata!.name!,
            {
              metadata: { ownerReferences: owners, resourceVersion: current.metadata?.resourceVersion },
              ...(want !== have ? { spec: { resources: { requests: { storage: want } } } } : {}),
            },
            'merge',
            { fieldManager: unitFieldManager },
          );
        } catch (err) {
          // A claim that may not grow (no allowVolumeExpansion, a static volume, a shrink) is
          // refused for good: report it instead of retrying the same request forever.
          if (want === have || !(isInvalid(err) || isForbidden(err))) throw err;
          state.resizeRejected = `growing to ${want} was refused: ${(err as Error).message}`;
          this.events.event(asObject(unit), 'Warning', 'ResizeRejected', 'ResizeClaim', state.resizeRejected);
        }
        continue;
      }
      await this.client.apply(persistentVolumeClaims, asObject(claim), unitFieldManager);
      this.events.event(asObject(unit), 'Normal', 'ClaimCreated', 'Create', `created claim ${claim.metadata!.name}`);
    }
    return states;
  }

  private async convergePod(
    unit: Unit,
    template: UnitTemplate,
    config: RenderedConfig,
    ctx: ReconcileContext,
  ): Promise<{ pod?: V1Pod; requeueAfterMs?: number }> {
    const unpinned = desiredPod(unit, template, config);
    const current = this.currentPod(unit);
    if (!current) {
      const desired = pinnedPod(unpinned, unit.spec.pinnedNode);
      const created = await this.client.apply(pods, asObject(desired), unitFieldManager);
      this.events.event(asObject(unit), 'Normal', 'PodCreated', 'Create', `created Pod ${desired.metadata!.name}`);
      return { pod: created as unknown as V1Pod };
    }
    if (current.metadata?.deletionTimestamp) return { pod: current, requeueAfterMs: 1000 };
    if (!ownedBy(current, unit)) {
      this.events.event(
        asObject(unit),
        'Warning',
        'PodNotOwned',
        'Adopt',
        `Pod ${current.metadata?.name} exists but is not controlled by this Unit; it is left alone`,
      );
      return { pod: current };
    }
    const recovery = unit.spec.failedPodRecovery;
    if (current.status?.phase === 'Failed' || current.status?.phase === 'Succeeded') {
      if (recovery?.enabled === false) return { pod: current };
      const since = finishedAt(current) ?? this.firstSeenEnded(current);
      const waitMs = (recovery?.delaySeconds ?? 60) * 1000 - (this.now().getTime() - since);
      if (waitMs > 0) return { pod: current, requeueAfterMs: waitMs };
      await this.deletePod(unit, current, 'RecreateFailedPod', `Pod ended in phase ${current.status?.phase}`);
      return { requeueAfterMs: 500 };
    }
    if (waitsForStalePin(unit, current)) {
      await this.deletePod(
        unit,
        current,
        'ReplacePod',
        `the Pod waits for node ${pinOf(current) ?? '(none)'}, the Unit is pinned to ${unit.spec.pinnedNode ?? 'no node'}`,
      );
      return { requeueAfterMs: 500 };
    }
    // Compared and applied with the pin the Pod was created with: pinning alone changes nothing.
    const desired = pinnedPod(unpinned, pinOf(current));
    const change = classifyPodChange(current, desired);
    if (change.kind === 'Disruptive') {
      const why = change.changes.filter((c) => c.disruptive).map((c) => `${c.reason}: ${c.message}`);
      await this.deletePod(unit, current, 'ReplacePod', `replacing the Pod (${why.join('; ')})`);
      ctx.log?.info({ changes: why }, 'replacing pod');
      return { requeueAfterMs: 500 };
    }
    if (change.kind === 'NonDisruptive') {
      // In place: the same spec (a Pod's spec is immutable) with new labels and annotations. The
      // whole desired Pod is applied: an apply that left the spec out would give it up.
      const updated = await this.client.apply(pods, asObject(desired), unitFieldManager);
      return { pod: updated as unknown as V1Pod };
    }
    return { pod: current };
  }

  /** Records (or, when its UnitSet stopped pinning, removes) the node the Unit is pinned to. */
  private async pin(unit: Unit, pod: V1Pod | undefined): Promise<void> {
    const setName = unit.metadata.labels?.[unitSetLabel];
    const unitSet = setName
      ? (this.caches.unitSets.get(unit.metadata.namespace, setName) as unknown as UnitSet | undefined)
      : undefined;
    const decision = pinDecision(unit, unitSet, pod);
    if (decision === undefined) return;
    await this.client.patch(
      units,
      unit.metadata.namespace,
      unit.metadata.name!,
      { metadata: { resourceVersion: unit.metadata.resourceVersion }, spec: { pinnedNode: decision } },
      'merge',
      { fieldManager: unitFieldManager },
    );
    if (decision)
      this.events.event(
        asObject(unit),
        'Normal',
        'Pinned',
        'PinToNode',
        `the Unit's Pods now run on node ${decision} only`,
      );
  }

  private readonly endedSeen = new Map<string, number>();

  /** When this controller first saw a Pod ended that reports no finish time (an eviction writes none). */
  private firstSeenEnded(pod: V1Pod): number {
    const uid = pod.metadata!.uid!;
    if (!this.endedSeen.has(uid)) {
      if (this.endedSeen.size > 10_000) this.endedSeen.clear();
      this.endedSeen.set(uid, this.now().getTime());
    }
    return this.endedSeen.get(uid)!;
  }

  private async deletePod(unit: Unit, pod: V1Pod, action: string, note: string): Promise<void> {
    this.events.event(asObject(unit), 'Normal', action === 'ReplacePod' ? 'Replacing' : 'Recreating', action, note);
    try {
      await this.client.delete(pods, pod.metadata!.namespace, pod.metadata!.name!, { uid: pod.metadata!.uid });
    } catch (err) {
      if (!isNotFound(err) && !isConflict(err)) throw err;
    }
  }

  private async applyService(unit: Unit, template: UnitTemplate): Promise<void> {
    const existing = this.caches.services.get(unit.metadata.namespace, unitServiceName(unit.metadata.name!)) as
      V1Service | undefined;
    // Per-Unit Services are a setting of the UnitSet the Unit belongs to.
    const setName = unit.metadata.labels?.[unitSetLabel];
    const unitSet = setName
      ? (this.caches.unitSets.get(unit.metadata.namespace, setName) as unknown as UnitSet)
      : undefined;
    const settings = unitSet?.spec.services?.perUnit;
    const desired = unitService(unit, settings, template, existing);
    if (desired) await this.client.apply(services, asObject(desired), unitFieldManager);
    else if (existing && ownedBy(existing, unit))
      await this.client.delete(services, unit.metadata.namespace, existing.metadata!.name!).catch((err) => {
        if (!isNotFound(err)) throw err;
      });
  }

  /** Deletion: remove the Pod, ConfigMap, Service and the claims the Unit owns, then the finalizer. */
  private async cleanUp(unit: Unit): Promise<Result | void> {
    if (!unit.metadata.finalizers?.includes(unitCleanupFinalizer)) return;
    const ns = unit.metadata.namespace;
    const name = unit.metadata.name!;
    let remaining = 0;
    const owned: [typeof pods, KubeObject | undefined][] = [
      [pods, this.caches.pods.get(ns, name)],
      [configMaps, this.caches.configMaps.get(ns, configMapName(name))],
      [services, this.caches.services.get(ns, unitServiceName(name))],
      ...(unit.spec.volumeClaimTemplates ?? []).map(
        (c) =>
          [persistentVolumeClaims, this.caches.claims.get(ns, claimName(name, c.name))] as [
            typeof pods,
            KubeObject | undefined,
          ],
      ),
    ];
    for (const [type, obj] of owned) {
      if (!obj || !ownedBy(obj as V1Pod, unit)) continue;
      remaining++;
      if (obj.metadata.deletionTimestamp) continue;
      await this.client.delete(type, ns, obj.metadata.name!, { uid: obj.metadata.uid }).catch((err) => {
        if (!isNotFound(err) && !isConflict(err)) throw err;
      });
    }
    if (remaining > 0) return { requeueAfterMs: 1000 };
    await this.client.patch(
      units,
      ns,
      name,
      [
        { op: 'test', path: '/metadata/resourceVersion', value: unit.metadata.resourceVersion },
        {
          op: 'replace',
          path: '/metadata/finalizers',
          value: unit.metadata.finalizers.filter((f) => f !== unitCleanupFinalizer),
        },
      ],
      'json',
    );
  }

  private async writeStatus(
    unit: Unit,
    pod: V1Pod | undefined,
    configCondition: Condition,
    volumesCondition?: Condition,
  ): Promise<void> {
    const status = unitStatus(unit, pod, configCondition, this.now(), volumesCondition);
    await this.client.applyStatus(units, unit, status, unitFieldManager);
  }
}

/** The Unit's status from its Pod; conditions keep their transition times while they hold. */
export function unitStatus(
  unit: Unit,
  pod: V1Pod | undefined,
  configCondition: Condition,
  now: Date,
  volumesCondition?: Condition,
): UnitStatus {
  const podReady = pod?.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
  const inService = pod?.metadata?.labels?.[inServiceLabel] !== 'false' && !unit.spec.unservice;
  const ready = !!pod && !pod.metadata?.deletionTimestamp && podReady && inService;
  const status: UnitStatus = { ...(unit.status ?? {}), observedGeneration: unit.metadata.generation, ready };
  if (pod?.spec?.nodeName) status.nodeName = pod.spec.nodeName;
  if (pod?.status?.hostIP) status.hostIP = pod.status.hostIP;
  if (pod?.status?.podIP) status.podIP = pod.status.podIP;
  if (pod?.status?.podIPs) status.podIPs = pod.status.podIPs.map((p) => p.ip);
  const restarts = (pod?.status?.containerStatuses ?? []).reduce((n, c) => n + (c.restartCount ?? 0), 0);
  status.restarts = Math.max(unit.status?.restarts ?? 0, restarts);
  let conditions = (unit.status?.conditions ?? []) as unknown as Condition[];
  const set = (c: Condition) =>
    (conditions = setCondition(conditions, { ...c, observedGeneration: unit.metadata.generation }, now).conditions);
  set(configCondition);
  if (volumesCondition) set(volumesCondition);
  const readyReason = !pod
    ? ['PodMissing', 'the Pod does not exist yet']
    : pod.metadata?.deletionTimestamp
      ? ['PodTerminating', 'the Pod is being replaced']
      : !podReady
        ? [`Pod${pod.status?.phase ?? 'Pending'}`, `the Pod is ${pod.status?.phase ?? 'Pending'} and not Ready`]
        : !inService
          ? ['Unserviced', 'the Unit is out of service']
          : ['PodReady', 'the Pod is Ready'];
  set({ type: 'Ready', status: ready ? 'True' : 'False', reason: readyReason[0], message: readyReason[1] });
  status.conditions = conditions as unknown as UnitStatus['conditions'];
  return status;
}

function describeProblem(p: ConfigProblem): string {
  if (p.reason === 'TemplateError') return `${p.file}:${p.line}: ${p.message}`;
  return `parameter ${p.parameter}: ${p.message}`;
}

function ownedBy(obj: { metadata?: { ownerReferences?: { uid: string }[] } }, unit: Unit): boolean {
  return (obj.metadata?.ownerReferences ?? []).some((r) => r.uid === unit.metadata.uid);
}

function finishedAt(pod: V1Pod): number | undefined {
  let latest: number | undefined;
  for (const c of pod.status?.containerStatuses ?? []) {
    const t = c.state?.terminated?.finishedAt;
    if (t) latest = Math.max(latest ?? 0, new Date(t as unknown as string).getTime());
  }
  return latest;
}
