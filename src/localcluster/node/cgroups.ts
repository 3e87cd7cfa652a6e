// Containers as memory cgroups: a cgroup per container instance under `upm/`
// (cgroup v1 `memory` hierarchy, or the unified hierarchy when it offers the memory controller),
// the limit written before the command starts, the kernel's OOM kills counted to report
// `OOMKilled`, and whatever is left of the instance killed and its cgroup removed when its main
// process ends (there is no PID namespace to end it). Where no memory controller is writable,
// limits are reported as not enforced and a container is its process group.

import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { shellQuote } from './sandbox.js';

export type MemoryCgroups = { enforced: true; version: 1 | 2; root: string } | { enforced: false; reason: string };

const v1Root = '/sys/fs/cgroup/memory';
const v2Root = '/sys/fs/cgroup';

function writable(dir: string): boolean {
  const probe = join(dir, `probe-${process.pid}`);
  try {
    mkdirSync(probe);
    rmdirSync(probe);
    return true;
  } catch {
    return false;
  }
}

/** The memory cgroups this machine lets the node use, under `upm/<scope>` (one scope per node). */
export function detectMemoryCgroups(scope: string): MemoryCgroups {
  if (process.platform !== 'linux') return { enforced: false, reason: 'cgroups are a Linux feature' };
  if (existsSync(join(v1Root, 'memory.limit_in_bytes'))) {
    const root = join(v1Root, 'upm', scope);
    try {
      mkdirSync(root, { recursive: true });
    } catch (err) {
      return { enforced: false, reason: `cannot create ${root}: ${(err as Error).message}` };
    }
    return writable(root)
      ? { enforced: true, version: 1, root }
      : { enforced: false, reason: `${root} is not writable` };
  }
  try {
    const controllers = readFileSync(join(v2Root, 'cgroup.controllers'), 'utf8').split(/\s+/);
    if (!controllers.includes('memory'))
      return { enforced: false, reason: 'the cgroup v2 hierarchy has no memory controller' };
    const root = join(v2Root, 'upm', scope);
    mkdirSync(root, { recursive: true });
    // The root cgroup may delegate controllers even though it holds processes; `upm` holds none.
    writeFileSync(join(v2Root, 'cgroup.subtree_control'), '+memory');
    writeFileSync(join(v2Root, 'upm', 'cgroup.subtree_control'), '+memory');
    writeFileSync(join(root, 'cgroup.subtree_control'), '+memory');
    return { enforced: true, version: 2, root };
  } catch (err) {
    return { enforced: false, reason: `no writable memory cgroup: ${(err as Error).message}` };
  }
}

/** The cgroup of one container instance. */
export function containerCgroup(c: Extract<MemoryCgroups, { enforced: true }>, name: string): string {
  return join(c.root, name);
}

/**
 * Start-script lines that put the script (and so the command it execs, and everything that starts)
 * into the container's cgroup, with the memory limit when there is one.
 */
export function cgroupScript(
  c: Extract<MemoryCgroups, { enforced: true }>,
  dir: string,
  limitBytes: number | undefined,
): string[] {
  const q = shellQuote;
  const limitFile = c.version === 1 ? 'memory.limit_in_bytes' : 'memory.max';
  return [
    // The node's scope may have been removed as empty by another node starting: made again.
    `mkdir -p ${q(dir)}`,
    ...(c.version === 2 ? [`echo +memory > ${q(join(c.root, 'cgroup.subtree_control'))} || true`] : []),
    ...(limitBytes
      ? [`echo ${Math.floor(limitBytes)} > ${q(join(dir, limitFile))} || fail 'cannot set the memory limit'`]
      : []),
    `echo $$ > ${q(join(dir, 'cgroup.procs'))} || fail 'cannot enter the memory cgroup'`,
  ];
}

/** SIGKILL to every process still in the cgroup: a container ends with its main process. */
export function killCgroup(dir: string): number {
  let pids: number[];
  try {
    pids = readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return 0;
  }
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  return pids.length;
}

/** Whether the kernel's OOM killer ended a process of the cgroup. */
export function oomKilled(c: Extract<MemoryCgroups, { enforced: true }>, dir: string): boolean {
  try {
    const text = readFileSync(join(dir, c.version === 1 ? 'memory.oom_control' : 'memory.events'), 'utf8');
    const m = /^oom_kill (\d+)$/m.exec(text);
    return m !== null && Number(m[1]) > 0;
  } catch {
    return false;
  }
}

/** Ends what is left in a container's cgroup and removes it (retried while processes die). */
export async function removeCgroup(dir: string): Promise<void> {
  for (let attempt = 0; attempt < 50; attempt++) {
    killCgroup(dir);
    try {
      rmdirSync(dir);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Removes the node's scope when it is empty (the node stopped). */
export function removeScope(c: Extract<MemoryCgroups, { enforced: true }>): void {
  try {
    rmdirSync(c.root);
  } catch {
    // not empty, or gone
  }
}

/** Removes the empty cgroups a previous run left (its processes are gone), and empty scopes of other nodes. */
export function removeStaleCgroups(
  c: Extract<MemoryCgroups, { enforced: true }>,
  keep: (name: string) => boolean,
): void {
  let names: string[];
  try {
    names = readdirSync(c.root, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
  } catch {
    return;
  }
  const tryRemove = (dir: string) => {
    try {
      rmdirSync(dir);
    } catch {
      // a process of it still runs (ended with the process records), not empty, or gone
    }
  };
  for (const name of names) if (!keep(name)) tryRemove(join(c.root, name));
  // Scopes of nodes killed with their data directory gone: their container cgroups, empty and
  // older than a minute (a live node's new cgroup is empty only for the moment before its script
  // joins it), then the scope itself.
  const scopes = dirname(c.root);
  try {
    for (const d of readdirSync(scopes, { withFileTypes: true })) {
      const scope = join(scopes, d.name);
      if (!d.isDirectory() || scope === c.root) continue;
      for (const child of readdirSync(scope, { withFileTypes: true }))
        if (child.isDirectory() && Date.now() - statSync(join(scope, child.name)).mtimeMs > 60_000)
          tryRemove(join(scope, child.name));
      tryRemove(scope);
    }
  } catch {
    // nothing to tidy
  }
}
