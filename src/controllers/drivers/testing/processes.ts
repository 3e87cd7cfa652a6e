// What every database fixture of the tests needs: free loopback ports, and a guarantee that no
// server a test started outlives the test process, however it ends.

import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

/** Listens on `host:port` (0: any free port) for a moment and returns the port; rejects when taken. */
export function listenOnce(host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(port, host, () => {
      const p = (srv.address() as { port: number }).port;
      srv.close(() => resolve(p));
    });
  });
}

/** A port free on `host` a moment ago. */
export const freeLoopbackPort = (host = '127.0.0.1'): Promise<number> => listenOnce(host, 0);

const live = new Set<ChildProcess>();
let exitHook = false;

/** Kills `child` with SIGKILL if it still runs when this process exits. */
export function killOnExit(child: ChildProcess): void {
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => {
      for (const c of live) c.kill('SIGKILL');
    });
  }
  live.add(child);
  child.once('exit', () => live.delete(child));
}

/** The last 20,000 characters a fixture's server wrote, kept across its restarts. */
export class OutputTail {
  private text = '';
  readonly append = (b: Buffer): void => {
    this.text = (this.text + b.toString()).slice(-20000);
  };
  toString(): string {
    return this.text;
  }
}

/** Starts a server `command` with its output into `tail`, killed if it outlives this process. */
export function spawnServer(command: string, args: string[], tail: OutputTail): ChildProcess {
  const c = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  killOnExit(c);
  c.stdout!.on('data', tail.append);
  c.stderr!.on('data', tail.append);
  return c;
}
