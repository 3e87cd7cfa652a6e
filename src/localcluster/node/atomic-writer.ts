// The kubelet's atomic writer (pkg/volume/util/atomic_writer.go) for configMap, secret,
// downwardAPI and projected volumes: the files live in a timestamped directory, `..data` links
// to it and each visible name links into `..data`, so an update is one rename and readers never
// see half of it.

import { randomBytes } from 'node:crypto';
import {
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';

export interface FileProjection {
  data: Buffer;
  /** Octal mode. */
  mode: number;
}

/** Relative paths only, without `..` elements (kube's validatePath). */
export function validatePayloadPath(path: string): string | undefined {
  if (path === '') return 'must not be empty';
  if (path.startsWith('/')) return 'must be a relative path';
  if (path.length > 4096) return 'must not be longer than 4096 characters';
  for (const el of path.split('/')) {
    if (el === '..') return "must not contain '..'";
    if (el.length > 255) return 'must not contain elements longer than 255 characters';
  }
  if (path.startsWith('..')) return "must not start with '..'";
  return undefined;
}

function timestampDirName(): string {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, '0');
  return `..${d.getUTCFullYear()}_${p(d.getUTCMonth() + 1)}_${p(d.getUTCDate())}_${p(d.getUTCHours())}_${p(d.getUTCMinutes())}_${p(d.getUTCSeconds())}.${randomBytes(5).toString('hex')}`;
}

function sameContent(dir: string, payload: Map<string, FileProjection>): boolean {
  const existing = new Set<string>();
  const walk = (rel: string) => {
    for (const entry of readdirSync(join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(r);
      else existing.add(r);
    }
  };
  walk('');
  if (existing.size !== payload.size) return false;
  for (const [path, f] of payload) {
    if (!existing.has(path)) return false;
    const full = join(dir, path);
    if ((statSync(full).mode & 0o777) !== f.mode) return false;
    if (!readFileSync(full).equals(f.data)) return false;
  }
  return true;
}

/** Writes the payload into `dir` atomically; returns false when nothing changed. */
export function writeAtomically(dir: string, payload: Map<string, FileProjection>, gid?: number): boolean {
  for (const path of payload.keys()) {
    const problem = validatePayloadPath(path);
    if (problem) throw new Error(`invalid path "${path}": ${problem}`);
  }
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const dataLink = join(dir, '..data');
  let oldTarget: string | undefined;
  try {
    oldTarget = readlinkSync(dataLink);
  } catch {
    oldTarget = undefined;
  }
  if (oldTarget && existsSync(join(dir, oldTarget)) && sameContent(join(dir, oldTarget), payload)) return false;

  const tsName = timestampDirName();
  const tsDir = join(dir, tsName);
  mkdirSync(tsDir, { mode: 0o755 });
  for (const [path, f] of payload) {
    const full = join(tsDir, path);
    mkdirSync(dirname(full), { recursive: true, mode: 0o755 });
    writeFileSync(full, f.data, { mode: f.mode });
    if (gid !== undefined) chownSync(full, 0, gid);
  }
  const visible = new Set([...payload.keys()].map((p) => p.split('/')[0]));
  for (const name of visible) {
    const link = join(dir, name);
    let exists = false;
    try {
      lstatSync(link);
      exists = true;
    } catch {
      exists = false;
    }
    if (!exists) symlinkSync(join('..data', name), link);
  }
  const tmpLink = join(dir, '..data_tmp');
  rmSync(tmpLink, { force: true });
  symlinkSync(tsName, tmpLink);
  renameSync(tmpLink, dataLink);
  for (const name of readdirSync(dir)) {
    if (name.startsWith('..') || visible.has(name)) continue;
    try {
      if (lstatSync(join(dir, name)).isSymbolicLink()) unlinkSync(join(dir, name));
    } catch {
      // already gone
    }
  }
  if (oldTarget && oldTarget !== tsName) rmSync(join(dir, oldTarget), { recursive: true, force: true });
  return true;
}
