// The two presets: `default` (a few minutes on 2 cores) and `--full` (longer runs, more samples).

import type { Preset } from './types.js';

export const presets: Record<Preset['name'], Preset> = {
  default: {
    name: 'default',
    concurrency: 32,
    warmupMs: 1000,
    durationMs: 4000,
    listItems: 100,
    writes: 2000,
    warmupWrites: 200,
    bigListItems: 10_000,
    bigListIterations: 5,
    watchers: 1000,
    watchWrites: 20,
  },
  full: {
    name: 'full',
    concurrency: 32,
    warmupMs: 3000,
    durationMs: 15_000,
    listItems: 100,
    writes: 10_000,
    warmupWrites: 500,
    bigListItems: 10_000,
    bigListIterations: 20,
    watchers: 1000,
    watchWrites: 100,
  },
};
