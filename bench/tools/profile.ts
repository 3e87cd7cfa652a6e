// CPU profile of the API server's thread during one load pattern, and only during it (setup,
// certificate generation and the reference server stay out of the profile, unlike a
// whole-process `node --cpu-prof`). The load comes from the bench's worker thread, as in
// `npm run bench`. After `npx tsc -p bench/tsconfig.json`:
//   node dist-bench/bench/tools/profile.js --scenario get|list|create|update|bare-get [--backend sqlite|etcd]
//        [--seconds 10] [--out /tmp/upm-get.cpuprofile] [--top 30] [--concurrency 32] [--sync FULL|NORMAL]
// Writes the .cpuprofile (open it in Chrome DevTools or speedscope) and prints its top frames.

import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { parseArgs } from 'node:util';
import { BackendEnv, makeCerts, withServerELU } from '../lib/env.js';
import { collectionPath, objectPath, unitSetBody } from '../lib/fixtures.js';
import type { Scenario, Target } from '../lib/protocol.js';
import { summarizeProfile } from './cpuprofile-top.js';

const { values } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'get' },
    backend: { type: 'string', default: 'sqlite' },
    seconds: { type: 'string', default: '10' },
    out: { type: 'string' },
    top: { type: 'string', default: '30' },
    concurrency: { type: 'string', default: '32' },
    /** SQLite synchronous mode: FULL (production, an fsync per write on the event loop) or NORMAL. */
    sync: { type: 'string', default: 'FULL' },
  },
});
const scenarioName = values.scenario;
const backend = values.backend === 'etcd' ? 'etcd' : 'sqlite';
const seconds = Number(values.seconds);
const concurrency = Number(values.concurrency);
const out = values.out ?? `/tmp/upm-${scenarioName}-${backend}.cpuprofile`;

const env = await BackendEnv.start(backend, makeCerts(), {
  sqliteSynchronous: values.sync?.toUpperCase() === 'NORMAL' ? 'NORMAL' : 'FULL',
});
let closeBare: (() => Promise<void>) | undefined;
try {
  const ns = 'bench-profile';
  let scenario: Scenario;
  let target: Target = env.target;
  switch (scenarioName) {
    case 'bare-get': {
      // The reference: the bare https server answering with the bytes of the GET.
      const path = objectPath('unitsets', ns, 'get-0');
      await env.apiOK('POST', collectionPath('unitsets', ns), unitSetBody('get-0'));
      const bare = await env.bare((await env.apiOK('GET', path)).body);
      target = bare.target;
      closeBare = bare.close;
      scenario = { type: 'fixed', method: 'GET', path };
      break;
    }
    case 'get':
      await env.apiOK('POST', collectionPath('unitsets', ns), unitSetBody('get-0'));
      scenario = { type: 'fixed', method: 'GET', path: objectPath('unitsets', ns, 'get-0') };
      break;
    case 'list': {
      const r = await env.worker.run({
        kind: 'requests',
        target: env.target,
        concurrency: 8,
        count: 100,
        scenario: { type: 'create', path: collectionPath('unitsets', ns), body: unitSetBody('x'), namePrefix: 'list-' },
      });
      if (r.errors) throw new Error(r.firstError);
      scenario = { type: 'fixed', method: 'GET', path: collectionPath('unitsets', ns) };
      break;
    }
    case 'create':
      scenario = { type: 'create', path: collectionPath('unitsets', ns), body: unitSetBody('x'), namePrefix: 'c-' };
      break;
    case 'update': {
      const objects = [];
      for (let i = 0; i < concurrency; i++) {
        const obj = (await env.apiOK('POST', collectionPath('unitsets', ns), unitSetBody(`u-${i}`))).json<
          Record<string, unknown>
        >();
        objects.push({ path: objectPath('unitsets', ns, `u-${i}`), body: obj });
      }
      scenario = { type: 'update', objects };
      break;
    }
    default:
      throw new Error(`unknown scenario ${scenarioName}: get, list, create, update or bare-get`);
  }
  // Warm-up (JIT, caches) outside the profile.
  const warmup: Scenario = scenario.type === 'create' ? { ...scenario, namePrefix: 'warm-' } : scenario;
  await env.worker.run({ kind: 'requests', target, concurrency, durationMs: 2000, scenario: warmup });

  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  const { result, elu } = await withServerELU(() =>
    env.worker.run({ kind: 'requests', target, concurrency, durationMs: seconds * 1000, scenario }),
  );
  const { profile } = await session.post('Profiler.stop');
  session.disconnect();
  writeFileSync(out, JSON.stringify(profile));
  console.log(
    `${scenarioName} on ${backend}: ${result.throughput.toFixed(0)} req/s, p50 ${result.latency.p50.toFixed(1)} ms, p99 ${result.latency.p99.toFixed(1)} ms, ` +
      `${result.errors} errors; server busy ${elu.toFixed(2)}, client ${result.elu.toFixed(2)}; CPU per request ${((elu * seconds * 1000) / result.completed).toFixed(2)} ms`,
  );
  console.log(`profile: ${out}\n`);
  console.log(summarizeProfile(profile as Parameters<typeof summarizeProfile>[0], Number(values.top)));
} finally {
  await closeBare?.();
  await env.stop();
}
process.exit(0);
