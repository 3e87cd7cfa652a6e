// kube-apiserver's etcd compactor, for any Store: every interval, compact to the revision that
// was current one interval earlier, always keeping the latest `minRetainedRevisions` (kine keeps
// 1000), so a client that listed within the last interval can still watch from its revision.

import { StorageError, type Store } from './interface.js';

export interface CompactorOptions {
  /** Always keep at least this many latest revisions; default 1000, 0 compacts exactly. */
  minRetainedRevisions?: number;
  /** Called when a compaction fails; default: ignore (the next interval tries again). */
  onError?: (err: unknown) => void;
}

/** Starts compacting `store` periodically; returns the function that stops it. */
export function startPeriodicCompactor(
  store: Pick<Store, 'currentRevision' | 'compactedRevision' | 'compact'>,
  intervalMs: number,
  opts: CompactorOptions = {},
): () => void {
  if (!(intervalMs > 0)) throw new StorageError(`invalid compaction interval: ${intervalMs}`);
  const keep = Math.max(0, opts.minRetainedRevisions ?? 1000);
  const onError = opts.onError ?? (() => undefined);
  // The first tick compacts to the revision current when the compactor started.
  let previous: number | null = null;
  store.currentRevision().then((r) => {
    previous ??= r;
  }, onError);
  let running = false;
  const tick = async (): Promise<void> => {
    const current = await store.currentRevision();
    const target = previous === null ? 0 : Math.min(previous, current - keep);
    previous = current;
    if (target > (await store.compactedRevision())) await store.compact(target);
  };
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    tick()
      .catch(onError)
      .finally(() => {
        running = false;
      });
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** The compactors a store started: stopped when the store closes, reporting errors only while it is open. */
export class StoreCompactors {
  private readonly stops = new Set<() => void>();

  constructor(
    private readonly store: Pick<Store, 'currentRevision' | 'compactedRevision' | 'compact'>,
    private readonly isClosed: () => boolean,
  ) {}

  start(intervalMs: number, opts: CompactorOptions = {}): () => void {
    const stopTimer = startPeriodicCompactor(this.store, intervalMs, {
      ...opts,
      onError: (err) => {
        if (!this.isClosed()) (opts.onError ?? (() => undefined))(err);
      },
    });
    const stop = (): void => {
      stopTimer();
      this.stops.delete(stop);
    };
    this.stops.add(stop);
    return stop;
  }

  stopAll(): void {
    for (const stop of [...this.stops]) stop();
  }
}
