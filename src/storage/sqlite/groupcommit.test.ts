// Group commit and progress notifications of the SQLite store (see the notes at the top of
// ./store.ts): what a user of the store sees when writes share a transaction.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { createCA } from '../../pki/certs.js';
import { record, settle, waitUntil } from '../testing/conformance.js';
import {
  CompactedError,
  KeyExistsError,
  KeyNotFoundError,
  PreconditionFailedError,
  StorageError,
  type KeyValue,
} from '../interface.js';
import { openSqliteStore, type SqliteStore, type SqliteStoreOptions } from './store.js';
import { buildCommonJsStore, spawnWithModules } from './testing/child-process.js';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'upm-groupcommit-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

let open: SqliteStore[] = [];
/** A store on a file with the production settings (WAL, synchronous=FULL) unless overridden. */
function openStore(opts?: SqliteStoreOptions, file = join(tempDir(), 's.db')): SqliteStore {
  const s = openSqliteStore(file, opts);
  open.push(s);
  return s;
}
afterEach(async () => {
  for (const s of open) await s.close();
  open = [];
});

/** One log of a watch: `E<rev>` per event, `P<rev>` per progress note, in delivery order. */
function logWatch(store: SqliteStore, prefix: string, afterRevision: number): { log: string[]; stop: () => void } {
  const log: string[] = [];
  const w = store.watch(prefix, afterRevision, {
    onEvent: (e) => log.push(`E${e.revision}`),
    onError: (err) => log.push(`error ${err.message}`),
    onProgress: (r) => log.push(`P${r}`),
  });
  return { log, stop: () => w.stop() };
}

/**
 * Checks the progress contract on a watch log: progress revisions grow, and every event of the
 * prefix up to a reported revision (`eventRevisions`: all of them) came before the report.
 */
function expectProgressContract(log: string[], eventRevisions: number[]): void {
  let last = 0;
  log.forEach((entry, i) => {
    if (!entry.startsWith('P')) return;
    const r = Number(entry.slice(1));
    expect(r).toBeGreaterThan(last);
    last = r;
    const before = new Set(log.slice(0, i));
    for (const e of eventRevisions.filter((x) => x <= r)) {
      if (!before.has(`E${e}`)) throw new Error(`progress ${r} reported before event ${e}: ${log.join(' ')}`);
    }
  });
}

describe('SqliteStore group commit', () => {
  it('commits 50 concurrent creates in far fewer transactions, with consecutive revisions', async () => {
    const store = openStore();
    const before = store.stats();
    const kvs = await Promise.all(Array.from({ length: 50 }, (_, i) => store.create(`/g/${i}`, `v${i}`)));
    // applied in call order: revision i + 1 for the i-th call
    expect(kvs.map((kv) => kv.modRevision)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(kvs.map((kv) => kv.createRevision)).toEqual(kvs.map((kv) => kv.modRevision));
    const after = store.stats();
    expect(after.writes - before.writes).toBe(50);
    expect(after.commits - before.commits).toBeLessThanOrEqual(2);
    expect(await store.currentRevision()).toBe(50);
    expect(await store.count('/g/')).toBe(50);
  });

  it('rejects only the failing writes of a batch, and later writes see the earlier ones', async () => {
    const store = openStore();
    await store.create('/a/x', 'x0'); // 1
    const commits = store.stats().commits;
    const results = await Promise.allSettled([
      store.create('/a/1', 'one'), // 2
      store.create('/a/x', 'dup'), // KeyExistsError
      store.update('/a/x', 'x1', { modRevision: 7 }), // PreconditionFailedError
      store.update('/a/1', 'one-b', { modRevision: 2 }), // 3: sees the create of this batch
      store.create('/a/1', 'again'), // KeyExistsError: sees the create of this batch
      store.delete('/a/missing'), // KeyNotFoundError
      store.delete('/a/x', { modRevision: 1 }), // 4
      store.create('/a/2', 'two'), // 5
    ]);
    expect(store.stats().commits).toBe(commits + 1);
    const reason = (i: number): unknown => (results[i] as PromiseRejectedResult).reason;
    const value = (i: number): KeyValue => (results[i] as PromiseFulfilledResult<KeyValue>).value;
    expect(results.map((r) => r.status)).toEqual([
      'fulfilled',
      'rejected',
      'rejected',
      'fulfilled',
      'rejected',
      'rejected',
      'fulfilled',
      'fulfilled',
    ]);
    expect(reason(1)).toBeInstanceOf(KeyExistsError);
    expect(reason(2)).toBeInstanceOf(PreconditionFailedError);
    expect(reason(4)).toBeInstanceOf(KeyExistsError);
    expect(reason(5)).toBeInstanceOf(KeyNotFoundError);
    expect([0, 3, 6, 7].map((i) => value(i).modRevision)).toEqual([2, 3, 4, 5]);
    expect(value(3)).toEqual({ key: '/a/1', value: 'one-b', createRevision: 2, modRevision: 3 });
    expect((await store.list('/a/')).items).toEqual([
      { key: '/a/1', value: 'one-b', createRevision: 2, modRevision: 3 },
      { key: '/a/2', value: 'two', createRevision: 5, modRevision: 5 },
    ]);
    expect(await store.currentRevision()).toBe(5);
  });

  it('commits a batch early when it reaches maxBatchWrites or maxBatchBytes', async () => {
    const byCount = openStore({ maxBatchWrites: 10 });
    await Promise.all(Array.from({ length: 50 }, (_, i) => byCount.create(`/n/${i}`, 'v')));
    expect(byCount.stats()).toEqual({ commits: 5, writes: 50 });

    const bySize = openStore({ maxBatchBytes: 10_000 });
    const value = 'x'.repeat(3000);
    const kvs = await Promise.all(Array.from({ length: 12 }, (_, i) => bySize.create(`/s/${i}`, value)));
    // a batch closes at the write that takes it to 10,000 characters: 4 writes of ~3,000 each
    expect(bySize.stats()).toEqual({ commits: 3, writes: 12 });
    expect(kvs.map((kv) => kv.modRevision)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
  });

  it('acknowledges a lone write on its own', async () => {
    const store = openStore();
    for (let i = 1; i <= 5; i++) {
      expect((await store.create(`/l/${i}`, 'v')).modRevision).toBe(i);
      expect(store.stats()).toEqual({ commits: i, writes: i });
    }
  });

  it('makes a read started while a batch is open wait for the commit and see the batch', async () => {
    const store = openStore();
    await store.create('/r/0', 'v0'); // 1
    const commits = store.stats().commits;
    const writes = [store.create('/r/1', 'v1'), store.update('/r/0', 'v0b')]; // 2, 3
    const commitsSeen: number[] = [];
    const seen = <T>(p: Promise<T>): Promise<T> =>
      p.then((x) => {
        commitsSeen.push(store.stats().commits);
        return x;
      });
    const got = seen(store.get('/r/1'));
    const listed = seen(store.list('/r/'));
    const counted = seen(store.count('/r/'));
    const revision = seen(store.currentRevision());
    const compacted = seen(store.compactedRevision());
    expect(await got).toEqual({ key: '/r/1', value: 'v1', createRevision: 2, modRevision: 2 });
    const list = await listed;
    expect(list.revision).toBe(3);
    expect(list.items.map((kv) => kv.value)).toEqual(['v0b', 'v1']);
    expect(await counted).toBe(2);
    expect(await revision).toBe(3);
    expect(await compacted).toBe(0);
    expect(commitsSeen).toEqual([commits + 1, commits + 1, commits + 1, commits + 1, commits + 1]);
    await Promise.all(writes);
  });

  it('does not compact inside an open batch', async () => {
    const store = openStore();
    for (let i = 0; i < 4; i++) await store.create(`/c/${i}`, 'a'); // 1..4
    const writes = [store.update('/c/0', 'b'), store.update('/c/1', 'b'), store.delete('/c/2')]; // 5, 6, 7
    // revision 6 is not committed yet: compact waits for the batch instead of failing or
    // compacting inside its transaction
    await store.compact(6);
    expect((await Promise.all(writes)).map((kv) => kv.modRevision)).toEqual([5, 6, 7]);
    expect(await store.compactedRevision()).toBe(6);
    await expect(store.list('/c/', { revision: 5 })).rejects.toBeInstanceOf(CompactedError);
    expect((await store.list('/c/', { revision: 6 })).items.map((kv) => kv.key)).toEqual([
      '/c/0',
      '/c/1',
      '/c/2',
      '/c/3',
    ]);
    expect((await store.list('/c/')).items.map((kv) => `${kv.key}=${kv.value}`)).toEqual([
      '/c/0=b',
      '/c/1=b',
      '/c/3=a',
    ]);
  });

  it('gives a watch opened while a batch is open every event of the batch exactly once', async () => {
    const store = openStore({ replayPageSize: 1 });
    await store.create('/w/0', 'a'); // 1
    await store.create('/w/1', 'a'); // 2
    const writes = [
      store.create('/w/2', 'a'), // 3
      store.update('/w/0', 'b'), // 4
      store.create('/x/0', 'a'), // 5 (other prefix)
      store.delete('/w/1'), // 6
    ];
    const fromNow = record(store, '/w/', 0);
    const fromCommitted = record(store, '/w/', 2);
    const fromPast = record(store, '/w/', 1); // replays 2, then the batch
    await Promise.all(writes);
    await fromPast.waitForEvents(4);
    await fromNow.waitForEvents(3);
    await fromCommitted.waitForEvents(3);
    // more writes after, to catch duplicates that a late replay would add
    await store.create('/w/3', 'a'); // 7
    await fromPast.waitForEvents(5);
    await settle(50);
    expect(fromNow.events.map((e) => e.revision)).toEqual([3, 4, 6, 7]);
    expect(fromCommitted.events.map((e) => e.revision)).toEqual([3, 4, 6, 7]);
    expect(fromPast.events.map((e) => e.revision)).toEqual([2, 3, 4, 6, 7]);
    expect(fromNow.events.map((e) => `${e.type}:${e.key}`)).toEqual([
      'PUT:/w/2',
      'PUT:/w/0',
      'DELETE:/w/1',
      'PUT:/w/3',
    ]);
    expect(fromNow.events[1]!.prevValue).toBe('a');
    for (const r of [fromNow, fromCommitted, fromPast]) r.watch.stop();
  });

  it('commits an open batch on close, delivering its events before the watch ends', async () => {
    const file = join(tempDir(), 's.db');
    const store = openStore({}, file);
    const rec = record(store, '/c/', 0);
    const writes = [store.create('/c/1', 'a'), store.create('/c/2', 'b')];
    await store.close();
    expect((await Promise.all(writes)).map((kv) => kv.modRevision)).toEqual([1, 2]);
    expect(await rec.waitForError()).toBeInstanceOf(StorageError);
    expect(rec.events.map((e) => e.revision)).toEqual([1, 2]);
    await expect(store.create('/c/3', 'c')).rejects.toThrow('store closed');

    const reopened = openStore({}, file);
    expect((await reopened.list('/c/')).items.map((kv) => kv.value)).toEqual(['a', 'b']);
  });

  it('keeps everything written in batches across close and reopen', async () => {
    const file = join(tempDir(), 's.db');
    let store = openStore({ maxBatchWrites: 7 }, file);
    const n = 100;
    const created = await Promise.all(
      Array.from({ length: n }, (_, i) => store.create(`/k/${String(i).padStart(3, '0')}`, `c${i}`)),
    );
    await Promise.all(created.map((kv, i) => store.update(kv.key, `u${i}`, { modRevision: kv.modRevision })));
    await Promise.all(created.filter((_, i) => i % 3 === 0).map((kv) => store.delete(kv.key)));
    const writes = n + n + Math.ceil(n / 3);
    expect(store.stats().writes).toBe(writes);
    expect(store.stats().commits).toBeLessThan(writes / 5);
    const before = await store.list('/k/');
    const history = await store.list('/k/', { revision: n });
    await store.close();

    store = openStore({}, file);
    expect(await store.currentRevision()).toBe(writes);
    expect(await store.list('/k/')).toEqual(before);
    expect(await store.list('/k/', { revision: n })).toEqual(history);
    expect(before.items).toHaveLength(n - Math.ceil(n / 3));
    expect(before.items.every((kv) => kv.value.startsWith('u'))).toBe(true);
    expect(history.items.map((kv) => kv.value)).toEqual(created.map((kv) => kv.value));
  });

  it('rejects the whole batch when its COMMIT fails, shows none of it, and stays usable', async () => {
    // A real failing commit: a child process whose file size limit (ulimit -f) is too small for
    // the batch's WAL frames, so the COMMIT's write fails (EFBIG) and SQLite returns an I/O error.
    const lib = buildCommonJsStore(tempDir());
    writeFileSync(
      join(lib, 'child.js'),
      `process.on('SIGXFSZ', () => {}); // fail the write with EFBIG instead of dying
       const { openSqliteStore } = require('./storage/sqlite/store.js');
       (async () => {
         const store = openSqliteStore(process.argv[2]);
         const out = {};
         await store.create('/f/0', 'small'); // 1
         const log = [];
         store.watch('/f/', 0, {
           onEvent: (e) => log.push('E' + e.revision),
           onError: (e) => log.push('error ' + e.message),
           onProgress: (r) => log.push('P' + r),
         });
         const big = 'x'.repeat(40000);
         const writes = [0, 1, 2, 3, 4].map((i) =>
           store.create('/f/big' + i, big).then(
             (kv) => 'ok ' + kv.modRevision,
             (e) => e.name + ' ' + (e.cause && e.cause.code),
           ),
         );
         const readDuring = store.get('/f/big0'); // started while the batch is open
         const countDuring = store.count('/f/');
         out.writes = await Promise.all(writes);
         out.readDuring = await readDuring;
         out.countDuring = await countDuring;
         out.revision = await store.currentRevision();
         out.statsAfterFailure = store.stats();
         out.after = (await store.create('/f/1', 'small')).modRevision;
         out.getAfter = await store.get('/f/big0');
         await new Promise((r) => setTimeout(r, 50));
         out.log = log;
         await store.close();
         process.stdout.write(JSON.stringify(out));
       })().catch((e) => { console.error(e); process.exit(1); });`,
    );
    const file = join(tempDir(), 'full.db');
    const { stdout, stderr, code } = await run('bash', [
      '-c',
      'ulimit -f 100 && exec "$0" "$@"',
      process.execPath,
      join(lib, 'child.js'),
      file,
    ]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const out = JSON.parse(stdout) as Record<string, unknown>;
    expect(out.writes).toHaveLength(5);
    for (const w of out.writes as string[]) expect(w).toMatch(/^StorageError SQLITE_(IOERR|FULL)/);
    expect(out.readDuring).toBeNull();
    expect(out.countDuring).toBe(1);
    expect(out.revision).toBe(1);
    expect(out.statsAfterFailure).toEqual({ commits: 1, writes: 1 });
    expect(out.after).toBe(2); // no revision was used up by the failed batch
    expect(out.getAfter).toBeNull();
    expect(out.log).toEqual(['E2', 'P2']); // nothing of the failed batch

    const store = openStore({}, file);
    expect((await store.list('/f/')).items.map((kv) => `${kv.key}@${kv.modRevision}`)).toEqual(['/f/0@1', '/f/1@2']);
  });
});

describe('SqliteStore group commit under an HTTPS server', () => {
  it('lets a keep-alive HTTPS server answer 20 KB writes without 400s from a paused parser', async () => {
    // The commit runs in the poll phase (see "When a batch commits" in store.ts): answers
    // written from a setImmediate make Node 20's HTTPS server fail some keep-alive requests with
    // HPE_PAUSED (400) when the client, in another process, sends its next >16 KB body at once.
    const store = openStore();
    const { certPem, keyPem } = createCA('groupcommit-test');
    let n = 0;
    const server = createServer({ cert: certPem, key: keyPem }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        store.create(`/h/${n++}`, Buffer.concat(chunks).toString()).then(
          (kv) => {
            const body = Buffer.from(kv.value);
            res.writeHead(201, { 'Content-Type': 'application/json', 'Content-Length': body.length });
            res.end(body);
          },
          () => res.writeHead(500).end(),
        );
      });
    });
    let parserErrors = 0;
    server.on('clientError', (_err, socket) => {
      parserErrors++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      const client = `
        import https from 'node:https';
        const agent = new https.Agent({ keepAlive: true, rejectUnauthorized: false });
        const payload = Buffer.from(JSON.stringify({ x: 'x'.repeat(20 * 1024) }));
        let ok = 0, failed = 0, next = 0;
        await Promise.all(Array.from({ length: 4 }, async () => {
          while (next++ < 600) {
            const status = await new Promise((resolve) => {
              const req = https.request({ host: '127.0.0.1', port: ${port}, method: 'POST', path: '/', agent,
                headers: { 'Content-Type': 'application/json', 'Content-Length': payload.length } }, (res) => {
                res.resume();
                res.on('end', () => resolve(res.statusCode));
              });
              req.on('error', () => resolve(-1));
              req.end(payload);
            });
            if (status === 201) ok++; else failed++;
          }
        }));
        agent.destroy();
        process.stdout.write(JSON.stringify({ ok, failed }));`;
      const { stdout, stderr, code } = await run(process.execPath, ['--input-type=module', '-e', client]);
      expect(stderr).toBe('');
      expect(code).toBe(0);
      expect({ result: JSON.parse(stdout) as unknown, parserErrors }).toEqual({
        result: { ok: 600, failed: 0 },
        parserErrors: 0,
      });
      // and the writes did share commits
      expect(store.stats().writes).toBe(600);
      expect(store.stats().commits).toBeLessThan(600);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('SqliteStore progress notifications', () => {
  it('reports progress on a quiet prefix while other keys are written, after its own events', async () => {
    const store = openStore();
    const a = logWatch(store, '/a/', 0);
    await store.create('/b/1', 'x'); // 1
    await waitUntil(() => a.log.length === 1);
    const revs = await Promise.all([
      store.create('/a/1', 'x'), // 2
      store.create('/b/2', 'x'), // 3
      store.update('/a/1', 'y'), // 4
      store.create('/b/3', 'x'), // 5
    ]);
    expect(revs.map((kv) => kv.modRevision)).toEqual([2, 3, 4, 5]);
    await waitUntil(() => a.log.includes('P5'));
    await Promise.all([store.update('/b/2', 'y'), store.update('/b/3', 'y')]); // 6, 7
    await waitUntil(() => a.log.includes('P7'));
    await settle(30);
    expect(a.log).toEqual(['P1', 'E2', 'E4', 'P5', 'P7']);
    // a watch without onProgress is unaffected; a stopped watch gets nothing more
    a.stop();
    await store.create('/b/4', 'x');
    await settle(30);
    expect(a.log).toEqual(['P1', 'E2', 'E4', 'P5', 'P7']);
  });

  it('coalesces progress notes that are queued together into the newest', async () => {
    // maxBatchWrites 1: every write commits on its own, inside the write call, so the three
    // commits below happen before the watch's deferred delivery runs.
    const store = openStore({ maxBatchWrites: 1 });
    const a = logWatch(store, '/a/', 0);
    await Promise.all([store.create('/b/1', 'x'), store.create('/a/1', 'x'), store.create('/b/2', 'x')]);
    expect(store.stats().commits).toBe(3);
    await waitUntil(() => a.log.includes('P3'));
    await settle(30);
    expect(a.log).toEqual(['E2', 'P3']);
  });

  it('does not report progress below the start of a watch from a future revision', async () => {
    const store = openStore();
    const a = logWatch(store, '/a/', 3);
    await store.create('/b/1', 'x'); // 1
    await store.create('/a/1', 'x'); // 2: not part of the watch
    await store.create('/b/2', 'x'); // 3
    await store.create('/a/2', 'x'); // 4
    await waitUntil(() => a.log.includes('P4'));
    await settle(30);
    expect(a.log).toEqual(['E4', 'P4']);
  });

  it('reports progress of a replaying watch only once its replay has caught up', async () => {
    const store = openStore({ replayPageSize: 1 });
    const aRevisions: number[] = [];
    for (let i = 0; i < 30; i++) {
      aRevisions.push((await store.create(`/a/${i}`, 'x')).modRevision);
      await store.create(`/b/${i}`, 'x');
    }
    const current = await store.currentRevision();
    const a = logWatch(store, '/a/', 1);
    // commits while the replay runs (one row per step)
    for (let i = 0; i < 10; i++) {
      await store.update(`/b/${i}`, 'y');
      if (i % 3 === 0) aRevisions.push((await store.update(`/a/${i}`, 'y')).modRevision);
    }
    const last = await store.currentRevision();
    await waitUntil(() => a.log.includes(`P${last}`));
    await settle(30);
    const expected = aRevisions.filter((r) => r > 1);
    expect(a.log.filter((x) => x.startsWith('E'))).toEqual(expected.map((r) => `E${r}`));
    expectProgressContract(a.log, expected);
    // no progress until every replayed event (up to `current`) had been delivered
    const firstProgress = a.log.findIndex((x) => x.startsWith('P'));
    expect(Number(a.log[firstProgress]!.slice(1))).toBeGreaterThanOrEqual(current);
  });

  it('keeps the progress contract under concurrent writers and many watches', async () => {
    const store = openStore({ maxBatchWrites: 5 });
    const prefixes = ['/p/0/', '/p/1/', '/p/2/', '/p/'];
    const watches = prefixes.map((p) => ({ prefix: p, ...logWatch(store, p, 0) }));
    const written: KeyValue[] = [];
    await Promise.all(
      Array.from({ length: 8 }, async (_, lane) => {
        for (let i = 0; i < 25; i++) {
          const key = `/p/${(lane + i) % 3}/${lane}-${i}`;
          written.push(await store.create(key, 'v'));
          if (i % 4 === 0) written.push(await store.update(key, 'w'));
        }
      }),
    );
    const last = await store.currentRevision();
    for (const w of watches) {
      await waitUntil(() => w.log.includes(`P${last}`));
      const revs = written
        .filter((kv) => kv.key.startsWith(w.prefix))
        .map((kv) => kv.modRevision)
        .sort((x, y) => x - y);
      expect(w.log.filter((x) => x.startsWith('E'))).toEqual(revs.map((r) => `E${r}`));
      expectProgressContract(w.log, revs);
    }
  });
});

function run(cmd: string, args: string[]): Promise<{ stdout: string; stderr: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawnWithModules(cmd, args);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ stdout, stderr, code }));
  });
}
