// Watch fan-out and cache memory measurements. Skipped unless WATCHCACHE_BENCH=1:
//   WATCHCACHE_BENCH=1 node --experimental-vm-modules --no-warnings=ExperimentalWarning \
//     node_modules/jest/bin/jest.js --runInBand bench/micro/watchcache.test.ts

import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';
import { openSqliteStore } from '../../src/storage/sqlite/store.js';
import type { Store } from '../../src/storage/interface.js';
import { defaultWatchSettings, serveWatch } from '../../src/apiserver/endpoints/watch.js';
import { APIRegistry, type ServedResource } from '../../src/apiserver/registry/registry.js';
import type { KubeObject } from '../../src/machinery/object.js';
import { widgetDefinition } from '../../src/apiserver/testing/widget.js';
import { settle } from '../../src/apiserver/watchcache/testing/store.js';
import { watchCacheDecorator, watchCacheOf } from '../../src/apiserver/watchcache/decorator.js';

const run = process.env['WATCHCACHE_BENCH'] ? describe : describe.skip;
const TIMEOUT = 600_000;

const WATCHERS = 1000;
const WRITES = 200;

/** A widget of about 1.5 KB of JSON. */
function body(name: string, size = 1): Record<string, unknown> {
  return {
    apiVersion: 'test.upm.io/v1',
    kind: 'Widget',
    metadata: {
      name,
      labels: { app: 'bench', tier: 'db', 'upm.io/owner': 'cluster-1', idx: name },
      annotations: { 'upm.io/description': 'a widget used to measure the watch cache '.repeat(3) },
    },
    spec: {
      size,
      color: 'blue',
      parts: Array.from({ length: 16 }, (_, i) => ({ name: `part-${i}-of-${name}` })),
      extra: { a: 1, b: 'two', c: [1, 2, 3] },
    },
  };
}

/** Store whose update() records the commit time (the write is synchronous inside the call). */
function timed(inner: Store): Store & { committedAt: number } {
  const s = Object.create(inner) as Store & { committedAt: number };
  s.update = (key, value, pre) => {
    const p = inner.update(key, value, pre);
    s.committedAt = performance.now();
    return p;
  };
  return s;
}

function percentile(xs: number[], p: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

class CountingResponse extends EventEmitter {
  writableLength = 0;
  bytes = 0;
  lines = 0;
  onLine: () => void = () => {};
  writeHead(): this {
    return this;
  }
  flushHeaders(): void {}
  write(chunk: string | Buffer): boolean {
    this.bytes += chunk.length;
    this.lines++;
    this.onLine();
    return true;
  }
  end(): void {}
}

interface Result {
  p50: number;
  p99: number;
  max: number;
}

async function fanout(mode: 'in-process' | 'http', cache: boolean): Promise<Result> {
  const raw = openSqliteStore(':memory:', { synchronous: 'NORMAL' });
  const store = timed(raw);
  const registry = new APIRegistry(
    store,
    [{ definition: widgetDefinition }],
    cache ? { decorator: watchCacheDecorator() } : {},
  );
  const served: ServedResource = registry.lookup('test.upm.io', 'v1', 'widgets')!;
  let obj = await served.store.create('bench', body('target'));
  for (let i = 0; i < 20; i++) await served.store.create('bench', body(`other-${i}`));

  let delivered = 0;
  let lastAt = 0;
  let resolveAll: () => void = () => {};
  const onDelivery = (): void => {
    if (++delivered === WATCHERS) {
      lastAt = performance.now();
      resolveAll();
    }
  };
  const stops: (() => void)[] = [];
  for (let i = 0; i < WATCHERS; i++) {
    const rv = (await served.store.list('bench', { resourceVersion: '0' })).resourceVersion;
    if (mode === 'in-process') {
      const w = await served.store.watch(
        'bench',
        { resourceVersion: rv },
        {
          event: onDelivery,
          error: (e) => {
            throw e;
          },
        },
      );
      stops.push(() => w.stop());
    } else {
      const req = new EventEmitter();
      const res = new CountingResponse();
      res.onLine = onDelivery;
      void serveWatch(
        req as unknown as IncomingMessage,
        res as unknown as ServerResponse,
        served,
        'bench',
        new URLSearchParams(`resourceVersion=${rv}`),
        { kind: 'object' },
        defaultWatchSettings,
      );
      stops.push(() => req.emit('close'));
    }
  }
  await settle(100);

  const latencies: number[] = [];
  for (let i = 0; i < WRITES + 10; i++) {
    delivered = 0;
    const all = new Promise<void>((r) => (resolveAll = r));
    obj = await served.store.update('bench', 'target', {
      ...obj,
      spec: { ...(obj['spec'] as object), size: i },
    } as KubeObject);
    await all;
    if (i >= 10) latencies.push(lastAt - store.committedAt); // the first ones warm up
  }
  for (const stop of stops) stop();
  registry.close();
  await raw.close();
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: Math.max(...latencies) };
}

run('watch cache measurements', () => {
  it(
    'fan-out latency of one write to 1,000 watchers',
    async () => {
      const rows: Record<string, Result> = {};
      for (const mode of ['in-process', 'http'] as const) {
        for (const cache of [false, true]) rows[`${mode} ${cache ? 'cache' : 'no cache'}`] = await fanout(mode, cache);
      }
      const fmt = (n: number) => `${n.toFixed(2)} ms`;
      console.log(
        `fan-out, ${WATCHERS} watchers, ${WRITES} writes (commit -> last delivery)\n` +
          Object.entries(rows)
            .map(([k, r]) => `${k.padEnd(22)} p50 ${fmt(r.p50)}  p99 ${fmt(r.p99)}  max ${fmt(r.max)}`)
            .join('\n'),
      );
    },
    TIMEOUT,
  );

  it(
    'memory per 10,000 cached objects',
    async () => {
      v8.setFlagsFromString('--expose-gc');
      const gc = vm.runInNewContext('gc') as () => void;
      const heap = (): number => {
        gc();
        gc();
        const m = process.memoryUsage();
        return m.heapUsed + m.arrayBuffers; // encoded lines are Buffers, outside the JS heap
      };
      const raw = openSqliteStore(':memory:', { synchronous: 'NORMAL' });
      const registry = new APIRegistry(raw, [{ definition: widgetDefinition }], { decorator: watchCacheDecorator() });
      const served = registry.lookup('test.upm.io', 'v1', 'widgets')!;
      for (let i = 0; i < 10_000; i++) await served.store.create(`ns-${i % 50}`, body(`w-${i}`));
      const jsonBytes = (await raw.list('/registry/test.upm.io/widgets/')).items.reduce(
        (n, kv) => n + kv.value.length,
        0,
      );

      const before = heap();
      await watchCacheOf(served.store).ensureStarted();
      const cached = heap() - before;

      // History: 10,000 updates keep the previous versions alive through the event window.
      for (let i = 0; i < 10_000; i++) {
        const cur = await served.store.get(`ns-${i % 50}`, `w-${i}`);
        await served.store.update(`ns-${i % 50}`, `w-${i}`, { ...cur, spec: { ...(cur['spec'] as object), size: 2 } });
      }
      await settle(200);
      const withHistory = heap() - before;
      // Two HTTP streams from "0": synthetic ADDED for every object, encoded once and shared.
      const streams = [0, 1].map(() => {
        const req = new EventEmitter();
        const res = new CountingResponse();
        void serveWatch(
          req as unknown as IncomingMessage,
          res as unknown as ServerResponse,
          served,
          undefined,
          new URLSearchParams('resourceVersion=0'),
          { kind: 'object' },
          defaultWatchSettings,
        );
        return { req, res };
      });
      await settle(200);
      const withLines = heap() - before;
      for (const s of streams) s.req.emit('close');
      const kb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB (${Math.round(n / 10_000)} B/object)`;
      console.log(
        `10,000 widgets, ${Math.round(jsonBytes / 10_000)} B of JSON each (${(jsonBytes / 1024 / 1024).toFixed(1)} MiB)\n` +
          `cache state:                         ${kb(cached)}\n` +
          `+ full 10,000-event history:         ${kb(withHistory)}\n` +
          `+ shared encoded lines (2 streams):  ${kb(withLines)}\n` +
          `stats: ${JSON.stringify(watchCacheOf(served.store).stats())}`,
      );
      registry.close();
      await raw.close();
    },
    TIMEOUT,
  );
});
