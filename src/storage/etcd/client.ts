// The etcd client of the etcd store: gRPC calls through etcd3's connection pool (EtcdClient),
// etcd's require-leader metadata, and the classification of gRPC errors (which may be retried,
// which certainly did not reach etcd).
//
// etcd3 (microsoft/etcd3 1.1.2) provides the connection pool (endpoints, TLS, auth, gRPC
// channels per endpoint) and the generated etcd protobuf clients, used for writes, compaction
// and watches; reads (Range, and the Txns of batched gets) encode and decode their messages
// with the small codec in codec.ts, straight into the store's KeyValues. etcd3's high-level API is
// not used: its watch manager resumes a broken stream from the header revision of the last
// response, which can skip events: etcd 3.4.23 sends a catch-up of 2,500 events as responses
// of 1,000 events that all carry header revision 2,501, and the "created" response of a watch
// from a past revision carries the current revision before any event. It also reports a
// compacted watch without its compact_revision, and its default global policy retries writes
// after ambiguous errors.

import { Etcd3, type ICallable, type IResponseHeader, type IWatchRequest, type IWatchResponse } from 'etcd3';

type ConnectionArgs = Parameters<Parameters<ICallable<unknown>['withConnection']>[1]>[0];
type GrpcMetadata = ConnectionArgs['metadata'];
export type GrpcCallOptions = NonNullable<Parameters<Etcd3['kv']['range']>[1]>;

interface GrpcError {
  code?: number;
  details?: string;
  message: string;
}

type UnaryCallback = (err: GrpcError | null, res?: unknown) => void;
type UnaryMethod = (req: unknown, metadata: GrpcMetadata, options: GrpcCallOptions, cb: UnaryCallback) => unknown;

export interface RawWatchStream {
  on(event: 'data', fn: (res: IWatchResponse) => void): this;
  on(event: 'error', fn: (err: GrpcError) => void): this;
  on(event: 'end' | 'status', fn: () => void): this;
  write(req: IWatchRequest): unknown;
  cancel(): void;
}

export type KvMethod = 'txn' | 'compact';

const GRPC_CANCELLED = 1;
const GRPC_UNKNOWN = 2;
const GRPC_DEADLINE_EXCEEDED = 4;
const GRPC_RESOURCE_EXHAUSTED = 8;
export const GRPC_OUT_OF_RANGE = 11;
const GRPC_INTERNAL = 13;
const GRPC_UNAVAILABLE = 14;

export const COMPACTED_MESSAGE = 'required revision has been compacted';
export const FUTURE_MESSAGE = 'required revision is a future revision';
export const TOO_MANY_OPS_MESSAGE = 'too many operations in txn request';

function requireLeader(metadata: GrpcMetadata): GrpcMetadata {
  const md = metadata.clone();
  md.set('hasleader', 'true');
  return md;
}

const identity = (b: Buffer): Buffer => b;

/**
 * The etcd3 client, for its connection pool: one gRPC call on one endpoint (chosen at random
 * by the pool), without etcd3's retry policy. Errors are returned untouched (gRPC code and
 * details), and do not reach etcd3's circuit breaker, which would otherwise close the shared
 * channels of an endpoint on every transient error.
 */
export class EtcdClient extends Etcd3 {
  async kvCall<Res>(method: KvMethod, req: object, options: GrpcCallOptions): Promise<Res> {
    const outcome = await this.pool.withConnection('KV', ({ client, metadata }) => {
      const fn = (client as unknown as Record<KvMethod, UnaryMethod>)[method];
      return new Promise<{ ok: true; res: Res } | { ok: false; err: GrpcError }>((resolve) => {
        fn.call(client, req, requireLeader(metadata), options, (err, res) =>
          resolve(err ? { ok: false, err } : { ok: true, res: res as Res }),
        );
      });
    });
    if (!outcome.ok) throw outcome.err;
    return outcome.res;
  }

  /**
   * One unary KV call with an encoded request and a decoder of the response (the read path's
   * codec in codec.ts); otherwise like kvCall.
   */
  async rawCall<Res>(
    path: string,
    req: Buffer,
    deserialize: (res: Buffer) => Res,
    options: GrpcCallOptions,
  ): Promise<Res> {
    const outcome = await this.pool.withConnection('KV', ({ client, metadata }) => {
      return new Promise<{ ok: true; res: Res } | { ok: false; err: GrpcError }>((resolve) => {
        client.makeUnaryRequest(path, identity, deserialize, req, requireLeader(metadata), options, (err, res) =>
          resolve(err ? { ok: false, err } : { ok: true, res: res! }),
        );
      });
    });
    if (!outcome.ok) throw outcome.err;
    return outcome.res;
  }

  openWatchStream(): Promise<RawWatchStream> {
    return this.pool.withConnection('Watch', ({ client, metadata }) => {
      const watch = (client as unknown as { watch(md: GrpcMetadata, opts: GrpcCallOptions): RawWatchStream }).watch;
      return watch.call(client, requireLeader(metadata), {});
    });
  }
}

export function messageOf(err: unknown): string {
  if (err && typeof err === 'object' && 'message' in err) return String((err as GrpcError).message);
  return String(err);
}

export function codeOf(err: unknown): number | undefined {
  const code = err && typeof err === 'object' ? (err as GrpcError).code : undefined;
  return typeof code === 'number' ? code : undefined;
}

/** The request certainly did not reach etcd's raft log: safe to retry also for writes. */
export function notSent(err: unknown): boolean {
  const code = codeOf(err);
  const msg = messageOf(err);
  if (code === GRPC_UNAVAILABLE) {
    return /No connection established|ECONNREFUSED|connect E[A-Z]+|etcdserver: no leader|there is no (address|connection) available/.test(
      msg,
    );
  }
  if (code === GRPC_RESOURCE_EXHAUSTED) return msg.includes('etcdserver: too many requests');
  // grpc-js: the deadline passed while the call still waited for a connection
  if (code === GRPC_DEADLINE_EXCEEDED) return msg.includes('Waiting for LB pick');
  return false;
}

/** A read may be retried after this error (on the same or another endpoint). */
export function transient(err: unknown): boolean {
  const code = codeOf(err);
  return (
    notSent(err) ||
    code === GRPC_UNAVAILABLE ||
    code === GRPC_DEADLINE_EXCEEDED ||
    code === GRPC_CANCELLED ||
    code === GRPC_INTERNAL ||
    (code === GRPC_UNKNOWN && /leader changed|request timed out/.test(messageOf(err)))
  );
}

export function revisionOf(header: IResponseHeader | null | undefined): number {
  return header ? Number(header.revision) : 0;
}
