// Row 2: LIST of a namespace holding `listItems` UnitSets (resourceVersion unset: a consistent
// read from storage, what kubectl get does) vs a bare node:https server returning the same bytes.

import { compareWithBare, readRows } from '../lib/compare.js';
import { collectionPath, unitSetBody } from '../lib/fixtures.js';
import type { Suite } from '../lib/types.js';

export const listSuite: Suite = {
  name: 'list',
  scope: 'backend',
  async run({ env, preset, log }) {
    const ns = 'bench-list';
    const created = await env!.worker.run({
      kind: 'requests',
      target: env!.target,
      concurrency: 8,
      count: preset.listItems,
      scenario: { type: 'create', path: collectionPath('unitsets', ns), body: unitSetBody('x'), namePrefix: 'list-' },
    });
    if (created.errors > 0) throw new Error(`creating the UnitSets to list: ${created.firstError ?? '?'}`);
    log(`LIST ${preset.listItems} UnitSets, ${preset.concurrency} in flight, ${preset.durationMs} ms per run`);
    const c = await compareWithBare(env!, collectionPath('unitsets', ns), {
      concurrency: preset.concurrency,
      warmupMs: preset.warmupMs,
      durationMs: preset.durationMs,
    });
    return readRows(this.name, env!, `LIST ${preset.listItems} UnitSets`, c, preset.concurrency);
  },
};
