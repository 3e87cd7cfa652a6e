// The big namespace of the `list10k` suite (and of the memory child, lib/memory-child.ts):
// `bigListItems` Units of about 2.7 KB of stored JSON. Their owner UnitSet and the first Unit
// are created through the API (then its status through /status), so the stored JSON is exactly
// what the server writes (defaults, uid, managedFields) and the owner exists (else the garbage
// collector deletes the Units as orphans). The others are copies of that stored value with
// another name and uid, written with `store.create` directly (64 in flight), which is much
// faster than the API. The server's watch cache of units follows them through its storage
// watch. Memory is sampled (after GC) after the first Unit and once the cache holds them all.

import { randomUUID } from 'node:crypto';
import type { BackendEnv } from '../lib/env.js';
import { collectionPath, objectPath, unitBody, unitSetBody, unitStatus } from '../lib/fixtures.js';
import { settledMemory, type MemorySample } from '../lib/memory.js';
import { pool, sleep } from '../lib/stats.js';
import type { SuiteContext } from '../lib/types.js';
import { watchCacheOf } from '../../src/apiserver/watchcache/decorator.js';

export const bigNamespace = 'bench-10k';

export interface LoadedUnits {
  namespace: string;
  /** Units in the namespace. */
  count: number;
  /** Units written by store.create after the `before` sample (count - 1), and their JSON size. */
  bulkCount: number;
  bulkBytes: number;
  before: MemorySample;
  after: MemorySample;
  /** Time of the store.create calls. */
  loadMs: number;
}

const loaded = new WeakMap<BackendEnv, Promise<LoadedUnits>>();

/** Loads the big namespace once per environment (later calls get the first result). */
export function loadUnits(ctx: SuiteContext): Promise<LoadedUnits> {
  const env = ctx.env!;
  let p = loaded.get(env);
  if (!p) loaded.set(env, (p = load(env, ctx.preset.bigListItems, ctx.log)));
  return p;
}

function unitName(i: number): string {
  return `orders-db-${String(i).padStart(5, '0')}`;
}

export async function load(env: BackendEnv, count: number, log: (m: string) => void): Promise<LoadedUnits> {
  const ns = bigNamespace;
  const cache = watchCacheOf(env.served('units').store);
  await cache.ensureStarted();
  const baseline = cache.stats().objects;

  const owner = (await env.apiOK('POST', collectionPath('unitsets', ns), unitSetBody('orders-db'))).json<{
    metadata: { uid: string };
  }>();
  const first = unitName(0);
  const created = (
    await env.apiOK('POST', collectionPath('units', ns), unitBody(first, 'orders-db', owner.metadata.uid, 0))
  ).json<Record<string, unknown>>();
  await env.apiOK('PUT', `${objectPath('units', ns, first)}/status`, {
    ...created,
    status: unitStatus(first, 'orders-db', ns, 0),
  });
  const prefix = `/registry/upm.io/units/${ns}/`;
  const template = (await env.store.get(prefix + first))!.value;
  const uid = (JSON.parse(template) as { metadata: { uid: string } }).metadata.uid;
  if (uid === owner.metadata.uid) throw new Error("the Unit has its owner's uid");
  const before = await settledMemory();

  log(`storing ${count} Units (${Buffer.byteLength(template)} B each) with store.create, 64 in flight`);
  let bulkBytes = 0;
  const t0 = performance.now();
  await pool(count - 1, 64, async (j) => {
    const name = unitName(j + 1);
    const value = template.split(first).join(name).replace(uid, randomUUID());
    bulkBytes += Buffer.byteLength(value);
    await env.store.create(prefix + name, value);
  });
  const loadMs = performance.now() - t0;

  // Wait until the watch cache holds them all (it applies the storage watch's events).
  const deadline = Date.now() + 120_000;
  while (cache.stats().objects < baseline + count) {
    if (Date.now() > deadline)
      throw new Error(`the watch cache holds ${cache.stats().objects - baseline} of ${count} Units after 120 s`);
    await sleep(50);
  }
  const after = await settledMemory();
  return { namespace: ns, count, bulkCount: count - 1, bulkBytes, before, after, loadMs };
}
