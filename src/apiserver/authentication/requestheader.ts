// Front-proxy (request-header) authentication, as k8s.io/apiserver does it for aggregated
// servers: a client certificate signed by the request-header CA, whose CN is in the allowed
// names, vouches for the user named in X-Remote-User / X-Remote-Group / X-Remote-Extra-*.
// The headers are trusted only on such a connection and are removed after use.

import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { splitPEMBundle, withAuthenticatedGroup, type Authenticator, type UserInfo } from './authenticator.js';
import type { X509Certificate } from 'node:crypto';

export interface RequestHeaderConfig {
  /** PEM bundle of the front-proxy CA (`requestheader-client-ca-file`). */
  clientCAPem: string;
  /** Allowed client certificate CNs; empty allows any certificate the CA signed. */
  allowedNames: string[];
  usernameHeaders: string[];
  uidHeaders: string[];
  groupHeaders: string[];
  extraHeaderPrefixes: string[];
}

export const defaultRequestHeaderConfig: Omit<RequestHeaderConfig, 'clientCAPem'> = {
  allowedNames: ['front-proxy-client'],
  usernameHeaders: ['X-Remote-User'],
  uidHeaders: ['X-Remote-Uid'],
  groupHeaders: ['X-Remote-Group'],
  extraHeaderPrefixes: ['X-Remote-Extra-'],
};

function decodeExtraKey(rest: string): string {
  try {
    return decodeURIComponent(rest.toLowerCase());
  } catch {
    return rest.toLowerCase();
  }
}

export class RequestHeaderAuthenticator implements Authenticator {
  private readonly cas: X509Certificate[];

  constructor(private readonly config: RequestHeaderConfig) {
    this.cas = splitPEMBundle(config.clientCAPem);
  }

  /** True when the connection presents a front-proxy certificate this server trusts. */
  private trustedProxy(req: IncomingMessage): boolean {
    const socket = req.socket as TLSSocket;
    if (typeof socket.getPeerX509Certificate !== 'function' || !socket.authorized) return false;
    const peer = socket.getPeerX509Certificate();
    if (!peer) return false;
    const signed = this.cas.some((ca) => peer.checkIssued(ca) && peer.verify(ca.publicKey));
    if (!signed) return false;
    if (peer.keyUsage !== undefined && !peer.keyUsage.includes('1.3.6.1.5.5.7.3.2')) return false;
    if (this.config.allowedNames.length === 0) return true;
    const cn = /(?:^|\n)CN=([^\n]*)/.exec(peer.subject)?.[1];
    return cn !== undefined && this.config.allowedNames.includes(cn);
  }

  authenticate(req: IncomingMessage): UserInfo | undefined {
    const lower = (names: string[]) => names.map((n) => n.toLowerCase());
    const userHeaders = lower(this.config.usernameHeaders);
    const uidHeaders = lower(this.config.uidHeaders);
    const groupHeaders = lower(this.config.groupHeaders);
    const prefixes = lower(this.config.extraHeaderPrefixes);
    const isIdentityHeader = (h: string) =>
      userHeaders.includes(h) ||
      uidHeaders.includes(h) ||
      groupHeaders.includes(h) ||
      prefixes.some((p) => h.startsWith(p));
    const trusted = this.trustedProxy(req);
    const headers = req.headersDistinct;
    let user: UserInfo | undefined;
    if (trusted) {
      const username = userHeaders.map((h) => headers[h]?.[0]).find((v) => v);
      if (username) {
        const uid = uidHeaders.map((h) => headers[h]?.[0]).find((v) => v);
        const groups = groupHeaders.flatMap((h) => headers[h] ?? []);
        const extra: Record<string, string[]> = {};
        for (const [name, values] of Object.entries(headers)) {
          const prefix = prefixes.find((p) => name.startsWith(p));
          if (!prefix || !values) continue;
          const key = decodeExtraKey(name.slice(prefix.length));
          extra[key] = [...(extra[key] ?? []), ...values];
        }
        user = withAuthenticatedGroup({
          username,
          groups,
          ...(uid ? { uid } : {}),
          ...(Object.keys(extra).length ? { extra } : {}),
        });
      }
    }
    // Never let identity headers travel further, trusted or not (header spoofing).
    for (const name of Object.keys(req.headers)) if (isIdentityHeader(name)) delete req.headers[name];
    return user;
  }
}
