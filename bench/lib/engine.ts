// Starting the built CLI (dist/cli/main.js) as a child process for suites that measure a whole
// engine or controllers process.

import { spawn, type ChildProcess } from 'node:child_process';
import { resolve, join } from 'node:path';

export const repo = resolve(import.meta.dirname, '../../..');
const cli = join(repo, 'dist/cli/main.js');

/** Runs `upm-engine <args>` and resolves once its output satisfies `ready` (60 s at most). */
export function startCli(
  args: string[],
  ready: (output: string) => boolean,
): Promise<{ proc: ChildProcess; output: () => string }> {
  const proc = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`did not start: ${args[0]}\n${out}`)), 60_000);
    const on = (d: Buffer) => {
      out += d.toString();
      if (ready(out)) {
        clearTimeout(timer);
        res({ proc, output: () => out });
      }
    };
    proc.stdout!.on('data', on);
    proc.stderr!.on('data', on);
    proc.once('exit', (code) => rej(new Error(`${args[0]} exited with ${code}\n${out}`)));
  });
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
export async function stopProcess(proc: ChildProcess, graceMs = 20_000): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const gone = new Promise<void>((r) => proc.once('exit', () => r()));
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
  await gone;
  clearTimeout(timer);
}

/** `upm-engine local` on a free port in `dataDir`, quiet, ready once it serves. */
export function startLocalEngine(
  dataDir: string,
  extraArgs: string[] = [],
): Promise<{ proc: ChildProcess; output: () => string }> {
  return startCli(
    ['local', '--data-dir', dataDir, '--port', '0', ...extraArgs, '--log-level', 'warn', '--log-format', 'json'],
    (out) => out.includes('UPM Engine is serving at'),
  );
}
