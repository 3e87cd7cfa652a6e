// Starts the real `upm-engine local` binary (dist/, built by `npm test`'s pretest) and runs
// the real kubectl binaries against it.

import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { Agent as HTTPSAgent, request as httpsRequest } from 'node:https';
import { createServer as createNetServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const cliPath = join(repoRoot, 'dist/cli/main.js');

/** Folder of the versioned kubectl binaries (kubectl.1.27 … kubectl.1.33). */
function kubectlDir(): string {
  for (const dir of (process.env['PATH'] ?? '').split(':')) {
    const candidate = join(dir, 'kubectl');
    if (existsSync(candidate)) return dirname(realpathSync(candidate));
  }
  throw new Error('kubectl is not on PATH');
}

export function kubectlBinary(version: string): string {
  const path = join(kubectlDir(), `kubectl.${version}`);
  if (!existsSync(path)) throw new Error(`${path} does not exist`);
  return path;
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

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
    }, 30_000);
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
      return new Promise((res) => {
        const p = execFile(
          kubectlBinary(version),
          ['--kubeconfig', kubeconfig, '--cache-dir', cacheDir, ...args],
          { env: { ...process.env, ...(o.env ?? {}) }, timeout: o.timeoutMs ?? 30_000, maxBuffer: 16 * 1024 * 1024 },
          (err, stdout, stderr) => {
            const code = err
              ? typeof (err as { code?: unknown }).code === 'number'
                ? (err as { code: number }).code
                : 1
              : 0;
            res({ code, stdout, stderr });
          },
        );
        p.stdin!.end(o.input ?? '');
      });
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
