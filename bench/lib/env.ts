// One benchmark environment per backend: the storage (a SQLite file, or a single-member etcd
// started for the run), the real API server over HTTPS in this process (startAPIServer with
// upmRegistrations), the load worker, and helpers shared by the suites.

import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, createServer, request, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { pino } from 'pino';
import { upmRegistrations } from '../../src/api/registrations.js';
import type { ServedResource } from '../../src/apiserver/registry/registry.js';
import { startAPIServer, type RunningAPIServer } from '../../src/apiserver/server.js';
import { createCA, issueClientCert, issueServingCert, type CertKeyPair } from '../../src/pki/certs.js';
import { openEtcdStore } from '../../src/storage/etcd/store.js';
import { startEtcd, type EtcdServer } from '../../src/storage/etcd/testing/etcd.js';
import type { KeyValue, Store } from '../../src/storage/interface.js';
import { openSqliteStore } from '../../src/storage/sqlite/store.js';
import { LoadWorker } from './client.js';
import type { Target } from './protocol.js';
import { wallNow } from './stats.js';
import type { BackendName } from './types.js';

export interface Certs {
  ca: CertKeyPair;
  serving: CertKeyPair;
  /** CN bench-admin, O system:masters (the server runs without an authorizer: all allowed). */
  admin: CertKeyPair;
}

export function makeCerts(): Certs {
  const ca = createCA('upm-bench-ca');
  return {
    ca,
    serving: issueServingCert(ca, { commonName: 'upm-bench', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] }),
    admin: issueClientCert(ca, { commonName: 'bench-admin', organizations: ['system:masters'] }),
  };
}

/**
 * When each revision was known to be committed: the earlier of storage acknowledging the write
 * (create/update/delete resolved) and the first storage watch event of that revision reaching
 * the server. Both are needed: with etcd the watch event can arrive before the write's response,
 * and the server's event loop may be busy (fanning that event out) when the response arrives.
 */
export class CommitClock {
  private readonly times = new Map<number, number>();

  record(revision: number): void {
    const now = wallNow();
    const seen = this.times.get(revision);
    if (seen === undefined || now < seen) this.times.set(revision, now);
  }

  at(revision: number): number | undefined {
    return this.times.get(revision);
  }
}

/** A Store that delegates to `inner` and tells `clock` when each write was committed. */
function clocked(inner: Store, clock: CommitClock): Store {
  const noted = async (write: Promise<KeyValue>): Promise<KeyValue> => {
    const kv = await write;
    clock.record(kv.modRevision);
    return kv;
  };
  return {
    backend: inner.backend,
    currentRevision: () => inner.currentRevision(),
    compactedRevision: () => inner.compactedRevision(),
    get: (key) => inner.get(key),
    list: (prefix, opts) => inner.list(prefix, opts),
    count: (prefix) => inner.count(prefix),
    create: (key, value) => noted(inner.create(key, value)),
    update: (key, value, pre) => noted(inner.update(key, value, pre)),
    delete: (key, pre) => noted(inner.delete(key, pre)),
    watch: (prefix, after, callbacks) =>
      inner.watch(prefix, after, {
        onEvent: (ev) => {
          clock.record(ev.revision);
          callbacks.onEvent(ev);
        },
        onError: (err) => callbacks.onError(err),
      }),
    compact: (revision) => inner.compact(revision),
    close: () => inner.close(),
  };
}

export interface ApiResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  json<T = any>(): T;
}

export interface BareServer {
  target: Target;
  close(): Promise<void>;
}

export class BackendEnv {
  /** Clients of the main thread (setup requests, the fan-out writes); the load goes through `worker`. */
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 8 });
  readonly target: Target;

  private constructor(
    readonly name: BackendName,
    /** The backend's store, not wrapped: what the raw-storage references use. */
    readonly store: Store,
    readonly server: RunningAPIServer,
    readonly certs: Certs,
    readonly commits: CommitClock,
    readonly worker: LoadWorker,
    private readonly cleanup: () => Promise<void>,
  ) {
    this.target = { origin: server.url, ca: certs.ca.certPem, cert: certs.admin.certPem, key: certs.admin.keyPem };
  }

  /** `sqliteSynchronous: 'NORMAL'` (no fsync per write) is for profiling the CPU of the write path only. */
  static async start(
    name: BackendName,
    certs: Certs,
    opts: { sqliteSynchronous?: 'FULL' | 'NORMAL' } = {},
  ): Promise<BackendEnv> {
    let store: Store;
    let etcd: EtcdServer | undefined;
    let dir: string | undefined;
    if (name === 'sqlite') {
      // A file with the production settings (WAL, synchronous=FULL), as `upm-engine local` opens it.
      dir = mkdtempSync(join(tmpdir(), 'upm-bench-'));
      store = openSqliteStore(join(dir, 'upm.db'), { synchronous: opts.sqliteSynchronous ?? 'FULL' });
    } else {
      etcd = await startEtcd();
      store = openEtcdStore({ endpoints: [etcd.endpoint], prefix: '/upm-bench' });
    }
    const commits = new CommitClock();
    const server = await startAPIServer({
      store: clocked(store, commits),
      resources: upmRegistrations(),
      logger: pino({ level: 'silent' }),
      tls: { certPem: certs.serving.certPem, keyPem: certs.serving.keyPem, clientCAPem: certs.ca.certPem },
      bindAddress: '127.0.0.1',
      port: 0,
    });
    const worker = new LoadWorker();
    return new BackendEnv(name, store, server, certs, commits, worker, async () => {
      await worker.terminate();
      await server.close();
      await store.close();
      await etcd?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });
  }

  async stop(): Promise<void> {
    this.agent.destroy();
    await this.cleanup();
  }

  /** A upm.io resource as the server serves it (its registry store and watch cache). */
  served(resource: string): ServedResource {
    const served = this.server.registry.lookup('upm.io', 'v1alpha1', resource);
    if (!served) throw new Error(`upm.io/v1alpha1 ${resource} is not served`);
    return served;
  }

  /** One request from the main thread (setup, not timed by the suites unless they say so). */
  api(method: string, path: string, body?: unknown): Promise<ApiResponse> {
    const url = new URL(path, this.server.url);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = request(
        url,
        {
          method,
          agent: this.agent,
          ca: this.certs.ca.certPem,
          cert: this.certs.admin.certPem,
          key: this.certs.admin.keyPem,
          headers: {
            Accept: 'application/json',
            ...(payload ? { 'Content-Type': 'application/json', 'Content-Length': payload.length } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const buf = Buffer.concat(chunks);
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: buf,
              json: () => JSON.parse(buf.toString('utf8')),
            });
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** api() that fails on a status >= 300. */
  async apiOK(method: string, path: string, body?: unknown): Promise<ApiResponse> {
    const res = await this.api(method, path, body);
    if (res.status >= 300)
      throw new Error(`${method} ${path}: HTTP ${res.status}: ${res.body.toString('utf8').slice(0, 500)}`);
    return res;
  }

  /**
   * The reference server: bare `node:https` in this thread, with the API server's TLS settings
   * and certificate, answering every request with `body` (the bytes the API server returned).
   */
  async bare(body: Buffer, contentType = 'application/json'): Promise<BareServer> {
    const server: Server = createServer(
      {
        cert: this.certs.serving.certPem,
        key: this.certs.serving.keyPem,
        ca: this.certs.ca.certPem,
        requestCert: true,
        rejectUnauthorized: false,
        minVersion: 'TLSv1.2',
      },
      (req, res) => {
        req.resume();
        req.on('end', () => {
          res.writeHead(200, { 'Content-Type': contentType, 'Content-Length': body.length });
          res.end(body);
        });
      },
    );
    server.keepAliveTimeout = 65_000;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    return {
      target: { ...this.target, origin: `https://127.0.0.1:${port}` },
      close: () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        }),
    };
  }
}

/** Event-loop utilization of this (the server's) thread while `fn` runs. */
export async function withServerELU<T>(fn: () => Promise<T>): Promise<{ result: T; elu: number }> {
  const start: EventLoopUtilization = performance.eventLoopUtilization();
  const result = await fn();
  return { result, elu: performance.eventLoopUtilization(start).utilization };
}
