// `upm-engine apiserver`: the aggregated API server, with flags named as k8s.io/apiserver names them.

import { readFileSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { upmRegistrations } from '../api/registrations.js';
import {
  inClusterKubeConfig,
  loadClusterAuthenticationConfig,
  type ClusterAuthenticationConfig,
} from '../apiserver/authentication/cluster-config.js';
import {
  defaultRequestHeaderConfig,
  RequestHeaderAuthenticator,
  type RequestHeaderConfig,
} from '../apiserver/authentication/requestheader.js';
import { DelegatingAuthorizer, type AsyncAuthorizer } from '../apiserver/authorization/delegating.js';
import { subjectAccessReviewer, subjectAccessReviewerFor } from '../apiserver/authorization/sar-client.js';
import { startAPIServer, type RunningAPIServer } from '../apiserver/server.js';
import { parseDuration, parseFlags, parsePort, UsageError } from './flags.js';
import { createLogger } from './logger.js';
import { openStore, type EtcdSettings, type OpenedStore } from './storage.js';

export const apiserverUsage = `Usage: upm-engine apiserver [flags]

Serves the upm.io API group over HTTPS.

Authentication and authorization are delegated to the cluster, as for any aggregated API
server: the client CA and the front-proxy settings are read from the ConfigMap
kube-system/extension-apiserver-authentication (with --authentication-kubeconfig, or in a pod
with its service account), and every request is authorized by a SubjectAccessReview (with
--authorization-kubeconfig, or in a pod with its service account). File flags win over the
ConfigMap; --client-ca-file is trusted together with the ConfigMap's client CA. Outside a pod
and without these flags, every authenticated user may do anything.

Flags:
  --secure-port int                  HTTPS port (default 8443; 0 picks a free port)
  --bind-address ip                  address to listen on (default 0.0.0.0)
  --tls-cert-file path               serving certificate (PEM)
  --tls-private-key-file path        serving key (PEM)
  --client-ca-file path              CA bundle for verifying client certificates
  --anonymous-auth                   serve requests without credentials as system:anonymous (default false)
  --requestheader-client-ca-file path  front-proxy CA: trust X-Remote-* identity headers from its clients
                                     (instead of the ConfigMap's front-proxy settings)
  --requestheader-allowed-names list   front-proxy client certificate CNs, with the flag above (default front-proxy-client)
  --authentication-kubeconfig path   read kube-system/extension-apiserver-authentication from this cluster
                                     (default in a pod: its service account, unless --requestheader-client-ca-file is given)
  --authentication-skip-lookup       do not read that ConfigMap at all (default false)
  --authorization-kubeconfig path    ask this cluster (SubjectAccessReview) who may do what
                                     (default in a pod: its service account)
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
  authenticationKubeconfig?: string;
  authenticationSkipLookup: boolean;
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
  if (v !== 'json' && v !== 'text' && v !== 'auto')
    throw new UsageError(`--log-format must be json, text or auto, got "${v}"`);
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
    'authentication-kubeconfig': { type: 'string' },
    'authentication-skip-lookup': { type: 'boolean', default: false },
    'authorization-kubeconfig': { type: 'string' },
    'etcd-prefix': { type: 'string', default: '/upm' },
    'etcd-cafile': { type: 'string' },
    'etcd-certfile': { type: 'string' },
    'etcd-keyfile': { type: 'string' },
  });
  if (v.help) return 'help';
  if (!v['tls-cert-file'] || !v['tls-private-key-file'])
    throw new UsageError('--tls-cert-file and --tls-private-key-file are required');
  return {
    securePort: parsePort(v['secure-port'], '--secure-port'),
    bindAddress: v['bind-address'],
    tlsCertFile: v['tls-cert-file'],
    tlsPrivateKeyFile: v['tls-private-key-file'],
    clientCAFile: v['client-ca-file'],
    anonymousAuth: v['anonymous-auth'],
    requestHeaderCAFile: v['requestheader-client-ca-file'],
    requestHeaderAllowedNames: v['requestheader-allowed-names']
      .split(',')
      .map((n) => n.trim())
      .filter(Boolean),
    authenticationKubeconfig: v['authentication-kubeconfig'],
    authenticationSkipLookup: v['authentication-skip-lookup'],
    authorizationKubeconfig: v['authorization-kubeconfig'],
    etcd: {
      prefix: v['etcd-prefix'],
      ...(v['etcd-cafile'] || v['etcd-certfile'] || v['etcd-keyfile']
        ? { tls: { caFile: v['etcd-cafile'], certFile: v['etcd-certfile'], keyFile: v['etcd-keyfile'] } }
        : {}),
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
  /** Front-proxy authentication (kube-apiserver's aggregator in front of us); unset header lists default to X-Remote-*. */
  requestHeader?: Pick<RequestHeaderConfig, 'clientCAPem' | 'allowedNames'> & Partial<RequestHeaderConfig>;
  /** Delegated authorization; without it every authenticated user is allowed. */
  authorizer?: AsyncAuthorizer;
}

/** Opens storage and starts the API server; shared by `apiserver` and `local`. */
export async function serve(o: ServeOptions): Promise<RunningEngine> {
  const storage = openStore(
    o.storage,
    { intervalMs: o.compactionIntervalMs, minRetainedRevisions: o.compactionMinRetained },
    o.etcd,
  );
  try {
    const server = await startAPIServer({
      store: storage.store,
      resources: upmRegistrations(),
      logger: o.logger,
      tls: {
        certPem: o.certPem,
        keyPem: o.keyPem,
        clientCAPem: o.clientCAPem,
        requestHeaderCAPem: o.requestHeader?.clientCAPem,
      },
      authenticators: o.requestHeader
        ? [new RequestHeaderAuthenticator({ ...defaultRequestHeaderConfig, ...o.requestHeader })]
        : [],
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

function readFlagFile(path: string, flag: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`${flag}: ${(err as Error).message}`);
  }
}

function loadKubeconfigFile(path: string, flag: string): KubeConfig {
  const kc = new KubeConfig();
  try {
    kc.loadFromFile(path);
  } catch (err) {
    throw new UsageError(`${flag}: ${(err as Error).message}`);
  }
  return kc;
}

export interface Delegation {
  clientCAPem?: string;
  requestHeader?: ServeOptions['requestHeader'];
  authorizer?: AsyncAuthorizer;
}

/**
 * Who authenticates and authorizes requests, from the flags and (where they leave it open)
 * the cluster. `inCluster` gives the pod's service account config, undefined outside a pod.
 */
export async function resolveDelegation(
  flags: APIServerFlags,
  logger: Logger,
  inCluster: () => KubeConfig | undefined = () => inClusterKubeConfig(),
  lookup: (kc: KubeConfig) => Promise<ClusterAuthenticationConfig> = (kc) =>
    loadClusterAuthenticationConfig(kc, { warn: (msg) => logger.warn(msg) }),
): Promise<Delegation> {
  let authnKC: KubeConfig | undefined;
  let authnSource = '';
  if (!flags.authenticationSkipLookup) {
    if (flags.authenticationKubeconfig) {
      authnKC = loadKubeconfigFile(flags.authenticationKubeconfig, '--authentication-kubeconfig');
      authnSource = flags.authenticationKubeconfig;
    } else if (!flags.requestHeaderCAFile) {
      authnKC = inCluster();
      authnSource = 'in-cluster service account';
    }
  }
  const cluster = authnKC ? await lookup(authnKC) : {};
  if (authnKC)
    logger.info(
      {
        source: authnSource,
        clientCA: cluster.clientCAPem !== undefined,
        requestHeader: cluster.requestHeader !== undefined,
      },
      'read cluster authentication configuration',
    );
  const clientCAPem =
    [flags.clientCAFile ? readFlagFile(flags.clientCAFile, '--client-ca-file') : undefined, cluster.clientCAPem]
      .filter((p): p is string => !!p?.trim())
      .join('\n') || undefined;
  const requestHeader: ServeOptions['requestHeader'] = flags.requestHeaderCAFile
    ? {
        clientCAPem: readFlagFile(flags.requestHeaderCAFile, '--requestheader-client-ca-file'),
        allowedNames: flags.requestHeaderAllowedNames,
      }
    : cluster.requestHeader;
  let authorizer: AsyncAuthorizer | undefined;
  if (flags.authorizationKubeconfig) {
    authorizer = new DelegatingAuthorizer(
      subjectAccessReviewer(readFlagFile(flags.authorizationKubeconfig, '--authorization-kubeconfig')),
    );
  } else {
    const kc = inCluster();
    if (kc) {
      logger.info('authorizing requests with SubjectAccessReviews through the in-cluster service account');
      authorizer = new DelegatingAuthorizer(subjectAccessReviewerFor(kc));
    }
  }
  return { clientCAPem, requestHeader, authorizer };
}

export async function runAPIServer(argv: string[]): Promise<RunningEngine | undefined> {
  const flags = parseAPIServerFlags(argv);
  if (flags === 'help') {
    process.stdout.write(apiserverUsage);
    return undefined;
  }
  const logger = createLogger(flags.logLevel, flags.logFormat);
  const certPem = readFlagFile(flags.tlsCertFile, '--tls-cert-file');
  const keyPem = readFlagFile(flags.tlsPrivateKeyFile, '--tls-private-key-file');
  const delegation = await resolveDelegation(flags, logger);
  return serve({
    logger,
    storage: flags.storage,
    etcd: flags.etcd,
    compactionIntervalMs: flags.compactionIntervalMs,
    compactionMinRetained: flags.compactionMinRetained,
    bookmarkIntervalMs: flags.bookmarkIntervalMs,
    bindAddress: flags.bindAddress,
    port: flags.securePort,
    certPem,
    keyPem,
    clientCAPem: delegation.clientCAPem,
    anonymousAuth: flags.anonymousAuth,
    requestHeader: delegation.requestHeader,
    authorizer: delegation.authorizer,
  });
}
