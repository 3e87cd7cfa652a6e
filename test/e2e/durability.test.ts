// Durability and watch semantics of `upm-engine local` (the real binary over HTTPS): objects
// and resourceVersions survive SIGTERM and SIGKILL restarts (also after compaction removed the
// newest log rows), watches resume from an old resourceVersion without missing or duplicating
// events (also through a label selector), compacted revisions answer 410 Expired like
// kube-apiserver, bookmarks and timeoutSeconds behave, and a watcher that stops reading does not
// hold up the others and is dropped once its unread buffer passes the server's limit.

import { Agent, request as httpsRequest } from 'node:https';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanup, type Engine, freePort, startEngine } from './harness.js';

// ---- helpers ---------------------------------------------------------------------------

const base = '/apis/upm.io/v1alpha1';
const coll = (ns: string): string => `${base}/namespaces/${ns}/unitsets`;
const item = (ns: string, name: string): string => `${coll(ns)}/${name}`;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitUntil(what: string, cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

interface Obj {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    continue?: string;
    [k: string]: unknown;
  };
  spec?: Record<string, unknown>;
  items?: Obj[];
  [k: string]: unknown;
}

interface Reply {
  status: number;
  body: Obj;
}

function unitSet(
  name: string,
  units: number,
  labels: Record<string, string> = {},
  annotations?: Record<string, string>,
): Obj {
  return {
    apiVersion: 'upm.io/v1alpha1',
    kind: 'UnitSet',
    metadata: { name, labels, ...(annotations ? { annotations } : {}) },
    spec: { type: 'redis', version: '7.0.15', units },
  };
}

const rvOf = (o: Obj): number => Number(o.metadata.resourceVersion);

interface WatchEvent {
  type: string;
  object: Obj;
  /** Date.now() when the line arrived. */
  at: number;
}

/** A watch stream read line by line (newline-delimited JSON). */
class WatchStream {
  readonly events: WatchEvent[] = [];
  readonly garbage: string[] = [];
  status = 0;
  headers: IncomingMessage['headers'] = {};
  /** How the stream ended: 'end' is a clean end of the chunked body. */
  endedBy: 'end' | 'aborted' | 'error' | undefined;
  endedAt = 0;
  errorMessage = '';
  readonly startedAt = Date.now();
  readonly responded: Promise<void>;
  private readonly req: ClientRequest;
  private res: IncomingMessage | undefined;
  private buffer = '';

  constructor(
    api: Api,
    path: string,
    private readonly paused = false,
  ) {
    let onResponse: () => void = () => {};
    let onFail: (err: Error) => void = () => {};
    this.responded = new Promise<void>((resolve, reject) => {
      onResponse = resolve;
      onFail = reject;
    });
    this.req = httpsRequest({ ...api.options('GET', path), agent: false });
    this.req.on('response', (res) => {
      this.res = res;
      this.status = res.statusCode ?? 0;
      this.headers = res.headers;
      res.setEncoding('utf8');
      if (paused) res.pause();
      else this.attach();
      onResponse();
    });
    this.req.on('error', (err) => {
      this.finish('error', err.message);
      onFail(err);
    });
    this.req.end();
  }

  private attach(): void {
    const res = this.res!;
    res.on('data', (chunk: string) => this.feed(chunk));
    res.on('end', () => this.finish('end'));
    res.on('aborted', () => this.finish('aborted'));
    res.on('error', (err) => this.finish('error', err.message));
    res.on('close', () => {
      if (!res.complete) this.finish('aborted');
    });
  }

  /** Starts reading a stream opened paused. */
  resume(): void {
    if (!this.paused || !this.res) return;
    this.attach();
    this.res.resume();
  }

  private feed(chunk: string): void {
    this.buffer += chunk;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + 1);
      if (line.trim() === '') continue;
      try {
        const ev = JSON.parse(line) as { type: string; object: Obj };
        this.events.push({ type: ev.type, object: ev.object, at: Date.now() });
      } catch {
        this.garbage.push(line);
      }
    }
  }

  private finish(how: 'end' | 'aborted' | 'error', message = ''): void {
    if (this.endedBy) return;
    this.endedBy = how;
    this.endedAt = Date.now();
    this.errorMessage = message;
  }

  /** Events other than bookmarks. */
  changes(): WatchEvent[] {
    return this.events.filter((e) => e.type !== 'BOOKMARK');
  }

  async waitForCount(
    n: number,
    timeoutMs: number,
    filter: (e: WatchEvent) => boolean = (e) => e.type !== 'BOOKMARK',
  ): Promise<void> {
    await waitUntil(
      `${n} watch events (have ${this.events.filter(filter).length}; ended: ${this.endedBy ?? 'no'})`,
      () => this.events.filter(filter).length >= n,
      timeoutMs,
    );
  }

  async waitForEnd(timeoutMs: number): Promise<void> {
    await waitUntil('the watch stream to end', () => this.endedBy !== undefined, timeoutMs);
  }

  close(): void {
    this.req.destroy();
    this.res?.destroy();
  }
}

/** HTTPS client with the admin client certificate of an engine's data dir. */
class Api {
  private readonly agent: Agent;
  private readonly ca: Buffer;
  private readonly cert: Buffer;
  private readonly key: Buffer;
  readonly watches: WatchStream[] = [];

  constructor(
    dataDir: string,
    readonly port: number,
  ) {
    const pki = join(dataDir, 'pki');
    this.ca = readFileSync(join(pki, 'ca.crt'));
    this.cert = readFileSync(join(pki, 'admin.crt'));
    this.key = readFileSync(join(pki, 'admin.key'));
    this.agent = new Agent({ keepAlive: true, ca: this.ca, cert: this.cert, key: this.key });
  }

  options(method: string, path: string, headers: Record<string, string> = {}) {
    return {
      host: '127.0.0.1',
      port: this.port,
      method,
      path,
      ca: this.ca,
      cert: this.cert,
      key: this.key,
      agent: this.agent,
      headers: { Accept: 'application/json', ...headers },
    };
  }

  call(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const req = httpsRequest(
        this.options(method, path, data ? { 'Content-Type': contentType, 'Content-Length': String(data.length) } : {}),
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            try {
              resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Obj });
            } catch {
              reject(
                new Error(`${method} ${path}: ${res.statusCode} with a body that is not JSON: ${text.slice(0, 300)}`),
              );
            }
          });
        },
      );
      req.on('error', reject);
      req.end(data);
    });
  }

  /** GET of a non-JSON document. */
  text(path: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const req = httpsRequest(this.options('GET', path, { Accept: 'text/plain' }), (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('error', reject);
        res.on('end', () =>
          res.statusCode === 200 ? resolve(body) : reject(new Error(`GET ${path}: ${res.statusCode}`)),
        );
      });
      req.on('error', reject);
      req.end();
    });
  }

  /** A call that must answer `status`; returns the body. */
  async expect(status: number, method: string, path: string, body?: unknown, contentType?: string): Promise<Obj> {
    const r = await this.call(method, path, body, contentType);
    if (r.status !== status)
      throw new Error(`${method} ${path}: want ${status}, got ${r.status}: ${JSON.stringify(r.body).slice(0, 500)}`);
    return r.body;
  }

  create(ns: string, obj: Obj): Promise<Obj> {
    return this.expect(201, 'POST', coll(ns), obj);
  }

  patch(ns: string, name: string, patch: unknown): Promise<Obj> {
    return this.expect(200, 'PATCH', item(ns, name), patch, 'application/merge-patch+json');
  }

  remove(ns: string, name: string): Promise<Obj> {
    return this.expect(200, 'DELETE', item(ns, name));
  }

  list(ns: string, query = ''): Promise<Obj> {
    return this.expect(200, 'GET', `${coll(ns)}${query ? `?${query}` : ''}`);
  }

  watch(ns: string, query: string, paused = false): WatchStream {
    const w = new WatchStream(this, `${coll(ns)}?watch=true${query ? `&${query}` : ''}`, paused);
    this.watches.push(w);
    return w;
  }

  /** Destroys the connection pool and, unless told otherwise, every watch opened here. */
  close(closeWatches = true): void {
    if (closeWatches) for (const w of this.watches) w.close();
    this.agent.destroy();
  }
}

/** What a watch must report for a write: its event type, object name and resourceVersion. */
interface Expected {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  name: string;
  rv: number;
}

/** Writes that record what a watch of everything in the namespace must see. */
class Recorder {
  readonly log: Expected[] = [];
  constructor(
    private readonly api: Api,
    private readonly ns: string,
  ) {}
  async create(obj: Obj): Promise<Obj> {
    const o = await this.api.create(this.ns, obj);
    this.log.push({ type: 'ADDED', name: o.metadata.name!, rv: rvOf(o) });
    return o;
  }
  async patch(name: string, patch: unknown): Promise<Obj> {
    const o = await this.api.patch(this.ns, name, patch);
    this.log.push({ type: 'MODIFIED', name, rv: rvOf(o) });
    return o;
  }
  async remove(name: string): Promise<Obj> {
    const o = await this.api.remove(this.ns, name);
    this.log.push({ type: 'DELETED', name, rv: rvOf(o) });
    return o;
  }
}

const summary = (evs: WatchEvent[]): Expected[] =>
  evs.map((e) => ({ type: e.type as Expected['type'], name: e.object.metadata.name!, rv: rvOf(e.object) }));

function expectStrictlyIncreasing(evs: WatchEvent[]): void {
  const rvs = evs.map((e) => rvOf(e.object));
  for (let i = 1; i < rvs.length; i++) {
    if (!(rvs[i]! > rvs[i - 1]!))
      throw new Error(`watch resourceVersions not strictly increasing at #${i}: ${rvs.join(',')}`);
  }
}

/** The server's count of open watches on unitsets (its Prometheus gauge). */
async function registeredWatchers(api: Api): Promise<number> {
  const text = await api.text('/metrics');
  const m = /^apiserver_registered_watchers\{[^}]*resource="unitsets"[^}]*\} (\d+)$/m.exec(text);
  if (!/^# TYPE apiserver_registered_watchers gauge$/m.test(text))
    throw new Error('/metrics has no apiserver_registered_watchers gauge');
  return m ? Number(m[1]) : 0; // no series until the first watch of the resource
}

/** The most the kernel can buffer on a loopback connection: receive max + send max. */
function kernelBufferMax(): number {
  const max = (file: string): number => {
    try {
      return Number(readFileSync(file, 'utf8').trim().split(/\s+/)[2]);
    } catch {
      return 32 * 1024 * 1024;
    }
  };
  return max('/proc/sys/net/ipv4/tcp_rmem') + max('/proc/sys/net/ipv4/tcp_wmem');
}

/** Results printed at the end (the numbers the report quotes). */
const measured: Record<string, unknown> = {};
afterAll(() => {
  process.stdout.write(`durability measurements: ${JSON.stringify(measured, null, 2)}\n`);
});

// ---- 1 + 3: restarts on the same data directory, watch resume ---------------------------

describe('objects, resourceVersions and watch history across restarts', () => {
  let engine: Engine;
  let api: Api;
  let port: number;
  const ns = 'default';

  /** Restarts the engine on the same data dir and port; open watches are left to the server. */
  async function restart(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    await engine.stop(signal);
    const code = engine.process.exitCode;
    api.close(false);
    engine = await startEngine({ dataDir: engine.dataDir, port });
    api = new Api(engine.dataDir, port);
    return code;
  }

  beforeAll(async () => {
    port = await freePort();
    engine = await startEngine({ port });
    api = new Api(engine.dataDir, port);
  });
  afterAll(async () => {
    api?.close();
    await engine?.stop();
    if (engine) cleanup(engine);
  });

  it('keeps every object, uid, resourceVersion and generation across a SIGTERM restart, and never reuses a resourceVersion', async () => {
    const writeRVs: number[] = [];
    const names = Array.from({ length: 30 }, (_, i) => `us-${String(i).padStart(2, '0')}`);
    for (const [i, name] of names.entries()) {
      const o = await api.create(ns, unitSet(name, 1, { tier: i % 2 ? 'gold' : 'silver', idx: String(i) }));
      expect(o.metadata.generation).toBe(1);
      writeRVs.push(rvOf(o));
    }
    for (let i = 0; i < 10; i++) {
      const o = await api.patch(ns, names[i]!, { spec: { units: i + 2 } });
      expect(o.metadata.generation).toBe(2);
      writeRVs.push(rvOf(o));
    }
    for (let i = 0; i < 3; i++) {
      const o = await api.patch(ns, names[i]!, { spec: { units: 20 + i } });
      expect(o.metadata.generation).toBe(3);
      writeRVs.push(rvOf(o));
    }
    for (let i = 10; i < 13; i++) {
      // Metadata-only change: new resourceVersion, same generation.
      const o = await api.patch(ns, names[i]!, { metadata: { labels: { touched: 'yes' } } });
      expect(o.metadata.generation).toBe(1);
      writeRVs.push(rvOf(o));
    }
    for (let i = 25; i < 30; i++) writeRVs.push(rvOf(await api.remove(ns, names[i]!)));
    // Sequential writes: strictly increasing resourceVersions.
    for (let i = 1; i < writeRVs.length; i++) expect(writeRVs[i]).toBeGreaterThan(writeRVs[i - 1]!);

    const before = await api.list(ns);
    const listRV = rvOf(before);
    expect(listRV).toBeGreaterThanOrEqual(Math.max(...writeRVs));
    expect(before.items!.map((o) => o.metadata.name)).toEqual(names.slice(0, 25));
    const gens = Object.fromEntries(before.items!.map((o) => [o.metadata.name, o.metadata.generation]));
    expect(gens['us-00']).toBe(3);
    expect(gens['us-05']).toBe(2);
    expect(gens['us-11']).toBe(1);

    const exitCode = await restart('SIGTERM');
    expect(exitCode).toBe(0); // a clean shutdown on SIGTERM

    const after = await api.list(ns);
    expect(rvOf(after)).toBe(listRV);
    // Identical objects: uids, resourceVersions, generations, specs, labels, timestamps.
    expect(after.items).toEqual(before.items);
    for (const o of before.items!.slice(0, 3)) {
      expect(await api.expect(200, 'GET', item(ns, o.metadata.name!))).toEqual(o);
    }
    for (let i = 25; i < 30; i++) await api.expect(404, 'GET', item(ns, names[i]!));

    // The next writes get resourceVersions above everything before the restart.
    const created = await api.create(ns, unitSet('us-new', 1));
    expect(rvOf(created)).toBeGreaterThan(listRV);
    expect(rvOf(created)).toBeGreaterThan(Math.max(...writeRVs));
    expect(created.metadata.uid).not.toBe(before.items![0]!.metadata.uid);
    const updated = await api.patch(ns, 'us-00', { spec: { units: 30 } });
    expect(rvOf(updated)).toBeGreaterThan(rvOf(created));
    expect(updated.metadata.generation).toBe(4);
    expect(updated.metadata.uid).toBe(before.items![0]!.metadata.uid);
    // Recreating a deleted name is a new object with a new uid and a fresh resourceVersion.
    const recreated = await api.create(ns, unitSet('us-29', 1));
    expect(rvOf(recreated)).toBeGreaterThan(rvOf(updated));
    expect(recreated.metadata.generation).toBe(1);
    await api.remove(ns, 'us-29');
  }, 40_000);

  it('a watch ended by a restart resumes from its last resourceVersion with exactly the later events', async () => {
    const listed = await api.list(ns);
    const w1 = api.watch(ns, '');
    await w1.responded;
    expect(w1.status).toBe(200);
    // RV unset: synthetic ADDED for every object of the snapshot, then changes.
    await w1.waitForCount(listed.items!.length, 5000);
    expect(
      w1.events
        .slice(0, listed.items!.length)
        .map((e) => [e.type, e.object.metadata.name, e.object.metadata.resourceVersion]),
    ).toEqual(listed.items!.map((o) => ['ADDED', o.metadata.name, o.metadata.resourceVersion]));
    const rec = new Recorder(api, ns);
    await rec.create(unitSet('rs-a', 1));
    await rec.patch('us-01', { spec: { units: 7 } });
    await rec.remove('us-02');
    await w1.waitForCount(listed.items!.length + 3, 5000);
    expect(summary(w1.events.slice(listed.items!.length))).toEqual(rec.log);
    const lastSeen = rvOf(w1.events[w1.events.length - 1]!.object);

    const w1Open = w1.endedBy === undefined;
    await restart('SIGTERM');
    // The watch was open until the server stopped, and ended with it.
    expect(w1Open).toBe(true);
    await w1.waitForEnd(5000);
    measured['watchEndedOnSigtermBy'] = `${w1.endedBy}${w1.errorMessage ? ` (${w1.errorMessage})` : ''}`;
    const seenBeforeRestart = w1.events.length;

    const rec2 = new Recorder(api, ns);
    await rec2.create(unitSet('rs-b', 1));
    await rec2.patch('rs-a', { spec: { units: 2 } });
    await rec2.remove('us-03');
    await rec2.create(unitSet('rs-c', 1));
    await rec2.patch('rs-b', { metadata: { labels: { x: 'y' } } });
    await rec2.remove('rs-a');
    expect(w1.events.length).toBe(seenBeforeRestart);

    const w2 = api.watch(ns, `resourceVersion=${lastSeen}`);
    await w2.responded;
    expect(w2.status).toBe(200);
    await w2.waitForCount(rec2.log.length, 5000);
    await sleep(300); // nothing more may arrive
    expect(summary(w2.events)).toEqual(rec2.log);
    expect(rvOf(w2.events[0]!.object)).toBeGreaterThan(lastSeen);
    // And it continues live.
    const rec3 = new Recorder(api, ns);
    await rec3.patch('rs-c', { spec: { units: 5 } });
    await rec3.remove('rs-c');
    await w2.waitForCount(rec2.log.length + 2, 5000);
    expect(summary(w2.events)).toEqual([...rec2.log, ...rec3.log]);
    expectStrictlyIncreasing(w2.events);
    w2.close();
  }, 30_000);

  it('a watch from an earlier resourceVersion replays exactly the events after it, then continues live', async () => {
    const rec = new Recorder(api, ns);
    for (let i = 0; i < 5; i++) await rec.create(unitSet(`hist-${i}`, 1, { h: 'yes' }));
    for (let i = 0; i < 3; i++) await rec.patch(`hist-${i}`, { spec: { units: 2 + i } });
    await rec.remove('hist-1');
    await rec.patch('hist-0', { spec: { units: 9 } });
    await rec.remove('hist-4');
    await rec.create(unitSet('hist-1', 3)); // same name again: ADDED
    const from = rec.log[3]!.rv;
    const expected = rec.log.slice(4);

    const w = api.watch(ns, `resourceVersion=${from}`);
    await w.responded;
    expect(w.status).toBe(200);
    await w.waitForCount(expected.length, 5000);
    await sleep(300);
    expect(summary(w.events)).toEqual(expected);
    expectStrictlyIncreasing(w.events);
    expect(new Set(w.events.map((e) => e.object.metadata.resourceVersion)).size).toBe(w.events.length);
    // DELETED carries the last state of the object (its spec and labels) at the delete's RV.
    const del = w.events.find((e) => e.type === 'DELETED' && e.object.metadata.name === 'hist-1')!;
    expect(del.object.spec?.['units']).toBe(3);
    expect(del.object.metadata.labels).toEqual({ h: 'yes' });

    const live = new Recorder(api, ns);
    await live.patch('hist-2', { spec: { units: 11 } });
    await live.create(unitSet('hist-5', 1));
    await live.remove('hist-5');
    await w.waitForCount(expected.length + 3, 5000);
    await sleep(200);
    expect(summary(w.events)).toEqual([...expected, ...live.log]);
    expectStrictlyIncreasing(w.events);
    w.close();
  }, 30_000);

  it('with a labelSelector, an object that stops matching arrives as DELETED, live and replayed from history', async () => {
    const start = rvOf(await api.list(ns));
    const live = api.watch(ns, `labelSelector=${encodeURIComponent('ls=gold')}&resourceVersion=${start}`);
    await live.responded;
    expect(live.status).toBe(200);

    const a1 = await api.create(ns, unitSet('lb-a', 1, { ls: 'gold' })); // ADDED
    await api.create(ns, unitSet('lb-b', 1, { ls: 'silver' })); // not seen
    const a3 = await api.patch(ns, 'lb-a', { metadata: { labels: { ls: 'silver' } } }); // DELETED
    const b4 = await api.patch(ns, 'lb-b', { metadata: { labels: { ls: 'gold' } } }); // ADDED
    const b5 = await api.patch(ns, 'lb-b', { spec: { units: 4 } }); // MODIFIED
    await api.patch(ns, 'lb-a', { spec: { units: 6 } }); // not seen
    const b7 = await api.remove(ns, 'lb-b'); // DELETED
    await api.remove(ns, 'lb-a'); // not seen
    const expected: Expected[] = [
      { type: 'ADDED', name: 'lb-a', rv: rvOf(a1) },
      { type: 'DELETED', name: 'lb-a', rv: rvOf(a3) },
      { type: 'ADDED', name: 'lb-b', rv: rvOf(b4) },
      { type: 'MODIFIED', name: 'lb-b', rv: rvOf(b5) },
      { type: 'DELETED', name: 'lb-b', rv: rvOf(b7) },
    ];
    const replay = api.watch(ns, `labelSelector=${encodeURIComponent('ls=gold')}&resourceVersion=${start}`);
    await replay.responded;
    expect(replay.status).toBe(200);
    for (const w of [live, replay]) {
      await w.waitForCount(expected.length, 5000);
    }
    await sleep(300);
    for (const w of [live, replay]) {
      expect(summary(w.events)).toEqual(expected);
      // kube sends the last matching state (labels ls=gold) with the RV of the change.
      expect(w.events[1]!.object.metadata.labels).toEqual({ ls: 'gold' });
      expect(w.events[1]!.object.spec?.['units']).toBe(1);
      expect(w.events[4]!.object.spec?.['units']).toBe(4);
    }
    // Both continue live with the selector applied.
    await api.create(ns, unitSet('lb-c', 1, { ls: 'silver' }));
    const c = await api.create(ns, unitSet('lb-d', 1, { ls: 'gold' }));
    for (const w of [live, replay]) {
      await w.waitForCount(expected.length + 1, 5000);
      expect(summary(w.events)).toEqual([...expected, { type: 'ADDED', name: 'lb-d', rv: rvOf(c) }]);
      w.close();
    }
  }, 30_000);

  it('a watcher that stops reading does not stall another watcher, and is dropped past the buffer limit', async () => {
    // The drop is read from the upm.io server's own watcher gauge: talk to it directly.
    await engine.stop();
    api.close(false);
    engine = await startEngine({ dataDir: engine.dataDir, port, extraArgs: ['--standalone'] });
    api = new Api(engine.dataDir, port);
    const slowNs = 'slow';
    const start = rvOf(await api.list(slowNs));
    // The watches of the earlier tests are closed; wait until the server has noticed.
    let watchersBefore = -1;
    const settle = Date.now() + 5000;
    while ((watchersBefore = await registeredWatchers(api)) !== 0 && Date.now() < settle) await sleep(50);
    expect(watchersBefore).toBe(0);
    const slow = api.watch(slowNs, `resourceVersion=${start}`, true);
    const healthy = api.watch(slowNs, `resourceVersion=${start}`);
    await Promise.all([slow.responded, healthy.responded]);
    expect(slow.status).toBe(200);
    expect(healthy.status).toBe(200);
    expect(await registeredWatchers(api)).toBe(watchersBefore + 2);

    const createAll = async (names: string[], payload: string, writers = 4): Promise<void> => {
      let next = 0;
      await Promise.all(
        Array.from({ length: writers }, async () => {
          while (next < names.length) {
            const name = names[next++]!;
            await api.create(slowNs, unitSet(name, 1, {}, { 'upm.io/payload': payload }));
          }
        }),
      );
    };

    // Phase 1: 300 objects with a 20 KB annotation (~6 MB of events, below the 16 MiB limit).
    const count = 300;
    const t0 = Date.now();
    await createAll(
      Array.from({ length: count }, (_, i) => `big-${String(i).padStart(3, '0')}`),
      'x'.repeat(20 * 1024),
    );
    const lastWrite = Date.now();
    await healthy.waitForCount(count, 10_000);
    const done = healthy.events[count - 1]!.at;
    expect(done - lastWrite).toBeLessThan(10_000);
    expect(healthy.events.every((e) => e.type === 'ADDED')).toBe(true);
    expect(new Set(healthy.events.map((e) => e.object.metadata.name)).size).toBe(count);
    expectStrictlyIncreasing(healthy.events);
    expect(healthy.endedBy).toBeUndefined();
    // The slow watch is still registered: ~6 MB unread is below the limit.
    expect(await registeredWatchers(api)).toBe(watchersBefore + 2);
    const phase1 = {
      objects: count,
      payloadBytes: 20 * 1024,
      writeSeconds: (lastWrite - t0) / 1000,
      healthyLagAfterLastWriteMs: done - lastWrite,
      healthyEventsPerSecond: Math.round(count / ((done - t0) / 1000)),
    };

    // Phase 2: 200 KB objects until the server drops the slow watch (its unread buffer passed
    // maxBufferedBytes, 16 MiB). The kernel buffers some more first: at most the socket buffer
    // maxima of both ends, so the server must have dropped it once this much was sent.
    const bound = 16 * 1024 * 1024 + kernelBufferMax() + 4 * 1024 * 1024;
    const bigPayload = 'y'.repeat(200 * 1024);
    const t1 = Date.now();
    let sent = count * 20 * 1024;
    let huge = 0;
    let dropped = false;
    while (sent <= bound + 10 * bigPayload.length) {
      const batch = Array.from({ length: 10 }, () => `huge-${String(huge++).padStart(3, '0')}`);
      await createAll(batch, bigPayload);
      sent += batch.length * bigPayload.length;
      if ((await registeredWatchers(api)) === watchersBefore + 1) {
        dropped = true;
        break;
      }
    }
    expect(dropped).toBe(true);
    // One more event that a dropped watcher can no longer get.
    await api.create(slowNs, unitSet('after-drop', 1));
    const lastWrite2 = Date.now();
    const total = count + huge + 1;
    await healthy.waitForCount(total, 15_000);
    expect(healthy.events[total - 1]!.at - lastWrite2).toBeLessThan(10_000);
    expectStrictlyIncreasing(healthy.events);
    expect(healthy.endedBy).toBeUndefined();
    expect(healthy.events[total - 1]!.object.metadata.name).toBe('after-drop');

    // Once it reads, the slow watcher gets an in-order prefix of the events and a clean end.
    slow.resume();
    await slow.waitForEnd(15_000);
    expect(slow.endedBy).toBe('end');
    expect(slow.events.length).toBeLessThan(total);
    expect(slow.events.length).toBeGreaterThanOrEqual(count);
    expect(summary(slow.events)).toEqual(summary(healthy.events.slice(0, slow.events.length)));
    measured['slowWatcher'] = {
      phase1,
      phase2: {
        payloadBytes: bigPayload.length,
        objectsUntilDropped: huge,
        bytesSentUntilDropped: sent,
        writeSeconds: (lastWrite2 - t1) / 1000,
        healthyLagAfterLastWriteMs: healthy.events[total - 1]!.at - lastWrite2,
      },
      slowReceivedBeforeCleanEnd: slow.events.length,
    };
    slow.close();
    healthy.close();
  }, 60_000);
});

// ---- 2: kill -9 during a write load -----------------------------------------------------

describe('acknowledged writes survive kill -9', () => {
  let engine: Engine;
  let port: number;
  const apis: Api[] = [];

  beforeAll(async () => {
    port = await freePort();
    engine = await startEngine({ port });
  });
  afterAll(async () => {
    for (const a of apis) a.close();
    await engine?.stop();
    if (engine) cleanup(engine);
  });

  it('every create answered 201 before SIGKILL is there after a restart, with its resourceVersion', async () => {
    const api = new Api(engine.dataDir, port);
    apis.push(api);
    const acked = new Map<string, { uid: string; rv: number; at: number }>();
    const unacked = new Set<string>();
    let stop = false;
    let failures = 0;
    const t0 = Date.now();
    const writers = Array.from({ length: 4 }, async (_, w) => {
      for (let i = 0; !stop; i++) {
        const name = `k-${w}-${i}`;
        try {
          const r = await api.call('POST', coll('default'), unitSet(name, 1, { w: String(w) }));
          if (r.status !== 201) throw new Error(`create ${name}: ${r.status}`);
          acked.set(name, { uid: r.body.metadata.uid!, rv: rvOf(r.body), at: Date.now() });
        } catch {
          unacked.add(name);
          failures++;
          return; // the engine is gone
        }
      }
    });
    await sleep(1500);
    await engine.stop('SIGKILL');
    const killedAt = Date.now();
    stop = true;
    await Promise.all(writers);
    expect(engine.process.signalCode).toBe('SIGKILL');
    expect(failures).toBeGreaterThan(0); // the kill really happened during the load
    expect(acked.size).toBeGreaterThan(20);
    const rvs = [...acked.values()].map((a) => a.rv);
    expect(new Set(rvs).size).toBe(rvs.length);

    engine = await startEngine({ dataDir: engine.dataDir, port });
    const api2 = new Api(engine.dataDir, port);
    apis.push(api2);
    const list = await api2.list('default');
    const found = new Map(list.items!.map((o) => [o.metadata.name!, o]));
    const missing: string[] = [];
    for (const [name, a] of acked) {
      const o = found.get(name);
      if (!o || o.metadata.uid !== a.uid || rvOf(o) !== a.rv) missing.push(name);
    }
    expect(missing).toEqual([]);
    // Nothing but acknowledged objects and requests in flight at the kill.
    const extra = [...found.keys()].filter((n) => !acked.has(n));
    for (const n of extra) expect(unacked.has(n)).toBe(true);
    expect(rvOf(list)).toBeGreaterThanOrEqual(Math.max(...rvs));
    const next = await api2.create('default', unitSet('after-kill', 1));
    expect(rvOf(next)).toBeGreaterThan(rvOf(list));
    measured['kill9'] = {
      loadSeconds: (killedAt - t0) / 1000,
      acknowledgedCreates: acked.size,
      createsPerSecond: Math.round(acked.size / ((killedAt - t0) / 1000)),
      inFlightAtKill: unacked.size,
      inFlightThatPersisted: extra.length,
    };
  }, 40_000);
});

// ---- 4 + 5: compaction, bookmarks, timeouts ---------------------------------------------

describe('compaction, bookmarks and timeouts', () => {
  let engine: Engine;
  let api: Api;
  const ns = 'default';

  beforeAll(async () => {
    engine = await startEngine({
      extraArgs: [
        '--compaction-interval',
        '1s',
        '--compaction-min-retained-revisions',
        '0',
        '--watch-bookmark-interval',
        '1s',
      ],
    });
    api = new Api(engine.dataDir, engine.port);
  });
  afterAll(async () => {
    api?.close();
    await engine?.stop();
    if (engine) cleanup(engine);
  });

  it('answers 410 Expired for a compacted watch, Exact list and continue token', async () => {
    const first = await api.create(ns, unitSet('c-0', 1));
    const early = rvOf(first);
    for (let i = 1; i < 5; i++) await api.create(ns, unitSet(`c-${i}`, 1));
    const page = await api.list(ns, 'limit=2');
    expect(page.items).toHaveLength(2);
    const token = page.metadata.continue!;
    expect(token).toBeTruthy();
    const tokenRV = rvOf(page);

    // Exact reads the state at that revision, as long as it is not compacted.
    const exactAt = rvOf(await api.list(ns));
    await api.create(ns, unitSet('c-5', 1));
    const exact = await api.list(ns, `resourceVersion=${exactAt}&resourceVersionMatch=Exact`);
    expect(rvOf(exact)).toBe(exactAt);
    expect(exact.items!.map((o) => o.metadata.name)).toEqual(['c-0', 'c-1', 'c-2', 'c-3', 'c-4']);

    // Keep writing until the compactor has passed the continue token's revision.
    const t0 = Date.now();
    let errorWatch: WatchStream | undefined;
    for (let i = 0; Date.now() - t0 < 15_000; i++) {
      await api.patch(ns, 'c-0', { spec: { units: 2 + (i % 5) } });
      const w = api.watch(ns, `resourceVersion=${tokenRV}&timeoutSeconds=5`);
      await w.responded;
      await waitUntil('a first event or the end', () => w.events.length > 0 || w.endedBy !== undefined, 5000);
      if (w.events[0]?.type === 'ERROR') {
        errorWatch = w;
        break;
      }
      w.close();
      await sleep(250);
    }
    expect(errorWatch).toBeDefined();
    measured['compactionSeconds'] = (Date.now() - t0) / 1000;
    await errorWatch!.waitForEnd(3000);

    // The canonical shape, from the earliest revision.
    const w = api.watch(ns, `resourceVersion=${early}`);
    await w.responded;
    expect(w.status).toBe(200);
    expect(w.headers['content-type']).toMatch(/^application\/json/);
    await w.waitForEnd(5000);
    expect(w.endedBy).toBe('end');
    expect(w.garbage).toEqual([]);
    expect(w.events).toHaveLength(1);
    const ev = w.events[0]!;
    expect(ev.type).toBe('ERROR');
    expect(ev.object).toMatchObject({
      kind: 'Status',
      apiVersion: 'v1',
      status: 'Failure',
      reason: 'Expired',
      code: 410,
    });
    expect(String(ev.object['message'])).toMatch(new RegExp(`^too old resource version: ${early} \\(\\d+\\)$`));

    // A list at exactly a compacted revision.
    const exactOld = await api.call('GET', `${coll(ns)}?resourceVersion=${early}&resourceVersionMatch=Exact`);
    expect(exactOld.status).toBe(410);
    expect(exactOld.body).toMatchObject({
      kind: 'Status',
      apiVersion: 'v1',
      status: 'Failure',
      reason: 'Expired',
      code: 410,
    });
    measured['exactListCompactedMessage'] = exactOld.body['message'];

    // A continue token from before the compaction.
    const cont = await api.call('GET', `${coll(ns)}?limit=2&continue=${encodeURIComponent(token)}`);
    expect(cont.status).toBe(410);
    expect(cont.body).toMatchObject({
      kind: 'Status',
      apiVersion: 'v1',
      status: 'Failure',
      reason: 'Expired',
      code: 410,
    });
    expect(String(cont.body['message'])).toMatch(
      /^The provided continue parameter is too old to display a consistent list result/,
    );
    measured['continueExpiredHasInconsistentToken'] = !!cont.body.metadata?.continue;

    // A fresh list and a watch from its RV still work.
    const fresh = await api.list(ns, 'limit=2');
    const rest = await api.list(ns, `limit=100&continue=${encodeURIComponent(fresh.metadata.continue!)}`);
    expect([...fresh.items!, ...rest.items!].map((o) => o.metadata.name)).toEqual([
      'c-0',
      'c-1',
      'c-2',
      'c-3',
      'c-4',
      'c-5',
    ]);
    expect(rvOf(rest)).toBe(rvOf(fresh));
  }, 40_000);

  it('sends bookmarks with only metadata.resourceVersion when allowed, and none otherwise', async () => {
    const start = rvOf(await api.list(ns));
    const withBm = api.watch(ns, `resourceVersion=${start}&allowWatchBookmarks=true`);
    const without = api.watch(ns, `resourceVersion=${start}`);
    await Promise.all([withBm.responded, without.responded]);
    const o = await api.create(ns, unitSet('bm-1', 1));
    await withBm.waitForCount(1, 3000);
    const t = Date.now();
    await withBm.waitForCount(1, 3000, (e) => e.type === 'BOOKMARK' && e.at >= t);
    const bm = withBm.events.find((e) => e.type === 'BOOKMARK' && e.at >= t)!;
    expect(Object.keys(bm.object).sort()).toEqual(['apiVersion', 'kind', 'metadata']);
    expect(bm.object.kind).toBe('UnitSet');
    expect(bm.object.apiVersion).toBe('upm.io/v1alpha1');
    const metaKeys = Object.keys(bm.object.metadata).filter((k) => k !== 'creationTimestamp');
    expect(metaKeys).toEqual(['resourceVersion']);
    expect(rvOf(bm.object)).toBeGreaterThanOrEqual(rvOf(o));
    // Bookmark RVs never go backwards and never precede an event already sent.
    let last = 0;
    for (const e of withBm.events) {
      expect(rvOf(e.object)).toBeGreaterThanOrEqual(last);
      last = rvOf(e.object);
    }
    await without.waitForCount(1, 3000);
    expect(without.events.filter((e) => e.type === 'BOOKMARK')).toEqual([]);
    withBm.close();
    without.close();
  }, 20_000);

  it('timeoutSeconds ends the stream cleanly', async () => {
    const w = api.watch(ns, 'timeoutSeconds=2');
    await w.responded;
    expect(w.status).toBe(200);
    await w.waitForEnd(6000);
    const elapsed = w.endedAt - w.startedAt;
    expect(w.endedBy).toBe('end');
    expect(w.errorMessage).toBe('');
    expect(elapsed).toBeGreaterThanOrEqual(1900);
    expect(elapsed).toBeLessThan(4000);
    // The synthetic ADDED events of the current state came first.
    expect(w.events.length).toBeGreaterThan(0);
    expect(w.events.every((e) => e.type === 'ADDED')).toBe(true);
    measured['timeoutSeconds2EndedAfterMs'] = elapsed;
  }, 20_000);

  it('does not reuse resourceVersions after compaction removed the newest log rows and a kill -9', async () => {
    await api.create(ns, unitSet('tomb', 1));
    const deleted = rvOf(await api.remove(ns, 'tomb'));
    // No more writes: the delete's tombstone is the newest row, and compaction removes it.
    const t0 = Date.now();
    let compacted = false;
    while (!compacted && Date.now() - t0 < 15_000) {
      const w = api.watch(ns, `resourceVersion=${deleted - 1}&timeoutSeconds=5`);
      await w.responded;
      await waitUntil('a first event', () => w.events.length > 0 || w.endedBy !== undefined, 5000);
      compacted = w.events[0]?.type === 'ERROR';
      if (!compacted) expect(summary(w.events.slice(0, 1))).toEqual([{ type: 'DELETED', name: 'tomb', rv: deleted }]);
      w.close();
      if (!compacted) await sleep(250);
    }
    expect(compacted).toBe(true);
    expect(rvOf(await api.list(ns))).toBe(deleted);

    api.close();
    await engine.stop('SIGKILL');
    engine = await startEngine({
      dataDir: engine.dataDir,
      extraArgs: ['--compaction-interval', '1s', '--compaction-min-retained-revisions', '0'],
    });
    api = new Api(engine.dataDir, engine.port);
    expect(rvOf(await api.list(ns))).toBe(deleted);
    await api.expect(404, 'GET', item(ns, 'tomb'));
    const next = await api.create(ns, unitSet('tomb', 1));
    expect(rvOf(next)).toBeGreaterThan(deleted);
  }, 40_000);
});
