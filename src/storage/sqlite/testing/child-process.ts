// Test helpers for running the real SQLite store in a child process (kill -9, file-size limits).

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);

/**
 * Transpiles the store (and what it imports) to CommonJS with swc into `<dir>/lib`, so a plain
 * `node` child can `require('./storage/sqlite/store.js')` from there; returns that directory.
 */
export function buildCommonJsStore(dir: string): string {
  const storageDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const swc = require('@swc/core') as typeof import('@swc/core');
  const out = join(dir, 'lib');
  mkdirSync(join(out, 'storage', 'sqlite'), { recursive: true });
  writeFileSync(join(out, 'package.json'), '{"type":"commonjs"}');
  for (const rel of ['interface.ts', 'arguments.ts', 'compactor.ts', 'sqlite/store.ts']) {
    const { code } = swc.transformFileSync(join(storageDir, rel), {
      jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
      module: { type: 'commonjs' },
      swcrc: false,
      configFile: false,
    });
    writeFileSync(join(out, 'storage', rel.replace(/\.ts$/, '.js')), code);
  }
  return out;
}

/** Spawns `cmd` with this project's node_modules on NODE_PATH (for the transpiled store's better-sqlite3). */
export function spawnWithModules(cmd: string, args: string[]): ChildProcess {
  const nodeModules = join(dirname(require.resolve('better-sqlite3/package.json')), '..');
  return spawn(cmd, args, { env: { ...process.env, NODE_PATH: nodeModules }, stdio: ['ignore', 'pipe', 'pipe'] });
}
