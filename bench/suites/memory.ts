// Row 6: what stored objects cost the server process: heap and RSS growth (after GC) while
// 9,999 Units (~2.7 KB of JSON each) are stored and the watch cache takes them in, next to
// the size of their JSON. Measured in a fresh child process per backend (lib/memory-child.ts),
// after its server has served its first Unit. With etcd the stored data lives in the etcd
// process, which is not counted; with SQLite the page cache is part of this process's RSS.

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { MiB } from '../lib/memory.js';
import { row, type Suite } from '../lib/types.js';
import type { LoadedUnits } from './units.js';

function runChild(backend: string, count: number, log: (m: string) => void): Promise<LoadedUnits> {
  const script = fileURLToPath(new URL('../lib/memory-child.js', import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', script, backend, String(count)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString();
      for (const line of c.toString().split('\n')) if (line.trim()) log(`memory child: ${line.trim()}`);
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0)
        reject(new Error(`memory child exited with ${code}: ${err.trim().split('\n').slice(-3).join(' / ')}`));
      else resolve(JSON.parse(out.trim().split('\n').pop()!) as LoadedUnits);
    });
  });
}

export const memorySuite: Suite = {
  name: 'memory',
  scope: 'backend',
  async run({ env, preset, log }) {
    const u = await runChild(env!.name, preset.bigListItems, log);
    const json = u.bulkBytes / MiB;
    const n = u.bulkCount.toLocaleString('en-US');
    const ref = `JSON of the ${n} objects`;
    const perObject = (bytes: number): string => `${Math.round(bytes / u.bulkCount)} B/object`;
    const heap = u.after.heapUsed - u.before.heapUsed;
    const rss = u.after.rss - u.before.rss;
    const buffers = u.after.arrayBuffers - u.before.arrayBuffers;
    const label = `${n} Units stored, cache warm`;
    return [
      row(
        this.name,
        env!.name,
        `heap growth, ${label}`,
        heap / MiB,
        'MiB',
        ref,
        json,
        `${perObject(heap)} vs ${perObject(u.bulkBytes)} of JSON; +${(buffers / MiB).toFixed(1)} MiB array buffers; fresh process`,
      ),
      row(
        this.name,
        env!.name,
        `RSS growth, ${label}`,
        rss / MiB,
        'MiB',
        ref,
        json,
        `${perObject(rss)}; stored by store.create in ${(u.loadMs / 1000).toFixed(1)} s`,
      ),
    ];
  },
};
