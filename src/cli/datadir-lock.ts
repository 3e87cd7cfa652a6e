// One engine per data directory. The directory holds the SQLite files, the certificates and the
// kubeconfig of one engine; a second engine on it would share the storage and rewrite the
// kubeconfig to its own port. `engine.lock` holds the pid of the engine that owns the directory;
// a lock whose process is gone (kill -9, a crash) is taken over.

import { linkSync, mkdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const LOCK_FILE = 'engine.lock';

export class DataDirInUseError extends Error {
  override name = 'DataDirInUseError';
  constructor(
    readonly dataDir: string,
    readonly pid: number,
  ) {
    super(
      `the data directory ${dataDir} is in use by another engine (pid ${pid}); stop it, or give this one another --data-dir`,
    );
  }
}

export interface DataDirLock {
  /** Removes the lock (only if it is still this process's). */
  release(): void;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Takes the data directory for this process, or throws DataDirInUseError naming the owner. */
export function lockDataDir(dataDir: string, pid = process.pid): DataDirLock {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const lock = join(dataDir, LOCK_FILE);
  // Written aside and hard-linked into place: the link either creates the lock, whole, or fails.
  const mine = join(dataDir, `${LOCK_FILE}.${pid}`);
  writeFileSync(mine, `${pid}\n`, { mode: 0o600 });
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        linkSync(mine, lock);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 3) throw err;
      }
      const owner = readPid(lock);
      if (owner !== undefined && owner !== pid && isRunning(owner)) throw new DataDirInUseError(dataDir, owner);
      // A stale or unreadable lock: take it over (unless another process just did).
      if (readPid(lock) === owner) rmSync(lock, { force: true });
    }
  } finally {
    rmSync(mine, { force: true });
  }
  return {
    release() {
      if (readPid(lock) === pid) {
        try {
          unlinkSync(lock);
        } catch {
          // already gone
        }
      }
    },
  };
}
