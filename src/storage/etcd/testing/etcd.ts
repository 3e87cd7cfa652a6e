// Starts real etcd servers (Debian's etcd-server, `etcd` v3.4) for tests: one member or a
// cluster, on free loopback ports, in temporary data directories. Test-only: production code
// must not import this file.
//
// Every member listens on three loopback ports: clients (http, or https with `tls`), peers, and
// metrics (/health and /metrics over plain http, so the helper can check health without client
// certificates). Processes are registered for a best-effort SIGKILL when the test process exits.

import { spawn, type ChildProcess } from 'node:child_process';
import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
} from 'node:fs';
import { get as httpGet } from 'node:http';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface EtcdPeer {
  name: string;
  /** http://127.0.0.1:PORT */
  peerUrl: string;
}

export interface StartEtcdOptions {
  /** Data directory; default a new temporary one (removed by stop()). A given one is kept. */
  dataDir?: string;
  /** Member name; default 'etcd0'. */
  name?: string;
  /** Client port; default a free one. */
  clientPort?: number;
  /** Peer port; default a free one. */
  peerPort?: number;
  /** Port of /health and /metrics (plain http); default a free one. */
  metricsPort?: number;
  /** Every member of the cluster, this one included (for --initial-cluster). Default: only this member. */
  clusterPeers?: EtcdPeer[];
  /** --initial-cluster-token; default a random one. */
  clusterToken?: string;
  /** Serve clients over https with this certificate; with clientCAFile, require client certificates. */
  tls?: { certFile: string; keyFile: string; clientCAFile?: string };
  /** Extra command-line flags. */
  extraArgs?: string[];
  /** Wait until /health answers true (default true; a cluster member needs a quorum for that). */
  waitHealthy?: boolean;
  /** How long to wait for health; default 30 s. */
  startTimeoutMs?: number;
}

export interface EtcdServer {
  readonly name: string;
  /** The client URL, e.g. http://127.0.0.1:40123 (https:// with tls). */
  readonly endpoint: string;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly metricsPort: number;
  readonly peerUrl: string;
  readonly dataDir: string;
  readonly logFile: string;
  /** Pid of the running process, undefined when it is not running. */
  readonly pid: number | undefined;
  running(): boolean;
  /** Resolves when /health says true. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** True when this member is the raft leader (etcd_server_is_leader). */
  isLeader(): Promise<boolean>;
  /** Watchers this member serves now (etcd_debugging_mvcc_watcher_total); 0 when it is down. */
  watcherCount(): Promise<number>;
  /** Sends a signal (default SIGKILL, a crash) and returns at once; see exited(). */
  kill(signal?: NodeJS.Signals): void;
  /** Resolves when the current process has exited (at once when none is running). */
  exited(): Promise<void>;
  /** Stops the process if it runs (SIGTERM) and starts it again: same ports, same data dir. */
  restart(opts?: { waitHealthy?: boolean }): Promise<void>;
  /** Stops the process (SIGTERM, then SIGKILL after 10 s) and removes the temporary files. */
  stop(): Promise<void>;
  /** The last lines of the member's log. */
  logTail(lines?: number): string;
}

export interface EtcdCluster {
  members: EtcdServer[];
  /** Client URLs of all members. */
  endpoints: string[];
  /** Index of the current leader, -1 when no member reports leadership. */
  leaderIndex(): Promise<number>;
  stop(): Promise<void>;
}

/** Path of the etcd binary: $ETCD_BIN, `etcd` on PATH, or /usr/bin/etcd; null when none exists. */
export function etcdBinary(): string | null {
  const candidates: string[] = [];
  if (process.env['ETCD_BIN']) candidates.push(process.env['ETCD_BIN']);
  for (const dir of (process.env['PATH'] ?? '').split(':')) if (dir) candidates.push(join(dir, 'etcd'));
  candidates.push('/usr/bin/etcd', '/usr/local/bin/etcd');
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // next
    }
  }
  return null;
}

/** `n` distinct free loopback ports (all held open until every one is picked). */
export async function freePorts(n: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < n; i++) {
      const srv = createServer();
      servers.push(srv);
      ports.push(
        await new Promise<number>((resolve, reject) => {
          srv.once('error', reject);
          srv.listen(0, '127.0.0.1', () => resolve((srv.address() as { port: number }).port));
        }),
      );
    }
    return ports;
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function track(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const c of live) c.kill('SIGKILL');
    });
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function httpGetText(url: string, timeoutMs = 1000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpGet(url, { timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

class EtcdProcess implements EtcdServer {
  readonly endpoint: string;
  readonly peerUrl: string;
  readonly logFile: string;
  private child: ChildProcess | null = null;
  private exit: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    readonly name: string,
    readonly clientPort: number,
    readonly peerPort: number,
    readonly metricsPort: number,
    readonly dataDir: string,
    private readonly tempRoot: string,
    private readonly args: string[],
    private readonly binary: string,
    tls: boolean,
  ) {
    this.endpoint = `${tls ? 'https' : 'http'}://127.0.0.1:${clientPort}`;
    this.peerUrl = `http://127.0.0.1:${peerPort}`;
    this.logFile = join(tempRoot, `${name}.log`);
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  running(): boolean {
    return this.child !== null;
  }

  spawn(): void {
    if (this.stopped) throw new Error(`etcd ${this.name} was stopped`);
    if (this.child) throw new Error(`etcd ${this.name} is already running`);
    const fd = openSync(this.logFile, 'a');
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('ETCD')) env[k] = v;
    let child: ChildProcess;
    try {
      child = spawn(this.binary, this.args, { stdio: ['ignore', fd, fd], env });
    } finally {
      closeSync(fd);
    }
    this.child = child;
    track(child);
    this.exit = new Promise<void>((resolve) => {
      child.once('exit', () => {
        if (this.child === child) this.child = null;
        resolve();
      });
      child.once('error', () => {
        if (this.child === child) this.child = null;
        resolve();
      });
    });
  }

  async waitHealthy(timeoutMs = 30000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!this.child) throw new Error(`etcd ${this.name} exited while starting:\n${this.logTail()}`);
      try {
        const { status, body } = await httpGetText(`http://127.0.0.1:${this.metricsPort}/health`);
        if (status === 200 && /"health":\s*"true"/.test(body)) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline)
        throw new Error(`etcd ${this.name} not healthy after ${timeoutMs} ms:\n${this.logTail()}`);
      await sleep(50);
    }
  }

  private async metric(name: string): Promise<number> {
    if (!this.child) return 0;
    try {
      const { body } = await httpGetText(`http://127.0.0.1:${this.metricsPort}/metrics`);
      const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(body);
      return m ? Number(m[1]) : 0;
    } catch {
      return 0;
    }
  }

  async isLeader(): Promise<boolean> {
    return (await this.metric('etcd_server_is_leader')) === 1;
  }

  watcherCount(): Promise<number> {
    return this.metric('etcd_debugging_mvcc_watcher_total');
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    this.child?.kill(signal);
  }

  exited(): Promise<void> {
    return this.exit;
  }

  private async terminate(): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
    await this.exit;
    clearTimeout(timer);
  }

  async restart(opts: { waitHealthy?: boolean } = {}): Promise<void> {
    await this.terminate();
    this.spawn();
    if (opts.waitHealthy ?? true) await this.waitHealthy();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.terminate();
    rmSync(this.tempRoot, { recursive: true, force: true });
  }

  logTail(lines = 30): string {
    try {
      return readFileSync(this.logFile, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }
}

interface Prepared {
  proc: EtcdProcess;
  waitHealthy: boolean;
  timeoutMs: number;
}

async function prepare(opts: StartEtcdOptions): Promise<Prepared> {
  const binary = etcdBinary();
  if (!binary)
    throw new Error('etcd is not installed (Debian package etcd-server; see hack/ensure-system-packages.sh)');
  const name = opts.name ?? 'etcd0';
  const needed = [opts.clientPort, opts.peerPort, opts.metricsPort].filter((p) => p === undefined).length;
  const free = await freePorts(needed);
  const clientPort = opts.clientPort ?? free.shift()!;
  const peerPort = opts.peerPort ?? free.shift()!;
  const metricsPort = opts.metricsPort ?? free.shift()!;
  const tempRoot = mkdtempSync(join(tmpdir(), 'upm-etcd-'));
  const dataDir = opts.dataDir ?? join(tempRoot, 'data');
  if (opts.dataDir && !existsSync(opts.dataDir)) mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
  const scheme = opts.tls ? 'https' : 'http';
  const clientUrl = `${scheme}://127.0.0.1:${clientPort}`;
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const peers = opts.clusterPeers ?? [{ name, peerUrl }];
  const args = [
    '--name',
    name,
    '--data-dir',
    dataDir,
    '--listen-client-urls',
    clientUrl,
    '--advertise-client-urls',
    clientUrl,
    '--listen-peer-urls',
    peerUrl,
    '--initial-advertise-peer-urls',
    peerUrl,
    '--listen-metrics-urls',
    `http://127.0.0.1:${metricsPort}`,
    '--initial-cluster',
    peers.map((p) => `${p.name}=${p.peerUrl}`).join(','),
    '--initial-cluster-state',
    'new',
    '--initial-cluster-token',
    opts.clusterToken ?? `upm-test-${Math.random().toString(36).slice(2)}`,
    // the conformance suite stores values of up to 4 MiB (etcd's default limit is 1.5 MiB)
    '--max-request-bytes',
    String(10 * 1024 * 1024),
    '--logger',
    'zap',
    '--log-outputs',
    'stderr',
    '--log-level',
    'warn',
  ];
  if (opts.tls) {
    args.push('--cert-file', opts.tls.certFile, '--key-file', opts.tls.keyFile);
    if (opts.tls.clientCAFile) args.push('--client-cert-auth', '--trusted-ca-file', opts.tls.clientCAFile);
  }
  args.push(...(opts.extraArgs ?? []));
  const proc = new EtcdProcess(
    name,
    clientPort,
    peerPort,
    metricsPort,
    dataDir,
    tempRoot,
    args,
    binary,
    opts.tls !== undefined,
  );
  return { proc, waitHealthy: opts.waitHealthy ?? true, timeoutMs: opts.startTimeoutMs ?? 30000 };
}

/** Starts one etcd member (a single-member cluster unless clusterPeers says otherwise). */
export async function startEtcd(opts: StartEtcdOptions = {}): Promise<EtcdServer> {
  const { proc, waitHealthy, timeoutMs } = await prepare(opts);
  proc.spawn();
  if (waitHealthy) {
    try {
      await proc.waitHealthy(timeoutMs);
    } catch (err) {
      await proc.stop();
      throw err;
    }
  }
  return proc;
}

/** Starts an n-member cluster (default 3) on loopback and waits until every member is healthy. */
export async function startEtcdCluster(
  size = 3,
  opts: Pick<StartEtcdOptions, 'extraArgs' | 'startTimeoutMs'> = {},
): Promise<EtcdCluster> {
  const ports = await freePorts(size * 3);
  const names = Array.from({ length: size }, (_, i) => `m${i}`);
  const peers = names.map((name, i) => ({ name, peerUrl: `http://127.0.0.1:${ports[i * 3 + 1]}` }));
  const token = `upm-test-${Math.random().toString(36).slice(2)}`;
  const members: EtcdServer[] = [];
  try {
    for (const [i, name] of names.entries()) {
      members.push(
        await startEtcd({
          name,
          clientPort: ports[i * 3]!,
          peerPort: ports[i * 3 + 1]!,
          metricsPort: ports[i * 3 + 2]!,
          clusterPeers: peers,
          clusterToken: token,
          extraArgs: opts.extraArgs,
          waitHealthy: false,
        }),
      );
    }
    await Promise.all(members.map((m) => m.waitHealthy(opts.startTimeoutMs ?? 30000)));
  } catch (err) {
    await Promise.all(members.map((m) => m.stop()));
    throw err;
  }
  return {
    members,
    endpoints: members.map((m) => m.endpoint),
    leaderIndex: async () => {
      const flags = await Promise.all(members.map((m) => m.isLeader()));
      return flags.indexOf(true);
    },
    stop: async () => {
      await Promise.all(members.map((m) => m.stop()));
    },
  };
}
