// One Pod on this node, run as the kubelet runs it: the sandbox (address, directories, volumes),
// init containers one after the other, then the containers; restarts by restartPolicy with
// CrashLoopBackOff; probes; graceful termination; the status written whenever it changes.
// Every change (an informer update, a container exit, a probe result, a timer) asks for a sync;
// syncs of one Pod never overlap.

import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { isConflict, isNotFound } from '../../machinery/errors.js';
import { formatTime, normalizeTime } from '../../machinery/time.js';
import { mergePatch, type Clients } from './client.js';
import { ContainerConfigError, containerEnvironment, type EnvSources, type EnvVar } from './environment.js';
import type { EventRecorder } from './events.js';
import { envLookup, expand } from './expansion.js';
import { containerCommand, type ImageEntry, type ImageResolution, type ImageTable } from './images.js';
import { LogWriter } from './logs.js';
import { podStatus, type ContainerView, type InstanceView, type PodView } from './pod-status.js';
import { cgroupScript, containerCgroup, oomKilled, removeCgroup, type MemoryCgroups } from './cgroups.js';
import type { ProcessRecords } from './process-records.js';
import { quantityValue } from '../../machinery/quantity.js';
import { ProbeWorker, runProbe, type ProbeKind, type ProbeTarget } from './probes.js';
import {
  containerIdentity,
  execInContainer,
  resolveInContainer,
  spawnContainer,
  startScript,
  type Identity,
  type Mount,
} from './sandbox.js';
import { PodVolumes, VolumeError, type VolumeSources } from './volumes.js';
import type { ChildProcess } from 'node:child_process';

type Obj = Record<string, any>;

export interface PodWorkerContext {
  nodeName: string;
  nodeIP: string;
  podsDir: string;
  images: ImageTable;
  hostMounts: string[];
  clients: Clients;
  events: EventRecorder;
  log: Logger;
  envSources: EnvSources;
  volumeSources: VolumeSources;
  records: ProcessRecords;
  cgroups: MemoryCgroups;
  allocateIP(uid: string, preferred?: string): string;
  releaseIP(uid: string): void;
  /** Pods of this node, other than `uid`, whose containers still run with the claim mounted. */
  claimBusy(namespace: string, claim: string, uid: string): boolean;
  /** The worker is done (its Pod is gone and its processes stopped). */
  onGone(uid: string): void;
}

const backoffInitialMs = 10_000;
const backoffMaxMs = 300_000;
const signals: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15, SIGABRT: 6 };

interface Instance extends InstanceView {
  attempt: number;
  child?: ChildProcess;
  pid?: number;
  startedMs: number;
  finishedMs?: number;
  exited: Promise<void>;
  logPath: string;
  env: EnvVar[];
  identity?: Identity;
  workingDir: string;
  terminationLog?: string;
  /** The container's root; the process is the container once it runs chrooted there. */
  rootDir?: string;
  cgroup?: string;
  /** Why the node stopped it (reported as its termination message). */
  failure?: string;
}

/** Whether the start script has handed over to the container's command (chroot done). */
function inContainer(i: Instance): boolean {
  if (!i.running || !i.pid || !i.rootDir) return false;
  try {
    return readlinkSync(`/proc/${i.pid}/root`) === i.rootDir;
  } catch {
    return false;
  }
}

interface Container {
  spec: Obj;
  kind: 'init' | 'sidecar' | 'regular';
  resolution: ImageResolution;
  restartCount: number;
  everStarted: boolean;
  current?: Instance;
  previous?: Instance;
  waiting?: { reason: string; message?: string };
  started: boolean;
  ready: boolean;
  probes: ProbeWorker[];
  backoff?: { delayMs: number; updatedMs: number };
  retryTimer?: NodeJS.Timeout;
  /** A kill is in progress (probe failure or Pod termination). */
  killing?: Promise<void>;
  /** Reported once: events that should not repeat every sync. */
  noted: Set<string>;
}

function hex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}

function fieldPathOf(c: Container): string {
  return `spec.${c.kind === 'regular' ? 'containers' : 'initContainers'}{${c.spec['name']}}`;
}

export class PodWorker {
  pod: Obj;
  readonly uid: string;
  readonly namespace: string;
  readonly name: string;
  private readonly dir: string;
  private readonly containers: Container[];
  private readonly volumes: PodVolumes;
  private podIP: string | undefined;
  private startTime: string | undefined;
  private sandboxReady = false;
  private failed: { reason?: string; message?: string } | undefined;
  private lastWritten = '';
  private syncing: Promise<void> | undefined;
  private again = false;
  private terminating: Promise<void> | undefined;
  private deleted = false;
  private stoppedForShutdown = false;
  /** The node lost the API server (or was cut off): nothing runs until resume(). */
  private suspended = false;
  private retry: NodeJS.Timeout | undefined;
  private mountFailingSince: number | undefined;

  constructor(
    pod: Obj,
    private readonly ctx: PodWorkerContext,
  ) {
    this.pod = pod;
    this.uid = String(pod['metadata'].uid);
    this.namespace = String(pod['metadata'].namespace);
    this.name = String(pod['metadata'].name);
    this.dir = join(ctx.podsDir, this.uid);
    this.volumes = new PodVolumes(pod, this.dir, ctx.volumeSources);
    const spec = pod['spec'] ?? {};
    const statuses = new Map<string, Obj>(
      [
        ...((pod['status']?.initContainerStatuses ?? []) as Obj[]),
        ...((pod['status']?.containerStatuses ?? []) as Obj[]),
      ].map((s) => [String(s['name']), s]),
    );
    const make = (c: Obj, kind: Container['kind']): Container => {
      const known = statuses.get(String(c['name']));
      const container: Container = {
        spec: c,
        kind,
        resolution: ctx.images.resolve(String(c['image'] ?? '')),
        restartCount: Number(known?.['restartCount'] ?? 0),
        everStarted: !!known?.['containerID'],
        started: false,
        ready: false,
        probes: [],
        noted: new Set(),
      };
      // A node that comes back finds its containers gone: the last state it reported is the
      // previous instance (the kubelet after a reboot).
      const state = known?.['state'] ?? {};
      const was = state.running ?? state.terminated;
      if (known?.['containerID'] && was) {
        container.current = {
          containerID: String(known['containerID']),
          startedAt: normalizeTime(was.startedAt) ?? formatTime(),
          running: false,
          finishedAt: normalizeTime(state.terminated?.finishedAt) ?? formatTime(),
          exitCode: state.terminated?.exitCode ?? 137,
          reason: state.terminated?.reason ?? 'Error',
          message:
            state.terminated?.message ?? (state.running ? 'The container was killed when its node stopped' : undefined),
          attempt: container.restartCount,
          startedMs: Date.parse(String(was.startedAt ?? '')) || Date.now(),
          finishedMs: Date.now(),
          exited: Promise.resolve(),
          logPath: this.logPath(String(c['name']), container.restartCount),
          env: [],
          workingDir: '/',
        };
        if (known['lastState']?.terminated) {
          const t = known['lastState'].terminated;
          container.previous = {
            ...container.current,
            containerID: String(t.containerID ?? ''),
            startedAt: normalizeTime(t.startedAt) ?? '',
            finishedAt: normalizeTime(t.finishedAt) ?? '',
            exitCode: t.exitCode,
            reason: t.reason,
            message: t.message,
            attempt: container.restartCount - 1,
            logPath: this.logPath(String(c['name']), container.restartCount - 1),
          };
        }
      }
      return container;
    };
    this.containers = [
      ...((spec.initContainers ?? []) as Obj[]).map((c) =>
        make(c, c['restartPolicy'] === 'Always' ? 'sidecar' : 'init'),
      ),
      ...((spec.containers ?? []) as Obj[]).map((c) => make(c, 'regular')),
    ];
    this.startTime = pod['status']?.startTime;
  }

  private get restartPolicy(): string {
    return String(this.pod['spec']?.restartPolicy ?? 'Always');
  }

  private logPath(container: string, attempt: number): string {
    return join(this.dir, 'logs', container, `${attempt}.log`);
  }

  // ---- inputs ---------------------------------------------------------------------------------------

  /** A newer version of the Pod from the API. */
  update(pod: Obj): void {
    if (pod['metadata']?.uid !== this.uid) return;
    const labelsChanged =
      JSON.stringify(pod['metadata']?.labels ?? {}) !== JSON.stringify(this.pod['metadata']?.labels ?? {}) ||
      JSON.stringify(pod['metadata']?.annotations ?? {}) !== JSON.stringify(this.pod['metadata']?.annotations ?? {});
    this.pod = pod;
    if (labelsChanged && this.sandboxReady) void this.refreshVolumes();
    if (pod['metadata']?.deletionTimestamp) void this.terminate(false);
    this.requestSync();
  }

  /** The Pod is gone from the API: stop its processes and forget it. */
  podDeleted(): void {
    this.deleted = true;
    void this.terminate(true);
  }

  /** A ConfigMap or Secret changed: write the volumes that project it again. */
  async refreshVolumes(): Promise<void> {
    if (!this.sandboxReady || this.terminating) return;
    try {
      await this.volumes.refresh(this.withAddresses());
    } catch (err) {
      this.ctx.log.debug({ err, pod: `${this.namespace}/${this.name}` }, 'volume refresh failed');
    }
  }

  /** Whether a container of this Pod runs (or is being stopped) with the claim mounted. */
  holdsClaim(claim: string): boolean {
    const uses = ((this.pod['spec']?.volumes ?? []) as Obj[]).some(
      (v) => v['persistentVolumeClaim']?.claimName === claim,
    );
    return uses && this.containers.some((c) => c.current?.running);
  }

  /** The container's main process and what exec needs, when it runs. */
  execTarget(container: string): { pid: number; identity: Identity; env: EnvVar[]; workingDir: string } | string {
    const c = this.containers.find((x) => x.spec['name'] === container);
    if (!c) return `container ${container} is not valid for pod ${this.name}`;
    if (c.resolution.kind !== 'known')
      return `container ${container} is simulated (${c.resolution.reason}): no process runs`;
    const i = c.current;
    if (!i?.running || !i.pid || !i.identity) return `container ${container} is not running`;
    if (!inContainer(i)) return `container ${container} is starting`;
    return { pid: i.pid, identity: i.identity, env: i.env, workingDir: i.workingDir };
  }

  /** The log file of the current (or previous) instance and whether it is still written to. */
  logOf(container: string, previous: boolean): { path: string; running: () => boolean } | undefined {
    const c = this.containers.find((x) => x.spec['name'] === container);
    if (!c) return undefined;
    const i = previous ? (c.current && !c.current.running && c.waiting ? c.current : c.previous) : c.current;
    if (!i) return undefined;
    return { path: i.logPath, running: () => i.running };
  }

  // ---- sync -----------------------------------------------------------------------------------------

  requestSync(): void {
    if (this.syncing) {
      this.again = true;
      return;
    }
    this.syncing = (async () => {
      do {
        this.again = false;
        try {
          await this.sync();
        } catch (err) {
          if (!isConflict(err) && !isNotFound(err))
            this.ctx.log.warn({ err, pod: `${this.namespace}/${this.name}` }, 'pod sync failed');
          this.later(1000);
        }
      } while (this.again);
    })().finally(() => (this.syncing = undefined));
  }

  /** Resolves when no sync runs. */
  async idle(): Promise<void> {
    while (this.syncing) await this.syncing;
  }

  private later(ms: number): void {
    if (this.retry) clearTimeout(this.retry);
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.requestSync();
    }, ms);
  }

  private withAddresses(): Obj {
    return {
      ...this.pod,
      status: {
        ...(this.pod['status'] ?? {}),
        hostIP: this.ctx.nodeIP,
        hostIPs: [{ ip: this.ctx.nodeIP }],
        ...(this.podIP ? { podIP: this.podIP, podIPs: [{ ip: this.podIP }] } : {}),
      },
    };
  }

  private async sync(): Promise<void> {
    if (this.terminating || this.stoppedForShutdown || this.suspended) return;
    const phase = this.pod['status']?.phase;
    if (phase === 'Succeeded' || phase === 'Failed') return;
    if (!(await this.ensureSandbox())) {
      await this.writeStatus();
      return;
    }
    if (!this.failed) await this.runContainers();
    await this.writeStatus();
  }

  /** The Pod's address, directories and volumes; false (with the reason reported) when not yet. */
  private async ensureSandbox(): Promise<boolean> {
    if (!this.startTime) this.startTime = formatTime();
    if (!this.podIP) {
      const preferred = this.pod['status']?.podIP;
      this.podIP = this.ctx.allocateIP(this.uid, typeof preferred === 'string' ? preferred : undefined);
    }
    if (this.sandboxReady) return true;
    for (const v of (this.pod['spec']?.volumes ?? []) as Obj[]) {
      const claim = v['persistentVolumeClaim']?.claimName;
      if (claim && this.ctx.claimBusy(this.namespace, String(claim), this.uid)) {
        this.noteOnce(
          'claim-busy',
          'Normal',
          'WaitingForVolume',
          `persistentvolumeclaim "${claim}" is still mounted by a terminating pod on this node`,
        );
        this.later(500);
        return false;
      }
    }
    mkdirSync(this.dir, { recursive: true });
    try {
      await this.volumes.setUp();
    } catch (err) {
      const message = err instanceof VolumeError ? err.message : `MountVolume.SetUp failed: ${(err as Error).message}`;
      // A claim is usually bound a moment after its Pod is scheduled: only a lasting failure is reported.
      this.mountFailingSince ??= Date.now();
      if (Date.now() - this.mountFailingSince > 5000)
        this.noteOnce(`mount:${message}`, 'Warning', 'FailedMount', message);
      this.later(Date.now() - this.mountFailingSince > 5000 ? 2000 : 250);
      return false;
    }
    this.writeHosts();
    this.sandboxReady = true;
    return true;
  }

  /** The kubelet-managed /etc/hosts: `localhost` is the Pod's own address here. */
  private writeHosts(): void {
    const spec = this.pod['spec'] ?? {};
    const hostname = String(spec.hostname ?? this.name).slice(0, 63);
    const fqdn = spec.subdomain ? `${hostname}.${spec.subdomain}.${this.namespace}.svc.cluster.local` : '';
    const lines = [
      '# Kubernetes-managed hosts file.',
      `${this.podIP}\tlocalhost`,
      '::1\tip6-localhost ip6-loopback',
      'fe00::0\tip6-localnet',
      'fe00::0\tip6-mcastprefix',
      'fe00::1\tip6-allnodes',
      'fe00::2\tip6-allrouters',
      `${this.podIP}\t${fqdn ? `${fqdn}\t` : ''}${hostname}`,
    ];
    for (const h of (spec.hostAliases ?? []) as Obj[])
      lines.push(`# Entries added by HostAliases.`, `${h['ip']}\t${((h['hostnames'] ?? []) as string[]).join('\t')}`);
    writeFileSync(join(this.dir, 'etc-hosts'), `${lines.join('\n')}\n`, { mode: 0o644 });
    writeFileSync(join(this.dir, 'etc-hostname'), `${hostname}\n`, { mode: 0o644 });
  }

  private async runContainers(): Promise<void> {
    // Init containers, one after the other; sidecars keep running.
    for (const c of this.containers.filter((x) => x.kind !== 'regular')) {
      if (c.kind === 'sidecar') {
        await this.keepRunning(c, true);
        if (!(c.current?.running && c.started)) return;
        continue;
      }
      const i = c.current;
      if (i && !i.running && i.exitCode === 0 && !c.waiting) continue;
      if (i?.running || c.killing) return;
      if (i && !i.running && this.restartPolicy === 'Never') {
        this.failed = {};
        return;
      }
      await this.keepRunning(c, true);
      return;
    }
    for (const c of this.containers.filter((x) => x.kind === 'regular')) {
      const i = c.current;
      const restart =
        !i ||
        this.restartPolicy === 'Always' ||
        (this.restartPolicy === 'OnFailure' && i.exitCode !== 0) ||
        // A node that came back restarts what was running, whatever the policy.
        (i.reason === 'Error' &&
          i.message === 'The container was killed when its node stopped' &&
          this.restartPolicy !== 'Never');
      await this.keepRunning(c, restart);
    }
  }

  /** Starts the container if it is not running and may (re)start now; sets its waiting state otherwise. */
  private async keepRunning(c: Container, restart: boolean): Promise<void> {
    if (c.current?.running || c.killing) return;
    if (c.current && !restart) {
      c.waiting = undefined;
      return;
    }
    if (c.resolution.kind !== 'known') {
      this.simulate(c);
      return;
    }
    if (c.current?.finishedMs !== undefined) {
      const now = Date.now();
      const b = c.backoff;
      if (b && now - b.updatedMs <= 2 * backoffMaxMs && now - c.current.finishedMs < b.delayMs) {
        const waitMs = c.current.finishedMs + b.delayMs - now;
        const message = `back-off ${Math.round(b.delayMs / 1000)}s restarting failed container=${c.spec['name']} pod=${this.name}_${this.namespace}(${this.uid})`;
        if (c.waiting?.reason !== 'CrashLoopBackOff' || c.waiting.message !== message) {
          this.ctx.events.record(
            this.pod,
            'Warning',
            'BackOff',
            `Back-off restarting failed container ${c.spec['name']} in pod ${this.name}_${this.namespace}(${this.uid})`,
            fieldPathOf(c),
          );
        }
        c.waiting = { reason: 'CrashLoopBackOff', message };
        this.retryContainer(c, waitMs);
        return;
      }
      c.backoff =
        !b || now - b.updatedMs > 2 * backoffMaxMs
          ? { delayMs: backoffInitialMs, updatedMs: now }
          : { delayMs: Math.min(b.delayMs * 2, backoffMaxMs), updatedMs: now };
    }
    await this.start(c, c.resolution.entry);
  }

  private retryContainer(c: Container, ms: number): void {
    if (c.retryTimer) clearTimeout(c.retryTimer);
    c.retryTimer = setTimeout(() => {
      c.retryTimer = undefined;
      this.requestSync();
    }, ms);
  }

  /** A container whose image the node does not run: reported running, nothing runs. */
  private simulate(c: Container): void {
    const reason = c.resolution.kind === 'known' ? '' : c.resolution.reason;
    this.noteOnce(
      `simulated:${c.spec['name']}`,
      'Normal',
      'Simulated',
      `Container ${c.spec['name']} is simulated, no process runs: ${reason}`,
      fieldPathOf(c),
    );
    const now = formatTime();
    c.current = {
      containerID: `simulated://${hex(32)}`,
      startedAt: now,
      running: c.kind !== 'init',
      ...(c.kind === 'init' ? { finishedAt: now, exitCode: 0, reason: 'Completed' } : {}),
      attempt: c.restartCount,
      startedMs: Date.now(),
      exited: Promise.resolve(),
      logPath: this.logPath(String(c.spec['name']), c.restartCount),
      env: [],
      workingDir: '/',
    };
    c.everStarted = true;
    c.started = true;
    c.ready = true;
    c.waiting = undefined;
  }

  private noteOnce(key: string, type: 'Normal' | 'Warning', reason: string, message: string, fieldPath?: string): void {
    const all = this.containers[0]?.noted ?? new Set<string>();
    if (all.has(key)) return;
    all.add(key);
    this.ctx.events.record(this.pod, type, reason, message, fieldPath);
  }

  private configError(c: Container, message: string): void {
    if (c.waiting?.reason !== 'CreateContainerConfigError' || c.waiting.message !== message)
      this.ctx.events.record(this.pod, 'Warning', 'Failed', `Error: ${message}`, fieldPathOf(c));
    c.waiting = { reason: 'CreateContainerConfigError', message };
    this.retryContainer(c, 5000);
  }

  private async start(c: Container, entry: ImageEntry): Promise<void> {
    const name = String(c.spec['name']);
    const pod = this.withAddresses();
    let env: EnvVar[];
    let identity: Identity;
    try {
      env = containerEnvironment(pod, c.spec, this.ctx.envSources, entry.env);
      identity = containerIdentity(pod, c.spec, entry.user);
    } catch (err) {
      if (err instanceof ContainerConfigError || err instanceof Error) {
        this.configError(c, err.message);
        return;
      }
      throw err;
    }
    const lookup = envLookup(env);
    const spec = {
      command: (c.spec['command'] as string[] | undefined)?.map((s) => expand(s, lookup)),
      args: (c.spec['args'] as string[] | undefined)?.map((s) => expand(s, lookup)),
    };
    const argv = containerCommand(spec, entry);
    if (argv.length === 0) {
      this.configError(c, 'no command specified');
      return;
    }
    const workingDir = String(c.spec['workingDir'] || entry.workingDir || '/');
    const attempt = c.everStarted ? c.restartCount + 1 : c.restartCount;
    const ctrDir = join(this.dir, 'containers', name);
    const instDir = join(ctrDir, String(attempt));
    let mounts: Mount[];
    try {
      mounts = this.volumes.mountsFor(c.spec, lookup);
    } catch (err) {
      this.configError(c, (err as Error).message);
      return;
    }
    // A fresh writable layer for every instance; keep only the previous one (exec may still use it).
    for (const old of existsSync(ctrDir) ? readdirSync(ctrDir) : []) {
      if (/^\d+$/.test(old) && Number(old) < attempt - 1) rmSync(join(ctrDir, old), { recursive: true, force: true });
    }
    rmSync(instDir, { recursive: true, force: true });
    const upper = join(instDir, 'upper');
    for (const d of [upper, join(instDir, 'work'), join(instDir, 'root')]) mkdirSync(d, { recursive: true });
    const own = (path: string, owner?: string) => {
      const uid = owner === undefined ? identity.uid : /^\d+$/.test(owner) ? Number(owner) : identity.uid;
      chownSync(path, uid, identity.gid);
    };
    for (const f of entry.files) {
      const target = join(upper, throughLowerSymlinks(f.path));
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, f.content.replaceAll('$(POD_IP)', this.podIP ?? ''), { mode: f.mode ?? 0o755 });
    }
    for (const d of entry.directories) {
      const target = join(upper, throughLowerSymlinks(d.path));
      mkdirSync(target, { recursive: true, mode: d.mode ?? 0o755 });
      own(target, d.owner);
    }
    // The image's VOLUMEs: empty directories of this instance unless a volume is mounted there.
    const imageVolumes: Mount[] = [];
    entry.volumes.forEach((path, index) => {
      if (mounts.some((m) => m.target.replace(/\/+$/, '') === path)) return;
      const dir = join(instDir, 'image-volumes', String(index));
      mkdirSync(dir, { recursive: true });
      own(dir);
      imageVolumes.push({ source: dir, target: path, readOnly: false, file: false });
    });
    const terminationLog = join(instDir, 'termination-log');
    writeFileSync(terminationLog, '');
    chmodSync(terminationLog, 0o666);
    const terminationPath = String(c.spec['terminationMessagePath'] ?? '/dev/termination-log');
    const all: Mount[] = [
      ...imageVolumes,
      ...mounts,
      { source: join(this.dir, 'etc-hosts'), target: '/etc/hosts', readOnly: false, file: true },
      { source: join(this.dir, 'etc-hostname'), target: '/etc/hostname', readOnly: false, file: true },
      { source: terminationLog, target: terminationPath, readOnly: false, file: true },
    ].map((m) => ({ ...m, target: resolveInContainer(m.target, upper) }));
    // Mount points are made in the container's overlay, never on this machine's own filesystems.
    const hostOwned = all.find(
      (m) =>
        ['/proc', '/sys'].some((p) => m.target === p || m.target.startsWith(`${p}/`)) ||
        (this.ctx.hostMounts.some((p) => m.target === p || m.target.startsWith(`${p}/`)) && !existsSync(m.target)),
    );
    if (hostOwned) {
      this.configError(c, `mountPath ${hostOwned.target} would have to be created on this machine's own filesystem`);
      return;
    }
    const setupErrorFile = join(instDir, 'setup-error');
    const memoryLimit = quantityValue(c.spec['resources']?.limits?.memory);
    let cgroup: string | undefined;
    const setup: string[] = [];
    const cg = this.ctx.cgroups;
    if (cg.enforced) {
      cgroup = containerCgroup(cg, `${this.uid}_${name}_${attempt}`);
      setup.push(...cgroupScript(cg, cgroup, memoryLimit > 0 ? memoryLimit : undefined));
    } else if (memoryLimit > 0) {
      this.noteOnce(
        `memory:${name}`,
        'Normal',
        'MemoryLimitNotEnforced',
        `The memory limit of container ${name} (${c.spec['resources'].limits.memory}) is not enforced on this machine: ${cg.reason}`,
        fieldPathOf(c),
      );
    }
    const script = startScript({
      setup,
      root: join(instDir, 'root'),
      upper,
      work: join(instDir, 'work'),
      hostMounts: this.ctx.hostMounts,
      mounts: all,
      workingDir,
      identity,
      env,
      argv,
      setupErrorFile,
      hostname: String(this.pod['spec']?.hostname ?? this.name).slice(0, 63),
    });
    const scriptFile = join(instDir, 'start.sh');
    writeFileSync(scriptFile, script, { mode: 0o700 });
    const logPath = this.logPath(name, attempt);
    mkdirSync(dirname(logPath), { recursive: true });
    const logs = new LogWriter(logPath);
    const child = spawnContainer(scriptFile, false);
    const startedMs = Date.now();
    let markExited!: () => void;
    const instance: Instance = {
      containerID: `upm://${hex(32)}`,
      startedAt: formatTime(new Date(startedMs)),
      running: true,
      attempt,
      child,
      pid: child.pid,
      startedMs,
      exited: new Promise<void>((r) => (markExited = r)),
      logPath,
      env,
      identity,
      workingDir,
      terminationLog,
      // As /proc/PID/root shows it: without symlinks on the way.
      rootDir: realpathSync(join(instDir, 'root')),
      ...(cgroup ? { cgroup } : {}),
    };
    if (child.stdout) logs.attach('stdout', child.stdout);
    if (child.stderr) logs.attach('stderr', child.stderr);
    if (child.pid) this.ctx.records.add(child.pid, `${this.namespace}/${this.name}/${name}`);
    child.on('error', (err) => {
      instance.message = err.message;
    });
    child.on('exit', (code, signal) => {
      const cgroups = this.ctx.cgroups;
      const oom = cgroup !== undefined && cgroups.enforced && oomKilled(cgroups, cgroup);
      // What the main process leaves behind goes with it, as when a container's init ends.
      const leftovers = cgroup ? removeCgroup(cgroup) : this.killGroup(instance);
      void Promise.all([logs.close(), leftovers]).then(() => {
        instance.running = false;
        instance.finishedMs = Date.now();
        instance.finishedAt = formatTime();
        instance.exitCode = code ?? 128 + (signal ? (signals[signal] ?? 0) : 0);
        if (oom) {
          instance.reason = 'OOMKilled';
          instance.exitCode = 137;
        } else if (instance.failure) {
          instance.reason = 'Error';
          instance.message = instance.failure;
        } else if (existsSync(setupErrorFile)) {
          instance.reason = 'StartError';
          instance.exitCode = 128;
          instance.message = readFileSync(setupErrorFile, 'utf8');
          this.ctx.events.record(this.pod, 'Warning', 'Failed', `Error: ${instance.message}`, fieldPathOf(c));
        } else {
          instance.reason = instance.exitCode === 0 ? 'Completed' : 'Error';
          const message = this.terminationMessage(c, instance);
          if (message) instance.message = message;
        }
        if (instance.pid) this.ctx.records.remove(instance.pid);
        for (const p of c.probes) p.stop();
        c.probes = [];
        c.ready = false;
        c.started = false;
        markExited();
        this.requestSync();
      });
    });
    if (c.current) c.previous = c.current;
    c.current = instance;
    c.restartCount = attempt;
    c.everStarted = true;
    c.waiting = undefined;
    c.started = false;
    c.ready = false;
    this.ctx.events.record(this.pod, 'Normal', 'Created', `Created container: ${name}`, fieldPathOf(c));
    this.ctx.events.record(this.pod, 'Normal', 'Started', `Started container ${name}`, fieldPathOf(c));
    this.startProbes(c, instance);
  }

  private terminationMessage(c: Container, i: Instance): string | undefined {
    let message = '';
    try {
      if (i.terminationLog) message = readFileSync(i.terminationLog, 'utf8').slice(0, 4096);
    } catch {
      message = '';
    }
    if (!message && i.exitCode !== 0 && c.spec['terminationMessagePolicy'] === 'FallbackToLogsOnError') {
      try {
        const lines = readFileSync(i.logPath, 'utf8').trimEnd().split('\n').slice(-80);
        message = lines
          .map((l) => l.split(' ').slice(3).join(' '))
          .join('\n')
          .slice(-2048);
      } catch {
        message = '';
      }
    }
    return message || undefined;
  }

  // ---- probes ---------------------------------------------------------------------------------------

  private probeTarget(c: Container, i: Instance): ProbeTarget | undefined {
    if (!i.running || !i.pid || !i.identity || !this.podIP || !inContainer(i)) return undefined;
    const target = { pid: i.pid, identity: i.identity, env: i.env, workingDir: i.workingDir };
    return {
      podIP: this.podIP,
      ports: (c.spec['ports'] ?? []) as Obj[],
      exec: (argv) => (i.running ? execInContainer(target, argv, { stdin: false }) : undefined),
    };
  }

  private startProbes(c: Container, i: Instance): void {
    const label: Record<ProbeKind, string> = { startup: 'Startup', liveness: 'Liveness', readiness: 'Readiness' };
    const make = (kind: ProbeKind, spec: Obj) =>
      new ProbeWorker(kind, spec, {
        target: () => (this.terminating && kind !== 'readiness' ? undefined : this.probeTarget(c, i)),
        onFailure: (o) =>
          this.ctx.events.record(
            this.pod,
            'Warning',
            'Unhealthy',
            `${label[kind]} probe failed: ${o.output}`,
            fieldPathOf(c),
          ),
        onWarning: (m) =>
          this.ctx.events.record(
            this.pod,
            'Warning',
            'ProbeWarning',
            `${label[kind]} probe warning: ${m}`,
            fieldPathOf(c),
          ),
        onChange: (ok) => {
          if (c.current !== i) return;
          if (kind === 'readiness') c.ready = ok;
          if (kind === 'startup' && ok) {
            c.started = true;
            startRunning();
          }
          if ((kind === 'liveness' || kind === 'startup') && !ok) {
            void this.kill(
              c,
              `Container ${c.spec['name']} failed ${kind} probe, will be restarted`,
              spec['terminationGracePeriodSeconds'],
            );
          }
          this.requestSync();
        },
      });
    const startRunning = () => {
      const readiness = c.spec['readinessProbe'];
      const liveness = c.spec['livenessProbe'];
      if (readiness) {
        const w = make('readiness', readiness);
        c.probes.push(w);
        w.start(i.startedMs);
      } else {
        c.ready = true;
      }
      if (liveness) {
        const w = make('liveness', liveness);
        c.probes.push(w);
        w.start(i.startedMs);
      }
    };
    const startup = c.spec['startupProbe'];
    if (startup) {
      const w = make('startup', startup);
      c.probes.push(w);
      w.start(i.startedMs);
    } else {
      c.started = true;
      startRunning();
    }
  }

  // ---- stopping ---------------------------------------------------------------------------------------

  /** preStop, the stop signal, the grace period, SIGKILL (kuberuntime killContainer). */
  private kill(c: Container, message: string, graceOverride?: number): Promise<void> {
    if (c.killing) return c.killing;
    const i = c.current;
    if (!i?.running) return Promise.resolve();
    c.killing = (async () => {
      this.ctx.events.record(this.pod, 'Normal', 'Killing', message, fieldPathOf(c));
      if (!i.child) {
        // Simulated: it just stops.
        i.running = false;
        i.finishedAt = formatTime();
        i.finishedMs = Date.now();
        i.exitCode = 0;
        i.reason = 'Completed';
        return;
      }
      const deletionGrace = this.pod['metadata']?.deletionGracePeriodSeconds;
      let grace = Number(graceOverride ?? deletionGrace ?? this.pod['spec']?.terminationGracePeriodSeconds ?? 30);
      const started = Date.now();
      const preStop = c.spec['lifecycle']?.preStop;
      if (preStop && grace > 0) {
        await Promise.race([this.runHook(c, i, preStop), new Promise((r) => setTimeout(r, grace * 1000))]);
        grace -= (Date.now() - started) / 1000;
      }
      grace = Math.max(grace, 2);
      const signal = (c.spec['lifecycle']?.stopSignal as NodeJS.Signals | undefined) ?? 'SIGTERM';
      this.signal(i, signal);
      const timer = setTimeout(() => this.signal(i, 'SIGKILL'), grace * 1000);
      await i.exited;
      clearTimeout(timer);
    })().finally(() => (c.killing = undefined));
    return c.killing;
  }

  /** SIGKILL to the rest of a finished instance's process group. */
  private async killGroup(i: Instance): Promise<void> {
    if (!i.pid) return;
    try {
      process.kill(-i.pid, 'SIGKILL');
    } catch {
      // nothing left
    }
  }

  private signal(i: Instance, signal: NodeJS.Signals): void {
    if (!i.running || !i.pid) return;
    try {
      process.kill(-i.pid, signal);
    } catch {
      try {
        process.kill(i.pid, signal);
      } catch {
        // gone
      }
    }
  }

  private async runHook(c: Container, i: Instance, hook: Obj): Promise<void> {
    let failed: string | undefined;
    if (hook['sleep']) {
      await new Promise((r) => setTimeout(r, Number(hook['sleep'].seconds ?? 0) * 1000));
      return;
    }
    const target = this.probeTarget(c, i);
    if (!target) return;
    const outcome = await runProbe({ ...hook, timeoutSeconds: 3600 }, target);
    if (!outcome.success) failed = outcome.output;
    if (failed !== undefined)
      this.ctx.events.record(this.pod, 'Warning', 'FailedPreStopHook', 'PreStopHook failed', fieldPathOf(c));
  }

  /**
   * Stops every container (containers in parallel, then sidecars in reverse order). `gone`: the
   * Pod no longer exists in the API. Otherwise it is being deleted: the final status is written and
   * the Pod removed (grace 0, uid precondition).
   */
  terminate(gone: boolean): Promise<void> {
    if (this.terminating) return this.terminating;
    this.terminating = (async () => {
      if (this.retry) clearTimeout(this.retry);
      await this.idle();
      await this.stopAll(`Stopping container`);
      if (!gone && !this.deleted) {
        try {
          await this.writeStatus(true);
          await this.ctx.clients.core.deleteNamespacedPod({
            namespace: this.namespace,
            name: this.name,
            body: { gracePeriodSeconds: 0, preconditions: { uid: this.uid } },
          });
        } catch (err) {
          if (!isNotFound(err) && !isConflict(err))
            this.ctx.log.warn({ err, pod: `${this.namespace}/${this.name}` }, 'removing the terminated pod failed');
        }
      }
      rmSync(this.dir, { recursive: true, force: true });
      this.ctx.releaseIP(this.uid);
      this.ctx.onGone(this.uid);
    })();
    return this.terminating;
  }

  private async stopAll(verb: string, capSeconds?: number): Promise<void> {
    for (const c of this.containers) {
      if (c.retryTimer) clearTimeout(c.retryTimer);
      for (const p of c.probes) if (p.kind !== 'readiness') p.stop();
    }
    const grace =
      capSeconds === undefined
        ? undefined
        : Math.min(capSeconds, Number(this.pod['spec']?.terminationGracePeriodSeconds ?? 30));
    const regular = this.containers.filter((c) => c.kind !== 'sidecar');
    await Promise.all(regular.map((c) => this.kill(c, `${verb} ${c.spec['name']}`, grace)));
    for (const c of this.containers.filter((x) => x.kind === 'sidecar').reverse())
      await this.kill(c, `${verb} ${c.spec['name']}`, grace);
    for (const c of this.containers) {
      for (const p of c.probes) p.stop();
      c.probes = [];
    }
  }

  /** The node stops: containers stop (grace capped), the status says so, the Pod stays. */
  async shutdown(capSeconds: number): Promise<void> {
    if (this.terminating) return this.terminating;
    this.stoppedForShutdown = true;
    if (this.retry) clearTimeout(this.retry);
    await this.idle();
    await this.stopAll('Stopping container', capSeconds);
    try {
      await this.writeStatus();
    } catch (err) {
      this.ctx.log.debug({ err }, 'final status not written');
    }
  }

  /** Processes of each running container (its cgroup, else its main process). */
  runningProcesses(): { container: string; pids: number[] }[] {
    const out: { container: string; pids: number[] }[] = [];
    for (const c of this.containers) {
      const i = c.current;
      if (!i?.running || !i.pid || !inContainer(i)) continue;
      let pids = [i.pid];
      if (i.cgroup) {
        try {
          pids = readFileSync(join(i.cgroup, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
        } catch {
          pids = [i.pid];
        }
      }
      out.push({ container: String(c.spec['name']), pids });
    }
    return out;
  }

  /** A container listens on every address: it is stopped and reported, and restarts per policy. */
  failWildcard(container: string, port: number): void {
    const c = this.containers.find((x) => x.spec['name'] === container);
    const i = c?.current;
    if (!c || !i?.running || i.failure) return;
    i.failure = `listens on 0.0.0.0:${port}, which takes port ${port} on every Pod's address of this node; listen on the Pod IP (the downward API's status.podIP) instead`;
    this.ctx.events.record(this.pod, 'Warning', 'Failed', `Error: container ${container} ${i.failure}`, fieldPathOf(c));
    this.signal(i, 'SIGKILL');
  }

  /** SIGKILL to every process of the Pod at once (the node is cut off or dies); no status is written. */
  killNow(): void {
    this.suspended = true;
    if (this.retry) clearTimeout(this.retry);
    for (const c of this.containers) {
      if (c.retryTimer) clearTimeout(c.retryTimer);
      for (const p of c.probes) p.stop();
      c.probes = [];
      if (c.current?.running) this.signal(c.current, 'SIGKILL');
    }
  }

  /** Runs the Pod again after killNow(). */
  resume(): void {
    this.suspended = false;
    this.requestSync();
  }

  // ---- status -----------------------------------------------------------------------------------------

  private view(final = false): PodView {
    return {
      restartPolicy: this.restartPolicy,
      sandboxReady: this.sandboxReady && !final,
      podIP: this.podIP,
      hostIP: this.ctx.nodeIP,
      startTime: this.startTime,
      deletedAndStopped: final,
      ...(this.failed ? { failed: this.failed } : {}),
      containers: this.containers.map((c): ContainerView => ({
        name: String(c.spec['name']),
        image: String(c.spec['image'] ?? ''),
        imageID: c.resolution.kind === 'known' ? `file://${c.resolution.entry.requires[0] ?? ''}` : '',
        kind: c.kind,
        restartCount: c.restartCount,
        current: c.current,
        previous: c.previous,
        waiting: c.current?.running ? undefined : c.waiting,
        started: c.started,
        ready: c.ready,
      })),
    };
  }

  private async writeStatus(final = false): Promise<void> {
    const status = podStatus(this.view(final), this.pod);
    const text = JSON.stringify(status, (k, v: unknown) => (k === 'lastTransitionTime' ? undefined : v));
    if (text === this.lastWritten) return;
    const written = await this.ctx.clients.core.patchNamespacedPodStatus(
      { namespace: this.namespace, name: this.name, body: { metadata: { uid: this.uid }, status } },
      mergePatch(),
    );
    this.lastWritten = text;
    const plainPod = JSON.parse(JSON.stringify(written)) as Obj;
    if (plainPod['metadata']?.uid === this.uid) this.pod = { ...this.pod, status: plainPod['status'] };
  }
}

/**
 * `path` with its parent directories resolved through the symlinks of the lower layer (this
 * machine's `/`). A directory written into the upper layer where the lower one has a symlink would
 * hide everything behind it: on a merged-/usr system an image file at /bin/x must go to /usr/bin/x,
 * or the container loses /bin/sh.
 */
export function throughLowerSymlinks(path: string): string {
  const parent = dirname(path);
  try {
    return join(realpathSync(parent), basename(path));
  } catch {
    return parent === path ? path : join(throughLowerSymlinks(parent), basename(path));
  }
}
