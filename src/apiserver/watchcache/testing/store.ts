// Test helpers for the watch cache: a Store wrapper that counts calls and can break watches.

import type { Store, Watch, WatchCallbacks } from '../../../storage/interface.js';
import type { KubeObject } from '../../../machinery/object.js';
import type { WatchSink } from '../../storage/interface.js';

export interface InstrumentedStore extends Store {
  readonly calls: { watch: number; list: number };
  /** Open watches made through this wrapper. */
  readonly openWatches: number;
  /** Ends every open watch with `err` (delivered asynchronously, as stores do). */
  failWatches(err: Error): void;
}

/** `progress`: pass the store's progress notifications on (default: drop them, as from a store
 * that has none). */
export function instrument(inner: Store, opts: { progress?: boolean } = {}): InstrumentedStore {
  const calls = { watch: 0, list: 0 };
  const open = new Set<{ inner: Watch; callbacks: WatchCallbacks; dead: boolean }>();
  return {
    backend: inner.backend,
    calls,
    get openWatches() {
      return open.size;
    },
    failWatches(err: Error) {
      for (const w of [...open]) {
        open.delete(w);
        w.inner.stop();
        w.dead = true;
        setImmediate(() => w.callbacks.onError(err));
      }
    },
    currentRevision: () => inner.currentRevision(),
    compactedRevision: () => inner.compactedRevision(),
    get: (key) => inner.get(key),
    list: (prefix, opts) => {
      calls.list++;
      return inner.list(prefix, opts);
    },
    count: (prefix) => inner.count(prefix),
    create: (key, value) => inner.create(key, value),
    update: (key, value, pre) => inner.update(key, value, pre),
    delete: (key, pre) => inner.delete(key, pre),
    watch(prefix, after, callbacks) {
      calls.watch++;
      const entry = { inner: undefined as unknown as Watch, callbacks, dead: false };
      entry.inner = inner.watch(prefix, after, {
        onEvent: (e) => {
          if (!entry.dead) callbacks.onEvent(e);
        },
        ...(opts.progress
          ? {
              onProgress: (revision: number) => {
                if (!entry.dead) callbacks.onProgress?.(revision);
              },
            }
          : {}),
        onError: (e) => {
          if (entry.dead) return;
          entry.dead = true;
          open.delete(entry);
          callbacks.onError(e);
        },
      });
      open.add(entry);
      return {
        stop() {
          entry.dead = true;
          open.delete(entry);
          entry.inner.stop();
        },
      };
    },
    compact: (revision) => inner.compact(revision),
    close: () => inner.close(),
  };
}

/** A sink that records `TYPE:name:resourceVersion` lines and errors. */
export class Recorder implements WatchSink {
  readonly events: string[] = [];
  readonly objects: KubeObject[] = [];
  readonly errors: Error[] = [];

  event(type: string, obj: KubeObject): void {
    this.events.push(`${type}:${obj.metadata.name}:${obj.metadata.resourceVersion}`);
    this.objects.push(obj);
  }

  error(err: Error): void {
    this.errors.push(err);
  }
}

/** Lets storage deliveries (setImmediate) and timers of `ms` run. */
export async function settle(ms = 20): Promise<void> {
  const turn = () => new Promise<void>((r) => setImmediate(r));
  for (let i = 0; i < 3; i++) await turn();
  await new Promise((r) => setTimeout(r, ms));
  // A busy event loop can run an expired timer before the deliveries queued meanwhile.
  for (let i = 0; i < 3; i++) await turn();
}

/** Resolves once `cond()` holds; fails after `ms`. */
export async function eventually(cond: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await settle(5);
  }
}
