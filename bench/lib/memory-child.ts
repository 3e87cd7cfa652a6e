// Child process of the `memory` suite: a fresh process starts the API server on the backend,
// loads the big namespace (suites/units.ts) and prints the result as one JSON line. A fresh
// process for each backend, so that RSS is not shaped by whatever the runner did before.
//   node --expose-gc dist-bench/bench/lib/memory-child.js sqlite|etcd COUNT

import { load } from '../suites/units.js';
import { BackendEnv, makeCerts } from './env.js';

const [backend, count] = process.argv.slice(2);
if (backend !== 'sqlite' && backend !== 'etcd') throw new Error('usage: memory-child.js sqlite|etcd COUNT');
const env = await BackendEnv.start(backend, makeCerts());
try {
  const result = await load(env, Number(count), (m) => process.stderr.write(`${m}\n`));
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  await env.stop();
}
process.exit(0);
