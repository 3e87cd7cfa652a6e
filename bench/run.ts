// `npm run bench [-- --full] [-- --backend sqlite|etcd|both] [-- --json PATH] [-- --only a,b]`
//
// Runs every suite of bench/suites/index.ts and prints one table in which each figure stands
// beside a reference measured in the same run, then writes the same rows as JSON. See
// bench/README.md for what each row measures.

import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { BackendEnv, makeCerts } from './lib/env.js';
import { presets } from './lib/presets.js';
import { renderTable } from './lib/table.js';
import type { BackendName, Row, Suite, SuiteContext } from './lib/types.js';
import { suites } from './suites/index.js';

const usage = `usage: npm run bench -- [--full] [--backend sqlite|etcd|both] [--json PATH] [--only SUITE[,SUITE]]
suites: ${suites.map((s) => s.name).join(', ')}`;

function parse(): { full: boolean; backends: BackendName[]; json: string; only: Set<string> | undefined } {
  const { values } = parseArgs({
    options: {
      full: { type: 'boolean', default: false },
      backend: { type: 'string', default: 'both' },
      json: { type: 'string', default: 'bench/results/latest.json' },
      only: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  const b = values.backend;
  if (b !== 'sqlite' && b !== 'etcd' && b !== 'both')
    throw new Error(`--backend must be sqlite, etcd or both\n${usage}`);
  const only = values.only
    ? new Set(
        values.only
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
      )
    : undefined;
  for (const name of only ?? [])
    if (!suites.some((s) => s.name === name)) throw new Error(`unknown suite "${name}"\n${usage}`);
  return { full: values.full, backends: b === 'both' ? ['sqlite', 'etcd'] : [b], json: values.json, only };
}

const log = (message: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
};

async function runSuite(suite: Suite, ctx: SuiteContext, backend: BackendName | null): Promise<Row[]> {
  const t0 = performance.now();
  log(`${backend ?? 'global'}: ${suite.name}`);
  try {
    const rows = await suite.run(ctx);
    log(`${backend ?? 'global'}: ${suite.name} done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    return rows;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    log(`${backend ?? 'global'}: ${suite.name} FAILED: ${err instanceof Error ? (err.stack ?? message) : message}`);
    return [
      {
        suite: suite.name,
        backend,
        figure: `${suite.name} (failed)`,
        value: null,
        unit: '',
        reference: null,
        referenceValue: null,
        ratio: null,
        note: `failed: ${message.split('\n')[0]}`,
      },
    ];
  }
}

async function main(): Promise<void> {
  const started = performance.now();
  const args = parse();
  const preset = args.full ? presets.full : presets.default;
  const selected = suites.filter((s) => !args.only || args.only.has(s.name));
  const cpuList = cpus();
  const meta = {
    cores: cpuList.length,
    model: cpuList[0]?.model.trim() ?? 'unknown',
    node: process.version,
    preset: preset.name,
    date: new Date().toISOString(),
    backends: args.backends,
    suites: selected.map((s) => s.name),
    client: 'worker_threads worker in the server process (keep-alive https agents)',
  };
  console.log(`UPM Engine benchmark — ${meta.date}`);
  console.log(
    `machine: ${meta.cores} cores, ${meta.model}; node ${meta.node}; preset ${meta.preset} (${JSON.stringify(preset)})`,
  );
  console.log(`backends: ${meta.backends.join(', ')}; load from a worker thread; server in the main thread`);

  const rows: Row[] = [];
  const certs = makeCerts();
  for (const backend of args.backends) {
    const perBackend = selected.filter((s) => s.scope === 'backend');
    if (perBackend.length === 0) continue;
    log(`${backend}: starting storage and API server`);
    const env = await BackendEnv.start(backend, certs);
    try {
      for (const suite of perBackend) rows.push(...(await runSuite(suite, { preset, env, log }, backend)));
    } finally {
      await env.stop();
    }
  }
  for (const suite of selected.filter((s) => s.scope === 'global'))
    rows.push(...(await runSuite(suite, { preset, log }, null)));

  const totalSeconds = (performance.now() - started) / 1000;
  console.log('');
  console.log(renderTable(rows));
  console.log('');
  console.log(
    'ratio = value / reference value (throughput: < 1 is slower than the reference; latency and memory: > 1 is more).',
  );
  console.log(`total time: ${totalSeconds.toFixed(1)} s`);

  const jsonPath = resolve(args.json);
  mkdirSync(dirname(jsonPath), { recursive: true });
  writeFileSync(
    jsonPath,
    JSON.stringify({ meta: { ...meta, presetSettings: preset, totalSeconds }, rows }, null, 2) + '\n',
  );
  console.log(`JSON: ${jsonPath}`);
}

main().then(
  // Open handles of the storage clients must not keep a finished run alive.
  () => process.exit(process.exitCode ?? 0),
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    process.exit(1);
  },
);
