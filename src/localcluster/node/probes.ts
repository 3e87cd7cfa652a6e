// Startup, liveness and readiness probes as the kubelet runs them (pkg/kubelet/prober, pkg/probe):
// one worker per container and probe kind, ticking every periodSeconds, a result that changes only
// after failureThreshold (or successThreshold) equal outcomes in a row.

import type { ChildProcess } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';

type Obj = Record<string, any>;

export type ProbeKind = 'startup' | 'liveness' | 'readiness';

export interface ProbeOutcome {
  success: boolean;
  /** What the Unhealthy event says after `<Kind> probe failed: `. */
  output: string;
  /** A warning to report even on success (a redirect to another host). */
  warning?: string;
}

export interface ProbeTarget {
  podIP: string;
  /** Named container ports. */
  ports: Obj[];
  /** Runs the command in the container; undefined when the container is not running. */
  exec(argv: string[]): ChildProcess | undefined;
}

function resolvePort(port: unknown, ports: Obj[]): number {
  if (typeof port === 'number') return port;
  if (/^\d+$/.test(String(port))) return Number(port);
  const named = ports.find((p) => p['name'] === port);
  if (!named) throw new Error(`unable to find port "${port}"`);
  return Number(named['containerPort']);
}

function execProbe(target: ProbeTarget, command: string[], timeoutMs: number): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    const child = target.exec(command);
    if (!child) {
      resolve({ success: false, output: 'container is not running' });
      return;
    }
    let output = '';
    const collect = (d: Buffer) => {
      if (output.length < 10 * 1024) output += d.toString('utf8');
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // gone
      }
      resolve({ success: false, output: `command "${command.join(' ')}" timed out` });
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ success: false, output: err.message });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ success: code === 0, output: output.trimEnd() });
    });
  });
}

function tcpProbe(host: string, port: number, timeoutMs: number): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (o: ProbeOutcome) => {
      socket.destroy();
      resolve(o);
    };
    socket.setTimeout(timeoutMs, () => done({ success: false, output: `dial tcp ${host}:${port}: i/o timeout` }));
    socket.once('connect', () => done({ success: true, output: '' }));
    socket.once('error', (err: NodeJS.ErrnoException) =>
      done({
        success: false,
        output: `dial tcp ${host}:${port}: connect: ${err.code === 'ECONNREFUSED' ? 'connection refused' : err.message}`,
      }),
    );
  });
}

function httpProbe(spec: Obj, host: string, port: number, timeoutMs: number, redirects = 0): Promise<ProbeOutcome> {
  const scheme = String(spec['scheme'] ?? 'HTTP').toUpperCase();
  const path = String(spec['path'] ?? '/');
  const url = `${scheme.toLowerCase()}://${host}:${port}${path.startsWith('/') ? '' : '/'}${path}`;
  const headers: Record<string, string> = { 'User-Agent': 'kube-probe/1.33', Accept: '*/*', Connection: 'close' };
  for (const h of (spec['httpHeaders'] ?? []) as Obj[]) headers[String(h['name'])] = String(h['value']);
  return new Promise((resolve) => {
    const send = scheme === 'HTTPS' ? httpsRequest : httpRequest;
    const req = send(url, { method: 'GET', headers, timeout: timeoutMs, rejectUnauthorized: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        if (body.length < 10 * 1024) body += d;
      });
      res.on('end', () => {
        const code = res.statusCode ?? 0;
        const location = res.headers.location;
        if (code >= 300 && code < 400 && location && redirects < 10) {
          const next = new URL(location, url);
          if (next.hostname === host) {
            const followed = { ...spec, path: next.pathname + next.search, scheme: next.protocol.replace(':', '') };
            resolve(httpProbe(followed, host, Number(next.port || port), timeoutMs, redirects + 1));
            return;
          }
          resolve({ success: true, output: body, warning: 'Probe terminated redirects' });
          return;
        }
        if (code >= 200 && code < 400) resolve({ success: true, output: body });
        else resolve({ success: false, output: `HTTP probe failed with statuscode: ${code}` });
      });
    });
    req.on('timeout', () => {
      req.destroy();
      resolve({
        success: false,
        output: `Get "${url}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`,
      });
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (req.destroyed && err.code === 'ECONNRESET') return;
      resolve({
        success: false,
        output: `Get "${url}": dial tcp ${host}:${port}: connect: ${err.code === 'ECONNREFUSED' ? 'connection refused' : err.message}`,
      });
    });
    req.end();
  });
}

/** Runs one probe once. */
export async function runProbe(probe: Obj, target: ProbeTarget): Promise<ProbeOutcome> {
  const timeoutMs = (probe['timeoutSeconds'] ?? 1) * 1000;
  try {
    if (probe['exec']) return await execProbe(target, (probe['exec'].command ?? []) as string[], timeoutMs);
    if (probe['tcpSocket']) {
      const host = probe['tcpSocket'].host || target.podIP;
      return await tcpProbe(host, resolvePort(probe['tcpSocket'].port, target.ports), timeoutMs);
    }
    if (probe['httpGet']) {
      const host = probe['httpGet'].host || target.podIP;
      return await httpProbe(probe['httpGet'], host, resolvePort(probe['httpGet'].port, target.ports), timeoutMs);
    }
    if (probe['grpc']) return { success: false, output: 'grpc probes are not supported by this node' };
    return { success: false, output: 'probe has no handler' };
  } catch (err) {
    return { success: false, output: (err as Error).message };
  }
}

export interface ProbeWorkerHooks {
  target(): ProbeTarget | undefined;
  /** The result turned (true: success). */
  onChange(result: boolean, outcome: ProbeOutcome): void;
  /** Every failed attempt (for the Unhealthy event). */
  onFailure(outcome: ProbeOutcome): void;
  onWarning(message: string): void;
}

/** One probe of one container instance. */
export class ProbeWorker {
  /** Initial results: readiness failure, liveness success, startup unknown. */
  result: boolean | undefined;
  private timer: NodeJS.Timeout | undefined;
  private streak = 0;
  private lastOutcome: boolean | undefined;
  private stopped = false;
  private running = false;

  constructor(
    readonly kind: ProbeKind,
    private readonly probe: Obj,
    private readonly hooks: ProbeWorkerHooks,
  ) {
    this.result = kind === 'readiness' ? false : kind === 'liveness' ? true : undefined;
  }

  /** Starts probing `initialDelaySeconds` after the container started. */
  start(startedAtMs: number): void {
    const period = (this.probe['periodSeconds'] ?? 10) * 1000;
    const delay = Math.max(0, startedAtMs + (this.probe['initialDelaySeconds'] ?? 0) * 1000 - Date.now());
    const tick = () => {
      if (this.stopped) return;
      void this.once().finally(() => {
        if (!this.stopped) this.timer = setTimeout(tick, period);
      });
    };
    this.timer = setTimeout(tick, delay);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private async once(): Promise<void> {
    if (this.running) return;
    const target = this.hooks.target();
    if (!target) return;
    this.running = true;
    try {
      const outcome = await runProbe(this.probe, target);
      if (this.stopped) return;
      if (outcome.warning) this.hooks.onWarning(outcome.warning);
      if (!outcome.success) this.hooks.onFailure(outcome);
      this.streak = outcome.success === this.lastOutcome ? this.streak + 1 : 1;
      this.lastOutcome = outcome.success;
      const threshold = outcome.success ? (this.probe['successThreshold'] ?? 1) : (this.probe['failureThreshold'] ?? 3);
      if (this.streak >= threshold && this.result !== outcome.success) {
        this.result = outcome.success;
        this.hooks.onChange(outcome.success, outcome);
      }
    } finally {
      this.running = false;
    }
  }
}
