// etcd v3 backend of the storage contract (see ../interface.ts).
//
// Layout: one etcd key per object, `${prefix}${key}` (prefix default '/upm', so the object
// `/upm.io/unitsets/default/a` lives at `/upm/upm.io/unitsets/default/a`). Values are the
// UTF-8 bytes of the stored string. No leases, no extra bookkeeping keys.
//
// Revisions are etcd's own: an object's modRevision is its etcd mod_revision, createRevision
// its create_revision, currentRevision() the header revision of a (linearizable) range. etcd
// has one revision counter for the whole cluster, so a store sharing an etcd with other
// prefixes or programs sees revisions that start above 0 and jump over other writers' writes;
// they still increase strictly, which is all the API server relies on.
//
// Operations:
// - get: the gets called during one event-loop turn are read together at its end
//   (setImmediate), each distinct key once: one Range for a single key, else a read-only Txn of
//   up to 64 Ranges (etcd's default --max-txn-ops is 128; when etcd refuses a txn as too large,
//   the store sends smaller ones from then on). A read is still linearizable, as it is sent after
//   every get it answers was called; callers of the same key get their own KeyValue objects.
//   Under concurrent load this spares most of the per-request gRPC cost, on both sides, which
//   was most of a get's CPU.
// - list / count: Range requests. list asks for `limit` keys from
//   [prefix+startAfter+"\0", prefixEnd) at the requested revision, in etcd's natural key order
//   (an explicit sort makes etcd read the whole range before applying the limit), and takes
//   `more` and `remaining` from the response's `more` and `count` (count = keys in the range,
//   so remaining = count - returned). Errors "required revision has been compacted" and "is a
//   future revision" become CompactedError and FutureRevisionError.
// - create: Txn(if create_revision(key) == 0 then put), KeyExistsError otherwise.
// - update / delete: Txn(if create_revision(key) > 0 [and mod_revision(key) == expected] then
//   put/delete with prev_kv else range key): the failure branch tells KeyNotFoundError from
//   PreconditionFailedError (with the actual modRevision). The write's revision is the txn's
//   header revision; delete returns the prev_kv with that revision.
// - watch: one etcd Watch stream per watch (prev_kv, progress_notify) on the prefix range from
//   afterRevision+1. PUT maps to PUT (prevValue from prev_kv), DELETE to DELETE with the
//   prev_kv's value and createRevision. A stream that breaks is re-created, on any endpoint,
//   from the revision after the last delivered event (or after the last progress
//   notification), so events are neither lost nor repeated; it gives up after
//   watchReconnectTimeoutMs with a StorageError. etcd cancels a watch whose start is
//   compacted with compact_revision: that becomes CompactedError(requested, compact_revision).
//   An event that should carry prev_kv but does not (its previous revision was compacted
//   between the event and the server's prev_kv lookup) also ends the watch with
//   CompactedError, so a watch never delivers an event with a missing prevValue.
// - compact: etcd Compact (physical: false). Compaction is cluster-wide in etcd: it affects
//   every prefix in that etcd, not only this store's.
//
// compactedRevision() limitation: etcd has no API that returns the compacted revision. The
// store reports the highest revision it compacted to itself or learned from etcd: a watch
// canceled with compact_revision (exact), a range or compaction rejected as compacted (then a
// short probe watch asks etcd for the exact compact_revision). Until one of those happens, a
// store does not know about compactions made by another client (another API server replica,
// etcdctl, --auto-compaction) and reports a lower revision, 0 for a new store. The checks that
// matter are done by etcd itself, so reads and watches at compacted revisions still fail. The
// one case etcd lets through: a watch after revision C-1 when C is compacted (etcd can replay
// from C). The store rejects it when it knows C; otherwise the watch runs, and fails with
// CompactedError if an event after C arrives without its required prev_kv.
//
// Availability: every request has a deadline (requestTimeoutMs, default 10 s, including
// retries). Reads are retried on transient errors (unavailable member, leader change, timeout)
// on a randomly picked endpoint until the deadline, one attempt taking at most half of it. Writes are retried only when the request
// certainly did not reach etcd (connection refused, member without a leader rejecting it up
// front, too many requests); after an ambiguous failure (connection lost mid-request, etcd's
// own request timeout) the write fails with a StorageError although it may have been applied,
// as with kube-apiserver: retrying a create or a preconditioned update could turn its success
// into a false KeyExistsError or PreconditionFailedError. Requests and watch streams carry
// etcd's require-leader metadata, so a member cut off from its cluster rejects them quickly
// instead of serving a stalled watch.
//
// Files: client.ts (gRPC calls through etcd3, error classification), codec.ts (the read path's
// protobuf codec), watch.ts (EtcdWatch), this file (options, EtcdStore).

import { readFileSync } from 'node:fs';
import {
  type ICompare,
  type IKeyValue,
  type IOptions,
  type IResponseHeader,
  type ITxnRequest,
  type ITxnResponse,
} from 'etcd3';
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
} from '../interface.js';
import { checkKey, checkRevisionArg, checkValue } from '../arguments.js';
import { StoreCompactors, type CompactorOptions } from '../compactor.js';
import {
  COMPACTED_MESSAGE,
  EtcdClient,
  FUTURE_MESSAGE,
  GRPC_OUT_OF_RANGE,
  TOO_MANY_OPS_MESSAGE,
  codeOf,
  messageOf,
  notSent,
  revisionOf,
  transient,
  type GrpcCallOptions,
  type KvMethod,
  type RawWatchStream,
} from './client.js';
import {
  RANGE_PATH,
  TXN_PATH,
  decodeRangeResponse,
  decodeRangesTxnResponse,
  encodeRangeRequest,
  encodeRangesTxn,
  type RangeArgs,
  type RangeResult,
  type RangesResult,
} from './codec.js';
import { EtcdWatch, cancelQuietly } from './watch.js';

export interface EtcdTLSOptions {
  /** CA bundle (PEM) that signed etcd's serving certificate; default the system roots. */
  caFile?: string;
  /** Client certificate (PEM) for etcd's --client-cert-auth; needs keyFile. */
  certFile?: string;
  /** Private key (PEM) of certFile. */
  keyFile?: string;
}

export interface EtcdStoreOptions {
  /** Client URLs (http://host:port, https://host:port) or host:port. */
  endpoints: string[];
  /** Key namespace inside etcd; default '/upm'. A trailing '/' is dropped. */
  prefix?: string;
  /** TLS to etcd (implied by https:// endpoints, which then use the system roots). */
  tls?: EtcdTLSOptions;
  /** Time one operation may take, retries included, before it fails with a StorageError. Default 10 000 ms. */
  requestTimeoutMs?: number;
  /** How long a watch keeps re-connecting before it ends with a StorageError. Default 60 000 ms. */
  watchReconnectTimeoutMs?: number;
  /** Called when a watch callback (onEvent or onError) throws. Default: ignore. */
  onCallbackError?: (err: unknown) => void;
}

export type EtcdCompactorOptions = CompactorOptions;

export interface EtcdStoreStats {
  /** Requests sent again after a transient failure (another endpoint, a new leader, ...). */
  requestRetries: number;
  /** Watch streams that broke and were re-created (the watches themselves went on). */
  watchStreamsLost: number;
  /** Watches currently open. */
  openWatches?: number;
}

/** An etcd request failed (after the retries the request allowed). */
export class EtcdRequestError extends StorageError {
  constructor(
    readonly operation: string,
    /** gRPC status code, when the failure had one (14 UNAVAILABLE, 4 DEADLINE_EXCEEDED, ...). */
    readonly code: number | undefined,
    readonly details: string,
    /** Ambiguous failure of a write: it may or may not have been applied. */
    readonly mayHaveSucceeded: boolean,
  ) {
    super(`etcd ${operation} failed${mayHaveSucceeded ? ' (outcome unknown)' : ''}: ${details}`);
  }
}

/** Opens a store on etcd. Connections are made lazily: an unreachable etcd shows as failing operations. */
export function openEtcdStore(opts: EtcdStoreOptions): EtcdStore {
  return new EtcdStore(opts);
}

/** Distinct keys per batched get (etcd's default --max-txn-ops is 128). */
const GET_BATCH_MAX = 64;

interface PendingGet {
  key: string;
  resolve: (kv: KeyValue | null) => void;
  reject: (err: unknown) => void;
}

/** The smallest key greater than every key that starts with `prefix` (etcd's prefix range_end). */
function prefixEnd(prefix: Buffer): Buffer {
  for (let i = prefix.length - 1; i >= 0; i--) {
    if (prefix[i]! < 0xff) {
      const end = Buffer.from(prefix.subarray(0, i + 1));
      end[i] = prefix[i]! + 1;
      return end;
    }
  }
  return Buffer.from([0]); // "\0": up to the end of the key space
}

function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

const headerRevision = (res: { header: IResponseHeader }): number => revisionOf(res.header);
const rangeRevision = (res: { revision: number }): number => res.revision;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class EtcdStore implements Store {
  readonly backend = 'etcd';
  /** The key namespace in etcd. */
  readonly prefix: string;
  /** @internal */
  readonly client: EtcdClient;

  private readonly ns: Buffer;
  private readonly requestTimeoutMs: number;
  private readonly attemptTimeoutMs: number;
  private readonly watchReconnectTimeoutMs: number;
  private readonly onCallbackError: (err: unknown) => void;
  private readonly watchers = new Set<EtcdWatch>();
  private readonly compactors = new StoreCompactors(this, () => this.closed);
  private closed = false;
  /** Highest revision seen in any response: a revision that is certainly not in the future. */
  private lastKnown = 0;
  private baselinePending: Promise<number> | null = null;
  private compacted = 0;
  /** Decodes a RangeResponse into this store's KeyValues (keys without the namespace). */
  private readonly decodeRange: (res: Buffer) => RangeResult;
  private readonly decodeRangesTxn: (res: Buffer) => RangesResult;
  /** Gets waiting for the end of the event-loop turn (see get). */
  private pendingGets: PendingGet[] = [];
  /** Distinct keys per batched get: GET_BATCH_MAX, less after etcd refused a txn that large. */
  private getBatchLimit = GET_BATCH_MAX;
  /** @internal */
  readonly counters: EtcdStoreStats = { requestRetries: 0, watchStreamsLost: 0 };

  constructor(opts: EtcdStoreOptions) {
    if (!opts || !Array.isArray(opts.endpoints) || opts.endpoints.length === 0) {
      throw new StorageError('etcd store needs at least one endpoint');
    }
    this.prefix = (opts.prefix ?? '/upm').replace(/\/+$/, '');
    this.ns = Buffer.from(this.prefix, 'utf8');
    const nsLength = this.ns.length;
    this.decodeRange = (res) => decodeRangeResponse(res, nsLength);
    this.decodeRangesTxn = (res) => decodeRangesTxnResponse(res, nsLength);
    this.requestTimeoutMs = Math.max(1, opts.requestTimeoutMs ?? 10000);
    this.attemptTimeoutMs = Math.max(1000, Math.floor(this.requestTimeoutMs / 2));
    this.watchReconnectTimeoutMs = Math.max(0, opts.watchReconnectTimeoutMs ?? 60000);
    this.onCallbackError = opts.onCallbackError ?? (() => undefined);

    const options: IOptions = {
      hosts: opts.endpoints,
      grpcOptions: {
        // lists of many objects and watch events with prevValues can be large
        'grpc.max_receive_message_length': -1,
        'grpc.max_send_message_length': -1,
        // reconnect quickly to a member that comes back (gRPC's default backoff grows to 120 s)
        'grpc.initial_reconnect_backoff_ms': 100,
        'grpc.max_reconnect_backoff_ms': 1000,
        'grpc.keepalive_time_ms': 30000,
        'grpc.keepalive_timeout_ms': 10000,
      },
    };
    if (opts.tls) {
      const { caFile, certFile, keyFile } = opts.tls;
      if ((certFile === undefined) !== (keyFile === undefined)) {
        throw new StorageError('etcd tls: certFile and keyFile go together');
      }
      try {
        options.credentials = {
          // undefined: the system's root certificates
          rootCertificate: (caFile ? readFileSync(caFile) : undefined) as Buffer,
          ...(certFile ? { certChain: readFileSync(certFile) } : {}),
          ...(keyFile ? { privateKey: readFileSync(keyFile) } : {}),
        };
      } catch (err) {
        throw new StorageError(`etcd tls: ${messageOf(err)}`);
      }
    }
    try {
      this.client = new EtcdClient(options);
    } catch (err) {
      throw new StorageError(`etcd client: ${messageOf(err)}`);
    }
  }

  /** Counters since the store was opened (for logs and metrics). */
  stats(): EtcdStoreStats {
    return { ...this.counters, openWatches: this.watchers.size };
  }

  /** @internal */
  get isClosed(): boolean {
    return this.closed;
  }

  /** @internal The compacted revision known to this store. */
  get knownCompacted(): number {
    return this.compacted;
  }

  /** @internal */
  observe(header: IResponseHeader | null | undefined): void {
    this.observeRevision(revisionOf(header));
  }

  private observeRevision(rev: number): void {
    if (rev > this.lastKnown) this.lastKnown = rev;
  }

  /** @internal */
  learnCompacted(revision: number): void {
    if (revision > this.compacted) this.compacted = revision;
  }

  /** @internal */
  detachWatch(w: EtcdWatch): void {
    this.watchers.delete(w);
  }

  /** @internal */
  unprefix(key: Buffer): string {
    return key.subarray(this.ns.length).toString('utf8');
  }

  private fullKey(key: string): Buffer {
    return Buffer.concat([this.ns, Buffer.from(key, 'utf8')]);
  }

  private toKeyValue(kv: IKeyValue, modRevision?: number): KeyValue {
    return {
      key: this.unprefix(kv.key),
      value: kv.value.toString('utf8'),
      createRevision: Number(kv.create_revision),
      modRevision: modRevision ?? Number(kv.mod_revision),
    };
  }

  private assertOpen(): void {
    if (this.closed) throw new StorageError('store closed');
  }

  /** One KV request with the store's deadline and retry rules; failures are EtcdRequestErrors. */
  private async call<Res>(
    op: string,
    mutating: boolean,
    send: (options: GrpcCallOptions) => Promise<Res>,
    revision: (res: Res) => number,
  ): Promise<Res> {
    this.assertOpen();
    if (mutating && this.baselinePending) await this.baselinePending.catch(() => undefined);
    const started = Date.now();
    const deadline = started + this.requestTimeoutMs;
    for (let attempt = 0; ; attempt++) {
      if (this.closed) throw new StorageError('store closed');
      try {
        // a read attempt may give up early and try another endpoint; a write that timed out
        // cannot be retried, so it gets the whole budget
        const attemptDeadline = mutating ? deadline : Math.min(deadline, Date.now() + this.attemptTimeoutMs);
        const res = await send({ deadline: attemptDeadline });
        this.observeRevision(revision(res));
        return res;
      } catch (err) {
        if (this.closed) throw new StorageError('store closed');
        const code = codeOf(err);
        // OUT_OF_RANGE: compacted or future revision, mapped by the caller from the message
        const retry = code !== GRPC_OUT_OF_RANGE && (mutating ? notSent(err) : transient(err));
        const wait = Math.min(500, 20 * 2 ** Math.min(attempt, 5)) * (0.5 + Math.random() / 2);
        if (!retry || Date.now() + wait >= deadline) {
          const ambiguous = mutating && transient(err) && !notSent(err);
          const details = retry ? `${messageOf(err)} (gave up after ${Date.now() - started} ms)` : messageOf(err);
          throw new EtcdRequestError(op, code, details, ambiguous);
        }
        this.counters.requestRetries++;
        await sleep(wait);
      }
    }
  }

  private range(op: string, args: RangeArgs): Promise<RangeResult> {
    const req = encodeRangeRequest(args);
    return this.call(
      op,
      false,
      (options) => this.client.rawCall(RANGE_PATH, req, this.decodeRange, options),
      rangeRevision,
    );
  }

  private kv<Res extends { header: IResponseHeader }>(
    op: string,
    method: KvMethod,
    req: object,
    mutating: boolean,
  ): Promise<Res> {
    return this.call(op, mutating, (options) => this.client.kvCall<Res>(method, req, options), headerRevision);
  }

  private txn(op: string, req: ITxnRequest): Promise<ITxnResponse> {
    return this.kv<ITxnResponse>(op, 'txn', req, true);
  }

  /** A revision observed before this call, fetching one when the store has seen none yet. */
  private baseline(): Promise<number> {
    if (this.lastKnown > 0) return Promise.resolve(this.lastKnown);
    if (!this.baselinePending) {
      const p = this.currentRevision().finally(() => {
        if (this.baselinePending === p) this.baselinePending = null;
      });
      this.baselinePending = p;
    }
    return this.baselinePending;
  }

  /**
   * Asks etcd for its compacted revision, given a revision `start` suspected to be compacted:
   * a watch from `start` on an unused key is canceled at once with compact_revision when
   * start < compact_revision. Null when it is not (or etcd did not answer within 2 s).
   * @internal
   */
  async probeCompacted(start: number): Promise<number | null> {
    if (this.closed || start < 1) return null;
    let stream: RawWatchStream;
    try {
      stream = await this.client.openWatchStream();
    } catch {
      return null;
    }
    return new Promise<number | null>((resolve) => {
      let done = false;
      const finish = (v: number | null): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        cancelQuietly(stream);
        if (v !== null) this.learnCompacted(v);
        resolve(v);
      };
      // etcd checks unsynced watchers for compaction every 100 ms
      let timer = setTimeout(() => finish(null), 2000);
      stream.on('data', (res) => {
        const c = Number(res.compact_revision);
        if (c > 0) finish(c);
        else if (res.canceled) finish(null);
        else if (res.created) {
          clearTimeout(timer);
          timer = setTimeout(() => finish(null), 500);
        }
      });
      stream.on('error', () => finish(null));
      stream.on('end', () => finish(null));
      stream.write({
        create_request: { key: Buffer.concat([this.ns, Buffer.from('\0compaction-probe')]), start_revision: start },
      });
    });
  }

  /** Maps a range error at `requested` to CompactedError / FutureRevisionError. */
  private async revisionError(err: unknown, requested: number): Promise<Error> {
    const msg = messageOf(err);
    if (msg.includes(COMPACTED_MESSAGE)) {
      let compacted = this.compacted;
      if (compacted <= requested) compacted = (await this.probeCompacted(requested)) ?? requested + 1;
      this.learnCompacted(compacted);
      return new CompactedError(requested, compacted);
    }
    if (msg.includes(FUTURE_MESSAGE)) {
      return new FutureRevisionError(requested, await this.currentRevision());
    }
    return err instanceof Error ? err : new StorageError(msg);
  }

  // ---- Store ----

  async currentRevision(): Promise<number> {
    const res = await this.range('currentRevision', { key: this.ns, countOnly: true });
    return res.revision;
  }

  async compactedRevision(): Promise<number> {
    this.assertOpen();
    return this.compacted;
  }

  async get(key: string): Promise<KeyValue | null> {
    this.assertOpen();
    checkKey(key);
    // queued until the end of this event-loop turn, then read with the other gets queued
    // meanwhile (see getMany)
    return new Promise<KeyValue | null>((resolve, reject) => {
      if (this.pendingGets.length === 0) setImmediate(this.flushGets);
      this.pendingGets.push({ key, resolve, reject });
    });
  }

  /** Reads the queued gets: each distinct key once, at most getBatchLimit keys per request. */
  private readonly flushGets = (): void => {
    const batch = this.pendingGets;
    this.pendingGets = [];
    const waiters = new Map<string, PendingGet[]>();
    for (const g of batch) {
      const same = waiters.get(g.key);
      if (same) same.push(g);
      else waiters.set(g.key, [g]);
    }
    const keys = [...waiters.keys()];
    for (let i = 0; i < keys.length; i += this.getBatchLimit) {
      const chunk = keys.slice(i, i + this.getBatchLimit);
      this.getMany(chunk).then(
        (kvs) => {
          for (let k = 0; k < chunk.length; k++) {
            const kv = kvs[k] ?? null;
            const same = waiters.get(chunk[k]!)!;
            same[0]!.resolve(kv);
            // every caller gets its own object
            for (let j = 1; j < same.length; j++) same[j]!.resolve(kv && { ...kv });
          }
        },
        (err: unknown) => {
          for (const key of chunk) for (const g of waiters.get(key)!) g.reject(err);
        },
      );
    }
  };

  /** The objects at `keys` (null where none), read at one revision: a Range, or a read-only Txn of Ranges. */
  private async getMany(keys: string[]): Promise<(KeyValue | null)[]> {
    if (keys.length === 1) {
      const res = await this.range('get', { key: this.fullKey(keys[0]!) });
      return [res.kvs[0] ?? null];
    }
    const req = encodeRangesTxn(keys.map((key) => ({ key: this.fullKey(key) })));
    let res: RangesResult;
    try {
      res = await this.call(
        'get',
        false,
        (options) => this.client.rawCall(TXN_PATH, req, this.decodeRangesTxn, options),
        rangeRevision,
      );
    } catch (err) {
      if (!(err instanceof EtcdRequestError && err.details.includes(TOO_MANY_OPS_MESSAGE))) throw err;
      // etcd runs with a --max-txn-ops below the batch size: smaller batches from now on
      this.getBatchLimit = Math.max(1, Math.min(this.getBatchLimit, Math.floor(keys.length / 2)));
      const parts: Promise<(KeyValue | null)[]>[] = [];
      for (let i = 0; i < keys.length; i += this.getBatchLimit)
        parts.push(this.getMany(keys.slice(i, i + this.getBatchLimit)));
      return (await Promise.all(parts)).flat();
    }
    if (res.ranges.length !== keys.length) {
      throw new EtcdRequestError(
        'get',
        undefined,
        `txn returned ${res.ranges.length} responses for ${keys.length} ranges`,
        false,
      );
    }
    return res.ranges.map((r) => r.kvs[0] ?? null);
  }

  async list(prefix: string, opts: ListOptions = {}): Promise<ListResult> {
    this.assertOpen();
    if (typeof prefix !== 'string') throw new StorageError('invalid prefix');
    const requested = checkRevisionArg('revision', opts.revision);
    const limit = checkRevisionArg('limit', opts.limit);
    const start = this.fullKey(prefix);
    const end = prefixEnd(start);
    let from = start;
    if (opts.startAfter !== undefined && compareKeys(opts.startAfter, prefix) >= 0) {
      from = Buffer.concat([this.fullKey(opts.startAfter), Buffer.from([0])]);
    }
    const empty = Buffer.compare(from, end) >= 0;
    const req: RangeArgs = empty
      ? { key: this.ns, countOnly: true } // nothing can match: only check the revision
      : { key: from, rangeEnd: end };
    if (requested > 0) req.revision = requested;
    if (limit > 0 && !empty) req.limit = limit;
    let res: RangeResult;
    try {
      res = await this.range('list', req);
    } catch (err) {
      throw await this.revisionError(err, requested);
    }
    const revision = requested > 0 ? requested : res.revision;
    if (empty) return { items: [], revision, more: false, remaining: 0 };
    const items = res.kvs;
    const more = limit > 0 && res.more;
    return { items, revision, more, remaining: more ? Math.max(0, res.count - items.length) : 0 };
  }

  async count(prefix: string): Promise<number> {
    this.assertOpen();
    if (typeof prefix !== 'string') throw new StorageError('invalid prefix');
    const start = this.fullKey(prefix);
    const res = await this.range('count', { key: start, rangeEnd: prefixEnd(start), countOnly: true });
    return res.count;
  }

  async create(key: string, value: string): Promise<KeyValue> {
    this.assertOpen();
    checkKey(key);
    checkValue(value);
    const k = this.fullKey(key);
    const res = await this.txn('create', {
      compare: [{ key: k, target: 'Create', result: 'Equal', create_revision: 0 }],
      success: [{ request_put: { key: k, value: Buffer.from(value, 'utf8') } }],
      failure: [],
    });
    if (!res.succeeded) throw new KeyExistsError(key);
    const rev = revisionOf(res.header);
    return { key, value, createRevision: rev, modRevision: rev };
  }

  private conditions(k: Buffer, precondition: Precondition | undefined): ICompare[] {
    const compare: ICompare[] = [{ key: k, target: 'Create', result: 'Greater', create_revision: 0 }];
    const expected = precondition?.modRevision;
    if (expected !== undefined) {
      if (!Number.isSafeInteger(expected) || expected < 0) throw new StorageError(`invalid precondition: ${expected}`);
      compare.push({ key: k, target: 'Mod', result: 'Equal', mod_revision: expected });
    }
    return compare;
  }

  private failedWrite(key: string, res: ITxnResponse, precondition: Precondition | undefined): Error {
    const current = res.responses[0]?.response_range?.kvs?.[0];
    if (!current) return new KeyNotFoundError(key);
    return new PreconditionFailedError(key, precondition?.modRevision ?? 0, Number(current.mod_revision));
  }

  async update(key: string, value: string, precondition?: Precondition): Promise<KeyValue> {
    this.assertOpen();
    checkKey(key);
    checkValue(value);
    const k = this.fullKey(key);
    const res = await this.txn('update', {
      compare: this.conditions(k, precondition),
      success: [{ request_put: { key: k, value: Buffer.from(value, 'utf8'), prev_kv: true } }],
      failure: [{ request_range: { key: k, keys_only: true } }],
    });
    if (!res.succeeded) throw this.failedWrite(key, res, precondition);
    const prev = res.responses[0]?.response_put?.prev_kv;
    const rev = revisionOf(res.header);
    return { key, value, createRevision: prev ? Number(prev.create_revision) : rev, modRevision: rev };
  }

  async delete(key: string, precondition?: Precondition): Promise<KeyValue> {
    this.assertOpen();
    checkKey(key);
    const k = this.fullKey(key);
    const res = await this.txn('delete', {
      compare: this.conditions(k, precondition),
      success: [{ request_delete_range: { key: k, prev_kv: true } }],
      failure: [{ request_range: { key: k, keys_only: true } }],
    });
    if (!res.succeeded) throw this.failedWrite(key, res, precondition);
    const prev = res.responses[0]?.response_delete_range?.prev_kvs?.[0];
    if (!prev) throw new KeyNotFoundError(key); // cannot happen: the compare saw the key
    return this.toKeyValue(prev, revisionOf(res.header));
  }

  watch(prefix: string, afterRevision: number, callbacks: WatchCallbacks): Watch {
    const start = typeof prefix === 'string' ? this.fullKey(prefix) : this.ns;
    const w = new EtcdWatch(
      this,
      String(prefix),
      start,
      prefixEnd(start),
      callbacks,
      this.onCallbackError,
      this.watchReconnectTimeoutMs,
    );
    if (this.closed) {
      w.fail(new StorageError('store closed'));
      return w;
    }
    if (typeof prefix !== 'string' || !Number.isSafeInteger(afterRevision) || afterRevision < 0) {
      w.fail(new StorageError(`invalid watch arguments: prefix ${String(prefix)}, afterRevision ${afterRevision}`));
      return w;
    }
    if (afterRevision > 0 && afterRevision < this.compacted) {
      w.fail(new CompactedError(afterRevision, this.compacted));
      return w;
    }
    this.watchers.add(w);
    if (afterRevision > 0) {
      w.begin(afterRevision + 1);
    } else if (this.lastKnown > 0) {
      // "from now on": every write that starts after this call gets a higher revision
      w.begin(this.lastKnown + 1);
    } else {
      this.baseline().then(
        (rev) => w.begin(rev + 1),
        (err: unknown) => w.fail(err instanceof Error ? err : new StorageError(String(err))),
      );
    }
    return w;
  }

  async compact(revision: number): Promise<void> {
    this.assertOpen();
    if (!Number.isSafeInteger(revision) || revision < 0) throw new StorageError(`invalid revision: ${revision}`);
    if (revision <= this.compacted) return;
    try {
      await this.kv('compact', 'compact', { revision, physical: false }, false);
      this.learnCompacted(revision);
    } catch (err) {
      const msg = messageOf(err);
      if (msg.includes(COMPACTED_MESSAGE)) {
        // already compacted at or beyond `revision` (by another client): a no-op
        this.learnCompacted((await this.probeCompacted(revision - 1)) ?? revision);
        return;
      }
      if (msg.includes(FUTURE_MESSAGE)) throw new FutureRevisionError(revision, await this.currentRevision());
      throw err;
    }
  }

  /**
   * Compacts automatically, like kube-apiserver's compactor: every `intervalMs` to the
   * revision that was current one interval earlier, keeping at least `minRetainedRevisions`.
   * Every replica may run one (a compaction that is already done is a no-op); note that it
   * compacts the whole etcd, not only this store's prefix. Returns a function that stops it;
   * close() stops it too.
   */
  startCompactor(intervalMs: number, opts: EtcdCompactorOptions = {}): () => void {
    this.assertOpen();
    return this.compactors.start(intervalMs, opts);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.compactors.stopAll();
    for (const w of [...this.watchers]) w.fail(new StorageError('store closed'));
    this.watchers.clear();
    this.client.close();
  }
}
