// Row 1: GET of one UnitSet through the API server vs a bare node:https server returning the
// same bytes. The ratio is the framework's cost per request (routing, authentication, request
// info, registry, storage read, JSON) over TLS + HTTP alone.

import { compareWithBare, readRows } from '../lib/compare.js';
import { collectionPath, objectPath, unitSetBody } from '../lib/fixtures.js';
import type { Suite } from '../lib/types.js';

export const getSuite: Suite = {
  name: 'get',
  scope: 'backend',
  async run({ env, preset, log }) {
    const ns = 'bench-get';
    await env!.apiOK('POST', collectionPath('unitsets', ns), unitSetBody('get-0'));
    log(`GET one UnitSet, ${preset.concurrency} in flight, ${preset.durationMs} ms per run`);
    const c = await compareWithBare(env!, objectPath('unitsets', ns, 'get-0'), {
      concurrency: preset.concurrency,
      warmupMs: preset.warmupMs,
      durationMs: preset.durationMs,
    });
    return readRows(this.name, env!, 'GET UnitSet', c, preset.concurrency);
  },
};
