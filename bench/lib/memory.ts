// Forced garbage collection for memory figures. `npm run bench` starts node with --expose-gc;
// without it the flag is turned on at run time (V8 allows that for `gc`).

import v8 from 'node:v8';
import vm from 'node:vm';
import { sleep } from './stats.js';

let gcFn: (() => void) | undefined;

function gc(): void {
  if (!gcFn) {
    const g = (globalThis as { gc?: () => void }).gc;
    if (g) gcFn = g;
    else {
      v8.setFlagsFromString('--expose-gc');
      gcFn = vm.runInNewContext('gc') as () => void;
    }
  }
  gcFn();
}

export interface MemorySample {
  rss: number;
  heapUsed: number;
  /** Memory of Buffers and ArrayBuffers (outside the JS heap). */
  arrayBuffers: number;
}

/** Process memory after letting pending work finish and collecting garbage twice. */
export async function settledMemory(): Promise<MemorySample> {
  await sleep(200);
  gc();
  gc();
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, arrayBuffers: m.arrayBuffers };
}

export const MiB = 1024 * 1024;
