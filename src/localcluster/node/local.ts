// The node runtime as the local control plane runs it: the node itself, and the cluster parts a
// real cluster would have around its kubelets (a volume provisioner, the EndpointSlice
// controller, a Service proxy, the node lifecycle controller).

import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { EndpointSliceController } from './endpointslices.js';
import type { ImageTable } from './images.js';
import { NodeLifecycleController } from './node-lifecycle.js';
import { NodeRuntime } from './node.js';
import { LocalProvisioner } from './provisioner.js';
import { ServiceProxy } from './service-proxy.js';

export interface LocalNodeOptions {
  /** The node's Pods, logs and process records under `<dataDir>/node`, volumes under `<dataDir>/volumes`. */
  dataDir: string;
  /** Default: this machine's host name. */
  nodeName?: string;
  images?: ImageTable;
  leaseDurationSeconds?: number;
  /** Pod addresses; default 127.64.0.0/16. */
  podCIDR?: string;
}

export interface LocalNode {
  runtime: NodeRuntime;
  proxy: ServiceProxy;
  stop(): Promise<void>;
}

/** A valid node name from the host name (lower case DNS subdomain). */
export function defaultNodeName(): string {
  const name = hostname()
    .toLowerCase()
    .replace(/[^a-z0-9.-]/g, '-')
    .replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '');
  return name || 'local-node';
}

export async function startLocalNode(kubeconfig: string, o: LocalNodeOptions, logger: Logger): Promise<LocalNode> {
  const runtime = new NodeRuntime({
    kubeconfig,
    nodeName: o.nodeName ?? defaultNodeName(),
    dataDir: join(o.dataDir, 'node'),
    ...(o.images ? { images: o.images } : {}),
    schedule: true,
    ...(o.leaseDurationSeconds ? { leaseDurationSeconds: o.leaseDurationSeconds } : {}),
    ...(o.podCIDR ? { podCIDR: o.podCIDR } : {}),
    logger,
  });
  const provisioner = new LocalProvisioner({
    kubeconfig,
    root: join(o.dataDir, 'volumes'),
    logger: logger.child({ component: 'local-provisioner' }),
  });
  const slices = new EndpointSliceController({
    kubeconfig,
    logger: logger.child({ component: 'endpointslice-controller' }),
  });
  const proxy = new ServiceProxy({ kubeconfig, logger: logger.child({ component: 'service-proxy' }) });
  const lifecycle = new NodeLifecycleController({ kubeconfig, logger: logger.child({ component: 'node-lifecycle' }) });
  const started: { stop(): Promise<void> }[] = [];
  try {
    await provisioner.start();
    started.push(provisioner);
    await slices.start();
    started.push(slices);
    await proxy.start();
    started.push(proxy);
    lifecycle.start();
    started.push(lifecycle);
    await runtime.start();
    started.push(runtime);
  } catch (err) {
    for (const s of started.reverse()) await s.stop();
    throw err;
  }
  return {
    runtime,
    proxy,
    async stop() {
      // The node first: its Pods' processes stop while the rest still watches them.
      await runtime.stop();
      await lifecycle.stop();
      await proxy.stop();
      await slices.stop();
      await provisioner.stop();
    },
  };
}
