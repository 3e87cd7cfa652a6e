// One engine per data directory and per port: a second `upm-engine local` on the same data
// directory, or on a port in use, exits non-zero with one clear line and leaves the first engine
// serving (and its kubeconfig alone); SIGINT stops an engine cleanly.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanup, cliPath, startEngine, type Engine } from './harness.js';

let engine: Engine | undefined;

beforeAll(async () => {
  engine = await startEngine();
}, 60_000);

afterAll(async () => {
  if (!engine) return;
  await engine.stop();
  cleanup(engine);
});

/** Runs `upm-engine local` to its end (it should fail at once). */
function runLocal(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, 'local', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`upm-engine local ${args.join(' ')} did not exit:\n${stderr}`));
    }, 20_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

async function stillServes(): Promise<void> {
  const r = await engine!.kubectl('1.33', ['get', 'namespace', 'default', '-o', 'name']);
  expect(r.stdout).toBe('namespace/default\n');
}

describe('one engine per data directory and port', () => {
  it('a second engine on the same data directory exits with one line naming the running pid', async () => {
    const kubeconfig = readFileSync(engine!.kubeconfig, 'utf8');
    const second = await runLocal(['--data-dir', engine!.dataDir, '--port', '0']);
    expect(second.code).toBe(1);
    expect(second.stdout).toBe('');
    expect(second.stderr).toBe(
      `upm-engine local: the data directory ${engine!.dataDir} is in use by another engine (pid ${engine!.process.pid}); stop it, or give this one another --data-dir\n`,
    );
    expect(readFileSync(engine!.kubeconfig, 'utf8')).toBe(kubeconfig);
    await stillServes();
  });

  it('a second engine on a port in use exits with one line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'upm-e2e-port-'));
    try {
      const second = await runLocal(['--data-dir', dir, '--port', String(engine!.port)]);
      expect(second.code).toBe(1);
      expect(second.stdout).toBe('');
      expect(second.stderr).toBe(
        `upm-engine local: port ${engine!.port} on 127.0.0.1 is already in use (another upm-engine, or another program); stop it, or choose another port\n`,
      );
      await stillServes();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('SIGINT stops an engine without a warning and frees its data directory', async () => {
    const other = await startEngine();
    try {
      await other.stop('SIGINT');
      expect(other.process.exitCode).toBe(0);
      const records = other
        .logs()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { level: number; msg: string; component?: string });
      expect(records.filter((r) => r.level >= 40)).toEqual([]);
      expect(records.at(-1)).toMatchObject({ msg: 'shutting down' });
      for (const line of other
        .logs()
        .split('\n')
        .filter((l) => l.startsWith('{')))
        expect(line.match(/"component":/g)?.length ?? 0).toBeLessThanOrEqual(1);
      expect(existsSync(join(other.dataDir, 'engine.lock'))).toBe(false);
    } finally {
      cleanup(other);
    }
  });
});
