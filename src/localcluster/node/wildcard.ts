// Finding containers that listen on every address (0.0.0.0 or ::): on a cluster that is the Pod's
// own network namespace, here it takes the port on every Pod's loopback address at once and blocks
// its neighbours, so such a container is stopped and reported (see PodWorker.failWildcard).

import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

/** Listening TCP sockets bound to the wildcard address: socket inode → port. */
export function wildcardListeners(tables?: { tcp?: string; tcp6?: string }): Map<string, number> {
  const out = new Map<string, number>();
  for (const [file, text] of [
    ['/proc/net/tcp', tables?.tcp],
    ['/proc/net/tcp6', tables?.tcp6],
  ] as const) {
    let body = text;
    if (body === undefined) {
      try {
        body = readFileSync(file, 'utf8');
      } catch {
        continue;
      }
    }
    for (const line of body.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== '0A') continue;
      const [address, port] = f[1].split(':');
      if (!/^0+$/.test(address)) continue;
      out.set(f[9], parseInt(port, 16));
    }
  }
  return out;
}

/** The socket inodes a process holds open. */
export function socketInodes(pid: number): string[] {
  const inodes: string[] = [];
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return inodes;
  }
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.push(m[1]);
    } catch {
      // closed meanwhile
    }
  }
  return inodes;
}

/** The first wildcard port one of the processes listens on. */
export function wildcardPortOf(pids: number[], listeners: Map<string, number>): number | undefined {
  if (listeners.size === 0) return undefined;
  for (const pid of pids) for (const inode of socketInodes(pid)) if (listeners.has(inode)) return listeners.get(inode);
  return undefined;
}
