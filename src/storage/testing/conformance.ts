// Backend-independent conformance suite for the storage contract (./interface.ts).
//
// Not a test file itself: a backend's test file calls
//   runStoreConformance('sqlite', async () => ({ store, cleanup }))
// and every test gets a fresh, empty store from `open` and calls `cleanup` afterwards (cleanup
// must tolerate a store that the test already closed).
//
// Compaction rule checked here (see Store.compactedRevision): after compact(C), list at C and
// watch after C work; list at a revision < C and watch after a revision < C fail with
// CompactedError.
//
// Revisions in the assertions count from 0 for a fresh store. A backend whose revision counter
// is shared (etcd: one counter per cluster, the store one key prefix in it) starts at some base
// revision B > 0; the suite then runs against `rebase(store, B)`, which shifts every revision
// going in and coming out by B, so the same assertions check it (see rebase below).

import {
  CompactedError,
  FutureRevisionError,
  KeyExistsError,
  KeyNotFoundError,
  PreconditionFailedError,
  StorageError,
  type KeyValue,
  type Precondition,
  type Store,
  type Watch,
  type WatchEvent,
} from '../interface.js';

export interface OpenedStore {
  store: Store;
  cleanup: () => Promise<void>;
}

/**
 * A view of `store` whose revisions count from `base`: revision r of the store is r - base in
 * the view (compactedRevision is clamped at 0), and revisions passed in (list revision,
 * precondition, watch afterRevision, compact) are shifted up by `base`. Errors carrying
 * revisions are re-created with shifted numbers. Only for a store with no writes after `base`
 * other than its own, i.e. contiguous revisions from base + 1.
 */
export function rebase(store: Store, base: number): Store {
  const down = (r: number): number => r - base;
  const up = (r: number | undefined): number | undefined => (r === undefined || r === 0 ? r : r + base);
  const kv = (x: KeyValue): KeyValue => ({
    ...x,
    createRevision: down(x.createRevision),
    modRevision: down(x.modRevision),
  });
  const err = (e: unknown): unknown => {
    if (e instanceof CompactedError) return new CompactedError(down(e.requested), Math.max(0, down(e.compacted)));
    if (e instanceof FutureRevisionError) return new FutureRevisionError(down(e.requested), down(e.current));
    if (e instanceof PreconditionFailedError)
      return new PreconditionFailedError(e.key, down(e.expected), down(e.actual));
    return e;
  };
  const wrap = async <T>(p: Promise<T>): Promise<T> => {
    try {
      return await p;
    } catch (e) {
      throw err(e);
    }
  };
  const pre = (p?: Precondition): Precondition | undefined =>
    p && p.modRevision !== undefined ? { ...p, modRevision: p.modRevision + base } : p;
  return {
    backend: store.backend,
    currentRevision: async () => down(await store.currentRevision()),
    compactedRevision: async () => Math.max(0, down(await store.compactedRevision())),
    get: async (key) => {
      const x = await store.get(key);
      return x && kv(x);
    },
    list: async (prefix, opts) => {
      const r = await wrap(store.list(prefix, opts && { ...opts, revision: up(opts.revision) }));
      return { ...r, items: r.items.map(kv), revision: down(r.revision) };
    },
    count: (prefix) => store.count(prefix),
    create: async (key, value) => kv(await wrap(store.create(key, value))),
    update: async (key, value, p) => kv(await wrap(store.update(key, value, pre(p)))),
    delete: async (key, p) => kv(await wrap(store.delete(key, pre(p)))),
    watch: (prefix, after, callbacks) =>
      store.watch(prefix, up(after) ?? 0, {
        onEvent: (e) => callbacks.onEvent({ ...e, createRevision: down(e.createRevision), revision: down(e.revision) }),
        onError: (e) => callbacks.onError(err(e) as Error),
      }),
    compact: (revision) => wrap(store.compact(revision + base)),
    close: () => store.close(),
  };
}

/** Polls `cond` until it holds; fails the test after `timeoutMs`. */
export async function waitUntil(
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 15000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Lets pending asynchronous deliveries run. */
export function settle(ms = 50): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export interface Recorder {
  events: WatchEvent[];
  errors: Error[];
  watch: Watch;
  waitForEvents(n: number, timeoutMs?: number): Promise<void>;
  waitForError(timeoutMs?: number): Promise<Error>;
}

/** Starts a watch that records everything it receives. */
export function record(store: Store, prefix: string, afterRevision: number): Recorder {
  const events: WatchEvent[] = [];
  const errors: Error[] = [];
  const watch = store.watch(prefix, afterRevision, {
    onEvent: (e) => {
      if (errors.length > 0) throw new Error('event after error');
      events.push(e);
    },
    onError: (err) => {
      errors.push(err);
    },
  });
  return {
    events,
    errors,
    watch,
    waitForEvents: (n, timeoutMs) =>
      waitUntil(() => events.length >= n, timeoutMs, `${n} watch events (have ${events.length})`),
    waitForError: async (timeoutMs) => {
      await waitUntil(() => errors.length > 0, timeoutMs, 'watch error');
      return errors[0]!;
    },
  };
}

/** Deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Strips optional fields that are undefined so toEqual compares what a backend returns. */
function ev(e: WatchEvent): WatchEvent {
  const out: WatchEvent = {
    type: e.type,
    key: e.key,
    value: e.value,
    createRevision: e.createRevision,
    revision: e.revision,
  };
  if (e.prevValue !== undefined) out.prevValue = e.prevValue;
  return out;
}

/**
 * A model of the store, fed with the same writes: the state after every revision and the
 * event of every revision, to compare lists at past revisions and watch replays with.
 */
class Model {
  state = new Map<string, KeyValue>();
  snapshots = new Map<number, Map<string, KeyValue>>();
  events: WatchEvent[] = [];

  apply(kind: 'create' | 'update' | 'delete', result: KeyValue): void {
    const prev = this.state.get(result.key);
    const rev = result.modRevision;
    if (kind === 'delete') {
      this.state.delete(result.key);
      this.events.push({
        type: 'DELETE',
        key: result.key,
        value: prev!.value,
        prevValue: prev!.value,
        createRevision: prev!.createRevision,
        revision: rev,
      });
    } else {
      this.state.set(result.key, result);
      const e: WatchEvent = {
        type: 'PUT',
        key: result.key,
        value: result.value,
        createRevision: result.createRevision,
        revision: rev,
      };
      if (prev) e.prevValue = prev.value;
      this.events.push(e);
    }
    this.snapshots.set(rev, new Map(this.state));
  }

  listAt(prefix: string, revision: number): KeyValue[] {
    let snap: Map<string, KeyValue> | undefined;
    for (let r = revision; r > 0 && !snap; r--) snap = this.snapshots.get(r);
    return [...(snap ?? new Map<string, KeyValue>()).values()]
      .filter((kv) => kv.key.startsWith(prefix))
      .sort((a, b) => byteOrder(a.key, b.key));
  }

  eventsAfter(prefix: string, revision: number): WatchEvent[] {
    return this.events.filter((e) => e.revision > revision && e.key.startsWith(prefix));
  }
}

/** Applies `n` random writes under `prefix` (and some elsewhere) to both the store and the model. */
async function randomWrites(store: Store, model: Model, n: number, seed: number, prefix = '/m/'): Promise<void> {
  const rand = rng(seed);
  const keys = Array.from({ length: 8 }, (_, i) => `${prefix}k${i}`).concat(['/other/x', `${prefix.slice(0, -1)}x/y`]);
  for (let i = 0; i < n; i++) {
    const key = keys[Math.floor(rand() * keys.length)]!;
    const value = `v${i}-${Math.floor(rand() * 1e6)}`;
    const cur = model.state.get(key);
    if (!cur) {
      model.apply('create', await store.create(key, value));
    } else if (rand() < 0.3) {
      model.apply('delete', await store.delete(key));
    } else {
      model.apply('update', await store.update(key, value));
    }
  }
}

async function pagedList(store: Store, prefix: string, limit: number, revision?: number): Promise<KeyValue[]> {
  const all: KeyValue[] = [];
  let startAfter: string | undefined;
  for (let guard = 0; guard < 100000; guard++) {
    const page = await store.list(prefix, { limit, startAfter, revision });
    all.push(...page.items);
    if (!page.more) {
      expect(page.remaining).toBe(0);
      return all;
    }
    expect(page.items).toHaveLength(limit);
    startAfter = page.items[page.items.length - 1]!.key;
  }
  throw new Error('pagination did not end');
}

export function runStoreConformance(name: string, open: () => Promise<OpenedStore>): void {
  describe(`Store conformance: ${name}`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;
    const watches: Watch[] = [];
    const watchOn = (prefix: string, after: number): Recorder => {
      const r = record(store, prefix, after);
      watches.push(r.watch);
      return r;
    };

    beforeEach(async () => {
      ({ store, cleanup } = await open());
      const base = await store.currentRevision();
      if (base !== 0) store = rebase(store, base);
    });

    afterEach(async () => {
      for (const w of watches.splice(0)) w.stop();
      await cleanup();
    });

    describe('basics and revisions', () => {
      it('starts empty', async () => {
        expect(typeof store.backend).toBe('string');
        expect(store.backend.length).toBeGreaterThan(0);
        expect(await store.currentRevision()).toBe(0);
        expect(await store.compactedRevision()).toBe(0);
        expect(await store.get('/a/x')).toBeNull();
        expect(await store.count('/')).toBe(0);
        expect(await store.list('/a/')).toEqual({ items: [], revision: 0, more: false, remaining: 0 });
      });

      it('numbers every successful write with the next global revision', async () => {
        const a1 = await store.create('/a/1', 'x');
        const b1 = await store.create('/b/1', 'y');
        const a2 = await store.update('/a/1', 'x2');
        const b2 = await store.delete('/b/1');
        const a3 = await store.create('/a/2', 'z');
        expect([a1, b1, a2, b2, a3].map((kv) => kv.modRevision)).toEqual([1, 2, 3, 4, 5]);
        expect(await store.currentRevision()).toBe(5);

        expect(a1).toEqual({ key: '/a/1', value: 'x', createRevision: 1, modRevision: 1 });
        expect(a2).toEqual({ key: '/a/1', value: 'x2', createRevision: 1, modRevision: 3 });
        // delete returns the last value with the delete's revision
        expect(b2).toEqual({ key: '/b/1', value: 'y', createRevision: 2, modRevision: 4 });
        expect(await store.get('/a/1')).toEqual(a2);
        expect(await store.get('/b/1')).toBeNull();
      });

      it('does not consume a revision on a failed write', async () => {
        await store.create('/a/1', 'x');
        await expect(store.create('/a/1', 'again')).rejects.toBeInstanceOf(KeyExistsError);
        await expect(store.update('/a/none', 'v')).rejects.toBeInstanceOf(KeyNotFoundError);
        await expect(store.delete('/a/none')).rejects.toBeInstanceOf(KeyNotFoundError);
        await expect(store.update('/a/1', 'v', { modRevision: 99 })).rejects.toBeInstanceOf(PreconditionFailedError);
        expect(await store.currentRevision()).toBe(1);
        expect((await store.create('/a/2', 'y')).modRevision).toBe(2);
      });

      it('gives a re-created key a new createRevision', async () => {
        await store.create('/a/k', 'one');
        await store.delete('/a/k');
        const again = await store.create('/a/k', 'two');
        expect(again).toEqual({ key: '/a/k', value: 'two', createRevision: 3, modRevision: 3 });
        expect(await store.get('/a/k')).toEqual(again);
      });

      it('stores values verbatim', async () => {
        const values = ['', ' ', '{"a":1}', 'ünïcödé ✓ 𝄞', 'line\nbreak\ttab', '\u0000nul'];
        for (const [i, v] of values.entries()) await store.create(`/v/${i}`, v);
        for (const [i, v] of values.entries()) expect((await store.get(`/v/${i}`))!.value).toBe(v);
      });
    });

    describe('errors and preconditions', () => {
      it('rejects create of an existing key with KeyExistsError', async () => {
        await store.create('/a/x', '1');
        const err = await store.create('/a/x', '2').catch((e: unknown) => e);
        expect(err).toBeInstanceOf(KeyExistsError);
        expect(err).toBeInstanceOf(StorageError);
        expect((err as KeyExistsError).key).toBe('/a/x');
        expect((await store.get('/a/x'))!.value).toBe('1');
      });

      it('rejects update and delete of a missing or deleted key with KeyNotFoundError', async () => {
        await expect(store.update('/a/x', '1')).rejects.toMatchObject({ name: 'KeyNotFoundError', key: '/a/x' });
        await expect(store.delete('/a/x')).rejects.toBeInstanceOf(KeyNotFoundError);
        await store.create('/a/x', '1');
        await store.delete('/a/x');
        await expect(store.update('/a/x', '2')).rejects.toBeInstanceOf(KeyNotFoundError);
        await expect(store.delete('/a/x')).rejects.toBeInstanceOf(KeyNotFoundError);
        await expect(store.update('/a/x', '2', { modRevision: 2 })).rejects.toBeInstanceOf(KeyNotFoundError);
      });

      it('checks modRevision preconditions on update and delete', async () => {
        const c = await store.create('/a/x', '1');
        await store.create('/a/y', 'other'); // moves the global revision on
        const err = await store.update('/a/x', '2', { modRevision: c.modRevision + 1 }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(PreconditionFailedError);
        expect(err).toMatchObject({ key: '/a/x', expected: c.modRevision + 1, actual: c.modRevision });
        expect((await store.get('/a/x'))!.value).toBe('1');

        const u = await store.update('/a/x', '2', { modRevision: c.modRevision });
        expect(u.modRevision).toBe(3);
        await expect(store.update('/a/x', '3', { modRevision: c.modRevision })).rejects.toBeInstanceOf(
          PreconditionFailedError,
        );
        await expect(store.delete('/a/x', { modRevision: c.modRevision })).rejects.toMatchObject({
          name: 'PreconditionFailedError',
          expected: c.modRevision,
          actual: u.modRevision,
        });
        expect(await store.get('/a/x')).toEqual(u);
        const d = await store.delete('/a/x', { modRevision: u.modRevision });
        expect(d).toEqual({ key: '/a/x', value: '2', createRevision: 1, modRevision: 4 });
        expect(await store.get('/a/x')).toBeNull();
      });

      it('keeps a counter exact under 20 concurrent read-modify-write loops', async () => {
        const key = '/counter/c';
        await store.create(key, '0');
        const loops = 20;
        const perLoop = 10;
        let conflicts = 0;
        const worker = async (): Promise<void> => {
          for (let done = 0; done < perLoop;) {
            const cur = (await store.get(key))!;
            try {
              await store.update(key, String(Number(cur.value) + 1), { modRevision: cur.modRevision });
              done++;
            } catch (err) {
              if (!(err instanceof PreconditionFailedError)) throw err;
              conflicts++;
            }
          }
        };
        await Promise.all(Array.from({ length: loops }, worker));
        const final = (await store.get(key))!;
        expect(Number(final.value)).toBe(loops * perLoop);
        expect(final.modRevision).toBe(1 + loops * perLoop);
        expect(await store.currentRevision()).toBe(1 + loops * perLoop);
        expect(conflicts).toBeGreaterThan(0); // the loops really raced
      });

      it('lets exactly one of many concurrent creates of a key win', async () => {
        const results = await Promise.allSettled(
          Array.from({ length: 10 }, (_, i) => store.create('/race/k', `w${i}`)),
        );
        const ok = results.filter((r) => r.status === 'fulfilled');
        expect(ok).toHaveLength(1);
        for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(KeyExistsError);
        expect((await store.get('/race/k'))!.value).toBe((ok[0] as PromiseFulfilledResult<KeyValue>).value.value);
        expect(await store.currentRevision()).toBe(1);
      });
    });

    describe('list and count', () => {
      it('lists in key order and isolates prefixes', async () => {
        for (const k of ['/a/c', '/ab/x', '/a/a', '/a', '/a/b/deep', '/a/b', '/b/a', '/a0', '/a/']) {
          await store.create(k, `v${k}`);
        }
        const r = await store.list('/a/');
        expect(r.items.map((kv) => kv.key)).toEqual(['/a/', '/a/a', '/a/b', '/a/b/deep', '/a/c']);
        expect(r.revision).toBe(9);
        expect(r.more).toBe(false);
        expect(r.remaining).toBe(0);
        expect((await store.list('/ab/')).items.map((kv) => kv.key)).toEqual(['/ab/x']);
        expect((await store.list('/a/b/')).items.map((kv) => kv.key)).toEqual(['/a/b/deep']);
        expect((await store.list('/c/')).items).toEqual([]);
        expect(await store.count('/a/')).toBe(5);
        expect(await store.count('/ab/')).toBe(1);
        expect(await store.count('/')).toBe(9);
        const item = r.items.find((kv) => kv.key === '/a/b')!;
        expect(item).toEqual(await store.get('/a/b'));
      });

      it('treats % and _ in keys and prefixes literally', async () => {
        const keys = ['/p%/a', '/p_/a', '/pX/a', '/p%x/a', '/p__/a', '/q/a%b', '/q/a_b', '/q/aXb', '/q/a\\b'];
        for (const k of keys) await store.create(k, k);
        expect((await store.list('/p%/')).items.map((kv) => kv.key)).toEqual(['/p%/a']);
        expect((await store.list('/p_/')).items.map((kv) => kv.key)).toEqual(['/p_/a']);
        expect(await store.count('/p_/')).toBe(1);
        expect(await store.count('/p%/')).toBe(1);
        expect((await store.list('/q/')).items.map((kv) => kv.key)).toEqual(
          ['/q/a%b', '/q/a_b', '/q/aXb', '/q/a\\b'].sort(byteOrder),
        );
        expect(await store.get('/q/a%b')).not.toBeNull();
        expect(await store.get('/q/a%')).toBeNull();
        const pct = watchOn('/p_/', 0);
        await store.update('/pX/a', 'changed');
        await store.update('/p_/a', 'changed');
        await pct.waitForEvents(1);
        await settle();
        expect(pct.events.map((e) => e.key)).toEqual(['/p_/a']);
      });

      it('orders keys bytewise, including non-ASCII keys', async () => {
        const keys = ['/u/b', '/u/B', '/u/ä', '/u/z', '/u/a-b', '/u/a.b', '/u/a/b', '/u/€', '/u/𝄞'];
        for (const k of keys) await store.create(k, '1');
        expect((await store.list('/u/')).items.map((kv) => kv.key)).toEqual([...keys].sort(byteOrder));
        expect(await pagedList(store, '/u/', 2)).toHaveLength(keys.length);
      });

      it('excludes deleted keys and counts live ones', async () => {
        await store.create('/a/1', '1');
        await store.create('/a/2', '2');
        await store.create('/a/3', '3');
        await store.delete('/a/2');
        expect((await store.list('/a/')).items.map((kv) => kv.key)).toEqual(['/a/1', '/a/3']);
        expect(await store.count('/a/')).toBe(2);
        await store.create('/a/2', 'back');
        expect((await store.list('/a/')).items.map((kv) => kv.value)).toEqual(['1', 'back', '3']);
        expect(await store.count('/a/')).toBe(3);
      });

      it('paginates with startAfter and limit, reporting more and remaining', async () => {
        const keys = Array.from({ length: 25 }, (_, i) => `/p/k${String(i).padStart(2, '0')}`);
        for (const k of keys) await store.create(k, k);
        await store.create('/pz/after', 'x');
        await store.create('/o/before', 'x');

        const p1 = await store.list('/p/', { limit: 10 });
        expect(p1.items.map((kv) => kv.key)).toEqual(keys.slice(0, 10));
        expect(p1).toMatchObject({ more: true, remaining: 15, revision: 27 });
        const p2 = await store.list('/p/', { limit: 10, startAfter: p1.items[9]!.key });
        expect(p2.items.map((kv) => kv.key)).toEqual(keys.slice(10, 20));
        expect(p2).toMatchObject({ more: true, remaining: 5 });
        const p3 = await store.list('/p/', { limit: 10, startAfter: p2.items[9]!.key });
        expect(p3.items.map((kv) => kv.key)).toEqual(keys.slice(20));
        expect(p3).toMatchObject({ more: false, remaining: 0 });

        // exact fit: no more
        const exact = await store.list('/p/', { limit: 5, startAfter: keys[19] });
        expect(exact).toMatchObject({ more: false, remaining: 0 });
        expect(exact.items).toHaveLength(5);
        // startAfter alone, a cursor that is not a key, one before the prefix and one after it
        expect((await store.list('/p/', { startAfter: keys[22] })).items.map((kv) => kv.key)).toEqual(keys.slice(23));
        expect((await store.list('/p/', { startAfter: '/p/k05x', limit: 2 })).items.map((kv) => kv.key)).toEqual(
          keys.slice(6, 8),
        );
        expect((await store.list('/p/', { startAfter: '/a', limit: 1 })).items[0]!.key).toBe(keys[0]);
        expect(await store.list('/p/', { startAfter: '/q' })).toMatchObject({ items: [], more: false, remaining: 0 });
        expect(await store.list('/p/', { startAfter: keys[24] })).toMatchObject({ items: [], more: false });
        // limit 0 means no limit
        expect((await store.list('/p/', { limit: 0 })).items).toHaveLength(25);
        expect((await store.list('/p/', { limit: 1 })).remaining).toBe(24);
      });

      it('paginates a consistent snapshot at a past revision while writes continue', async () => {
        const keys = Array.from({ length: 30 }, (_, i) => `/s/k${String(i).padStart(2, '0')}`);
        for (const k of keys) await store.create(k, 'old');
        const rev = await store.currentRevision();
        const first = await store.list('/s/', { limit: 7 });
        expect(first.revision).toBe(rev);
        // writes between pages must not show up in later pages read at the same revision
        await store.delete(keys[10]!);
        await store.update(keys[20]!, 'new');
        await store.create('/s/k15x', 'new');
        await store.delete(keys[2]!);
        const all = [...first.items];
        let page = first;
        while (page.more) {
          page = await store.list('/s/', { limit: 7, startAfter: all[all.length - 1]!.key, revision: rev });
          expect(page.revision).toBe(rev);
          expect(page.remaining).toBe(Math.max(0, 30 - all.length - page.items.length));
          all.push(...page.items);
        }
        expect(all.map((kv) => kv.key)).toEqual(keys);
        expect(all.every((kv) => kv.value === 'old')).toBe(true);
        const now = await pagedList(store, '/s/', 7);
        expect(now).toHaveLength(29);
        expect(now.find((kv) => kv.key === keys[20])!.value).toBe('new');
      });

      it('lists at every past revision exactly as the state was (random history)', async () => {
        const model = new Model();
        await randomWrites(store, model, 120, 42);
        const current = await store.currentRevision();
        expect(current).toBe(120);
        for (let rev = 1; rev <= current; rev++) {
          const want = model.listAt('/m/', rev);
          const got = await store.list('/m/', { revision: rev });
          expect(got.revision).toBe(rev);
          expect(got.items).toEqual(want);
          if (rev % 10 === 0) {
            expect(await pagedList(store, '/m/', 3, rev)).toEqual(want);
            const page = await store.list('/m/', { revision: rev, limit: 2 });
            expect(page.more).toBe(want.length > 2);
            expect(page.remaining).toBe(Math.max(0, want.length - 2));
          }
        }
        expect((await store.list('/m/')).items).toEqual(model.listAt('/m/', current));
        expect(await store.count('/m/')).toBe(model.listAt('/m/', current).length);
        for (const kv of model.listAt('/', current)) expect(await store.get(kv.key)).toEqual(kv);
      });

      it('rejects a list at a future revision with FutureRevisionError', async () => {
        await store.create('/a/1', '1');
        const err = await store.list('/a/', { revision: 2 }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(FutureRevisionError);
        expect(err).toMatchObject({ requested: 2, current: 1 });
        expect((await store.list('/a/', { revision: 1 })).items).toHaveLength(1);
      });

      it('handles a 2 MiB value', async () => {
        const big = 'x'.repeat(2 * 1024 * 1024 - 10) + 'end-marker';
        const r = watchOn('/big/', 0);
        const c = await store.create('/big/one', big);
        expect(c.value.length).toBe(big.length);
        expect((await store.get('/big/one'))!.value).toBe(big);
        const l = await store.list('/big/');
        expect(l.items[0]!.value).toBe(big);
        const bigger = big + big;
        await store.update('/big/one', bigger);
        expect((await store.get('/big/one'))!.value).toBe(bigger);
        expect((await store.list('/big/', { revision: c.modRevision })).items[0]!.value).toBe(big);
        await r.waitForEvents(2);
        expect(r.events[1]!.value).toBe(bigger);
        expect(r.events[1]!.prevValue).toBe(big);
      });

      it('handles 5,000 keys written in one concurrent batch, listed in pages of 500', async () => {
        const n = 5000;
        const keys = Array.from({ length: n }, (_, i) => `/many/obj-${String(i).padStart(5, '0')}`);
        // create in a shuffled order, so key order differs from revision order
        const rand = rng(1);
        const shuffled = [...keys];
        for (let i = shuffled.length - 1; i > 0; i--) {
          const j = Math.floor(rand() * (i + 1));
          [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
        }
        const created = await Promise.all(shuffled.map((k) => store.create(k, `{"name":"${k}"}`)));
        expect(new Set(created.map((kv) => kv.modRevision)).size).toBe(n);
        await store.create('/manyx/outside', 'x');
        expect(await store.count('/many/')).toBe(n);
        const seen: string[] = [];
        let startAfter: string | undefined;
        let pages = 0;
        for (;;) {
          const page = await store.list('/many/', { limit: 500, startAfter });
          pages++;
          expect(page.items.length).toBeLessThanOrEqual(500);
          seen.push(...page.items.map((kv) => kv.key));
          expect(page.remaining).toBe(n - seen.length);
          if (!page.more) break;
          startAfter = page.items[page.items.length - 1]!.key;
        }
        expect(pages).toBe(10);
        expect(seen).toEqual(keys);
        // and at a past revision (half of them written)
        const half = await store.list('/many/', { revision: n / 2, limit: 500 });
        expect(half.remaining).toBe(n / 2 - 500);
      });
    });

    describe('watch', () => {
      it('delivers live events in revision order with values, prevValues and createRevisions', async () => {
        await store.create('/w/existing', 'e0');
        const r = watchOn('/w/', 0);
        const other = watchOn('/x/', 0);
        await store.create('/w/a', 'a1');
        await store.create('/x/ignored', 'nope');
        await store.update('/w/a', 'a2');
        await store.update('/w/existing', 'e1');
        await store.delete('/w/a');
        await store.create('/w/a', 'a3');
        await store.create('/wx/ignored', 'nope');
        // Each watch is waited for: on a loaded machine the second one's event can come after the
        // first watch's five and the settle pause.
        await Promise.all([r.waitForEvents(5), other.waitForEvents(1)]);
        await settle();
        expect(r.events.map(ev)).toEqual([
          { type: 'PUT', key: '/w/a', value: 'a1', createRevision: 2, revision: 2 },
          { type: 'PUT', key: '/w/a', value: 'a2', prevValue: 'a1', createRevision: 2, revision: 4 },
          { type: 'PUT', key: '/w/existing', value: 'e1', prevValue: 'e0', createRevision: 1, revision: 5 },
          { type: 'DELETE', key: '/w/a', value: 'a2', prevValue: 'a2', createRevision: 2, revision: 6 },
          { type: 'PUT', key: '/w/a', value: 'a3', createRevision: 7, revision: 7 },
        ]);
        expect(r.errors).toEqual([]);
        expect(other.events.map((e) => e.key)).toEqual(['/x/ignored']);
      });

      it('with afterRevision 0 starts from now and sees no history', async () => {
        await store.create('/w/old', '1');
        await store.update('/w/old', '2');
        const r = watchOn('/w/', 0);
        await settle();
        expect(r.events).toEqual([]);
        await store.update('/w/old', '3');
        await r.waitForEvents(1);
        expect(r.events.map(ev)).toEqual([
          { type: 'PUT', key: '/w/old', value: '3', prevValue: '2', createRevision: 1, revision: 3 },
        ]);
      });

      it('never runs watcher code inside a write call', async () => {
        const r = watchOn('/w/', 0);
        const p = store.create('/w/a', '1');
        expect(r.events).toHaveLength(0);
        await p;
        await r.waitForEvents(1);
        expect(r.events).toHaveLength(1);
      });

      it('replays exactly the missed events from a past revision, then continues live', async () => {
        const model = new Model();
        await randomWrites(store, model, 60, 7, '/w/');
        for (const after of [1, 17, 30, 59]) {
          const r = watchOn('/w/', after);
          const want = model.eventsAfter('/w/', after);
          await r.waitForEvents(want.length);
          await settle();
          expect(r.events.map(ev)).toEqual(want);
          r.watch.stop();
        }
        // now replay + live
        const r = watchOn('/w/', 20);
        await randomWrites(store, model, 20, 8, '/w/');
        const want = model.eventsAfter('/w/', 20);
        await r.waitForEvents(want.length);
        await settle();
        expect(r.events.map(ev)).toEqual(want);
        expect(r.errors).toEqual([]);
      });

      it('has no gaps or duplicates when writes race with a long replay', async () => {
        const n = 2500;
        // history: creates then updates under /h/, with other prefixes interleaved
        await Promise.all(Array.from({ length: n }, (_, i) => store.create(`/h/${i % 100}/${i}`, `c${i}`)));
        await store.create('/hh/outside', 'x');
        const startRev = 10;
        const r = watchOn('/h/', startRev);
        const w2 = watchOn('/h/', 1234);
        // concurrent writers while the replay runs
        const extra = 300;
        const writers = (async () => {
          for (let i = 0; i < extra; i++) {
            await store.update(`/h/${i % 100}/${i}`, `u${i}`);
            if (i % 10 === 0) await new Promise((res) => setImmediate(res));
          }
        })();
        await writers;
        const total = n - startRev + extra;
        await r.waitForEvents(total, 60000);
        await w2.waitForEvents(n - 1234 + extra, 60000);
        await settle();
        expect(r.events).toHaveLength(total);
        const current = await store.currentRevision();
        const expectRevs = (events: WatchEvent[], after: number): void => {
          const revs = events.map((e) => e.revision);
          const want: number[] = [];
          for (let rev = after + 1; rev <= current; rev++) if (rev !== n + 1) want.push(rev); // n+1 is /hh/outside
          expect(revs).toEqual(want);
        };
        expectRevs(r.events, startRev);
        expectRevs(w2.events, 1234);
        const updates = r.events.filter((e) => e.value.startsWith('u'));
        expect(updates).toHaveLength(extra);
        expect(updates.every((e) => e.prevValue === `c${e.key.split('/')[3]}`)).toBe(true);
      });

      it('replays prevValue for updates and deletes', async () => {
        await store.create('/w/a', 'a1'); // 1
        await store.update('/w/a', 'a2'); // 2
        await store.delete('/w/a'); // 3
        await store.create('/w/a', 'a3'); // 4
        const r = watchOn('/w/', 1);
        await r.waitForEvents(3);
        expect(r.events.map(ev)).toEqual([
          { type: 'PUT', key: '/w/a', value: 'a2', prevValue: 'a1', createRevision: 1, revision: 2 },
          { type: 'DELETE', key: '/w/a', value: 'a2', prevValue: 'a2', createRevision: 1, revision: 3 },
          { type: 'PUT', key: '/w/a', value: 'a3', createRevision: 4, revision: 4 },
        ]);
      });

      it('waits when watching from a future revision', async () => {
        await store.create('/w/a', '1'); // 1
        const r = watchOn('/w/', 3);
        await store.update('/w/a', '2'); // 2
        await store.update('/w/a', '3'); // 3
        await store.update('/w/a', '4'); // 4
        await r.waitForEvents(1);
        await settle();
        expect(r.events.map((e) => e.revision)).toEqual([4]);
        expect(r.errors).toEqual([]);
      });

      it('stops delivery on stop(), also when called from a callback, and stop is idempotent', async () => {
        const r = watchOn('/w/', 0);
        await store.create('/w/a', '1');
        await r.waitForEvents(1);
        r.watch.stop();
        r.watch.stop();
        await store.update('/w/a', '2');
        await settle();
        expect(r.events).toHaveLength(1);

        // stop inside onEvent: nothing after it, even events already queued
        const got: WatchEvent[] = [];
        const w = store.watch('/w/', 0, {
          onEvent: (e) => {
            got.push(e);
            w.stop();
          },
          onError: () => {
            throw new Error('no error expected');
          },
        });
        watches.push(w);
        await Promise.all([store.update('/w/a', '3'), store.update('/w/a', '4'), store.update('/w/a', '5')]);
        await settle();
        expect(got).toHaveLength(1);

        // stop before anything was delivered, during a replay
        const r2 = watchOn('/w/', 1);
        r2.watch.stop();
        await store.update('/w/a', '6');
        await settle();
        expect(r2.events).toEqual([]);
        expect(r2.errors).toEqual([]);
      });

      it('survives a throwing callback', async () => {
        const good = watchOn('/w/', 0);
        const bad = store.watch('/w/', 0, {
          onEvent: () => {
            throw new Error('boom');
          },
          onError: () => undefined,
        });
        watches.push(bad);
        await store.create('/w/a', '1');
        await store.update('/w/a', '2');
        await good.waitForEvents(2);
        expect((await store.get('/w/a'))!.value).toBe('2');
        await store.delete('/w/a');
        await good.waitForEvents(3);
        expect(good.errors).toEqual([]);
      });

      it('delivers every event exactly once to each of many watchers', async () => {
        const rs = Array.from({ length: 25 }, (_, i) => watchOn(i % 2 ? '/w/' : '/', 0));
        await Promise.all(Array.from({ length: 40 }, (_, i) => store.create(`/w/${i}`, `${i}`)));
        for (const r of rs) {
          await r.waitForEvents(40);
        }
        await settle();
        for (const r of rs)
          expect(r.events.map((e) => e.revision)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
      });
    });

    describe('compaction', () => {
      it('keeps current values, lists at and after the compacted revision, rejects earlier ones', async () => {
        const model = new Model();
        await randomWrites(store, model, 80, 99);
        const C = 50;
        await store.compact(C);
        expect(await store.compactedRevision()).toBe(C);
        const current = await store.currentRevision();
        expect(current).toBe(80);

        for (const rev of [1, 10, C - 1]) {
          const err = await store.list('/m/', { revision: rev }).catch((e: unknown) => e);
          expect(err).toBeInstanceOf(CompactedError);
          expect(err).toMatchObject({ requested: rev, compacted: C });
        }
        for (let rev = C; rev <= current; rev++) {
          expect((await store.list('/m/', { revision: rev })).items).toEqual(model.listAt('/m/', rev));
        }
        expect((await store.list('/m/')).items).toEqual(model.listAt('/m/', current));
        for (const kv of model.listAt('/', current)) expect(await store.get(kv.key)).toEqual(kv);
        expect(await store.count('/m/')).toBe(model.listAt('/m/', current).length);

        // writes continue with the next revision
        const next = await store.create('/m/new', 'n');
        expect(next.modRevision).toBe(current + 1);
      });

      it('fails a watch after a compacted revision with CompactedError, asynchronously', async () => {
        const model = new Model();
        await randomWrites(store, model, 40, 5, '/w/');
        await store.compact(30);
        let sync = true;
        let calledSync = false;
        const errors: Error[] = [];
        const events: WatchEvent[] = [];
        const w = store.watch('/w/', 29, {
          onEvent: (e) => events.push(e),
          onError: (err) => {
            calledSync ||= sync;
            errors.push(err);
          },
        });
        watches.push(w);
        sync = false;
        await waitUntil(() => errors.length > 0);
        expect(calledSync).toBe(false);
        expect(errors[0]).toBeInstanceOf(CompactedError);
        expect(errors[0]).toMatchObject({ requested: 29, compacted: 30 });
        await store.update('/w/k0', 'late').catch(() => store.create('/w/k0', 'late'));
        await settle();
        expect(events).toEqual([]);
        expect(errors).toHaveLength(1);

        // a watch after exactly the compacted revision replays everything after it
        const r = watchOn('/w/', 30);
        const want = model.eventsAfter('/w/', 30);
        await r.waitForEvents(want.length + 1);
        expect(r.events.slice(0, want.length).map(ev)).toEqual(want);
        expect(r.errors).toEqual([]);
      });

      it('removes deleted keys from history and can compact to the current revision', async () => {
        await store.create('/c/a', '1'); // 1
        await store.create('/c/b', '1'); // 2
        await store.delete('/c/b'); // 3
        await store.update('/c/a', '2'); // 4
        await store.delete('/c/a'); // 5
        await store.create('/c/z', 'z'); // 6
        await store.compact(6);
        expect(await store.compactedRevision()).toBe(6);
        expect(await store.list('/c/')).toMatchObject({ items: [{ key: '/c/z', value: 'z' }], revision: 6 });
        expect((await store.list('/c/', { revision: 6 })).items.map((kv) => kv.key)).toEqual(['/c/z']);
        await expect(store.list('/c/', { revision: 5 })).rejects.toBeInstanceOf(CompactedError);
        expect(await store.get('/c/a')).toBeNull();
        // deleted keys can be created again, revisions keep counting
        expect(await store.create('/c/a', 'again')).toMatchObject({ createRevision: 7, modRevision: 7 });
        // a watch after the compacted (= current) revision is live
        const r = watchOn('/c/', 7);
        await store.update('/c/z', 'z2');
        await r.waitForEvents(1);
        expect(r.events.map(ev)).toEqual([
          { type: 'PUT', key: '/c/z', value: 'z2', prevValue: 'z', createRevision: 6, revision: 8 },
        ]);
      });

      it('keeps prevValue of events after the compacted revision', async () => {
        await store.create('/c/a', 'a1'); // 1
        await store.create('/c/b', 'b1'); // 2
        await store.update('/c/a', 'a2'); // 3
        await store.update('/c/b', 'b2'); // 4
        await store.delete('/c/a'); // 5
        await store.compact(3);
        const r = watchOn('/c/', 3);
        await r.waitForEvents(2);
        expect(r.events.map(ev)).toEqual([
          { type: 'PUT', key: '/c/b', value: 'b2', prevValue: 'b1', createRevision: 2, revision: 4 },
          { type: 'DELETE', key: '/c/a', value: 'a2', prevValue: 'a2', createRevision: 1, revision: 5 },
        ]);
      });

      it('ignores compaction below the compacted revision and rejects one beyond the current', async () => {
        for (let i = 0; i < 10; i++) await store.create(`/c/${i}`, `${i}`);
        await store.compact(5);
        await store.compact(3);
        expect(await store.compactedRevision()).toBe(5);
        await expect(store.compact(11)).rejects.toBeInstanceOf(FutureRevisionError);
        expect(await store.compactedRevision()).toBe(5);
        expect((await store.list('/c/', { revision: 5 })).items).toHaveLength(5);
      });

      it('fails a watch that is still replaying when its position gets compacted', async () => {
        await Promise.all(Array.from({ length: 50 }, (_, i) => store.create(`/c/k${i}`, 'c')));
        await Promise.all(Array.from({ length: 2950 }, (_, i) => store.update(`/c/k${i % 50}`, `${i}`)));
        const current = await store.currentRevision();
        expect(current).toBe(3000);
        const r: { events: WatchEvent[]; errors: Error[] } = { events: [], errors: [] };
        let compaction: Promise<void> | undefined;
        const w = store.watch('/c/', 1, {
          onEvent: (e) => {
            r.events.push(e);
            // compact everything as soon as the replay has started delivering
            compaction ??= store.compact(current);
          },
          onError: (err) => r.errors.push(err),
        });
        watches.push(w);
        await waitUntil(() => r.errors.length > 0 || r.events.length === current - 1);
        await compaction;
        await settle();
        expect(await store.compactedRevision()).toBe(current);
        // either the replay won completely, or it ended with CompactedError: never a silent gap
        if (r.errors.length > 0) {
          expect(r.errors[0]).toBeInstanceOf(CompactedError);
          const revs = r.events.map((e) => e.revision);
          expect(revs).toEqual(Array.from({ length: revs.length }, (_, i) => i + 2));
        } else {
          expect(r.events.map((e) => e.revision)).toEqual(Array.from({ length: current - 1 }, (_, i) => i + 2));
        }
      });
    });

    describe('close', () => {
      it('ends open watches with a StorageError', async () => {
        const r = watchOn('/w/', 0);
        await store.create('/w/a', '1');
        await store.create('/w/b', '1');
        const replaying = watchOn('/w/', 1);
        await store.close();
        const err = await r.waitForError();
        expect(err).toBeInstanceOf(StorageError);
        await replaying.waitForError();
        expect(replaying.errors[0]).toBeInstanceOf(StorageError);
        await expect(store.get('/w/a')).rejects.toBeInstanceOf(StorageError);
        const late = record(store, '/w/', 0);
        expect(await late.waitForError()).toBeInstanceOf(StorageError);
      });
    });
  });
}
