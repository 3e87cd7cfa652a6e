import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { createCA, issueClientCert, issueServingCert } from '../../pki/certs.js';

import { record, runStoreConformance, settle, waitUntil } from '../testing/conformance.js';
import { CompactedError, FutureRevisionError, StorageError, type WatchEvent } from '../interface.js';
import { EtcdRequestError, openEtcdStore, type EtcdStore, type EtcdStoreOptions } from './store.js';
import { startEtcd, type EtcdServer } from './testing/etcd.js';

let etcd: EtcdServer;
const opened: EtcdStore[] = [];

beforeAll(async () => {
  etcd = await startEtcd();
});

afterAll(async () => {
  for (const s of opened) await s.close();
  await etcd?.stop();
});

const randomPrefix = (): string => `/t-${randomBytes(6).toString('hex')}`;

function open(opts: Partial<EtcdStoreOptions> = {}): EtcdStore {
  const store = openEtcdStore({ endpoints: [etcd.endpoint], prefix: randomPrefix(), ...opts });
  opened.push(store);
  return store;
}

// Every test gets its own key prefix in the one etcd; revisions are etcd's global ones, so the
// suite runs each store through rebase() (see conformance.ts). Some tests send thousands of
// requests at once: on a busy machine the last ones wait longer than the default 10 s timeout,
// which is about availability, not what the suite checks.
runStoreConformance('etcd', async () => {
  const store = openEtcdStore({ endpoints: [etcd.endpoint], prefix: randomPrefix(), requestTimeoutMs: 60000 });
  return { store, cleanup: () => store.close() };
});

describe('EtcdStore', () => {
  it('keeps prefixes apart and stores keys under the prefix', async () => {
    const a = open();
    const b = open({ prefix: `${a.prefix}-other/` });
    expect(b.prefix).toBe(`${a.prefix}-other`);
    await a.create('/x/1', 'a');
    await b.create('/x/1', 'b');
    expect((await a.get('/x/1'))!.value).toBe('a');
    expect((await b.get('/x/1'))!.value).toBe('b');
    expect(await a.count('/')).toBe(1);
    expect((await b.list('/x/')).items.map((kv) => kv.value)).toEqual(['b']);
    expect(a.backend).toBe('etcd');
  });

  it('lists past revisions and reports future ones with the current revision', async () => {
    const s = open();
    const c = await s.create('/l/a', '1');
    await s.update('/l/a', '2');
    expect((await s.list('/l/', { revision: c.modRevision })).items[0]!.value).toBe('1');
    const cur = await s.currentRevision();
    const err = await s.list('/l/', { revision: cur + 10 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FutureRevisionError);
    expect(err).toMatchObject({ requested: cur + 10, current: cur });
  });

  it('maps compaction by another client to CompactedError for list and watch, and learns the revision', async () => {
    const writer = open();
    const reader = openEtcdStore({ endpoints: [etcd.endpoint], prefix: writer.prefix });
    opened.push(reader);
    const first = await writer.create('/c/a', '1');
    for (let i = 2; i <= 6; i++) await writer.update('/c/a', String(i));
    const C = first.modRevision + 3;
    await writer.compact(C);
    expect(await writer.compactedRevision()).toBe(C);
    expect(await reader.compactedRevision()).toBe(0); // not learned yet (documented limitation)

    // list below C: etcd refuses; the reader learns C exactly through a probe watch
    const err = await reader.list('/c/', { revision: first.modRevision }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CompactedError);
    expect(err).toMatchObject({ requested: first.modRevision, compacted: C });
    expect(await reader.compactedRevision()).toBe(C);
    expect((await reader.list('/c/', { revision: C })).items[0]!.value).toBe('4');

    // a watch from before C on a third client: etcd cancels it with compact_revision
    const third = openEtcdStore({ endpoints: [etcd.endpoint], prefix: writer.prefix });
    opened.push(third);
    const r = record(third, '/c/', first.modRevision);
    const werr = await r.waitForError();
    expect(werr).toBeInstanceOf(CompactedError);
    expect(werr).toMatchObject({ requested: first.modRevision, compacted: C });
    expect(r.events).toEqual([]);
    expect(await third.compactedRevision()).toBe(C);

    // a watch after C-1 on a client that does not know C: the event at C needs a compacted
    // prev_kv, so the watch ends with CompactedError instead of delivering it without prevValue
    const fourth = openEtcdStore({ endpoints: [etcd.endpoint], prefix: writer.prefix });
    opened.push(fourth);
    const r4 = record(fourth, '/c/', C - 1);
    expect(await r4.waitForError()).toBeInstanceOf(CompactedError);
    expect(r4.errors[0]).toMatchObject({ requested: C - 1, compacted: C });
    expect(r4.events).toEqual([]);

    // compacting below what etcd already compacted is a no-op that teaches the revision
    const fifth = openEtcdStore({ endpoints: [etcd.endpoint], prefix: writer.prefix });
    opened.push(fifth);
    await fifth.compact(C - 1);
    expect(await fifth.compactedRevision()).toBe(C);
    await expect(fifth.compact((await fifth.currentRevision()) + 5)).rejects.toBeInstanceOf(FutureRevisionError);
  });

  it('fails operations on an unreachable etcd with a StorageError within the request timeout', async () => {
    const dead = openEtcdStore({
      endpoints: ['http://127.0.0.1:1'],
      prefix: randomPrefix(),
      requestTimeoutMs: 1500,
      watchReconnectTimeoutMs: 1500,
    });
    opened.push(dead);
    const t0 = Date.now();
    const err = await dead.get('/a').catch((e: unknown) => e);
    const took = Date.now() - t0;
    expect(err).toBeInstanceOf(StorageError);
    expect(err).toBeInstanceOf(EtcdRequestError);
    expect(took).toBeLessThan(3000);
    // a write fails at once (connection refused: certainly not applied)
    const werr = await dead.create('/a', 'x').catch((e: unknown) => e);
    expect(werr).toMatchObject({ name: 'EtcdRequestError', mayHaveSucceeded: false });
    // a watch gives up after watchReconnectTimeoutMs
    const r = record(dead, '/', 5);
    expect(await r.waitForError(5000)).toBeInstanceOf(StorageError);
  });

  it('rejects a value above etcd --max-request-bytes with a StorageError', async () => {
    const s = open();
    const err = await s.create('/big/x', 'x'.repeat(11 * 1024 * 1024)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageError);
    expect(String(err)).toMatch(/too large|larger than max/);
  });

  it('reads the gets of one event-loop turn together, each key once, in as few requests as it may', async () => {
    const s = open();
    const keys = Array.from({ length: 150 }, (_, i) => `/g/${String(i).padStart(3, '0')}`);
    const written = new Map<string, string>();
    for (const [i, k] of keys.entries()) written.set(k, (await s.create(k, `v${i} ✓`)).value);
    let requests = 0;
    const rawCall = s.client.rawCall.bind(s.client);
    s.client.rawCall = (...args) => {
      requests++;
      return rawCall(...args);
    };

    // 10 keys, one of them asked three times, and a missing one: one read-only Txn
    const asked = [...keys.slice(0, 10), keys[0]!, keys[0]!, '/g/missing'];
    const got = await Promise.all(asked.map((k) => s.get(k)));
    expect(requests).toBe(1);
    expect(got.map((kv) => kv?.value ?? null)).toEqual(asked.map((k) => written.get(k) ?? null));
    expect(got[0]).toEqual(await s.get(keys[0]!));
    expect(got[10]).toEqual(got[0]);
    expect(got[10]).not.toBe(got[0]); // every caller has its own object
    expect(got[0]).toMatchObject({ key: keys[0], createRevision: got[0]!.modRevision });

    // one key asked many times: one Range; 150 keys: batches of at most 64
    requests = 0;
    await Promise.all(Array.from({ length: 20 }, () => s.get(keys[5]!)));
    expect(requests).toBe(1);
    requests = 0;
    const all = await Promise.all(keys.map((k) => s.get(k)));
    expect(requests).toBe(3);
    expect(all.map((kv) => kv!.value)).toEqual(keys.map((k) => written.get(k)));

    // gets in different turns are separate reads: the second sees the update in between
    const first = await s.get(keys[1]!);
    await s.update(keys[1]!, 'updated');
    expect((await s.get(keys[1]!))!.value).toBe('updated');
    expect(first!.value).toBe(written.get(keys[1]!));
  });

  it('answers a progress request on a quiet watch with the revision of writes elsewhere', async () => {
    const s = open();
    const progress: number[] = [];
    const events: WatchEvent[] = [];
    const w = s.watch('/quiet/', 0, {
      onEvent: (e) => events.push(e),
      onError: () => undefined,
      onProgress: (r) => progress.push(r),
    });
    await s.create('/quiet/a', '1');
    await waitUntil(() => events.length === 1);
    const elsewhere = await s.create('/busy/b', '2');
    expect(Math.max(0, ...progress)).toBeLessThan(elsewhere.modRevision);
    w.requestProgress!();
    await waitUntil(() => progress.some((r) => r >= elsewhere.modRevision));
    expect(events.map((e) => e.key)).toEqual(['/quiet/a']);
    w.stop();
  });

  it('ends watches and fails operations after close', async () => {
    const s = open();
    await s.create('/w/a', '1');
    const r = record(s, '/w/', 0);
    await settle(100);
    await s.close();
    expect(await r.waitForError()).toBeInstanceOf(StorageError);
    await expect(s.get('/w/a')).rejects.toThrow('store closed');
    await expect(s.compactedRevision()).rejects.toBeInstanceOf(StorageError);
  });
});

describe('EtcdStore on an etcd with a small --max-txn-ops', () => {
  let server: EtcdServer;
  afterAll(async () => {
    await server?.stop();
  });

  it('reads batched gets in smaller batches once etcd refuses a txn as too large', async () => {
    server = await startEtcd({ name: 'maxops', extraArgs: ['--max-txn-ops', '3'] });
    const store = openEtcdStore({ endpoints: [server.endpoint], prefix: randomPrefix() });
    opened.push(store);
    const keys = Array.from({ length: 10 }, (_, i) => `/m/${i}`);
    for (const k of keys) await store.create(k, `value of ${k}`);
    let requests = 0;
    const rawCall = store.client.rawCall.bind(store.client);
    store.client.rawCall = (...args) => {
      requests++;
      return rawCall(...args);
    };
    const counts: number[] = [];
    for (let round = 0; round < 2; round++) {
      requests = 0;
      const got = await Promise.all([...keys, '/m/none'].map((k) => store.get(k)));
      expect(got.map((kv) => kv?.value ?? null)).toEqual([...keys.map((k) => `value of ${k}`), null]);
      counts.push(requests);
    }
    // 11 keys: refused batches of 11 and 5, then batches of 2 (6 requests) from then on
    expect(counts[0]).toBeGreaterThan(6);
    expect(counts[1]).toBe(6);
  });
});

describe('EtcdStore across an etcd restart', () => {
  let server: EtcdServer;
  afterAll(async () => {
    await server?.stop();
  });

  it('recovers operations and resumes watches without missing events', async () => {
    server = await startEtcd({ name: 'restart' });
    const prefix = randomPrefix();
    const store = openEtcdStore({ endpoints: [server.endpoint], prefix, requestTimeoutMs: 2000 });
    opened.push(store);
    for (let i = 0; i < 5; i++) await store.create(`/r/${i}`, `v${i}`);
    const start = await store.currentRevision();
    const events: WatchEvent[] = [];
    const errors: Error[] = [];
    store.watch('/r/', start, { onEvent: (e) => events.push(e), onError: (e) => errors.push(e) });
    const before = await store.update('/r/0', 'before-restart');
    await waitUntil(() => events.length === 1);

    // SIGKILL: a crash, not a clean shutdown
    server.kill();
    await server.exited();
    const t0 = Date.now();
    const down = await store.get('/r/0').catch((e: unknown) => e);
    expect(down).toBeInstanceOf(StorageError);
    expect(Date.now() - t0).toBeLessThan(4000);

    await server.restart();
    // a second client writes right after the restart, before the watch has reconnected
    const other = openEtcdStore({ endpoints: [server.endpoint], prefix });
    opened.push(other);
    const during = [
      await other.update('/r/1', 'after-1'),
      await other.delete('/r/2'),
      await other.create('/r/9', 'new'),
    ];
    // the first store recovers
    expect(await store.get('/r/0')).toEqual(before);
    const after = await store.update('/r/3', 'after-3');
    await waitUntil(() => events.length === 5, 15000);
    await settle(100);
    expect(errors).toEqual([]);
    expect(events.map((e) => e.revision)).toEqual([
      before.modRevision,
      ...during.map((kv) => kv.modRevision),
      after.modRevision,
    ]);
    expect(events.map((e) => `${e.type} ${e.key}`)).toEqual([
      'PUT /r/0',
      'PUT /r/1',
      'DELETE /r/2',
      'PUT /r/9',
      'PUT /r/3',
    ]);
    expect(events[1]).toMatchObject({ prevValue: 'v1', value: 'after-1' });
    expect(events[2]).toMatchObject({ value: 'v2', prevValue: 'v2' });
    // revisions continue after the restart
    expect(after.modRevision).toBeGreaterThan(before.modRevision);
  });
});

describe('EtcdStore over TLS with client certificates', () => {
  let server: EtcdServer | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'upm-etcd-tls-'));
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('connects with tls.caFile/certFile/keyFile and is refused without a client certificate', async () => {
    const ca = createCA('upm-test-etcd-ca');
    const serving = issueServingCert(ca, { commonName: 'etcd', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
    const client = issueClientCert(ca, { commonName: 'upm-engine' });
    const file = (name: string, pem: string): string => {
      const path = join(dir, name);
      writeFileSync(path, pem, { mode: 0o600 });
      return path;
    };
    const caFile = file('ca.crt', ca.certPem);
    server = await startEtcd({
      name: 'tls',
      tls: {
        certFile: file('server.crt', serving.certPem),
        keyFile: file('server.key', serving.keyPem),
        clientCAFile: caFile,
      },
    });
    expect(server.endpoint).toMatch(/^https:/);
    const store = openEtcdStore({
      endpoints: [server.endpoint],
      prefix: randomPrefix(),
      tls: { caFile, certFile: file('client.crt', client.certPem), keyFile: file('client.key', client.keyPem) },
    });
    opened.push(store);
    const r = record(store, '/tls/', 0);
    const kv = await store.create('/tls/a', 'secret');
    expect(await store.get('/tls/a')).toEqual(kv);
    await r.waitForEvents(1);
    expect(r.events[0]).toMatchObject({ type: 'PUT', key: '/tls/a', value: 'secret', revision: kv.modRevision });

    const anonymous = openEtcdStore({
      endpoints: [server.endpoint],
      prefix: randomPrefix(),
      tls: { caFile },
      requestTimeoutMs: 2000,
    });
    opened.push(anonymous);
    await expect(anonymous.get('/tls/a')).rejects.toBeInstanceOf(StorageError);
    expect(() => openEtcdStore({ endpoints: [server!.endpoint], tls: { certFile: 'x' } })).toThrow(StorageError);
  });
});
