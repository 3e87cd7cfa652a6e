// The kubelet's HTTPS endpoints the API server proxies pods/log and pods/exec to:
//   GET /containerLogs/{namespace}/{pod}/{container}?follow&previous&timestamps&sinceSeconds&sinceTime&tailLines&limitBytes
//   GET /exec/{namespace}/{pod}/{container}?command=…&stdin&stdout&stderr&tty   (WebSocket)
// Callers present a client certificate of the cluster's CA and are authorized with a
// SubjectAccessReview for nodes/proxy, as the kubelet's webhook authorization does.
//
// exec speaks the WebSocket remote-command protocol (v5.channel.k8s.io, v4.channel.k8s.io):
// binary messages whose first byte is the channel (0 stdin, 1 stdout, 2 stderr, 3 status,
// 4 resize, 255 close). SPDY (kubectl before 1.30, or KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false) is
// not spoken: such requests get a Status saying so. A TTY is not a terminal here (no pty): the
// command's output is passed through, stderr merged into stdout as a terminal would.

import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import { subjectAccessReviewerFor } from '../../apiserver/authorization/sar-client.js';
import type { SubjectAccessReviewer } from '../../apiserver/authorization/delegating.js';
import { createCA, issueServingCert } from '../../pki/certs.js';
import { streamLog, type LogOptions } from './logs.js';
import type { PodWorker } from './pod-worker.js';
import type { ProcessRecords } from './process-records.js';
import { execInContainer } from './sandbox.js';

export interface KubeletServerOptions {
  kc: KubeConfig;
  nodeName: string;
  port: number;
  log: Logger;
  worker(namespace: string, name: string): PodWorker | undefined;
  records: ProcessRecords;
}

const subprotocols = ['v5.channel.k8s.io', 'v4.channel.k8s.io'];

function status(code: number, reason: string, message: string): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

function reject(res: ServerResponse, code: number, reason: string, message: string): void {
  const body = JSON.stringify(status(code, reason, message));
  res.writeHead(code, { 'Content-Type': 'application/json' });
  res.end(body);
}

function rejectUpgrade(socket: Duplex, code: number, reason: string, message: string): void {
  const body = JSON.stringify(status(code, reason, message));
  socket.end(
    `HTTP/1.1 ${code} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

function clusterCA(kc: KubeConfig): string | undefined {
  const cluster = kc.getCurrentCluster();
  if (cluster?.caData) return Buffer.from(cluster.caData, 'base64').toString('utf8');
  if (cluster?.caFile) return readFileSync(cluster.caFile, 'utf8');
  return undefined;
}

export class KubeletServer {
  private server: Server | undefined;
  private readonly wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    handleProtocols: (offered) => subprotocols.find((p) => offered.has(p)) ?? false,
  });
  private readonly review: SubjectAccessReviewer;
  private readonly sessions = new Set<ChildProcess>();

  constructor(private readonly o: KubeletServerOptions) {
    this.review = subjectAccessReviewerFor(o.kc);
  }

  get port(): number | undefined {
    const a = this.server?.address() as AddressInfo | null | undefined;
    return a?.port;
  }

  async start(): Promise<void> {
    const ca = createCA(`${this.o.nodeName}-ca@${Math.floor(Date.now() / 1000)}`);
    const serving = issueServingCert(ca, {
      commonName: this.o.nodeName,
      dnsNames: ['localhost', this.o.nodeName],
      ipAddresses: ['127.0.0.1'],
    });
    const clientCA = clusterCA(this.o.kc);
    this.server = createServer(
      {
        cert: `${serving.certPem}${ca.certPem}`,
        key: serving.keyPem,
        ...(clientCA ? { ca: clientCA } : {}),
        requestCert: true,
        rejectUnauthorized: false,
      },
      (req, res) => void this.handle(req, res),
    );
    this.server.on(
      'upgrade',
      (req: IncomingMessage, socket: Duplex, head: Buffer) => void this.upgrade(req, socket, head),
    );
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.o.port, '127.0.0.1', () => resolve());
    });
  }

  /** Ends every exec session. */
  killSessions(): void {
    for (const child of this.sessions) {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }

  async stop(): Promise<void> {
    this.killSessions();
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }

  /** The caller, when its certificate is the cluster's and it may use nodes/proxy. */
  private async authorize(req: IncomingMessage): Promise<{ code: number; message: string } | undefined> {
    const socket = req.socket as TLSSocket;
    if (!socket.authorized) return { code: 401, message: 'Unauthorized' };
    const cert = socket.getPeerCertificate();
    const subject = (cert?.subject ?? {}) as unknown as Record<string, string | string[]>;
    const user = String(subject['CN'] ?? '');
    const o = subject['O'];
    const groups = [...(Array.isArray(o) ? o : o ? [o] : []), 'system:authenticated'];
    const verb = req.method === 'GET' && req.headers.upgrade === undefined ? 'get' : 'create';
    try {
      const answer = await this.review({
        user,
        groups,
        resourceAttributes: { verb, resource: 'nodes', subresource: 'proxy', name: this.o.nodeName },
      });
      if (answer.allowed) return undefined;
      return {
        code: 403,
        message: `Forbidden (user=${user}, verb=${verb}, resource=nodes, subresource=proxy)`,
      };
    } catch (err) {
      return { code: 500, message: `authorization failed: ${(err as Error).message}` };
    }
  }

  private target(url: URL, prefix: string): { worker?: PodWorker; container: string; pod: string } | undefined {
    const parts = url.pathname.slice(prefix.length).split('/').map(decodeURIComponent);
    if (parts.length !== 3) return undefined;
    const [namespace, pod, container] = parts;
    return { worker: this.o.worker(namespace, pod), container, pod };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://kubelet');
    const denied = await this.authorize(req);
    if (denied) {
      reject(res, denied.code, denied.code === 401 ? 'Unauthorized' : 'Forbidden', denied.message);
      return;
    }
    if (url.pathname.startsWith('/exec/') || url.pathname.startsWith('/attach/')) {
      reject(
        res,
        400,
        'BadRequest',
        'this node speaks the WebSocket remote-command protocol only (kubectl 1.30 or newer, without KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false); SPDY is not supported',
      );
      return;
    }
    if (req.method !== 'GET' || !url.pathname.startsWith('/containerLogs/')) {
      reject(res, 404, 'NotFound', `the node does not serve ${req.method} ${url.pathname}`);
      return;
    }
    const t = this.target(url, '/containerLogs/');
    if (!t?.worker) {
      reject(res, 404, 'NotFound', `pod "${t?.pod ?? ''}" is not running on node ${this.o.nodeName}`);
      return;
    }
    const q = url.searchParams;
    const previous = q.get('previous') === 'true';
    const log = t.worker.logOf(t.container, previous);
    if (!log) {
      const message = previous
        ? `previous terminated container "${t.container}" in pod "${t.pod}" not found`
        : `container "${t.container}" in pod "${t.pod}" is waiting to start: ContainerCreating`;
      reject(res, 400, 'BadRequest', message);
      return;
    }
    const opts: LogOptions = {
      follow: q.get('follow') === 'true',
      timestamps: q.get('timestamps') === 'true',
      ...(q.has('tailLines') ? { tailLines: Number(q.get('tailLines')) } : {}),
      ...(q.has('limitBytes') ? { limitBytes: Number(q.get('limitBytes')) } : {}),
    };
    const since = [
      q.has('sinceSeconds') ? Date.now() - Number(q.get('sinceSeconds')) * 1000 : undefined,
      q.has('sinceTime') ? Date.parse(String(q.get('sinceTime'))) : undefined,
    ].filter((v): v is number => v !== undefined && !Number.isNaN(v));
    if (since.length > 0) opts.sinceMs = Math.max(...since);
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Cache-Control': 'no-cache' });
    res.flushHeaders();
    await streamLog(log.path, res, opts, log.running);
    res.end();
  }

  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://kubelet');
    const denied = await this.authorize(req);
    if (denied) {
      rejectUpgrade(socket, denied.code, denied.code === 401 ? 'Unauthorized' : 'Forbidden', denied.message);
      return;
    }
    if (!url.pathname.startsWith('/exec/')) {
      rejectUpgrade(socket, 400, 'Bad Request', `the node does not serve ${url.pathname} over WebSocket`);
      return;
    }
    const t = this.target(url, '/exec/');
    if (!t?.worker) {
      rejectUpgrade(socket, 404, 'Not Found', `pod "${t?.pod ?? ''}" is not running on node ${this.o.nodeName}`);
      return;
    }
    const q = url.searchParams;
    const command = q.getAll('command');
    if (command.length === 0) {
      rejectUpgrade(socket, 400, 'Bad Request', 'you must specify at least one command for the container');
      return;
    }
    const target = t.worker.execTarget(t.container);
    if (typeof target === 'string') {
      rejectUpgrade(socket, 400, 'Bad Request', target);
      return;
    }
    const offered = String(req.headers['sec-websocket-protocol'] ?? '')
      .split(',')
      .map((s) => s.trim());
    if (!subprotocols.some((p) => offered.includes(p))) {
      rejectUpgrade(
        socket,
        400,
        'Bad Request',
        `no supported subprotocol offered (supported: ${subprotocols.join(', ')})`,
      );
      return;
    }
    const flags = {
      stdin: q.get('stdin') === 'true',
      stdout: q.get('stdout') === 'true',
      stderr: q.get('stderr') === 'true',
      tty: q.get('tty') === 'true',
    };
    this.wss.handleUpgrade(req, socket, head, (ws) => this.exec(ws, target, command, flags));
  }

  private exec(
    ws: WebSocket,
    target: Exclude<ReturnType<PodWorker['execTarget']>, string>,
    command: string[],
    flags: { stdin: boolean; stdout: boolean; stderr: boolean; tty: boolean },
  ): void {
    const v5 = ws.protocol === 'v5.channel.k8s.io';
    const send = (channel: number, data: Buffer) => {
      if (ws.readyState === 1) ws.send(Buffer.concat([Buffer.from([channel]), data]));
    };
    // The first message tells the client the streams are ready.
    send(flags.stdout ? 1 : flags.stderr ? 2 : 3, Buffer.alloc(0));
    const child = execInContainer(target, command, { stdin: flags.stdin, tty: flags.tty });
    this.sessions.add(child);
    if (child.pid) this.o.records.add(child.pid, `exec ${command.join(' ')}`);
    const outputs: Promise<void>[] = [];
    const forward = (stream: NodeJS.ReadableStream | null, channel: number, wanted: boolean) => {
      if (!stream) return;
      outputs.push(
        new Promise((resolve) => {
          stream.on('data', (d: Buffer) => {
            if (wanted) send(channel, d);
          });
          stream.on('end', resolve);
          stream.on('error', () => resolve());
        }),
      );
    };
    forward(child.stdout, 1, flags.stdout);
    forward(child.stderr, flags.tty ? 1 : 2, flags.tty ? flags.stdout : flags.stderr);
    child.stdin?.on('error', () => {});
    ws.on('message', (data: Buffer) => {
      if (data.length === 0) return;
      const channel = data[0];
      if (channel === 0) child.stdin?.write(data.subarray(1));
      else if (channel === 255 && v5 && data[1] === 0) child.stdin?.end();
    });
    let finished = false;
    ws.on('close', () => {
      if (finished) return;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // gone
      }
    });
    ws.on('error', () => {});
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
      child.on('error', (error) => resolve({ code: null, signal: null, error }));
      child.on('exit', (code, signal) => resolve({ code, signal }));
    });
    void (async () => {
      const result = await exited;
      await Promise.race([Promise.all(outputs), new Promise((r) => setTimeout(r, 2000))]);
      finished = true;
      this.sessions.delete(child);
      if (child.pid) this.o.records.remove(child.pid);
      const code = result.code ?? (result.signal ? 128 + 9 : 1);
      const body = result.error
        ? { metadata: {}, status: 'Failure', message: result.error.message, reason: 'InternalError' }
        : code === 0
          ? { metadata: {}, status: 'Success' }
          : {
              metadata: {},
              status: 'Failure',
              message: `command terminated with non-zero exit code: error executing command [${command.join(' ')}], exit code ${code}`,
              reason: 'NonZeroExitCode',
              details: { causes: [{ reason: 'ExitCode', message: String(code) }] },
            };
      send(3, Buffer.from(JSON.stringify(body)));
      ws.close(1000);
    })();
  }
}
