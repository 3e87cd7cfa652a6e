import { openSqliteStore } from '../../storage/sqlite/store.js';
import { CompactedError, StorageError, type Store } from '../../storage/interface.js';
import { StatusError } from '../../machinery/errors.js';
import { ResourceStore } from '../registry/store.js';
import type { RegistryWatch } from '../storage/interface.js';
import type { KubeObject } from '../../machinery/object.js';
import { gadgetDefinition, widgetDefinition } from '../testing/widget.js';
import type { WatchCacheOptions } from './cache.js';
import { eventually, instrument, Recorder, settle, type InstrumentedStore } from './testing/store.js';
import { watchCacheDecorator, watchCacheOf } from './decorator.js';

let store: InstrumentedStore;
/** The SQLite store under `store` (which drops progress notifications, as a store without them). */
let sqlite: Store;
let widgets: ResourceStore;
/** The same resource without a cache: the reference behaviour. */
let plain: ResourceStore;
const open: RegistryWatch[] = [];

function setup(opts: WatchCacheOptions = {}): void {
  widgets?.cache?.stop();
  widgets = new ResourceStore(widgetDefinition, store, {}, { decorator: watchCacheDecorator(opts) });
}

beforeEach(() => {
  sqlite = openSqliteStore(':memory:', { synchronous: 'NORMAL' });
  store = instrument(sqlite);
  setup();
  plain = new ResourceStore(widgetDefinition, store, {}, {});
});
afterEach(async () => {
  for (const w of open.splice(0)) w.stop();
  widgets.cache?.stop();
  await store.close();
});

const widget = (name: string, spec: Record<string, unknown> = { size: 1 }, labels?: Record<string, string>) => ({
  apiVersion: 'test.upm.io/v1',
  kind: 'Widget',
  metadata: { name, ...(labels ? { labels } : {}) },
  spec,
});

async function watch(
  rs: ResourceStore,
  namespace: string | undefined,
  opts: Parameters<ResourceStore['watch']>[1] = {},
): Promise<Recorder> {
  const rec = new Recorder();
  open.push(await rs.watch(namespace, opts, rec));
  return rec;
}

async function resize(ns: string, name: string, size: number): Promise<KubeObject> {
  const cur = await widgets.get(ns, name);
  return widgets.update(ns, name, { ...cur, spec: { ...(cur['spec'] as object), size } });
}

async function relabel(ns: string, name: string, labels: Record<string, string>): Promise<KubeObject> {
  const cur = await widgets.get(ns, name);
  return widgets.update(ns, name, { ...cur, metadata: { ...cur.metadata, labels } });
}

/** A mix of creates, updates and deletes in two namespaces. */
async function churn(prefix: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const ns = i % 2 ? 'a' : 'b';
    await widgets.create(ns, widget(`${prefix}${i}`));
    await resize(ns, `${prefix}${i}`, i + 2);
    if (i % 3 === 0) await widgets.delete(ns, `${prefix}${i}`);
  }
}

describe('fan-out', () => {
  it('serves 1,000 watchers with one storage watch, every event to every watcher in order', async () => {
    await widgets.create('a', widget('pre'));
    const reference = await watch(plain, undefined, { resourceVersion: '0' });
    const watchBefore = store.calls.watch;
    const all: Recorder[] = [];
    const inA: Recorder[] = [];
    for (let i = 0; i < 1000; i++) {
      if (i % 4 === 3) inA.push(await watch(widgets, 'a', { resourceVersion: i % 2 ? '0' : undefined }));
      else all.push(await watch(widgets, undefined, { resourceVersion: i % 2 ? '0' : undefined }));
    }
    await churn('w', 12);
    await eventually(
      () =>
        reference.events.length === 29 &&
        all.every((r) => r.events.length === 29) &&
        inA.every((r) => r.events.length === 15),
    );
    await settle();
    expect(store.calls.watch - watchBefore).toBe(1);
    expect(store.openWatches).toBe(2); // the reference watcher's and the cache's
    expect(watchCacheOf(widgets).stats().watchers).toBe(1000);
    expect(reference.events.length).toBe(1 + 12 * 2 + 4);
    for (const r of all) expect(r.events).toEqual(reference.events);
    const onlyA = reference.events.filter((e) => {
      const name = e.split(':')[1]!;
      return name === 'pre' || Number(name.slice(1)) % 2 === 1;
    });
    for (const r of inA) expect(r.events).toEqual(onlyA);
    // Every watcher got the very same object instance for an event.
    const last = all.map((r) => r.objects[r.objects.length - 1]);
    expect(new Set(last).size).toBe(1);
    for (const r of [...all, ...inA]) expect(r.errors).toEqual([]);
  });

  it('ends a watcher whose sink throws, without disturbing the others', async () => {
    const good = await watch(widgets, undefined);
    const bad = new Recorder();
    let calls = 0;
    open.push(
      await widgets.watch(
        undefined,
        {},
        {
          event: () => {
            if (++calls === 2) throw new Error('boom');
          },
          error: (err) => bad.error(err),
        },
      ),
    );
    await churn('x', 3);
    await settle();
    expect(calls).toBe(2);
    expect(bad.errors.map((e) => e.message)).toEqual(['boom']);
    expect(good.events).toHaveLength(3 * 2 + 1);
  });
});

describe('start and resume', () => {
  it('sends synthetic ADDED for the current state when resourceVersion is unset, then live events', async () => {
    await widgets.create('a', widget('x'));
    await widgets.create('b', widget('y'));
    const rec = await watch(widgets, undefined);
    expect(rec.events.map((e) => e.split(':').slice(0, 2).join(':'))).toEqual(['ADDED:x', 'ADDED:y']);
    await widgets.create('a', widget('z'));
    await settle();
    expect(rec.events.map((e) => e.split(':').slice(0, 2).join(':'))).toEqual(['ADDED:x', 'ADDED:y', 'ADDED:z']);
  });

  it('includes a write made just before the watch in the consistent initial state', async () => {
    await watch(widgets, undefined); // the cache runs
    const gadgets = new ResourceStore(gadgetDefinition, store, {}, { decorator: watchCacheDecorator() });
    await gadgets.create('', { ...widget('g'), kind: 'Gadget' }); // moves the revision elsewhere
    await widgets.create('a', widget('fresh'));
    let lists = store.calls.list;
    const rec = await watch(widgets, 'a');
    expect(rec.events.map((e) => e.split(':')[1])).toEqual(['fresh']);
    expect(store.calls.list).toBe(lists); // from the cache, which caught up
    await gadgets.create('', { ...widget('h'), kind: 'Gadget' });
    lists = store.calls.list;
    const again = await watch(widgets, 'a'); // the cache cannot prove it is fresh: storage snapshot
    expect(store.calls.list).toBeGreaterThan(lists);
    expect(again.events.map((e) => e.split(':')[1])).toEqual(['fresh']);
    await widgets.create('a', widget('later'));
    await settle();
    expect(again.events.map((e) => e.split(':')[1])).toEqual(['fresh', 'later']);
    gadgets.cache?.stop();
  });

  it('resumes from a resourceVersion in the window with exactly the missed events', async () => {
    await watch(widgets, undefined);
    const first = await widgets.create('a', widget('m'));
    await churn('r', 4);
    await settle();
    const rec = await watch(widgets, undefined, { resourceVersion: first.metadata.resourceVersion });
    const ref = await watch(plain, undefined, { resourceVersion: first.metadata.resourceVersion });
    await settle();
    expect(rec.events.length).toBe(4 * 2 + 2);
    expect(rec.events).toEqual(ref.events);
  });

  it('starts a cold cache at the requested revision, so a resume after a restart is served', async () => {
    const a = await widgets.create('a', widget('m'));
    await resize('a', 'm', 5);
    await widgets.create('a', widget('n'));
    const rec = await watch(widgets, 'a', { resourceVersion: a.metadata.resourceVersion });
    await settle();
    expect(rec.events.map((e) => e.split(':').slice(0, 2).join(':'))).toEqual(['MODIFIED:m', 'ADDED:n']);
    expect(rec.errors).toEqual([]);
  });

  it('answers a resourceVersion older than the window with 410 Expired', async () => {
    setup({ historyCapacity: 3 });
    await watch(widgets, undefined);
    const old = await widgets.create('a', widget('o'));
    for (let i = 0; i < 5; i++) await resize('a', 'o', i + 2);
    await settle();
    const { windowStart } = watchCacheOf(widgets).stats();
    expect(windowStart).toBeGreaterThan(Number(old.metadata.resourceVersion));
    const rec = await watch(widgets, undefined, { resourceVersion: old.metadata.resourceVersion });
    await settle();
    expect(rec.events).toEqual([]);
    expect(rec.errors).toHaveLength(1);
    const err = rec.errors[0] as StatusError;
    expect(err).toBeInstanceOf(StatusError);
    expect(err.code).toBe(410);
    expect(err.reason).toBe('Expired');
    expect(err.message).toBe(`too old resource version: ${old.metadata.resourceVersion} (${windowStart})`);
    // The oldest servable version still works.
    const ok = await watch(widgets, undefined, { resourceVersion: String(windowStart) });
    await settle();
    expect(ok.errors).toEqual([]);
    expect(ok.events).toHaveLength(3);
  });

  it('ends the window at storage compaction too, so warm and cold caches answer alike', async () => {
    setup({ compactionCheckMs: 0 });
    await watch(widgets, undefined);
    const a = await widgets.create('a', widget('c'));
    const b = await resize('a', 'c', 2);
    await resize('a', 'c', 3);
    await settle();
    await store.compact(Number(b.metadata.resourceVersion));
    const old = await watch(widgets, undefined, { resourceVersion: a.metadata.resourceVersion });
    await settle();
    expect(old.errors[0]?.message).toBe(
      `too old resource version: ${a.metadata.resourceVersion} (${b.metadata.resourceVersion})`,
    );
    const ok = await watch(widgets, undefined, { resourceVersion: b.metadata.resourceVersion });
    await settle();
    expect(ok.errors).toEqual([]);
    expect(ok.events).toHaveLength(1);
  });

  it('drops events older than the age limit from the window', async () => {
    let now = 1_000_000;
    setup({ historyMaxAgeMs: 60_000, now: () => now });
    await watch(widgets, undefined);
    const a = await widgets.create('a', widget('t'));
    const b = await resize('a', 't', 3);
    await settle();
    now += 61_000;
    const late = await watch(widgets, undefined, { resourceVersion: a.metadata.resourceVersion });
    await settle();
    expect(late.errors[0]?.message).toBe(
      `too old resource version: ${a.metadata.resourceVersion} (${b.metadata.resourceVersion})`,
    );
    const current = await watch(widgets, undefined, { resourceVersion: b.metadata.resourceVersion });
    await settle();
    expect(current.errors).toEqual([]);
  });

  it('lets a watch from a resourceVersion ahead of the cache wait for the events after it', async () => {
    await watch(widgets, undefined);
    const rev = await store.currentRevision();
    const rec = await watch(widgets, undefined, { resourceVersion: String(rev + 2) });
    await widgets.create('a', widget('skipped1'));
    await widgets.create('a', widget('skipped2'));
    await widgets.create('a', widget('seen'));
    await settle();
    expect(rec.events.map((e) => e.split(':')[1])).toEqual(['seen']);
    expect(rec.errors).toEqual([]);
  });

  it('reports the cache revision as watch progress (for bookmarks)', async () => {
    const w = await widgets.watch(undefined, {}, new Recorder());
    open.push(w);
    const a = await widgets.create('a', widget('p'));
    await settle();
    expect(w.progressRevision()).toBe(Number(a.metadata.resourceVersion));
    expect(watchCacheOf(widgets).revision).toBe(Number(a.metadata.resourceVersion));
  });
});

describe('filters', () => {
  it('turns label selector transitions into ADDED/DELETED, the DELETED object being the previous one at the event version', async () => {
    await widgets.create('a', widget('s', { size: 1 }, { app: 'x' }));
    const rec = await watch(widgets, 'a', { labelSelector: 'app=x' });
    const ref = await watch(plain, 'a', { labelSelector: 'app=x' });
    await resize('a', 's', 2);
    const moved = await relabel('a', 's', { app: 'y' });
    await resize('a', 's', 3);
    await relabel('a', 's', { app: 'x' });
    await widgets.create('a', widget('t', { size: 1 }, { app: 'x' }));
    await widgets.delete('a', 't');
    await settle();
    expect(rec.events.map((e) => e.split(':').slice(0, 2).join(':'))).toEqual([
      'ADDED:s',
      'MODIFIED:s',
      'DELETED:s',
      'ADDED:s',
      'ADDED:t',
      'DELETED:t',
    ]);
    expect(rec.events).toEqual(ref.events);
    const deleted = rec.objects[2]!;
    expect(deleted.metadata.resourceVersion).toBe(moved.metadata.resourceVersion);
    expect(deleted.metadata.labels).toEqual({ app: 'x' });
    expect((deleted['spec'] as { size: number }).size).toBe(2);
  });

  it('filters by field selectors, including selectable fields', async () => {
    await widgets.create('a', widget('red1', { size: 1, color: 'red' }));
    const blue = await watch(widgets, undefined, { fieldSelector: 'spec.color=blue' });
    const named = await watch(widgets, undefined, { fieldSelector: 'metadata.name=red1' });
    const cur = await widgets.get('a', 'red1');
    await widgets.update('a', 'red1', { ...cur, spec: { size: 1, color: 'blue' } });
    await widgets.create('b', widget('blue2', { size: 1, color: 'blue' }));
    await settle();
    expect(blue.events.map((e) => e.split(':').slice(0, 2).join(':'))).toEqual(['ADDED:red1', 'ADDED:blue2']);
    expect(named.events.map((e) => e.split(':').slice(0, 2).join(':'))).toEqual(['ADDED:red1', 'MODIFIED:red1']);
  });

  it('scopes watches to their namespace', async () => {
    await widgets.create('a', widget('in-a'));
    await widgets.create('ab', widget('in-ab'));
    const a = await watch(widgets, 'a', { resourceVersion: '0' });
    const ab = await watch(widgets, 'ab');
    await widgets.create('a', widget('a2'));
    await widgets.create('ab', widget('ab2'));
    await widgets.create('b', widget('b2'));
    await settle();
    expect(a.events.map((e) => e.split(':')[1])).toEqual(['in-a', 'a2']);
    expect(ab.events.map((e) => e.split(':')[1])).toEqual(['in-ab', 'ab2']);
  });
});

describe('list', () => {
  beforeEach(async () => {
    for (const ns of ['a', 'b', 'c']) {
      for (let i = 0; i < 5; i++)
        await widgets.create(ns, widget(`l${i}`, { size: i, color: i % 2 ? 'blue' : 'red' }, { idx: String(i) }));
    }
    await widgets.delete('b', 'l3');
    await watch(widgets, undefined);
  });

  it.each([
    [undefined, {}],
    ['b', {}],
    [undefined, { labelSelector: 'idx in (1,3)' }],
    ['a', { fieldSelector: 'spec.color=blue' }],
    ['c', { labelSelector: 'idx!=0', fieldSelector: 'metadata.name!=l4' }],
  ])('answers resourceVersion=0 in %s with %j from the cache, equal to the storage list', async (ns, selectors) => {
    const lists = store.calls.list;
    const cached = await widgets.list(ns, { ...selectors, resourceVersion: '0' });
    expect(store.calls.list).toBe(lists);
    const stored = await plain.list(ns, selectors);
    expect(cached.resourceVersion).toBe(stored.resourceVersion);
    expect(cached.items).toEqual(stored.items);
    // What a JSON response writes: each item's text, equal to the object.
    expect(cached.encodedItems!.map((t) => JSON.parse(t) as unknown)).toEqual(stored.items);
  });

  it('ignores limit for resourceVersion=0, like kube', async () => {
    const cached = await widgets.list(undefined, { resourceVersion: '0', limit: 2 });
    expect(cached.items).toHaveLength(14);
    expect(cached.continue).toBeUndefined();
  });

  it('answers NotOlderThan from the cache once it has the revision, else storage', async () => {
    const rev = watchCacheOf(widgets).revision;
    let lists = store.calls.list;
    const cached = await widgets.list(undefined, {
      resourceVersion: String(rev),
      resourceVersionMatch: 'NotOlderThan',
    });
    expect(store.calls.list).toBe(lists);
    expect(cached.resourceVersion).toBe(String(rev));
    expect(cached.items).toHaveLength(14);
    const noMatch = await widgets.list(undefined, { resourceVersion: String(rev - 3) });
    expect(store.calls.list).toBe(lists);
    expect(noMatch.resourceVersion).toBe(String(rev));
    // A revision the cache has not seen (a write elsewhere): storage answers.
    const gadgets = new ResourceStore(gadgetDefinition, store, {}, {});
    const g = await gadgets.create('', { ...widget('g'), kind: 'Gadget' });
    lists = store.calls.list;
    const fresh = await widgets.list(undefined, {
      resourceVersion: g.metadata.resourceVersion,
      resourceVersionMatch: 'NotOlderThan',
    });
    expect(store.calls.list).toBeGreaterThan(lists);
    expect(fresh.items).toHaveLength(14);
  });

  it('answers a consistent list from the cache when it has the current revision; its continue token reads storage', async () => {
    let lists = store.calls.list;
    const all = await widgets.list(undefined, {});
    expect(store.calls.list).toBe(lists);
    expect(all.items.map((o) => `${o.metadata.namespace}/${o.metadata.name}`)).toEqual(
      (await plain.list(undefined)).items.map((o) => `${o.metadata.namespace}/${o.metadata.name}`),
    );
    lists = store.calls.list;
    const first = await widgets.list(undefined, { limit: 5 });
    expect(store.calls.list).toBe(lists);
    expect(first.items).toHaveLength(5);
    expect(first.remainingItemCount).toBe(9);
    const rest = await widgets.list(undefined, { limit: 100, continue: first.continue });
    expect(store.calls.list).toBeGreaterThan(lists);
    expect([...first.items, ...rest.items]).toEqual(all.items);
    expect(rest.resourceVersion).toBe(first.resourceVersion);
    // A filtered page: no remainingItemCount (kube gives none with selectors).
    const blue = await widgets.list('c', { limit: 1, fieldSelector: 'spec.color=blue' });
    expect(blue.items.map((o) => o.metadata.name)).toEqual(['l1']);
    expect(blue.remainingItemCount).toBeUndefined();
    const blueRest = await widgets.list('c', { fieldSelector: 'spec.color=blue', continue: blue.continue });
    expect(blueRest.items.map((o) => o.metadata.name)).toEqual(['l3']);
  });

  it('reads storage for a consistent list when the cache may be behind, and for Exact and limited lists at a revision', async () => {
    // A write elsewhere moves storage's revision; this store tells the cache nothing about it
    // (no progress notifications), so the cache cannot know it missed nothing.
    const gadgets = new ResourceStore(gadgetDefinition, store, {}, {});
    await gadgets.create('', { ...widget('g'), kind: 'Gadget' });
    const rev = String(watchCacheOf(widgets).revision);
    for (const opts of [
      {},
      { limit: 5 },
      { resourceVersion: rev, resourceVersionMatch: 'Exact' },
      { resourceVersion: rev, limit: 5 },
    ]) {
      const lists = store.calls.list;
      const page = await widgets.list(undefined, opts);
      expect(store.calls.list).toBeGreaterThan(lists);
      expect(page.items.length).toBeGreaterThan(0);
    }
  });

  it('answers a consistent list from the cache after writes elsewhere when storage reports progress', async () => {
    // The same SQLite store, now with its progress notifications passed on to the cache.
    const reporting = instrument(sqlite, { progress: true });
    const cached = new ResourceStore(widgetDefinition, reporting, {}, { decorator: watchCacheDecorator() });
    await cached.list(undefined, { resourceVersion: '0' });
    await eventually(() => watchCacheOf(cached).isReady());
    const gadgets = new ResourceStore(gadgetDefinition, store, {}, {});
    const g = await gadgets.create('', { ...widget('g'), kind: 'Gadget' });
    const lists = reporting.calls.list;
    const page = await cached.list(undefined, {});
    expect(reporting.calls.list).toBe(lists);
    expect(Number(page.resourceVersion)).toBeGreaterThanOrEqual(Number(g.metadata.resourceVersion));
    expect(page.items).toHaveLength(14);
    watchCacheOf(cached).stop();
  });

  it('reads storage while the cache is not started, and starts it', async () => {
    setup();
    const lists = store.calls.list;
    const first = await widgets.list(undefined, { resourceVersion: '0' });
    expect(store.calls.list).toBeGreaterThan(lists);
    expect(first.items).toHaveLength(14);
    await settle();
    expect(watchCacheOf(widgets).isReady()).toBe(true);
  });
});

describe('storage watch failures', () => {
  it('resumes the storage watch from the cache revision: watchers continue without a gap', async () => {
    const rec = await watch(widgets, undefined);
    const ref = await watch(plain, undefined);
    await widgets.create('a', widget('before'));
    await settle();
    store.failWatches(new StorageError('connection lost'));
    // Written while the cache's storage watch is down.
    await widgets.create('a', widget('during1'));
    await widgets.create('a', widget('during2'));
    await settle();
    await widgets.create('a', widget('after'));
    await eventually(() => rec.events.length === 4);
    expect(rec.errors).toEqual([]);
    expect(rec.events.map((e) => e.split(':')[1])).toEqual(['before', 'during1', 'during2', 'after']);
    expect(watchCacheOf(widgets).stats().storageWatchesOpened).toBe(2);
    expect(ref.errors).toHaveLength(1); // the uncached watcher just dies
  });

  it('ends every watcher with 410 when the cache cannot resume (compacted), and starts again on the next watch', async () => {
    const rec = await watch(widgets, 'a');
    const last = await widgets.create('a', widget('x'));
    await settle();
    store.failWatches(new StorageError('connection lost'));
    await widgets.create('a', widget('y'));
    await widgets.create('a', widget('z'));
    await store.compact(await store.currentRevision()); // before the cache resumes
    await eventually(() => rec.errors.length > 0);
    expect(rec.events.map((e) => e.split(':')[1])).toEqual(['x']);
    expect(rec.errors).toHaveLength(1);
    expect((rec.errors[0] as StatusError).code).toBe(410);
    expect(rec.errors[0]!.message).toMatch(
      new RegExp(`^too old resource version: ${last.metadata.resourceVersion} \\(\\d+\\)$`),
    );
    expect(watchCacheOf(widgets).stats()).toMatchObject({ ready: false, watchers: 0 });
    // The client relists and watches again.
    const again = await watch(widgets, 'a');
    expect(again.events.map((e) => e.split(':')[1])).toEqual(['x', 'y', 'z']);
    expect(watchCacheOf(widgets).stats().resets).toBe(1);
  });

  it('ends every watcher with 410 when the storage watch reports compaction', async () => {
    const recs = [await watch(widgets, undefined), await watch(widgets, 'a', { labelSelector: 'app' })];
    store.failWatches(new CompactedError(3, 7));
    await eventually(() => recs.every((r) => r.errors.length > 0));
    for (const r of recs) expect((r.errors[0] as StatusError).code).toBe(410);
  });

  it('gives up after repeated resume failures and passes the error on', async () => {
    setup({ resumeAttempts: 2, resumeBackoffMs: 1 });
    const rec = await watch(widgets, undefined);
    const failing = new StorageError('etcd unavailable');
    // Fail the storage watch, and every resumed one, until the cache gives up.
    await eventually(() => {
      if (store.openWatches > 0) store.failWatches(failing);
      return rec.errors.length > 0;
    });
    expect(watchCacheOf(widgets).stats().storageWatchesOpened).toBe(3);
    expect(rec.errors).toEqual([failing]);
    expect(watchCacheOf(widgets).isReady()).toBe(false);
  });
});
