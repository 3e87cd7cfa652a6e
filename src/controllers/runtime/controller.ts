// A controller: a reconciler (one function of a key, controller-runtime's contract) behind a work
// queue fed by informers. The queue, not the reconciler, owns retries: an error requeues the key
// with per-key backoff, a TerminalError is not retried, `requeueAfterMs` comes back on time, and a
// key is never reconciled by two workers at once.

import type { Logger } from 'pino';
import type { KubeObject } from '../../machinery/object.js';
import type { EventHandler, Informer } from './informer.js';
import type { ControllerMetrics } from './metrics.js';
import { WorkQueue } from './workqueue.js';

export interface Request {
  namespace: string;
  name: string;
}

export interface Result {
  /** Reconcile the key again after this long (a poll: not an error, no backoff). */
  requeueAfterMs?: number;
}

/** An error that retrying cannot fix (bad input already reported in status): not requeued. */
export class TerminalError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TerminalError';
  }
}

export interface ReconcileContext {
  log: Logger | undefined;
  /** Aborted when the controller stops; long waits should give up. */
  signal: AbortSignal;
}

export type Reconciler = (req: Request, ctx: ReconcileContext) => Promise<Result | void>;

export const requestKey = (r: Request): string => (r.namespace ? `${r.namespace}/${r.name}` : r.name);
export function parseKey(key: string): Request {
  const i = key.indexOf('/');
  return i < 0 ? { namespace: '', name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

/** The owner references of `obj` that point at `kind` (of `apiVersion`'s group), controller first. */
export function ownersOfKind(obj: KubeObject, apiVersion: string, kind: string, controllerOnly = true): Request[] {
  const group = apiVersion.includes('/') ? apiVersion.split('/')[0] : '';
  return (obj.metadata.ownerReferences ?? [])
    .filter((o) => o.kind === kind && (o.apiVersion.includes('/') ? o.apiVersion.split('/')[0] : '') === group)
    .filter((o) => !controllerOnly || o.controller)
    .map((o) => ({ namespace: obj.metadata.namespace ?? '', name: o.name }));
}

/**
 * Events from outside the API server (controller-runtime's source.Channel): a database that went
 * away, say. Started with the controller, stopped before its queue shuts down.
 */
export interface ExternalSource {
  start(enqueue: (req: Request) => void): void;
  stop(): Promise<void>;
}

export interface ControllerOptions {
  workers?: number;
  metrics?: ControllerMetrics;
  log?: Logger;
  /** Backoff of failing keys (defaults: 5 ms doubling to 1000 s). */
  backoff?: { baseDelayMs?: number; maxDelayMs?: number };
}

export class Controller {
  readonly queue: WorkQueue<string>;
  private readonly abort = new AbortController();
  private workers: Promise<void>[] = [];
  private active = 0;
  private readonly log: Logger | undefined;
  private readonly sources: Informer[] = [];
  private readonly external: ExternalSource[] = [];
  private gaugeTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly name: string,
    private readonly reconciler: Reconciler,
    private readonly opts: ControllerOptions = {},
  ) {
    this.log = opts.log?.child({ controller: name });
    this.queue = new WorkQueue(opts.metrics?.queueMetrics(name), opts.backoff);
    opts.metrics?.registerController(name, opts.workers ?? 1);
  }

  /** Reconciles every object of `informer` by its own key (controller-runtime's For). */
  for(informer: Informer): this {
    return this.watches(informer, (obj) => [
      { namespace: obj.metadata.namespace ?? '', name: String(obj.metadata.name) },
    ]);
  }

  /** Reconciles the controlling owner of kind `kind` of every object of `informer` (Owns). */
  owns(informer: Informer, ownerApiVersion: string, ownerKind: string): this {
    return this.watches(informer, (obj) => ownersOfKind(obj, ownerApiVersion, ownerKind));
  }

  /** Reconciles the keys `map` returns for every changed object of `informer` (Watches). */
  watches(informer: Informer, map: (obj: KubeObject) => Request[]): this {
    this.sources.push(informer);
    const enqueue = (obj: KubeObject) => {
      for (const r of map(obj)) this.queue.add(requestKey(r));
    };
    const handler: EventHandler = {
      onAdd: enqueue,
      onUpdate: (oldObj, newObj) => {
        enqueue(oldObj);
        enqueue(newObj);
      },
      onDelete: enqueue,
    };
    informer.addHandler(handler);
    return this;
  }

  /** Reconciles the keys `source` names, when it names them. */
  from(source: ExternalSource): this {
    this.external.push(source);
    return this;
  }

  enqueue(req: Request, afterMs = 0): void {
    this.queue.addAfter(requestKey(req), afterMs);
  }

  /** Waits for the sources to sync, then runs the workers. */
  async start(syncTimeoutMs = 120_000): Promise<void> {
    await Promise.all(this.sources.map((s) => s.waitForSync(syncTimeoutMs)));
    const n = this.opts.workers ?? 1;
    for (let i = 0; i < n; i++) this.workers.push(this.work());
    for (const s of this.external) s.start((req) => this.queue.add(requestKey(req)));
    if (this.opts.metrics) {
      const labels = { name: this.name, controller: this.name };
      this.gaugeTimer = setInterval(() => {
        this.opts.metrics!.unfinishedWork.set(labels, this.queue.unfinishedWorkSeconds());
        this.opts.metrics!.longestRunning.set(labels, this.queue.longestRunningSeconds());
      }, 1000);
      this.gaugeTimer.unref?.();
    }
    this.log?.info({ workers: n }, 'controller started');
  }

  /** Stops taking keys and waits for the reconciles in progress (graceful drain). */
  async stop(): Promise<void> {
    this.abort.abort();
    if (this.gaugeTimer) clearInterval(this.gaugeTimer);
    await Promise.all(this.external.map((s) => s.stop()));
    await this.queue.shutdown(true);
    await Promise.all(this.workers);
  }

  private async work(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      this.active++;
      this.opts.metrics?.workers(this.name, this.active);
      const started = performance.now();
      const req = parseKey(key);
      const log = this.log?.child({ namespace: req.namespace || undefined, name: req.name });
      try {
        const result = await this.reconciler(req, { log, signal: this.abort.signal });
        const seconds = (performance.now() - started) / 1000;
        if (result?.requeueAfterMs && result.requeueAfterMs > 0) {
          this.queue.forget(key);
          this.queue.addAfter(key, result.requeueAfterMs);
          this.opts.metrics?.reconciled(this.name, 'requeue_after', seconds);
        } else {
          this.queue.forget(key);
          this.opts.metrics?.reconciled(this.name, 'success', seconds);
        }
      } catch (err) {
        const seconds = (performance.now() - started) / 1000;
        const terminal = err instanceof TerminalError;
        if (err instanceof TypeError || err instanceof RangeError || err instanceof ReferenceError)
          this.opts.metrics?.panicked(this.name);
        this.opts.metrics?.reconciled(this.name, 'error', seconds, terminal);
        if (terminal) {
          log?.warn({ err: (err as Error).message }, 'reconcile failed for good (not retried)');
        } else {
          log?.warn(
            { err: (err as Error).message, retries: this.queue.numRequeues(key) },
            'reconcile failed; requeued with backoff',
          );
          this.queue.addRateLimited(key);
        }
      } finally {
        this.queue.done(key);
        this.active--;
        this.opts.metrics?.workers(this.name, this.active);
      }
    }
  }
}
