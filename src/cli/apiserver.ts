// `upm-engine apiserver`: the aggregated API server, with flags named as k8s.io/apiserver names them.

import { readFileSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import {
  inClusterKubeConfig,
  loadClusterAuthenticationConfig,
  type ClusterAuthenticationConfig,
} from '../apiserver/authentication/cluster-config.js';
import { DelegatingAuthorizer, type AsyncAuthorizer } from '../apiserver/authorization/delegating.js';
import { subjectAccessReviewer, subjectAccessReviewerFor } from '../apiserver/authorization/sar-client.js';
import {
  admissionPluginNames,
  startClusterAdmission,
  type AdmissionPluginName,
} from '../apiserver/admission/plugins.js';
import { clusterNamespaceLookup } from '../apiserver/admission/namespace-lookup.js';
import type { Command, CommonOptions } from './command.js';
import { defineFlags } from './flags.js';
import { createLogger, loggingFlags, loggingOptions, validateLogging } from './logger.js';
import {
  auditFlags,
  auditSettings,
  serve,
  validateAudit,
  watchFlags,
  type AuditSettings,
  type RunningEngine,
  type ServeOptions,
} from './serve.js';
import {
  compactionFlags,
  compactionSettings,
  validateStorage,
  type CompactionSettings,
  type EtcdSettings,
} from './storage.js';
import { validatePort } from './validation.js';

const flags = defineFlags({
  'secure-port': { type: 'int', default: '8443', usage: 'HTTPS port; 0 picks a free port' },
  'bind-address': { type: 'string', value: 'ip', default: '0.0.0.0', usage: 'address to listen on' },
  'tls-cert-file': { type: 'string', value: 'path', usage: 'serving certificate (PEM); required' },
  'tls-private-key-file': { type: 'string', value: 'path', usage: 'serving key (PEM); required' },
  'client-ca-file': { type: 'string', value: 'path', usage: 'CA bundle for verifying client certificates' },
  'anonymous-auth': { type: 'bool', usage: 'serve requests without credentials as system:anonymous' },
  'enable-garbage-collector': {
    type: 'bool',
    usage:
      "collect objects whose owners are gone here; on a cluster leave it off: kube-controller-manager's collector handles upm.io",
  },
  'requestheader-client-ca-file': {
    type: 'string',
    value: 'path',
    usage:
      "front-proxy CA: trust X-Remote-* identity headers from its clients (instead of the ConfigMap's front-proxy settings)",
  },
  'requestheader-allowed-names': {
    type: 'list',
    default: 'front-proxy-client',
    usage: 'front-proxy client certificate CNs, with --requestheader-client-ca-file',
  },
  'authentication-kubeconfig': {
    type: 'string',
    value: 'path',
    usage:
      'read kube-system/extension-apiserver-authentication from this cluster (default in a pod: its service account, unless --requestheader-client-ca-file is given)',
  },
  'authentication-skip-lookup': { type: 'bool', usage: 'do not read that ConfigMap at all' },
  'authorization-kubeconfig': {
    type: 'string',
    value: 'path',
    usage: 'ask this cluster (SubjectAccessReview) who may do what (default in a pod: its service account)',
  },
  kubeconfig: {
    type: 'string',
    value: 'path',
    usage:
      'the cluster whose namespaces (NamespaceLifecycle), admission webhooks and ValidatingAdmissionPolicies apply to upm.io writes (default in a pod: its service account; outside a pod without it, no admission)',
  },
  'disable-admission-plugins': {
    type: 'list',
    usage: `admission plugins to leave out: ${admissionPluginNames.join(', ')}`,
  },
  storage: {
    type: 'string',
    value: 'backend:location',
    default: 'sqlite:upm.db',
    usage: 'storage backend: sqlite:PATH or etcd:URL[,URL...]',
  },
  'etcd-prefix': { type: 'string', default: '/upm', usage: 'key prefix in etcd' },
  'etcd-cafile': { type: 'string', value: 'path', usage: "CA bundle of etcd's serving certificates" },
  'etcd-certfile': { type: 'string', value: 'path', usage: 'client certificate for etcd' },
  'etcd-keyfile': { type: 'string', value: 'path', usage: 'client key for etcd' },
  ...compactionFlags,
  ...watchFlags,
  ...auditFlags,
  ...loggingFlags,
});

export interface APIServerOptions extends CommonOptions {
  securePort: number;
  bindAddress: string;
  /** Empty when not given (then validation fails). */
  tlsCertFile: string;
  tlsPrivateKeyFile: string;
  clientCAFile?: string;
  anonymousAuth: boolean;
  garbageCollector: boolean;
  requestHeaderCAFile?: string;
  requestHeaderAllowedNames: string[];
  authenticationKubeconfig?: string;
  authenticationSkipLookup: boolean;
  authorizationKubeconfig?: string;
  kubeconfig?: string;
  disableAdmissionPlugins: string[];
  storage: string;
  etcd: EtcdSettings;
  compaction: CompactionSettings;
  bookmarkIntervalMs: number;
  audit: AuditSettings;
}

export const apiserverCommand: Command<typeof flags, APIServerOptions> = {
  name: 'apiserver',
  summary: 'run the upm.io aggregated API server',
  description: `Serves the upm.io API group over HTTPS.

Authentication and authorization are delegated to the cluster, as for any aggregated API
server: the client CA and the front-proxy settings are read from the ConfigMap
kube-system/extension-apiserver-authentication (with --authentication-kubeconfig, or in a pod
with its service account), and every request is authorized by a SubjectAccessReview (with
--authorization-kubeconfig, or in a pod with its service account). File flags win over the
ConfigMap; --client-ca-file is trusted together with the ConfigMap's client CA. Outside a pod
and without these flags, every authenticated user may do anything.`,
  flags,

  toOptions(f) {
    return {
      securePort: f['secure-port'],
      bindAddress: f['bind-address'],
      tlsCertFile: f['tls-cert-file'] ?? '',
      tlsPrivateKeyFile: f['tls-private-key-file'] ?? '',
      clientCAFile: f['client-ca-file'],
      anonymousAuth: f['anonymous-auth'],
      garbageCollector: f['enable-garbage-collector'],
      requestHeaderCAFile: f['requestheader-client-ca-file'],
      requestHeaderAllowedNames: f['requestheader-allowed-names'],
      authenticationKubeconfig: f['authentication-kubeconfig'],
      authenticationSkipLookup: f['authentication-skip-lookup'],
      authorizationKubeconfig: f['authorization-kubeconfig'],
      kubeconfig: f.kubeconfig,
      disableAdmissionPlugins: f['disable-admission-plugins'],
      storage: f.storage,
      etcd: {
        prefix: f['etcd-prefix'],
        ...(f['etcd-cafile'] || f['etcd-certfile'] || f['etcd-keyfile']
          ? { tls: { caFile: f['etcd-cafile'], certFile: f['etcd-certfile'], keyFile: f['etcd-keyfile'] } }
          : {}),
      },
      compaction: compactionSettings(f),
      bookmarkIntervalMs: f['watch-bookmark-interval'],
      audit: auditSettings(f),
      logging: loggingOptions(f),
    };
  },

  validate(o) {
    return [
      ...validatePort(o.securePort, '--secure-port'),
      ...(o.tlsCertFile ? [] : ['--tls-cert-file is required']),
      ...(o.tlsPrivateKeyFile ? [] : ['--tls-private-key-file is required']),
      ...validateStorage(o.storage, o.compaction),
      ...validateLogging(o.logging),
      ...validateAudit(o.audit),
      ...o.disableAdmissionPlugins
        .filter((p) => !(admissionPluginNames as readonly string[]).includes(p))
        .map(
          (p) =>
            `--disable-admission-plugins: unknown plugin ${JSON.stringify(p)} (known: ${admissionPluginNames.join(', ')})`,
        ),
    ];
  },

  async run(o): Promise<RunningEngine> {
    const logger = createLogger(o.logging);
    const certPem = readFlagFile(o.tlsCertFile, '--tls-cert-file');
    const keyPem = readFlagFile(o.tlsPrivateKeyFile, '--tls-private-key-file');
    const delegation = await resolveDelegation(o, logger);
    const admissionKC = o.kubeconfig ? loadKubeconfigFile(o.kubeconfig, '--kubeconfig') : inClusterKubeConfig();
    const disabled = new Set(o.disableAdmissionPlugins as AdmissionPluginName[]);
    const engine = await serve({
      logger,
      garbageCollector: o.garbageCollector,
      storage: o.storage,
      etcd: o.etcd,
      compaction: o.compaction,
      bookmarkIntervalMs: o.bookmarkIntervalMs,
      bindAddress: o.bindAddress,
      port: o.securePort,
      certPem,
      keyPem,
      clientCAPem: delegation.clientCAPem,
      anonymousAuth: o.anonymousAuth,
      requestHeader: delegation.requestHeader,
      authorizer: delegation.authorizer,
      audit: o.audit,
      // NamespaceLifecycle, first of the chain, reads the cluster's namespaces.
      ...(admissionKC && !disabled.has('NamespaceLifecycle')
        ? { namespaces: clusterNamespaceLookup(admissionKC) }
        : {}),
    });
    if (!admissionKC) {
      logger.info('no --kubeconfig outside a pod: upm.io writes run no cluster admission webhooks or policies');
      return engine;
    }
    const admission = startClusterAdmission({
      kubeconfig: admissionKC,
      log: logger.child({ component: 'admission' }),
      disabled,
    });
    engine.server.registry.setAdmission(admission.hook);
    return {
      ...engine,
      async stop() {
        await engine.stop();
        await admission.stop();
      },
    };
  },
};

function readFlagFile(path: string, flag: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`${flag}: ${(err as Error).message}`);
  }
}

function loadKubeconfigFile(path: string, flag: string): KubeConfig {
  const kc = new KubeConfig();
  try {
    kc.loadFromFile(path);
  } catch (err) {
    throw new Error(`${flag}: ${(err as Error).message}`);
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
  flags: APIServerOptions,
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
