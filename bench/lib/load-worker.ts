// The load generator: runs in a worker_threads thread so that the client's CPU (TLS, HTTP
// parsing) is spent on another thread than the API server's event loop. See protocol.ts.

import { Agent, request, type RequestOptions } from 'node:https';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { performance } from 'node:perf_hooks';
import { parentPort } from 'node:worker_threads';
import type {
  DeliveredEvent,
  FromWorker,
  Job,
  RequestsJob,
  RequestsResult,
  Target,
  ToWorker,
  WatchCloseResult,
  WatchOpenJob,
  WatchOpenResult,
} from './protocol.js';
import { summarize, wallNow } from './stats.js';

if (!parentPort) throw new Error('load-worker.ts must run as a worker thread');
const port = parentPort;

interface Outgoing {
  method: string;
  path: string;
  body?: string;
  /** Keep the response body (to read the next update's object). */
  keepBody?: boolean;
  onResponse?: (status: number, body: Buffer) => void;
}

interface Response {
  status: number;
  bytes: number;
  body: Buffer | undefined;
}

function tlsOptions(target: Target): Pick<RequestOptions, 'ca' | 'cert' | 'key' | 'host' | 'port'> {
  const url = new URL(target.origin);
  return { ca: target.ca, cert: target.cert, key: target.key, host: url.hostname, port: Number(url.port) };
}

function send(agent: Agent, target: Target, out: Outgoing): Promise<Response> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { Accept: 'application/json' };
    let payload: Buffer | undefined;
    if (out.body !== undefined) {
      payload = Buffer.from(out.body);
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = payload.length;
    }
    const req = request({ ...tlsOptions(target), agent, method: out.method, path: out.path, headers }, (res) => {
      let bytes = 0;
      const chunks: Buffer[] | undefined = out.keepBody ? [] : undefined;
      res.on('data', (c: Buffer) => {
        bytes += c.length;
        chunks?.push(c);
      });
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, bytes, body: chunks ? Buffer.concat(chunks) : undefined }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** The request generator of a scenario: `next(lane, seq, timed)`. */
function scenarioOf(job: RequestsJob): {
  lanes: number;
  next: (lane: number, seq: number, timed: boolean) => Outgoing;
} {
  const s = job.scenario;
  switch (s.type) {
    case 'fixed':
      return { lanes: job.concurrency, next: () => ({ method: s.method, path: s.path }) };
    case 'create':
      return {
        lanes: job.concurrency,
        next: (_lane, seq, timed) => {
          const meta = s.body['metadata'] as Record<string, unknown>;
          const body = { ...s.body, metadata: { ...meta, name: `${s.namePrefix}${timed ? '' : 'w'}${seq}` } };
          return { method: 'POST', path: s.path, body: JSON.stringify(body) };
        },
      };
    case 'update': {
      const bodies = s.objects.map((o) => o.body);
      let counter = 0;
      return {
        lanes: s.objects.length,
        next: (lane) => {
          const body = bodies[lane]!;
          const meta = body['metadata'] as { annotations?: Record<string, string> };
          meta.annotations = { ...(meta.annotations ?? {}), 'bench.upm.io/seq': String(counter++) };
          return {
            method: 'PUT',
            path: s.objects[lane]!.path,
            body: JSON.stringify(body),
            keepBody: true,
            onResponse: (status, raw) => {
              if (status === 200) bodies[lane] = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
            },
          };
        },
      };
    }
  }
}

async function runRequests(job: RequestsJob): Promise<RequestsResult> {
  const { lanes, next } = scenarioOf(job);
  const agent = new Agent({ keepAlive: true, maxSockets: lanes, maxFreeSockets: lanes });
  let seq = 0;
  try {
    const phase = async (limit: { count?: number; ms?: number }, timed: boolean) => {
      const until = limit.ms !== undefined ? performance.now() + limit.ms : Infinity;
      let issued = 0;
      let completed = 0;
      let errors = 0;
      let bytes = 0;
      let firstError: string | undefined;
      const statuses: Record<string, number> = {};
      const latencies: number[] = [];
      const lane = async (l: number): Promise<void> => {
        for (;;) {
          if (limit.count !== undefined && issued >= limit.count) return;
          if (performance.now() >= until) return;
          issued++;
          const out = next(l, seq++, timed);
          const t0 = performance.now();
          try {
            const res = await send(agent, job.target, out);
            const dt = performance.now() - t0;
            out.onResponse?.(res.status, res.body ?? Buffer.alloc(0));
            statuses[res.status] = (statuses[res.status] ?? 0) + 1;
            bytes += res.bytes;
            if (res.status >= 400) {
              errors++;
              firstError ??= `${out.method} ${out.path}: HTTP ${res.status}`;
            } else {
              completed++;
              latencies.push(dt);
            }
          } catch (err) {
            errors++;
            firstError ??= `${out.method} ${out.path}: ${(err as Error).message}`;
          }
          if (errors > 100 && completed === 0) throw new Error(`every request fails: ${firstError}`);
        }
      };
      const elu0 = performance.eventLoopUtilization();
      const t0 = performance.now();
      await Promise.all(Array.from({ length: lanes }, (_, l) => lane(l)));
      const elapsedMs = performance.now() - t0;
      const elu = performance.eventLoopUtilization(elu0).utilization;
      return {
        completed,
        errors,
        firstError,
        statuses,
        elapsedMs,
        throughput: completed / (elapsedMs / 1000),
        latency: summarize(latencies),
        bytes,
        elu,
      };
    };
    if (job.warmupMs || job.warmupCount)
      await phase(
        { ...(job.warmupMs ? { ms: job.warmupMs } : {}), ...(job.warmupCount ? { count: job.warmupCount } : {}) },
        false,
      );
    const result = await phase(
      { ...(job.durationMs ? { ms: job.durationMs } : {}), ...(job.count ? { count: job.count } : {}) },
      true,
    );
    return { ...result, ...(result.firstError ? { firstError: result.firstError } : {}) } as RequestsResult;
  } finally {
    agent.destroy();
  }
}

// ---- watches ----------------------------------------------------------------------------------

interface OpenWatch {
  req: ClientRequest;
  res: IncomingMessage | undefined;
  lines: number;
  ended: boolean;
}

let watches: OpenWatch[] = [];
let watchAgent: Agent | undefined;
let arrivals: { count: number; first: number; last: number }[] = [];
let endedEarly = 0;

function onLine(w: OpenWatch, at: number): void {
  const k = w.lines++;
  const a = (arrivals[k] ??= { count: 0, first: at, last: at });
  a.count++;
  if (at < a.first) a.first = at;
  if (at > a.last) a.last = at;
  if (a.count === watches.length) {
    const ev: DeliveredEvent = { event: 'delivered', index: k, first: a.first, last: a.last };
    port.postMessage(ev satisfies FromWorker);
  }
}

async function openWatches(job: WatchOpenJob): Promise<WatchOpenResult> {
  if (watches.length > 0) throw new Error('watches are already open');
  watchAgent = new Agent({ keepAlive: true, maxSockets: job.count + 16 });
  arrivals = [];
  endedEarly = 0;
  const t0 = performance.now();
  const agent = watchAgent;
  const openOne = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const req = request({
        ...tlsOptions(job.target),
        agent,
        method: 'GET',
        path: job.path,
        headers: { Accept: 'application/json' },
      });
      const w: OpenWatch = { req, res: undefined, lines: 0, ended: false };
      watches.push(w);
      req.on('response', (res) => {
        w.res = res;
        if (res.statusCode !== 200) {
          reject(new Error(`watch ${job.path}: HTTP ${res.statusCode}`));
          res.resume();
          return;
        }
        res.on('data', (chunk: Buffer) => {
          const at = wallNow();
          for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) onLine(w, at);
        });
        const ended = (): void => {
          if (!w.ended) {
            w.ended = true;
            endedEarly++;
          }
        };
        res.on('end', ended);
        res.on('close', ended);
        res.on('error', ended);
        resolve();
      });
      req.on('error', (err) => reject(err));
      req.end();
    });
  let opened = 0;
  const lane = async (): Promise<void> => {
    while (opened < job.count) {
      opened++;
      await openOne();
    }
  };
  await Promise.all(Array.from({ length: Math.min(job.openConcurrency, job.count) }, lane));
  return { opened: watches.length, ms: performance.now() - t0 };
}

function closeWatches(): WatchCloseResult {
  const early = endedEarly;
  for (const w of watches) {
    w.ended = true;
    w.req.destroy();
  }
  watches = [];
  watchAgent?.destroy();
  watchAgent = undefined;
  return { endedEarly: early };
}

async function handle(job: Job): Promise<unknown> {
  switch (job.kind) {
    case 'requests':
      return runRequests(job);
    case 'watch-open':
      return openWatches(job);
    case 'watch-close':
      return closeWatches();
  }
}

port.on('message', (msg: ToWorker) => {
  handle(msg.job).then(
    (result) => port.postMessage({ id: msg.id, ok: true, result } satisfies FromWorker),
    (err: unknown) =>
      port.postMessage({
        id: msg.id,
        ok: false,
        error: err instanceof Error ? (err.stack ?? err.message) : String(err),
      } satisfies FromWorker),
  );
});
