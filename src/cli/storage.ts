// --storage=<backend>:<location> → a Store: sqlite:PATH (the embedded default) or
// etcd:URL[,URL...] for several API server replicas.

import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Store } from '../storage/interface.js';
import { openEtcdStore } from '../storage/etcd/store.js';
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

export interface EtcdSettings {
  prefix?: string;
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
}

export function openStore(spec: string, compaction: CompactionSettings, etcd?: EtcdSettings): OpenedStore {
  const colon = spec.indexOf(':');
  const backend = colon < 0 ? spec : spec.slice(0, colon);
  const location = colon < 0 ? '' : spec.slice(colon + 1);
  switch (backend) {
    case 'sqlite': {
      if (!location) throw new UsageError('--storage=sqlite:PATH needs a database file path');
      const path = resolve(location);
      mkdirSync(dirname(path), { recursive: true });
      const store = openSqliteStore(path);
      const stopCompactor =
        compaction.intervalMs > 0
          ? store.startCompactor(compaction.intervalMs, { minRetainedRevisions: compaction.minRetainedRevisions })
          : () => {};
      return { store, stop: stopCompactor };
    }
    case 'etcd': {
      const endpoints = location
        .split(',')
        .map((e) => e.trim())
        .filter(Boolean);
      if (endpoints.length === 0)
        throw new UsageError(
          '--storage=etcd:URL[,URL...] needs at least one endpoint, e.g. etcd:http://127.0.0.1:2379',
        );
      for (const e of endpoints)
        if (!/^https?:\/\/[^/]+$/.test(e))
          throw new UsageError(`--storage: "${e}" is not an etcd endpoint URL (http://host:port or https://host:port)`);
      const store = openEtcdStore({
        endpoints,
        prefix: etcd?.prefix ?? '/upm',
        ...(etcd?.tls ? { tls: etcd.tls } : {}),
      });
      const stopCompactor =
        compaction.intervalMs > 0
          ? store.startCompactor(compaction.intervalMs, { minRetainedRevisions: compaction.minRetainedRevisions })
          : () => {};
      return { store, stop: stopCompactor };
    }
    default:
      throw new UsageError(`unknown storage backend "${backend}": use sqlite:PATH or etcd:URL[,URL...]`);
  }
}
