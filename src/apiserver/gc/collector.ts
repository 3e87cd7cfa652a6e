// Owner-reference garbage collection among the objects this server stores, with kube's
// semantics (pkg/controller/garbagecollector): a dependent whose owners are all gone is
// deleted; an owner deleted with propagationPolicy=Foreground keeps its `foregroundDeletion`
// finalizer until its dependents are gone; one deleted with Orphan first removes itself from
// its dependents' ownerReferences. Owners of kinds this server does not serve are left to the
// cluster's own garbage collector.
//
// It is level-triggered: it watches every served resource, keeps an index of owners and
// dependents, and processes object UIDs from the controllers' work queue (one UID never handled
// twice at once, failures retried with per-UID exponential backoff), as kube's collector does
// with its attemptToDelete queue.

import type { Logger } from 'pino';
import type { KubeObject, OwnerReference } from '../../machinery/object.js';
import type { APIRegistry, ServedResource } from '../registry/registry.js';
import { foregroundFinalizer, orphanFinalizer } from '../registry/store.js';
import type { RegistryWatch } from '../storage/interface.js';
import { groupVersion } from '../../machinery/definition.js';
import { isConflict, isNotFound } from '../../machinery/errors.js';
import { WorkQueue } from '../../controllers/runtime/workqueue.js';

interface Node {
  uid: string;
  served: ServedResource;
  namespace: string;
  name: string;
  owners: OwnerReference[];
  deleting: boolean;
  finalizers: string[];
}

const relistDelayMs = 1000;
const workers = 2;

export class GarbageCollector {
  private readonly nodes = new Map<string, Node>();
  private readonly dependents = new Map<string, Set<string>>();
  private readonly byKind = new Map<string, ServedResource>();
  private readonly queue = new WorkQueue<string>(undefined, { baseDelayMs: 50, maxDelayMs: 60_000 });
  private readonly watches: RegistryWatch[] = [];
  private readonly workers: Promise<void>[] = [];
  private stopped = false;
  private timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly registry: APIRegistry,
    private readonly log: Logger,
  ) {
    for (const served of registry.resources) this.byKind.set(`${groupVersion(served.def)}/${served.def.kind}`, served);
  }

  async start(): Promise<void> {
    for (let i = 0; i < workers; i++) this.workers.push(this.work());
    for (const served of this.registry.resources) await this.watchResource(served);
  }

  stop(): void {
    this.stopped = true;
    for (const w of this.watches) w.stop();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    void this.queue.shutdown(false);
  }

  /** Resolves once nothing is queued or in progress (for tests and orderly shutdown). */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  private async work(): Promise<void> {
    for (;;) {
      const uid = await this.queue.get();
      if (uid === undefined) return;
      try {
        await this.process(uid);
        this.queue.forget(uid);
      } catch (err) {
        this.log.warn({ err, uid, retries: this.queue.numRequeues(uid) }, 'garbage collection failed; retrying');
        this.queue.addRateLimited(uid);
      } finally {
        this.queue.done(uid);
      }
    }
  }

  private async watchResource(served: ServedResource): Promise<void> {
    const watch = await served.store.watch(
      undefined,
      {},
      {
        event: (type, obj) => this.observe(served, type === 'DELETED' ? undefined : obj, obj),
        error: (err) => {
          if (this.stopped) return;
          this.log.warn({ err, resource: served.def.plural }, 'garbage collector watch ended; relisting');
          this.later(
            () =>
              void this.watchResource(served).catch((e: unknown) =>
                this.log.error({ err: e }, 'garbage collector relist failed'),
              ),
          );
        },
      },
    );
    this.watches.push(watch);
  }

  private observe(served: ServedResource, current: KubeObject | undefined, last: KubeObject): void {
    const uid = last.metadata.uid;
    if (!uid) return;
    const previous = this.nodes.get(uid);
    if (previous) for (const o of previous.owners) this.dependents.get(o.uid)?.delete(uid);
    if (!current) {
      this.nodes.delete(uid);
      // Owners waiting in foreground deletion may now be free; dependents may be orphaned.
      for (const o of previous?.owners ?? last.metadata.ownerReferences ?? []) this.enqueue(o.uid);
      for (const d of this.dependents.get(uid) ?? []) this.enqueue(d);
      return;
    }
    const node: Node = {
      uid,
      served,
      namespace: current.metadata.namespace ?? '',
      name: current.metadata.name ?? '',
      owners: (current.metadata.ownerReferences ?? []).filter((o) => typeof o?.uid === 'string'),
      deleting: !!current.metadata.deletionTimestamp,
      finalizers: current.metadata.finalizers ?? [],
    };
    this.nodes.set(uid, node);
    for (const o of node.owners) {
      let set = this.dependents.get(o.uid);
      if (!set) this.dependents.set(o.uid, (set = new Set()));
      set.add(uid);
    }
    if (node.owners.length > 0 || node.deleting) this.enqueue(uid);
    if (node.deleting) for (const d of this.dependents.get(uid) ?? []) this.enqueue(d);
  }

  private enqueue(uid: string): void {
    if (!this.stopped) this.queue.add(uid);
  }

  private later(fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, relistDelayMs);
    t.unref();
    this.timers.add(t);
  }

  private liveDependents(uid: string): Node[] {
    return [...(this.dependents.get(uid) ?? [])].map((d) => this.nodes.get(d)).filter((n): n is Node => !!n);
  }

  private async process(uid: string): Promise<void> {
    const node = this.nodes.get(uid);
    if (!node) return;
    if (node.deleting && node.finalizers.includes(orphanFinalizer)) {
      for (const dep of this.liveDependents(uid)) await this.removeOwnerRefs(dep, new Set([uid]));
      await this.removeFinalizer(node, orphanFinalizer);
      return;
    }
    if (node.deleting && node.finalizers.includes(foregroundFinalizer)) {
      const deps = this.liveDependents(uid);
      for (const dep of deps) if (!dep.deleting) await this.deleteObject(dep, 'Foreground');
      if (deps.length === 0) await this.removeFinalizer(node, foregroundFinalizer);
      return;
    }
    if (node.owners.length === 0) return;
    // Decide on the stored object, not the cache: an orphaning owner may just have removed
    // itself from this object's ownerReferences.
    const fresh = await this.read(node);
    if (!fresh) return;
    const owners = (fresh.metadata.ownerReferences ?? []).filter((o) => typeof o?.uid === 'string');
    if (owners.length === 0) return;
    const absent = new Set<string>();
    let unknownOwners = false;
    let ownerInForeground = false;
    for (const ref of owners) {
      const state = await this.ownerState(node, ref);
      if (state === 'absent') absent.add(ref.uid);
      else if (state === 'unknown') unknownOwners = true;
      else if (state === 'foreground') ownerInForeground = true;
    }
    if (absent.size === 0) return;
    if (absent.size === owners.length && !unknownOwners) {
      await this.deleteObject(node, ownerInForeground ? 'Foreground' : 'Background');
    } else {
      await this.removeOwnerRefs(node, absent);
    }
  }

  private async read(node: Node): Promise<KubeObject | undefined> {
    try {
      const obj = await node.served.store.get(node.namespace, node.name);
      return obj.metadata.uid === node.uid ? obj : undefined;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** Whether an owner exists, checked against storage (not only the cache) before deleting. */
  private async ownerState(node: Node, ref: OwnerReference): Promise<'present' | 'absent' | 'unknown' | 'foreground'> {
    const served = this.byKind.get(`${ref.apiVersion}/${ref.kind}`);
    if (!served) return 'unknown';
    const namespace = served.def.namespaced ? node.namespace : '';
    try {
      const owner = await served.store.get(namespace, ref.name);
      if (owner.metadata.uid !== ref.uid) return 'absent';
      if (owner.metadata.deletionTimestamp && (owner.metadata.finalizers ?? []).includes(foregroundFinalizer))
        return 'foreground';
      return 'present';
    } catch (err) {
      if (isNotFound(err)) return 'absent';
      throw err;
    }
  }

  private async deleteObject(node: Node, policy: 'Background' | 'Foreground'): Promise<void> {
    try {
      await node.served.store.delete(node.namespace, node.name, {
        preconditions: { uid: node.uid },
        propagationPolicy: policy,
      });
      this.log.debug(
        { resource: node.served.def.plural, namespace: node.namespace, name: node.name, policy },
        'garbage collector deleted a dependent',
      );
    } catch (err) {
      if (isNotFound(err) || isConflict(err)) return;
      throw err;
    }
  }

  private async removeOwnerRefs(node: Node, owners: Set<string>): Promise<void> {
    await this.update(node, (obj) => {
      const refs = (obj.metadata.ownerReferences ?? []).filter((o) => !owners.has(o.uid));
      if (refs.length === 0) delete obj.metadata.ownerReferences;
      else obj.metadata.ownerReferences = refs;
    });
  }

  private async removeFinalizer(node: Node, finalizer: string): Promise<void> {
    await this.update(node, (obj) => {
      obj.metadata.finalizers = (obj.metadata.finalizers ?? []).filter((f) => f !== finalizer);
    });
  }

  private async update(node: Node, mutate: (obj: KubeObject) => void): Promise<void> {
    try {
      await node.served.store.guaranteedUpdate(node.namespace, node.name, (current) => {
        if (current.metadata.uid !== node.uid) throw Object.assign(new Error('uid changed'), { code: 404 });
        mutate(current);
        delete current.metadata.resourceVersion;
        return current;
      });
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
  }
}
