// The watch cache as a storage decorator (kube's StorageWithCacher): one WatchCache per resource,
// put in front of storage by whoever assembles the server. The registry sees only the
// ResourceCache contract; serve.ts holds the policy of which reads the cache answers.

import type {
  ListQuery,
  ResourceCache,
  Selection,
  StorageDecorator,
  WatchSink,
  WatchStart,
} from '../storage/interface.js';
import type { KubeObject } from '../../machinery/object.js';
import { WatchCache, type WatchCacheOptions } from './cache.js';
import { listFromCache, watchThroughCache } from './serve.js';

class CachedResource implements ResourceCache {
  constructor(readonly watchCache: WatchCache) {}

  list(selection: Selection, query: ListQuery, continueFor: (revision: number, lastKey: string) => string) {
    return listFromCache(this.watchCache, selection, query, continueFor);
  }

  watch(
    selection: Selection,
    start: WatchStart,
    sink: WatchSink,
    snapshot: () => Promise<{ items: KubeObject[]; resourceVersion: string }>,
  ) {
    return watchThroughCache(this.watchCache, selection, start, sink, snapshot);
  }

  stop(): void {
    this.watchCache.stop();
  }
}

/** A watch cache in front of every resource's storage, started by the resource's first watch or list. */
export function watchCacheDecorator(options: WatchCacheOptions = {}): StorageDecorator {
  return (store, resourcePrefix, codec) => new CachedResource(new WatchCache(store, resourcePrefix, codec, options));
}

/** The WatchCache behind a resource's cache, for tests and benchmarks that read its state. */
export function watchCacheOf(resource: { cache?: ResourceCache }): WatchCache {
  if (!(resource.cache instanceof CachedResource)) throw new Error('the resource has no watch cache');
  return resource.cache.watchCache;
}
