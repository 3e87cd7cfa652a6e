// Where hack/kubernetes/build.sh put the real control plane: the same cache directory and
// versions (hack/kubernetes/versions.env) the script uses.

import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The checkout: the nearest ancestor with hack/kubernetes (this file also runs compiled, from dist-bench/). */
export const repoRoot = ((): string => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'hack', 'kubernetes'))) {
    const parent = resolve(dir, '..');
    if (parent === dir) throw new Error('test/cluster: no checkout (hack/kubernetes) above this file');
    dir = parent;
  }
  return dir;
})();
/** The built `upm-engine` CLI (npm run build; npm test's pretest builds it). */
export const upmEngineCLI = join(repoRoot, 'dist/cli/main.js');

export type ComponentBinary = 'etcd' | 'kube-apiserver' | 'kube-controller-manager' | 'kube-scheduler' | 'kwok';
const names: ComponentBinary[] = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok'];

export interface ControlPlaneBinaries {
  kubeVersion: string;
  dir: string;
  path(name: ComponentBinary): string;
}

/** KEY=value lines of hack/kubernetes/versions.env. */
export function pinnedVersions(): Record<string, string> {
  const text = readFileSync(join(repoRoot, 'hack/kubernetes/versions.env'), 'utf8');
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z_]+)=(\S+)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

export function controlPlaneBinaries(): ControlPlaneBinaries {
  const kubeVersion = pinnedVersions()['KUBE_VERSION'];
  if (!kubeVersion) throw new Error('hack/kubernetes/versions.env has no KUBE_VERSION');
  const root = process.env['UPM_KUBE_CACHE'] || join(homedir(), '.cache/upm-engine/kubernetes');
  const dir = join(root, kubeVersion);
  const missing = names.filter((n) => !existsSync(join(dir, n)));
  if (missing.length > 0)
    throw new Error(`${missing.join(', ')} missing in ${dir}: run hack/kubernetes/build.sh (npm test's pretest does)`);
  return { kubeVersion, dir, path: (name) => join(dir, name) };
}
