// A rate-limited, delaying work queue with client-go's guarantees (util/workqueue): a key waiting
// to be processed is queued once however often it is added; a key is never handed to two workers
// at once, and one added while it is processed runs again after; delayed adds keep the earliest
// ready time; failures back off per key, 5 ms doubling to 1000 s (controller-runtime's default
// limiter since it enabled the priority queue). Metrics are reported through `QueueMetrics`.

export interface QueueMetrics {
  depth(n: number): void;
  added(): void;
  retried(): void;
  /** Seconds a key waited between becoming ready and being picked up. */
  queued(seconds: number): void;
  /** Seconds a worker spent on a key. */
  worked(seconds: number): void;
}

const noMetrics: QueueMetrics = { depth() {}, added() {}, retried() {}, queued() {}, worked() {} };

export interface RateLimiterOptions {
  baseDelayMs?: number;
  maxDelayMs?: number;
}

export class WorkQueue<K = string> {
  private readonly fifo: K[] = [];
  private readonly dirty = new Set<K>();
  private readonly processing = new Map<K, number>();
  private readonly readySince = new Map<K, number>();
  private readonly waiting = new Map<K, { at: number; timer: NodeJS.Timeout }>();
  private readonly failures = new Map<K, number>();
  private readonly getters: ((key: K | undefined) => void)[] = [];
  private shuttingDown = false;
  private drained: (() => void) | undefined;
  private idleWaiters: (() => void)[] = [];
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;

  constructor(
    private readonly metrics: QueueMetrics = noMetrics,
    limiter: RateLimiterOptions = {},
  ) {
    this.baseDelayMs = limiter.baseDelayMs ?? 5;
    this.maxDelayMs = limiter.maxDelayMs ?? 1_000_000;
  }

  get length(): number {
    return this.fifo.length;
  }

  add(key: K): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    const delayed = this.waiting.get(key);
    if (delayed) {
      clearTimeout(delayed.timer);
      this.waiting.delete(key);
    }
    this.metrics.added();
    this.dirty.add(key);
    this.readySince.set(key, performance.now());
    if (this.processing.has(key)) return;
    this.push(key);
  }

  /** Adds `key` after `ms`; a key already waiting keeps the earlier of the two times. */
  addAfter(key: K, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) return this.add(key);
    this.metrics.retried();
    const at = Date.now() + ms;
    const current = this.waiting.get(key);
    if (current && current.at <= at) return;
    if (current) clearTimeout(current.timer);
    const timer = setTimeout(() => {
      this.waiting.delete(key);
      this.add(key);
    }, ms);
    timer.unref?.();
    this.waiting.set(key, { at, timer });
  }

  /** Adds `key` after its backoff: 5 ms, 10 ms, 20 ms, … up to the cap, per consecutive failure. */
  addRateLimited(key: K): void {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    this.addAfter(key, this.backoff(n));
  }

  backoff(failures: number): number {
    return Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** Math.min(failures, 60));
  }

  /** Clears `key`'s failure count (after a success). */
  forget(key: K): void {
    this.failures.delete(key);
  }

  numRequeues(key: K): number {
    return this.failures.get(key) ?? 0;
  }

  /** The next key to work on, or undefined once the queue is shut down and empty. */
  get(): Promise<K | undefined> {
    const key = this.fifo.shift();
    if (key !== undefined) return Promise.resolve(this.take(key));
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.getters.push(resolve));
  }

  /** Marks `key` finished; if it was added meanwhile it is queued again. */
  done(key: K): void {
    const started = this.processing.get(key);
    if (started !== undefined) this.metrics.worked((performance.now() - started) / 1000);
    this.processing.delete(key);
    if (this.dirty.has(key)) this.push(key);
    else if (this.drained && this.processing.size === 0) this.drained();
    if (this.isIdle()) for (const r of this.idleWaiters.splice(0)) r();
  }

  /** Resolves once no key is queued or in processing (keys waiting out a delay do not count). */
  idle(): Promise<void> {
    if (this.isIdle() || this.shuttingDown) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private isIdle(): boolean {
    return this.dirty.size === 0 && this.processing.size === 0;
  }

  /** Seconds the longest-running key has been processed (0 when idle). */
  longestRunningSeconds(): number {
    let oldest = Infinity;
    for (const t of this.processing.values()) oldest = Math.min(oldest, t);
    return oldest === Infinity ? 0 : (performance.now() - oldest) / 1000;
  }

  /** Sum of the seconds every key in processing has been worked on (unfinished work). */
  unfinishedWorkSeconds(): number {
    const now = performance.now();
    let total = 0;
    for (const t of this.processing.values()) total += (now - t) / 1000;
    return total;
  }

  /** Stops taking keys; with `drain`, resolves once every key in processing is done. */
  async shutdown(drain = true): Promise<void> {
    this.shuttingDown = true;
    for (const { timer } of this.waiting.values()) clearTimeout(timer);
    this.waiting.clear();
    for (const g of this.getters.splice(0)) g(undefined);
    for (const r of this.idleWaiters.splice(0)) r();
    if (!drain || this.processing.size === 0) return;
    await new Promise<void>((resolve) => (this.drained = resolve));
  }

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  private push(key: K): void {
    const getter = this.getters.shift();
    if (getter) getter(this.take(key));
    else {
      this.fifo.push(key);
      this.metrics.depth(this.fifo.length);
    }
  }

  private take(key: K): K {
    this.dirty.delete(key);
    const since = this.readySince.get(key);
    this.readySince.delete(key);
    if (since !== undefined) this.metrics.queued((performance.now() - since) / 1000);
    this.processing.set(key, performance.now());
    this.metrics.depth(this.fifo.length);
    return key;
  }
}
