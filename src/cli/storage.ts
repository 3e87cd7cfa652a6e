// --storage=<backend>:<location> → a Store. SQLite is the embedded default; etcd comes next.

import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Store } from '../storage/interface.js';
import { openSqliteStore } from '../storage/sqlite/store.js';
import { UsageError } from './flags.js';

export interface OpenedStore {
  store: Store;
  /** Stops background work such as the compactor. */
  stop(): void;
}

export interface CompactionSettings {
  intervalMs: number;
  /** Latest revisions never compacted (kine keeps 1000). */
  minRetainedRevisions: number;
}

export function openStore(spec: string, compaction: CompactionSettings): OpenedStore {
  const colon = spec.indexOf(':');
  const backend = colon < 0 ? spec : spec.slice(0, colon);
  const location = colon < 0 ? '' : spec.slice(colon + 1);
  switch (backend) {
    case 'sqlite': {
      if (!location) throw new UsageError('--storage=sqlite:PATH needs a database file path');
      const path = resolve(location);
      mkdirSync(dirname(path), { recursive: true });
      const store = openSqliteStore(path);
      const stopCompactor = compaction.intervalMs > 0 ? store.startCompactor(compaction.intervalMs, { minRetainedRevisions: compaction.minRetainedRevisions }) : () => {};
      return { store, stop: stopCompactor };
    }
    case 'etcd':
      throw new UsageError('--storage=etcd: is not available in this build yet; use --storage=sqlite:PATH');
    default:
      throw new UsageError(`unknown storage backend "${backend}": use sqlite:PATH`);
  }
}
