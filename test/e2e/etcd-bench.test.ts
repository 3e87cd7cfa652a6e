// Throughput and watch latency of the etcd store next to the SQLite store, run on demand:
//   UPM_ETCD_BENCH=1 node --experimental-vm-modules node_modules/jest/bin/jest.js test/e2e/etcd-bench
// Prints one line per backend. Sequential loops (one request at a time) measure latency; the
// batch of 64 in flight shows what batching gives.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { Store } from '../../src/storage/interface.js';
import { openEtcdStore } from '../../src/storage/etcd/store.js';
import { startEtcd, startEtcdCluster, type EtcdCluster, type EtcdServer } from '../../src/storage/etcd/testing/etcd.js';
import { openSqliteStore } from '../../src/storage/sqlite/store.js';

const N = Number(process.env.UPM_ETCD_BENCH_N ?? 2000);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function measure(name: string, store: Store): Promise<void> {
  const value = JSON.stringify({
    apiVersion: 'upm.io/v1alpha1',
    kind: 'UnitSet',
    metadata: { name: 'x' },
    spec: { units: 3, pad: 'p'.repeat(400) },
  });
  let t = performance.now();
  for (let i = 0; i < N; i++) await store.create(`/bench/seq/${i}`, value);
  const creates = N / ((performance.now() - t) / 1000);
  t = performance.now();
  for (let i = 0; i < N; i++) await store.get(`/bench/seq/${i}`);
  const gets = N / ((performance.now() - t) / 1000);
  t = performance.now();
  const batch = 64;
  for (let i = 0; i < N; i += batch) {
    await Promise.all(
      Array.from({ length: Math.min(batch, N - i) }, (_, j) => store.create(`/bench/par/${i + j}`, value)),
    );
  }
  const parallelCreates = N / ((performance.now() - t) / 1000);

  // watch latency: time from issuing a write to its event (and to the write's ack), one write at a time
  const toEvent: number[] = [];
  const toAck: number[] = [];
  let resolveEvent: ((at: number) => void) | null = null;
  const w = store.watch('/bench/watch/', 0, {
    onEvent: () => resolveEvent?.(performance.now()),
    onError: (err) => {
      throw err;
    },
  });
  await new Promise((r) => setTimeout(r, 200));
  const samples = Math.min(N, 1000);
  for (let i = 0; i < samples; i++) {
    const event = new Promise<number>((r) => (resolveEvent = r));
    const start = performance.now();
    const [acked, seen] = await Promise.all([
      store.create(`/bench/watch/${i}`, value).then(() => performance.now()),
      event,
    ]);
    toAck.push(acked - start);
    toEvent.push(seen - start);
  }
  w.stop();
  toEvent.sort((a, b) => a - b);
  toAck.sort((a, b) => a - b);
  const ms = (v: number): string => v.toFixed(2);
  console.log(
    `${name}: ${N} sequential creates ${creates.toFixed(0)}/s, gets ${gets.toFixed(0)}/s; ` +
      `creates ${batch} in flight ${parallelCreates.toFixed(0)}/s; ` +
      `write->event p50 ${ms(percentile(toEvent, 50))} ms p99 ${ms(percentile(toEvent, 99))} ms ` +
      `(write->ack p50 ${ms(percentile(toAck, 50))} ms p99 ${ms(percentile(toAck, 99))} ms)`,
  );
}

(process.env.UPM_ETCD_BENCH ? describe : describe.skip)('etcd vs sqlite store rates', () => {
  let etcd: EtcdServer | undefined;
  let cluster: EtcdCluster | undefined;
  const dirs: string[] = [];
  afterAll(async () => {
    await etcd?.stop();
    await cluster?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('sqlite (synchronous FULL)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'upm-bench-'));
    dirs.push(dir);
    const store = openSqliteStore(join(dir, 'b.db'));
    await measure('sqlite FULL', store);
    await store.close();
  }, 600000);

  it('sqlite (synchronous NORMAL)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'upm-bench-'));
    dirs.push(dir);
    const store = openSqliteStore(join(dir, 'b.db'), { synchronous: 'NORMAL' });
    await measure('sqlite NORMAL', store);
    await store.close();
  }, 600000);

  it('etcd, one member', async () => {
    etcd = await startEtcd();
    const store = openEtcdStore({ endpoints: [etcd.endpoint], prefix: '/bench1' });
    await measure('etcd 1 member', store);
    await store.close();
  }, 600000);

  it('etcd, three members', async () => {
    cluster = await startEtcdCluster(3);
    const store = openEtcdStore({ endpoints: cluster.endpoints, prefix: '/bench3' });
    await measure('etcd 3 members', store);
    await store.close();
  }, 600000);
});
