// --storage=<backend>:<location> → a Store: sqlite:PATH (the embedded default) or
// etcd:URL[,URL...] for several API server replicas.

import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Store } from '../storage/interface.js';
import { openEtcdStore } from '../storage/etcd/store.js';
import { openSqliteStore } from '../storage/sqlite/store.js';
import { defineFlags, type FlagValues } from './flags.js';

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

/** Where a --storage value points; a string when it is not a valid storage. */
export type StorageLocation = { backend: 'sqlite'; path: string } | { backend: 'etcd'; endpoints: string[] };

export function parseStorage(spec: string): StorageLocation | string {
  const colon = spec.indexOf(':');
  const backend = colon < 0 ? spec : spec.slice(0, colon);
  const location = colon < 0 ? '' : spec.slice(colon + 1);
  switch (backend) {
    case 'sqlite':
      if (!location) return '--storage=sqlite:PATH needs a database file path';
      return { backend, path: resolve(location) };
    case 'etcd': {
      const endpoints = location
        .split(',')
        .map((e) => e.trim())
        .filter(Boolean);
      if (endpoints.length === 0)
        return '--storage=etcd:URL[,URL...] needs at least one endpoint, e.g. etcd:http://127.0.0.1:2379';
      const bad = endpoints.find((e) => !/^https?:\/\/[^/]+$/.test(e));
      if (bad) return `--storage: "${bad}" is not an etcd endpoint URL (http://host:port or https://host:port)`;
      return { backend, endpoints };
    }
    default:
      return `unknown storage backend "${backend}": use sqlite:PATH or etcd:URL[,URL...]`;
  }
}

export const compactionFlags = defineFlags({
  'compaction-interval': {
    type: 'duration',
    default: '5m',
    usage: 'how often old revisions are compacted; 0 disables compaction',
  },
  'compaction-min-retained-revisions': { type: 'int', default: '1000', usage: 'latest revisions never compacted' },
});

export function compactionSettings(flags: FlagValues<typeof compactionFlags>): CompactionSettings {
  return {
    intervalMs: flags['compaction-interval'],
    minRetainedRevisions: flags['compaction-min-retained-revisions'],
  };
}

export function validateStorage(spec: string, compaction: CompactionSettings): string[] {
  const location = parseStorage(spec);
  return [
    ...(typeof location === 'string' ? [location] : []),
    ...(compaction.minRetainedRevisions < 0
      ? [`--compaction-min-retained-revisions must not be negative, got ${compaction.minRetainedRevisions}`]
      : []),
  ];
}

/** Opens a validated --storage value. */
export function openStore(spec: string, compaction: CompactionSettings, etcd?: EtcdSettings): OpenedStore {
  const location = parseStorage(spec);
  if (typeof location === 'string') throw new Error(location);
  const store =
    location.backend === 'sqlite'
      ? openSqliteFile(location.path)
      : openEtcdStore({
          endpoints: location.endpoints,
          prefix: etcd?.prefix ?? '/upm',
          ...(etcd?.tls ? { tls: etcd.tls } : {}),
        });
  const stopCompactor =
    compaction.intervalMs > 0
      ? store.startCompactor(compaction.intervalMs, { minRetainedRevisions: compaction.minRetainedRevisions })
      : () => {};
  return { store, stop: stopCompactor };
}

function openSqliteFile(path: string) {
  mkdirSync(dirname(path), { recursive: true });
  return openSqliteStore(path);
}
