// `upm-engine local` (what `npm start` runs): everything on one machine, on the embedded
// SQLite storage, with a generated CA, serving and admin certificates and a kubeconfig.

import { createServer as createNetServer } from 'node:net';
import { join, resolve } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { DelegatingAuthorizer, type SubjectAccessReviewer } from '../apiserver/authorization/delegating.js';
import { subjectAccessReviewer } from '../apiserver/authorization/sar-client.js';
import { clusterNamespaceLookup, type ClusterNamespaceLookup } from '../apiserver/admission/namespace-lookup.js';
import { startClusterAdmission } from '../apiserver/admission/plugins.js';
import {
  ensureFrontProxyPKI,
  ensureServiceAccountKey,
  frontProxyClientName,
  startControlPlane,
  upmServiceNamespace,
} from '../localcluster/controlplane.js';
import { runControllers } from '../controllers/run.js';
import { ensureLocalPKI, type LocalPKI } from '../pki/bundle.js';
import { startWebhooks, type RunningWebhooks } from '../webhooks/index.js';
import { buildKubeconfig, writeKubeconfig } from '../pki/kubeconfig.js';
import type { Command, CommonOptions } from './command.js';
import { lockDataDir } from './datadir-lock.js';
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
  openStore,
  validateStorage,
  type CompactionSettings,
  type OpenedStore,
} from './storage.js';
import { validateCIDR, validatePort } from './validation.js';
import { localNodeOptions, validateNode, type NodeSettings } from './node.js';

const flags = defineFlags({
  'data-dir': {
    type: 'string',
    value: 'path',
    default: '.upm',
    usage: 'where data, certificates and the kubeconfig live',
  },
  port: { type: 'int', default: '6443', usage: 'HTTPS port; 0 picks a free port' },
  'bind-address': { type: 'string', value: 'ip', default: '127.0.0.1', usage: 'address to listen on' },
  standalone: { type: 'bool', usage: 'serve only upm.io, without the local control plane in front' },
  controllers: {
    type: 'bool',
    default: 'true',
    usage: 'run the controllers (Tesseract Cube) in this process; not with --standalone',
  },
  webhooks: {
    type: 'bool',
    default: 'true',
    usage: 'run the admission webhook server and register it in the local control plane; not with --standalone',
  },
  storage: {
    type: 'string',
    value: 'backend:location',
    defaultText: 'sqlite:<data-dir>/upm.db',
    usage: 'storage backend: sqlite:PATH or etcd:URL[,URL...]',
  },
  ...compactionFlags,
  ...watchFlags,
  'simulate-pods-only': {
    type: 'bool',
    usage: 'run no process: the pod simulator handles every Pod (by default Pods of known images run as processes)',
  },
  'node-name': {
    type: 'string',
    value: 'name',
    defaultText: 'the host name',
    usage: 'name of the node that runs Pods',
  },
  'node-images': {
    type: 'string',
    value: 'file',
    usage: 'image table file (YAML): entries for more images, tried before the built-in ones',
  },
  'node-lease-duration': {
    type: 'duration',
    default: '40s',
    usage: "how long the node's Lease lasts without renewal before the node counts as down",
  },
  'pod-cidr': {
    type: 'string',
    value: 'cidr',
    defaultText: '127.<64-95>.0.0/16, picked from the data directory',
    usage: "addresses of the node's Pods, inside 127.0.0.0/8",
  },
  'service-cluster-ip-range': {
    type: 'string',
    value: 'cidr',
    defaultText: '127.<96-127>.0.0/16, picked from the data directory',
    usage: 'ClusterIP range; inside 127.0.0.0/8 the Service proxy serves the ClusterIPs',
  },
  ...auditFlags,
  ...loggingFlags,
});

export interface LocalOptions extends CommonOptions {
  /** Absolute. */
  dataDir: string;
  port: number;
  bindAddress: string;
  standalone: boolean;
  controllers: boolean;
  webhooks: boolean;
  storage: string;
  compaction: CompactionSettings;
  bookmarkIntervalMs: number;
  node: NodeSettings;
  serviceCIDR: string;
  audit: AuditSettings;
}

/**
 * Engines side by side (other data directories) get other loopback ranges, the same one across
 * restarts: Pods' and Services' addresses stay theirs.
 */
function dataDirSlot(dataDir: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < dataDir.length; i++) h = Math.imul(h ^ dataDir.charCodeAt(i), 0x01000193) >>> 0;
  return h % 32;
}

export const localCommand: Command<typeof flags, LocalOptions> = {
  name: 'local',
  summary: 'run UPM Engine on this machine (what `npm start` runs)',
  description: `Runs UPM Engine locally: the upm.io API server on embedded SQLite storage, with certificates
and a kubeconfig generated under the data directory.`,
  flags,

  toOptions(f) {
    const dataDir = resolve(f['data-dir']);
    return {
      dataDir,
      port: f.port,
      bindAddress: f['bind-address'],
      standalone: f.standalone,
      controllers: f.controllers && !f.standalone,
      webhooks: f.webhooks && !f.standalone,
      storage: f.storage ?? `sqlite:${join(dataDir, 'upm.db')}`,
      compaction: compactionSettings(f),
      bookmarkIntervalMs: f['watch-bookmark-interval'],
      node: {
        enabled: !f['simulate-pods-only'],
        ...(f['node-name'] ? { name: f['node-name'] } : {}),
        ...(f['node-images'] ? { imagesFile: resolve(f['node-images']) } : {}),
        leaseDurationMs: f['node-lease-duration'],
        podCIDR: f['pod-cidr'] ?? `127.${64 + dataDirSlot(dataDir)}.0.0/16`,
      },
      serviceCIDR: f['service-cluster-ip-range'] ?? `127.${96 + dataDirSlot(dataDir)}.0.0/16`,
      audit: auditSettings(f),
      logging: loggingOptions(f),
    };
  },

  validate(o) {
    return [
      ...validatePort(o.port, '--port'),
      ...validateStorage(o.storage, o.compaction),
      ...validateNode(o.node),
      ...(o.node.enabled ? validateCIDR(o.node.podCIDR ?? '', '--pod-cidr') : []),
      ...validateCIDR(o.serviceCIDR, '--service-cluster-ip-range', o.node.enabled),
      ...validateLogging(o.logging),
      ...validateAudit(o.audit),
    ];
  },

  run: runLocal,
};

async function runLocal(o: LocalOptions): Promise<RunningEngine> {
  const lock = lockDataDir(o.dataDir);
  try {
    // Before anything is generated or logged: a port in use is then the only thing said.
    if (o.port !== 0) await ensurePortFree(o.bindAddress, o.port);
    const engine = await startLocal(o);
    return {
      ...engine,
      async stop() {
        try {
          await engine.stop();
        } finally {
          lock.release();
        }
      },
    };
  } catch (err) {
    lock.release();
    throw err;
  }
}

async function startLocal(o: LocalOptions): Promise<RunningEngine> {
  const logger = createLogger(o.logging);
  const pkiDir = join(o.dataDir, 'pki');
  const pki = await ensureLocalPKI(pkiDir, {
    serverHosts: o.bindAddress === '0.0.0.0' || o.bindAddress === '::' ? [] : [o.bindAddress],
  });
  if (pki.generated.length > 0) logger.info({ generated: pki.generated, dir: pkiDir }, 'generated certificates');
  const upmServer: ServeOptions = {
    logger,
    storage: o.storage,
    compaction: o.compaction,
    bookmarkIntervalMs: o.bookmarkIntervalMs,
    bindAddress: o.bindAddress,
    port: o.port,
    certPem: pki.apiserver.certPem,
    keyPem: pki.apiserver.keyPem,
    clientCAPem: pki.ca.certPem,
    anonymousAuth: false,
    // No kube-controller-manager here: the server collects its own kinds' dependents.
    garbageCollector: true,
    audit: o.audit,
  };
  const { engine, url } = o.standalone
    ? await startStandalone(upmServer)
    : await startWithControlPlane(o, pki, upmServer);
  try {
    const kubeconfig = join(o.dataDir, 'kubeconfig');
    await writeKubeconfig(kubeconfig, {
      clusterName: 'upm-local',
      server: `https://${clientHost(o.bindAddress)}:${new URL(url).port}`,
      caPem: pki.ca.certPem,
      user: 'upm-admin',
      clientCertPem: pki.admin.certPem,
      clientKeyPem: pki.admin.keyPem,
      namespace: 'default',
    });
    if (o.controllers) {
      const kc = new KubeConfig();
      kc.loadFromFile(kubeconfig);
      const controllers = await runControllers({
        kubeConfig: kc,
        log: logger.child({ component: 'controllers' }),
        leaderElection: { namespace: 'kube-system', name: 'upm-engine-controllers' },
        onLeaderLost: () => logger.error('controllers lost their Lease; they stay stopped until the engine restarts'),
      });
      const stopServers = engine.stop.bind(engine);
      engine.stop = async () => {
        await controllers.stop();
        await stopServers();
      };
    }
    logger.info({ kubeconfig, url }, 'UPM Engine is running');
    process.stdout.write(
      `\nUPM Engine is serving at ${url}\nTry:\n  kubectl --kubeconfig ${kubeconfig} api-resources --api-group=upm.io\n  kubectl --kubeconfig ${kubeconfig} get unitsets\n\n`,
    );
    return engine;
  } catch (err) {
    await engine.stop();
    throw err;
  }
}

/** Only the upm.io server, clients talking to it directly. */
async function startStandalone(upmServer: ServeOptions): Promise<{ engine: RunningEngine; url: string }> {
  const engine = await serve(upmServer);
  return { engine, url: engine.server.url };
}

/** The upm.io server behind the local control plane, as behind kube-apiserver. */
async function startWithControlPlane(
  o: LocalOptions,
  pki: LocalPKI,
  upmServer: ServeOptions,
): Promise<{ engine: RunningEngine; url: string }> {
  const pkiDir = join(o.dataDir, 'pki');
  const frontProxy = ensureFrontProxyPKI(pkiDir);
  // The upm.io server asks the control plane who may do what, once it is serving.
  let reviewer: SubjectAccessReviewer = () => Promise.reject(new Error('the control plane is not serving yet'));
  let namespaces: ClusterNamespaceLookup | undefined;
  const upm = await serve({
    ...upmServer,
    logger: upmServer.logger.child({ component: 'upm-apiserver' }),
    bindAddress: '127.0.0.1',
    port: 0,
    requestHeader: { clientCAPem: frontProxy.ca.certPem, allowedNames: [frontProxyClientName] },
    authorizer: new DelegatingAuthorizer((spec) => reviewer(spec)),
    namespaces: {
      lookup: (name) =>
        namespaces ? namespaces.lookup(name) : Promise.reject(new Error('the control plane is not serving yet')),
      close: () => namespaces?.close(),
    },
  });
  let cluster: OpenedStore | undefined;
  try {
    cluster = openStore(`sqlite:${join(o.dataDir, 'cluster.db')}`, o.compaction);
    const nodeOptions = o.node.enabled ? localNodeOptions(o.node, o.dataDir, upmServer.logger) : undefined;
    const controlPlane = await startControlPlane({
      store: cluster.store,
      pki,
      frontProxy,
      logger: upmServer.logger,
      bindAddress: o.bindAddress,
      port: o.port,
      upmServer: { host: '127.0.0.1', port: upm.server.port },
      serviceAccountKeyPem: ensureServiceAccountKey(pkiDir),
      onServing: (serverURL) => {
        const kubeconfig = buildKubeconfig({
          clusterName: 'local',
          server: serverURL,
          caPem: pki.ca.certPem,
          user: 'upm-apiserver',
          clientCertPem: pki.admin.certPem,
          clientKeyPem: pki.admin.keyPem,
        });
        reviewer = subjectAccessReviewer(kubeconfig);
        const kc = new KubeConfig();
        kc.loadFromString(kubeconfig);
        namespaces = clusterNamespaceLookup(kc);
      },
      bookmarkIntervalMs: o.bookmarkIntervalMs,
      serviceCIDR: o.serviceCIDR,
      ...(nodeOptions ? { node: nodeOptions } : {}),
    });
    const clusterStore = cluster;
    // The control plane's webhook configurations and policies apply to upm.io writes too, as
    // kube-apiserver's apply to an aggregated server's through that server's own admission.
    const admission = startClusterAdmission({
      kubeconfig: localKubeConfig(controlPlane.url, pki, 'upm-apiserver'),
      log: upmServer.logger.child({ component: 'upm-admission' }),
    });
    upm.server.registry.setAdmission(admission.hook);
    let webhooks: RunningWebhooks | undefined;
    if (o.webhooks) {
      try {
        // The root logger: the webhook server names its parts (webhook-server, webhook-certificates...).
        webhooks = await startLocalWebhooks(controlPlane.url, pki, upmServer.logger);
      } catch (err) {
        await admission.stop();
        await controlPlane.stop();
        throw err;
      }
    }
    const engine: RunningEngine = {
      ...upm,
      logger: upmServer.logger,
      async stop() {
        namespaces?.close();
        await webhooks?.stop();
        await admission.stop();
        await controlPlane.stop();
        clusterStore.stop();
        await clusterStore.store.close();
        await upm.stop();
      },
    };
    return { engine, url: controlPlane.url };
  } catch (err) {
    namespaces?.close();
    if (cluster) {
      cluster.stop();
      await cluster.store.close();
    }
    await upm.stop();
    throw err;
  }
}

/**
 * The webhook server on loopback, a client of the control plane like any other, registered by
 * URL (the control plane reaches it directly, there is no Service network) with its
 * certificate kept in the Secret upm-system/upm-webhooks-certs.
 */
function startLocalWebhooks(
  controlPlaneURL: string,
  pki: LocalPKI,
  log: RunningEngine['logger'],
): Promise<RunningWebhooks> {
  return startWebhooks({
    kubeconfig: localKubeConfig(controlPlaneURL, pki, 'upm-webhooks'),
    port: 0,
    bindAddress: '127.0.0.1',
    namespace: upmServiceNamespace,
    serviceName: 'upm-webhooks',
    secretName: 'upm-webhooks-certs',
    extraHosts: ['127.0.0.1'],
    register: true,
    endpoint: (port) => ({ url: `https://127.0.0.1:${port}` }),
    log,
  });
}

/** A client of the local control plane with the admin certificate. */
function localKubeConfig(controlPlaneURL: string, pki: LocalPKI, user: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(
    buildKubeconfig({
      clusterName: 'local',
      server: controlPlaneURL,
      caPem: pki.ca.certPem,
      user,
      clientCertPem: pki.admin.certPem,
      clientKeyPem: pki.admin.keyPem,
    }),
  );
  return kc;
}

/** The host clients reach a server bound to `bindAddress` at. */
function clientHost(bindAddress: string): string {
  if (bindAddress === '0.0.0.0') return '127.0.0.1';
  if (bindAddress === '::') return '[::1]';
  return bindAddress.includes(':') ? `[${bindAddress}]` : bindAddress;
}

/** Fails with the listen error (EADDRINUSE, EACCES) when the port cannot be bound. */
function ensurePortFree(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = createNetServer();
    probe.once('error', reject);
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  });
}
