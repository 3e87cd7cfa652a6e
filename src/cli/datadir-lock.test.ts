import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataDirInUseError, LOCK_FILE, lockDataDir } from './datadir-lock.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'upm-lock-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A pid that is surely not running: a child that has already exited. */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '0']).pid!;
}

describe('lockDataDir', () => {
  it('lets one engine hold a data directory and names it to the next', () => {
    const lock = lockDataDir(dir);
    expect(existsSync(join(dir, LOCK_FILE))).toBe(true);
    // Another process asking for it (this pid is running: the test itself).
    const err = (() => {
      try {
        lockDataDir(dir, process.pid + 1_000_000);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(DataDirInUseError);
    expect((err as Error).message).toBe(
      `the data directory ${dir} is in use by another engine (pid ${process.pid}); stop it, or give this one another --data-dir`,
    );
    lock.release();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    lockDataDir(dir, process.pid + 1_000_000).release();
  });

  it('takes over the lock of an engine that died, and an unreadable one', () => {
    writeFileSync(join(dir, LOCK_FILE), `${deadPid()}\n`);
    lockDataDir(dir).release();
    writeFileSync(join(dir, LOCK_FILE), 'garbage');
    const lock = lockDataDir(dir);
    lock.release();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
  });
});
