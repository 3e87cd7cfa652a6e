// Two `upm-engine apiserver` processes (the built CLI) over one three-member etcd cluster, as
// replicas behind one Service: a write through either replica is seen by watches on both, with
// the same resourceVersions (a list resourceVersion of one replica resumes a watch on the other
// without a missed event); and under a create + update load through both replicas, one etcd
// member (the raft leader, unless it serves none of the replicas' storage watches) is killed
// with SIGKILL: no acknowledged write is lost, the watches opened on both replicas before the
// load see exactly the history etcd recorded (same resourceVersions, same order, no gaps), and
// both replicas keep serving.

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { Agent, request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { createCA, issueClientCert, issueServingCert } from '../../src/pki/certs.js';
import { openEtcdStore } from '../../src/storage/etcd/store.js';
import { startEtcdCluster, type EtcdCluster } from '../../src/storage/etcd/testing/etcd.js';
import type { WatchEvent as StoreEvent } from '../../src/storage/interface.js';
import { cliPath, waitFor } from './harness.js';

const coll = '/apis/upm.io/v1alpha1/namespaces/default/unitsets';
/** The etcd key range (under --etcd-prefix) of the unitsets of namespace default. */
const etcdKeyPrefix = '/registry/upm.io/unitsets/default/';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Obj {
  apiVersion?: string;
  kind?: string;
  metadata: { name?: string; resourceVersion?: string; [k: string]: unknown };
  spec?: { units?: number; [k: string]: unknown };
  items?: Obj[];
  [k: string]: unknown;
}

function unitSet(name: string, units: number, resourceVersion?: string): Obj {
  return {
    apiVersion: 'upm.io/v1alpha1',
    kind: 'UnitSet',
    metadata: { name, ...(resourceVersion ? { resourceVersion } : {}) },
    spec: { type: 'redis', version: '7.0.15', units },
  };
}

const rvOf = (o: Obj): number => Number(o.metadata.resourceVersion);

// ---- processes --------------------------------------------------------------------------

const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

interface Replica {
  name: string;
  url: string;
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

/** Starts `upm-engine apiserver --secure-port 0` and reads its URL from the JSON log. */
async function startReplica(name: string, args: string[]): Promise<Replica> {
  const child = spawn(
    process.execPath,
    [cliPath, 'apiserver', '--secure-port', '0', '--bind-address', '127.0.0.1', '--log-format', 'json', ...args],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.add(child);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  void exited.then(() => children.delete(child));
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`replica ${name} did not start in 30 s:\n${output}`)), 30_000);
      const check = (): void => {
        for (const line of output.split('\n')) {
          if (!line.startsWith('{')) continue;
          try {
            const rec = JSON.parse(line) as { msg?: string; url?: string };
            if (rec.msg === 'API server is serving' && rec.url) {
              clearTimeout(timer);
              resolve(rec.url);
              return;
            }
          } catch {
            // a partial line: wait for the rest
          }
        }
      };
      child.stderr!.on('data', check);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`replica ${name} exited with ${code ?? signal}:\n${output}`));
      });
    });
    return { name, url, child, output: () => output, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

// ---- HTTPS client -----------------------------------------------------------------------

interface Reply {
  status: number;
  body: Obj;
}

interface TLSMaterial {
  ca: string;
  cert: string;
  key: string;
}

class Client {
  private readonly agent: Agent;
  constructor(
    readonly name: string,
    readonly url: string,
    readonly tls: TLSMaterial,
  ) {
    this.agent = new Agent({ ...tls, keepAlive: true });
  }

  /** One request; rejects on a network error or after timeoutMs without an answer. */
  call(method: string, path: string, body?: unknown, timeoutMs = 15_000): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const req = httpsRequest(
        new URL(path, this.url),
        { method, agent: this.agent, headers: payload !== undefined ? { 'Content-Type': 'application/json' } : {} },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (text += d));
          res.on('end', () => {
            let parsed: Obj;
            try {
              parsed = JSON.parse(text) as Obj;
            } catch {
              parsed = { metadata: {}, text };
            }
            resolve({ status: res.statusCode ?? 0, body: parsed });
          });
          res.on('error', reject);
        },
      );
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${path} timed out after ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  watch(resourceVersion: string): WatchStream {
    return new WatchStream(this, `${coll}?watch=true&resourceVersion=${resourceVersion}`);
  }

  close(): void {
    this.agent.destroy();
  }
}

interface Seen {
  type: string;
  name: string;
  rv: number;
  units: number | undefined;
}

/** A watch stream read line by line (newline-delimited JSON), on its own connection. */
class WatchStream {
  readonly events: Seen[] = [];
  /** ERROR events, unparsable lines, and how the stream ended if it did. */
  readonly problems: string[] = [];
  status = 0;
  readonly responded: Promise<void>;
  private readonly req: ClientRequest;
  private buffer = '';
  private closing = false;

  constructor(client: Client, path: string) {
    let ok: () => void = () => {};
    let fail: (err: Error) => void = () => {};
    this.responded = new Promise<void>((resolve, reject) => {
      ok = resolve;
      fail = reject;
    });
    this.req = httpsRequest(new URL(path, client.url), { method: 'GET', agent: false, ...client.tls });
    this.req.on('response', (res: IncomingMessage) => {
      this.status = res.statusCode ?? 0;
      res.setEncoding('utf8');
      res.on('data', (d: string) => this.consume(d));
      res.on('end', () => this.ended('the stream ended'));
      res.on('aborted', () => this.ended('the stream was aborted'));
      res.on('error', (err) => this.ended(`stream error: ${err.message}`));
      ok();
    });
    this.req.on('error', (err) => {
      this.ended(`request error: ${err.message}`);
      fail(err);
    });
    this.req.end();
  }

  private consume(chunk: string): void {
    this.buffer += chunk;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + 1);
      if (!line.trim()) continue;
      try {
        const e = JSON.parse(line) as { type: string; object: Obj };
        if (e.type === 'ERROR' || e.type === 'BOOKMARK') this.problems.push(`${e.type}: ${JSON.stringify(e.object)}`);
        else
          this.events.push({
            type: e.type,
            name: e.object.metadata.name!,
            rv: rvOf(e.object),
            units: e.object.spec?.units,
          });
      } catch {
        this.problems.push(`unparsable line: ${line.slice(0, 200)}`);
      }
    }
  }

  private ended(how: string): void {
    if (!this.closing) this.problems.push(how);
  }

  lastRV(): number {
    return this.events[this.events.length - 1]?.rv ?? 0;
  }

  close(): void {
    this.closing = true;
    this.req.destroy();
  }
}

// ---- the write load -----------------------------------------------------------------------

interface Ack {
  op: 'create' | 'update';
  name: string;
  units: number;
  rv: number;
  via: string;
  /** When the request was sent and when its answer arrived. */
  sentAt: number;
  at: number;
}

interface LoadStats {
  acked: Ack[];
  /** 5xx answers and timeouts / connection errors (the write may or may not have happened). */
  failed: { op: string; name: string; via: string; why: string; at: number }[];
  /** 409 Conflict on an update: an earlier write whose outcome was unknown did happen. */
  conflicts: number;
  /** Answers a correct server never gives here (4xx other than an update's 409). */
  unexpected: string[];
}

/**
 * One writer: creates UnitSets and updates each up to three times (spec.units + 1, with the
 * resourceVersion precondition), sending each request to the other replica than the last.
 */
async function writer(w: number, clients: Client[], stopAt: number, stats: LoadStats): Promise<void> {
  let turn = w;
  const next = (): Client => clients[turn++ % clients.length]!;
  const failure = (op: string, name: string, via: string, why: string): void => {
    stats.failed.push({ op, name, via, why: why.slice(0, 400), at: Date.now() });
  };
  /** The object's current state, read through either replica; null when it does not exist. */
  const readBack = async (name: string): Promise<{ rv: string; units: number } | null | undefined> => {
    const until = Date.now() + 15_000;
    while (Date.now() < until) {
      try {
        const r = await next().call('GET', `${coll}/${name}`, undefined, 5000);
        if (r.status === 200) return { rv: r.body.metadata.resourceVersion!, units: r.body.spec!.units! };
        if (r.status === 404) return null;
        if (r.status < 500) stats.unexpected.push(`GET ${name}: ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
      } catch {
        // timeout or connection error: try again
      }
      await sleep(50);
    }
    return undefined;
  };

  for (let i = 0; Date.now() < stopAt; i++) {
    const name = `load-w${w}-${i}`;
    let cur: { rv: string; units: number } | null | undefined;
    {
      const c = next();
      const sentAt = Date.now();
      try {
        const r = await c.call('POST', coll, unitSet(name, 1));
        if (r.status === 201) {
          stats.acked.push({ op: 'create', name, units: 1, rv: rvOf(r.body), via: c.name, sentAt, at: Date.now() });
          cur = { rv: r.body.metadata.resourceVersion!, units: 1 };
        } else if (r.status >= 500) {
          failure('create', name, c.name, `${r.status} ${String(r.body['message'] ?? '')}`);
        } else {
          stats.unexpected.push(`POST ${name} via ${c.name}: ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
        }
      } catch (err) {
        failure('create', name, c.name, (err as Error).message);
      }
    }
    if (!cur) cur = await readBack(name); // did the create happen after all?
    if (!cur) continue;
    for (let u = 0; u < 3 && Date.now() < stopAt; u++) {
      const c = next();
      const units: number = cur.units + 1;
      const sentAt = Date.now();
      let known = false;
      try {
        const r = await c.call('PUT', `${coll}/${name}`, unitSet(name, units, cur.rv));
        if (r.status === 200) {
          stats.acked.push({ op: 'update', name, units, rv: rvOf(r.body), via: c.name, sentAt, at: Date.now() });
          cur = { rv: r.body.metadata.resourceVersion!, units };
          known = true;
        } else if (r.status === 409) {
          stats.conflicts++;
        } else if (r.status >= 500) {
          failure('update', name, c.name, `${r.status} ${String(r.body['message'] ?? '')}`);
        } else {
          stats.unexpected.push(`PUT ${name} via ${c.name}: ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
        }
      } catch (err) {
        failure('update', name, c.name, (err as Error).message);
      }
      if (!known) {
        const now = await readBack(name);
        if (!now) break;
        cur = now;
      }
    }
  }
}

// ---- the test -----------------------------------------------------------------------------

describe('two apiserver replicas over a three-member etcd cluster', () => {
  let cluster: EtcdCluster | undefined;
  let dir: string | undefined;
  const replicas: Replica[] = [];
  const clients: Client[] = [];
  const streams: WatchStream[] = [];
  let etcdPrefix = '';

  beforeAll(async () => {
    cluster = await startEtcdCluster(3);
    dir = mkdtempSync(join(tmpdir(), 'upm-replicas-'));
    const ca = createCA('upm-replicas-test-ca');
    const serving = issueServingCert(ca, {
      commonName: 'upm-apiserver',
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
    });
    const admin = issueClientCert(ca, { commonName: 'admin', organizations: ['system:masters'] });
    const file = (name: string, pem: string): string => {
      const path = join(dir!, name);
      writeFileSync(path, pem, { mode: 0o600 });
      return path;
    };
    etcdPrefix = `/replicas-${randomBytes(4).toString('hex')}`;
    const args = [
      '--tls-cert-file',
      file('serving.crt', serving.certPem),
      '--tls-private-key-file',
      file('serving.key', serving.keyPem),
      '--client-ca-file',
      file('ca.crt', ca.certPem),
      `--storage=etcd:${cluster.endpoints.join(',')}`,
      '--etcd-prefix',
      etcdPrefix,
      '--compaction-interval',
      '0', // the history is read back from etcd at the end
    ];
    const started = await Promise.allSettled(['A', 'B'].map((n) => startReplica(n, args)));
    for (const s of started) if (s.status === 'fulfilled') replicas.push(s.value);
    for (const s of started) if (s.status === 'rejected') throw s.reason;
    const tls = { ca: ca.certPem, cert: admin.certPem, key: admin.keyPem };
    for (const r of replicas) clients.push(new Client(r.name, r.url, tls));
  }, 60_000);

  afterAll(async () => {
    for (const s of streams) s.close();
    for (const c of clients) c.close();
    await Promise.all(replicas.map((r) => r.stop()));
    // SIGKILL first: a member told to stop (SIGTERM) after another is gone can take seconds
    for (const m of cluster?.members ?? []) m.kill('SIGKILL');
    await cluster?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  it('shows a write through either replica to watches on both, with the same resourceVersions', async () => {
    const [a, b] = [clients[0]!, clients[1]!];
    expect(a.url).not.toBe(b.url);
    const list = await a.call('GET', coll);
    expect(list.status).toBe(200);
    const listRV = list.body.metadata.resourceVersion!;
    expect(Number(listRV)).toBeGreaterThan(0);
    // watches on both replicas from replica A's list resourceVersion
    const onA = a.watch(listRV);
    const onB = b.watch(listRV);
    streams.push(onA, onB);
    await Promise.all([onA.responded, onB.responded]);
    expect([onA.status, onB.status]).toEqual([200, 200]);

    const viaA = await a.call('POST', coll, unitSet('pair-from-a', 1));
    expect(viaA.status).toBe(201);
    await waitFor('the watch on B to see the create through A', () => onB.events.length >= 1, 10_000);
    expect(onB.events[0]).toEqual({ type: 'ADDED', name: 'pair-from-a', rv: rvOf(viaA.body), units: 1 });

    const viaB = await b.call('POST', coll, unitSet('pair-from-b', 2));
    expect(viaB.status).toBe(201);
    expect(rvOf(viaB.body)).toBeGreaterThan(rvOf(viaA.body));
    await waitFor('the watch on A to see both creates', () => onA.events.length >= 2, 10_000);
    expect(onA.events.slice(0, 2)).toEqual([
      { type: 'ADDED', name: 'pair-from-a', rv: rvOf(viaA.body), units: 1 },
      { type: 'ADDED', name: 'pair-from-b', rv: rvOf(viaB.body), units: 2 },
    ]);

    // an update through B with the resourceVersion A handed out; GETs through both agree
    const upd = await b.call(
      'PUT',
      `${coll}/pair-from-a`,
      unitSet('pair-from-a', 3, viaA.body.metadata.resourceVersion),
    );
    expect(upd.status).toBe(200);
    const stale = await a.call(
      'PUT',
      `${coll}/pair-from-a`,
      unitSet('pair-from-a', 4, viaA.body.metadata.resourceVersion),
    );
    expect(stale.status).toBe(409);
    for (const name of ['pair-from-a', 'pair-from-b']) {
      const [ga, gb] = await Promise.all([a.call('GET', `${coll}/${name}`), b.call('GET', `${coll}/${name}`)]);
      expect([ga.status, gb.status]).toEqual([200, 200]);
      expect(ga.body.metadata.resourceVersion).toBe(gb.body.metadata.resourceVersion);
      expect(ga.body.metadata['uid']).toBe(gb.body.metadata['uid']);
      expect(ga.body.spec).toEqual(gb.body.spec);
    }
    expect((await a.call('GET', `${coll}/pair-from-a`)).body.metadata.resourceVersion).toBe(
      upd.body.metadata.resourceVersion,
    );
    await waitFor(
      'both watches to see the update',
      () => onA.lastRV() >= rvOf(upd.body) && onB.lastRV() >= rvOf(upd.body),
      10_000,
    );
    expect(onB.events).toEqual(onA.events);
    expect(onA.events.map((e) => e.rv)).toEqual([rvOf(viaA.body), rvOf(viaB.body), rvOf(upd.body)]);

    // a list through A, then writes through both, then a watch on B from A's list
    // resourceVersion replays exactly the writes after it, in order; lists agree at that RV
    const mid = await a.call('GET', coll);
    expect(mid.status).toBe(200);
    const midRV = mid.body.metadata.resourceVersion!;
    const writes: Seen[] = [];
    for (let i = 0; i < 6; i++) {
      const c = i % 2 ? b : a;
      const r = await c.call('POST', coll, unitSet(`resume-${i}`, 10 + i));
      expect(r.status).toBe(201);
      writes.push({ type: 'ADDED', name: `resume-${i}`, rv: rvOf(r.body), units: 10 + i });
    }
    const d = await b.call('DELETE', `${coll}/resume-0`);
    expect(d.status).toBe(200);
    writes.push({ type: 'DELETED', name: 'resume-0', rv: rvOf(d.body), units: 10 });
    const resumed = b.watch(midRV);
    streams.push(resumed);
    await resumed.responded;
    expect(resumed.status).toBe(200);
    await waitFor('the resumed watch on B to replay the writes', () => resumed.events.length >= writes.length, 10_000);
    await sleep(200); // nothing else may follow
    expect(resumed.events).toEqual(writes);
    expect(resumed.problems).toEqual([]);
    const [listA, listB] = await Promise.all([
      a.call('GET', `${coll}?resourceVersion=${midRV}&resourceVersionMatch=Exact`),
      b.call('GET', `${coll}?resourceVersion=${midRV}&resourceVersionMatch=Exact`),
    ]);
    expect([listA.status, listB.status]).toEqual([200, 200]);
    const summary = (l: Reply): string[] =>
      l.body.items!.map((o) => `${o.metadata.name}@${o.metadata.resourceVersion}`);
    expect(summary(listB)).toEqual(summary(listA));
    expect(summary(listA)).toEqual(summary(mid));
    expect(onA.problems).toEqual([]);
    expect(onB.problems).toEqual([]);
  }, 30_000);

  it('loses no acknowledged write or watch event when an etcd member is killed under load', async () => {
    const c = cluster!;
    const [a, b] = [clients[0]!, clients[1]!];
    const list = await a.call('GET', coll);
    expect(list.status).toBe(200);
    const startRV = list.body.metadata.resourceVersion!;
    const watches = [a.watch(startRV), b.watch(startRV)];
    streams.push(...watches);
    await Promise.all(watches.map((w) => w.responded));
    expect(watches.map((w) => w.status)).toEqual([200, 200]);

    const stats: LoadStats = { acked: [], failed: [], conflicts: 0, unexpected: [] };
    const loadMs = 5000;
    const t0 = Date.now();
    const load = Promise.all(Array.from({ length: 6 }, (_, w) => writer(w, clients, t0 + loadMs, stats)));

    await sleep(1500);
    // kill the leader if it serves one of the replicas' storage watches, else the member
    // serving the most: writes lose their leader and/or watch streams must move elsewhere
    // (asserted once the load is over, so that a failure leaves no writer running)
    const leader = await c.leaderIndex();
    const served = await Promise.all(c.members.map((m) => m.watcherCount()));
    const watchersBefore = served.reduce((x, y) => x + y, 0);
    const victim = leader >= 0 && served[leader]! > 0 ? leader : served.indexOf(Math.max(...served));
    const ackedBeforeKill = stats.acked.length;
    const killedAt = Date.now();
    c.members[victim]!.kill('SIGKILL');
    await load;
    const loadEnd = Date.now();
    await c.members[victim]!.exited();
    expect(leader).toBeGreaterThanOrEqual(0);
    expect(watchersBefore).toBeGreaterThan(0);
    expect(stats.unexpected).toEqual([]);
    expect(ackedBeforeKill).toBeGreaterThan(0);

    // both replicas kept serving: acknowledged writes sent after the kill through each, a
    // create through each now, and /readyz
    const sentAfterKill = stats.acked.filter((x) => x.sentAt > killedAt);
    for (const r of ['A', 'B']) expect(sentAfterKill.filter((x) => x.via === r).length).toBeGreaterThan(0);
    const probes: Ack[] = [];
    for (const client of [a, b]) {
      const name = `after-kill-${client.name.toLowerCase()}`;
      const r = await client.call('POST', coll, unitSet(name, 1));
      expect(r.status).toBe(201);
      probes.push({
        op: 'create',
        name,
        units: 1,
        rv: rvOf(r.body),
        via: client.name,
        sentAt: Date.now(),
        at: Date.now(),
      });
      const ready = await client.call('GET', '/readyz');
      expect(ready.status).toBe(200);
    }
    expect(probes[1]!.rv).toBeGreaterThan(probes[0]!.rv);
    const lastRV = probes[1]!.rv;

    // every acknowledged write is there, read through both replicas: the same object, with the
    // last acknowledged value or a later one
    const acked = [...stats.acked, ...probes];
    const lastAck = new Map<string, Ack>();
    for (const x of acked) if ((lastAck.get(x.name)?.rv ?? 0) < x.rv) lastAck.set(x.name, x);
    const readBoth = await Promise.all(
      [...lastAck.values()].map(async (x) => {
        const [ga, gb] = await Promise.all([a.call('GET', `${coll}/${x.name}`), b.call('GET', `${coll}/${x.name}`)]);
        return { x, ga, gb };
      }),
    );
    const wrongState = readBoth
      .filter(({ x, ga, gb }) => {
        if (ga.status !== 200 || gb.status !== 200) return true;
        if (
          ga.body.metadata.resourceVersion !== gb.body.metadata.resourceVersion ||
          ga.body.spec?.units !== gb.body.spec?.units
        )
          return true;
        const rv = rvOf(ga.body);
        const units = ga.body.spec!.units!;
        return rv < x.rv || units < x.units || (rv === x.rv && units !== x.units);
      })
      .map(({ x, ga, gb }) => ({
        ack: x,
        a: `${ga.status} ${ga.body.metadata.resourceVersion} ${ga.body.spec?.units}`,
        b: `${gb.status} ${gb.body.metadata.resourceVersion} ${gb.body.spec?.units}`,
      }));
    expect(wrongState).toEqual([]);

    // the replicas' storage watches that the killed member served moved to the others
    const survivorsWatchers = async (): Promise<number> =>
      (await Promise.all(c.members.map((m, i) => (i === victim ? 0 : m.watcherCount())))).reduce((x, y) => x + y, 0);
    let watchersAfter = await survivorsWatchers();
    for (
      const until = Date.now() + 10_000;
      watchersAfter !== watchersBefore && Date.now() < until;
      watchersAfter = await survivorsWatchers()
    )
      await sleep(100);
    expect(watchersAfter).toBe(watchersBefore);

    // the history as etcd recorded it, read back from etcd itself (a fresh client)
    const truth: StoreEvent[] = [];
    const direct = openEtcdStore({ endpoints: c.endpoints.filter((_, i) => i !== victim), prefix: etcdPrefix });
    try {
      const errors: Error[] = [];
      const w = direct.watch(etcdKeyPrefix, Number(startRV), {
        onEvent: (e) => truth.push(e),
        onError: (e) => errors.push(e),
      });
      await waitFor(
        'etcd to replay the history',
        () => errors.length > 0 || (truth[truth.length - 1]?.revision ?? 0) >= lastRV,
        20_000,
      );
      w.stop();
      expect(errors).toEqual([]);
    } finally {
      await direct.close();
    }
    const expected: Seen[] = truth.map((e) => ({
      type: e.type === 'DELETE' ? 'DELETED' : e.prevValue === undefined ? 'ADDED' : 'MODIFIED',
      name: e.key.slice(etcdKeyPrefix.length),
      rv: e.revision,
      units: (JSON.parse(e.value) as Obj).spec?.units,
    }));
    expect(expected[expected.length - 1]!.rv).toBe(lastRV);

    // the watches opened before the load on both replicas saw exactly that history: the same
    // resourceVersions in the same (strictly increasing) order, no gaps, no error, still open
    await waitFor('the watches to reach the last write', () => watches.every((w) => w.lastRV() >= lastRV), 20_000);
    await sleep(200);
    for (const w of watches) {
      expect(w.problems).toEqual([]);
      const rvs = w.events.map((e) => e.rv);
      const notIncreasing = rvs.filter((rv, i) => i > 0 && !(rv > rvs[i - 1]!));
      expect(notIncreasing).toEqual([]);
      expect(w.events).toEqual(expected);
    }
    expect(watches[1]!.events.map((e) => e.rv)).toEqual(watches[0]!.events.map((e) => e.rv));

    // every acknowledged write is an event of that history, with its value
    const byRV = new Map(expected.map((e) => [e.rv, e]));
    const missing = acked.filter((x) => {
      const e = byRV.get(x.rv);
      return e?.name !== x.name || e.units !== x.units || e.type !== (x.op === 'create' ? 'ADDED' : 'MODIFIED');
    });
    expect(missing).toEqual([]);

    const firstAfter = (via: string): number | null => {
      const x = stats.acked.filter((y) => y.via === via && y.sentAt > killedAt).sort((p, q) => p.at - q.at)[0];
      return x ? x.at - killedAt : null;
    };
    const ats = stats.acked.map((x) => x.at).sort((p, q) => p - q);
    const longestGap = ats.reduce((m, t, i) => (i > 0 ? Math.max(m, t - ats[i - 1]!) : m), 0);
    const errorKinds: Record<string, number> = {};
    for (const f of stats.failed) {
      const kind = f.why
        .replace(/^\d+ Internal error occurred: /, '')
        .replace(/\d+/g, 'N')
        .slice(0, 120);
      errorKinds[kind] = (errorKinds[kind] ?? 0) + 1;
    }
    const summary = {
      loadMs: loadEnd - t0,
      killedMember: `${c.members[victim]!.name}${victim === leader ? ' (leader)' : ''}`,
      storageWatchesPerMember: served,
      acknowledgedWrites: stats.acked.length,
      acknowledgedViaA: stats.acked.filter((x) => x.via === 'A').length,
      acknowledgedViaB: stats.acked.filter((x) => x.via === 'B').length,
      acknowledgedBeforeKill: ackedBeforeKill,
      acknowledgedSentAfterKill: sentAfterKill.length,
      failedWrites: stats.failed.length,
      errorKinds,
      updateConflictsAfterUnknownOutcome: stats.conflicts,
      firstAckAfterKillMs: { A: firstAfter('A'), B: firstAfter('B') },
      longestGapBetweenAcksMs: longestGap,
      slowestAckMs: Math.max(...stats.acked.map((x) => x.at - x.sentAt)),
      failedAtMsAfterKill: stats.failed.map((f) => f.at - killedAt),
      watchEvents: watches[0]!.events.length,
      writesPerSecond: Math.round(stats.acked.length / ((loadEnd - t0) / 1000)),
    };
    console.log(`replicas under an etcd member kill: ${JSON.stringify(summary)}`);
  }, 60_000);
});
