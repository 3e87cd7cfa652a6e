// One control-plane process: started with its output in a log file, probed until ready, stopped
// with SIGTERM (SIGKILL after a grace period). Processes still running when the test process
// exits are killed, so an aborted run leaves nothing behind.

import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';

export interface Component {
  name: string;
  child: ChildProcess;
  logFile: string;
  /** The last `lines` lines of the log. */
  tail(lines?: number): string;
  running(): boolean;
  stop(graceMs?: number): Promise<void>;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export function startComponent(
  name: string,
  command: string,
  args: string[],
  logDir: string,
  env: NodeJS.ProcessEnv = process.env,
): Component {
  const logFile = join(logDir, `${name}.log`);
  const fd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(command, args, { stdio: ['ignore', fd, fd], env });
  } finally {
    closeSync(fd); // the child has its own copy
  }
  live.add(child);
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      live.delete(child);
      resolve();
    }),
  );
  child.once('error', () => live.delete(child));
  const running = () => child.exitCode === null && child.signalCode === null;
  return {
    name,
    child,
    logFile,
    running,
    tail(lines = 40) {
      try {
        return readFileSync(logFile, 'utf8').split('\n').slice(-lines).join('\n');
      } catch {
        return '';
      }
    },
    async stop(graceMs = 10_000) {
      if (!running()) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * Polls `probe` until it answers true; fails early when the component exits, with the end of
 * its log in the error.
 */
export async function waitReady(
  component: Component,
  probe: () => Promise<boolean>,
  timeoutMs: number,
  intervalMs = 200,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!component.running())
      throw new Error(
        `${component.name} exited (${component.child.exitCode ?? component.child.signalCode}):\n${component.tail()}`,
      );
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline)
      throw new Error(`${component.name} was not ready after ${timeoutMs} ms:\n${component.tail()}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** `n` distinct loopback ports that were free a moment ago (all held open until each is known). */
export async function freePorts(n: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve());
      });
    }
    return servers.map((s) => (s.address() as { port: number }).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  }
}
