// Prometheus metrics named as kube-apiserver names them, plus storage latency.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Store } from '../storage/interface.js';

export class APIMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'verb' | 'group' | 'version' | 'resource' | 'subresource' | 'code'>;
  readonly latency: Histogram<'verb' | 'group' | 'version' | 'resource' | 'subresource'>;
  readonly watches: Gauge<'group' | 'resource'>;
  readonly storageLatency: Histogram<'operation' | 'backend'>;

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    this.requests = new Counter({
      name: 'apiserver_request_total',
      help: 'Counter of apiserver requests broken out by verb, group, version, resource, subresource and HTTP response code.',
      labelNames: ['verb', 'group', 'version', 'resource', 'subresource', 'code'],
      registers: [this.registry],
    });
    this.latency = new Histogram({
      name: 'apiserver_request_duration_seconds',
      help: 'Response latency distribution in seconds for each verb, group, version, resource and subresource (watches excluded).',
      labelNames: ['verb', 'group', 'version', 'resource', 'subresource'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [this.registry],
    });
    this.watches = new Gauge({
      name: 'apiserver_registered_watchers',
      help: 'Number of currently open watches for a given resource.',
      labelNames: ['group', 'resource'],
      registers: [this.registry],
    });
    this.storageLatency = new Histogram({
      name: 'upm_storage_operation_duration_seconds',
      help: 'Latency of storage operations by operation and backend.',
      labelNames: ['operation', 'backend'],
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [this.registry],
    });
  }
}

/** Wraps a store so every operation is timed into the storage latency histogram. */
export function instrumentStore(store: Store, metrics: APIMetrics): Store {
  const time = async <T>(operation: string, fn: () => Promise<T>): Promise<T> => {
    const end = metrics.storageLatency.startTimer({ operation, backend: store.backend });
    try {
      return await fn();
    } finally {
      end();
    }
  };
  return {
    backend: store.backend,
    currentRevision: () => time('currentRevision', () => store.currentRevision()),
    compactedRevision: () => store.compactedRevision(),
    get: (key) => time('get', () => store.get(key)),
    list: (prefix, opts) => time('list', () => store.list(prefix, opts)),
    count: (prefix) => time('count', () => store.count(prefix)),
    create: (key, value) => time('create', () => store.create(key, value)),
    update: (key, value, pre) => time('update', () => store.update(key, value, pre)),
    delete: (key, pre) => time('delete', () => store.delete(key, pre)),
    watch: (prefix, after, callbacks) => store.watch(prefix, after, callbacks),
    compact: (revision) => time('compact', () => store.compact(revision)),
    close: () => store.close(),
  };
}
