// Starts the real `upm-engine local` binary (dist/, built by `npm test`'s pretest) and runs
// the real kubectl binaries against it.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { Agent as HTTPSAgent, request as httpsRequest } from 'node:https';
import { createServer as createNetServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { kubectlBinary, runKubectl, type KubectlResult } from '../cluster/kubectl.js';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const cliPath = join(repoRoot, 'dist/cli/main.js');

export { kubectlBinary, type KubectlResult };

export interface Engine {
  dataDir: string;
  /** kubectl's --cache-dir for this engine (removed by cleanup). */
  cacheDir: string;
  kubeconfig: string;
  url: string;
  port: number;
  process: ChildProcess;
  logs(): string;
  /** Runs kubectl (version e.g. '1.33') with this engine's kubeconfig and a private cache. */
  kubectl(
    version: string,
    args: string[],
    opts?: { input?: string; env?: Record<string, string>; timeoutMs?: number },
  ): Promise<KubectlResult>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export interface StartOptions {
  dataDir?: string;
  port?: number;
  extraArgs?: string[];
  /** Run the controllers in the engine (default false: API tests see no writer but themselves). */
  controllers?: boolean;
}

export async function startEngine(opts: StartOptions = {}): Promise<Engine> {
  if (!existsSync(cliPath)) throw new Error(`${cliPath} is missing: run npm run build first`);
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'upm-e2e-'));
  const cacheDir = mkdtempSync(join(tmpdir(), 'upm-kubectl-cache-'));
  const child = spawn(
    process.execPath,
    [
      cliPath,
      'local',
      '--data-dir',
      dataDir,
      '--port',
      String(opts.port ?? 0),
      '--log-format',
      'json',
      `--controllers=${opts.controllers === true}`,
      ...(opts.extraArgs ?? []),
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const url = await new Promise<string>((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL'); // do not leave a half-started engine behind
      reject(new Error(`engine did not start in time:\n${output}`));
    }, 60_000);
    const check = () => {
      const m = /UPM Engine is serving at (https:\/\/\S+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolvePromise(m[1]);
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`engine exited with ${code}:\n${output}`));
    });
  });
  const kubeconfig = join(dataDir, 'kubeconfig');
  const engine: Engine = {
    dataDir,
    cacheDir,
    kubeconfig,
    url,
    port: Number(new URL(url).port),
    process: child,
    logs: () => output,
    kubectl(version, args, o = {}) {
      return runKubectl(version, kubeconfig, cacheDir, args, o);
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill(signal);
      await exited;
    },
  };
  return engine;
}

export function cleanup(engine: Engine): void {
  rmSync(engine.dataDir, { recursive: true, force: true });
  rmSync(engine.cacheDir, { recursive: true, force: true });
}

export function readKubeconfig(engine: Engine): string {
  return readFileSync(engine.kubeconfig, 'utf8');
}

export interface HTTPResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json(): any;
}

/** An HTTPS client for an engine, authenticated with its admin certificate (keep-alive). */
export function apiClient(
  engine: Engine,
): (
  method: string,
  path: string,
  opts?: { body?: unknown; headers?: Record<string, string> },
) => Promise<HTTPResponse> {
  const pki = join(engine.dataDir, 'pki');
  const agent = new HTTPSAgent({
    ca: readFileSync(join(pki, 'ca.crt')),
    cert: readFileSync(join(pki, 'admin.crt')),
    key: readFileSync(join(pki, 'admin.key')),
    keepAlive: true,
  });
  return (method, path, opts = {}) =>
    new Promise((resolvePromise, reject) => {
      const payload =
        opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
      const req = httpsRequest(
        new URL(path, engine.url),
        {
          method,
          agent,
          headers: {
            ...(payload !== undefined ? { 'Content-Type': 'application/json' } : {}),
            ...(opts.headers ?? {}),
          },
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (body += d));
          res.on('end', () =>
            resolvePromise({ status: res.statusCode!, headers: res.headers, body, json: () => JSON.parse(body) }),
          );
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
}

/** A loopback port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createNetServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

/** Polls a condition until it holds, failing with `what` after the timeout. */
export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** kubectl helpers for tests that read objects as JSON: `ok` fails on a non-zero exit with stderr. */
export function kubectlHelpers(engine: () => Engine, version = '1.33') {
  const k = (...args: string[]) => engine().kubectl(version, args);
  async function ok(...args: string[]): Promise<string> {
    const r = await k(...args);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}):\n${r.stderr}`);
    return r.stdout;
  }
  const json = async (...args: string[]) => JSON.parse(await ok(...args, '-o', 'json'));
  return { k, ok, json };
}

// ---------------------------------------------------------------------------------------------
// The switch between control planes: suites written against what kubectl sees run on
// `upm-engine local` and on a real kube-apiserver (test/cluster) with `upm-engine apiserver`
// behind its aggregator. UPM_E2E_CONTROL_PLANES=local|real|local,real (default both) selects.

export type ControlPlaneKind = 'local' | 'real';

/** Where kubectl talks to: the kubeconfig, a private cache dir, and how to stop it. */
export interface KubectlTarget {
  kind: ControlPlaneKind;
  kubeconfig: string;
  cacheDir: string;
  kubectl(
    version: string,
    args: string[],
    opts?: { input?: string; env?: Record<string, string>; timeoutMs?: number },
  ): Promise<KubectlResult>;
  stop(): Promise<void>;
}

export function controlPlanes(): ControlPlaneKind[] {
  const raw = process.env['UPM_E2E_CONTROL_PLANES'] ?? 'local,real';
  const kinds = raw.split(',').map((s) => s.trim());
  for (const k of kinds) if (k !== 'local' && k !== 'real') throw new Error(`UPM_E2E_CONTROL_PLANES: unknown "${k}"`);
  return kinds as ControlPlaneKind[];
}

export async function startControlPlane(kind: ControlPlaneKind): Promise<KubectlTarget> {
  if (kind === 'local') {
    const engine = await startEngine();
    return {
      kind,
      kubeconfig: engine.kubeconfig,
      cacheDir: engine.cacheDir,
      kubectl: (version, args, opts) => engine.kubectl(version, args, opts),
      async stop() {
        await engine.stop();
        cleanup(engine);
      },
    };
  }
  const { startRealCluster } = await import('../cluster/cluster.js');
  const cluster = await startRealCluster();
  return {
    kind,
    kubeconfig: cluster.kubeconfig,
    cacheDir: cluster.cacheDir,
    kubectl: (version, args, opts) => cluster.kubectl(version, args, opts),
    stop: () => cluster.stop(),
  };
}
