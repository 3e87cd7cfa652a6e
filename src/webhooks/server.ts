// The admission webhook server: HTTPS (HTTP/1.1, as kube-apiserver calls webhooks) on express 5,
// one POST path per webhook, /healthz /livez /readyz, /metrics, and a graceful shutdown. It only
// routes, decodes and encodes; each webhook's review decides. A review that cannot finish
// within the time the API server gives (`?timeout=Ns`, capped by the webhook's own
// timeoutSeconds) is answered with 500 a little before that, so the API server applies the
// configuration's failurePolicy instead of waiting for its own deadline.

import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { BadReviewError, decodeReview, encodeReview } from './review.js';
import type { AdmissionWebhook } from './webhook.js';

export interface ReadinessCheck {
  name: string;
  /** Throws (or rejects) with the reason when not ready. */
  check(): void | Promise<void>;
}

export interface WebhookServerOptions {
  webhooks: AdmissionWebhook[];
  certPem: string;
  keyPem: string;
  port: number;
  bindAddress: string;
  log: Pick<Logger, 'info' | 'warn' | 'error' | 'debug'>;
  readinessChecks?: ReadinessCheck[];
  /** The margin kept below the API server's timeout for the answer to travel back. Default 500 ms. */
  deadlineMarginMs?: number;
  /** How long readyz reports failure before the listener closes on shutdown. Default 0. */
  shutdownDelayMs?: number;
  /** How long in-flight reviews may take to finish on shutdown. Default 10 s. */
  shutdownGraceMs?: number;
  /** Metrics registry to add to (default: a new one with the process metrics). */
  registry?: Registry;
}

export interface RunningWebhookServer {
  url: string;
  port: number;
  registry: Registry;
  /** Serves new connections with this certificate; open connections keep theirs. */
  setCertificate(certPem: string, keyPem: string): void;
  /** readyz fails, the listener closes, in-flight reviews finish, connections close. */
  close(): Promise<void>;
}

/** The budget of one review in ms: the API server's `timeout` query (`10s`) or the webhook's own, less the margin. */
export function reviewBudgetMs(timeoutQuery: unknown, webhookTimeoutSeconds: number, marginMs: number): number {
  let seconds = webhookTimeoutSeconds;
  if (typeof timeoutQuery === 'string') {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(timeoutQuery);
    if (m) {
      const n = Number(m[1]);
      const asSeconds = m[2] === 'ms' ? n / 1000 : m[2] === 'm' ? n * 60 : n;
      seconds = Math.min(seconds, asSeconds);
    }
  }
  return Math.max(100, seconds * 1000 - marginMs);
}

class DeadlineError extends Error {}

function withDeadline<T>(value: T | Promise<T>, ms: number): Promise<T> {
  if (!(value instanceof Promise)) return Promise.resolve(value);
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    value,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new DeadlineError(`the review did not finish within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function failure(res: Response, code: number, message: string): void {
  res.status(code).json({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, code });
}

export function createWebhookApp(
  opts: Pick<WebhookServerOptions, 'webhooks' | 'log' | 'readinessChecks' | 'deadlineMarginMs'>,
  registry: Registry,
  isShuttingDown: () => boolean,
): express.Express {
  const requests = new Counter({
    name: 'upm_webhook_requests_total',
    help: 'Admission reviews answered, by webhook, whether the request was allowed, and HTTP code.',
    labelNames: ['webhook', 'allowed', 'code'],
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'upm_webhook_request_duration_seconds',
    help: 'Time to answer an admission review, by webhook.',
    labelNames: ['webhook'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const margin = opts.deadlineMarginMs ?? 500;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');

  for (const w of opts.webhooks) {
    app.post(w.path, express.json({ limit: '8mb' }), async (req: Request, res: Response) => {
      const end = latency.startTimer({ webhook: w.name });
      let code = 200;
      let allowed = '';
      try {
        let decoded;
        try {
          decoded = decodeReview(req.body);
        } catch (err) {
          if (!(err instanceof BadReviewError)) throw err;
          code = 400;
          return failure(res, 400, err.message);
        }
        const budget = reviewBudgetMs(req.query['timeout'], w.timeoutSeconds, margin);
        try {
          const response = await withDeadline(w.review(decoded.request), budget);
          allowed = String(response.allowed);
          res.json(encodeReview(decoded.apiVersion, { ...response, uid: decoded.request.uid }));
        } catch (err) {
          code = 500;
          opts.log.warn({ webhook: w.name, uid: decoded.request.uid, err: (err as Error).message }, 'review failed');
          failure(res, 500, `webhook ${w.name} could not review the request: ${(err as Error).message}`);
        }
      } finally {
        end();
        requests.inc({ webhook: w.name, allowed, code: String(code) });
      }
      return undefined;
    });
  }

  const ok = (res: Response, body: string, status = 200) =>
    res.status(status).type('text/plain; charset=utf-8').set('X-Content-Type-Options', 'nosniff').send(body);
  app.get(['/healthz', '/livez'], (_req, res) => ok(res, 'ok'));
  app.get('/readyz', async (req, res) => {
    const checks: ReadinessCheck[] = [
      {
        name: 'shutdown',
        check: () => {
          if (isShuttingDown()) throw new Error('process is shutting down');
        },
      },
      ...(opts.readinessChecks ?? []),
    ];
    const lines: string[] = [];
    let failed = false;
    for (const c of checks) {
      try {
        await c.check();
        lines.push(`[+]${c.name} ok`);
      } catch (err) {
        failed = true;
        lines.push(`[-]${c.name} failed: ${(err as Error).message}`);
      }
    }
    if ('verbose' in req.query || failed)
      return ok(res, `${lines.join('\n')}\nreadyz check ${failed ? 'failed' : 'passed'}\n`, failed ? 500 : 200);
    return ok(res, 'ok');
  });
  app.get('/metrics', async (_req, res) => {
    res.type(registry.contentType).send(await registry.metrics());
  });
  app.use((_req, res) => failure(res, 404, 'the server could not find the requested resource'));
  // Body parser errors (not JSON, too large) and anything unexpected.
  app.use((err: Error & { status?: number }, _req: Request, res: Response, _next: NextFunction) => {
    const status = err.status && err.status >= 400 && err.status < 500 ? err.status : 500;
    failure(res, status, status === 500 ? `internal error: ${err.message}` : err.message);
  });
  return app;
}

export async function startWebhookServer(opts: WebhookServerOptions): Promise<RunningWebhookServer> {
  const registry = opts.registry ?? new Registry();
  if (!opts.registry) collectDefaultMetrics({ register: registry });
  let shuttingDown = false;
  const app = createWebhookApp(opts, registry, () => shuttingDown);
  const server = https.createServer(
    { cert: opts.certPem, key: opts.keyPem, minVersion: 'TLSv1.2', ALPNProtocols: ['http/1.1'] },
    app,
  );
  // kube-apiserver keeps webhook connections open; close idle ones after a minute, not 5 s.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 70_000;
  server.requestTimeout = 60_000;
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.bindAddress, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = opts.bindAddress.includes(':') ? `[${opts.bindAddress}]` : opts.bindAddress;
  opts.log.info({ port, webhooks: opts.webhooks.map((w) => w.path) }, 'webhook server listening');
  let closing: Promise<void> | undefined;
  return {
    url: `https://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`,
    port,
    registry,
    setCertificate(certPem, keyPem) {
      server.setSecureContext({ cert: certPem, key: keyPem, minVersion: 'TLSv1.2' });
    },
    close() {
      closing ??= (async () => {
        shuttingDown = true;
        if (opts.shutdownDelayMs) await new Promise((r) => setTimeout(r, opts.shutdownDelayMs));
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const grace = setTimeout(() => server.closeAllConnections(), opts.shutdownGraceMs ?? 10_000);
        await closed;
        clearTimeout(grace);
        for (const s of sockets) s.destroy();
      })();
      return closing;
    },
  };
}
