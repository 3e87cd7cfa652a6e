// The pod simulator: the local control plane's stand-in for kube-scheduler, the kubelets and the
// node lifecycle controller. It is an ordinary API client (@kubernetes/client-node over HTTPS
// from a kubeconfig) that
//   - registers a few Nodes (node-1..node-3) and keeps their Ready condition,
//   - binds Pending pods without spec.nodeName to the Ready node with the fewest pods,
//   - after startDelayMs "starts" them: status.phase Running, pod/host IPs, startTime, the
//     PodScheduled/Initialized/ContainersReady/Ready conditions and a running containerStatus for
//     every container, written through the pods/status subresource,
//   - records the events kube would (Scheduled, Pulled, Created, Started, NodeNotReady, Evicted).
//
// It is level-triggered and runs on the controllers' runtime (informer, work queue, reconcile
// loop): every reconcile reads the pod, compares it with what it should be and writes the
// difference with the read resourceVersion as a precondition (409 → retried with backoff). On
// start it lists every pod, so pods created while it was stopped are handled, and it posts its
// nodes Ready (a kubelet starting up). Pods bound to a node that does not exist are marked Failed as PodGC
// marks orphaned pods (reason NodeLost, condition DisruptionTarget/DeletionByPodGC) but are not
// deleted; pods bound to another existing Node are left to whoever simulates that node.
//
// Deviations from kube: binding sets spec.nodeName with a merge patch (the server does not serve
// pods/binding; the pod strategy allows setting an empty nodeName once); scheduling honours only
// nodeSelector, required node affinity on node labels and the nodes' readiness (no pod affinity,
// taints beyond not-ready/unreachable, or resources); containers never exit on their own, completePod/failPod/evictPod end them.

import { randomBytes } from 'node:crypto';
import { CoordinationV1Api, CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { setCondition, type Condition } from '../../machinery/conditions.js';
import { isAlreadyExists, isConflict, isNotFound } from '../../machinery/errors.js';
import { formatMicroTime, formatTime, normalizeTime } from '../../machinery/time.js';
import type { KubeObject } from '../../machinery/object.js';
import { pods } from '../../controllers/resources.js';
import { KubeClient } from '../../controllers/runtime/client.js';
import { Controller } from '../../controllers/runtime/controller.js';
import { Informer } from '../../controllers/runtime/informer.js';
import { keepAliveKubeConfig, loadKubeConfig, type KubeconfigSource } from '../kubeclient/index.js';

type Obj = Record<string, any>;

export interface PodSimulatorOptions {
  /** A KubeConfig, a kubeconfig file path, or kubeconfig YAML text. */
  kubeconfig: KubeconfigSource;
  /** Node names, or how many nodes (`node-1`…). Default 3. */
  nodes?: string[] | number;
  /** How long a bound pod stays Pending before it runs. Default 300 ms. */
  startDelayMs?: number;
  /** Record kube's events (Scheduled, Started, ...). Default true. */
  recordEvents?: boolean;
  /** kubeletVersion the nodes report. */
  kubeletVersion?: string;
  logger?: Logger;
  /** Unscheduled pods the simulator leaves to another scheduler (the node runtime binds the pods
   * it can run as processes). */
  leaveUnscheduled?: (pod: Record<string, any>) => boolean;
}

const mergePatch = () => setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const isTerminal = (phase: unknown) => phase === 'Succeeded' || phase === 'Failed';

function plain<T>(v: T): Obj {
  return JSON.parse(JSON.stringify(v)) as Obj;
}

/** Sets a Pod condition (kube's Pod conditions carry a null lastProbeTime). */
function withCondition(
  conditions: Condition[],
  type: string,
  status: string,
  reason?: string,
  message?: string,
): Condition[] {
  const next: Condition = {
    type,
    status,
    ...(reason ? { reason } : {}),
    ...(message ? { message } : {}),
    lastProbeTime: null,
  };
  return setCondition(conditions, next).conditions;
}

function conditionsOf(pod: Obj): Condition[] {
  const list = Array.isArray(pod['status']?.conditions) ? (pod['status'].conditions as Obj[]) : [];
  return list.map((c) => ({
    type: String(c['type']),
    status: String(c['status']),
    ...(c['reason'] ? { reason: String(c['reason']) } : {}),
    ...(c['message'] ? { message: String(c['message']) } : {}),
    lastProbeTime: null,
    ...(c['lastTransitionTime'] ? { lastTransitionTime: normalizeTime(c['lastTransitionTime']) } : {}),
  }));
}

const conditionStatus = (pod: Obj, type: string) => conditionsOf(pod).find((c) => c.type === type)?.status;

function hex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}

function imageRef(image: string): string {
  const name = image.split('@')[0].replace(/:[^/:]+$/, '');
  const full = name.includes('/')
    ? name.split('/')[0].includes('.')
      ? name
      : `docker.io/${name}`
    : `docker.io/library/${name}`;
  return `${full}@sha256:${hex(32)}`;
}

interface SimNode {
  name: string;
  index: number;
  internalIP: string;
  podCIDR: string;
}

export class PodSimulator {
  readonly nodes: readonly string[];
  private readonly kc: KubeConfig;
  private readonly api: CoreV1Api;
  private readonly leases: CoordinationV1Api;
  private readonly closeClient: () => void;
  private readonly startDelayMs: number;
  private readonly recordEvents: boolean;
  private readonly kubeletVersion: string;
  private readonly log: Logger | undefined;
  private readonly leaveUnscheduled: ((pod: Obj) => boolean) | undefined;
  private readonly simNodes = new Map<string, SimNode>();
  /** Readiness of the simulated nodes: the simulator is their kubelet and lifecycle controller. */
  private readonly nodeReady = new Map<string, boolean>();
  private informer: Informer | undefined;
  private controller: Controller | undefined;
  private watchClient: KubeClient | undefined;
  private running = false;
  /** Event writes, chained in order behind the reconciles. */
  private events: Promise<void> = Promise.resolve();

  // Per-pod memory (by uid) of what the cache may not show yet.
  private readonly assigned = new Map<string, string>();
  private readonly startAt = new Map<string, number>();
  private readonly podIPs = new Map<string, string>();

  constructor(opts: PodSimulatorOptions) {
    this.kc = loadKubeConfig(opts.kubeconfig);
    const client = keepAliveKubeConfig(this.kc);
    this.api = client.kc.makeApiClient(CoreV1Api);
    this.leases = client.kc.makeApiClient(CoordinationV1Api);
    this.closeClient = client.close;
    const nodes = opts.nodes ?? 3;
    this.nodes = typeof nodes === 'number' ? Array.from({ length: nodes }, (_, i) => `node-${i + 1}`) : [...nodes];
    this.nodes.forEach((name, index) =>
      this.simNodes.set(name, {
        name,
        index,
        internalIP: `172.18.0.${index + 2}`,
        podCIDR: `10.244.${index + 1}.0/24`,
      }),
    );
    this.startDelayMs = opts.startDelayMs ?? 300;
    this.recordEvents = opts.recordEvents ?? true;
    this.kubeletVersion = opts.kubeletVersion ?? 'v1.33.0';
    this.log = opts.logger;
    this.leaveUnscheduled = opts.leaveUnscheduled;
  }

  // ---- lifecycle --------------------------------------------------------------------------------

  /** Registers the nodes (Ready), then watches every pod; resolves once the initial list is queued. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    for (const node of this.simNodes.values()) {
      await this.ensureNode(node);
      await this.writeNodeReady(node.name, true);
      this.nodeReady.set(node.name, true);
    }
    this.watchClient = new KubeClient(this.kc, 'upm-engine-pod-simulator');
    const informer = new Informer(this.watchClient, pods, { log: this.log });
    // One worker, as before: scheduling decisions read the pods placed by the previous one.
    const controller = new Controller('pod-simulator', (req) => this.reconcile(req.namespace, req.name), {
      log: this.log,
      backoff: { baseDelayMs: 50, maxDelayMs: 2000 },
    }).for(informer);
    informer.addHandler({ onDelete: (p) => this.forget(p) });
    this.informer = informer;
    this.controller = controller;
    informer.start();
    await controller.start();
  }

  /** Stops watching and waits for the reconcile in progress. Nodes and pods stay as they are. */
  async stop(): Promise<void> {
    this.running = false;
    await this.controller?.stop();
    await this.informer?.stop();
    this.controller = undefined;
    this.informer = undefined;
    await this.events;
    this.watchClient?.close();
    this.closeClient();
  }

  /** Resolves once nothing is queued or being reconciled (scheduled starts may still be pending). */
  async idle(): Promise<void> {
    await this.controller?.queue.idle();
    await this.events;
  }

  // ---- test hooks -------------------------------------------------------------------------------

  /** The pod's containers exit with code 1: phase Failed, Ready False. */
  async failPod(namespace: string, name: string, reason = 'Error'): Promise<void> {
    await this.updateStatus(namespace, name, (pod) =>
      this.terminatedStatus(pod, {
        phase: 'Failed',
        exitCode: 1,
        containerReason: reason,
        conditionReason: 'PodFailed',
      }),
    );
  }

  /** The pod's containers exit with code 0: phase Succeeded. */
  async completePod(namespace: string, name: string): Promise<void> {
    await this.updateStatus(namespace, name, (pod) =>
      this.terminatedStatus(pod, {
        phase: 'Succeeded',
        exitCode: 0,
        containerReason: 'Completed',
        conditionReason: 'PodCompleted',
      }),
    );
  }

  /** The kubelet evicts the pod under memory pressure: phase Failed, reason Evicted. */
  async evictPod(namespace: string, name: string, message?: string): Promise<void> {
    let evicted: Obj | undefined;
    await this.updateStatus(namespace, name, (pod) => {
      const containers = (pod['spec']?.containers ?? []) as Obj[];
      const text =
        message ??
        `The node was low on resource: memory. Threshold quantity: 100Mi, available: 64Mi. ${containers
          .map((c) => `Container ${c['name']} was using 512Mi, request is 0, has larger consumption of memory. `)
          .join('')}`;
      const status = this.terminatedStatus(pod, {
        phase: 'Failed',
        exitCode: 137,
        containerReason: 'ContainerStatusUnknown',
        containerMessage: 'The container could not be located when the pod was terminated',
        conditionReason: 'PodFailed',
      });
      status['reason'] = 'Evicted';
      status['message'] = text;
      status['conditions'] = withCondition(
        status['conditions'] as Condition[],
        'DisruptionTarget',
        'True',
        'TerminationByKubelet',
        text,
      );
      evicted = { pod, text };
      return status;
    });
    if (evicted) this.event(evicted['pod'], 'Warning', 'Evicted', evicted['text'], 'kubelet');
  }

  /**
   * Node readiness, as the node lifecycle controller sees it. false: the node's Ready condition
   * becomes Unknown (kubelet stopped posting status), it is tainted unreachable, and the Ready
   * condition of every pod on it turns False. true: Ready again; its pods become Ready and pods
   * waiting for a node are scheduled.
   */
  async setNodeReady(node: string, ready: boolean): Promise<void> {
    if (!this.simNodes.has(node)) throw new Error(`${node} is not a simulated node (${this.nodes.join(', ')})`);
    this.nodeReady.set(node, ready);
    await this.writeNodeReady(node, ready);
    const pods = await this.api.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${node}` });
    for (const p of pods.items) {
      for (let attempt = 0; ; attempt++) {
        try {
          await this.reconcile(p.metadata?.namespace ?? '', p.metadata?.name ?? '');
          break;
        } catch (err) {
          if (!isConflict(err) || attempt >= 10) throw err;
        }
      }
    }
    if (ready) for (const p of this.informer?.list() ?? []) if (!(p as Obj)['spec']?.nodeName) this.enqueue(p);
  }

  isNodeReady(node: string): boolean {
    return this.nodeReady.get(node) ?? false;
  }

  // ---- nodes ------------------------------------------------------------------------------------

  private async ensureNode(node: SimNode): Promise<void> {
    const body = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name: node.name,
        labels: {
          'kubernetes.io/hostname': node.name,
          'kubernetes.io/os': 'linux',
          'kubernetes.io/arch': 'amd64',
          'beta.kubernetes.io/os': 'linux',
          'beta.kubernetes.io/arch': 'amd64',
        },
        annotations: { 'node.alpha.kubernetes.io/ttl': '0', 'upm.io/simulated': 'true' },
      },
      spec: { podCIDR: node.podCIDR, podCIDRs: [node.podCIDR], providerID: `upm-sim://${node.name}` },
    };
    try {
      await this.api.createNode({ body: body as never });
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
  }

  private async writeNodeReady(name: string, ready: boolean): Promise<void> {
    const node = this.simNodes.get(name)!;
    const current = plain(await this.api.readNode({ name }));
    const time = formatTime();
    const old = (current['status']?.conditions ?? []) as Obj[];
    const cond = (type: string, status: string, reason: string, message: string) => {
      const prev = old.find((c) => c['type'] === type);
      const lastTransitionTime =
        prev && prev['status'] === status ? normalizeTime(prev['lastTransitionTime']) : undefined;
      return {
        type,
        status,
        reason,
        message,
        lastHeartbeatTime: time,
        lastTransitionTime: lastTransitionTime ?? time,
      };
    };
    const pressure = (type: string, reason: string, message: string) =>
      ready
        ? cond(type, 'False', reason, message)
        : cond(type, 'Unknown', 'NodeStatusUnknown', 'Kubelet stopped posting node status.');
    const status = {
      capacity: { cpu: '8', memory: '32Gi', pods: '110', 'ephemeral-storage': '100Gi' },
      allocatable: { cpu: '8', memory: '32Gi', pods: '110', 'ephemeral-storage': '100Gi' },
      conditions: [
        pressure('MemoryPressure', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
        pressure('DiskPressure', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
        pressure('PIDPressure', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
        ready
          ? cond('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status')
          : cond('Ready', 'Unknown', 'NodeStatusUnknown', 'Kubelet stopped posting node status.'),
      ],
      addresses: [
        { type: 'InternalIP', address: node.internalIP },
        { type: 'Hostname', address: node.name },
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: {
        machineID: current['status']?.nodeInfo?.machineID ?? hex(16),
        systemUUID: current['status']?.nodeInfo?.systemUUID ?? hex(16),
        bootID: current['status']?.nodeInfo?.bootID ?? hex(16),
        kernelVersion: '6.1.0-upm-sim',
        osImage: 'UPM simulated node',
        containerRuntimeVersion: 'containerd://1.7.24',
        kubeletVersion: this.kubeletVersion,
        kubeProxyVersion: '',
        operatingSystem: 'linux',
        architecture: 'amd64',
      },
    };
    await this.api.patchNodeStatus({ name, body: { status } }, mergePatch());
    if (ready) await this.renewLease(name, current['metadata']?.uid);
    // The node lifecycle controller's taints.
    const others = ((current['spec']?.taints ?? []) as Obj[]).filter(
      (t) => t['key'] !== 'node.kubernetes.io/unreachable' && t['key'] !== 'node.kubernetes.io/not-ready',
    );
    const taints = ready
      ? others
      : [
          ...others,
          { key: 'node.kubernetes.io/unreachable', effect: 'NoSchedule', timeAdded: time },
          { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute', timeAdded: time },
        ];
    const had = ((current['spec']?.taints ?? []) as Obj[]).length;
    if (had !== taints.length || !ready)
      await this.api.patchNode({ name, body: { spec: { taints: taints.length ? taints : null } } }, mergePatch());
    const wasReady = old.find((c) => c['type'] === 'Ready')?.['status'] === 'True';
    if (wasReady !== ready) {
      this.event(
        { apiVersion: 'v1', kind: 'Node', metadata: { name, uid: name } },
        'Normal',
        ready ? 'NodeReady' : 'NodeNotReady',
        `Node ${name} status is now: ${ready ? 'NodeReady' : 'NodeNotReady'}`,
        ready ? 'kubelet' : 'node-controller',
        'default',
      );
    }
  }

  /** The kubelet's heartbeat Lease in kube-node-lease (renewed when the node posts Ready). */
  private async renewLease(node: string, uid: string | undefined): Promise<void> {
    const renewTime = formatMicroTime();
    const spec = { holderIdentity: node, leaseDurationSeconds: 40, renewTime };
    try {
      await this.leases.patchNamespacedLease(
        { namespace: 'kube-node-lease', name: node, body: { spec } },
        mergePatch(),
      );
    } catch (err) {
      if (!isNotFound(err)) throw err;
      const ownerReferences = uid ? [{ apiVersion: 'v1', kind: 'Node', name: node, uid }] : undefined;
      await this.leases.createNamespacedLease({
        namespace: 'kube-node-lease',
        body: {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: node, namespace: 'kube-node-lease', ownerReferences },
          spec,
        } as never,
      });
    }
  }

  // ---- work queue -------------------------------------------------------------------------------

  private enqueue(pod: Pick<KubeObject, 'metadata'>, afterMs = 0): void {
    if (!this.running) return;
    this.controller?.enqueue({ namespace: pod.metadata.namespace ?? '', name: pod.metadata.name ?? '' }, afterMs);
  }

  private forget(obj: KubeObject): void {
    const uid = obj.metadata?.uid;
    if (uid) {
      this.assigned.delete(uid);
      this.startAt.delete(uid);
      this.podIPs.delete(uid);
    }
  }

  // ---- reconcile --------------------------------------------------------------------------------

  private async read(namespace: string, name: string): Promise<Obj | undefined> {
    try {
      return plain(await this.api.readNamespacedPod({ namespace, name }));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** Brings one pod to what the scheduler and its kubelet would make of it. */
  private async reconcile(namespace: string, name: string): Promise<void> {
    const pod = await this.read(namespace, name);
    if (!pod || pod['metadata']?.deletionTimestamp) return;
    const status = pod['status'] ?? {};
    if (isTerminal(status.phase)) return;
    const uid = String(pod['metadata'].uid);
    const nodeName: string = pod['spec']?.nodeName ?? '';

    if (!nodeName) {
      if (this.leaveUnscheduled?.(pod)) return;
      await this.schedule(pod);
      return;
    }
    if (!this.simNodes.has(nodeName)) {
      await this.foreignNode(pod, nodeName);
      return;
    }
    const ready = this.nodeReady.get(nodeName) ?? false;
    if (status.phase === 'Running') {
      // The node lifecycle controller marks pods of a lost node not Ready; a kubelet that is back
      // reports them Ready again.
      const want = ready ? 'True' : 'False';
      if (conditionStatus(pod, 'Ready') !== want) {
        await this.writeStatus(pod, { ...status, conditions: withCondition(conditionsOf(pod), 'Ready', want) });
        if (!ready) this.event(pod, 'Warning', 'NodeNotReady', 'Node is not ready', 'node-controller');
      }
      return;
    }
    if (!ready) return; // the kubelet is down: the pod stays Pending
    const at = this.startAt.get(uid);
    const due = at ?? Date.now() + this.startDelayMs;
    if (at === undefined) this.startAt.set(uid, due);
    if (Date.now() < due) {
      this.enqueue({ metadata: { namespace, name } }, due - Date.now());
      return;
    }
    await this.run(pod, this.simNodes.get(nodeName)!);
  }

  /** kube-scheduler: picks the Ready node with the fewest pods that matches the nodeSelector. */
  private async schedule(pod: Obj): Promise<void> {
    const uid = String(pod['metadata'].uid);
    const selector = (pod['spec']?.nodeSelector ?? {}) as Record<string, string>;
    const labelsOf = (n: SimNode): Record<string, string> => ({
      'kubernetes.io/hostname': n.name,
      'kubernetes.io/os': 'linux',
      'kubernetes.io/arch': 'amd64',
    });
    const all = [...this.simNodes.values()];
    const ready = all.filter((n) => this.nodeReady.get(n.name));
    const fits = ready.filter(
      (n) =>
        Object.entries(selector).every(([k, v]) => labelsOf(n)[k] === v) &&
        requiredNodeAffinityMatches(pod['spec']?.affinity?.nodeAffinity, labelsOf(n)),
    );
    if (fits.length === 0) {
      const notReady = all.length - ready.length;
      const unmatched = ready.length - fits.length;
      const reasons = [
        ...(notReady ? [`${notReady} node(s) had untolerated taint {node.kubernetes.io/unreachable: }`] : []),
        ...(unmatched ? [`${unmatched} node(s) didn't match Pod's node affinity/selector`] : []),
      ];
      const message = `0/${all.length} nodes are available: ${reasons.join(', ')}. preemption: 0/${all.length} nodes are available: ${all.length} Preemption is not helpful for scheduling.`;
      const current = conditionsOf(pod).find((c) => c.type === 'PodScheduled');
      if (current?.status !== 'False' || current.message !== message) {
        await this.writeStatus(pod, {
          ...pod['status'],
          conditions: withCondition(conditionsOf(pod), 'PodScheduled', 'False', 'Unschedulable', message),
        });
        this.event(pod, 'Warning', 'FailedScheduling', message, 'default-scheduler');
      }
      return;
    }
    const load = new Map<string, number>(fits.map((n) => [n.name, 0]));
    for (const p of this.informer?.list() ?? []) {
      const o = p as Obj;
      if (isTerminal(o['status']?.phase) || o['metadata']?.uid === uid) continue;
      const node = o['spec']?.nodeName || this.assigned.get(String(o['metadata']?.uid));
      if (node && load.has(node)) load.set(node, load.get(node)! + 1);
    }
    const target = fits.reduce((best, n) => (load.get(n.name)! < load.get(best.name)! ? n : best));
    const bound = plain(
      await this.api.patchNamespacedPod(
        {
          namespace: pod['metadata'].namespace,
          name: pod['metadata'].name,
          body: { metadata: { resourceVersion: pod['metadata'].resourceVersion }, spec: { nodeName: target.name } },
        },
        mergePatch(),
      ),
    );
    this.assigned.set(uid, target.name);
    this.startAt.set(uid, Date.now() + this.startDelayMs);
    await this.writeStatus(bound, {
      ...bound['status'],
      conditions: withCondition(conditionsOf(bound), 'PodScheduled', 'True'),
    });
    this.event(
      bound,
      'Normal',
      'Scheduled',
      `Successfully assigned ${pod['metadata'].namespace}/${pod['metadata'].name} to ${target.name}`,
      'default-scheduler',
    );
    this.enqueue(pod as KubeObject, this.startDelayMs);
  }

  /** A pod bound to a node the simulator does not run: fine if that Node exists, else orphaned. */
  private async foreignNode(pod: Obj, nodeName: string): Promise<void> {
    try {
      await this.api.readNode({ name: nodeName });
      return;
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    const message = `Pod was bound to node "${nodeName}", which does not exist (PodGC: node no longer exists)`;
    const status = this.terminatedStatus(pod, {
      phase: 'Failed',
      exitCode: 137,
      containerReason: 'ContainerStatusUnknown',
      containerMessage: 'The container could not be located when the pod was terminated',
      conditionReason: 'PodFailed',
    });
    status['reason'] = 'NodeLost';
    status['message'] = message;
    status['conditions'] = withCondition(
      status['conditions'] as Condition[],
      'DisruptionTarget',
      'True',
      'DeletionByPodGC',
      'PodGC: node no longer exists',
    );
    await this.writeStatus(pod, status);
  }

  /** The kubelet starts the pod: every container running and ready. */
  private async run(pod: Obj, node: SimNode): Promise<void> {
    const uid = String(pod['metadata'].uid);
    const time = formatTime();
    const ip = this.podIPs.get(uid) ?? pod['status']?.podIP ?? this.allocatePodIP(node, uid);
    this.podIPs.set(uid, ip);
    const containers = (pod['spec']?.containers ?? []) as Obj[];
    const initContainers = (pod['spec']?.initContainers ?? []) as Obj[];
    const startTime = normalizeTime(pod['status']?.startTime) ?? time;
    const containerID = () => `containerd://${hex(32)}`;
    let conditions = conditionsOf(pod);
    for (const type of ['PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady', 'PodScheduled'])
      conditions = withCondition(conditions, type, 'True');
    const order = ['PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady', 'PodScheduled'];
    conditions.sort((a, b) => (order.indexOf(a.type) + 1 || 99) - (order.indexOf(b.type) + 1 || 99));
    const status: Obj = {
      ...pod['status'],
      phase: 'Running',
      conditions,
      hostIP: node.internalIP,
      hostIPs: [{ ip: node.internalIP }],
      podIP: ip,
      podIPs: [{ ip }],
      startTime,
      containerStatuses: containers.map((c) => ({
        name: c['name'],
        image: c['image'],
        imageID: imageRef(String(c['image'] ?? '')),
        containerID: containerID(),
        ready: true,
        started: true,
        restartCount: 0,
        state: { running: { startedAt: time } },
        lastState: {},
      })),
      ...(initContainers.length
        ? {
            initContainerStatuses: initContainers.map((c) =>
              c['restartPolicy'] === 'Always'
                ? {
                    name: c['name'],
                    image: c['image'],
                    imageID: imageRef(String(c['image'] ?? '')),
                    containerID: containerID(),
                    ready: true,
                    started: true,
                    restartCount: 0,
                    state: { running: { startedAt: time } },
                    lastState: {},
                  }
                : {
                    name: c['name'],
                    image: c['image'],
                    imageID: imageRef(String(c['image'] ?? '')),
                    containerID: containerID(),
                    ready: true,
                    started: false,
                    restartCount: 0,
                    state: { terminated: { exitCode: 0, reason: 'Completed', startedAt: time, finishedAt: time } },
                    lastState: {},
                  },
            ),
          }
        : {}),
    };
    const written = await this.writeStatus(pod, status);
    this.startAt.delete(uid);
    for (const c of [...initContainers, ...containers]) {
      const fieldPath = `spec.${initContainers.includes(c) ? 'initContainers' : 'containers'}{${c['name']}}`;
      this.event(
        written,
        'Normal',
        'Pulled',
        `Container image "${c['image']}" already present on machine`,
        'kubelet',
        undefined,
        fieldPath,
      );
      this.event(written, 'Normal', 'Created', `Created container: ${c['name']}`, 'kubelet', undefined, fieldPath);
      this.event(written, 'Normal', 'Started', `Started container ${c['name']}`, 'kubelet', undefined, fieldPath);
    }
  }

  /** The lowest free address of the node's pod CIDR (10.244.<node>.2 …). */
  private allocatePodIP(node: SimNode, uid: string): string {
    const used = new Set<string>();
    for (const [u, ip] of this.podIPs) if (u !== uid) used.add(ip);
    for (const p of this.informer?.list() ?? []) {
      const o = p as Obj;
      if (!isTerminal(o['status']?.phase) && o['status']?.podIP) used.add(String(o['status'].podIP));
    }
    const prefix = node.podCIDR.replace(/\.0\/24$/, '.');
    for (let i = 2; i < 255; i++) if (!used.has(`${prefix}${i}`)) return `${prefix}${i}`;
    return `${prefix}254`;
  }

  /** The status of a pod whose containers have all exited. */
  private terminatedStatus(
    pod: Obj,
    o: { phase: string; exitCode: number; containerReason: string; containerMessage?: string; conditionReason: string },
  ): Obj {
    const time = formatTime();
    const previous = new Map<string, Obj>(
      ((pod['status']?.containerStatuses ?? []) as Obj[]).map((s) => [String(s['name']), s]),
    );
    let conditions = conditionsOf(pod);
    conditions = withCondition(conditions, 'Ready', 'False', o.conditionReason);
    conditions = withCondition(conditions, 'ContainersReady', 'False', o.conditionReason);
    if (conditions.some((c) => c.type === 'PodReadyToStartContainers'))
      conditions = withCondition(conditions, 'PodReadyToStartContainers', 'False');
    return {
      ...pod['status'],
      phase: o.phase,
      conditions,
      containerStatuses: ((pod['spec']?.containers ?? []) as Obj[]).map((c) => {
        const prev = previous.get(String(c['name'])) ?? {};
        const startedAt =
          normalizeTime(prev['state']?.running?.startedAt) ??
          normalizeTime(prev['state']?.terminated?.startedAt) ??
          time;
        return {
          name: c['name'],
          image: c['image'],
          imageID: prev['imageID'] ?? '',
          ...(prev['containerID'] ? { containerID: prev['containerID'] } : {}),
          ready: false,
          started: false,
          restartCount: prev['restartCount'] ?? 0,
          state: {
            terminated: {
              exitCode: o.exitCode,
              reason: o.containerReason,
              ...(o.containerMessage ? { message: o.containerMessage } : {}),
              startedAt,
              finishedAt: time,
              ...(prev['containerID'] ? { containerID: prev['containerID'] } : {}),
            },
          },
          lastState: prev['lastState'] ?? {},
        };
      }),
    };
  }

  // ---- writes -----------------------------------------------------------------------------------

  /** Merge-patches the status subresource with the read resourceVersion as precondition. */
  private async writeStatus(pod: Obj, status: Obj): Promise<Obj> {
    return plain(
      await this.api.patchNamespacedPodStatus(
        {
          namespace: pod['metadata'].namespace,
          name: pod['metadata'].name,
          body: { metadata: { resourceVersion: pod['metadata'].resourceVersion }, status },
        },
        mergePatch(),
      ),
    );
  }

  /** Read, compute, write with retries on conflict (for the test hooks). */
  private async updateStatus(namespace: string, name: string, compute: (pod: Obj) => Obj): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const pod = await this.read(namespace, name);
      if (!pod) throw new Error(`pod ${namespace}/${name} not found`);
      try {
        await this.writeStatus(pod, compute(pod));
        return;
      } catch (err) {
        if (!isConflict(err) || attempt >= 10) throw err;
      }
    }
  }

  /** Records an event in the background (in order); idle() and stop() wait for them. */
  private event(
    involved: Obj,
    type: string,
    reason: string,
    message: string,
    component: string,
    namespace?: string,
    fieldPath?: string,
  ): void {
    if (!this.recordEvents) return;
    const body = this.eventBody(involved, type, reason, message, component, namespace, fieldPath);
    const ns = body.metadata.namespace;
    this.events = this.events.then(async () => {
      try {
        await this.api.createNamespacedEvent({ namespace: ns, body: body as never });
      } catch (err) {
        this.log?.debug({ err, reason }, 'pod simulator: event not recorded');
      }
    });
  }

  private eventBody(
    involved: Obj,
    type: string,
    reason: string,
    message: string,
    component: string,
    namespace?: string,
    fieldPath?: string,
  ) {
    const ns: string = namespace ?? involved['metadata']?.namespace ?? 'default';
    const name = String(involved['metadata']?.name ?? '');
    const time = formatTime();
    const host =
      component === 'kubelet'
        ? (involved['spec']?.nodeName ?? (involved['kind'] === 'Node' ? name : undefined))
        : undefined;
    const body = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: `${name}.${hex(8)}`, namespace: ns },
      involvedObject: {
        apiVersion: 'v1',
        kind: involved['kind'] ?? 'Pod',
        name,
        ...(involved['metadata']?.namespace ? { namespace: involved['metadata'].namespace } : {}),
        uid: involved['metadata']?.uid,
        ...(involved['metadata']?.resourceVersion ? { resourceVersion: involved['metadata'].resourceVersion } : {}),
        ...(fieldPath ? { fieldPath } : {}),
      },
      reason,
      message,
      source: { component, ...(host ? { host } : {}) },
      firstTimestamp: time,
      lastTimestamp: time,
      count: 1,
      type,
      eventTime: null,
      reportingComponent: component,
      reportingInstance: host ?? '',
    };
    return body;
  }
}

/**
 * Whether a node with `labels` satisfies the pod's required node affinity: its terms are ORed, the
 * expressions of one term ANDed (matchFields is not evaluated; nodes here have no such fields).
 */
export function requiredNodeAffinityMatches(nodeAffinity: Obj | undefined, labels: Record<string, string>): boolean {
  const terms = (nodeAffinity?.['requiredDuringSchedulingIgnoredDuringExecution']?.nodeSelectorTerms ?? []) as Obj[];
  if (terms.length === 0) return true;
  // An empty term matches no node, as in kube.
  return terms.some((t) => {
    const expressions = (t['matchExpressions'] ?? []) as Obj[];
    return (
      expressions.length > 0 &&
      expressions.every((e) => {
        const has = Object.prototype.hasOwnProperty.call(labels, e['key']);
        const value = labels[e['key']];
        const values = (e['values'] ?? []) as string[];
        switch (e['operator']) {
          case 'In':
            return has && values.includes(value);
          case 'NotIn':
            return !has || !values.includes(value);
          case 'Exists':
            return has;
          case 'DoesNotExist':
            return !has;
          case 'Gt':
            return has && Number(value) > Number(values[0]);
          case 'Lt':
            return has && Number(value) < Number(values[0]);
          default:
            return false;
        }
      })
    );
  });
}
