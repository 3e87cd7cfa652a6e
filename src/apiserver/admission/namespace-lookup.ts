// Where an aggregated server's NamespaceLifecycle learns about namespaces: the cluster's
// kube-apiserver, read with the server's own credentials (a kubeconfig or the pod's service
// account; config/apiservice/rbac.yaml grants get on namespaces). Each create asks afresh, the
// "live lookup" kube's plugin falls back to, so a namespace deleted a moment ago is seen
// Terminating at once; one keep-alive connection keeps that cheap.

import { Agent, request, type RequestOptions } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import type { KubeObject } from '../../machinery/object.js';
import type { NamespaceLookup } from './namespace-lifecycle.js';

export interface ClusterNamespaceLookup {
  lookup: NamespaceLookup;
  close(): void;
}

/** Reads `/api/v1/namespaces/<name>` from the cluster a KubeConfig points at. */
export function clusterNamespaceLookup(kc: KubeConfig, timeoutMs = 10_000): ClusterNamespaceLookup {
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
