// How ResourceStore's list and watch use the watch cache: which requests the cache answers and
// which still read storage, following kube's cacher (cacher.go shouldDelegateList,
// computeListLimit, getWatchCacheResourceVersion).

import type { KubeObject } from '../../machinery/object.js';
import {
  listOfServed,
  type ListQuery,
  type ListResult,
  type RegistryWatch,
  type Selection,
  type WatchSink,
  type WatchStart,
} from '../storage/interface.js';
import type { WatchCache } from './cache.js';

/**
 * A list the cache answers, or undefined when it must read storage:
 * - unset (a consistent read): from the cache once it has reached the revision storage reports
 *   now (kube's ConsistentListFromCache). With `limit` the page comes from the cache and its
 *   continue token reads storage at the cache's revision, which storage still has unless it was
 *   compacted meanwhile (then 410, as for any continue token);
 * - resourceVersion="0" (any match): from the cache, `limit` ignored, no continue token (kube's
 *   computeListLimit ignores limit for RV=0; returning everything is legal per ListOptions);
 * - resourceVersion=N without limit, match "" or NotOlderThan: from the cache when it has
 *   reached N; otherwise storage (which waits up to 3 s for N, then 504);
 * - Exact, N with a limit, and continue tokens: storage (they name a past revision).
 * A cache that is not running yet is started in the background and storage answers meanwhile.
 */
export async function listFromCache(
  cache: WatchCache,
  filter: Selection,
  query: ListQuery,
  continueFor: (revision: number, lastKey: string) => string,
): Promise<ListResult | undefined> {
  const { rv, match, continueToken } = query;
  let limit = query.limit;
  if (continueToken !== '' || match === 'Exact') return undefined;
  if (!cache.isReady()) {
    cache.ensureStarted().catch(() => undefined);
    return undefined;
  }
  if (rv === '') {
    if (!(await isCurrent(cache))) return undefined;
  } else if (rv === '0') {
    limit = 0;
  } else {
    if (!/^\d+$/.test(rv) || limit > 0 || cache.revision < Number(rv)) return undefined;
  }
  const page = cache.list(filter, limit);
  const result = listOfServed(page.items, String(page.revision));
  if (page.continueAfter !== undefined) {
    result.continue = continueFor(page.revision, page.continueAfter);
    if (filter.labels.isEmpty() && filter.fields.isEmpty()) result.remainingItemCount = page.remaining;
  }
  return result;
}

/** How long a consistent read waits for the cache to catch up before it reads storage. */
const consistentReadWaitMs = 250;

/** Whether the cache has (or reaches soon) every event up to the revision storage reports now. */
async function isCurrent(cache: WatchCache): Promise<boolean> {
  return cache.waitUntil(await cache.store.currentRevision(), consistentReadWaitMs);
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
  filter: Selection,
  start: WatchStart,
  sink: WatchSink,
  snapshot: () => Promise<{ items: KubeObject[]; resourceVersion: string }>,
): Promise<RegistryWatch> {
  if (start.from === 'revision') return cache.watch(filter, sink, undefined, start.revision);
  if (start.from === 'any') return cache.watch(filter, sink, 'state', 0);

  await cache.ensureStarted();
  if (await isCurrent(cache)) return cache.register(filter, sink, 'state', 0);
  const snap = await snapshot();
  return cache.watch(filter, sink, snap.items, Number(snap.resourceVersion));
}
