// Assembles the API server: TLS serving, authentication, health, version, metrics, discovery,
// OpenAPI and the generic REST handler over an APIRegistry.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer as createHTTPSServer, type Server as HTTPSServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Store } from '../storage/interface.js';
import { anonymousUser, X509Authenticator, type Authenticator, type UserInfo } from './authentication/authenticator.js';
import { attributesFromRequest } from './authorization/attributes.js';
import { forbiddenError } from './authorization/authorizer.js';
import type { AsyncAuthorizer } from './authorization/delegating.js';
import { DiscoveryService } from './discovery/discovery.js';
import { badRequest, pathNotFound, unauthorized } from '../machinery/errors.js';
import { toStatusError, writeError, writeJSON } from './endpoints/http.js';
import { parseRequestInfo, type RequestInfo } from './endpoints/requestinfo.js';
import { ResourceHandler } from './endpoints/resources.js';
import { defaultWatchSettings, type WatchSettings } from './endpoints/watch.js';
import { GarbageCollector } from './gc/collector.js';
import { HealthEndpoints } from './health.js';
import { APIMetrics, instrumentStore } from './metrics.js';
import type { AuditLevel, AuditLogger } from './audit/audit.js';
import { OpenAPIService } from './openapi/handlers.js';
import { APIRegistry, type ResourceRegistration } from './registry/registry.js';
import { versionInfo, type VersionInfo } from './version.js';
import { watchCacheDecorator } from './watchcache/decorator.js';

export interface TLSConfig {
  certPem: string;
  keyPem: string;
  /** CA bundle that client certificates are verified against (--client-ca-file). */
  clientCAPem?: string;
  /** Front-proxy CA bundle (--requestheader-client-ca-file); trusted only for request headers. */
  requestHeaderCAPem?: string;
}

export interface APIServerOptions {
  store: Store;
  resources: ResourceRegistration[];
  logger: Logger;
  tls: TLSConfig;
  bindAddress: string;
  /** 0 picks a free port. */
  port: number;
  /** Requests without a credential are served as system:anonymous instead of 401. */
  anonymousAuth?: boolean;
  watch?: Partial<WatchSettings>;
  /** Extra authenticators tried before x509 (front proxy, tokens). */
  authenticators?: Authenticator[];
  /** Answers requests before the built-in handlers (the aggregation proxy); runs after
   * authentication and authorization. */
  delegate?: RequestDelegate;
  /** Decides every request after authentication; without one, every authenticated user may do
   * anything (the single-user local mode). */
  authorizer?: AsyncAuthorizer;
  /** The /version document; upm-engine's own version by default. */
  version?: VersionInfo;
  /**
   * Runs the owner-reference garbage collector over the served resources (default true). Off when
   * a cluster's kube-controller-manager collects them (it finds upm.io through discovery): two
   * collectors would race over the orphan and foregroundDeletion finalizers.
   */
  garbageCollector?: boolean;
  /** One audit.k8s.io/v1 Event per request, at the level its policy gives. */
  audit?: AuditLogger;
}

export interface RequestDelegate {
  /** Answers the request and returns true, or returns false to let the server handle it. */
  handle(req: IncomingMessage, res: ServerResponse, info: RequestInfo, url: URL): Promise<boolean>;
}

export interface RunningAPIServer {
  url: string;
  discovery: DiscoveryService;
  openapi: OpenAPIService;
  port: number;
  registry: APIRegistry;
  collector: GarbageCollector | undefined;
  metrics: APIMetrics;
  health: HealthEndpoints;
  server: HTTPSServer;
  /** Stops accepting requests, ends open watches and waits for the server to close. */
  close(): Promise<void>;
}

/** The API groups a server serves, for its start-up line (`core` for the legacy group). */
function groupNames(registry: APIRegistry): string[] {
  return [...new Set(registry.groupVersions().map((gv) => gv.group || 'core'))];
}

/** Paths any caller may read, as kube's default `system:public-info-viewer` grants. */
const publicPaths = /^\/(healthz|livez|readyz)(\/.*)?$|^\/version\/?$/;

declare module 'node:http' {
  interface IncomingMessage {
    user?: UserInfo;
    requestInfo?: RequestInfo;
  }
}

export async function startAPIServer(opts: APIServerOptions): Promise<RunningAPIServer> {
  const version = opts.version ?? versionInfo();
  const metrics = new APIMetrics();
  const store = instrumentStore(opts.store, metrics);
  const registry = new APIRegistry(store, opts.resources, { decorator: watchCacheDecorator() });
  const discovery = new DiscoveryService(registry.definitions());
  const openapi = new OpenAPIService(registry.definitions());
  const health = new HealthEndpoints();
  health.addReadinessCheck({ name: 'storage', check: async () => void (await opts.store.currentRevision()) });
  const authenticators: Authenticator[] = [
    ...(opts.authenticators ?? []),
    ...(opts.tls.clientCAPem ? [new X509Authenticator(opts.tls.clientCAPem)] : []),
  ];
  const watchSettings = { ...defaultWatchSettings, ...(opts.watch ?? {}) };
  const resources = new ResourceHandler(registry, {
    watch: watchSettings,
    onWatchCount: (group, resource, delta) => metrics.watches.inc({ group, resource }, delta),
  });
  const log = opts.logger;

  // One request listener: the filter chain (request info, audit id, metrics, authentication,
  // authorization) and then the routes. Plain node:http instead of express, which cost ~10% of
  // a GET's CPU (router mount-path handling) for two middlewares and two routes.
  const handleRequest = (req: IncomingMessage, res: ServerResponse): void => {
    try {
      filter(req, res);
    } catch (err) {
      log.error({ err, path: req.url }, 'request failed');
      if (!res.headersSent) writeError(res, err);
      else res.destroy();
    }
  };

  const filter = (req: IncomingMessage, res: ServerResponse): void => {
    const started = process.hrtime.bigint();
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'https://local');
    } catch {
      writeError(res, badRequest(`invalid request path: ${req.url ?? ''}`));
      return;
    }
    const info = parseRequestInfo(req.method ?? 'GET', url.pathname, url.searchParams);
    req.requestInfo = info;
    const auditID = crypto.randomUUID();
    res.setHeader('Audit-Id', auditID);
    let auditLevel: AuditLevel = 'None';
    res.on('finish', () => {
      if (auditLevel !== 'None') recordAudit(req, res, info, url, auditID, auditLevel, started);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const labels = {
        verb: info.verb.toUpperCase(),
        group: info.apiGroup,
        version: info.apiVersion,
        resource: info.resource,
        subresource: info.subresource,
      };
      metrics.requests.inc({ ...labels, code: String(res.statusCode) });
      if (info.verb !== 'watch') metrics.latency.observe(labels, seconds);
      log.debug(
        {
          method: req.method,
          path: url.pathname,
          code: res.statusCode,
          user: req.user?.username,
          ms: Math.round(seconds * 1000),
        },
        'request',
      );
    });
    let user: UserInfo | undefined;
    for (const a of authenticators) {
      user = a.authenticate(req);
      if (user) break;
    }
    if (!user && !publicPaths.test(url.pathname) && !opts.anonymousAuth) {
      writeError(res, unauthorized());
      return;
    }
    req.user = user ?? anonymousUser;
    if (opts.audit) {
      auditLevel = opts.audit.level(auditSubject(req, info, url));
      req.captureBody = auditLevel === 'Request' || auditLevel === 'RequestResponse';
    }
    if (!opts.authorizer) {
      void route(req, res, url);
      return;
    }
    const attrs = attributesFromRequest(req.user, info, url.searchParams);
    Promise.resolve(opts.authorizer.authorize(attrs)).then(
      (result) => {
        if (result.decision === 'Allow') return route(req, res, url);
        if (result.error) log.warn({ error: result.error, user: req.user?.username }, 'authorization error');
        writeError(res, forbiddenError(attrs, result.reason));
      },
      (err: unknown) => writeError(res, err),
    );
  };

  const auditSubject = (req: IncomingMessage, info: RequestInfo, url: URL) => ({
    verb: info.verb,
    requestURI: `${url.pathname}${url.search}`,
    user: { username: req.user?.username ?? '', uid: req.user?.uid, groups: req.user?.groups ?? [] },
    resource: info.isResourceRequest
      ? {
          apiGroup: info.apiGroup,
          apiVersion: info.apiVersion,
          resource: info.resource,
          subresource: info.subresource || undefined,
          namespace: info.namespace || undefined,
          name: info.name || undefined,
        }
      : undefined,
  });

  const recordAudit = (
    req: IncomingMessage,
    res: ServerResponse,
    info: RequestInfo,
    url: URL,
    auditID: string,
    level: AuditLevel,
    started: bigint,
  ): void => {
    const completed = new Date();
    const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
    let requestObject: unknown;
    if (req.capturedBody) {
      try {
        requestObject = JSON.parse(req.capturedBody.toString('utf8'));
      } catch {
        requestObject = undefined; // YAML or protobuf bodies are not copied into the audit log
      }
    }
    opts.audit!.record(
      {
        ...auditSubject(req, info, url),
        auditID,
        sourceIPs: [req.socket.remoteAddress ?? ''],
        userAgent: req.headers['user-agent'],
        code: res.statusCode,
        received: new Date(completed.getTime() - elapsedMs),
        completed,
        requestObject,
      },
      level,
    );
  };

  const route = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const path = url.pathname;
    const reading = req.method === 'GET' || req.method === 'HEAD';
    try {
      if (reading && (path === '/version' || path === '/version/')) {
        writeJSON(res, 200, version);
        return;
      }
      if (reading && path === '/metrics') {
        const text = await metrics.registry.metrics();
        res.writeHead(200, { 'Content-Type': metrics.registry.contentType });
        res.end(text);
        return;
      }
      const healthCode = await health.handle(req, res, path, url.searchParams);
      if (healthCode !== undefined) return;
      if (opts.delegate && (await opts.delegate.handle(req, res, req.requestInfo!, url))) return;
      if (path.startsWith('/openapi/') || path === '/swagger-2.0.0.pb-v1') {
        if (openapi.handle(req, res, path, url.searchParams) !== undefined) return;
        throw pathNotFound();
      }
      const info = req.requestInfo!;
      if (info.apiPrefix && !info.isResourceRequest) {
        if (!reading) throw pathNotFound();
        const segments = path.split('/').filter(Boolean);
        if (discovery.handle(req, res, segments) !== undefined) return;
        throw pathNotFound();
      }
      if (info.isResourceRequest) {
        await resources.handle(req, res, info, url.searchParams);
        return;
      }
      throw pathNotFound();
    } catch (err) {
      const se = toStatusError(err);
      if (se.code >= 500) log.error({ err, path }, 'request failed');
      writeError(res, se);
    }
  };

  const server = createHTTPSServer(
    {
      cert: opts.tls.certPem,
      key: opts.tls.keyPem,
      ...(opts.tls.clientCAPem || opts.tls.requestHeaderCAPem
        ? { ca: [opts.tls.clientCAPem, opts.tls.requestHeaderCAPem].filter(Boolean).join('\n') }
        : {}),
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
    },
    handleRequest,
  );
  // Watches are long-running; kube-apiserver does not time out idle keep-alive streams either.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  server.keepAliveTimeout = 65_000;
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.bindAddress, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = opts.bindAddress.includes(':')
    ? `[${opts.bindAddress}]`
    : opts.bindAddress === '0.0.0.0'
      ? '127.0.0.1'
      : opts.bindAddress;
  const collector =
    opts.garbageCollector === false
      ? undefined
      : new GarbageCollector(registry, log.child({ component: 'garbage-collector' }));
  await collector?.start();
  log.info(
    { url: `https://${host}:${port}`, backend: opts.store.backend, groups: groupNames(registry) },
    'API server is serving',
  );

  return {
    url: `https://${host}:${port}`,
    discovery,
    openapi,
    port,
    registry,
    collector,
    metrics,
    health,
    server,
    async close() {
      health.markShuttingDown();
      collector?.stop();
      registry.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
