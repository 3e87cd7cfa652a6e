// The local control plane: a kube-apiserver stand-in for `npm start` and the test suite. It is
// NOT used on a real cluster, where kube-apiserver plays this role. It serves core kinds from
// its own storage, runs the aggregation layer in front of the upm.io server (exactly as
// kube-apiserver would: front-proxy client certificate, X-Remote-* identity, APIService
// availability, merged discovery and OpenAPI), and simulates kubelet and scheduler.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { startAPIServer, type RunningAPIServer } from '../apiserver/server.js';
import { kubernetesVersionInfo } from '../apiserver/version.js';
import { createCA, generateKeySync, issueClientCert, type CertKeyPair } from '../pki/certs.js';
import type { LocalPKI } from '../pki/bundle.js';
import { buildKubeconfig } from '../pki/kubeconfig.js';
import type { Store } from '../storage/interface.js';
import type { APIRegistry } from '../apiserver/registry/registry.js';
import { startWebhookAdmission } from './admission.js';
import { Aggregator } from './aggregator/aggregator.js';
import { controlPlaneAuth, type ControlPlaneAuth } from './auth/index.js';
import { coreRegistrations, initCoreResources } from './kinds/index.js';
import { PodSimulator } from './podsim/index.js';
import { isNotFound } from '../machinery/errors.js';
import { startNamespaces } from './namespaces/index.js';
import { installClusterRBAC } from './manifests.js';
import { unservedSubresourceDelegate } from './unserved.js';
import { KubeletProxy } from './kubelet-proxy.js';
import { startLocalNode, type LocalNode, type LocalNodeOptions } from './node/index.js';

export const frontProxyClientName = 'front-proxy-client';
/**
 * The Kubernetes release the control plane plays: its /version, and the k8s.io/api release its
 * protobuf descriptor comes from (hack/protobuf/generate-descriptor.mjs). kubectl 1.32 to 1.34
 * are within the supported skew.
 */
export const emulatedKubernetesVersion = '1.33.13';
export const upmAPIServiceName = 'v1alpha1.upm.io';
export const upmServiceNamespace = 'upm-system';
export const upmServiceName = 'upm-apiserver';

export interface FrontProxyPKI {
  ca: CertKeyPair;
  client: CertKeyPair;
}

/** The key that signs service-account tokens (load or create), as kube's sa.key. */
export function ensureServiceAccountKey(dir: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, 'sa.key');
  if (existsSync(file)) return readFileSync(file, 'utf8');
  const key = generateKeySync();
  writeFileSync(file, key, { mode: 0o600 });
  return key;
}

/** The front-proxy CA and client certificate kube-apiserver's aggregator presents (load or create). */
export function ensureFrontProxyPKI(dir: string): FrontProxyPKI {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const files = {
    caCrt: join(dir, 'front-proxy-ca.crt'),
    caKey: join(dir, 'front-proxy-ca.key'),
    crt: join(dir, 'front-proxy-client.crt'),
    key: join(dir, 'front-proxy-client.key'),
  };
  if (Object.values(files).every((f) => existsSync(f))) {
    return {
      ca: { certPem: readFileSync(files.caCrt, 'utf8'), keyPem: readFileSync(files.caKey, 'utf8') },
      client: { certPem: readFileSync(files.crt, 'utf8'), keyPem: readFileSync(files.key, 'utf8') },
    };
  }
  const ca = createCA('front-proxy-ca');
  const client = issueClientCert(ca, { commonName: frontProxyClientName });
  writeFileSync(files.caCrt, ca.certPem, { mode: 0o644 });
  writeFileSync(files.caKey, ca.keyPem, { mode: 0o600 });
  writeFileSync(files.crt, client.certPem, { mode: 0o644 });
  writeFileSync(files.key, client.keyPem, { mode: 0o600 });
  return { ca, client };
}

export interface ControlPlaneOptions {
  store: Store;
  pki: LocalPKI;
  frontProxy: FrontProxyPKI;
  /** The process's logger; each part of the control plane logs with its own `component`. */
  logger: Logger;
  bindAddress: string;
  port: number;
  /** Where the upm.io aggregated server listens (the Service it backs resolves here). */
  upmServer: { host: string; port: number };
  bookmarkIntervalMs?: number;
  /** RSA key (PEM) that signs the service-account tokens this control plane issues. */
  serviceAccountKeyPem: string;
  /** Called with the control plane's URL as soon as it serves, before APIServices are checked. */
  onServing?: (url: string) => void;
  /** Start the pod simulator (scheduler + kubelet stand-in). */
  simulatePods?: boolean;
  /** Run the Pods of known images as processes (the node runtime, with a volume provisioner,
   * EndpointSlices, a Service proxy and the node lifecycle controller). */
  node?: LocalNodeOptions;
  /** The ClusterIP range; default 10.96.0.0/16 (127.96.0.0/16 suits the node runtime's proxy). */
  serviceCIDR?: string;
}

export interface RunningControlPlane {
  server: RunningAPIServer;
  aggregator: Aggregator;
  simulator?: PodSimulator;
  node?: LocalNode;
  auth: ControlPlaneAuth;
  url: string;
  stop(): Promise<void>;
}

async function createIfMissing(
  registry: APIRegistry,
  group: string,
  plural: string,
  namespace: string,
  body: Record<string, unknown>,
): Promise<void> {
  const served = registry.lookup(group, 'v1', plural);
  if (!served) throw new Error(`control plane does not serve ${plural}`);
  try {
    await served.store.create(namespace, body);
  } catch (err) {
    if ((err as { reason?: string }).reason !== 'AlreadyExists') throw err;
  }
}

/** What kube-apiserver publishes for extension API servers (kube-system/extension-apiserver-authentication). */
function authenticationConfigMap(pki: LocalPKI, frontProxy: FrontProxyPKI): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'extension-apiserver-authentication', namespace: 'kube-system' },
    data: {
      'client-ca-file': pki.ca.certPem,
      'requestheader-client-ca-file': frontProxy.ca.certPem,
      'requestheader-allowed-names': JSON.stringify([frontProxyClientName]),
      'requestheader-username-headers': JSON.stringify(['X-Remote-User']),
      'requestheader-uid-headers': JSON.stringify(['X-Remote-Uid']),
      'requestheader-group-headers': JSON.stringify(['X-Remote-Group']),
      'requestheader-extra-headers-prefix': JSON.stringify(['X-Remote-Extra-']),
    },
  };
}

export async function startControlPlane(o: ControlPlaneOptions): Promise<RunningControlPlane> {
  // The aggregator needs the server's discovery and OpenAPI, and the server routes through it.
  const routing: { aggregator?: Aggregator; registry?: APIRegistry } = {};
  const auth = controlPlaneAuth({
    clientCAPem: o.pki.ca.certPem,
    serviceAccounts: { signingKeyPem: o.serviceAccountKeyPem },
  });
  const kubelets = new KubeletProxy({
    registry: () => routing.registry,
    client: o.pki.admin,
    authenticators: auth.authenticators,
    authorizer: auth.authorizer,
    log: o.logger.child({ component: 'kubelet-proxy' }),
  });
  const server = await startAPIServer({
    store: o.store,
    resources: [...coreRegistrations(o.serviceCIDR ? { serviceCIDR: o.serviceCIDR } : {}), ...auth.resources],
    logger: o.logger.child({ component: 'control-plane' }),
    version: kubernetesVersionInfo(emulatedKubernetesVersion),
    tls: { certPem: o.pki.apiserver.certPem, keyPem: o.pki.apiserver.keyPem, clientCAPem: o.pki.ca.certPem },
    bindAddress: o.bindAddress,
    port: o.port,
    watch: o.bookmarkIntervalMs ? { bookmarkIntervalMs: o.bookmarkIntervalMs } : undefined,
    authenticators: auth.authenticators,
    authorizer: auth.authorizer,
    // Pods' log/exec/attach/portforward go to their kubelet; other subresources the stand-in has no
    // process behind answer a Status saying so; the rest may be an aggregated API's.
    delegate: auth.delegate({
      handle: async (req, res, info, url) =>
        (await kubelets.handle(req, res, info, url)) ||
        unservedSubresourceDelegate({
          handle: async (r2, s2, i2, u2) => (await routing.aggregator?.handle(r2, s2, i2, u2)) ?? false,
        }).handle(req, res, info, url),
    }),
  });
  const { registry } = server;
  routing.registry = registry;
  kubelets.attach(server.server);
  o.onServing?.(server.url);
  server.health.addReadinessCheck(auth.readinessCheck);
  await initCoreResources(registry);
  await auth.start(registry);
  const admission = startWebhookAdmission(registry, o.logger.child({ component: 'admission' }));
  await admission.synced();
  await createIfMissing(registry, '', 'configmaps', 'kube-system', authenticationConfigMap(o.pki, o.frontProxy));
  await createIfMissing(registry, '', 'namespaces', '', {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: upmServiceNamespace },
  });
  await createIfMissing(registry, '', 'services', upmServiceNamespace, {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: upmServiceName, namespace: upmServiceNamespace },
    spec: {
      ports: [{ name: 'https', port: 443, targetPort: 8443, protocol: 'TCP' }],
      selector: { app: upmServiceName },
    },
  });
  await installClusterRBAC(registry);
  const apiServices = registry.lookup('apiregistration.k8s.io', 'v1', 'apiservices')!;
  const desired = {
    group: 'upm.io',
    version: 'v1alpha1',
    service: { namespace: upmServiceNamespace, name: upmServiceName, port: 443 },
    caBundle: Buffer.from(o.pki.ca.certPem).toString('base64'),
    groupPriorityMinimum: 1000,
    versionPriority: 100,
  };
  try {
    const current = await apiServices.store.get('', upmAPIServiceName);
    await apiServices.store.guaranteedUpdate('', upmAPIServiceName, (cur) => ({
      ...cur,
      spec: desired,
      metadata: { ...cur.metadata, resourceVersion: undefined },
    }));
    void current;
  } catch (err) {
    if (!isNotFound(err)) throw err;
    await apiServices.store.create('', {
      apiVersion: 'apiregistration.k8s.io/v1',
      kind: 'APIService',
      metadata: { name: upmAPIServiceName },
      spec: desired,
    });
  }
  const aggregator = new Aggregator({
    apiServices: apiServices.store,
    discovery: server.discovery,
    openapi: server.openapi,
    frontProxy: o.frontProxy.client,
    resolveService: (namespace, name) =>
      namespace === upmServiceNamespace && name === upmServiceName ? o.upmServer : undefined,
    log: o.logger.child({ component: 'aggregator' }),
    resyncMs: 10_000,
  });
  routing.aggregator = aggregator;
  await aggregator.start();
  const namespaces = await startNamespaces(registry, {
    server: server.url,
    caPem: o.pki.ca.certPem,
    certPem: o.pki.admin.certPem,
    keyPem: o.pki.admin.keyPem,
    logger: o.logger.child({ component: 'namespace-controller' }),
  });

  const kubeconfig = buildKubeconfig({
    clusterName: 'local',
    server: server.url,
    caPem: o.pki.ca.certPem,
    user: 'podsim',
    clientCertPem: o.pki.admin.certPem,
    clientKeyPem: o.pki.admin.keyPem,
  });
  let node: LocalNode | undefined;
  let simulator: PodSimulator | undefined;
  try {
    if (o.node) node = await startLocalNode(kubeconfig, o.node, o.logger.child({ component: 'node' }));
    if (o.simulatePods !== false) {
      simulator = new PodSimulator({
        kubeconfig,
        logger: o.logger.child({ component: 'pod-simulator' }),
        kubeletVersion: `v${emulatedKubernetesVersion}`,
        ...(node ? { leaveUnscheduled: (pod: Record<string, any>) => node!.runtime.runsAsProcesses(pod) } : {}),
      });
      await simulator.start();
    }
  } catch (err) {
    await node?.stop();
    await namespaces.stop();
    aggregator.stop();
    admission.stop();
    auth.stop();
    await server.close();
    throw err;
  }
  return {
    server,
    aggregator,
    simulator,
    node,
    url: server.url,
    auth,
    async stop() {
      await node?.stop();
      await simulator?.stop();
      await namespaces.stop();
      aggregator.stop();
      admission.stop();
      auth.stop();
      await server.close();
    },
  };
}
