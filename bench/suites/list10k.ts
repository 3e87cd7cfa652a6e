// Row 4: LIST of the big namespace (10,000 Units) through the API, one request at a time:
// resourceVersion unset (a consistent read: the watch cache answers when it has storage's
// current revision), resourceVersion=0 (the watch cache, any state) and an Exact read at the
// list's revision (always storage). References: a bare node:https server returning the same bytes (what TLS + HTTP of
// that response costs by itself), and the raw store.list() of the same keys in this process.

import { compareWithBare } from '../lib/compare.js';
import { collectionPath } from '../lib/fixtures.js';
import { MiB } from '../lib/memory.js';
import { summarize } from '../lib/stats.js';
import { row, type Suite } from '../lib/types.js';
import { loadUnits } from './units.js';

export const list10kSuite: Suite = {
  name: 'list10k',
  scope: 'backend',
  async run(ctx) {
    const env = ctx.env!;
    const { preset } = ctx;
    const u = await loadUnits(ctx);
    const n = u.count.toLocaleString('en-US');
    const job = { concurrency: 1, warmupCount: 1, count: preset.bigListIterations };
    ctx.log(`LIST ${n} Units, ${preset.bigListIterations} times per variant`);
    const consistent = await compareWithBare(env, collectionPath('units', u.namespace), job);
    const cached = await compareWithBare(env, collectionPath('units', u.namespace, 'resourceVersion=0'), job);
    const { resourceVersion } = (
      (await env.apiOK('GET', collectionPath('units', u.namespace, 'limit=1'))).json() as {
        metadata: { resourceVersion: string };
      }
    ).metadata;
    const storage = await compareWithBare(
      env,
      collectionPath('units', u.namespace, `resourceVersion=${resourceVersion}&resourceVersionMatch=Exact`),
      job,
    );

    const prefix = `/registry/upm.io/units/${u.namespace}/`;
    const raw: number[] = [];
    for (let i = 0; i <= preset.bigListIterations; i++) {
      const t0 = performance.now();
      const r = await env.store.list(prefix);
      if (i > 0) raw.push(performance.now() - t0);
      if (r.items.length !== u.count) throw new Error(`store.list returned ${r.items.length} of ${u.count} Units`);
    }
    const rawSummary = summarize(raw);
    const ref = 'bare https, same bytes';
    const size = `${(storage.bytes / MiB).toFixed(1)} MiB response, ${preset.bigListIterations} runs`;
    return [
      row(
        this.name,
        env.name,
        `LIST ${n} Units, RV unset (consistent) p50`,
        consistent.api.latency.p50,
        'ms',
        ref,
        consistent.bare.latency.p50,
        size,
      ),
      row(
        this.name,
        env.name,
        `LIST ${n} Units, RV unset (consistent) p99`,
        consistent.api.latency.p99,
        'ms',
        ref,
        consistent.bare.latency.p99,
      ),
      row(
        this.name,
        env.name,
        `LIST ${n} Units, RV=0 (watch cache) p50`,
        cached.api.latency.p50,
        'ms',
        ref,
        cached.bare.latency.p50,
      ),
      row(
        this.name,
        env.name,
        `LIST ${n} Units, RV=0 (watch cache) p99`,
        cached.api.latency.p99,
        'ms',
        ref,
        cached.bare.latency.p99,
      ),
      row(
        this.name,
        env.name,
        `LIST ${n} Units, Exact RV (storage) p50`,
        storage.api.latency.p50,
        'ms',
        ref,
        storage.bare.latency.p50,
      ),
      row(
        this.name,
        env.name,
        `LIST ${n} Units, Exact RV (storage) p99`,
        storage.api.latency.p99,
        'ms',
        ref,
        storage.bare.latency.p99,
      ),
      row(
        this.name,
        env.name,
        `LIST ${n} Units, Exact RV (storage) p50`,
        storage.api.latency.p50,
        'ms',
        'store.list() same keys, in-process',
        rawSummary.p50,
        `store.list p99 ${rawSummary.p99.toFixed(0)} ms`,
      ),
    ];
  },
};
