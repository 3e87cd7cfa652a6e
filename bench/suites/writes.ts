// Row 3: creates/s and updates/s through the API vs the raw write rate of the same backend's
// store (`store.create` / `store.update` called directly in this process, with values of the
// size the API stored, the same number in flight). The ratio is what the API path costs over
// storage: TLS + HTTP, decoding, defaulting/pruning, validation, managedFields, encoding, and
// for an update the extra storage read of its read-modify-write.

import { busy } from '../lib/compare.js';
import { withServerELU } from '../lib/env.js';
import { collectionPath, objectPath, unitSetBody } from '../lib/fixtures.js';
import type { RequestsResult } from '../lib/protocol.js';
import { pool } from '../lib/stats.js';
import { row, type Suite } from '../lib/types.js';

function check(what: string, r: RequestsResult): void {
  if (r.errors > 0) throw new Error(`${what}: ${r.errors} failed requests (${r.firstError ?? '?'})`);
}

export const writesSuite: Suite = {
  name: 'writes',
  scope: 'backend',
  async run({ env: e, preset, log }) {
    const env = e!;
    const ns = 'bench-writes';
    const conc = preset.concurrency;
    log(
      `${preset.writes} creates and ${preset.writes} updates through the API and on the raw store, ${conc} in flight`,
    );

    // API creates.
    const { result: creates, elu: createsELU } = await withServerELU(() =>
      env.worker.run({
        kind: 'requests',
        target: env.target,
        concurrency: conc,
        warmupCount: preset.warmupWrites,
        count: preset.writes,
        scenario: { type: 'create', path: collectionPath('unitsets', ns), body: unitSetBody('x'), namePrefix: 'c-' },
      }),
    );
    check('API creates', creates);

    // Raw creates with the bytes the API stored for one of them.
    const prefix = `/registry/upm.io/unitsets/${ns}/`;
    const stored = (await env.store.list(prefix, { limit: 1 })).items[0];
    if (!stored) throw new Error('no UnitSet stored by the API creates');
    const value = stored.value;
    const rawKey = (i: number): string => `/bench-raw/unitsets/${ns}/r-${i}`;
    await pool(preset.warmupWrites, conc, async (i) => void (await env.store.create(rawKey(i), value)));
    let t0 = performance.now();
    await pool(preset.writes, conc, async (i) => void (await env.store.create(rawKey(preset.warmupWrites + i), value)));
    const rawCreates = preset.writes / ((performance.now() - t0) / 1000);

    // API updates: one lane per object, each PUT carrying the resourceVersion of its last response.
    const names = Array.from({ length: conc }, (_, i) => `c-w${i}`);
    const objects = await Promise.all(
      names.map(async (name) => ({
        path: objectPath('unitsets', ns, name),
        body: (await env.apiOK('GET', objectPath('unitsets', ns, name))).json<Record<string, unknown>>(),
      })),
    );
    const { result: updates, elu: updatesELU } = await withServerELU(() =>
      env.worker.run({
        kind: 'requests',
        target: env.target,
        concurrency: conc,
        warmupCount: preset.warmupWrites,
        count: preset.writes,
        scenario: { type: 'update', objects },
      }),
    );
    check('API updates', updates);

    // Raw updates: same lanes, each a preconditioned update of its own key (as the API's write is).
    const variants = [value, value.replace('"units":3', '"units":4')];
    const revs = await Promise.all(
      Array.from({ length: conc }, async (_, l) => (await env.store.get(rawKey(l)))!.modRevision),
    );
    const rawUpdate = async (total: number): Promise<void> => {
      let issued = 0;
      await Promise.all(
        revs.map(async (_, l) => {
          while (issued < total) {
            issued++;
            const kv = await env.store.update(rawKey(l), variants[issued % 2]!, { modRevision: revs[l]! });
            revs[l] = kv.modRevision;
          }
        }),
      );
    };
    await rawUpdate(preset.warmupWrites);
    t0 = performance.now();
    await rawUpdate(preset.writes);
    const rawUpdates = preset.writes / ((performance.now() - t0) / 1000);

    const size = `${Buffer.byteLength(value)} B stored`;
    return [
      row(
        this.name,
        env.name,
        'API creates (POST UnitSet)',
        creates.throughput,
        '/s',
        'store.create, same value',
        rawCreates,
        `${conc} in flight, ${size}; API p50 ${creates.latency.p50.toFixed(1)} ms p99 ${creates.latency.p99.toFixed(1)} ms; busy ${busy(createsELU, creates.elu)}`,
      ),
      row(
        this.name,
        env.name,
        'API updates (PUT UnitSet)',
        updates.throughput,
        '/s',
        'store.update, same value',
        rawUpdates,
        `${conc} in flight, ${size}; API p50 ${updates.latency.p50.toFixed(1)} ms p99 ${updates.latency.p99.toFixed(1)} ms; busy ${busy(updatesELU, updates.elu)}`,
      ),
    ];
  },
};
