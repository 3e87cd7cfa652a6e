// Runs spec.deletionPolicy Detach for a deleted replication object (see detach.ts): says what it
// does (condition Detaching and an Event), detaches every reachable replica with the
// controller's driver, removes the Pod role labels and the owned Services, and removes the
// finalizer once every instance was reached or the deadline passed. Every step is idempotent: a controller that dies half-way
// runs them again.

import type { V1Pod } from '@kubernetes/client-node';
import { isConflict, isNotFound } from '../../../machinery/errors.js';
import type { KubeObject } from '../../../machinery/object.js';
import { pods, services } from '../../resources.js';
import type { KubeClient, ResourceType } from '../../runtime/client.js';
import type { ReconcileContext, Result } from '../../runtime/controller.js';
import type { EventRecorder } from '../../runtime/events.js';
import { planDetach, removeFinalizerPatch, type DetachInstance } from './detach.js';
import { podRoleLabelPatch, readOnlyServiceName, readWriteServiceName, replicationLabel } from './services.js';

export interface DetachCondition {
  type: 'Detaching';
  status: 'True';
  reason: string;
  message: string;
}

export interface DetachRun {
  client: KubeClient;
  events: EventRecorder;
  resource: ResourceType;
  fieldManager: string;
  obj: KubeObject & { status?: { conditions?: { type: string; reason?: string; message?: string }[] } };
  instances: DetachInstance[];
  /** Pods of the Unit-backed instances (named like their Units). */
  podNames: string[];
  now: Date;
  timeoutMs?: number;
  /** Stops and forgets replication on one instance, leaving it read-only. */
  detachOne(name: string): Promise<void>;
  /** Writes the Detaching condition to status (the rest of status as it is). */
  writeCondition(condition: DetachCondition): Promise<void>;
  ctx: ReconcileContext;
}

export async function runDetach(r: DetachRun): Promise<Result | void> {
  const deletionTimestamp = new Date(r.obj.metadata.deletionTimestamp as string);
  const first = planDetach({ instances: r.instances, deletionTimestamp, now: r.now, timeoutMs: r.timeoutMs });
  await say(r, first.condition);

  const failed: Record<string, string> = {};
  for (const name of first.detach) {
    try {
      await r.detachOne(name);
    } catch (err) {
      failed[name] = (err as Error).message;
      r.events.event(r.obj, 'Warning', 'DetachFailed', 'Delete', `${name}: ${failed[name]}`);
    }
  }
  for (const podName of r.podNames) await unlabel(r, podName);
  for (const serviceName of [readWriteServiceName, readOnlyServiceName])
    await deleteOwned(r, serviceName(r.obj.metadata.name!));

  const plan = planDetach({ instances: r.instances, deletionTimestamp, now: r.now, timeoutMs: r.timeoutMs, failed });
  if (!plan.finish) {
    await say(r, plan.condition);
    return { requeueAfterMs: plan.retryMs };
  }
  r.events.event(r.obj, plan.final!.type, plan.final!.reason, 'Delete', plan.final!.message);
  try {
    await r.client.patch(
      r.resource,
      r.obj.metadata.namespace,
      r.obj.metadata.name!,
      removeFinalizerPatch(r.obj as never),
      'json',
    );
  } catch (err) {
    if (isNotFound(err)) return;
    if (isConflict(err)) return { requeueAfterMs: 100 };
    throw err;
  }
  r.ctx.log?.info({ reason: plan.final!.reason }, 'detached; finalizer removed');
}

async function say(r: DetachRun, c: { reason: string; message: string }): Promise<void> {
  const have = r.obj.status?.conditions?.find((x) => x.type === 'Detaching');
  if (have?.reason === c.reason && have.message === c.message) return;
  if (have?.reason !== c.reason) {
    r.events.event(r.obj, c.reason === 'WaitingForInstances' ? 'Warning' : 'Normal', c.reason, 'Delete', c.message);
  }
  await r.writeCondition({ type: 'Detaching', status: 'True', ...c });
  // The next write compares with what was written.
  const conditions = (r.obj.status?.conditions ?? []).filter((x) => x.type !== 'Detaching');
  r.obj.status = { ...r.obj.status, conditions: [...conditions, { type: 'Detaching', ...c }] };
}

async function unlabel(r: DetachRun, podName: string): Promise<void> {
  const ns = r.obj.metadata.namespace;
  let pod: V1Pod | undefined;
  try {
    pod = (await r.client.get(pods, ns, podName)) as V1Pod;
  } catch (err) {
    if (isNotFound(err)) return;
    throw err;
  }
  // A Pod another object labelled is not ours to change.
  if (pod.metadata?.labels?.[replicationLabel] !== r.obj.metadata.name) return;
  const patch = podRoleLabelPatch(pod as never, r.obj.metadata.name!, undefined);
  if (!patch) return;
  await r.client.patch(pods, ns, podName, { metadata: { labels: patch } }, 'merge', { fieldManager: r.fieldManager });
}

/**
 * The owned Services go as the garbage collector would take them after the object (it does not
 * follow owner references across API servers in local mode); only the ones this object controls.
 */
async function deleteOwned(r: DetachRun, name: string): Promise<void> {
  const ns = r.obj.metadata.namespace;
  try {
    const svc = await r.client.get(services, ns, name);
    const owned = (svc.metadata.ownerReferences ?? []).some((o) => o.controller && o.uid === r.obj.metadata.uid);
    if (!owned || svc.metadata.deletionTimestamp) return;
    await r.client.delete(services, ns, name, { uid: svc.metadata.uid });
  } catch (err) {
    if (!isNotFound(err) && !isConflict(err)) throw err;
  }
}
