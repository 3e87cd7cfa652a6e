// A minimal informer over a ResourceStore: list, then watch from the list's resourceVersion, and
// list again after a watch error (410 Expired, the watch cache stopping). Feeds the in-memory
// caches the synchronous authenticators and authorizers read (RBAC objects, ServiceAccounts).

import type { KubeObject } from '../../machinery/object.js';
import type { ResourceStore } from '../../apiserver/registry/store.js';
import type { RegistryWatch } from '../../apiserver/storage/interface.js';

export interface InformerHandler {
  /** The complete current state (after each list): anything not in `objects` is gone. */
  replace(objects: KubeObject[]): void;
  upsert(object: KubeObject): void;
  remove(object: KubeObject): void;
}

export interface InformerOptions {
  /** Delay before listing again after an error; default 1000 ms. */
  retryMs?: number;
  /** Told about list and watch errors (they are retried). */
  onError?: (err: unknown) => void;
}

/** The objects are the store's (shared with other watchers): handlers must not modify them. */
export class StoreInformer {
  private watch: RegistryWatch | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private started = false;
  private generation = 0;
  private isSynced = false;
  private readonly syncedPromise: Promise<void>;
  private resolveSynced!: () => void;
  private readonly retryMs: number;

  constructor(
    private readonly store: ResourceStore,
    private readonly handler: InformerHandler,
    private readonly opts: InformerOptions = {},
  ) {
    this.retryMs = opts.retryMs ?? 1000;
    this.syncedPromise = new Promise((resolve) => (this.resolveSynced = resolve));
  }

  get hasSynced(): boolean {
    return this.isSynced;
  }

  /** Resolves after the first list has been delivered. */
  synced(): Promise<void> {
    return this.syncedPromise;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    void this.run();
  }

  stop(): void {
    this.stopped = true;
    this.generation++;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.watch?.stop();
    this.watch = undefined;
  }

  private async run(): Promise<void> {
    if (this.stopped) return;
    const generation = ++this.generation;
    const current = () => generation === this.generation && !this.stopped;
    try {
      const list = await this.store.list(undefined);
      if (!current()) return;
      this.handler.replace(list.items);
      const watch = await this.store.watch(
        undefined,
        { resourceVersion: list.resourceVersion },
        {
          event: (type, object) => {
            if (!current()) return;
            if (type === 'ADDED' || type === 'MODIFIED') this.handler.upsert(object);
            else if (type === 'DELETED') this.handler.remove(object);
          },
          error: (err) => {
            if (!current()) return;
            this.retry(err);
          },
        },
      );
      if (!current()) {
        watch.stop();
        return;
      }
      this.watch = watch;
      if (!this.isSynced) {
        this.isSynced = true;
        this.resolveSynced();
      }
    } catch (err) {
      if (current()) this.retry(err);
    }
  }

  private retry(err: unknown): void {
    this.opts.onError?.(err);
    this.generation++;
    this.watch?.stop();
    this.watch = undefined;
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.run();
    }, this.retryMs);
    this.timer.unref?.();
  }
}
