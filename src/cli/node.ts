// `upm-engine node`: the node runtime (a kubelet stand-in that runs Pods of known images as
// processes of this machine) attached to an API server through a kubeconfig. `local` runs the same
// runtime inside the local control plane; the node settings both share are here too.

import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import {
  defaultNodeName,
  defaultPodCIDR,
  detectSandboxSupport,
  ImageTable,
  NodeRuntime,
  type LocalNodeOptions,
} from '../localcluster/node/index.js';

import type { Command, CommonOptions } from './command.js';
import { defineFlags } from './flags.js';
import { createLogger, loggingFlags, loggingOptions, validateLogging } from './logger.js';
import { validateCIDR, validatePort } from './validation.js';

/** What `local` and `node` share about the node. */
export interface NodeSettings {
  enabled: boolean;
  name?: string;
  /** Absolute. */
  imagesFile?: string;
  leaseDurationMs: number;
  podCIDR?: string;
}

export function validateNode(n: NodeSettings, flag = '--node-images'): string[] {
  const problems: string[] = [];
  if (n.imagesFile) {
    if (!existsSync(n.imagesFile)) problems.push(`${flag}: ${n.imagesFile} does not exist`);
    else {
      try {
        ImageTable.load(n.imagesFile);
      } catch (err) {
        problems.push(`${flag}: ${(err as Error).message}`);
      }
    }
  }
  if (n.leaseDurationMs < 1000) problems.push(`the lease duration must be at least 1s, got ${n.leaseDurationMs}ms`);
  if (n.name !== undefined && !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(n.name))
    problems.push(`--node-name must be a lower case DNS subdomain, got "${n.name}"`);
  return problems;
}

/** The local control plane's node, or undefined (with the reason logged) when this machine cannot run one. */
export function localNodeOptions(n: NodeSettings, dataDir: string, logger: Logger): LocalNodeOptions | undefined {
  const support = detectSandboxSupport();
  if (!support.namespaces) {
    logger.warn(
      { reason: support.reason },
      'Pods cannot run as processes on this machine (a private mount namespace per container needs root on Linux); every Pod is simulated',
    );
    return undefined;
  }
  return {
    dataDir,
    ...(n.name ? { nodeName: n.name } : {}),
    images: ImageTable.load(n.imagesFile),
    leaseDurationSeconds: Math.round(n.leaseDurationMs / 1000),
    ...(n.podCIDR ? { podCIDR: n.podCIDR } : {}),
  };
}

const flags = defineFlags({
  kubeconfig: { type: 'string', value: 'file', usage: 'kubeconfig of the API server to attach to (required)' },
  'node-name': { type: 'string', value: 'name', defaultText: 'the host name', usage: 'name of the Node to register' },
  'data-dir': {
    type: 'string',
    value: 'path',
    default: '.upm/node',
    usage: "where Pods' files, logs and process records live",
  },
  'node-images': {
    type: 'string',
    value: 'file',
    usage: 'image table file (YAML): entries for more images, tried before the built-in ones',
  },
  'pod-cidr': { type: 'string', value: 'cidr', default: defaultPodCIDR, usage: 'Pod addresses, inside 127.0.0.0/8' },
  schedule: { type: 'bool', usage: 'bind unscheduled Pods this node can run (for API servers without a scheduler)' },
  'lease-duration': {
    type: 'duration',
    default: '40s',
    usage: "the node's Lease duration; renewed every quarter of it",
  },
  'kubelet-port': { type: 'int', default: '10250', usage: 'port of the logs/exec endpoint on 127.0.0.1; 0 picks one' },
  'shutdown-grace-period': {
    type: 'duration',
    default: '30s',
    usage: "at most this long for a Pod's containers to stop when the node stops",
  },
  ...loggingFlags,
});

export interface NodeOptions extends CommonOptions {
  kubeconfig: string;
  node: NodeSettings;
  dataDir: string;
  podCIDR: string;
  schedule: boolean;
  kubeletPort: number;
  shutdownGraceMs: number;
}

export const nodeCommand: Command<typeof flags, NodeOptions> = {
  name: 'node',
  summary: 'run Pods of known images as processes of this machine, for any API server',
  description: `Registers this machine as a Node of the API server the kubeconfig names and runs the Pods bound to it:
containers of images in the image table (mariadb, redis, valkey, Prometheus exporters) as processes on
their own 127.0.0.0/8 address, the others simulated. Needs root on Linux (a private mount namespace per
container). Serves pods/log and pods/exec to the API server on 127.0.0.1:--kubelet-port.`,
  flags,

  toOptions(f) {
    return {
      kubeconfig: f.kubeconfig ? resolve(f.kubeconfig) : '',
      node: {
        enabled: true,
        ...(f['node-name'] ? { name: f['node-name'] } : {}),
        ...(f['node-images'] ? { imagesFile: resolve(f['node-images']) } : {}),
        leaseDurationMs: f['lease-duration'],
      },
      dataDir: resolve(f['data-dir']),
      podCIDR: f['pod-cidr'],
      schedule: f.schedule,
      kubeletPort: f['kubelet-port'],
      shutdownGraceMs: f['shutdown-grace-period'],
      logging: loggingOptions(f),
    };
  },

  validate(o) {
    const problems = [
      ...(o.kubeconfig ? [] : ['--kubeconfig is required']),
      ...(o.kubeconfig && !existsSync(o.kubeconfig) ? [`--kubeconfig: ${o.kubeconfig} does not exist`] : []),
      ...validateNode(o.node),
      ...validateCIDR(o.podCIDR, '--pod-cidr'),
      ...validatePort(o.kubeletPort, '--kubelet-port'),
      ...validateLogging(o.logging),
    ];
    return problems;
  },

  async run(o) {
    const logger = createLogger(o.logging);
    const support = detectSandboxSupport();
    if (!support.namespaces) throw new Error(`this machine cannot run Pods as processes: ${support.reason}`);
    const runtime = new NodeRuntime({
      kubeconfig: o.kubeconfig,
      nodeName: o.node.name ?? defaultNodeName(),
      dataDir: o.dataDir,
      images: ImageTable.load(o.node.imagesFile),
      podCIDR: o.podCIDR,
      schedule: o.schedule,
      leaseDurationSeconds: Math.round(o.node.leaseDurationMs / 1000),
      kubeletPort: o.kubeletPort,
      shutdownGracePeriodSeconds: Math.round(o.shutdownGraceMs / 1000),
      logger,
    });
    await runtime.start();
    logger.info(
      { node: runtime.nodeName, podCIDR: runtime.podCIDR, kubeletPort: runtime.kubeletPort, dataDir: join(o.dataDir) },
      'node is running',
    );
    return { logger, stop: () => runtime.stop() };
  },
};
