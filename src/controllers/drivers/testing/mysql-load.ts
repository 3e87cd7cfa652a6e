// Load and observation for MySQL replication tests and benchmarks, on loopback only: a writer
// that inserts rows with unique ids through an application account (no SUPER: read_only stops
// it) into whichever node accepts them, and a sampler reading @@read_only on every node.

import type { Connection } from 'mysql2/promise';
import { Worker } from 'node:worker_threads';
import { testAccounts, type MariadbServer } from './mariadb-server.js';

const adminLogin = { user: testAccounts.admin.user, password: testAccounts.admin.password };

export interface LoadNode {
  name: string;
  server: MariadbServer;
}

/** Where the writer sends rows: a server, or any address (a Service's ClusterIP). */
export interface WriteTarget {
  name: string;
  /** A new connection as an account without SUPER, default database `app`. */
  connect(): Promise<Connection>;
}

const asTarget = (n: LoadNode | WriteTarget): WriteTarget =>
  'server' in n ? { name: n.name, connect: () => n.server.connect('app', 'app') } : n;

export interface Ack {
  id: number;
  node: string;
  at: number;
}

export interface Writer {
  ackedOn(node: string): number;
  firstAckOn(node: string): number | undefined;
  lastAckOn(node: string): number | undefined;
  /** The last error a write met (for diagnostics). */
  lastError(): string | undefined;
  /** Stops after the write in flight; returns every acknowledged write. */
  stop(): Promise<Ack[]>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Inserts (id, node) into app.w in a loop, starting on `first`. A failed write moves on to the
 * next node; every attempt uses a new id, so a write that failed but committed is never retried.
 */
export function startWriter(
  targets: (LoadNode | WriteTarget)[],
  first: string,
  opts: { maxWrites?: number } = {},
): Writer {
  const nodes = targets.map(asTarget);
  const acks: Ack[] = [];
  const conns = new Map<string, Connection>();
  let stopping = false;
  let lastError: string | undefined;
  let idx = Math.max(
    0,
    nodes.findIndex((n) => n.name === first),
  );
  let id = 0;
  const loop = (async () => {
    while (!stopping && acks.length < (opts.maxWrites ?? 1_000_000)) {
      const n = nodes[idx];
      try {
        let conn = conns.get(n.name);
        if (!conn) {
          conn = await n.connect();
          conns.set(n.name, conn);
        }
        const attempt = ++id;
        await conn.query({ sql: 'INSERT INTO w (id, node) VALUES (?, ?)', values: [attempt, n.name], timeout: 5000 });
        acks.push({ id: attempt, node: n.name, at: Date.now() });
      } catch (err) {
        lastError = (err as Error).message;
        conns.get(n.name)?.destroy();
        conns.delete(n.name);
        idx = (idx + 1) % nodes.length;
        await sleep(5);
      }
    }
  })();
  const on = (node: string) => acks.filter((a) => a.node === node);
  return {
    ackedOn: (node) => on(node).length,
    firstAckOn: (node) => on(node)[0]?.at,
    lastAckOn: (node) => on(node).at(-1)?.at,
    lastError: () => lastError,
    async stop() {
      stopping = true;
      await loop;
      for (const c of conns.values()) c.destroy();
      return acks;
    },
  };
}

export interface Sample {
  /** When the reads were sent and when the last answer came: the state seen lies in between. */
  at: number;
  done: number;
  /** Nodes that answered @@read_only = 0. */
  writable: string[];
  /** Whether every node answered. */
  complete: boolean;
}

// The sampler runs on its own thread, so a busy test process (the controller runs there too)
// does not stretch the interval between samples.
const samplerSource = `
const { parentPort, workerData } = require('node:worker_threads');
const mysql = require('mysql2/promise');
const { nodes, everyMs } = workerData;
const samples = [];
const conns = new Map();
const conn = (n) => {
  let c = conns.get(n.name);
  if (!c) {
    c = mysql.createConnection({ host: n.host, port: n.port, user: n.user, password: n.password, connectTimeout: 1000 })
      .then((x) => { x.on('error', () => {}); return x; });
    c.catch(() => conns.delete(n.name));
    conns.set(n.name, c);
  }
  return c;
};
const read = async (n) => {
  try {
    const c = await conn(n);
    const [rows] = await c.query({ sql: 'SELECT @@read_only AS r', timeout: 1000 });
    return Number(rows[0].r) === 0;
  } catch {
    const c = conns.get(n.name);
    conns.delete(n.name);
    if (c) c.then((x) => x.destroy()).catch(() => {});
    return undefined;
  }
};
Promise.all(nodes.map(conn)).then(() => {
  parentPort.postMessage('ready');
  const timer = setInterval(() => {
    const at = Date.now();
    Promise.all(nodes.map(read)).then((r) => {
      samples.push({ at, done: Date.now(), writable: nodes.filter((_, i) => r[i] === true).map((n) => n.name), complete: r.every((x) => x !== undefined) });
    });
  }, everyMs);
  parentPort.on('message', () => {
    clearInterval(timer);
    setTimeout(() => {
      parentPort.postMessage(samples);
      for (const c of conns.values()) c.then((x) => x.destroy()).catch(() => {});
      process.exit(0);
    }, 50);
  });
}, (err) => { parentPort.postMessage({ error: String(err) }); process.exit(1); });
`;

/** Reads @@read_only on every node every `everyMs` (all nodes at once per sample), as admin. */
export async function startReadOnlySampler(nodes: LoadNode[], everyMs = 20): Promise<{ stop(): Promise<Sample[]> }> {
  const worker = new Worker(samplerSource, {
    eval: true,
    workerData: {
      everyMs,
      nodes: nodes.map((n) => ({ name: n.name, host: n.server.host, port: n.server.port, ...adminLogin })),
    },
  });
  const next = () =>
    new Promise<unknown>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
  const ready = await next();
  if (ready !== 'ready') throw new Error(`sampler failed: ${JSON.stringify(ready)}`);
  return {
    async stop() {
      const done = next();
      worker.postMessage('stop');
      const samples = (await done) as Sample[];
      return samples.sort((a, b) => a.at - b.at);
    },
  };
}
