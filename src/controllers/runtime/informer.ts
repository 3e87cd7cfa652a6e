// A shared informer: our own reflector (client-go tools/cache semantics, not client-node 1.4.0's
// ListWatch, which stops for good after any error, never notices a silent connection and sends no
// bookmarks) feeding a keyed store with indexes and any number of event handlers.
//
// Reflector: list (RV "0" first, served by the watch cache), then watch from the list's revision
// with bookmarks and a random 5–10 min server timeout. A normal end re-watches from the last
// revision without listing; 410 Gone lists again at the last synced revision, then at "" if that
// is gone too; any other failure (or a watch that ends at once with no events) backs off
// 0.8 s doubling to 30 s, reset after 2 min without failure, and lists again. A watch silent for
// longer than `idleTimeoutMs` (bookmarks arrive every minute) is aborted and re-opened.
// With `notServedRetryMs`, a 404 (the API does not serve the kind, e.g. admissionregistration v1
// ValidatingAdmissionPolicy before kube 1.30) counts as an empty, synced list, looked for again later.
//
// Used by the controllers, by the webhook server's cluster cache and by the aggregated server's
// admission (its view of webhook configurations, policies and namespaces).

import type { Logger } from 'pino';
import { isGone, isNotFound } from '../../machinery/errors.js';
import type { KubeObject } from '../../machinery/object.js';
import { apiVersionOf, type KubeClient, type ObjectList, type ResourceType } from './client.js';
import { sleep } from './sleep.js';

export interface EventHandler {
  onAdd?(obj: KubeObject, initialList: boolean): void;
  onUpdate?(oldObj: KubeObject, newObj: KubeObject): void;
  onDelete?(obj: KubeObject): void;
}

export interface InformerOptions {
  /** Only this namespace (default: all). */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Re-deliver every object as an update this often (0: never; controller-runtime's default is 10 h). */
  resyncMs?: number;
  /** Abort and re-open a watch that has been silent this long. Default 150 s. */
  idleTimeoutMs?: number;
  /** Page size of lists. Default 500. */
  pageSize?: number;
  /** Backoff after failures: first delay and cap. Defaults 800 ms and 30 s. */
  backoffMs?: { initial: number; max: number };
  /** Treat a 404 (kind not served) as an empty list and look again after this long. Unset: a failure like others. */
  notServedRetryMs?: number;
  log?: Pick<Logger, 'warn' | 'debug'>;
}

export type IndexFunc = (obj: KubeObject) => string[];

export const keyOf = (obj: Pick<KubeObject, 'metadata'>): string =>
  obj.metadata.namespace ? `${obj.metadata.namespace}/${obj.metadata.name}` : String(obj.metadata.name);

class WatchEnded extends Error {
  constructor(
    readonly relist: boolean,
    message: string,
  ) {
    super(message);
  }
}

export class Informer {
  private readonly store = new Map<string, KubeObject>();
  private readonly indexFuncs = new Map<string, IndexFunc>();
  private readonly indexes = new Map<string, Map<string, Set<string>>>();
  private readonly handlers: EventHandler[] = [];
  private readonly stopController = new AbortController();
  private synced = false;
  private notServed = false;
  private syncWaiters: (() => void)[] = [];
  private running: Promise<void> | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private currentWatch: AbortController | undefined;
  /** Revision of the last list or event applied to the store. */
  lastSyncResourceVersion = '';
  /** Counters for tests and metrics. */
  readonly stats = { lists: 0, watches: 0, watchErrors: 0, idleAborts: 0, notServed: 0 };

  constructor(
    readonly client: KubeClient,
    readonly type: ResourceType,
    private readonly opts: InformerOptions = {},
  ) {
    this.addIndex('namespace', (o) => (o.metadata.namespace ? [o.metadata.namespace] : []));
  }

  addHandler(handler: EventHandler): void {
    this.handlers.push(handler);
    for (const obj of this.store.values()) handler.onAdd?.(obj, true);
  }

  /** Adds an index; `byIndex(name, value)` then lists the objects whose function returned `value`. */
  addIndex(name: string, fn: IndexFunc): void {
    this.indexFuncs.set(name, fn);
    const index = new Map<string, Set<string>>();
    this.indexes.set(name, index);
    for (const [key, obj] of this.store) this.indexAdd(index, fn, key, obj);
  }

  get(namespace: string | undefined, name: string): KubeObject | undefined {
    return this.store.get(namespace ? `${namespace}/${name}` : name);
  }

  list(namespace?: string): KubeObject[] {
    if (namespace === undefined) return [...this.store.values()];
    return this.byIndex('namespace', namespace);
  }

  byIndex(name: string, value: string): KubeObject[] {
    const keys = this.indexes.get(name)?.get(value);
    if (!keys) return [];
    return [...keys].map((k) => this.store.get(k)!).filter(Boolean);
  }

  hasSynced(): boolean {
    return this.synced;
  }

  /** True while the API answers 404 for the kind (only with `notServedRetryMs`); the store is empty then. */
  isNotServed(): boolean {
    return this.notServed;
  }

  /** Resolves once the first list is in the store. */
  whenSynced(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  /** Resolves once the first list is in the store; rejects after `timeoutMs`. */
  waitForSync(timeoutMs = 120_000): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`failed to wait for ${this.type.resource} caches to sync`)),
        timeoutMs,
      );
      // A wait must not keep the process alive after the informer was stopped unsynced.
      timer.unref?.();
      this.syncWaiters.push(() => (clearTimeout(timer), resolve()));
    });
  }

  start(): void {
    if (this.running) return;
    this.running = this.run();
    if (this.opts.resyncMs) {
      this.resyncTimer = setInterval(() => {
        for (const obj of this.store.values()) for (const h of this.handlers) h.onUpdate?.(obj, obj);
      }, this.opts.resyncMs);
      this.resyncTimer.unref?.();
    }
  }

  async stop(): Promise<void> {
    this.stopController.abort();
    this.currentWatch?.abort();
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    await this.running;
  }

  private get stopped(): boolean {
    return this.stopController.signal.aborted;
  }

  private async run(): Promise<void> {
    const backoff = this.opts.backoffMs ?? { initial: 800, max: 30_000 };
    let delay = backoff.initial;
    let lastFailure = 0;
    let listRV = '0';
    while (!this.stopped) {
      try {
        await this.listAndReplace(listRV);
        await this.watchLoop();
        listRV = this.lastSyncResourceVersion || '0';
      } catch (err) {
        if (this.stopped) break;
        if (err instanceof WatchEnded && err.relist) {
          // 410: the revision is gone from the watch window; list again at the last synced revision.
          this.opts.log?.debug({ resource: this.type.resource, reason: err.message }, 'informer relisting');
          listRV = this.lastSyncResourceVersion || '';
          continue;
        }
        if (isGone(err)) {
          // The list itself was at a compacted revision: read the latest state.
          listRV = '';
          continue;
        }
        if (this.opts.notServedRetryMs !== undefined && isNotFound(err)) {
          this.stats.notServed++;
          if (!this.notServed)
            this.opts.log?.debug({ resource: this.type.resource }, 'not served by the API; treated as empty');
          this.notServed = true;
          this.replace([], '');
          await sleep(this.opts.notServedRetryMs, this.stopController.signal);
          listRV = '0';
          continue;
        }
        this.stats.watchErrors++;
        this.client.dropConnections();
        const now = Date.now();
        if (now - lastFailure > 120_000) delay = backoff.initial;
        lastFailure = now;
        this.opts.log?.warn(
          { resource: this.type.resource, err: (err as Error).message, retryInMs: delay },
          'informer list/watch failed',
        );
        await sleep(delay * (1 + Math.random()), this.stopController.signal);
        delay = Math.min(backoff.max, delay * 2);
        listRV = this.lastSyncResourceVersion || '0';
      }
    }
  }

  private async listAndReplace(resourceVersion: string): Promise<void> {
    const items: KubeObject[] = [];
    let cont: string | undefined;
    let rv = '';
    do {
      const page: ObjectList = await this.client.list(this.type, this.opts.namespace, {
        labelSelector: this.opts.labelSelector,
        fieldSelector: this.opts.fieldSelector,
        // A list at a specific revision is served unpaged by the watch cache; paging needs "".
        resourceVersion: cont ? undefined : resourceVersion || undefined,
        limit: resourceVersion === '' ? (this.opts.pageSize ?? 500) : undefined,
        continue: cont,
      });
      this.stats.lists++;
      const kind = this.type.kind;
      const apiVersion = apiVersionOf(this.type);
      for (const item of page.items) items.push({ ...item, apiVersion, kind });
      rv = page.metadata.resourceVersion ?? rv;
      cont = page.metadata.continue || undefined;
    } while (cont && !this.stopped);
    this.notServed = false;
    this.replace(items, rv);
  }

  private replace(items: KubeObject[], resourceVersion: string): void {
    const initial = !this.synced;
    const seen = new Set<string>();
    for (const obj of items) {
      const key = keyOf(obj);
      seen.add(key);
      const old = this.store.get(key);
      this.put(key, obj);
      if (!old) for (const h of this.handlers) h.onAdd?.(obj, initial);
      else if (old.metadata.resourceVersion !== obj.metadata.resourceVersion)
        for (const h of this.handlers) h.onUpdate?.(old, obj);
    }
    for (const [key, old] of [...this.store]) {
      if (seen.has(key)) continue;
      this.remove(key);
      for (const h of this.handlers) h.onDelete?.(old);
    }
    this.lastSyncResourceVersion = resourceVersion;
    if (!this.synced) {
      this.synced = true;
      for (const w of this.syncWaiters.splice(0)) w();
    }
  }

  private async watchLoop(): Promise<void> {
    while (!this.stopped) {
      const started = Date.now();
      let events = 0;
      let idleAborted = false;
      const ended = await new Promise<unknown>((resolve) => {
        let idle: NodeJS.Timeout | undefined;
        const idleMs = this.opts.idleTimeoutMs ?? 150_000;
        let abort: AbortController | undefined;
        let finished = false;
        const finish = (err: unknown) => {
          if (finished) return;
          finished = true;
          if (idle) clearTimeout(idle);
          resolve(err);
        };
        const touch = () => {
          if (idle) clearTimeout(idle);
          idle = setTimeout(() => {
            this.stats.idleAborts++;
            idleAborted = true;
            // Whatever silenced this stream may have silenced the kept-alive request connections too.
            this.client.dropConnections();
            finish(null);
            abort?.abort();
          }, idleMs);
          idle.unref?.();
        };
        touch();
        this.stats.watches++;
        this.client
          .watch(
            this.client.path(this.type, this.opts.namespace),
            {
              resourceVersion: this.lastSyncResourceVersion,
              allowWatchBookmarks: true,
              timeoutSeconds: 300 + Math.floor(Math.random() * 300),
              labelSelector: this.opts.labelSelector,
              fieldSelector: this.opts.fieldSelector,
            },
            (type, obj) => {
              if (finished) return;
              touch();
              events++;
              const gone = this.apply(type, obj);
              if (gone) {
                finish(new WatchEnded(true, 'watch ended with 410 Gone'));
                abort?.abort();
              }
            },
            (err) => finish(err ?? null),
          )
          .then(
            (controller) => {
              abort = controller;
              this.currentWatch = controller;
              if (finished || this.stopped) controller.abort();
            },
            (err) => finish(err),
          );
      });
      if (this.stopped) return;
      if (ended instanceof WatchEnded) throw ended;
      if (ended && (ended as { name?: string }).name !== 'AbortError') {
        if (isGone(ended)) throw new WatchEnded(true, 'watch answered 410 Gone');
        throw ended;
      }
      // A silent watch aborted by us is re-opened at once; one the server ended at once is an error.
      if (!idleAborted && events === 0 && Date.now() - started < 1000)
        throw new Error('very short watch: ended at once with no events');
    }
  }

  /** Applies one watch event; returns true for a 410 ERROR event. */
  private apply(type: string, obj: KubeObject): boolean {
    if (type === 'ERROR') {
      const status = obj as unknown as { code?: number; reason?: string; message?: string };
      if (status.code === 410 || status.reason === 'Expired' || status.reason === 'Gone') return true;
      this.opts.log?.warn({ resource: this.type.resource, status }, 'watch error event');
      return false;
    }
    const rv = obj.metadata?.resourceVersion;
    if (type === 'BOOKMARK') {
      if (rv) this.lastSyncResourceVersion = rv;
      return false;
    }
    const full = {
      ...obj,
      apiVersion: apiVersionOf(this.type),
      kind: this.type.kind,
    };
    const key = keyOf(full);
    const old = this.store.get(key);
    if (type === 'DELETED') {
      if (old) {
        this.remove(key);
        for (const h of this.handlers) h.onDelete?.(full);
      }
    } else {
      this.put(key, full);
      if (old) for (const h of this.handlers) h.onUpdate?.(old, full);
      else for (const h of this.handlers) h.onAdd?.(full, false);
    }
    if (rv) this.lastSyncResourceVersion = rv;
    return false;
  }

  private put(key: string, obj: KubeObject): void {
    const old = this.store.get(key);
    if (old) for (const [name, fn] of this.indexFuncs) this.indexRemove(this.indexes.get(name)!, fn, key, old);
    this.store.set(key, obj);
    for (const [name, fn] of this.indexFuncs) this.indexAdd(this.indexes.get(name)!, fn, key, obj);
  }

  private remove(key: string): void {
    const old = this.store.get(key);
    if (!old) return;
    for (const [name, fn] of this.indexFuncs) this.indexRemove(this.indexes.get(name)!, fn, key, old);
    this.store.delete(key);
  }

  private indexAdd(index: Map<string, Set<string>>, fn: IndexFunc, key: string, obj: KubeObject): void {
    for (const v of fn(obj)) {
      let keys = index.get(v);
      if (!keys) index.set(v, (keys = new Set()));
      keys.add(key);
    }
  }

  private indexRemove(index: Map<string, Set<string>>, fn: IndexFunc, key: string, obj: KubeObject): void {
    for (const v of fn(obj)) {
      const keys = index.get(v);
      keys?.delete(key);
      if (keys && keys.size === 0) index.delete(v);
    }
  }
}
