import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import Database from 'better-sqlite3';

import { runStoreConformance, settle, waitUntil } from '../testing/conformance.js';
import { CompactedError, StorageError } from '../interface.js';
import { openSqliteStore, prefixUpperBound, type SqliteStore, type SqliteStoreOptions } from './store.js';
import { buildCommonJsStore, spawnWithModules } from './testing/child-process.js';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'upm-sqlite-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

runStoreConformance('sqlite', async () => {
  const dir = tempDir();
  const store = openSqliteStore(join(dir, 'state.db'));
  return {
    store,
    cleanup: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

runStoreConformance('sqlite :memory:, small replay pages', async () => {
  const store = openSqliteStore(':memory:', { replayPageSize: 7, compactBatchSize: 3 });
  return { store, cleanup: () => store.close() };
});

/** Log rows per key, read through a second connection. */
function logRows(file: string): { id: number; key: string; deleted: number }[] {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare('SELECT id, key, deleted FROM log ORDER BY id').all() as {
      id: number;
      key: string;
      deleted: number;
    }[];
  } finally {
    db.close();
  }
}

describe('SqliteStore', () => {
  let open: SqliteStore[] = [];
  const openAt = (file: string, opts?: SqliteStoreOptions): SqliteStore => {
    const s = openSqliteStore(file, opts);
    open.push(s);
    return s;
  };
  afterEach(async () => {
    for (const s of open) await s.close();
    open = [];
  });

  it('uses WAL with synchronous=FULL by default', async () => {
    const file = join(tempDir(), 's.db');
    const store = openAt(file);
    await store.create('/a/x', '1');
    const db = new Database(file, { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
    expect(store.backend).toBe('sqlite');
    expect(() => openSqliteStore(file, { synchronous: 'OFF' as 'FULL' })).toThrow(StorageError);
  });

  it('keeps data, revisions and history across close and reopen', async () => {
    const file = join(tempDir(), 's.db');
    let store = openAt(file);
    await store.create('/a/1', 'one'); // 1
    await store.create('/a/2', 'two'); // 2
    await store.update('/a/1', 'one-b'); // 3
    await store.delete('/a/2'); // 4
    await store.close();

    store = openAt(file);
    expect(await store.currentRevision()).toBe(4);
    expect(await store.get('/a/1')).toEqual({ key: '/a/1', value: 'one-b', createRevision: 1, modRevision: 3 });
    expect(await store.get('/a/2')).toBeNull();
    expect((await store.list('/a/', { revision: 2 })).items.map((kv) => kv.value)).toEqual(['one', 'two']);
    expect((await store.create('/a/3', 'three')).modRevision).toBe(5);

    // a watch after a revision written before the reopen replays from the log
    const events: string[] = [];
    const w = store.watch('/a/', 2, {
      onEvent: (e) => events.push(`${e.type}:${e.key}:${e.revision}`),
      onError: () => {},
    });
    await waitUntil(() => events.length === 3);
    w.stop();
    expect(events).toEqual(['PUT:/a/1:3', 'DELETE:/a/2:4', 'PUT:/a/3:5']);
  });

  it('never reuses a revision, even when compaction removed the newest rows', async () => {
    const file = join(tempDir(), 's.db');
    let store = openAt(file);
    await store.create('/a/x', '1'); // 1
    await store.create('/a/y', '1'); // 2
    await store.delete('/a/y'); // 3
    await store.delete('/a/x'); // 4
    await store.compact(4);
    expect(logRows(file)).toEqual([]); // everything was history of deleted keys
    await store.close();

    store = openAt(file);
    expect(await store.currentRevision()).toBe(4);
    expect(await store.compactedRevision()).toBe(4);
    expect(await store.create('/a/x', '2')).toEqual({ key: '/a/x', value: '2', createRevision: 5, modRevision: 5 });
  });

  it('compacts exactly the superseded rows and keeps the compacted revision across reopen', async () => {
    const file = join(tempDir(), 's.db');
    let store = openAt(file);
    await store.create('/a/1', 'a'); // 1
    await store.create('/a/2', 'a'); // 2
    await store.update('/a/1', 'b'); // 3   supersedes 1
    await store.delete('/a/2'); // 4        tombstone supersedes 2
    await store.create('/a/3', 'a'); // 5
    await store.update('/a/1', 'c'); // 6   supersedes 3, but after the compaction point
    await store.update('/a/3', 'b'); // 7   supersedes 5, after the compaction point
    await store.compact(5);
    // gone: 1 (superseded by 3 <= 5), 2 and 4 (deleted key, delete <= 5)
    expect(logRows(file).map((r) => r.id)).toEqual([3, 5, 6, 7]);
    await store.close();

    store = openAt(file);
    expect(await store.compactedRevision()).toBe(5);
    await expect(store.list('/a/', { revision: 4 })).rejects.toBeInstanceOf(CompactedError);
    expect((await store.list('/a/', { revision: 5 })).items.map((kv) => `${kv.key}=${kv.value}`)).toEqual([
      '/a/1=b',
      '/a/3=a',
    ]);
    expect((await store.list('/a/')).items.map((kv) => `${kv.key}=${kv.value}`)).toEqual(['/a/1=c', '/a/3=b']);

    await store.compact(7);
    expect(logRows(file).map((r) => r.id)).toEqual([6, 7]);
  });

  it('compacts in batches without losing anything', async () => {
    const store = openAt(join(tempDir(), 's.db'), { compactBatchSize: 4 });
    for (let i = 0; i < 30; i++) await store.create(`/b/${i % 5}/${i}`, `${i}`);
    for (let i = 0; i < 30; i += 3) await store.update(`/b/${i % 5}/${i}`, `u${i}`);
    for (let i = 0; i < 30; i += 7) await store.delete(`/b/${i % 5}/${i}`);
    const before = await store.list('/b/');
    const rev = await store.currentRevision();
    await store.compact(rev - 2);
    expect(await store.compactedRevision()).toBe(rev - 2);
    expect((await store.list('/b/')).items).toEqual(before.items);
  });

  it('compacts automatically to the revision of one interval earlier', async () => {
    const store = openAt(join(tempDir(), 's.db'));
    for (let i = 1; i <= 10; i++) await store.create(`/c/${i}`, 'v');
    const stop = store.startCompactor(150, { minRetainedRevisions: 0 });
    for (let i = 11; i <= 20; i++) await store.create(`/c/${i}`, 'v');
    // first tick: compacts to 10, the revision when the compactor started (one interval earlier)
    await waitUntil(async () => (await store.compactedRevision()) > 0);
    expect(await store.compactedRevision()).toBe(10);
    // idle: the next ticks catch up with the current revision
    await waitUntil(async () => (await store.compactedRevision()) === 20, 5000);
    stop();
    for (let i = 21; i <= 25; i++) await store.create(`/c/${i}`, 'v');
    await settle(600);
    expect(await store.compactedRevision()).toBe(20);
    expect(await store.count('/c/')).toBe(25);
  });

  it('keeps minRetainedRevisions when compacting automatically, and stops on close', async () => {
    const store = openAt(join(tempDir(), 's.db'));
    for (let i = 1; i <= 30; i++) await store.create(`/c/${i}`, 'v');
    store.startCompactor(50, { minRetainedRevisions: 8 });
    await waitUntil(async () => (await store.compactedRevision()) === 22, 5000);
    await settle(200);
    expect(await store.compactedRevision()).toBe(22);
    expect((await store.list('/c/', { revision: 22 })).items).toHaveLength(22);
    await store.close();
    await settle(150); // a tick after close must not throw
  });

  it('survives kill -9 of a writing process with every acknowledged write', async () => {
    // Run the real store in a child process: transpile it to CommonJS with swc.
    const dir = tempDir();
    const out = buildCommonJsStore(dir);
    writeFileSync(
      join(out, 'child.js'),
      `const { openSqliteStore } = require('./storage/sqlite/store.js');
       const store = openSqliteStore(process.argv[2]);
       (async () => {
         for (let i = 0; ; i++) {
           const kv = await store.create('/d/' + i, 'value-' + i + '-' + 'x'.repeat(i % 300));
           if (i % 7 === 0) await store.update('/d/' + i, 'updated-' + i);
           process.stdout.write(kv.key + ' ' + (await store.get(kv.key)).value + '\\n');
         }
       })();`,
    );
    const file = join(dir, 'crash.db');
    const child = spawnWithModules(process.execPath, [join(out, 'child.js'), file]);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, sig) => resolve(sig)));
    // at least 400 complete ack lines
    await waitUntil(() => stdout.split('\n').length > 400 || stderr.length > 0, 20000, 'child acks');
    expect(stderr).toBe('');
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');

    const acked = stdout
      .split('\n')
      .slice(0, -1) // the last line may be cut
      .map((line) => line.split(' ') as [string, string]);
    expect(acked.length).toBeGreaterThanOrEqual(400);
    const db = new Database(file);
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    db.close();
    const store = openAt(file);
    for (const [key, value] of acked) expect((await store.get(key))?.value).toBe(value);
    const rev = await store.currentRevision();
    const next = await store.create('/d/after-crash', 'x');
    expect(next.modRevision).toBe(rev + 1);
  });

  it('works in memory', async () => {
    const store = openAt(':memory:');
    await store.create('/m/a', '1');
    expect(await store.count('/m/')).toBe(1);
  });
});

describe('prefixUpperBound', () => {
  it('returns the smallest string above every key with the prefix', () => {
    expect(prefixUpperBound('/a/')).toBe('/a0');
    expect(prefixUpperBound('/a%')).toBe('/a&');
    expect(prefixUpperBound('')).toBeNull();
    expect(prefixUpperBound('a\u{10FFFF}')).toBe('b');
    expect(prefixUpperBound('\u{10FFFF}')).toBeNull();
    expect(prefixUpperBound('a\uD7FF')).toBe('a\uE000');
    expect(prefixUpperBound('a\uFFFF')).toBe('a\u{10000}');
  });
});

// Write-rate measurement, run on demand: UPM_SQLITE_BENCH=1 jest src/storage/sqlite
(process.env.UPM_SQLITE_BENCH ? describe : describe.skip)('SqliteStore write rate', () => {
  for (const synchronous of ['FULL', 'NORMAL', 'FULL', 'NORMAL'] as const) {
    it(`5,000 sequential creates with synchronous=${synchronous}`, async () => {
      const store = openSqliteStore(join(tempDir(), 'bench.db'), { synchronous });
      const value = JSON.stringify({ metadata: { name: 'x', labels: { a: 'b' } }, spec: { pad: 'p'.repeat(400) } });
      const n = 5000;
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < n; i++) await store.create(`/bench/${i}`, value);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      await store.close();
      console.log(
        `synchronous=${synchronous}: ${n} creates in ${ms.toFixed(0)} ms = ${Math.round((n / ms) * 1000)} writes/s`,
      );
    });
  }

  it('pages of 500 over 20,000 keys with history, at the current and at a past revision', async () => {
    const store = openSqliteStore(join(tempDir(), 'bench.db'), { synchronous: 'NORMAL' });
    const n = 20000;
    const value = 'v'.repeat(500);
    await Promise.all(Array.from({ length: n }, (_, i) => store.create(`/p/${String(i).padStart(6, '0')}`, value)));
    const past = await store.currentRevision();
    await Promise.all(Array.from({ length: n }, (_, i) => store.update(`/p/${String(i).padStart(6, '0')}`, value + i)));
    for (const revision of [undefined, past]) {
      const t0 = process.hrtime.bigint();
      let startAfter: string | undefined;
      let pages = 0;
      let firstPageMs = 0;
      for (;;) {
        const t = process.hrtime.bigint();
        const page = await store.list('/p/', { limit: 500, startAfter, revision });
        if (pages === 0) firstPageMs = Number(process.hrtime.bigint() - t) / 1e6;
        pages++;
        if (!page.more) break;
        startAfter = page.items[page.items.length - 1]!.key;
      }
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      console.log(
        `list ${revision ? 'past' : 'current'} revision: ${pages} pages in ${ms.toFixed(0)} ms (first page incl. remaining count ${firstPageMs.toFixed(1)} ms)`,
      );
    }
    await store.close();
  });
});
