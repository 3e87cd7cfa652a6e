// pods/log and pods/exec as kube-apiserver serves them: checked here (the container exists, one
// is named when there are several), then proxied to the kubelet endpoint of the Pod's node
// (status.addresses InternalIP, status.daemonEndpoints.kubeletEndpoint.Port) with the control
// plane's client certificate (kube-apiserver's --kubelet-client-certificate).
//
// exec arrives as a WebSocket upgrade (kubectl 1.30+); node:https hands upgrades to an 'upgrade'
// listener instead of the request handler, so this module authenticates and authorizes them
// itself, with the server's authenticators and authorizer, and then joins the two connections.
// SPDY (a POST with Upgrade: SPDY/3.1) is refused with a Status saying why, as are attach and
// portforward.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server } from 'node:https';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { request as httpsRequest } from 'node:https';
import type { Logger } from 'pino';
import type { Authenticator, UserInfo } from '../apiserver/authentication/authenticator.js';
import { attributesFromRequest } from '../apiserver/authorization/attributes.js';
import { forbiddenError } from '../apiserver/authorization/authorizer.js';
import type { AsyncAuthorizer } from '../apiserver/authorization/delegating.js';
import { writeError } from '../apiserver/endpoints/http.js';
import { parseRequestInfo, type RequestInfo } from '../apiserver/endpoints/requestinfo.js';
import type { APIRegistry } from '../apiserver/registry/registry.js';
import type { RequestDelegate } from '../apiserver/server.js';
import { badRequest, isStatusError, StatusError, type StatusReason } from '../machinery/errors.js';
import type { CertKeyPair } from '../pki/certs.js';
import { unservedSubresource } from './unserved.js';

type Obj = Record<string, any>;

export interface KubeletProxyOptions {
  registry: () => APIRegistry | undefined;
  /** The client certificate presented to kubelets. */
  client: CertKeyPair;
  authenticators: Authenticator[];
  authorizer?: AsyncAuthorizer;
  log: Logger;
}

interface Target {
  host: string;
  port: number;
  path: string;
}

const notSupported = (what: string) =>
  badRequest(
    `${what} is not supported by this control plane: kubectl exec needs kubectl 1.30 or newer (the WebSocket protocol; not with KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false)`,
  );

export class KubeletProxy implements RequestDelegate {
  constructor(private readonly o: KubeletProxyOptions) {}

  /** Serves pods/log; refuses SPDY exec, attach and portforward. */
  async handle(req: IncomingMessage, res: ServerResponse, info: RequestInfo, url: URL): Promise<boolean> {
    if (!info.isResourceRequest || info.apiGroup !== '' || info.resource !== 'pods') return false;
    if (info.subresource === 'exec' || info.subresource === 'attach') {
      const earlier = this.refused.get(this.refusalKey(req));
      if (earlier && Date.now() - earlier.at < 10_000) {
        writeError(res, earlier.error);
        return true;
      }
      writeError(res, notSupported(`pods/${info.subresource} over SPDY`));
      return true;
    }
    if (info.subresource === 'portforward') {
      writeError(res, badRequest('pods/portforward is not supported by this control plane'));
      return true;
    }
    if (info.subresource !== 'log') return false;
    try {
      const target = await this.target(info, url, 'containerLogs', [
        'follow',
        'previous',
        'timestamps',
        'sinceSeconds',
        'sinceTime',
        'tailLines',
        'limitBytes',
      ]);
      if (!target) {
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.end();
        return true;
      }
      await this.proxyLogs(target, req, res);
    } catch (err) {
      if (!res.headersSent) writeError(res, err);
      else res.destroy();
    }
    return true;
  }

  private async proxyLogs(t: Target, req: IncomingMessage, res: ServerResponse): Promise<void> {
    await new Promise<void>((resolve) => {
      const upstream = httpsRequest(
        {
          host: t.host,
          port: t.port,
          path: t.path,
          method: 'GET',
          cert: this.o.client.certPem,
          key: this.o.client.keyPem,
          rejectUnauthorized: false,
        },
        (up) => {
          const code = up.statusCode ?? 500;
          if (code >= 300) {
            let body = '';
            up.setEncoding('utf8');
            up.on('data', (d: string) => (body += d));
            up.on('end', () => {
              writeError(res, kubeletError(code, body));
              resolve();
            });
            return;
          }
          res.writeHead(200, { 'Content-Type': 'text/plain', 'Cache-Control': 'no-cache' });
          res.flushHeaders();
          up.pipe(res);
          up.on('end', () => resolve());
          up.on('error', () => resolve());
        },
      );
      upstream.on('error', (err) => {
        if (!res.headersSent)
          writeError(res, new StatusError(500, 'InternalError', `error dialing the kubelet: ${err.message}`));
        else res.destroy();
        resolve();
      });
      req.on('close', () => upstream.destroy());
      res.on('close', () => upstream.destroy());
      upstream.end();
    });
  }

  /** The kubelet URL for a pod subresource; undefined for a Pod no node runs yet. */
  private async target(info: RequestInfo, url: URL, kind: string, params: string[]): Promise<Target | undefined> {
    const registry = this.o.registry();
    const pods = registry?.lookup('', 'v1', 'pods');
    const nodes = registry?.lookup('', 'v1', 'nodes');
    if (!pods || !nodes) throw new StatusError(503, 'ServiceUnavailable', 'the control plane is starting');
    const pod = (await pods.store.get(info.namespace, info.name)) as Obj;
    const spec = pod['spec'] ?? {};
    const containers = ((spec.containers ?? []) as Obj[]).map((c) => String(c['name']));
    const inits = ((spec.initContainers ?? []) as Obj[]).map((c) => String(c['name']));
    let container = url.searchParams.get('container') ?? '';
    if (!container) {
      const annotated = pod['metadata']?.annotations?.['kubectl.kubernetes.io/default-container'];
      if (containers.length === 1) container = containers[0];
      else if (annotated && containers.includes(annotated)) container = annotated;
      else
        throw badRequest(
          `a container name must be specified for pod ${info.name}, choose one of: [${containers.join(' ')}]${inits.length ? ` or one of the init containers: [${inits.join(' ')}]` : ''}`,
        );
    }
    if (!containers.includes(container) && !inits.includes(container))
      throw badRequest(`container ${container} is not valid for pod ${info.name}`);
    const nodeName = spec.nodeName;
    if (!nodeName) return undefined;
    let node: Obj;
    try {
      node = (await nodes.store.get('', nodeName)) as Obj;
    } catch {
      throw badRequest(`pod ${info.name} is bound to node ${nodeName}, which does not exist`);
    }
    if (node['metadata']?.annotations?.['upm.io/simulated'] === 'true') {
      const unserved = unservedSubresource(info);
      throw new StatusError(
        unserved.code,
        unserved.reason,
        `${unserved.message}; pod ${info.name} runs on simulated node ${nodeName}: no process runs for its containers (their images are not in the node runtime's image table)`,
        unserved.details,
      );
    }
    const host = ((node['status']?.addresses ?? []) as Obj[]).find((a) => a['type'] === 'InternalIP')?.['address'];
    const port = node['status']?.daemonEndpoints?.kubeletEndpoint?.Port;
    if (!host || !port) throw new StatusError(500, 'InternalError', `node ${nodeName} has no kubelet endpoint`);
    const query = new URLSearchParams();
    for (const [k, v] of url.searchParams) if (params.includes(k)) query.append(k, v);
    const path = `/${kind}/${encodeURIComponent(info.namespace)}/${encodeURIComponent(info.name)}/${encodeURIComponent(container)}`;
    const q = query.toString();
    return { host: String(host), port: Number(port), path: q ? `${path}?${q}` : path };
  }

  /** For the server's 'upgrade' event: pods/exec over WebSocket, authenticated and authorized here. */
  attach(server: Server): void {
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on('error', () => socket.destroy());
      void this.upgrade(req, socket, head).catch((err: unknown) => {
        const se = isStatusError(err)
          ? err
          : new StatusError(500, 'InternalError', (err as Error)?.message ?? String(err));
        if (String(req.headers.upgrade ?? '').toLowerCase() === 'websocket') this.remember(req, se);
        writeRaw(socket, se);
      });
    });
  }

  /**
   * kubectl retries a refused WebSocket exec over SPDY; that request gets the same answer instead
   * of a second, confusing error (what kube-apiserver's translator would have said).
   */
  private readonly refused = new Map<string, { error: StatusError; at: number }>();

  private refusalKey(req: IncomingMessage): string {
    const url = new URL(req.url ?? '/', 'https://local');
    const q = [...url.searchParams].filter(([k]) => k === 'command' || k === 'container').map(([k, v]) => `${k}=${v}`);
    return `${req.socket.remoteAddress}|${url.pathname}|${q.join('&')}`;
  }

  private remember(req: IncomingMessage, error: StatusError): void {
    const now = Date.now();
    for (const [k, v] of this.refused) if (now - v.at > 10_000) this.refused.delete(k);
    this.refused.set(this.refusalKey(req), { error, at: now });
  }

  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://local');
    const info = parseRequestInfo(req.method ?? 'GET', url.pathname, url.searchParams);
    let user: UserInfo | undefined;
    for (const a of this.o.authenticators) {
      user = a.authenticate(req);
      if (user) break;
    }
    if (!user) throw new StatusError(401, 'Unauthorized', 'Unauthorized');
    if (this.o.authorizer) {
      const attrs = attributesFromRequest(user, info, url.searchParams);
      const result = await this.o.authorizer.authorize(attrs);
      if (result.decision !== 'Allow') throw forbiddenError(attrs, result.reason);
    }
    const podSubresource = info.isResourceRequest && info.apiGroup === '' && info.resource === 'pods';
    if (podSubresource && String(req.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
      // kubectl's SPDY retry after a refused WebSocket gets the first answer again.
      const earlier = this.refused.get(this.refusalKey(req));
      if (earlier && Date.now() - earlier.at < 10_000) throw earlier.error;
      throw notSupported(`pods/${info.subresource} over ${String(req.headers.upgrade ?? 'HTTP')}`);
    }
    if (!podSubresource || info.subresource !== 'exec')
      throw badRequest(`${url.pathname} cannot be upgraded: only pods/exec is served over WebSocket`);
    const target = await this.target(info, url, 'exec', ['command', 'stdin', 'stdout', 'stderr', 'tty']);
    if (!target) throw badRequest(`pod ${info.name} is not scheduled to a node yet`);
    const upstream: TLSSocket = tlsConnect({
      host: target.host,
      port: target.port,
      cert: this.o.client.certPem,
      key: this.o.client.keyPem,
      rejectUnauthorized: false,
    });
    await new Promise<void>((resolve, reject) => {
      upstream.once('secureConnect', () => resolve());
      upstream.once('error', reject);
    });
    const skip = new Set(['host', 'authorization', 'content-length']);
    const lines = [`GET ${target.path} HTTP/1.1`, `Host: ${target.host}:${target.port}`];
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const name = req.rawHeaders[i];
      const lower = name.toLowerCase();
      if (skip.has(lower) || lower.startsWith('impersonate-')) continue;
      lines.push(`${name}: ${req.rawHeaders[i + 1]}`);
    }
    upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (head.length > 0) upstream.write(head);
    // The kubelet's answer: 101 joins the connections; anything else is a Status for the client.
    const response = await readResponseHead(upstream);
    if (response.code !== 101) {
      upstream.destroy();
      throw kubeletError(response.code, response.body);
    }
    socket.write(response.raw);
    upstream.on('error', () => socket.destroy());
    socket.on('close', () => upstream.destroy());
    upstream.on('close', () => socket.destroy());
    upstream.pipe(socket);
    socket.pipe(upstream);
  }
}

/** Reads an HTTP response head (and a non-101 body) from a socket; unshifts what follows a 101. */
function readResponseHead(socket: TLSSocket): Promise<{ code: number; raw: Buffer; body: string }> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const headText = buf.subarray(0, end).toString('latin1');
      const code = Number(/^HTTP\/1\.[01] (\d{3})/.exec(headText)?.[1] ?? 500);
      if (code === 101) {
        socket.off('data', onData);
        socket.pause();
        const rest = buf.subarray(end + 4);
        if (rest.length > 0) socket.unshift(rest);
        resolve({ code, raw: buf.subarray(0, end + 4), body: '' });
        return;
      }
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(headText)?.[1] ?? NaN);
      const body = buf.subarray(end + 4);
      if (Number.isNaN(length) || body.length >= length) {
        socket.off('data', onData);
        resolve({ code, raw: buf, body: body.toString('utf8') });
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.once('end', () => resolve({ code: 502, raw: buf, body: 'the kubelet closed the connection' }));
  });
}

function kubeletError(code: number, body: string): StatusError {
  try {
    const status = JSON.parse(body) as Obj;
    if (status['message'])
      return new StatusError(code, (status['reason'] ?? 'BadRequest') as StatusReason, String(status['message']));
  } catch {
    // plain text
  }
  return new StatusError(code, code === 404 ? 'NotFound' : code === 400 ? 'BadRequest' : 'InternalError', body.trim());
}

/** An error as an HTTP response on a socket that has not been upgraded. */
function writeRaw(socket: Duplex, err: unknown): void {
  const se = isStatusError(err) ? err : new StatusError(500, 'InternalError', (err as Error)?.message ?? String(err));
  const body = JSON.stringify(se.toStatus());
  socket.end(
    `HTTP/1.1 ${se.code} ${se.reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
