// Messages between the runner (main thread, which also runs the API server) and the load
// worker (a worker_threads thread that makes every benchmark request).

import type { Summary } from './stats.js';

/** Where and how the worker connects: HTTPS with the run's CA and the admin client certificate. */
export interface Target {
  /** https://127.0.0.1:PORT */
  origin: string;
  ca: string;
  cert: string;
  key: string;
}

export type Scenario =
  /** The same request again and again. */
  | { type: 'fixed'; method: 'GET'; path: string }
  /** POST `body` to the collection `path`, metadata.name = namePrefix + sequence number. */
  | { type: 'create'; path: string; body: Record<string, unknown>; namePrefix: string }
  /** One lane per object: PUT it back with an annotation changed, the response's object being
   * the next body (so its resourceVersion is always current). */
  | { type: 'update'; objects: { path: string; body: Record<string, unknown> }[] };

export interface RequestsJob {
  kind: 'requests';
  target: Target;
  /** Requests in flight (keep-alive agent with this many sockets). `update` uses one lane per object. */
  concurrency: number;
  /** Untimed warm-up: for this long, or this many requests (both may be set; 0/unset: none). */
  warmupMs?: number;
  warmupCount?: number;
  /** Timed phase: for this long, or this many requests. */
  durationMs?: number;
  count?: number;
  scenario: Scenario;
}

export interface RequestsResult {
  completed: number;
  errors: number;
  firstError?: string;
  /** Status code -> responses, timed phase. */
  statuses: Record<string, number>;
  elapsedMs: number;
  /** Completed requests per second in the timed phase. */
  throughput: number;
  /** Milliseconds from sending a request to the end of its response. */
  latency: Summary;
  /** Response body bytes of the timed phase. */
  bytes: number;
  /** Event-loop utilization of the worker during the timed phase (1 = the client was the bottleneck). */
  elu: number;
}

export interface WatchOpenJob {
  kind: 'watch-open';
  target: Target;
  /** A watch URL (path and query). */
  path: string;
  count: number;
  /** Watches being opened at the same time. */
  openConcurrency: number;
}

export interface WatchOpenResult {
  opened: number;
  ms: number;
}

export interface WatchCloseJob {
  kind: 'watch-close';
}

export interface WatchCloseResult {
  /** Watch streams that ended before watch-close (the server dropped them). */
  endedEarly: number;
}

export type Job = RequestsJob | WatchOpenJob | WatchCloseJob;

export interface JobResults {
  requests: RequestsResult;
  'watch-open': WatchOpenResult;
  'watch-close': WatchCloseResult;
}

/** Sent by the worker when the `index`-th event line (0-based) has reached every open watch. */
export interface DeliveredEvent {
  event: 'delivered';
  index: number;
  /** Wall-clock ms (performance.timeOrigin + now) of the first and the last arrival. */
  first: number;
  last: number;
}

export type ToWorker = { id: number; job: Job };
export type FromWorker =
  { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string } | DeliveredEvent;
