// The node lifecycle controller's part for nodes that renew a Lease (kube-controller-manager's
// nodelifecycle): a node whose Lease was not renewed within its duration gets every condition
// Unknown (NodeStatusUnknown, "Kubelet stopped posting node status."), the unreachable taints, and
// its Pods' Ready condition False. Nodes the pod simulator plays are left to it.

import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { isNotFound } from '../../machinery/errors.js';
import { formatTime } from '../../machinery/time.js';
import { loadKubeConfig, type KubeconfigSource } from '../kubeclient/index.js';
import { makeClients, mergePatch, plain, type Clients } from './client.js';
import { EventRecorder } from './events.js';

type Obj = Record<string, any>;

export interface NodeLifecycleOptions {
  kubeconfig: KubeconfigSource;
  logger: Logger;
  /** How often leases are checked; default 1 s. */
  periodMs?: number;
}

const unreachable = 'node.kubernetes.io/unreachable';

export class NodeLifecycleController {
  private readonly kc: KubeConfig;
  private readonly clients: Clients;
  private readonly events: EventRecorder;
  private timer: NodeJS.Timeout | undefined;
  private checking: Promise<void> | undefined;

  constructor(private readonly o: NodeLifecycleOptions) {
    this.kc = loadKubeConfig(o.kubeconfig);
    this.clients = makeClients(this.kc);
    this.events = new EventRecorder(this.clients.core, { component: 'node-controller' }, o.logger);
  }

  start(): void {
    this.timer = setInterval(() => {
      this.checking ??= this.check()
        .catch((err: unknown) => this.o.logger.debug({ err }, 'node lifecycle: check failed'))
        .finally(() => (this.checking = undefined));
    }, this.o.periodMs ?? 1000);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.checking;
    await this.events.flush();
    this.clients.close();
  }

  private async check(): Promise<void> {
    const nodes = plain(await this.clients.core.listNode())['items'] as Obj[];
    const leases = plain(await this.clients.coordination.listNamespacedLease({ namespace: 'kube-node-lease' }))[
      'items'
    ] as Obj[];
    for (const node of nodes) {
      const name = String(node['metadata'].name);
      if (node['metadata']?.annotations?.['upm.io/simulated'] === 'true') continue;
      const lease = leases.find((l) => l['metadata']?.name === name);
      if (!lease) continue;
      const renewed = Date.parse(String(lease['spec']?.renewTime ?? ''));
      const duration = Number(lease['spec']?.leaseDurationSeconds ?? 40) * 1000;
      const expired = Number.isNaN(renewed) || Date.now() - renewed > duration;
      const ready = ((node['status']?.conditions ?? []) as Obj[]).find((c) => c['type'] === 'Ready');
      const taints = (node['spec']?.taints ?? []) as Obj[];
      if (expired && ready?.['status'] !== 'Unknown') await this.markUnknown(node);
      else if (!expired && ready?.['status'] === 'True' && taints.some((t) => t['key'] === unreachable))
        await this.clients.core.patchNode(
          { name, body: { spec: { taints: taints.filter((t) => t['key'] !== unreachable) } } },
          mergePatch(),
        );
    }
  }

  private async markUnknown(node: Obj): Promise<void> {
    const name = String(node['metadata'].name);
    const now = formatTime();
    const conditions = ((node['status']?.conditions ?? []) as Obj[]).map((c) => ({
      ...c,
      status: 'Unknown',
      reason: 'NodeStatusUnknown',
      message: 'Kubelet stopped posting node status.',
      lastTransitionTime: c['status'] === 'Unknown' ? c['lastTransitionTime'] : now,
    }));
    await this.clients.core.patchNodeStatus({ name, body: { status: { conditions } } }, mergePatch());
    const others = ((node['spec']?.taints ?? []) as Obj[]).filter((t) => t['key'] !== unreachable);
    await this.clients.core.patchNode(
      {
        name,
        body: {
          spec: {
            taints: [
              ...others,
              { key: unreachable, effect: 'NoSchedule', timeAdded: now },
              { key: unreachable, effect: 'NoExecute', timeAdded: now },
            ],
          },
        },
      },
      mergePatch(),
    );
    this.events.record(
      { apiVersion: 'v1', kind: 'Node', metadata: { name, uid: node['metadata'].uid } },
      'Normal',
      'NodeNotReady',
      `Node ${name} status is now: NodeNotReady`,
    );
    const pods = plain(await this.clients.core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${name}` }))[
      'items'
    ] as Obj[];
    for (const pod of pods) {
      const conditions = (pod['status']?.conditions ?? []) as Obj[];
      if (!conditions.some((c) => c['type'] === 'Ready' && c['status'] === 'True')) continue;
      try {
        await this.clients.core.patchNamespacedPodStatus(
          {
            namespace: pod['metadata'].namespace,
            name: pod['metadata'].name,
            body: {
              metadata: { uid: pod['metadata'].uid },
              status: {
                conditions: conditions.map((c) =>
                  c['type'] === 'Ready'
                    ? { ...c, status: 'False', reason: 'NodeNotReady', message: '', lastTransitionTime: now }
                    : c,
                ),
              },
            },
          },
          mergePatch(),
        );
        this.events.record(pod, 'Warning', 'NodeNotReady', 'Node is not ready');
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
  }
}
