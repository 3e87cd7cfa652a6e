// The node runtime: a kubelet stand-in that runs the containers of its Pods as processes of this
// machine (see sandbox.ts for how, images.ts for which). It is an ordinary API client
// (@kubernetes/client-node with a kubeconfig), so it attaches to the local control plane or to
// any API server:
//   - registers its Node (capacity, conditions, addresses, the kubelet port) and renews its Lease in
//     kube-node-lease every leaseDuration/4;
//   - runs the Pods bound to it (pod-worker.ts) and, when asked to schedule, binds the unscheduled
//     Pods it can run (at least one container of an image it knows);
//   - serves the kubelet's containerLogs and exec endpoints (kubelet-server.ts), to which the API
//     server proxies pods/log and pods/exec;
//   - stopping it stops every process it started and reports the Node not ready; a node that
//     cannot renew its Lease for a whole lease duration stops its Pods' processes (it is
//     considered gone and its Pods may be replaced elsewhere);
//   - processes of a previous run still alive (the node was killed) are found by pid and start
//     time and ended on start.

import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, statfsSync } from 'node:fs';
import { arch, cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { isAlreadyExists, isConflict, isNotFound } from '../../machinery/errors.js';
import { formatMicroTime, formatTime, normalizeTime } from '../../machinery/time.js';
import { loadKubeConfig, type KubeconfigSource } from '../kubeclient/index.js';
import { AddressPool, listeningAddresses } from './addresses.js';
import { makeClients, mergePatch, plain, type Clients } from './client.js';
import type { EnvSources } from './environment.js';
import { detectMemoryCgroups, removeScope, removeStaleCgroups, type MemoryCgroups } from './cgroups.js';
import { EventRecorder } from './events.js';
import { ImageTable } from './images.js';
import { Informer } from './informer.js';
import { KubeletServer } from './kubelet-server.js';
import { PodWorker } from './pod-worker.js';
import { ProcessRecords, type StaleProcess } from './process-records.js';
import { bootID, detectSandboxSupport, hostMountsToBind, type SandboxSupport } from './sandbox.js';
import type { VolumeSources } from './volumes.js';
import { wildcardListeners, wildcardPortOf } from './wildcard.js';

type Obj = Record<string, any>;

export interface NodeRuntimeOptions {
  kubeconfig: KubeconfigSource;
  nodeName: string;
  /** Where Pods, logs and the process records live. */
  dataDir: string;
  images?: ImageTable;
  /** Pod addresses; default 127.64.0.0/16. */
  podCIDR?: string;
  /** Bind unscheduled Pods this node can run (the local control plane has no scheduler). */
  schedule?: boolean;
  leaseDurationSeconds?: number;
  /** The kubelet endpoint's port on 127.0.0.1; 0 picks one. */
  kubeletPort?: number;
  /** At most this long for a Pod's containers to stop when the node stops. Default 30. */
  shutdownGracePeriodSeconds?: number;
  kubeletVersion?: string;
  logger: Logger;
}

export const defaultPodCIDR = '127.64.0.0/16';
export const nodeIP = '127.0.0.1';

function osImage(): string {
  try {
    const m = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync('/etc/os-release', 'utf8'));
    return m?.[1] ?? 'Linux';
  } catch {
    return 'Linux';
  }
}

function machineID(): string {
  try {
    return readFileSync('/etc/machine-id', 'utf8').trim();
  } catch {
    return '';
  }
}

const kubeArch = (a: string) => (a === 'x64' ? 'amd64' : a === 'ia32' ? '386' : a);

export class NodeRuntime {
  readonly nodeName: string;
  readonly images: ImageTable;
  readonly support: SandboxSupport;
  private readonly kc: KubeConfig;
  private readonly clients: Clients;
  private readonly log: Logger;
  private readonly events: EventRecorder;
  private readonly scheduler: EventRecorder;
  private readonly records: ProcessRecords;
  private readonly pool: AddressPool;
  readonly cgroups: MemoryCgroups;
  private readonly leaseSeconds: number;
  private readonly workers = new Map<string, PodWorker>();
  private readonly informers: Informer[] = [];
  private configMaps!: Informer;
  private secrets!: Informer;
  private services!: Informer;
  private server: KubeletServer | undefined;
  private nodeUID: string | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private bindCheck: NodeJS.Timeout | undefined;
  private lastRenewMs = Date.now();
  private fenced = false;
  private running = false;
  private ready = false;
  private lastStatusMs = 0;
  /** What the last start found of a previous run. */
  stale: StaleProcess[] = [];

  constructor(private readonly opts: NodeRuntimeOptions) {
    this.nodeName = opts.nodeName;
    this.kc = loadKubeConfig(opts.kubeconfig);
    this.clients = makeClients(this.kc);
    this.log = opts.logger;
    this.images = opts.images ?? ImageTable.load();
    this.support = detectSandboxSupport();
    // One cgroup scope per node data directory: nodes side by side never touch each other's.
    const scope = createHash('sha256').update(opts.dataDir).digest('hex').slice(0, 12);
    this.cgroups = this.support.namespaces
      ? detectMemoryCgroups(`${opts.nodeName}-${scope}`)
      : { enforced: false, reason: 'no container sandbox' };
    this.events = new EventRecorder(this.clients.core, { component: 'kubelet', host: opts.nodeName }, this.log);
    this.scheduler = new EventRecorder(this.clients.core, { component: 'default-scheduler' }, this.log);
    this.records = new ProcessRecords(join(opts.dataDir, 'processes.json'));
    this.pool = new AddressPool(opts.podCIDR ?? defaultPodCIDR);
    this.leaseSeconds = opts.leaseDurationSeconds ?? 40;
  }

  get podCIDR(): string {
    return this.pool.cidr;
  }

  get kubeletPort(): number | undefined {
    return this.server?.port;
  }

  /** Whether this node would run the Pod's containers as processes (so it schedules it). */
  runsAsProcesses(pod: Obj): boolean {
    if (!this.support.namespaces) return false;
    const spec = pod['spec'] ?? {};
    if (spec.schedulerName && spec.schedulerName !== 'default-scheduler') return false;
    const selector = (spec.nodeSelector ?? {}) as Record<string, string>;
    const labels = this.labels();
    if (Object.entries(selector).some(([k, v]) => labels[k] !== v)) return false;
    const containers = [...((spec.initContainers ?? []) as Obj[]), ...((spec.containers ?? []) as Obj[])];
    return containers.some((c) => this.images.resolve(String(c['image'] ?? '')).kind === 'known');
  }

  private labels(): Record<string, string> {
    const os = process.platform;
    const a = kubeArch(arch());
    return {
      'kubernetes.io/hostname': this.nodeName,
      'kubernetes.io/os': os,
      'kubernetes.io/arch': a,
      'beta.kubernetes.io/os': os,
      'beta.kubernetes.io/arch': a,
    };
  }

  // ---- lifecycle ----------------------------------------------------------------------------------

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.stale = this.records.endStale();
    for (const p of this.stale) {
      if (p.killed)
        this.log.warn({ pid: p.pid, process: p.what }, 'ended a process a previous run of this node left running');
      else
        this.log.info(
          { pid: p.pid, process: p.what },
          'a process of the previous run of this node had already stopped',
        );
    }
    if (this.cgroups.enforced) removeStaleCgroups(this.cgroups, () => false);
    else this.log.info({ reason: this.cgroups.reason }, 'memory limits are not enforced on this machine');
    if (!this.support.namespaces)
      this.log.warn(
        { reason: this.support.reason },
        'Pods cannot run as processes on this machine; they stay simulated',
      );
    this.server = new KubeletServer({
      kc: this.kc,
      nodeName: this.nodeName,
      port: this.opts.kubeletPort ?? 0,
      log: this.log,
      worker: (ns, name) => [...this.workers.values()].find((w) => w.namespace === ns && w.name === name),
      records: this.records,
    });
    await this.server.start();
    await this.register();
    const core = this.clients.core;
    const cache = (path: string, list: () => Promise<any>) =>
      new Informer(
        this.kc,
        path,
        list,
        {
          update: () => this.onConfigChange(),
          add: () => this.onConfigChange(),
        },
        { log: this.log },
      );
    this.configMaps = cache('/api/v1/configmaps', () => core.listConfigMapForAllNamespaces());
    this.secrets = cache('/api/v1/secrets', () => core.listSecretForAllNamespaces());
    this.services = new Informer(
      this.kc,
      '/api/v1/services',
      () => core.listServiceForAllNamespaces(),
      {},
      { log: this.log },
    );
    this.informers.push(this.configMaps, this.secrets, this.services);
    await Promise.all(this.informers.map((i) => i.start()));
    const pods = new Informer(
      this.kc,
      '/api/v1/pods',
      () => core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${this.nodeName}` }),
      {
        add: (p) => this.onPod(p),
        update: (p) => this.onPod(p),
        delete: (p) => this.workers.get(String(p['metadata']?.uid))?.podDeleted(),
      },
      { fieldSelector: `spec.nodeName=${this.nodeName}`, log: this.log },
    );
    this.informers.push(pods);
    await pods.start();
    this.removeOrphanPodDirectories(new Set(pods.items().map((p) => String(p['metadata']?.uid))));
    if (this.opts.schedule) {
      const pending = new Informer(
        this.kc,
        '/api/v1/pods',
        () => core.listPodForAllNamespaces({ fieldSelector: 'spec.nodeName=' }),
        { add: (p) => void this.bind(p), update: (p) => void this.bind(p) },
        { fieldSelector: 'spec.nodeName=', log: this.log },
      );
      this.informers.push(pending);
      await pending.start();
    }
    this.heartbeat = setInterval(() => void this.beat(), Math.max(250, (this.leaseSeconds * 1000) / 4));
    this.bindCheck = setInterval(() => this.checkWildcardListeners(), 2000);
  }

  /**
   * Stops every process (each Pod's containers within min(its grace period, the shutdown grace
   * period)), reports the Node not ready and stops renewing its Lease. Pods stay bound: a node
   * that starts again runs them again.
   */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    if (this.heartbeat) clearInterval(this.heartbeat);
    if (this.bindCheck) clearInterval(this.bindCheck);
    await Promise.all(this.informers.map((i) => i.stop()));
    this.informers.length = 0;
    const cap = this.opts.shutdownGracePeriodSeconds ?? 30;
    await Promise.all([...this.workers.values()].map((w) => w.shutdown(cap)));
    try {
      await this.postStatus(false, 'node is shutting down');
    } catch (err) {
      this.log.debug({ err }, 'could not report the node not ready');
    }
    await this.events.flush();
    await this.scheduler.flush();
    await this.server?.stop();
    if (this.cgroups.enforced) removeScope(this.cgroups);
    this.clients.close();
  }

  /** Ends every process of this node at once, as if the machine lost power (a test's "node down"). */
  kill(): void {
    this.running = false;
    if (this.heartbeat) clearInterval(this.heartbeat);
    if (this.bindCheck) clearInterval(this.bindCheck);
    for (const i of this.informers) void i.stop();
    this.informers.length = 0;
    this.server?.killSessions();
    for (const w of this.workers.values()) w.killNow();
    void this.server?.stop();
  }

  /** Resolves when no Pod sync is in progress. */
  async idle(): Promise<void> {
    await Promise.all([...this.workers.values()].map((w) => w.idle()));
    await this.events.flush();
  }

  // ---- Node and Lease ----------------------------------------------------------------------------

  private async register(): Promise<void> {
    const body = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name: this.nodeName,
        labels: this.labels(),
        annotations: { 'node.alpha.kubernetes.io/ttl': '0', 'upm.io/node-runtime': 'processes' },
      },
      spec: { podCIDR: this.pool.cidr, podCIDRs: [this.pool.cidr] },
    };
    try {
      this.nodeUID = plain(await this.clients.core.createNode({ body: body as never }))['metadata']?.uid;
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      const node = plain(
        await this.clients.core.patchNode(
          {
            name: this.nodeName,
            body: { metadata: { labels: body.metadata.labels, annotations: body.metadata.annotations } },
          },
          mergePatch(),
        ),
      );
      this.nodeUID = node['metadata']?.uid;
    }
    this.events.record(
      { apiVersion: 'v1', kind: 'Node', metadata: { name: this.nodeName, uid: this.nodeName } },
      'Normal',
      'Starting',
      'Starting kubelet.',
    );
    await this.postStatus(true);
    await this.renewLease();
  }

  private allocatable(): Record<string, string> {
    let storage = '100Gi';
    try {
      const s = statfsSync(this.opts.dataDir);
      storage = String(s.bavail * s.bsize);
    } catch {
      // keep the default
    }
    return {
      cpu: String(cpus().length),
      memory: `${Math.floor(totalmem() / 1024)}Ki`,
      pods: '110',
      'ephemeral-storage': storage,
      'hugepages-1Gi': '0',
      'hugepages-2Mi': '0',
    };
  }

  private async postStatus(ready: boolean, notReadyMessage = 'container runtime is not ready'): Promise<void> {
    const current = plain(await this.clients.core.readNode({ name: this.nodeName }));
    const time = formatTime();
    const old = (current['status']?.conditions ?? []) as Obj[];
    const cond = (type: string, status: string, reason: string, message: string) => {
      const prev = old.find((c) => c['type'] === type);
      return {
        type,
        status,
        reason,
        message,
        lastHeartbeatTime: time,
        lastTransitionTime:
          prev && prev['status'] === status ? (normalizeTime(prev['lastTransitionTime']) ?? time) : time,
      };
    };
    const allocatable = this.allocatable();
    const status = {
      capacity: allocatable,
      allocatable,
      conditions: [
        cond('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
        cond('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
        cond('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
        ready
          ? cond('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status')
          : cond('Ready', 'False', 'KubeletNotReady', notReadyMessage),
      ],
      // No Hostname address: API servers would try it first for logs and exec, and the node's
      // name need not resolve; the kubelet endpoint is on the InternalIP.
      addresses: [{ type: 'InternalIP', address: nodeIP }],
      daemonEndpoints: { kubeletEndpoint: { Port: this.server?.port ?? 10250 } },
      nodeInfo: {
        machineID: machineID(),
        systemUUID: machineID(),
        bootID: bootID(),
        kernelVersion: release(),
        osImage: osImage(),
        containerRuntimeVersion: 'upm://0.1.0',
        kubeletVersion: this.opts.kubeletVersion ?? 'v1.33.0',
        operatingSystem: process.platform,
        architecture: kubeArch(arch()),
      },
    };
    await this.clients.core.patchNodeStatus({ name: this.nodeName, body: { status } }, mergePatch());
    const wasReady = old.find((c) => c['type'] === 'Ready')?.['status'] === 'True';
    if (wasReady !== ready)
      this.events.record(
        { apiVersion: 'v1', kind: 'Node', metadata: { name: this.nodeName, uid: this.nodeName } },
        'Normal',
        ready ? 'NodeReady' : 'NodeNotReady',
        `Node ${this.nodeName} status is now: ${ready ? 'NodeReady' : 'NodeNotReady'}`,
      );
    this.ready = ready;
    this.lastStatusMs = Date.now();
  }

  private async renewLease(): Promise<void> {
    const spec = {
      holderIdentity: this.nodeName,
      leaseDurationSeconds: this.leaseSeconds,
      renewTime: formatMicroTime(),
    };
    try {
      await this.clients.coordination.patchNamespacedLease(
        { namespace: 'kube-node-lease', name: this.nodeName, body: { spec } },
        mergePatch(),
      );
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await this.clients.coordination.createNamespacedLease({
        namespace: 'kube-node-lease',
        body: {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: {
            name: this.nodeName,
            namespace: 'kube-node-lease',
            ...(this.nodeUID
              ? { ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: this.nodeName, uid: this.nodeUID }] }
              : {}),
          },
          spec,
        } as never,
      });
    }
    this.lastRenewMs = Date.now();
  }

  private async beat(): Promise<void> {
    if (!this.running) return;
    try {
      await this.renewLease();
      if (this.fenced) {
        this.fenced = false;
        this.log.info('the API server is reachable again; running Pods again');
        for (const w of this.workers.values()) w.resume();
      }
      if (!this.ready || Date.now() - this.lastStatusMs > 60_000) await this.postStatus(true);
    } catch (err) {
      if (isConflict(err)) return;
      const silentMs = Date.now() - this.lastRenewMs;
      this.log.debug({ err, silentMs }, 'lease renewal failed');
      if (!this.fenced && silentMs >= this.leaseSeconds * 1000) {
        this.fenced = true;
        this.log.warn({ silentMs }, 'lease not renewed for a whole lease duration: stopping every Pod process');
        for (const w of this.workers.values()) w.killNow();
      }
    }
  }

  /** Directories of Pods deleted while the node was down (their processes died with it). */
  private removeOrphanPodDirectories(current: Set<string>): void {
    const dir = join(this.opts.dataDir, 'pods');
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const uid of names) {
      if (current.has(uid)) continue;
      rmSync(join(dir, uid), { recursive: true, force: true });
      this.log.info({ pod: uid }, 'removed the files of a Pod deleted while the node was down');
    }
  }

  /** Containers that listen on every address are stopped (see wildcard.ts). */
  private checkWildcardListeners(): void {
    if (this.workers.size === 0) return;
    const listeners = wildcardListeners();
    if (listeners.size === 0) return;
    for (const w of this.workers.values())
      for (const { container, pids } of w.runningProcesses()) {
        const port = wildcardPortOf(pids, listeners);
        if (port !== undefined) w.failWildcard(container, port);
      }
  }

  // ---- Pods -----------------------------------------------------------------------------------------

  private onPod(pod: Obj): void {
    if (!this.running) return;
    const uid = String(pod['metadata']?.uid);
    let worker = this.workers.get(uid);
    if (!worker) {
      const phase = pod['status']?.phase;
      if (phase === 'Succeeded' || phase === 'Failed') return;
      worker = new PodWorker(pod, {
        nodeName: this.nodeName,
        nodeIP,
        podsDir: join(this.opts.dataDir, 'pods'),
        images: this.images,
        hostMounts: hostMountsToBind(this.opts.dataDir),
        clients: this.clients,
        events: this.events,
        log: this.log,
        envSources: this.envSources(),
        volumeSources: this.volumeSources(),
        records: this.records,
        cgroups: this.cgroups,
        allocateIP: (owner, preferred) => {
          const listening = listeningAddresses();
          return this.pool.allocate(owner, preferred, (ip) => listening.has(ip));
        },
        releaseIP: (owner) => this.pool.release(owner),
        claimBusy: (ns, claim, owner) =>
          [...this.workers.values()].some((w) => w.uid !== owner && w.namespace === ns && w.holdsClaim(claim)),
        onGone: (owner) => {
          this.workers.delete(owner);
          // A Pod waiting for a claim this one held can start now.
          for (const w of this.workers.values()) w.requestSync();
        },
      });
      this.workers.set(uid, worker);
      if (this.fenced) return;
      worker.requestSync();
      return;
    }
    worker.update(pod);
  }

  private onConfigChange(): void {
    for (const w of this.workers.values()) {
      void w.refreshVolumes();
      w.requestSync();
    }
  }

  private envSources(): EnvSources {
    return {
      configMap: (ns, name) => this.configMaps.get(ns, name),
      secret: (ns, name) => this.secrets.get(ns, name),
      services: (ns) => this.services.items(ns),
      masterService: () => this.services.get('default', 'kubernetes'),
      allocatable: this.allocatable(),
    };
  }

  private volumeSources(): VolumeSources {
    const core = this.clients.core;
    return {
      configMap: (ns, name) => this.configMaps.get(ns, name),
      secret: (ns, name) => this.secrets.get(ns, name),
      allocatable: this.allocatable(),
      claimPath: async (ns, claim) => {
        let pvc: Obj;
        try {
          pvc = plain(await core.readNamespacedPersistentVolumeClaim({ namespace: ns, name: claim }));
        } catch (err) {
          if (isNotFound(err)) throw new Error(`persistentvolumeclaim "${claim}" not found`);
          throw err;
        }
        const volume = pvc['spec']?.volumeName;
        if (!volume || pvc['status']?.phase !== 'Bound')
          throw new Error(`persistentvolumeclaim "${claim}" is not bound`);
        const pv = plain(await core.readPersistentVolume({ name: volume }));
        const path = pv['spec']?.hostPath?.path ?? pv['spec']?.local?.path;
        if (!path) throw new Error(`persistentvolume "${volume}" is neither hostPath nor local`);
        return String(path);
      },
      serviceAccountToken: async (pod, audience, expirationSeconds) => {
        const answer = plain(
          await core.createNamespacedServiceAccountToken({
            namespace: pod['metadata'].namespace,
            name: pod['spec']?.serviceAccountName ?? 'default',
            body: {
              apiVersion: 'authentication.k8s.io/v1',
              kind: 'TokenRequest',
              spec: {
                ...(audience ? { audiences: [audience] } : {}),
                expirationSeconds,
                boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod['metadata'].name, uid: pod['metadata'].uid },
              },
            } as never,
          }),
        );
        return String(answer['status']?.token ?? '');
      },
    };
  }

  /** Binds an unscheduled Pod this node can run (the scheduler's part for such Pods). */
  private async bind(pod: Obj): Promise<void> {
    if (!this.running || !this.ready || pod['spec']?.nodeName || pod['metadata']?.deletionTimestamp) return;
    if (!this.runsAsProcesses(pod)) return;
    const ns = String(pod['metadata'].namespace);
    const name = String(pod['metadata'].name);
    try {
      const bound = plain(
        await this.clients.core.patchNamespacedPod(
          {
            namespace: ns,
            name,
            body: { metadata: { resourceVersion: pod['metadata'].resourceVersion }, spec: { nodeName: this.nodeName } },
          },
          mergePatch(),
        ),
      );
      this.scheduler.record(bound, 'Normal', 'Scheduled', `Successfully assigned ${ns}/${name} to ${this.nodeName}`);
      // WaitForFirstConsumer claims learn where their Pod runs.
      for (const v of (pod['spec']?.volumes ?? []) as Obj[]) {
        const claim = v['persistentVolumeClaim']?.claimName;
        if (!claim) continue;
        try {
          await this.clients.core.patchNamespacedPersistentVolumeClaim(
            {
              namespace: ns,
              name: String(claim),
              body: { metadata: { annotations: { 'volume.kubernetes.io/selected-node': this.nodeName } } },
            },
            mergePatch(),
          );
        } catch (err) {
          if (!isNotFound(err)) this.log.debug({ err, claim }, 'could not annotate the claim');
        }
      }
      const conditions = [
        { type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: formatTime() },
      ];
      await this.clients.core.patchNamespacedPodStatus(
        { namespace: ns, name, body: { status: { conditions } } },
        mergePatch(),
      );
    } catch (err) {
      if (!isConflict(err) && !isNotFound(err)) this.log.warn({ err, pod: `${ns}/${name}` }, 'binding failed');
    }
  }
}
