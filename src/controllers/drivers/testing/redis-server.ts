// Real redis-server processes for tests: one per call, on a free loopback port, in its own
// temporary directory, stopped (and the directory removed) by stop(). kill9()/start() model a
// crashed server that comes back with its data (appendonly), as a restarted Pod would.

import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { closeRedis } from '../redis/connection.js';
import { listenOnce, OutputTail, spawnServer } from './processes.js';

export interface RedisServerOptions {
  /** Extra redis.conf lines, e.g. `cluster-enabled yes`. */
  config?: string[];
  /** requirepass and masterauth. */
  password?: string;
  /** Start as a Sentinel (redis-server --sentinel) instead of a server. */
  sentinel?: boolean;
  /** A loopback address other than 127.0.0.1 to bind (for example 127.0.3.1). */
  host?: string;
}

export interface RedisServer {
  readonly host: string;
  readonly port: number;
  readonly dir: string;
  /** A new client connection (the caller disconnects it). */
  client(): Redis;
  /** Starts the process again after kill9() or stop({ keepData: true }). */
  start(): Promise<void>;
  /** SIGKILL, no shutdown: a crash. */
  kill9(): Promise<void>;
  stop(opts?: { keepData?: boolean }): Promise<void>;
  running(): boolean;
  logTail(lines?: number): string;
}

/** A port free on `host`, whose cluster bus port (port + 10000) is free as well. */
export async function freeRedisPort(host = '127.0.0.1'): Promise<number> {
  for (;;) {
    const port = await listenOnce(host, 0);
    if (port + 10000 < 65536 && (await listenOnce(host, port + 10000).catch(() => 0))) return port;
  }
}

export async function startRedisServer(opts: RedisServerOptions = {}): Promise<RedisServer> {
  const host = opts.host ?? '127.0.0.1';
  const port = await freeRedisPort(host);
  const dir = mkdtempSync(join(tmpdir(), 'upm-redis-'));
  const conf = join(dir, opts.sentinel ? 'sentinel.conf' : 'redis.conf');
  const lines = [
    `bind ${host}`,
    `port ${port}`,
    `dir ${dir}`,
    'daemonize no',
    'save ""',
    ...(opts.sentinel ? [] : ['appendonly yes', 'appendfsync always']),
    ...(opts.password ? [`requirepass ${opts.password}`, `masterauth ${opts.password}`] : []),
    ...(opts.config ?? []),
  ];
  writeFileSync(conf, lines.join('\n') + '\n');
  let child: ChildProcess | undefined;
  const log = new OutputTail();

  const start = async (): Promise<void> => {
    const args = opts.sentinel ? [conf, '--sentinel'] : [conf];
    const c = spawnServer('redis-server', args, log);
    child = c;
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (c.exitCode !== null) throw new Error(`redis-server exited (${c.exitCode}):\n${log}`);
      const probe = new Redis({
        host,
        port,
        password: opts.password,
        lazyConnect: true,
        retryStrategy: () => null,
        maxRetriesPerRequest: 0,
      });
      probe.on('error', () => {});
      const ok = await probe
        .connect()
        .then(() => probe.ping())
        .then(() => true)
        .catch(() => false);
      closeRedis(probe);
      if (ok) return;
      if (Date.now() > deadline) throw new Error(`redis-server on ${host}:${port} not ready after 10 s:\n${log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  const waitExit = (c: ChildProcess) =>
    c.exitCode !== null || c.signalCode !== null
      ? Promise.resolve()
      : new Promise<void>((r) => c.once('exit', () => r()));

  await start();
  return {
    host,
    port,
    dir,
    client: () => {
      const c = new Redis({ host, port, password: opts.password, maxRetriesPerRequest: 1 });
      c.on('error', () => {});
      return c;
    },
    start,
    async kill9() {
      if (!child) return;
      child.kill('SIGKILL');
      await waitExit(child);
    },
    async stop(o = {}) {
      if (child && child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child?.kill('SIGKILL'), 10_000);
        await waitExit(child);
        clearTimeout(timer);
      }
      if (!o.keepData) rmSync(dir, { recursive: true, force: true });
    },
    running: () => !!child && child.exitCode === null && child.signalCode === null,
    logTail: (n = 40) => log.toString().split('\n').slice(-n).join('\n'),
  };
}
