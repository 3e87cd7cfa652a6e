// Where an aggregated server's NamespaceLifecycle learns about namespaces: the cluster's
// kube-apiserver, read with the server's own credentials (a kubeconfig or the pod's service
// account; config/apiservice/rbac.yaml grants get, list and watch on namespaces). As kube's
// plugin does, it answers from a namespace informer and asks the cluster directly only for a
// namespace the informer does not have (yet): one just created is then found, and a missing one
// is confirmed missing.

import { Agent, request, type RequestOptions } from 'node:https';
import { CoreV1Api, makeInformer, type KubeConfig, type V1Namespace } from '@kubernetes/client-node';
import type { KubeObject } from '../../machinery/object.js';
import type { NamespaceLookup } from './namespace-lifecycle.js';

export interface ClusterNamespaceLookup {
  lookup: NamespaceLookup;
  close(): void;
}

/** Namespaces of the cluster a KubeConfig points at: an informer, and `/api/v1/namespaces/<name>` on a miss. */
export function clusterNamespaceLookup(kc: KubeConfig, timeoutMs = 10_000): ClusterNamespaceLookup {
  const live = liveNamespaceLookup(kc, timeoutMs);
  const api = kc.makeApiClient(CoreV1Api);
  const informer = makeInformer<V1Namespace>(kc, '/api/v1/namespaces', () => api.listNamespace());
  let running = true;
  let started = false;
  let synced = false;
  let retry: NodeJS.Timeout | undefined;
  const start = () =>
    informer.start().then(
      () => (synced = running),
      () => undefined, // reported as an 'error' event, which retries
    );
  informer.on('error', () => {
    synced = false;
    if (!running) return;
    retry = setTimeout(() => void start(), 1000);
    retry.unref();
  });
  return {
    lookup: async (name) => {
      // Started by the first create: nothing is read from the cluster before it is needed.
      if (!started && running) {
        started = true;
        void start();
      }
      const cached = synced ? informer.get(name) : undefined;
      return cached ? (cached as unknown as KubeObject) : live.lookup(name);
    },
    close() {
      running = false;
      synced = false;
      if (retry) clearTimeout(retry);
      if (started) void informer.stop().catch(() => undefined);
      live.close();
    },
  };
}

/** Reads `/api/v1/namespaces/<name>` from the cluster, over one keep-alive connection. */
function liveNamespaceLookup(kc: KubeConfig, timeoutMs: number): ClusterNamespaceLookup {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster');
  const server = new URL(cluster.server);
  let agent: Agent | undefined;
  const options = async (path: string): Promise<RequestOptions> => {
    const opts: RequestOptions = {
      host: server.hostname,
      port: server.port || 443,
      method: 'GET',
      path,
      headers: { Accept: 'application/json', 'User-Agent': 'upm-apiserver' },
    };
    await kc.applyToHTTPSOptions(opts);
    agent ??= new Agent({ keepAlive: true, ca: opts.ca, cert: opts.cert, key: opts.key });
    return { ...opts, agent };
  };
  const lookup: NamespaceLookup = async (name) => {
    const opts = await options(`/api/v1/namespaces/${encodeURIComponent(name)}`);
    return new Promise<KubeObject | undefined>((resolve, reject) => {
      const req = request(opts, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode === 404) return resolve(undefined);
          if (res.statusCode !== 200) {
            let message = text;
            try {
              message = (JSON.parse(text) as { message?: string }).message ?? text;
            } catch {
              // not a Status
            }
            return reject(new Error(`reading namespace ${name}: ${res.statusCode}: ${message}`));
          }
          try {
            resolve(JSON.parse(text) as KubeObject);
          } catch (err) {
            reject(err as Error);
          }
        });
      });
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`reading namespace ${name}: timeout`)));
      req.on('error', reject);
      req.end();
    });
  };
  return { lookup, close: () => agent?.destroy() };
}
