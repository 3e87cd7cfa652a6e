// The watches of the etcd store: EtcdWatch runs one etcd Watch stream per watch, maps its
// responses to WatchEvents and progress notifications, and re-creates a broken stream from the
// revision after the last delivered event (see "watch" in store.ts).

import type { IEvent, IResponseHeader, IWatchResponse } from 'etcd3';
import { CompactedError, StorageError, type Watch, type WatchCallbacks, type WatchEvent } from '../interface.js';
import { messageOf, revisionOf, type EtcdClient, type RawWatchStream } from './client.js';

/** What a watch uses of its store (EtcdStore); an interface, so that this file does not import the store. */
export interface EtcdWatchStore {
  readonly client: EtcdClient;
  readonly counters: { watchStreamsLost: number };
  readonly isClosed: boolean;
  readonly knownCompacted: number;
  observe(header: IResponseHeader | null | undefined): void;
  learnCompacted(revision: number): void;
  probeCompacted(start: number): Promise<number | null>;
  unprefix(key: Buffer): string;
  detachWatch(w: EtcdWatch): void;
}

export class EtcdWatch implements Watch {
  /** Set by stop() or when onError is delivered: no callback is called any more. */
  private stopped = false;
  /** Set once the watch is ending (stop() or an error): no more streams or events. */
  private ended = false;
  private stream: RawWatchStream | null = null;
  /** Start revision of the next (re)connect: one after the last delivered event or progress. */
  private next = 0;
  private attempts = 0;
  /** When the watch lost its stream (or started); Infinity while a stream is established. */
  private disconnectedSince: number;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly store: EtcdWatchStore,
    readonly prefix: string,
    private readonly key: Buffer,
    private readonly rangeEnd: Buffer,
    private readonly callbacks: WatchCallbacks,
    private readonly onCallbackError: (err: unknown) => void,
    private readonly reconnectTimeoutMs: number,
  ) {
    this.disconnectedSince = Date.now();
  }

  /** Starts delivering events with revision >= startRevision. */
  begin(startRevision: number): void {
    if (this.ended) return;
    this.next = startRevision;
    this.disconnectedSince = Date.now();
    void this.connect();
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.end();
  }

  requestProgress(): void {
    // etcd answers with an event-less response whose header revision every event up to has been
    // sent (once the watch is synced); onResponse reports it through onProgress.
    if (this.stream && this.disconnectedSince === Infinity && !this.ended) this.stream.write({ progress_request: {} });
  }

  /** Ends the watch with onError (asynchronously, unless stop() comes first). */
  fail(err: Error): void {
    if (this.ended) return;
    this.end();
    this.deliverError(err);
  }

  private deliverError(err: Error): void {
    setImmediate(() => {
      if (this.stopped) return;
      this.stopped = true;
      try {
        this.callbacks.onError(err);
      } catch (e) {
        this.onCallbackError(e);
      }
    });
  }

  private end(): void {
    this.ended = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const stream = this.stream;
    this.stream = null;
    if (stream) cancelQuietly(stream);
    this.store.detachWatch(this);
  }

  private async connect(): Promise<void> {
    this.timer = null;
    if (this.ended) return;
    let stream: RawWatchStream;
    try {
      stream = await this.store.client.openWatchStream();
    } catch (err) {
      this.retry(err);
      return;
    }
    if (this.ended) {
      cancelQuietly(stream);
      return;
    }
    this.stream = stream;
    stream.on('data', (res) => {
      if (this.stream === stream) this.onResponse(res);
    });
    stream.on('error', (err) => {
      if (this.stream === stream) this.broken(err);
    });
    stream.on('end', () => {
      if (this.stream === stream) this.broken(new Error('watch stream ended'));
    });
    stream.on('status', () => undefined);
    stream.write({
      create_request: {
        key: this.key,
        range_end: this.rangeEnd,
        start_revision: this.next,
        prev_kv: true,
        progress_notify: true,
      },
    });
  }

  private broken(err: unknown): void {
    const stream = this.stream;
    this.stream = null;
    if (stream) this.store.counters.watchStreamsLost++;
    if (stream) cancelQuietly(stream);
    if (this.disconnectedSince === Infinity) this.disconnectedSince = Date.now();
    this.retry(err);
  }

  private retry(err: unknown): void {
    if (this.ended) return;
    if (this.store.isClosed) {
      this.fail(new StorageError('store closed'));
      return;
    }
    const down = Date.now() - this.disconnectedSince;
    if (down >= this.reconnectTimeoutMs) {
      this.fail(new StorageError(`etcd watch on ${this.prefix} lost for ${down} ms: ${messageOf(err)}`));
      return;
    }
    const delay = Math.min(2000, 100 * 2 ** Math.min(this.attempts++, 5)) * (0.5 + Math.random() / 2);
    this.timer = setTimeout(() => void this.connect(), delay);
    this.timer.unref();
  }

  private onResponse(res: IWatchResponse): void {
    if (this.ended) return;
    this.store.observe(res.header);
    if (res.canceled) {
      const compacted = Number(res.compact_revision);
      if (compacted > 0) {
        this.store.learnCompacted(compacted);
        this.fail(new CompactedError(this.next - 1, compacted));
      } else if (/no leader/.test(res.cancel_reason)) {
        this.broken(new Error(res.cancel_reason));
      } else {
        this.fail(
          new StorageError(`etcd canceled the watch on ${this.prefix}: ${res.cancel_reason || 'no reason given'}`),
        );
      }
      return;
    }
    if (res.created) {
      this.attempts = 0;
      this.disconnectedSince = Infinity;
    }
    const events = res.events ?? [];
    if (events.length === 0) {
      // a progress notification: every event up to header.revision has been sent
      if (!res.created) {
        const revision = revisionOf(res.header);
        this.next = Math.max(this.next, revision + 1);
        try {
          this.callbacks.onProgress?.(revision);
        } catch (err) {
          this.onCallbackError(err);
        }
      }
      return;
    }
    const floor = this.next;
    for (const ev of events) {
      if (this.stopped || this.ended) return;
      const revision = Number(ev.kv.mod_revision);
      if (revision < floor) continue; // already delivered before a reconnect
      const event = this.toEvent(ev);
      if (!event) {
        // this event's previous value is compacted: the watch's position is lost
        this.lost(revision);
        return;
      }
      this.next = revision + 1;
      try {
        this.callbacks.onEvent(event);
      } catch (err) {
        this.onCallbackError(err);
      }
    }
  }

  private toEvent(ev: IEvent): WatchEvent | null {
    const key = this.store.unprefix(ev.kv.key);
    const revision = Number(ev.kv.mod_revision);
    const prev = ev.prev_kv;
    if (ev.type === 'Delete') {
      if (!prev) return null;
      const value = prev.value.toString('utf8');
      return { type: 'DELETE', key, value, prevValue: value, createRevision: Number(prev.create_revision), revision };
    }
    const event: WatchEvent = {
      type: 'PUT',
      key,
      value: ev.kv.value.toString('utf8'),
      createRevision: Number(ev.kv.create_revision),
      revision,
    };
    if (prev) event.prevValue = prev.value.toString('utf8');
    else if (Number(ev.kv.version) > 1) return null; // an update must have a previous value
    return event;
  }

  /** Ends the watch with CompactedError once etcd told the exact compacted revision. */
  private lost(revision: number): void {
    const requested = this.next - 1;
    this.end();
    void this.store.probeCompacted(requested).then((compacted) => {
      const c = Math.max(compacted ?? 0, revision, this.store.knownCompacted);
      this.store.learnCompacted(c);
      this.deliverError(new CompactedError(requested, c));
    });
  }
}

export function cancelQuietly(stream: RawWatchStream): void {
  stream.on('error', () => undefined);
  try {
    stream.cancel();
  } catch {
    // already closed
  }
}
