// `upm-engine apiserver`: the aggregated API server, with flags named as k8s.io/apiserver names them.

import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { upmRegistrations } from '../api/registrations.js';
import { defaultRequestHeaderConfig, RequestHeaderAuthenticator } from '../apiserver/authentication/requestheader.js';
import { DelegatingAuthorizer, type AsyncAuthorizer } from '../apiserver/authorization/delegating.js';
import { subjectAccessReviewer } from '../apiserver/authorization/sar-client.js';
import { startAPIServer, type RunningAPIServer } from '../apiserver/server.js';
import { parseDuration, parseFlags, parsePort, UsageError } from './flags.js';
import { createLogger } from './logger.js';
import { openStore, type EtcdSettings, type OpenedStore } from './storage.js';

export const apiserverUsage = `Usage: upm-engine apiserver [flags]

Serves the upm.io API group over HTTPS.

Flags:
  --secure-port int                  HTTPS port (default 8443; 0 picks a free port)
  --bind-address ip                  address to listen on (default 0.0.0.0)
  --tls-cert-file path               serving certificate (PEM)
  --tls-private-key-file path        serving key (PEM)
  --client-ca-file path              CA bundle for verifying client certificates
  --anonymous-auth                   serve requests without credentials as system:anonymous (default false)
  --requestheader-client-ca-file path  front-proxy CA: trust X-Remote-* identity headers from its clients
  --requestheader-allowed-names list   front-proxy client certificate CNs (default front-proxy-client)
  --authorization-kubeconfig path    ask this cluster (SubjectAccessReview) who may do what
  --storage backend:location         storage backend (default sqlite:upm.db): sqlite:PATH or etcd:URL[,URL...]
  --etcd-prefix string               key prefix in etcd (default /upm)
  --etcd-cafile path                 CA bundle of etcd's serving certificates
  --etcd-certfile path               client certificate for etcd
  --etcd-keyfile path                client key for etcd
  --compaction-interval duration     how often old revisions are compacted (default 5m; 0 disables)
  --compaction-min-retained-revisions int  latest revisions never compacted (default 1000)
  --watch-bookmark-interval duration bookmark period for watches that allow them (default 1m)
  --log-level level                  trace, debug, info, warn, error (default info)
  --log-format format                json, text or auto (text in a terminal; default auto)
`;

export interface APIServerFlags {
  securePort: number;
  bindAddress: string;
  tlsCertFile: string;
  tlsPrivateKeyFile: string;
  clientCAFile?: string;
  anonymousAuth: boolean;
  requestHeaderCAFile?: string;
  requestHeaderAllowedNames: string[];
  authorizationKubeconfig?: string;
  etcd: EtcdSettings;
  storage: string;
  compactionIntervalMs: number;
  compactionMinRetained: number;
  bookmarkIntervalMs: number;
  logLevel: string;
  logFormat: 'json' | 'text' | 'auto';
}

export const commonFlagOptions = {
  storage: { type: 'string' },
  'compaction-interval': { type: 'string', default: '5m' },
  'compaction-min-retained-revisions': { type: 'string', default: '1000' },
  'watch-bookmark-interval': { type: 'string', default: '1m' },
  'log-level': { type: 'string', default: 'info' },
  'log-format': { type: 'string', default: 'auto' },
  help: { type: 'boolean', short: 'h' },
} as const;

export function parseLogFormat(v: string): 'json' | 'text' | 'auto' {
  if (v !== 'json' && v !== 'text' && v !== 'auto') throw new UsageError(`--log-format must be json, text or auto, got "${v}"`);
  return v;
}

export function parseCount(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`${flag} must be a non-negative integer, got "${v}"`);
  return n;
}

export function parseAPIServerFlags(argv: string[]): APIServerFlags | 'help' {
  const v = parseFlags(argv, {
    ...commonFlagOptions,
    'secure-port': { type: 'string', default: '8443' },
    'bind-address': { type: 'string', default: '0.0.0.0' },
    'tls-cert-file': { type: 'string' },
    'tls-private-key-file': { type: 'string' },
    'client-ca-file': { type: 'string' },
    'anonymous-auth': { type: 'boolean', default: false },
    'requestheader-client-ca-file': { type: 'string' },
    'requestheader-allowed-names': { type: 'string', default: 'front-proxy-client' },
    'authorization-kubeconfig': { type: 'string' },
    'etcd-prefix': { type: 'string', default: '/upm' },
    'etcd-cafile': { type: 'string' },
    'etcd-certfile': { type: 'string' },
    'etcd-keyfile': { type: 'string' },
  });
  if (v.help) return 'help';
  if (!v['tls-cert-file'] || !v['tls-private-key-file']) throw new UsageError('--tls-cert-file and --tls-private-key-file are required');
  return {
    securePort: parsePort(v['secure-port'], '--secure-port'),
    bindAddress: v['bind-address'],
    tlsCertFile: v['tls-cert-file'],
    tlsPrivateKeyFile: v['tls-private-key-file'],
    clientCAFile: v['client-ca-file'],
    anonymousAuth: v['anonymous-auth'],
    requestHeaderCAFile: v['requestheader-client-ca-file'],
    requestHeaderAllowedNames: v['requestheader-allowed-names'].split(',').map((n) => n.trim()).filter(Boolean),
    authorizationKubeconfig: v['authorization-kubeconfig'],
    etcd: {
      prefix: v['etcd-prefix'],
      ...(v['etcd-cafile'] || v['etcd-certfile'] || v['etcd-keyfile'] ? { tls: { caFile: v['etcd-cafile'], certFile: v['etcd-certfile'], keyFile: v['etcd-keyfile'] } } : {}),
    },
    storage: v.storage ?? 'sqlite:upm.db',
    compactionIntervalMs: parseDuration(v['compaction-interval']),
    compactionMinRetained: parseCount(v['compaction-min-retained-revisions'], '--compaction-min-retained-revisions'),
    bookmarkIntervalMs: parseDuration(v['watch-bookmark-interval']),
    logLevel: v['log-level'],
    logFormat: parseLogFormat(v['log-format']),
  };
}

export interface RunningEngine {
  server: RunningAPIServer;
  storage: OpenedStore;
  logger: Logger;
  stop(): Promise<void>;
}

export interface ServeOptions {
  logger: Logger;
  storage: string;
  etcd?: EtcdSettings;
  compactionIntervalMs: number;
  compactionMinRetained: number;
  bookmarkIntervalMs: number;
  bindAddress: string;
  port: number;
  certPem: string;
  keyPem: string;
  clientCAPem?: string;
  anonymousAuth: boolean;
  /** Front-proxy authentication (kube-apiserver's aggregator in front of us). */
  requestHeader?: { clientCAPem: string; allowedNames: string[] };
  /** Delegated authorization; without it every authenticated user is allowed. */
  authorizer?: AsyncAuthorizer;
}

/** Opens storage and starts the API server; shared by `apiserver` and `local`. */
export async function serve(o: ServeOptions): Promise<RunningEngine> {
  const storage = openStore(o.storage, { intervalMs: o.compactionIntervalMs, minRetainedRevisions: o.compactionMinRetained }, o.etcd);
  try {
    const server = await startAPIServer({
      store: storage.store,
      resources: upmRegistrations(),
      logger: o.logger,
      tls: { certPem: o.certPem, keyPem: o.keyPem, clientCAPem: o.clientCAPem, requestHeaderCAPem: o.requestHeader?.clientCAPem },
      authenticators: o.requestHeader ? [new RequestHeaderAuthenticator({ ...defaultRequestHeaderConfig, ...o.requestHeader })] : [],
      authorizer: o.authorizer,
      bindAddress: o.bindAddress,
      port: o.port,
      anonymousAuth: o.anonymousAuth,
      watch: { bookmarkIntervalMs: o.bookmarkIntervalMs },
    });
    return {
      server,
      storage,
      logger: o.logger,
      async stop() {
        await server.close();
        storage.stop();
        await storage.store.close();
      },
    };
  } catch (err) {
    storage.stop();
    await storage.store.close();
    throw err;
  }
}

export async function runAPIServer(argv: string[]): Promise<RunningEngine | undefined> {
  const flags = parseAPIServerFlags(argv);
  if (flags === 'help') {
    process.stdout.write(apiserverUsage);
    return undefined;
  }
  const logger = createLogger(flags.logLevel, flags.logFormat);
  const read = (path: string, flag: string): string => {
    try {
      return readFileSync(path, 'utf8');
    } catch (err) {
      throw new UsageError(`${flag}: ${(err as Error).message}`);
    }
  };
  return serve({
    logger,
    storage: flags.storage,
    etcd: flags.etcd,
    compactionIntervalMs: flags.compactionIntervalMs,
    compactionMinRetained: flags.compactionMinRetained,
    bookmarkIntervalMs: flags.bookmarkIntervalMs,
    bindAddress: flags.bindAddress,
    port: flags.securePort,
    certPem: read(flags.tlsCertFile, '--tls-cert-file'),
    keyPem: read(flags.tlsPrivateKeyFile, '--tls-private-key-file'),
    clientCAPem: flags.clientCAFile ? read(flags.clientCAFile, '--client-ca-file') : undefined,
    anonymousAuth: flags.anonymousAuth,
    requestHeader: flags.requestHeaderCAFile ? { clientCAPem: read(flags.requestHeaderCAFile, '--requestheader-client-ca-file'), allowedNames: flags.requestHeaderAllowedNames } : undefined,
    authorizer: flags.authorizationKubeconfig ? new DelegatingAuthorizer(subjectAccessReviewer(read(flags.authorizationKubeconfig, '--authorization-kubeconfig'))) : undefined,
  });
}
