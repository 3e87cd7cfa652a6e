// Micro-benchmark: server-side apply vs JSON merge patch on an object whose spec holds a
// 50-item list-map. Run after `npm run bench` has compiled bench/: `node dist-bench/bench/micro/apply.js [iterations]`.

import { pathToFileURL } from 'node:url';
import type { JSONSchema } from '../../src/machinery/definition.js';
import type { KubeObject } from '../../src/machinery/object.js';
import { applyMergePatch } from '../../src/apiserver/patch/merge-patch.js';
import { applyPatch } from '../../src/apiserver/apply/apply.js';

export interface BenchCase {
  /** Mean CPU time of one apply (validation, merge, prune, conflicts, managedFields), in microseconds. */
  applyMicros: number;
  /** Mean CPU time of one JSON merge patch of the same change, in microseconds. */
  mergePatchMicros: number;
  /** applyMicros / mergePatchMicros. */
  ratio: number;
}

export interface BenchResult extends BenchCase {
  iterations: number;
  items: number;
  /** The same, when the config alternately drops and re-adds a list item (full prune path). */
  prune: BenchCase;
}

const benchSchema: JSONSchema = {
  type: 'object',
  properties: {
    spec: {
      type: 'object',
      properties: {
        replicas: { type: 'integer' },
        members: {
          type: 'array',
          'x-kubernetes-list-type': 'map',
          'x-kubernetes-list-map-keys': ['name'],
          items: {
            type: 'object',
            properties: {
              name: { type: 'string' },
              image: { type: 'string' },
              weight: { type: 'integer' },
              ports: {
                type: 'array',
                'x-kubernetes-list-type': 'map',
                'x-kubernetes-list-map-keys': ['containerPort', 'protocol'],
                items: {
                  type: 'object',
                  properties: { containerPort: { type: 'integer' }, protocol: { type: 'string', default: 'TCP' } },
                },
              },
              args: { type: 'array', items: { type: 'string' } },
            },
          },
        },
      },
    },
  },
};

function config(items: number, version: number): KubeObject {
  return {
    apiVersion: 'bench.upm.io/v1',
    kind: 'Bench',
    metadata: { name: 'b', namespace: 'default', labels: { app: 'bench' } },
    spec: {
      replicas: 3,
      members: Array.from({ length: items }, (_, i) => ({
        name: `member-${i}`,
        image: `registry.example/db:${i === 0 ? version : 1}`,
        weight: i,
        ports: [{ containerPort: 3306 }, { containerPort: 33060, protocol: 'TCP' }],
        args: ['--port', '3306'],
      })),
    },
  };
}

const base = {
  schema: benchSchema,
  apiVersion: 'bench.upm.io/v1',
  kind: 'Bench',
  manager: 'bench',
  now: new Date('2026-01-01T00:00:00Z'),
};

function measure(live: KubeObject, configs: KubeObject[], iterations: number): BenchCase {
  // The same change as a merge patch: lists are replaced whole, so the patch carries the list.
  const patches = configs.map((c) => ({ spec: { members: (c.spec as Record<string, unknown>).members } }));
  for (let i = 0; i < 20; i++) {
    applyPatch({ ...base, live, applied: configs[i % 2] });
    applyMergePatch(live, patches[i % 2]);
  }
  // CPU time (user + system), not wall time: the cost, unaffected by other processes.
  const cpu = (fn: () => void): number => {
    const t0 = process.cpuUsage();
    fn();
    const d = process.cpuUsage(t0);
    return d.user + d.system;
  };
  const applyMicros =
    cpu(() => {
      for (let i = 0; i < iterations; i++) applyPatch({ ...base, live, applied: configs[i % 2] });
    }) / iterations;
  const mergePatchMicros =
    cpu(() => {
      for (let i = 0; i < iterations; i++) applyMergePatch(live, patches[i % 2]);
    }) / iterations;
  return { applyMicros, mergePatchMicros, ratio: applyMicros / mergePatchMicros };
}

/**
 * Measures server-side apply against a JSON merge patch of the same change on an object with
 * `items` list-map items in spec: (1) re-applying the config with one changed image, (2) a
 * config that drops the last item (so the prune passes run) alternating with the full config.
 */
export function benchApply(iterations = 200, items = 50): BenchResult {
  const live = applyPatch({ ...base, live: undefined, applied: config(items, 1) });
  live.metadata.uid = 'uid-1';
  const main = measure(live, [config(items, 2), config(items, 3)], iterations);
  const prune = measure(live, [config(items - 1, 1), config(items, 1)], iterations);
  return { iterations, items, ...main, prune };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const n = Number(process.argv[2] ?? 500);
  const r = benchApply(n);
  const line = (name: string, c: BenchCase) =>
    `${name}: apply ${c.applyMicros.toFixed(1)} µs CPU, merge patch ${c.mergePatchMicros.toFixed(1)} µs CPU, ratio ${c.ratio.toFixed(1)}x`;
  console.log(`${r.items} list items, ${r.iterations} iterations`);
  console.log(line('re-apply, one value changed', r));
  console.log(line('apply dropping/re-adding an item (prune)', r.prune));
}
