// One server behind an APIService: how to reach it over TLS (verified against the APIService's
// caBundle, with the Service's DNS name as the server name) with the front-proxy client
// certificate, as kube-aggregator's proxy and availability controller reach it.

import { Agent, request, type RequestOptions } from 'node:https';
import type { IncomingMessage } from 'node:http';

export interface BackendTarget {
  host: string;
  port: number;
  /** TLS server name: `<service>.<namespace>.svc`. */
  servername: string;
  /** PEM of the CA that signed the backend's serving certificate; undefined with insecureSkipTLSVerify. */
  caPem?: string;
}

export interface FrontProxyIdentity {
  certPem: string;
  keyPem: string;
}

export interface Caller {
  username: string;
  uid?: string;
  groups: string[];
  extra?: Record<string, string[]>;
}

/** X-Remote-* headers carrying the caller, extra keys escaped as client-go escapes them. */
export function identityHeaders(user: Caller): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = { 'X-Remote-User': user.username, 'X-Remote-Group': user.groups };
  if (user.uid) headers['X-Remote-Uid'] = user.uid;
  for (const [key, values] of Object.entries(user.extra ?? {})) {
    headers[`X-Remote-Extra-${encodeURIComponent(key).replace(/%2F/g, '%2f')}`] = values;
  }
  return headers;
}

export class Backend {
  readonly agent: Agent;

  constructor(
    readonly target: BackendTarget,
    proxy: FrontProxyIdentity,
  ) {
    this.agent = new Agent({
      keepAlive: true,
      cert: proxy.certPem,
      key: proxy.keyPem,
      ...(target.caPem ? { ca: target.caPem, rejectUnauthorized: true } : { rejectUnauthorized: false }),
      servername: target.servername,
    });
  }

  requestOptions(method: string, path: string, headers: Record<string, string | string[]>): RequestOptions {
    return {
      host: this.target.host,
      port: this.target.port,
      method,
      path,
      headers,
      agent: this.agent,
      servername: this.target.servername,
    };
  }

  /** A complete request with a bounded time, for probes and document downloads. */
  fetch(
    path: string,
    user: Caller,
    accept: string,
    timeoutMs = 5000,
  ): Promise<{ status: number; headers: IncomingMessage['headers']; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const req = request(this.requestOptions('GET', path, { Accept: accept, ...identityHeaders(user) }), (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      });
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
