// Two EtcdStores (two API server replicas) on a three-member etcd cluster, under concurrent
// create + preconditioned-update load through both, while one member (the raft leader, unless
// it serves none of the watches) is killed with SIGKILL: no acknowledged write is lost, the
// watches of both stores see every event once and in the same order (the complete, gap-free
// revision sequence, also those whose stream was on the killed member), and both stores keep
// serving.

import { randomBytes } from 'node:crypto';

import {
  KeyExistsError,
  PreconditionFailedError,
  StorageError,
  type KeyValue,
  type Store,
  type WatchEvent,
} from '../../src/storage/interface.js';
import { openEtcdStore, type EtcdStore } from '../../src/storage/etcd/store.js';
import { startEtcdCluster, type EtcdCluster } from '../../src/storage/etcd/testing/etcd.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

interface Ack {
  store: string;
  key: string;
  value: string;
  revision: number;
  at: number;
}

interface Stats {
  acked: Ack[];
  ambiguous: number;
  failed: number;
  errors: Map<string, number>;
}

/** Reads a key until the store answers (or `until` passes); null when it does not exist. */
async function readBack(store: Store, key: string, until: number): Promise<KeyValue | null | undefined> {
  while (Date.now() < until + 10000) {
    try {
      return await store.get(key);
    } catch (err) {
      if (!(err instanceof StorageError)) throw err;
      await sleep(50);
    }
  }
  return undefined;
}

/** One writer: creates keys and updates each twice with a modRevision precondition. */
async function worker(name: string, store: Store, stopAt: number, stats: Stats): Promise<void> {
  const note = (err: unknown): void => {
    if (!(err instanceof StorageError)) throw err;
    const kind =
      err.name === 'EtcdRequestError' ? `${err.name}: ${err.message.replace(/^.*?: /, '').slice(0, 60)}` : err.name;
    stats.errors.set(kind, (stats.errors.get(kind) ?? 0) + 1);
    if ((err as { mayHaveSucceeded?: boolean }).mayHaveSucceeded) stats.ambiguous++;
    else stats.failed++;
  };
  const ack = (kv: KeyValue): void => {
    stats.acked.push({ store: name, key: kv.key, value: kv.value, revision: kv.modRevision, at: Date.now() });
  };
  for (let i = 0; Date.now() < stopAt; i++) {
    const key = `/load/${name}/${i}`;
    let cur: KeyValue | null | undefined;
    try {
      cur = await store.create(key, `${name}-${i}-c`);
      ack(cur);
    } catch (err) {
      if (err instanceof KeyExistsError) throw err; // keys are unique per worker
      note(err);
      cur = await readBack(store, key, stopAt); // did the create happen after all?
      if (!cur) continue;
    }
    for (let u = 1; u <= 2 && Date.now() < stopAt; u++) {
      const value = `${name}-${i}-u${u}`;
      try {
        cur = await store.update(key, value, { modRevision: cur!.modRevision });
        ack(cur);
      } catch (err) {
        // a PreconditionFailedError means an ambiguous earlier update did apply
        if (!(err instanceof PreconditionFailedError)) note(err);
        cur = await readBack(store, key, stopAt);
        if (!cur) break;
      }
    }
  }
}

function recordWatch(store: Store, after: number): { events: WatchEvent[]; errors: Error[] } {
  const events: WatchEvent[] = [];
  const errors: Error[] = [];
  store.watch('/load/', after, { onEvent: (e) => events.push(e), onError: (e) => errors.push(e) });
  return { events, errors };
}

describe('EtcdStore on a three-member etcd cluster', () => {
  let cluster: EtcdCluster | undefined;
  const stores: EtcdStore[] = [];

  afterAll(async () => {
    for (const s of stores) await s.close();
    await cluster?.stop();
  });

  it('loses no acknowledged write and no watch event when a member is killed mid-load', async () => {
    cluster = await startEtcdCluster(3);
    const prefix = `/e2e-${randomBytes(4).toString('hex')}`;
    const a = openEtcdStore({ endpoints: cluster.endpoints, prefix, requestTimeoutMs: 8000 });
    const b = openEtcdStore({ endpoints: cluster.endpoints, prefix, requestTimeoutMs: 8000 });
    stores.push(a, b);
    const start = await a.currentRevision();
    // three watches per store, so that some of them are likely served by the member killed below
    const watches = [a, b, a, b, a, b].map((s) => recordWatch(s, start));
    const wa = watches[0]!;

    const stats: Stats = { acked: [], ambiguous: 0, failed: 0, errors: new Map() };
    // Writes stuck at a killed leader fail only after etcd's 7 s request timeout: keep the load
    // running well past that, so each store shows acknowledged writes after the election.
    const loadMs = 14000;
    const t0 = Date.now();
    const stopAt = t0 + loadMs;
    const load = Promise.all(
      ['a', 'b'].flatMap((s) =>
        Array.from({ length: 6 }, (_, w) => worker(`${s}${w}`, s === 'a' ? a : b, stopAt, stats)),
      ),
    );

    await sleep(3000);
    // kill the leader if it serves one of the watches, else the member serving the most
    // watches: writes lose their leader and/or watch streams must resume on another member
    const leader = await cluster.leaderIndex();
    expect(leader).toBeGreaterThanOrEqual(0);
    const served = await Promise.all(cluster.members.map((m) => m.watcherCount()));
    expect(served.reduce((x, y) => x + y, 0)).toBe(watches.length);
    const victim = served[leader]! > 0 ? leader : served.indexOf(Math.max(...served));
    const killedAt = Date.now();
    cluster.members[victim]!.kill('SIGKILL');
    await load;
    const loadEnd = Date.now();

    // both stores keep serving: acknowledged writes after the kill through each, and now
    const after = stats.acked.filter((x) => x.at > killedAt + 2000);
    expect(after.filter((x) => x.store.startsWith('a')).length).toBeGreaterThan(0);
    expect(after.filter((x) => x.store.startsWith('b')).length).toBeGreaterThan(0);
    const probeA = await a.create('/load/final/a', 'x');
    const probeB = await b.create('/load/final/b', 'y');
    expect((await b.get('/load/final/a'))!.value).toBe('x');
    expect((await a.get('/load/final/b'))!.value).toBe('y');

    // every write since `start` is under /load/, so both watches must see start+1 .. current
    const current = await a.currentRevision();
    expect(current).toBe(probeB.modRevision);
    expect(probeB.modRevision).toBeGreaterThan(probeA.modRevision);
    const last = (w: { events: WatchEvent[] }): number => w.events[w.events.length - 1]?.revision ?? 0;
    await waitFor('the watches to reach the current revision', () => watches.every((w) => last(w) >= current), 20000);
    for (const w of watches) expect(w.errors).toEqual([]);
    const revs = wa.events.map((e) => e.revision);
    expect(revs).toEqual(Array.from({ length: current - start }, (_, i) => start + 1 + i));
    for (const w of watches.slice(1)) expect(w.events).toEqual(wa.events);
    // the watches on the killed member resumed on another one
    expect(a.stats().watchStreamsLost + b.stats().watchStreamsLost).toBeGreaterThanOrEqual(served[victim]!);

    // no acknowledged write lost: each is in the history with its value and revision...
    const byRevision = new Map(wa.events.map((e) => [e.revision, e]));
    const lost = stats.acked.filter((x) => {
      const e = byRevision.get(x.revision);
      return e?.type !== 'PUT' || e.key !== x.key || e.value !== x.value;
    });
    expect(lost).toEqual([]);
    // ...and the state read through both stores is the history's final state
    const model = new Map<string, { value: string; modRevision: number }>();
    for (const e of wa.events) model.set(e.key, { value: e.value, modRevision: e.revision });
    const listA = await a.list('/load/');
    const listB = await b.list('/load/', { revision: listA.revision });
    expect(listB.items).toEqual(listA.items);
    expect(new Map(listA.items.map((kv) => [kv.key, { value: kv.value, modRevision: kv.modRevision }]))).toEqual(model);
    // the last acknowledged write of each key is its final value (workers write each key alone)
    const lastAck = new Map<string, Ack>();
    for (const x of stats.acked) if ((lastAck.get(x.key)?.revision ?? 0) < x.revision) lastAck.set(x.key, x);
    const overwritten = [...lastAck.values()].filter((x) => !(model.get(x.key)!.modRevision >= x.revision));
    expect(overwritten).toEqual([]);

    const summary = {
      loadMs: loadEnd - t0,
      killedMember: `${cluster.members[victim]!.name}${victim === leader ? ' (leader)' : ''}`,
      watchesOnKilledMember: served[victim],
      acknowledgedWrites: stats.acked.length,
      writesPerSecond: Math.round(stats.acked.length / ((loadEnd - t0) / 1000)),
      acknowledgedAfterKill: stats.acked.filter((x) => x.at > killedAt).length,
      failedNotApplied: stats.failed,
      failedOutcomeUnknown: stats.ambiguous,
      errorKinds: Object.fromEntries(stats.errors),
      events: wa.events.length,
      watchStreamsLost: a.stats().watchStreamsLost + b.stats().watchStreamsLost,
      requestRetries: a.stats().requestRetries + b.stats().requestRetries,
    };
    console.log(`etcd cluster load: ${JSON.stringify(summary)}`);
  }, 90000);
});
