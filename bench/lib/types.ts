// The shapes shared by the runner and the suites: a table row, a suite, the presets and the
// context a suite runs in.

import type { BackendEnv } from './env.js';

export type BackendName = 'sqlite' | 'etcd';

/** One line of the result table (and one element of the JSON `rows`). */
export interface Row {
  /** The suite that produced it (`Suite.name`). */
  suite: string;
  /** The storage backend measured; null for rows that do not depend on one. */
  backend: BackendName | null;
  /** What was measured, e.g. "GET UnitSet throughput". */
  figure: string;
  /** The measured value; null when not measured (placeholders, failures). */
  value: number | null;
  /** Unit of `value` and `referenceValue`, e.g. "req/s", "ms", "MiB". */
  unit: string;
  /** What the figure is compared with, measured in the same run; null when nothing. */
  reference: string | null;
  referenceValue: number | null;
  /** value / referenceValue (so for throughput < 1 means slower, for latency > 1 means slower). */
  ratio: number | null;
  /** Free text: conditions, client/server event-loop utilization, why a row is empty. */
  note?: string;
}

export interface Preset {
  name: 'default' | 'full';
  /** In-flight requests of the throughput measurements (keep-alive connections). */
  concurrency: number;
  /** Warm-up before each timed throughput run. */
  warmupMs: number;
  /** Length of each timed throughput run. */
  durationMs: number;
  /** UnitSets in the LIST namespace. */
  listItems: number;
  /** Timed creates and updates (API and raw storage each). */
  writes: number;
  /** Writes excluded from timing before each write run. */
  warmupWrites: number;
  /** Units stored for the big LIST and the memory figure. */
  bigListItems: number;
  /** Timed LISTs of the big namespace per variant (after one untimed). */
  bigListIterations: number;
  /** Concurrent watchers of the fan-out figure. */
  watchers: number;
  /** Timed writes of the fan-out figure (after warm-ups). */
  watchWrites: number;
}

/** What a suite gets. `env` is set for per-backend suites. */
export interface SuiteContext {
  preset: Preset;
  env?: BackendEnv;
  /** Progress line on stderr (the table goes to stdout). */
  log(message: string): void;
}

/**
 * A group of rows. Per-backend suites (`scope: 'backend'`) run once for every selected backend
 * against a running API server on it; global suites run once.
 */
export interface Suite {
  /** Short id, used by `--only`. */
  name: string;
  scope: 'backend' | 'global';
  run(ctx: SuiteContext): Promise<Row[]>;
}

/** A row with the ratio computed. */
export function row(
  suite: string,
  backend: BackendName | null,
  figure: string,
  value: number | null,
  unit: string,
  reference: string | null = null,
  referenceValue: number | null = null,
  note?: string,
): Row {
  const ratio = value !== null && referenceValue !== null && referenceValue !== 0 ? value / referenceValue : null;
  return { suite, backend, figure, value, unit, reference, referenceValue, ratio, ...(note ? { note } : {}) };
}
