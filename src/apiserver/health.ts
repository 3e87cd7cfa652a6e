// /healthz, /livez and /readyz with named checks, `?verbose`, `?exclude=` and per-check paths,
// in kube-apiserver's text format.

import type { IncomingMessage, ServerResponse } from 'node:http';

export interface HealthCheck {
  name: string;
  check(): Promise<void> | void;
}

export class HealthEndpoints {
  private readonly live: HealthCheck[] = [{ name: 'ping', check: () => {} }];
  private readonly ready: HealthCheck[] = [{ name: 'ping', check: () => {} }];
  private shuttingDown = false;

  constructor() {
    this.ready.push({
      name: 'shutdown',
      check: () => {
        if (this.shuttingDown) throw new Error('process is shutting down');
      },
    });
  }

  addLivenessCheck(c: HealthCheck): void {
    this.live.push(c);
    this.ready.push(c);
  }

  addReadinessCheck(c: HealthCheck): void {
    this.ready.push(c);
  }

  markShuttingDown(): void {
    this.shuttingDown = true;
  }

  /** Serves /healthz, /livez, /readyz and their /<check> sub-paths; undefined if not one. */
  async handle(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    query: URLSearchParams,
  ): Promise<number | undefined> {
    const m = /^\/(healthz|livez|readyz)(?:\/([^/]+))?\/?$/.exec(path);
    if (!m) return undefined;
    const endpoint = m[1];
    const checks = endpoint === 'readyz' ? this.ready : this.live;
    const excluded = new Set(query.getAll('exclude'));
    const selected = m[2] ? checks.filter((c) => c.name === m[2]) : checks.filter((c) => !excluded.has(c.name));
    if (m[2] && selected.length === 0) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
      res.end('404 page not found\n');
      return 404;
    }
    const lines: string[] = [];
    let failed = false;
    for (const c of selected) {
      try {
        await c.check();
        lines.push(`[+]${c.name} ok`);
      } catch {
        failed = true;
        lines.push(`[-]${c.name} failed: reason withheld`);
      }
    }
    const verbose = query.has('verbose');
    let body: string;
    if (failed) body = `${lines.join('\n')}\n${endpoint} check failed\n`;
    else if (verbose) body = `${lines.join('\n')}\n${endpoint} check passed\n`;
    else body = 'ok';
    const code = failed ? 500 : 200;
    res.writeHead(code, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
    res.end(req.method === 'HEAD' ? undefined : body);
    return code;
  }
}
