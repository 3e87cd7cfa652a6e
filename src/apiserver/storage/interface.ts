// The contract between the generic registry and what answers its lists and watches (kube's
// k8s.io/apiserver/pkg/storage interfaces): the shapes of a list result and a watch, and the
// decorator through which a cache (../watchcache, kube's cacher) is put in front of storage.
// The registry knows only this file; it never builds a cache itself.

import type { Store } from '../../storage/interface.js';
import type { FieldSelector } from '../../machinery/fields.js';
import type { Selector } from '../../machinery/labels.js';
import type { KubeObject } from '../../machinery/object.js';
import type { ServedObject } from './encoding.js';

export interface ListResult {
  /** The items. A list read as JSON (watch cache, storage) parses them on first access. */
  readonly items: KubeObject[];
  /** Each item's JSON, in order, when the list was read as JSON: a JSON response writes these
   * instead of serializing `items` again. */
  readonly encodedItems?: readonly string[];
  resourceVersion: string;
  continue?: string;
  remainingItemCount?: number;
}

/** A list of objects read as JSON: items are parsed on first access, the JSON is kept for encoders. */
export function listOfServed(entries: readonly ServedObject[], resourceVersion: string): ListResult {
  let items: KubeObject[] | undefined;
  let encoded: string[] | undefined;
  return {
    get items(): KubeObject[] {
      return (items ??= entries.map((e) => e.object()));
    },
    get encodedItems(): string[] {
      return (encoded ??= entries.map((e) => e.json));
    },
    resourceVersion,
  };
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface WatchSink {
  /** `served`, when given, is the same object known by its JSON (lets encoders skip serializing). */
  event(type: Exclude<WatchEventType, 'ERROR'>, object: KubeObject, served?: ServedObject): void;
  error(err: Error): void;
}

export interface RegistryWatch {
  stop(): void;
  /** The revision up to which every event has been delivered (for bookmarks). */
  progressRevision(): number;
}

/** Which objects a list or watch wants (kube's SelectionPredicate plus the key range). */
export interface Selection {
  /** Only keys under this prefix: the resource prefix, or one namespace's prefix under it. */
  keyPrefix: string;
  labels: Selector;
  fields: FieldSelector;
}

/** A list request's versioning, as the client sent it. */
export interface ListQuery {
  /** resourceVersion: '' (consistent), '0' (any), or a revision. */
  rv: string;
  /** resourceVersionMatch: '', 'NotOlderThan' or 'Exact'. */
  match: string;
  /** 0 for no limit. */
  limit: number;
  continueToken: string;
}

/** Where a watch starts: resourceVersion unset, "0", or N. */
export type WatchStart = { from: 'consistent' } | { from: 'any' } | { from: 'revision'; revision: number };

/** How stored values become objects and selectable fields, as the registry defines them for a resource. */
export interface ResourceCodec {
  decode(kv: { value: string; modRevision: number }): KubeObject;
  fieldsOf(obj: KubeObject): Record<string, string>;
}

/**
 * Reads answered in front of storage for one resource. The registry asks it first; `list` answers
 * undefined where storage must (kube's cacher delegates the same way), and `watch` falls back on the
 * registry's `snapshot` (a consistent list from storage) when it has none of its own yet.
 */
export interface ResourceCache {
  list(
    selection: Selection,
    query: ListQuery,
    continueFor: (revision: number, lastKey: string) => string,
  ): Promise<ListResult | undefined>;
  watch(
    selection: Selection,
    start: WatchStart,
    sink: WatchSink,
    snapshot: () => Promise<{ items: KubeObject[]; resourceVersion: string }>,
  ): Promise<RegistryWatch>;
  /** Ends the cache's storage watch; its watchers end with an error. */
  stop(): void;
}

/** Puts a cache in front of storage for the resource under `resourcePrefix` (kube's StorageDecorator). */
export type StorageDecorator = (store: Store, resourcePrefix: string, codec: ResourceCodec) => ResourceCache;
