// Row 5: watch fan-out. `watchers` HTTP watches on the UnitSets of one namespace (opened by the
// load worker over one keep-alive agent, one connection each), then writes to one UnitSet, one
// at a time, each a PUT from the main thread. Per write: the time from the commit (the earlier
// of storage acknowledging the write and the storage watch event reaching the server, noted by a
// wrapper around the server's store: CommitClock) to the moment the event line has arrived on
// every watch (the last delivery; the worker timestamps each chunk). The reference is the same
// measurement with a single watcher.
//
// Both sides read one wall clock (performance.timeOrigin + now()), so times compare across
// threads. The worker's own receive cost (TLS + reading 1,000 sockets on one thread) is part of
// the figure.

import type { BackendEnv } from '../lib/env.js';
import { collectionPath, objectPath, unitSetBody } from '../lib/fixtures.js';
import type { DeliveredEvent } from '../lib/protocol.js';
import { sleep, summarize, wallNow, type Summary } from '../lib/stats.js';
import { row, type Suite } from '../lib/types.js';
import { watchCacheOf } from '../../src/apiserver/watchcache/decorator.js';

const ns = 'bench-watch';
const warmups = 3;

interface FanOut {
  last: Summary;
  first: Summary;
  /** Commit to the PUT's response at the main-thread client. */
  ack: Summary;
  openMs: number;
}

async function fanOut(env: BackendEnv, watchers: number, writes: number): Promise<FanOut> {
  const cache = watchCacheOf(env.served('unitsets').store);
  let obj = (await env.apiOK('GET', objectPath('unitsets', ns, 'watched'))).json<{
    metadata: { resourceVersion: string; annotations?: Record<string, string> };
  }>();
  const base = cache.stats().watchers;

  const delivered = new Map<number, DeliveredEvent>();
  const waiting = new Map<number, (ev: DeliveredEvent) => void>();
  const onDelivered = (ev: DeliveredEvent): void => {
    const w = waiting.get(ev.index);
    if (w) w(ev);
    else delivered.set(ev.index, ev);
  };
  env.worker.on('delivered', onDelivered);
  const deliveredAt = (index: number): Promise<DeliveredEvent> => {
    const got = delivered.get(index);
    if (got) return Promise.resolve(got);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`event ${index} did not reach all ${watchers} watchers within 60 s`)),
        60_000,
      );
      waiting.set(index, (ev) => {
        clearTimeout(timer);
        resolve(ev);
      });
    });
  };

  try {
    const path = collectionPath(
      'unitsets',
      ns,
      `watch=1&resourceVersion=${obj.metadata.resourceVersion}&timeoutSeconds=1800`,
    );
    const opened = await env.worker.run({
      kind: 'watch-open',
      target: env.target,
      path,
      count: watchers,
      openConcurrency: 50,
    });
    // Every stream registered with the watch cache (headers are sent before registration).
    const deadline = Date.now() + 60_000;
    while (cache.stats().watchers < base + watchers) {
      if (Date.now() > deadline)
        throw new Error(`only ${cache.stats().watchers - base} of ${watchers} watches registered`);
      await sleep(20);
    }
    await sleep(200);

    const last: number[] = [];
    const first: number[] = [];
    const ack: number[] = [];
    for (let i = 0; i < warmups + writes; i++) {
      const annotations = { ...(obj.metadata.annotations ?? {}), 'bench.upm.io/seq': String(i) };
      const res = await env.apiOK('PUT', objectPath('unitsets', ns, 'watched'), {
        ...obj,
        metadata: { ...obj.metadata, annotations },
      });
      const ackAt = wallNow();
      obj = res.json();
      const commit = env.commits.at(Number(obj.metadata.resourceVersion));
      if (commit === undefined) throw new Error(`no commit time for revision ${obj.metadata.resourceVersion}`);
      const ev = await deliveredAt(i);
      if (i >= warmups) {
        last.push(ev.last - commit);
        first.push(ev.first - commit);
        ack.push(ackAt - commit);
      }
      await sleep(20);
    }
    const closed = await env.worker.run({ kind: 'watch-close' });
    if (closed.endedEarly > 0) throw new Error(`${closed.endedEarly} watches ended before the end of the measurement`);
    return { last: summarize(last), first: summarize(first), ack: summarize(ack), openMs: opened.ms };
  } finally {
    env.worker.off('delivered', onDelivered);
  }
}

export const watchSuite: Suite = {
  name: 'watch',
  scope: 'backend',
  async run({ env: e, preset, log }) {
    const env = e!;
    await env.apiOK('POST', collectionPath('unitsets', ns), unitSetBody('watched'));
    log(`watch fan-out: 1 then ${preset.watchers} watchers, ${preset.watchWrites} writes each`);
    const one = await fanOut(env, 1, preset.watchWrites);
    const many = await fanOut(env, preset.watchers, preset.watchWrites);
    const n = preset.watchers.toLocaleString('en-US');
    const ref = '1 watcher, commit → delivery';
    const f = (v: number): string => v.toFixed(1);
    return [
      row(
        this.name,
        env.name,
        `watch ${n} watchers: commit → last delivery p50`,
        many.last.p50,
        'ms',
        `${ref} p50`,
        one.last.p50,
        `${preset.watchWrites} writes; first delivery p50 ${f(many.first.p50)} ms; PUT ack p50 ${f(many.ack.p50)} ms after commit; ${n} watches opened in ${(many.openMs / 1000).toFixed(1)} s`,
      ),
      row(
        this.name,
        env.name,
        `watch ${n} watchers: commit → last delivery p99`,
        many.last.p99,
        'ms',
        `${ref} p99`,
        one.last.p99,
        `first delivery p99 ${f(many.first.p99)} ms`,
      ),
    ];
  },
};
