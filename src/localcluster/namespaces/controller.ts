// The namespace controller (kube-controller-manager's pkg/controller/namespace): when a Namespace
// is deleted it turns Terminating and its `kubernetes` finalizer holds it; this controller then
// deletes every namespaced object of every served group, the aggregated upm.io group included,
// found through discovery as kube's controller finds them, reports what blocks it in the
// NamespaceDeletion* conditions, and removes the finalizer once nothing is left, which deletes
// the Namespace.

import type { Logger } from 'pino';
import type { ResourceStore } from '../../apiserver/registry/store.js';
import { setCondition, type Condition } from '../../machinery/conditions.js';
import { isConflict, isNotFound } from '../../machinery/errors.js';
import { deepClone, isPlainObject, type KubeObject } from '../../machinery/object.js';
import { StoreInformer } from '../auth/informer.js';
import type { ContentClient, ContentResource } from './client.js';

export const kubernetesFinalizer = 'kubernetes';

/** The condition types the controller maintains, with what they say when nothing is wrong. */
const okConditions = [
  {
    type: 'NamespaceDeletionDiscoveryFailure',
    reason: 'ResourcesDiscovered',
    message: 'All resources successfully discovered',
  },
  {
    type: 'NamespaceDeletionGroupVersionParsingFailure',
    reason: 'ParsedGroupVersions',
    message: 'All legacy kube types successfully parsed',
  },
  {
    type: 'NamespaceDeletionContentFailure',
    reason: 'ContentDeleted',
    message: 'All content successfully deleted, may be waiting on finalization',
  },
  { type: 'NamespaceContentRemaining', reason: 'ContentRemoved', message: 'All content successfully removed' },
  {
    type: 'NamespaceFinalizersRemaining',
    reason: 'ContentHasNoFinalizers',
    message: 'All content-preserving finalizers finished',
  },
] as const;

type ConditionType = (typeof okConditions)[number]['type'];

export interface NamespaceControllerOptions {
  namespaces: ResourceStore;
  client: ContentClient;
  logger: Logger;
  /** First retry delay while content remains; doubles up to maxRetryMs. Default 200 ms. */
  retryMs?: number;
  maxRetryMs?: number;
}

/** What one deletion pass found. */
export interface DeletionPass {
  failures: Partial<Record<ConditionType, { reason: string; message: string }>>;
  /** Objects left in the namespace. */
  remaining: number;
}

function groupResource(r: ContentResource): string {
  return r.group ? `${r.resource}.${r.group}` : r.resource;
}

function specFinalizers(ns: KubeObject): string[] {
  const f = isPlainObject(ns['spec']) ? ns['spec']['finalizers'] : undefined;
  return Array.isArray(f) ? f.filter((x): x is string => typeof x === 'string') : [];
}

/** Deletes the content of one namespace once; what is left and what failed go into the conditions. */
export async function deleteContent(client: ContentClient, namespace: string): Promise<DeletionPass> {
  const failures: DeletionPass['failures'] = {};
  let discovered;
  try {
    discovered = await client.discover();
  } catch (err) {
    discovered = { resources: [], failures: [(err as Error).message] };
  }
  if (discovered.failures.length > 0) {
    failures.NamespaceDeletionDiscoveryFailure = {
      reason: 'DiscoveryFailed',
      message: `Discovery failed for some groups, ${discovered.failures.length} failing: unable to retrieve the complete list of server APIs: ${discovered.failures.join(', ')}`,
    };
  }
  const errors: string[] = [];
  const remainingByResource = new Map<string, number>();
  const remainingByFinalizer = new Map<string, number>();
  let remaining = 0;
  await Promise.all(
    discovered.resources
      .filter((r) => r.verbs.includes('list') && (r.verbs.includes('deletecollection') || r.verbs.includes('delete')))
      .map(async (r) => {
        try {
          if (r.verbs.includes('deletecollection')) await client.deleteCollection(r, namespace);
          else for (const o of await client.list(r, namespace)) await client.delete(r, namespace, o.name);
          const left = await client.list(r, namespace);
          if (left.length === 0) return;
          remaining += left.length;
          remainingByResource.set(groupResource(r), left.length);
          for (const o of left)
            for (const f of o.finalizers) remainingByFinalizer.set(f, (remainingByFinalizer.get(f) ?? 0) + 1);
        } catch (err) {
          errors.push(`${groupResource(r)}: ${(err as Error).message}`);
        }
      }),
  );
  if (errors.length > 0) {
    failures.NamespaceDeletionContentFailure = {
      reason: 'ContentDeletionFailed',
      message: `Failed to delete all resource types, ${errors.length} remaining: ${errors.sort().join(', ')}`,
    };
  }
  if (remainingByResource.size > 0) {
    const parts = [...remainingByResource]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([gr, n]) => `${gr} has ${n} resource instances`);
    failures.NamespaceContentRemaining = {
      reason: 'SomeResourcesRemain',
      message: `Some resources are remaining: ${parts.join(', ')}`,
    };
  }
  if (remainingByFinalizer.size > 0) {
    const parts = [...remainingByFinalizer]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([f, n]) => `${f} in ${n} resource instances`);
    failures.NamespaceFinalizersRemaining = {
      reason: 'SomeFinalizersRemain',
      message: `Some content in the namespace has finalizers remaining: ${parts.join(', ')}`,
    };
  }
  return { failures, remaining: remaining + (discovered.failures.length > 0 || errors.length > 0 ? 1 : 0) };
}

/** The namespace's conditions after a pass: every maintained type, False unless the pass failed it. */
export function deletionConditions(current: Condition[], pass: DeletionPass): Condition[] {
  let conditions = current;
  for (const ok of okConditions) {
    const failed = pass.failures[ok.type];
    conditions = setCondition(conditions, {
      type: ok.type,
      status: failed ? 'True' : 'False',
      reason: failed?.reason ?? ok.reason,
      message: failed?.message ?? ok.message,
    }).conditions;
  }
  return conditions;
}

export class NamespaceController {
  private readonly informer: StoreInformer;
  private readonly queue = new Set<string>();
  private readonly delays = new Map<string, number>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private running = false;
  private stopped = false;
  private idle: Promise<void> = Promise.resolve();

  constructor(private readonly o: NamespaceControllerOptions) {
    this.informer = new StoreInformer(o.namespaces, {
      replace: (objects) => objects.forEach((ns) => this.observe(ns)),
      upsert: (ns) => this.observe(ns),
      remove: (ns) => this.forget(ns.metadata.name ?? ''),
    });
  }

  start(): Promise<void> {
    this.informer.start();
    return this.informer.synced();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.informer.stop();
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    await this.idle;
  }

  private observe(ns: KubeObject): void {
    if (ns.metadata.deletionTimestamp && specFinalizers(ns).includes(kubernetesFinalizer))
      this.enqueue(ns.metadata.name ?? '');
  }

  private forget(name: string): void {
    this.delays.delete(name);
    const t = this.timers.get(name);
    if (t) clearTimeout(t);
    this.timers.delete(name);
  }

  private enqueue(name: string): void {
    if (this.stopped || !name || this.timers.has(name)) return;
    this.queue.add(name);
    if (!this.running) this.idle = this.drain();
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (!this.stopped && this.queue.size > 0) {
        const [name] = this.queue;
        this.queue.delete(name);
        await this.sync(name);
      }
    } finally {
      this.running = false;
    }
  }

  private retryLater(name: string): void {
    const delay = this.delays.get(name) ?? this.o.retryMs ?? 200;
    this.delays.set(name, Math.min(delay * 2, this.o.maxRetryMs ?? 5000));
    const timer = setTimeout(() => {
      this.timers.delete(name);
      this.enqueue(name);
    }, delay);
    timer.unref?.();
    this.timers.set(name, timer);
  }

  private async sync(name: string): Promise<void> {
    const { namespaces, client, logger } = this.o;
    try {
      const ns = await namespaces.get('', name);
      if (!ns.metadata.deletionTimestamp || !specFinalizers(ns).includes(kubernetesFinalizer)) return;
      const pass = await deleteContent(client, name);
      if (this.stopped) return;
      await namespaces.guaranteedUpdate(
        '',
        name,
        (cur) => {
          const status = isPlainObject(cur['status']) ? deepClone(cur['status']) : {};
          const conditions = Array.isArray(status['conditions']) ? (status['conditions'] as Condition[]) : [];
          status['conditions'] = deletionConditions(conditions, pass);
          return { ...cur, status, metadata: { ...cur.metadata, resourceVersion: undefined } };
        },
        { subresource: 'status', fieldManager: 'namespace-controller' },
      );
      if (pass.remaining > 0) {
        logger.debug({ namespace: name, failures: pass.failures }, 'namespace content remains');
        this.retryLater(name);
        return;
      }
      await namespaces.guaranteedUpdate(
        '',
        name,
        (cur) => {
          const spec = isPlainObject(cur['spec']) ? cur['spec'] : {};
          const finalizers = specFinalizers(cur).filter((f) => f !== kubernetesFinalizer);
          return { ...cur, spec: { ...spec, finalizers }, metadata: { ...cur.metadata, resourceVersion: undefined } };
        },
        { subresource: 'finalize', fieldManager: 'namespace-controller' },
      );
      this.delays.delete(name);
      logger.info({ namespace: name }, 'namespace deleted');
    } catch (err) {
      if (isNotFound(err)) return this.forget(name);
      if (!isConflict(err)) logger.warn({ namespace: name, err: (err as Error).message }, 'namespace deletion failed');
      this.retryLater(name);
    }
  }
}
