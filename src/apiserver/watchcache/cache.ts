// The watch cache of one served resource (k8s.io/apiserver/pkg/storage/cacher): it lists the
// resource's storage prefix once, then follows ONE storage watch from that revision, keeps the
// current objects (decoded once) and a bounded window of recent events, and fans every event
// out to any number of registered watchers, each with its own namespace/label/field filter.
// Thousands of client watches thus cost one storage watch and one JSON.parse per write.
//
// Semantics, matched to kube's cacher (cacher.go, watch_cache.go, cache_watcher.go):
// - Start: lazily, on the first watch (or, in the background, the first list that could be
//   served from it); in the real server the garbage collector watches every resource at
//   startup, so all caches start then. A first watch from resourceVersion N starts the cache
//   with a list AT revision N (when storage still has it), so a resume right after a server
//   start or a cache reset is served instead of answered with 410.
// - Window: an event stays in the history until there are more than `historyCapacity` (default
//   10,000) or it is older than `historyMaxAgeMs` (default 5 minutes, etcd's compaction period).
//   `windowStart` is the revision after which every event of the prefix is retained: the list
//   revision until the first eviction, then the revision of the last evicted event (kube:
//   `oldest-1`). A watch from N >= windowStart replays the events after N; an older N gets one
//   410 Expired "too old resource version: N (oldest)", as kube's newErrWatcher does.
//   Unlike kube, the window also ends at storage's compacted revision (read at most once per
//   `compactionCheckMs`): a resume is then answered the same whether the cache is warm or cold
//   (a cold cache can only start from a revision storage still has), and the same by every
//   replica of the server.
// - A watch from N ahead of the cache is not delayed and not refused: it starts at N and gets
//   the events after N as they arrive (kube waits for freshness only for sendInitialEvents
//   watches: waitUntilWatchCacheFreshAndForceAllEvents).
// - Events: storage PUT/DELETE become ADDED/MODIFIED/DELETED per watcher, with selector
//   transitions (an object that starts matching is ADDED, one that stops matching is DELETED);
//   the object of a DELETED event is the previous object with the event's resourceVersion.
//   Every watcher is handed the same object instance per event (so encodings can be shared, as
//   kube's cachingObject does); objects handed out by the cache must be treated as immutable.
// - Delivery is synchronous into each watcher's sink, which must not block (the HTTP layer
//   buffers and drops a client that falls too far behind). A sink that throws is terminated
//   with that error, so a watcher never silently misses an event.
// - Storage watch failure: the cache resumes its storage watch from its own revision (storage
//   replays what happened meanwhile, so watchers continue without a gap). When that revision
//   has been compacted (the cache fell behind) or resuming keeps failing, every watcher gets an
//   error (410 Expired for compaction) and must relist, the cache drops its state, and the next
//   request starts it again (kube: terminateAllWatchers + relist).
// - Progress: `revision` is the newest revision the cache has applied; every event up to it has
//   been delivered to every registered watcher, so bookmarks can carry it.

import {
  CompactedError,
  FutureRevisionError,
  type KeyValue,
  type Store,
  type Watch,
  type WatchEvent,
} from '../../storage/interface.js';
import { expired, serviceUnavailable } from '../../machinery/errors.js';
import { ServedObject, servedJSON } from '../storage/encoding.js';
import type { KubeObject } from '../../machinery/object.js';
import type { RegistryWatch, ResourceCodec, Selection, WatchSink } from '../storage/interface.js';

export interface WatchCacheOptions {
  /** Most events kept in the history window. Default 10,000 (kube sizes it 100..102,400). */
  historyCapacity?: number;
  /** Events older than this leave the window. Default 5 minutes. */
  historyMaxAgeMs?: number;
  /** Page size of the initial list (kube's cacher lists in pages of 10,000). */
  listPageSize?: number;
  /** Consecutive failed attempts to resume the storage watch before watchers get the error. Default 3. */
  resumeAttempts?: number;
  /** Base delay between resume attempts (the first is immediate). Default 100 ms. */
  resumeBackoffMs?: number;
  /** How long a read of storage's compacted revision is reused. Default 1 s. */
  compactionCheckMs?: number;
  /** Milliseconds clock, for tests. */
  now?: () => number;
  /** Told about storage watch failures and resets (logging). */
  onError?: (err: unknown, what: string) => void;
}

/** One cached object: its JSON as served, and what selectors read. The parsed object lives
 * only while someone holds it (ServedObject), so the cache costs about the JSON's size. */
export interface CacheEntry {
  readonly served: ServedObject;
  readonly labels: Record<string, string> | undefined;
  readonly fields: Record<string, string>;
}

export interface CacheListResult {
  items: ServedObject[];
  revision: number;
  /** With a limit: the key of the last item, when more matching objects follow it. */
  continueAfter?: string;
  /** With a limit: how many keys of the range follow the last item (matching or not). */
  remaining?: number;
}

export interface WatchCacheStats {
  ready: boolean;
  revision: number;
  windowStart: number;
  objects: number;
  historyEvents: number;
  watchers: number;
  storageWatchesOpened: number;
  resets: number;
}

type Phase = 'idle' | 'starting' | 'ready';

/** One change of the prefix, shared by every watcher. */
class CacheEvent {
  private deleted: ServedObject | undefined;

  constructor(
    readonly key: string,
    readonly revision: number,
    /** The new object (PUT), undefined for a delete. */
    readonly object: CacheEntry | undefined,
    /** The object before this event, undefined for a create. */
    readonly prev: CacheEntry | undefined,
    readonly at: number,
  ) {}

  /** The object of a DELETED event: the previous object with this event's resourceVersion. */
  deletedObject(): ServedObject {
    return (this.deleted ??= ServedObject.fromObject(withResourceVersion(this.prev!.served.object(), this.revision)));
  }
}

class CacheWatcher implements RegistryWatch {
  stopped = false;
  readonly everything: boolean;

  constructor(
    private readonly cache: WatchCache,
    readonly filter: Selection,
    readonly sink: WatchSink,
    /** Every event at or below this revision has been delivered or filtered out. */
    public position: number,
  ) {
    this.everything = filter.labels.isEmpty() && filter.fields.isEmpty();
  }

  stop(): void {
    this.cache.forget(this);
  }

  progressRevision(): number {
    return this.stopped ? this.position : Math.max(this.position, this.cache.revision);
  }
}

const noop = (): void => {};

export class WatchCache {
  private readonly historyCapacity: number;
  private readonly historyMaxAgeMs: number;
  private readonly listPageSize: number;
  private readonly resumeAttempts: number;
  private readonly resumeBackoffMs: number;
  private readonly compactionCheckMs: number;
  private readonly now: () => number;
  private readonly onError: (err: unknown, what: string) => void;

  private phase: Phase = 'idle';
  /** Bumped on every reset: callbacks and starts of an older generation are ignored. */
  private generation = 0;
  private starting: Promise<void> | undefined;
  private rev = 0;
  private windowStart = 0;
  private readonly objects = new Map<string, CacheEntry>();
  /** The keys of `objects`, sorted (lists are in key order, like storage lists). */
  private keys: string[] = [];
  /** history[historyHead..] are the retained events, in revision order. */
  private history: CacheEvent[] = [];
  private historyHead = 0;
  /** Watchers by the prefix they watch: the resource prefix, a namespace prefix, or '*' for others. */
  private readonly watchers = new Map<string, Set<CacheWatcher>>();
  private watcherCount = 0;

  private storageWatch: Watch | undefined;
  /** Callers of waitUntil, resolved when the cache reaches their revision (false on reset). */
  private waiters: { revision: number; resolve: (reached: boolean) => void }[] = [];
  private storageToken: object | undefined;
  private storageWatchOpenedAt = 0;
  private resumeFailures = 0;
  private resumeTimer: NodeJS.Timeout | undefined;
  private storageWatchesOpened = 0;
  private resets = 0;
  /** Storage's compacted revision as last read, and when. */
  private compacted = 0;
  private compactedReadAt = -Infinity;
  private compactedRead: Promise<void> | undefined;

  constructor(
    readonly store: Store,
    /** The resource's storage prefix, ending in '/'. */
    readonly prefix: string,
    private readonly codec: ResourceCodec,
    opts: WatchCacheOptions = {},
  ) {
    this.historyCapacity = Math.max(1, opts.historyCapacity ?? 10_000);
    this.historyMaxAgeMs = opts.historyMaxAgeMs ?? 5 * 60_000;
    this.listPageSize = Math.max(1, opts.listPageSize ?? 10_000);
    this.resumeAttempts = Math.max(0, opts.resumeAttempts ?? 3);
    this.resumeBackoffMs = opts.resumeBackoffMs ?? 100;
    this.compactionCheckMs = opts.compactionCheckMs ?? 1000;
    this.now = opts.now ?? Date.now;
    this.onError = opts.onError ?? noop;
  }

  /** The newest revision applied; every event up to it has reached every watcher. */
  get revision(): number {
    return this.rev;
  }

  isReady(): boolean {
    return this.phase === 'ready';
  }

  stats(): WatchCacheStats {
    return {
      ready: this.phase === 'ready',
      revision: this.rev,
      windowStart: this.oldestServable(),
      objects: this.objects.size,
      historyEvents: this.history.length - this.historyHead,
      watchers: this.watcherCount,
      storageWatchesOpened: this.storageWatchesOpened,
      resets: this.resets,
    };
  }

  /**
   * Starts the cache unless it runs; resolves once it serves. `atRevision` > 0 asks for the
   * initial list at that revision (so a watch from it can be served); ignored when the cache
   * is already starting or running, or when storage no longer (or not yet) has it.
   */
  ensureStarted(atRevision = 0): Promise<void> {
    if (this.phase === 'ready') return Promise.resolve();
    if (!this.starting) {
      this.phase = 'starting';
      const generation = this.generation;
      this.starting = this.start(generation, atRevision).then(
        () => {
          this.starting = undefined;
        },
        (err: unknown) => {
          this.starting = undefined;
          if (generation === this.generation) this.reset(() => undefined, err, 'start');
          throw err;
        },
      );
    }
    return this.starting;
  }

  /**
   * Resolves true once the cache has applied `revision` (every event of the prefix up to it),
   * false after `timeoutMs` or when the cache resets. Storage that can be asked for progress is
   * asked, so a quiet prefix does not wait for its next event; without that, the cache gets one
   * turn of the event loop (events of writes that just committed may be on their way).
   */
  async waitUntil(revision: number, timeoutMs: number): Promise<boolean> {
    if (this.phase === 'ready' && this.rev >= revision) return true;
    if (this.phase !== 'ready') return false;
    const watch = this.storageWatch;
    if (!watch?.requestProgress) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      return this.phase === 'ready' && this.rev >= revision;
    }
    return new Promise<boolean>((resolve) => {
      const waiter = {
        revision,
        resolve: (reached: boolean) => {
          clearTimeout(timer);
          resolve(reached);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve(false);
      }, timeoutMs);
      this.waiters.push(waiter);
      watch.requestProgress!();
    });
  }

  private advanceTo(revision: number): void {
    if (revision > this.rev) this.rev = revision;
    if (this.waiters.length === 0) return;
    const reached = this.waiters.filter((w) => w.revision <= this.rev);
    this.waiters = this.waiters.filter((w) => w.revision > this.rev);
    for (const w of reached) w.resolve(true);
  }

  /** Stops the storage watch and ends every watcher with 503; the next request starts again. */
  stop(): void {
    this.reset(() => serviceUnavailable('the watch cache is stopping'), undefined, 'stop');
  }

  // ---- reads -----------------------------------------------------------------------------

  /**
   * The cached objects matching a filter, in key order, at the cache's revision; with `limit`
   * > 0 at most that many, starting after the key `startAfter` when given.
   */
  list(filter: Selection, limit = 0): CacheListResult {
    if (this.phase !== 'ready') throw serviceUnavailable('the watch cache is not ready');
    const items: ServedObject[] = [];
    const [from, to] = this.keyRange(filter.keyPrefix);
    const everything = filter.labels.isEmpty() && filter.fields.isEmpty();
    let last = -1;
    for (let i = from; i < to; i++) {
      const entry = this.objects.get(this.keys[i]!)!;
      if (!everything && !this.matchesSelectors(filter, entry)) continue;
      if (limit > 0 && items.length === limit) {
        // Another match follows the page: it continues after the page's last key.
        return { items, revision: this.rev, continueAfter: this.keys[last]!, remaining: to - last - 1 };
      }
      items.push(entry.served);
      last = i;
    }
    return { items, revision: this.rev };
  }

  /**
   * Starts the cache if needed and registers a watcher. `initial`: 'state' sends synthetic
   * ADDED for the cache's current objects and then follows from the cache's revision; an
   * array sends those objects as ADDED and follows from `after`; undefined follows from
   * `after` (history replay, or 410 when it is older than the window).
   */
  async watch(
    filter: Selection,
    sink: WatchSink,
    initial: 'state' | readonly KubeObject[] | undefined,
    after: number,
  ): Promise<RegistryWatch> {
    for (let attempt = 0; this.phase !== 'ready'; attempt++) {
      if (attempt === 3) throw serviceUnavailable('the watch cache is reinitializing');
      await this.ensureStarted(initial === 'state' ? 0 : after);
    }
    if (initial === undefined && after < this.rev) {
      await this.readCompacted();
      if (this.phase !== 'ready') throw serviceUnavailable('the watch cache is reinitializing');
    }
    return this.register(filter, sink, initial, after);
  }

  /** Registers a watcher on a ready cache, synchronously (no event can slip in between). */
  register(
    filter: Selection,
    sink: WatchSink,
    initial: 'state' | readonly KubeObject[] | undefined,
    after: number,
  ): RegistryWatch {
    if (this.phase !== 'ready') throw serviceUnavailable('the watch cache is not ready');
    this.evictHistory();
    const w = new CacheWatcher(this, filter, sink, initial === 'state' ? this.rev : after);
    if (initial === 'state') {
      const [from, to] = this.keyRange(filter.keyPrefix);
      // Copy the range first: a sink could stop the watch, never change the cache, but stay safe.
      const keys = this.keys.slice(from, to);
      for (const key of keys) {
        const entry = this.objects.get(key)!;
        if (w.everything || this.matchesSelectors(filter, entry)) {
          if (!this.send(w, 'ADDED', entry.served)) return w;
        }
      }
    } else {
      for (const obj of initial ?? []) {
        if (!this.send(w, 'ADDED', ServedObject.fromObject(obj))) return w;
      }
      const oldest = this.oldestServable();
      if (after < oldest) {
        // kube: newErrWatcher(NewResourceExpired("too old resource version: N (oldest-1)")).
        w.stopped = true;
        const err = expired(`too old resource version: ${after} (${oldest})`);
        queueMicrotask(() => callSafely(() => sink.error(err)));
        return w;
      }
      for (let i = this.firstAfter(after); i < this.history.length && !w.stopped; i++)
        this.deliver(w, this.history[i]!);
      if (w.stopped) return w;
    }
    let set = this.watchers.get(this.indexKey(filter.keyPrefix));
    if (!set) this.watchers.set(this.indexKey(filter.keyPrefix), (set = new Set()));
    set.add(w);
    this.watcherCount++;
    return w;
  }

  /** The oldest revision a watch can start after: the window's start, or storage's compacted
   * revision when there is something to replay past it. */
  private oldestServable(): number {
    return Math.max(this.windowStart, Math.min(this.compacted, this.rev));
  }

  /** Refreshes `compacted` unless it was read within compactionCheckMs. */
  private readCompacted(): Promise<void> {
    if (this.now() - this.compactedReadAt < this.compactionCheckMs) return Promise.resolve();
    this.compactedRead ??= this.store.compactedRevision().then(
      (c) => {
        this.compacted = Math.max(this.compacted, c);
        this.compactedReadAt = this.now();
        this.compactedRead = undefined;
      },
      (err: unknown) => {
        this.onError(err, 'reading the compacted revision');
        this.compactedRead = undefined;
      },
    );
    return this.compactedRead;
  }

  /** Removes a watcher (its stop()). */
  forget(w: CacheWatcher): void {
    if (w.stopped) return;
    w.stopped = true;
    const key = this.indexKey(w.filter.keyPrefix);
    const set = this.watchers.get(key);
    if (set?.delete(w)) {
      this.watcherCount--;
      if (set.size === 0) this.watchers.delete(key);
    }
  }

  // ---- start, storage watch, reset --------------------------------------------------------

  private async start(generation: number, atRevision: number): Promise<void> {
    for (;;) {
      const { revision, items } = await this.listAll(atRevision);
      if (generation !== this.generation) throw serviceUnavailable('the watch cache was reset while starting');
      this.objects.clear();
      this.keys = [];
      for (const kv of items) {
        this.objects.set(kv.key, this.entry(kv.value, kv.modRevision));
        this.keys.push(kv.key);
      }
      this.keys.sort(compareKeys);
      this.history = [];
      this.historyHead = 0;
      this.rev = revision;
      this.windowStart = revision;
      this.resumeFailures = 0;
      this.openStorageWatch(generation);
      if (revision === 0) {
        // An empty store: a watch after revision 0 means "from now on", which would skip a
        // write made between the list and the watch. Keep it only if nothing was written.
        const current = await this.store.currentRevision();
        if (generation !== this.generation) throw serviceUnavailable('the watch cache was reset while starting');
        if (current !== 0) {
          this.closeStorageWatch();
          atRevision = 0;
          continue;
        }
      }
      this.phase = 'ready';
      return;
    }
  }

  /** Lists the whole prefix in pages at one revision (`atRevision`, else the current one). */
  private async listAll(atRevision: number): Promise<{ revision: number; items: KeyValue[] }> {
    for (;;) {
      const items: KeyValue[] = [];
      let revision = atRevision;
      let startAfter: string | undefined;
      try {
        for (;;) {
          const page = await this.store.list(this.prefix, { revision, startAfter, limit: this.listPageSize });
          revision = page.revision;
          items.push(...page.items);
          if (!page.more || page.items.length === 0) return { revision, items };
          startAfter = page.items[page.items.length - 1]!.key;
        }
      } catch (err) {
        // The wished-for revision is gone (or not there yet), or compaction overtook the pages:
        // list the current state instead.
        if ((err instanceof CompactedError || err instanceof FutureRevisionError) && revision !== 0) {
          atRevision = 0;
          continue;
        }
        throw err;
      }
    }
  }

  private openStorageWatch(generation: number): void {
    const token = {};
    this.storageToken = token;
    this.storageWatchOpenedAt = this.now();
    this.storageWatchesOpened++;
    const handle = this.store.watch(this.prefix, this.rev, {
      onEvent: (ev) => {
        if (token !== this.storageToken || generation !== this.generation) return;
        this.resumeFailures = 0;
        this.apply(ev);
      },
      onProgress: (revision) => {
        // Storage has nothing more for this prefix up to `revision`: the cache is that current
        // (bookmarks carry it, consistent reads can be answered).
        if (token !== this.storageToken || generation !== this.generation) return;
        this.advanceTo(revision);
      },
      onError: (err) => {
        if (token !== this.storageToken || generation !== this.generation) return;
        this.storageToken = undefined;
        this.storageWatch = undefined;
        this.onStorageError(err);
      },
    });
    if (token === this.storageToken) this.storageWatch = handle;
    else handle.stop();
  }

  private closeStorageWatch(): void {
    this.storageToken = undefined;
    const w = this.storageWatch;
    this.storageWatch = undefined;
    w?.stop();
  }

  private onStorageError(err: Error): void {
    this.onError(err, 'storage watch ended');
    if (err instanceof CompactedError) {
      // The cache fell behind storage's history: events are lost for everyone. Watchers must
      // relist; the cache starts again (with a fresh list) on the next request.
      this.reset((w) => expired(`too old resource version: ${w.position} (${err.compacted})`), err, 'compacted');
      return;
    }
    // A watch that ran for a while counts as a success: start counting failures again.
    if (this.now() - this.storageWatchOpenedAt > 30_000) this.resumeFailures = 0;
    this.resumeFailures++;
    if (this.resumeFailures > this.resumeAttempts) {
      this.reset(() => err, err, 'resume failed');
      return;
    }
    const generation = this.generation;
    const delay = this.resumeBackoffMs * (this.resumeFailures - 1) ** 2;
    this.resumeTimer = setTimeout(() => {
      this.resumeTimer = undefined;
      // Resume right after the last applied event: storage replays the rest, no gap.
      if (generation === this.generation && this.phase === 'ready') this.openStorageWatch(generation);
    }, delay);
    this.resumeTimer.unref?.();
  }

  /** Drops the state and ends every watcher with errorFor(watcher) (none if it returns undefined). */
  private reset(errorFor: (w: CacheWatcher) => Error | undefined, cause: unknown, why: string): void {
    this.generation++;
    this.resets++;
    this.phase = 'idle';
    if (this.resumeTimer) clearTimeout(this.resumeTimer);
    this.resumeTimer = undefined;
    this.closeStorageWatch();
    this.objects.clear();
    this.keys = [];
    this.history = [];
    this.historyHead = 0;
    this.rev = 0;
    this.windowStart = 0;
    for (const w of this.waiters.splice(0)) w.resolve(false);
    const all: CacheWatcher[] = [];
    for (const set of this.watchers.values()) all.push(...set);
    this.watchers.clear();
    this.watcherCount = 0;
    if (cause !== undefined) this.onError(cause, `watch cache reset (${why}); ${all.length} watchers ended`);
    for (const w of all) {
      w.stopped = true;
      const err = errorFor(w);
      if (err) callSafely(() => w.sink.error(err));
    }
  }

  // ---- events ------------------------------------------------------------------------------

  /** A cache entry for a stored value: parsed once, for its labels and fields. */
  private entry(value: string, revision: number): CacheEntry {
    const obj = this.codec.decode({ value, modRevision: revision });
    return {
      served: ServedObject.fromJSON(servedJSON(value, revision), obj),
      labels: obj.metadata.labels,
      fields: this.codec.fieldsOf(obj),
    };
  }

  private apply(ev: WatchEvent): void {
    if (ev.revision <= this.rev) return;
    const prev = this.objects.get(ev.key);
    let object: CacheEntry | undefined;
    let before = prev;
    if (ev.type === 'PUT') {
      object = this.entry(ev.value, ev.revision);
      if (!prev) insertSorted(this.keys, ev.key);
      this.objects.set(ev.key, object);
    } else {
      before ??= this.entry(ev.value, ev.revision);
      if (prev) {
        this.objects.delete(ev.key);
        removeSorted(this.keys, ev.key);
      }
    }
    this.rev = ev.revision;
    const event = new CacheEvent(ev.key, ev.revision, object, before, this.now());
    this.history.push(event);
    this.evictHistory();
    this.dispatch(event);
    this.advanceTo(ev.revision);
  }

  private dispatch(event: CacheEvent): void {
    if (this.watcherCount === 0) return;
    const all = this.watchers.get(this.prefix);
    if (all) for (const w of all) this.deliver(w, event);
    const parent = event.key.slice(0, event.key.lastIndexOf('/') + 1);
    if (parent !== this.prefix) {
      const scoped = this.watchers.get(parent);
      if (scoped) for (const w of scoped) this.deliver(w, event);
    }
    const others = this.watchers.get('*');
    if (others) for (const w of others) this.deliver(w, event);
  }

  private deliver(w: CacheWatcher, event: CacheEvent): void {
    if (w.stopped || event.revision <= w.position) return;
    w.position = event.revision;
    if (!event.key.startsWith(w.filter.keyPrefix)) return;
    const cur = event.object !== undefined && (w.everything || this.matchesSelectors(w.filter, event.object));
    const prev = event.prev !== undefined && (w.everything || this.matchesSelectors(w.filter, event.prev));
    if (cur && prev) this.send(w, 'MODIFIED', event.object!.served);
    else if (cur) this.send(w, 'ADDED', event.object!.served);
    else if (prev) this.send(w, 'DELETED', event.deletedObject());
  }

  /** Hands one event to a sink; a sink that throws is ended with its error. */
  private send(w: CacheWatcher, type: 'ADDED' | 'MODIFIED' | 'DELETED', served: ServedObject): boolean {
    try {
      w.sink.event(type, served.object(), served);
      return true;
    } catch (err) {
      this.forget(w);
      callSafely(() => w.sink.error(err instanceof Error ? err : new Error(String(err))));
      return false;
    }
  }

  private matchesSelectors(filter: Selection, entry: CacheEntry): boolean {
    return filter.labels.matches(entry.labels) && (filter.fields.isEmpty() || filter.fields.matches(entry.fields));
  }

  // ---- history -----------------------------------------------------------------------------

  private evictHistory(): void {
    const oldest = this.now() - this.historyMaxAgeMs;
    let head = this.historyHead;
    const history = this.history;
    while (head < history.length && (history.length - head > this.historyCapacity || history[head]!.at < oldest)) {
      this.windowStart = history[head]!.revision;
      head++;
    }
    if (head > 1024 && head * 2 > history.length) {
      this.history = history.slice(head);
      head = 0;
    }
    this.historyHead = head;
  }

  /** Index of the first retained event with a revision above `revision`. */
  private firstAfter(revision: number): number {
    let lo = this.historyHead;
    let hi = this.history.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.history[mid]!.revision > revision) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  // ---- keys --------------------------------------------------------------------------------

  private keyRange(prefix: string): [number, number] {
    if (prefix === this.prefix) return [0, this.keys.length];
    const from = lowerBound(this.keys, prefix);
    let to = from;
    while (to < this.keys.length && this.keys[to]!.startsWith(prefix)) to++;
    return [from, to];
  }

  private indexKey(keyPrefix: string): string {
    if (keyPrefix === this.prefix) return keyPrefix;
    // One level below the resource prefix (a namespace): indexed by that prefix, which is the
    // parent of every key in it.
    if (keyPrefix.startsWith(this.prefix) && keyPrefix.indexOf('/', this.prefix.length) === keyPrefix.length - 1)
      return keyPrefix;
    return '*';
  }
}

function withResourceVersion(obj: KubeObject, revision: number): KubeObject {
  return { ...obj, metadata: { ...obj.metadata, resourceVersion: String(revision) } };
}

function callSafely(fn: () => void): void {
  try {
    fn();
  } catch {
    // A sink's error handler has nothing left to tell.
  }
}

function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function lowerBound(keys: string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function insertSorted(keys: string[], key: string): void {
  const i = lowerBound(keys, key);
  if (keys[i] !== key) keys.splice(i, 0, key);
}

function removeSorted(keys: string[], key: string): void {
  const i = lowerBound(keys, key);
  if (keys[i] === key) keys.splice(i, 1);
}
