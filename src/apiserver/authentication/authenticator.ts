// Request authentication. x509 client certificates verified against --client-ca-file give the
// user (CN) and groups (O); every authenticated user also gets system:authenticated, as
// k8s.io/apiserver's group adder does. Front-proxy headers and TokenReview come with the
// local control plane.

import type { IncomingMessage } from 'node:http';
import { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';

export interface UserInfo {
  username: string;
  uid?: string;
  groups: string[];
  extra?: Record<string, string[]>;
}

export const anonymousUser: UserInfo = { username: 'system:anonymous', groups: ['system:unauthenticated'] };

export interface Authenticator {
  /** The user making the request, or undefined when no credential was presented. */
  authenticate(req: IncomingMessage): UserInfo | undefined;
}

function asList(v: string | string[] | undefined): string[] {
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}

/** Users from client certificates signed by one of the --client-ca-file CAs. The TLS layer may
 * trust more CAs (the front-proxy CA), so the issuer is checked here too. */
export class X509Authenticator implements Authenticator {
  private readonly cas: X509Certificate[];
  /** A TLS connection's client certificate cannot change: verify it once per connection. */
  private readonly byConnection = new WeakMap<TLSSocket, UserInfo | null>();

  constructor(clientCAPem: string) {
    this.cas = splitPEMBundle(clientCAPem);
  }

  authenticate(req: IncomingMessage): UserInfo | undefined {
    const socket = req.socket as TLSSocket;
    const known = this.byConnection.get(socket);
    if (known !== undefined) return known ?? undefined;
    const user = this.fromCertificate(socket);
    this.byConnection.set(socket, user ?? null);
    return user;
  }

  private fromCertificate(socket: TLSSocket): UserInfo | undefined {
    if (typeof socket.getPeerCertificate !== 'function' || !socket.authorized) return undefined;
    const peer = socket.getPeerX509Certificate();
    if (!peer || !this.cas.some((ca) => peer.checkIssued(ca) && peer.verify(ca.publicKey))) return undefined;
    const cert = socket.getPeerCertificate();
    if (!cert || !cert.subject) return undefined;
    const cn = asList(cert.subject.CN)[0];
    if (!cn) return undefined;
    return withAuthenticatedGroup({ username: cn, groups: asList(cert.subject.O) });
  }
}

export function splitPEMBundle(pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((b) => new X509Certificate(b));
}

export function withAuthenticatedGroup(user: UserInfo): UserInfo {
  if (user.groups.includes('system:authenticated')) return user;
  return { ...user, groups: [...user.groups, 'system:authenticated'] };
}

/** Tries each authenticator in order. */
export class UnionAuthenticator implements Authenticator {
  constructor(private readonly authenticators: Authenticator[]) {}

  authenticate(req: IncomingMessage): UserInfo | undefined {
    for (const a of this.authenticators) {
      const user = a.authenticate(req);
      if (user) return user;
    }
    return undefined;
  }
}
