// SQLite backend of the storage contract (see ../interface.ts), modelled on kine's
// log-structured layout.
//
// Schema:
//   log     one row per revision: id = revision, key, value, created_revision, prev_revision,
//           deleted. An update stores the new value and points prev_revision at the row it
//           replaces. A delete writes a tombstone row (deleted = 1) that carries the key's last
//           value. Index (key, id, deleted) answers "latest row of each key at or before
//           revision R" without reading the table (list at a past revision, its counts).
//   current key -> id of the key's latest live log row; deleted keys are removed. It makes get,
//           list and count at the current revision proportional to the live keys instead of
//           the whole retained history. Measured with 10,000 keys x 10 versions: a full
//           paginated list (20 pages of 500 + the `remaining` counts) takes 21 ms through
//           `current` against 350 ms through the log, and a count 0.35 ms against 25 ms, for
//           about 6 us more per write (nothing next to the fsync of a write).
//   meta    revision (the global counter; never decreases, also when compaction removes the
//           newest rows), compacted (the compacted revision), schema_version.
//
// Compaction rule (also in the interface): after compact(C), the state at C is still
// complete, so list at revision R fails with CompactedError only when R < C, and a watch
// after revision R fails only when R < C. compact(C) deletes exactly the rows that no read at
// a revision >= C can see: a row superseded by a later row whose id <= C, and tombstones whose
// id <= C (with the rows they superseded). Rows superseded after C stay, so a watch after C
// replays every later event with its prevValue.
//
// Group commit. With synchronous=FULL every COMMIT ends in an fsync of the WAL, and
// better-sqlite3 runs it on the event loop thread: profiling showed that fsync as the largest
// cost of an API create, and it capped the store at one write per fsync (~3,500/s raw on a
// 2-core machine with 32 writes in flight). So the writes issued within one event-loop turn
// share one transaction and one COMMIT: the first write of a turn runs BEGIN IMMEDIATE and
// schedules the COMMIT; every write runs at once inside that transaction as a nested
// transaction function (a SAVEPOINT), so writes are applied in call order, each sees the ones
// before it (preconditions, KeyExistsError), revisions stay consecutive, and a write that throws
// rolls back only itself. Durability is unchanged: a write's promise settles only after the
// COMMIT (and so its fsync) has returned, so every acknowledged write survives kill -9 and power
// loss exactly as before; what changes is one fsync per batch instead of one per write. A batch
// is also committed at once when it reaches maxBatchWrites writes or maxBatchBytes characters of
// keys and values. If BEGIN or COMMIT fails, the batch is rolled back and every write in it
// rejects with a StorageError (with the SQLite error as `cause`); the next write starts a new
// batch. `stats()` counts commits and writes.
//
// When a batch commits: in the poll phase of the next event-loop iteration, woken by a message
// on a MessageChannel (a libuv async handle), not with setImmediate. Both wait for the same
// thing, the end of the current turn's I/O callbacks, so a lone write is committed one loop
// iteration after it ran either way. But the API server answers a write in the continuation of
// its promise, and Node 20's HTTPS server has a bug that a check-phase (setImmediate) answer
// triggers: a TLS write completes only in the next check phase, so when a keep-alive client
// sends its next request (more than 16 KB) before that, the server pauses the connection's
// parser but TLS still feeds it the rest of the body, and the request fails with HPE_PAUSED
// (400 Bad Request; test/e2e/durability.test.ts hit it with 20 KB objects). Answers written in
// the poll phase complete in the same iteration's check phase, before the next request can be
// read, as they did when every write committed synchronously.
//
// Reads share the connection, which sees its own open transaction, so get, list, count,
// currentRevision, compactedRevision and compact wait until no batch is open (reads never see
// uncommitted data), and the committed revision is kept in memory (`revision`) for watch
// registration, which is synchronous. Failed writes also settle after the COMMIT: their verdict
// (key exists, precondition) may rest on writes of the same batch.
//
// Watches are an in-process fan-out: a batch commits, then hands its events, in revision order,
// to every matching watcher, which delivers asynchronously (setImmediate), so watcher code never
// runs inside a write call. After each commit every watch that has caught up (not replaying)
// also gets a progress note (onProgress) with the committed revision, delivered after the
// events queued before it, so a cache of a quiet prefix knows it is current. One process owns a
// database file: writes made by another process to the same file would not reach this
// process's watchers.

import { MessageChannel, type MessagePort } from 'node:worker_threads';

import Database from 'better-sqlite3';
import {
  CompactedError,
  FutureRevisionError,
  KeyExistsError,
  KeyNotFoundError,
  PreconditionFailedError,
  StorageError,
  type KeyValue,
  type ListOptions,
  type ListResult,
  type Precondition,
  type Store,
  type Watch,
  type WatchCallbacks,
  type WatchEvent,
} from '../interface.js';
import { checkKey, checkRevisionArg, checkValue } from '../arguments.js';
import { StoreCompactors, type CompactorOptions } from '../compactor.js';

const SCHEMA_VERSION = 1;

export interface SqliteStoreOptions {
  /**
   * PRAGMA synchronous in WAL mode. Default 'FULL': a write is acknowledged only once its WAL
   * frame is fsynced, so it survives kill -9 and also an OS crash or power loss. 'NORMAL'
   * survives kill -9 (the WAL is in the OS page cache) but can lose the last acknowledged
   * writes on an OS crash; it is faster and meant for tests and throwaway stores.
   */
  synchronous?: 'FULL' | 'NORMAL';
  /** Called when a watch callback (onEvent, onProgress or onError) throws. Default: ignore. */
  onCallbackError?: (err: unknown) => void;
  /** Log rows read per step when a watch replays history. Default 1000. */
  replayPageSize?: number;
  /** Revisions compacted per transaction (the event loop gets a turn in between). Default 10000. */
  compactBatchSize?: number;
  /**
   * Group commit: a batch (the writes of one event-loop turn, one transaction, one fsync) is
   * committed at once when it holds this many writes. Default 1000; 1 commits every write on
   * its own, inside the write call.
   */
  maxBatchWrites?: number;
  /** Group commit: a batch is committed at once when its keys and values reach this many
   * characters (UTF-16 code units). Default 4 MiB (4,194,304). */
  maxBatchBytes?: number;
}

/** Counters of the group commit (see SqliteStore.stats). */
export interface SqliteStoreStats {
  /** Batches committed: COMMITs of write transactions (with synchronous=FULL, one fsync each,
   * unless every write in the batch failed and there was nothing to write). */
  commits: number;
  /** Successful writes committed (create, update, delete). */
  writes: number;
}

export type { CompactorOptions } from '../compactor.js';

interface CurrentRow {
  id: number;
  value: string;
  createRevision: number;
}

interface KvRow {
  id: number;
  key: string;
  value: string;
  createRevision: number;
}

interface ReplayRow {
  id: number;
  key: string;
  value: string;
  createRevision: number;
  deleted: number;
  prevValue: string | null;
  prevDeleted: number | null;
}

interface WriteResult {
  kv: KeyValue;
  event: WatchEvent;
}

/** A write of the open batch, settled when the batch commits. */
interface PendingWrite {
  /** The write's result, or null when it failed with `error` (and rolled back to its savepoint). */
  result: WriteResult | null;
  error: unknown;
  resolve: (kv: KeyValue) => void;
  reject: (err: unknown) => void;
}

/** The open write transaction: the writes of one event-loop turn, committed together. */
class Batch {
  constructor(readonly id: number) {
    let settle!: () => void;
    this.done = new Promise<void>((resolve) => (settle = resolve));
    this.settle = settle;
  }

  readonly writes: PendingWrite[] = [];
  /** Characters of the keys and values written. */
  chars = 0;
  /** Revision of the batch's last successful write; 0 when none succeeded. */
  lastRevision = 0;
  /** Resolves (never rejects) once the batch is committed or rolled back. */
  readonly done: Promise<void>;
  readonly settle: () => void;
}

/** A StorageError for a failed transaction, with the underlying error as `cause`. */
function transactionError(what: string, cause: unknown): StorageError {
  const err = new StorageError(`${what}: ${cause instanceof Error ? cause.message : String(cause)}`);
  err.cause = cause;
  return err;
}

/** Opens (creating if needed) a SQLite store at `path`; `:memory:` gives a private in-memory store. */
export function openSqliteStore(path: string, opts: SqliteStoreOptions = {}): SqliteStore {
  return new SqliteStore(path, opts);
}

/**
 * The smallest string greater than every string that starts with `prefix`, in UTF-8 byte order
 * (SQLite's BINARY collation); null when there is none (empty prefix). Used to turn a prefix
 * into a range `key >= prefix AND key < upper`, which is exact (unlike LIKE, which treats `%`
 * and `_` as wildcards) and uses the index.
 */
export function prefixUpperBound(prefix: string): string | null {
  const cps = Array.from(prefix);
  while (cps.length > 0) {
    const last = cps.pop()!.codePointAt(0)!;
    if (last < 0x10ffff) {
      let next = last + 1;
      if (next >= 0xd800 && next <= 0xdfff) next = 0xe000; // skip the surrogate range
      cps.push(String.fromCodePoint(next));
      return cps.join('');
    }
  }
  return null;
}

/** Compares keys the way SQLite's BINARY collation does (UTF-8 bytes). */
function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function toKeyValue(row: KvRow): KeyValue {
  return { key: row.key, value: row.value, createRevision: row.createRevision, modRevision: row.id };
}

/** One open watch. All state changes happen on the event loop thread; delivery is deferred. */
class SqliteWatch implements Watch {
  /** Set by stop() or after onError: no callback is called any more. */
  stopped = false;
  /** Terminal error, delivered after the already-queued events. */
  ending: Error | null = null;
  /** Highest revision queued for delivery; events at or below it are dropped. */
  lastRevision: number;
  /** Highest revision reported through onProgress, or the watch's start position. */
  progressed: number;
  /** While replaying history, live events wait in `pending`. */
  replaying = false;
  pending: WatchEvent[] = [];
  private queue: WatchEvent[] = [];
  /** Progress to report after the queued events (only the newest is kept); 0: none. */
  private progress = 0;
  private scheduled = false;

  constructor(
    readonly prefix: string,
    afterRevision: number,
    private readonly callbacks: WatchCallbacks,
    private readonly detach: (w: SqliteWatch) => void,
    private readonly onCallbackError: (err: unknown) => void,
  ) {
    this.lastRevision = afterRevision;
    this.progressed = afterRevision;
  }

  get active(): boolean {
    return !this.stopped && this.ending === null;
  }

  /** A live event from a committed write. */
  offer(event: WatchEvent): void {
    if (!this.active) return;
    if (this.replaying) this.pending.push(event);
    else this.enqueue(event);
  }

  enqueue(event: WatchEvent): void {
    if (!this.active || event.revision <= this.lastRevision) return;
    this.lastRevision = event.revision;
    this.queue.push(event);
    this.schedule();
  }

  /**
   * The store committed `revision` and has offered every event up to it: report it after the
   * events queued so far. Ignored while replaying (the replay has not queued them all yet).
   */
  noteProgress(revision: number): void {
    if (!this.active || this.replaying || this.callbacks.onProgress === undefined) return;
    if (revision <= this.progressed || revision <= this.progress) return;
    this.progress = revision;
    this.schedule();
  }

  /**
   * Replay finished: hand over the live events that arrived meanwhile. With them every event up
   * to `committed` (the store's committed revision) is queued, so that is reported as progress.
   */
  endReplay(committed: number): void {
    this.replaying = false;
    const pending = this.pending;
    this.pending = [];
    for (const e of pending) this.enqueue(e);
    this.noteProgress(committed);
  }

  fail(err: Error): void {
    if (!this.active) return;
    this.ending = err;
    this.replaying = false;
    this.pending = [];
    this.detach(this);
    this.schedule();
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.queue = [];
    this.pending = [];
    this.detach(this);
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    // Callbacks may write to the store (which enqueues more events here) or stop the watch.
    let i = 0;
    while (!this.stopped && i < this.queue.length) {
      const event = this.queue[i++]!;
      try {
        this.callbacks.onEvent(event);
      } catch (err) {
        this.onCallbackError(err);
      }
    }
    this.queue = [];
    this.scheduled = false;
    // Every event up to the noted progress was queued before the note, so it has been delivered.
    const progress = this.progress;
    this.progress = 0;
    if (!this.stopped && progress > this.progressed) {
      this.progressed = progress;
      try {
        this.callbacks.onProgress?.(progress);
      } catch (err) {
        this.onCallbackError(err);
      }
    }
    if (!this.stopped && this.ending !== null) {
      this.stopped = true;
      try {
        this.callbacks.onError(this.ending);
      } catch (err) {
        this.onCallbackError(err);
      }
    }
  }
}

export class SqliteStore implements Store {
  readonly backend = 'sqlite';
  readonly path: string;

  private readonly db: Database.Database;
  private readonly onCallbackError: (err: unknown) => void;
  private readonly replayPageSize: number;
  private readonly compactBatchSize: number;
  private readonly maxBatchWrites: number;
  private readonly maxBatchBytes: number;
  private readonly watchers = new Set<SqliteWatch>();
  private readonly compactors = new StoreCompactors(this, () => this.closed);
  private readonly statements = new Map<string, Database.Statement>();
  private compactChain: Promise<void> = Promise.resolve();
  private closed = false;
  /** The open write transaction, if any (see the group commit note at the top). */
  private batch: Batch | null = null;
  /** The committed revision: meta.revision as of the last COMMIT. */
  private revision: number;
  private readonly counters: SqliteStoreStats = { commits: 0, writes: 0 };
  private batchSeq = 0;
  /** Receives, in the poll phase, the id of the batch to commit (see "When a batch commits"). */
  private readonly commitPort: MessagePort;
  /** Sends the id of a newly opened batch to `commitPort`. */
  private readonly commitTrigger: MessagePort;
  private readonly beginStmt: Database.Statement;
  private readonly commitStmt: Database.Statement;
  private readonly rollbackStmt: Database.Statement;

  private readonly txCreate: (key: string, value: string) => WriteResult;
  private readonly txUpdate: (key: string, value: string, expected: number | undefined) => WriteResult;
  private readonly txDelete: (key: string, expected: number | undefined) => WriteResult;
  private readonly txCompactBatch: (from: number, to: number) => void;

  constructor(path: string, opts: SqliteStoreOptions = {}) {
    this.path = path;
    this.onCallbackError = opts.onCallbackError ?? (() => undefined);
    this.replayPageSize = Math.max(1, opts.replayPageSize ?? 1000);
    this.compactBatchSize = Math.max(1, opts.compactBatchSize ?? 10000);
    this.maxBatchWrites = Math.max(1, opts.maxBatchWrites ?? 1000);
    this.maxBatchBytes = Math.max(1, opts.maxBatchBytes ?? 4 * 1024 * 1024);
    const synchronous = opts.synchronous ?? 'FULL';
    if (synchronous !== 'FULL' && synchronous !== 'NORMAL') {
      throw new StorageError(`invalid synchronous mode: ${String(synchronous)}`);
    }

    this.db = new Database(path);
    try {
      // WAL: readers never block the writer and a commit appends to one file.
      this.db.pragma('journal_mode = WAL'); // stays 'memory' for :memory:
      // Durability. In WAL mode, synchronous=NORMAL fsyncs only at checkpoints: a committed
      // transaction sits in the WAL in the OS page cache, which survives kill -9 of this
      // process but not an OS crash or power loss, where the last acknowledged writes can be
      // lost. synchronous=FULL fsyncs the WAL on every commit, so every acknowledged write
      // survives both. The API server acknowledges writes to clients (and controllers act on
      // them), so we choose FULL; see the report/bench for the measured cost.
      this.db.pragma(`synchronous = ${synchronous}`);
      this.db.pragma('foreign_keys = OFF');
      // Bound the WAL file after checkpoints (big values can grow it).
      this.db.pragma('journal_size_limit = 67108864');
      this.migrate();
    } catch (err) {
      this.db.close();
      throw err;
    }

    const db = this.db;
    this.revision = this.meta('revision');
    const channel = new MessageChannel();
    this.commitPort = channel.port1;
    this.commitTrigger = channel.port2;
    this.commitPort.on('message', (id: number) => {
      if (this.batch !== null && this.batch.id === id) this.commitBatch(this.batch);
      // Keep the process alive only while a batch waits for its commit.
      if (this.batch === null) this.commitPort.unref();
    });
    this.commitPort.unref();
    this.beginStmt = db.prepare('BEGIN IMMEDIATE');
    this.commitStmt = db.prepare('COMMIT');
    this.rollbackStmt = db.prepare('ROLLBACK');
    // The write functions below always run inside the batch's transaction, where better-sqlite3
    // turns them into a SAVEPOINT: a write that throws rolls back only itself.
    const getCurrent = db.prepare<[string], CurrentRow>(
      `SELECT l.id AS id, l.value AS value, l.created_revision AS createRevision
         FROM current c JOIN log l ON l.id = c.id WHERE c.key = ?`,
    );
    const getMeta = db.prepare<[string], number>(`SELECT value FROM meta WHERE name = ?`).pluck();
    const setMeta = db.prepare<[number, string]>(`UPDATE meta SET value = ? WHERE name = ?`);
    const insertLog = db.prepare<[number, string, string, number, number | null, number]>(
      `INSERT INTO log (id, key, value, created_revision, prev_revision, deleted) VALUES (?, ?, ?, ?, ?, ?)`,
    );
    const upsertCurrent = db.prepare<[string, number]>(
      `INSERT INTO current (key, id) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET id = excluded.id`,
    );
    const deleteCurrent = db.prepare<[string]>(`DELETE FROM current WHERE key = ?`);
    // kine's compaction: the rows superseded by a row in (from, to], and the tombstones in
    // (from, to]. Rows at or below `from` were handled by the earlier batches.
    const compactDelete = db.prepare<[number, number, number, number]>(
      `DELETE FROM log WHERE id IN (
         SELECT prev_revision FROM log WHERE id > ? AND id <= ? AND prev_revision IS NOT NULL
         UNION
         SELECT id FROM log WHERE id > ? AND id <= ? AND deleted = 1)`,
    );

    const nextRevision = (): number => {
      const rev = getMeta.get('revision')! + 1;
      setMeta.run(rev, 'revision');
      return rev;
    };
    const checkPrecondition = (key: string, cur: CurrentRow, expected: number | undefined): void => {
      if (expected !== undefined && expected !== cur.id) {
        throw new PreconditionFailedError(key, expected, cur.id);
      }
    };

    this.txCreate = db.transaction((key: string, value: string): WriteResult => {
      if (getCurrent.get(key)) throw new KeyExistsError(key);
      const rev = nextRevision();
      insertLog.run(rev, key, value, rev, null, 0);
      upsertCurrent.run(key, rev);
      return {
        kv: { key, value, createRevision: rev, modRevision: rev },
        event: { type: 'PUT', key, value, createRevision: rev, revision: rev },
      };
    }).immediate;

    this.txUpdate = db.transaction((key: string, value: string, expected: number | undefined): WriteResult => {
      const cur = getCurrent.get(key);
      if (!cur) throw new KeyNotFoundError(key);
      checkPrecondition(key, cur, expected);
      const rev = nextRevision();
      insertLog.run(rev, key, value, cur.createRevision, cur.id, 0);
      upsertCurrent.run(key, rev);
      return {
        kv: { key, value, createRevision: cur.createRevision, modRevision: rev },
        event: { type: 'PUT', key, value, prevValue: cur.value, createRevision: cur.createRevision, revision: rev },
      };
    }).immediate;

    this.txDelete = db.transaction((key: string, expected: number | undefined): WriteResult => {
      const cur = getCurrent.get(key);
      if (!cur) throw new KeyNotFoundError(key);
      checkPrecondition(key, cur, expected);
      const rev = nextRevision();
      insertLog.run(rev, key, cur.value, cur.createRevision, cur.id, 1);
      deleteCurrent.run(key);
      return {
        kv: { key, value: cur.value, createRevision: cur.createRevision, modRevision: rev },
        event: {
          type: 'DELETE',
          key,
          value: cur.value,
          prevValue: cur.value,
          createRevision: cur.createRevision,
          revision: rev,
        },
      };
    }).immediate;

    this.txCompactBatch = db.transaction((from: number, to: number): void => {
      compactDelete.run(from, to, from, to);
      setMeta.run(to, 'compacted');
    }).immediate;
  }

  private migrate(): void {
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS meta (
        name  TEXT PRIMARY KEY,
        value INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS log (
        id               INTEGER PRIMARY KEY,
        key              TEXT    NOT NULL,
        value            TEXT    NOT NULL,
        created_revision INTEGER NOT NULL,
        prev_revision    INTEGER,
        deleted          INTEGER NOT NULL DEFAULT 0
      );
      CREATE INDEX IF NOT EXISTS log_key_id ON log (key, id, deleted);
      CREATE TABLE IF NOT EXISTS current (
        key TEXT PRIMARY KEY,
        id  INTEGER NOT NULL
      ) WITHOUT ROWID;
      INSERT OR IGNORE INTO meta (name, value) VALUES
        ('schema_version', ${SCHEMA_VERSION}), ('revision', 0), ('compacted', 0);
    `);
    const version = this.db.prepare(`SELECT value FROM meta WHERE name = 'schema_version'`).pluck().get();
    if (version !== SCHEMA_VERSION) {
      throw new StorageError(`unsupported sqlite store schema version ${String(version)} (want ${SCHEMA_VERSION})`);
    }
  }

  private stmt(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  private assertOpen(): void {
    if (this.closed) throw new StorageError('store closed');
  }

  private meta(name: 'revision' | 'compacted'): number {
    return this.stmt(`SELECT value FROM meta WHERE name = ?`).pluck().get(name) as number;
  }

  private dispatch(event: WatchEvent): void {
    for (const w of this.watchers) {
      if (event.key.startsWith(w.prefix)) w.offer(event);
    }
  }

  /** Group commit counters: commits and successful writes so far. */
  stats(): SqliteStoreStats {
    return { ...this.counters };
  }

  /**
   * Runs one write inside the open batch (opening one, and scheduling its commit, if needed).
   * The promise settles when the batch commits.
   */
  private write(run: () => WriteResult): Promise<KeyValue> {
    let batch = this.batch;
    if (batch === null) {
      try {
        // A transaction left open by a ROLLBACK that failed earlier holds nothing acknowledged.
        if (this.db.inTransaction) this.rollbackStmt.run();
        this.beginStmt.run();
      } catch (err) {
        return Promise.reject(transactionError('cannot begin a write transaction', err));
      }
      this.batch = batch = new Batch(++this.batchSeq);
      this.commitPort.ref();
      this.commitTrigger.postMessage(batch.id);
    }
    let entry!: PendingWrite;
    const promise = new Promise<KeyValue>((resolve, reject) => {
      entry = { result: null, error: undefined, resolve, reject };
    });
    try {
      const result = run();
      entry.result = result;
      batch.lastRevision = result.kv.modRevision;
      batch.chars += result.kv.key.length + result.kv.value.length;
    } catch (err) {
      if (!this.db.inTransaction) {
        // SQLite rolled back the whole transaction (it may on SQLITE_FULL, SQLITE_IOERR, ...):
        // the batch's earlier writes are gone too.
        batch.writes.push(entry);
        this.abortBatch(batch, 'write transaction rolled back', err);
        return promise;
      }
      entry.error = err;
    }
    batch.writes.push(entry);
    if (batch.writes.length >= this.maxBatchWrites || batch.chars >= this.maxBatchBytes) this.commitBatch(batch);
    return promise;
  }

  /** Commits `batch` if it is still the open one: settles its writes, then hands out its events. */
  private commitBatch(batch: Batch): void {
    if (this.batch !== batch) return;
    try {
      this.commitStmt.run();
    } catch (err) {
      this.abortBatch(batch, 'commit failed', err);
      return;
    }
    this.batch = null;
    this.counters.commits++;
    if (batch.lastRevision > 0) this.revision = batch.lastRevision;
    // Reads waiting for the commit run first (their continuations are queued first).
    batch.settle();
    for (const w of batch.writes) {
      if (w.result === null) {
        w.reject(w.error);
      } else {
        this.counters.writes++;
        this.dispatch(w.result.event);
        w.resolve(w.result.kv);
      }
    }
    if (batch.lastRevision > 0) {
      for (const w of this.watchers) w.noteProgress(this.revision);
    }
  }

  /** Rolls back `batch` (if SQLite has not already) and rejects all its writes. */
  private abortBatch(batch: Batch, what: string, cause: unknown): void {
    this.batch = null;
    if (this.db.inTransaction) {
      try {
        this.rollbackStmt.run();
      } catch {
        // The next write tries again before its BEGIN.
      }
    }
    batch.settle();
    for (const w of batch.writes) w.reject(transactionError(what, cause));
  }

  // ---- Store ----

  /** After waiting for the open batch: reads run on committed data only, on an open database. */
  private assertReadable(): void {
    if (!this.db.open) throw new StorageError('store closed');
  }

  async currentRevision(): Promise<number> {
    this.assertOpen();
    while (this.batch !== null) await this.batch.done;
    this.assertReadable();
    return this.revision;
  }

  async compactedRevision(): Promise<number> {
    this.assertOpen();
    while (this.batch !== null) await this.batch.done;
    this.assertReadable();
    return this.meta('compacted');
  }

  async get(key: string): Promise<KeyValue | null> {
    this.assertOpen();
    checkKey(key);
    while (this.batch !== null) await this.batch.done;
    this.assertReadable();
    const row = this.stmt(
      `SELECT l.id AS id, l.key AS key, l.value AS value, l.created_revision AS createRevision
         FROM current c JOIN log l ON l.id = c.id WHERE c.key = ?`,
    ).get(key) as KvRow | undefined;
    return row ? toKeyValue(row) : null;
  }

  async list(prefix: string, opts: ListOptions = {}): Promise<ListResult> {
    this.assertOpen();
    if (typeof prefix !== 'string') throw new StorageError('invalid prefix');
    const requested = checkRevisionArg('revision', opts.revision);
    const limit = checkRevisionArg('limit', opts.limit);
    while (this.batch !== null) await this.batch.done;
    this.assertReadable();
    const current = this.revision;
    if (requested > current) throw new FutureRevisionError(requested, current);
    if (requested > 0) {
      const compacted = this.meta('compacted');
      if (requested < compacted) throw new CompactedError(requested, compacted);
    }
    const revision = requested === 0 ? current : requested;
    const atCurrent = revision === current;

    // Range: [prefix, upper) narrowed by startAfter (exclusive).
    const upper = prefixUpperBound(prefix);
    const useAfter = opts.startAfter !== undefined && compareKeys(opts.startAfter, prefix) >= 0;
    const lowerOp = useAfter ? '>' : '>=';
    const lower = useAfter ? opts.startAfter! : prefix;
    const upperCond = (column: string): string => (upper === null ? '' : `AND ${column} < @upper`);
    const params: Record<string, string | number> = { lower, limit: limit === 0 ? -1 : limit + 1 };
    if (upper !== null) params.upper = upper;
    if (!atCurrent) params.revision = revision;

    const latestAtRevision = (lowerCmp: string): string =>
      `SELECT key, max(id) AS id FROM log
        WHERE key ${lowerCmp} @lower ${upperCond('key')} AND id <= @revision
        GROUP BY key HAVING max(CASE WHEN deleted = 0 THEN id END) = max(id)`;

    const rows = (
      atCurrent
        ? this.stmt(
            `SELECT l.id AS id, l.key AS key, l.value AS value, l.created_revision AS createRevision
               FROM current c JOIN log l ON l.id = c.id
              WHERE c.key ${lowerOp} @lower ${upperCond('c.key')}
              ORDER BY c.key LIMIT @limit`,
          )
        : this.stmt(
            // The inner query walks the (key, id, deleted) index in key order, keeping each
            // key's latest row at the revision, and stops after @limit keys; only the returned
            // rows are read from the table.
            `SELECT l.id AS id, l.key AS key, l.value AS value, l.created_revision AS createRevision
               FROM (${latestAtRevision(lowerOp)} ORDER BY key LIMIT @limit) m
               JOIN log l ON l.id = m.id
              ORDER BY m.key`,
          )
    ).all(params) as KvRow[];

    let more = false;
    let remaining = 0;
    if (limit > 0 && rows.length > limit) {
      rows.length = limit;
      more = true;
      const countParams: Record<string, string | number> = { lower: rows[limit - 1]!.key };
      if (upper !== null) countParams.upper = upper;
      if (!atCurrent) countParams.revision = revision;
      remaining = (
        atCurrent
          ? this.stmt(`SELECT count(*) FROM current WHERE key > @lower ${upperCond('key')}`)
          : this.stmt(`SELECT count(*) FROM (${latestAtRevision('>')})`)
      )
        .pluck()
        .get(countParams) as number;
    }
    return { items: rows.map(toKeyValue), revision, more, remaining };
  }

  async count(prefix: string): Promise<number> {
    this.assertOpen();
    if (typeof prefix !== 'string') throw new StorageError('invalid prefix');
    while (this.batch !== null) await this.batch.done;
    this.assertReadable();
    const upper = prefixUpperBound(prefix);
    return upper === null
      ? (this.stmt(`SELECT count(*) FROM current WHERE key >= ?`).pluck().get(prefix) as number)
      : (this.stmt(`SELECT count(*) FROM current WHERE key >= ? AND key < ?`).pluck().get(prefix, upper) as number);
  }

  async create(key: string, value: string): Promise<KeyValue> {
    this.assertOpen();
    checkKey(key);
    checkValue(value);
    return this.write(() => this.txCreate(key, value));
  }

  async update(key: string, value: string, precondition?: Precondition): Promise<KeyValue> {
    this.assertOpen();
    checkKey(key);
    checkValue(value);
    const expected = precondition?.modRevision;
    return this.write(() => this.txUpdate(key, value, expected));
  }

  async delete(key: string, precondition?: Precondition): Promise<KeyValue> {
    this.assertOpen();
    checkKey(key);
    const expected = precondition?.modRevision;
    return this.write(() => this.txDelete(key, expected));
  }

  watch(prefix: string, afterRevision: number, callbacks: WatchCallbacks): Watch {
    const w = new SqliteWatch(prefix, afterRevision, callbacks, (x) => this.watchers.delete(x), this.onCallbackError);
    if (this.closed) {
      w.fail(new StorageError('store closed'));
      return w;
    }
    if (typeof prefix !== 'string' || !Number.isSafeInteger(afterRevision) || afterRevision < 0) {
      w.fail(new StorageError(`invalid watch arguments: prefix ${String(prefix)}, afterRevision ${afterRevision}`));
      return w;
    }
    // The committed revision: a batch that is still open is dispatched to this watch when it
    // commits (its revisions are above `current`), never replayed.
    const current = this.revision;
    if (afterRevision === 0) {
      w.lastRevision = current;
      w.progressed = current;
    } else {
      const compacted = this.meta('compacted');
      if (afterRevision < compacted) {
        w.fail(new CompactedError(afterRevision, compacted));
        return w;
      }
    }
    // Register for live events first: every write after this point reaches `pending`, every
    // write before it (revision <= current) is in the log. The replay reads (afterRevision,
    // current]; then the pending events follow, with anything at or below the last replayed
    // revision dropped.
    this.watchers.add(w);
    if (w.lastRevision < current) {
      w.replaying = true;
      setImmediate(() => this.replayStep(w, current));
    }
    return w;
  }

  private replayStep(w: SqliteWatch, until: number): void {
    if (!w.active || !w.replaying) return;
    if (this.closed) {
      w.fail(new StorageError('store closed'));
      return;
    }
    try {
      // Rows above `compacted` are never deleted, so the next page is complete as long as
      // the watch's position has not been compacted meanwhile.
      const compacted = this.meta('compacted');
      if (w.lastRevision < compacted) {
        w.fail(new CompactedError(w.lastRevision, compacted));
        return;
      }
      const upper = prefixUpperBound(w.prefix);
      const params: Record<string, string | number> = {
        after: w.lastRevision,
        until,
        lower: w.prefix,
        limit: this.replayPageSize,
      };
      if (upper !== null) params.upper = upper;
      // Walk the log in revision order (the unary + keeps SQLite from using the key index).
      const rows = this.stmt(
        `SELECT l.id AS id, l.key AS key, l.value AS value, l.created_revision AS createRevision,
                l.deleted AS deleted, p.value AS prevValue, p.deleted AS prevDeleted
           FROM log l LEFT JOIN log p ON p.id = l.prev_revision
          WHERE l.id > @after AND l.id <= @until
            AND +l.key >= @lower ${upper === null ? '' : 'AND +l.key < @upper'}
          ORDER BY l.id LIMIT @limit`,
      ).all(params) as ReplayRow[];
      for (const row of rows) {
        const event: WatchEvent =
          row.deleted !== 0
            ? {
                type: 'DELETE',
                key: row.key,
                value: row.value,
                prevValue: row.value,
                createRevision: row.createRevision,
                revision: row.id,
              }
            : {
                type: 'PUT',
                key: row.key,
                value: row.value,
                createRevision: row.createRevision,
                revision: row.id,
              };
        if (event.type === 'PUT' && row.prevValue !== null && row.prevDeleted === 0) event.prevValue = row.prevValue;
        w.enqueue(event);
      }
      if (rows.length < this.replayPageSize) w.endReplay(this.revision);
      else setImmediate(() => this.replayStep(w, until));
    } catch (err) {
      w.fail(err instanceof Error ? err : new StorageError(String(err)));
    }
  }

  async compact(revision: number): Promise<void> {
    this.assertOpen();
    if (!Number.isSafeInteger(revision) || revision < 0) throw new StorageError(`invalid revision: ${revision}`);
    while (this.batch !== null) await this.batch.done;
    this.assertReadable();
    const current = this.revision;
    if (revision > current) throw new FutureRevisionError(revision, current);
    const run = this.compactChain.then(() => this.compactTo(revision));
    this.compactChain = run.catch(() => undefined);
    return run;
  }

  private async compactTo(revision: number): Promise<void> {
    for (;;) {
      // Never inside an open batch: its transaction would swallow the compaction's.
      while (this.batch !== null) await this.batch.done;
      if (this.closed) throw new StorageError('store closed');
      const compacted = this.meta('compacted');
      if (revision <= compacted) return; // nothing to do (compacting backwards is a no-op)
      const to = Math.min(revision, compacted + this.compactBatchSize);
      this.txCompactBatch(compacted, to);
      if (to < revision) await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  /**
   * Compacts automatically, like kube-apiserver's etcd compactor: every `intervalMs` it
   * compacts to the revision that was current one interval earlier (but keeps at least
   * `minRetainedRevisions` latest revisions). Returns a function that stops it; close() stops
   * it too. The timer does not keep the process alive.
   */
  startCompactor(intervalMs: number, opts: CompactorOptions = {}): () => void {
    this.assertOpen();
    return this.compactors.start(intervalMs, opts);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.compactors.stopAll();
    // Commit the open batch: its writes settle and its events reach the watches before they end.
    if (this.batch !== null) this.commitBatch(this.batch);
    for (const w of [...this.watchers]) w.fail(new StorageError('store closed'));
    this.watchers.clear();
    this.commitPort.close();
    await this.compactChain;
    this.db.close();
  }
}
