// How ResourceStore's list and watch use the watch cache: which requests the cache answers and
// which still read storage, following kube's cacher (cacher.go shouldDelegateList,
// computeListLimit, getWatchCacheResourceVersion).

import type { KubeObject } from '../registry/object.js';
import type { ListResult, RegistryWatch, WatchSink } from '../registry/store.js';
import type { CacheFilter, WatchCache } from './cache.js';

/** Where a watch starts: resourceVersion unset, "0", or N. */
export type WatchStart = { from: 'consistent' } | { from: 'any' } | { from: 'revision'; revision: number };

/**
 * A list the cache answers, or undefined when it must read storage:
 * - resourceVersion="0" (any match): from the cache, `limit` ignored, no continue token (kube's
 *   computeListLimit ignores limit for RV=0; returning everything is legal per ListOptions);
 * - resourceVersion=N without limit, match "" or NotOlderThan: from the cache when it has
 *   reached N; otherwise storage (which waits up to 3 s for N, then 504). kube would wait for
 *   the cache instead, but without storage progress notifications a quiet resource's cache
 *   never learns that the global revision moved on (the "Too large resource version" problem),
 *   so storage answers;
 * - unset (consistent), Exact, N with a limit, and continue tokens: storage.
 * A cache that is not running yet is started in the background and storage answers meanwhile.
 * The returned items are the cache's objects: callers must not modify them.
 */
export function listFromCache(cache: WatchCache, filter: CacheFilter, rv: string, match: string, limit: number, continueToken: string): ListResult | undefined {
  if (continueToken !== '' || rv === '' || match === 'Exact') return undefined;
  let minRevision = 0;
  if (rv !== '0') {
    if (!/^\d+$/.test(rv) || limit > 0) return undefined;
    minRevision = Number(rv);
  }
  if (!cache.isReady()) {
    cache.ensureStarted().catch(() => undefined);
    return undefined;
  }
  if (cache.revision < minRevision) return undefined;
  const { items, revision } = cache.list(filter);
  return { items, resourceVersion: String(revision) };
}

/**
 * A watch served by the cache:
 * - from N: history after N, then live (410 when N is older than the window; N ahead of the
 *   cache just waits for the events after N, as kube's cacher does for plain watches);
 * - from "0": synthetic ADDED for the cache's current objects, then live;
 * - unset (consistent: the snapshot must include every write made before the request): the
 *   cache's current objects when the cache has reached storage's current revision, else a
 *   snapshot read from storage (`snapshot`), followed from its revision by the cache. Either
 *   way only the one shared storage watch is open.
 */
export async function watchThroughCache(
  cache: WatchCache,
  filter: CacheFilter,
  start: WatchStart,
  sink: WatchSink,
  snapshot: () => Promise<{ items: KubeObject[]; resourceVersion: string }>,
): Promise<RegistryWatch> {
  if (start.from === 'revision') return cache.watch(filter, sink, undefined, start.revision);
  if (start.from === 'any') return cache.watch(filter, sink, 'state', 0);

  await cache.ensureStarted();
  const current = await cache.store.currentRevision();
  // The events of writes that just committed may still be on their way to the cache.
  if (cache.revision < current) await new Promise<void>((resolve) => setImmediate(resolve));
  if (cache.isReady() && cache.revision >= current) return cache.register(filter, sink, 'state', 0);
  const snap = await snapshot();
  return cache.watch(filter, sink, snap.items, Number(snap.resourceVersion));
}
