// A real HTTPS admission webhook for tests and local experiments: it records every
// AdmissionReview it receives and answers with scripted responses per path.

import https from 'node:https';
import net from 'node:net';
import type { IncomingHttpHeaders } from 'node:http';
import { createCA, issueServingCert, type CertKeyPair } from '../../../pki/certs.js';
import { encodeCABundle, type AdmissionResponse, type AdmissionReview } from '../types.js';

export interface RecordedReview {
  path: string;
  headers: IncomingHttpHeaders;
  review: AdmissionReview;
}

/** What a scripted webhook answers. `uid` and the envelope are filled in unless overridden. */
export interface WebhookReply {
  allowed?: boolean;
  status?: AdmissionResponse['status'];
  /** JSON patch operations; sent base64-encoded with patchType JSONPatch. */
  patch?: unknown[];
  /** Overrides patchType (null omits it). */
  patchType?: string | null;
  /** Raw response.patch (already base64), instead of `patch`. */
  rawPatch?: string;
  warnings?: string[];
  auditAnnotations?: Record<string, string>;
  /** Answer with this uid instead of the request's. */
  uid?: string;
  /** Envelope overrides. */
  apiVersion?: string;
  kind?: string;
  /** Wait before answering. */
  delayMs?: number;
  /** Answer with this HTTP status and body instead of an AdmissionReview. */
  raw?: { status: number; body: string };
}

export type Responder = (review: AdmissionReview, path: string) => WebhookReply | Promise<WebhookReply>;

export interface FakeWebhookServerOptions {
  /** Signing CA; a new one by default. */
  ca?: CertKeyPair;
  dnsNames?: string[];
  ipAddresses?: string[];
}

export class FakeWebhookServer {
  readonly reviews: RecordedReview[] = [];
  private readonly responders = new Map<string, Responder>();
  private constructor(
    private readonly server: https.Server,
    readonly ca: CertKeyPair,
    readonly port: number,
  ) {}

  static async start(opts: FakeWebhookServerOptions = {}): Promise<FakeWebhookServer> {
    const ca = opts.ca ?? createCA('admission-test-ca');
    const serving = issueServingCert(ca, {
      commonName: 'webhook',
      dnsNames: opts.dnsNames ?? ['hook.webhooks.svc', 'localhost'],
      ipAddresses: opts.ipAddresses ?? ['127.0.0.1'],
    });
    const ref: { self?: FakeWebhookServer } = {};
    const server = https.createServer({ cert: serving.certPem, key: serving.keyPem }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        void ref.self!.answer(req.url ?? '/', req.headers, Buffer.concat(chunks).toString('utf8')).then(
          ({ status, body }) => {
            if (res.destroyed) return;
            res.writeHead(status, { 'Content-Type': 'application/json' });
            res.end(body);
          },
          () => {
            if (!res.destroyed) res.destroy();
          },
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    ref.self = new FakeWebhookServer(server, ca, (server.address() as net.AddressInfo).port);
    return ref.self;
  }

  /** base64 PEM of the signing CA, for clientConfig.caBundle. */
  get caBundle(): string {
    return encodeCABundle(this.ca.certPem);
  }

  /** Scripts the answers for a path (without query). */
  on(path: string, responder: Responder): this {
    this.responders.set(path, responder);
    return this;
  }

  /** Reviews received on a path (without query). */
  received(path: string): AdmissionReview[] {
    return this.reviews.filter((r) => r.path.split('?')[0] === path).map((r) => r.review);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async answer(
    url: string,
    headers: IncomingHttpHeaders,
    body: string,
  ): Promise<{ status: number; body: string }> {
    const review = JSON.parse(body) as AdmissionReview;
    this.reviews.push({ path: url, headers, review });
    const responder = this.responders.get(url.split('?')[0]);
    if (!responder)
      return {
        status: 404,
        body: JSON.stringify({
          kind: 'Status',
          apiVersion: 'v1',
          status: 'Failure',
          message: `no webhook at ${url}`,
          code: 404,
        }),
      };
    const reply = await responder(review, url);
    if (reply.delayMs) await new Promise((r) => setTimeout(r, reply.delayMs));
    if (reply.raw) return reply.raw;
    const response: Record<string, unknown> = { uid: reply.uid ?? review.request?.uid, allowed: reply.allowed ?? true };
    if (reply.status) response['status'] = reply.status;
    if (reply.patch) {
      response['patch'] = Buffer.from(JSON.stringify(reply.patch)).toString('base64');
      response['patchType'] = 'JSONPatch';
    }
    if (reply.rawPatch !== undefined) response['patch'] = reply.rawPatch;
    if (reply.patchType !== undefined) {
      if (reply.patchType === null) delete response['patchType'];
      else response['patchType'] = reply.patchType;
    }
    if (reply.warnings) response['warnings'] = reply.warnings;
    if (reply.auditAnnotations) response['auditAnnotations'] = reply.auditAnnotations;
    return {
      status: 200,
      body: JSON.stringify({
        apiVersion: reply.apiVersion ?? review.apiVersion,
        kind: reply.kind ?? 'AdmissionReview',
        response,
      }),
    };
  }
}

/** A loopback port nothing listens on. */
export async function closedPort(): Promise<number> {
  // A port freed a moment ago can be taken by any other test process before it is dialled; port 1
  // (tcpmux) is privileged and unused, so it stays closed. Checked, with the old way as a fallback.
  const refused = await new Promise<boolean>((resolve) => {
    const c = net.connect(1, '127.0.0.1');
    c.once('connect', () => (c.destroy(), resolve(false)));
    c.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
  if (refused) return 1;
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}
