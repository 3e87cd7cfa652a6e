// Units as real processes: `kubectl apply` of the MariaDB (3 Units) and Redis cluster-mode (6 Units)
// examples against `upm-engine local`, timed until all 9 Units are Ready with their servers
// running on the node runtime. The reference is the same apply with simulated Pods
// (--simulate-pods-only) in the same run: the control plane's and controllers' share, so the
// difference is what starting real databases costs.

import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { KubeClient, loadKubeConfig } from '../../src/controllers/runtime/client.js';
import { unitSets } from '../../src/controllers/resources.js';
import { repo, startLocalEngine, stopProcess } from '../lib/engine.js';
import { row, type Suite } from '../lib/types.js';

const run = promisify(execFile);
const examples = {
  templates: ['unittemplates/mariadb-community-10.11.8.yaml', 'unittemplates/redis-cluster-community-7.2.5.yaml'],
  unitSets: ['unitsets/mariadb.yaml', 'unitsets/redis-cluster.yaml'],
};
const expected: Record<string, number> = { 'orders-db': 3, 'events-cache': 6 };

async function applyAndWait(simulated: boolean, log: (m: string) => void): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'upm-bench-local-'));
  const engine = await startLocalEngine(dir, simulated ? ['--simulate-pods-only'] : []);
  const kubeconfig = join(dir, 'kubeconfig');
  const client = new KubeClient(loadKubeConfig(kubeconfig));
  const kubectl = (...args: string[]) => run('kubectl', ['--kubeconfig', kubeconfig, ...args]);
  try {
    for (const f of examples.templates) await kubectl('apply', '-f', join(repo, 'examples', f));
    const t0 = performance.now();
    await kubectl('apply', ...examples.unitSets.flatMap((f) => ['-f', join(repo, 'examples', f)]));
    for (;;) {
      const list = await client.list(unitSets, 'default');
      const ready = list.items.filter(
        (us) => (us['status'] as { readyUnits?: number } | undefined)?.readyUnits === expected[us.metadata.name!],
      );
      if (ready.length === Object.keys(expected).length) break;
      if (performance.now() - t0 > 300_000) throw new Error('the example Units were not all Ready after 5 min');
      await new Promise((r) => setTimeout(r, 100));
    }
    const seconds = (performance.now() - t0) / 1000;
    log(`local-units: 9 Units Ready in ${seconds.toFixed(1)} s (${simulated ? 'simulated Pods' : 'real processes'})`);
    return seconds;
  } finally {
    client.close();
    await stopProcess(engine.proc);
    rmSync(dir, { recursive: true, force: true });
  }
}

export const localUnitsSuite: Suite = {
  name: 'local-units',
  scope: 'global',
  async run(ctx) {
    const simulated = await applyAndWait(true, ctx.log);
    const real = await applyAndWait(false, ctx.log);
    return [
      row(
        this.name,
        null,
        'kubectl apply → all Units Ready: 3 MariaDB + 6 Redis cluster (real processes)',
        real,
        's',
        'same apply, simulated Pods',
        simulated,
        'examples/ on upm-engine local; mariadbd and redis-server started by the node runtime',
      ),
    ];
  },
};
