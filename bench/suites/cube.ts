// Tesseract Cube convergence: N UnitSets × 3 Units (the MariaDB example template) created at once
// against `upm-engine local --controllers=false`, with the controllers in their own
// `upm-engine controllers` process, timed from the first create until every UnitSet is Available
// with 3 ready Units. A fresh engine per N. The reference is the same N UnitSets' creates alone
// (the API's share of the time); the controllers' memory is read from /proc (RSS before, peak).

import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYAML } from 'yaml';
import { KubeClient, loadKubeConfig } from '../../src/controllers/runtime/client.js';
import { unitSets, unitTemplates } from '../../src/controllers/resources.js';
import type { KubeObject } from '../../src/machinery/object.js';
import { repo, startCli, startLocalEngine } from '../lib/engine.js';
import { row, type Row, type Suite } from '../lib/types.js';

function memoryKiB(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: field('VmRSS'), peak: field('VmHWM') };
}

async function inBatches<T>(items: T[], width: number, fn: (t: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

async function converge(n: number, log: (m: string) => void): Promise<Row[]> {
  const dir = mkdtempSync(join(tmpdir(), 'upm-bench-cube-'));
  // The controllers are measured, not 1,500 database processes: Pods are simulated.
  const engine = await startLocalEngine(dir, ['--controllers=false', '--simulate-pods-only']);
  let controllers: { proc: ChildProcess } | undefined;
  const client = new KubeClient(loadKubeConfig(join(dir, 'kubeconfig')));
  try {
    const template = parseYAML(
      readFileSync(join(repo, 'examples/unittemplates/mariadb-community-10.11.8.yaml'), 'utf8'),
    ) as KubeObject;
    await client.create(unitTemplates, template);
    controllers = await startCli(
      [
        'controllers',
        '--kubeconfig',
        join(dir, 'kubeconfig'),
        '--leader-election-namespace',
        'kube-system',
        '--health-probe-bind-address',
        '0',
        '--log-level',
        'info',
        '--log-format',
        'json',
      ],
      (out) => out.split('"msg":"controller started"').length > 2,
    );
    const idle = memoryKiB(controllers.proc.pid!);
    const names = Array.from({ length: n }, (_, i) => `bench-${i}`);
    const unitSet = (name: string): KubeObject => ({
      apiVersion: 'upm.io/v1alpha1',
      kind: 'UnitSet',
      metadata: { name, namespace: 'default' },
      spec: { type: 'mariadb', version: '10.11.8', units: 3, storage: { volumes: [{ name: 'data', size: '1Gi' }] } },
    });
    const t0 = performance.now();
    await inBatches(names, 16, (name) => client.create(unitSets, unitSet(name)));
    const createdMs = performance.now() - t0;
    log(`cube: ${n} UnitSets created in ${(createdMs / 1000).toFixed(1)} s; waiting for Available`);
    let peakKiB = idle.peak;
    let available = 0;
    const deadline = t0 + 600_000;
    for (;;) {
      const list = await client.list(unitSets, 'default');
      available = list.items.filter((us) => {
        const s = us['status'] as { readyUnits?: number; conditions?: { type: string; status: string }[] } | undefined;
        return s?.readyUnits === 3 && s.conditions?.some((c) => c.type === 'Available' && c.status === 'True');
      }).length;
      peakKiB = Math.max(peakKiB, memoryKiB(controllers.proc.pid!).peak);
      if (available === n) break;
      if (performance.now() > deadline) throw new Error(`only ${available} of ${n} UnitSets Available after 10 min`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const seconds = (performance.now() - t0) / 1000;
    const end = memoryKiB(controllers.proc.pid!);
    const MiB = (kib: number) => kib / 1024;
    return [
      row(
        'cube',
        null,
        `Tesseract Cube convergence: ${n} UnitSets × 3 Units`,
        seconds,
        's',
        `creating the ${n} UnitSets (API only)`,
        createdMs / 1000,
        `${n * 3} Units, Pods, claims and ConfigMaps; ${((n * 3) / seconds).toFixed(0)} Units/s`,
      ),
      row(
        'cube',
        null,
        `controllers RSS with ${n} UnitSets (peak)`,
        MiB(Math.max(peakKiB, end.peak)),
        'MiB',
        'controllers RSS idle, synced',
        MiB(idle.rss),
        `${(((Math.max(peakKiB, end.peak) - idle.rss) * 1024) / (n * 3)).toFixed(0)} B per Unit above idle; RSS at the end ${MiB(end.rss).toFixed(0)} MiB`,
      ),
    ];
  } finally {
    client.close();
    controllers?.proc.kill('SIGKILL');
    engine.proc.kill('SIGTERM');
    await new Promise((r) => engine.proc.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

export const cubeSuite: Suite = {
  name: 'controllers',
  scope: 'global',
  async run(ctx) {
    const rows: Row[] = [];
    for (const n of [10, 100, 500]) rows.push(...(await converge(n, ctx.log)));
    return rows;
  },
};
