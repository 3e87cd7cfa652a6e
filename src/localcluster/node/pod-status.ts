// A Pod's status as the kubelet reports it (pkg/kubelet/kubelet_pods.go getPhase,
// generateAPIPodStatus, convertToAPIContainerStatuses; pkg/kubelet/status/generate.go), computed
// from what the node knows of each container.

import { formatTime } from '../../machinery/time.js';

type Obj = Record<string, any>;

export interface InstanceView {
  containerID: string;
  startedAt: string;
  running: boolean;
  finishedAt?: string;
  exitCode?: number;
  signal?: number;
  reason?: string;
  message?: string;
}

export interface ContainerView {
  name: string;
  image: string;
  imageID: string;
  kind: 'init' | 'sidecar' | 'regular';
  restartCount: number;
  current?: InstanceView;
  previous?: InstanceView;
  waiting?: { reason: string; message?: string };
  /** The startup probe passed (or there is none) for the running instance. */
  started: boolean;
  /** Readiness (true without a probe) of the running instance. */
  ready: boolean;
}

export interface PodView {
  restartPolicy: string;
  /** The sandbox (address, directories, volumes) is ready. */
  sandboxReady: boolean;
  podIP?: string;
  hostIP: string;
  startTime?: string;
  /** Init containers in spec order, then regular containers in spec order. */
  containers: ContainerView[];
  /** The Pod is being deleted and all of its containers have stopped. */
  deletedAndStopped: boolean;
  /** The whole Pod failed (an init container failed with restartPolicy Never). */
  failed?: { reason?: string; message?: string };
}

function terminatedOf(i: InstanceView): Obj {
  return {
    terminated: {
      exitCode: i.exitCode ?? 0,
      ...(i.signal ? { signal: i.signal } : {}),
      ...(i.reason ? { reason: i.reason } : {}),
      ...(i.message ? { message: i.message } : {}),
      startedAt: i.startedAt,
      finishedAt: i.finishedAt ?? i.startedAt,
      containerID: i.containerID,
    },
  };
}

export function containerStatus(c: ContainerView, podHasInit: boolean): Obj {
  let state: Obj;
  let lastState: Obj = c.previous ? terminatedOf(c.previous) : {};
  if (c.current?.running) {
    state = { running: { startedAt: c.current.startedAt } };
  } else if (c.waiting) {
    state = { waiting: { reason: c.waiting.reason, ...(c.waiting.message ? { message: c.waiting.message } : {}) } };
    if (c.current) lastState = terminatedOf(c.current);
  } else if (c.current) {
    state = terminatedOf(c.current);
  } else {
    state = { waiting: { reason: podHasInit && c.kind === 'regular' ? 'PodInitializing' : 'ContainerCreating' } };
  }
  const running = c.current?.running ?? false;
  return {
    name: c.name,
    state,
    lastState,
    ready: running && c.started && c.ready,
    restartCount: c.restartCount,
    image: c.image,
    imageID: c.imageID,
    ...(c.current ? { containerID: c.current.containerID } : {}),
    started: running && c.started,
  };
}

const exitedOK = (c: ContainerView) => c.current !== undefined && !c.current.running && c.current.exitCode === 0;

/** Whether the init containers are done: every regular init container exited 0, sidecars started. */
export function initDone(containers: ContainerView[]): boolean {
  return containers
    .filter((c) => c.kind !== 'regular')
    .every((c) => (c.kind === 'sidecar' ? c.current?.running === true && c.started : exitedOK(c)));
}

/** kubelet's getPhase. */
export function podPhase(v: PodView): string {
  if (v.failed) return 'Failed';
  const regular = v.containers.filter((c) => c.kind === 'regular');
  const inits = v.containers.filter((c) => c.kind === 'init');
  const anyRegularStarted = regular.some((c) => c.current !== undefined);
  if (v.deletedAndStopped) return regular.every(exitedOK) ? 'Succeeded' : 'Failed';
  if (!anyRegularStarted) {
    if (inits.some((c) => c.current && !c.current.running && c.current.exitCode !== 0 && v.restartPolicy === 'Never'))
      return 'Failed';
    return 'Pending';
  }
  let running = 0;
  let waiting = 0;
  let stopped = 0;
  let succeeded = 0;
  for (const c of regular) {
    if (c.current?.running) running++;
    else if (c.current && !c.waiting) {
      stopped++;
      if (c.current.exitCode === 0) succeeded++;
    } else if (c.waiting && c.current) stopped++;
    else waiting++;
  }
  if (waiting > 0) return 'Pending';
  if (running > 0) return 'Running';
  if (stopped > 0) {
    if (v.restartPolicy === 'Always') return 'Running';
    if (succeeded === stopped) return 'Succeeded';
    if (v.restartPolicy === 'OnFailure') return 'Running';
    return 'Failed';
  }
  return 'Pending';
}

interface PodCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

const kubeletConditions = ['PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady', 'PodScheduled'];

/** The kubelet's conditions after the ones others own, keeping transition times that did not change. */
export function podConditions(v: PodView, phase: string, previous: Obj[], readinessGates: Obj[]): Obj[] {
  const regular = v.containers.filter((c) => c.kind === 'regular');
  const terminal = phase === 'Succeeded' || phase === 'Failed';
  const next: PodCondition[] = [];
  next.push({ type: 'PodReadyToStartContainers', status: v.sandboxReady && !terminal ? 'True' : 'False' });
  const incomplete = v.containers.filter(
    (c) => c.kind !== 'regular' && !(c.kind === 'sidecar' ? c.started : exitedOK(c)),
  );
  if (initDone(v.containers) || regular.some((c) => c.current !== undefined)) {
    next.push({ type: 'Initialized', status: 'True', ...(phase === 'Succeeded' ? { reason: 'PodCompleted' } : {}) });
  } else {
    next.push({
      type: 'Initialized',
      status: 'False',
      reason: 'ContainersNotInitialized',
      message: `containers with incomplete status: [${incomplete.map((c) => c.name).join(' ')}]`,
    });
  }
  let containersReady: PodCondition;
  if (terminal) {
    containersReady = {
      type: 'ContainersReady',
      status: 'False',
      reason: phase === 'Succeeded' ? 'PodCompleted' : 'PodFailed',
    };
  } else {
    const unready = regular.filter((c) => !(c.current?.running && c.started && c.ready)).map((c) => c.name);
    containersReady =
      unready.length === 0
        ? { type: 'ContainersReady', status: 'True' }
        : {
            type: 'ContainersReady',
            status: 'False',
            reason: 'ContainersNotReady',
            message: `containers with unready status: [${unready.join(' ')}]`,
          };
  }
  let ready: PodCondition = { ...containersReady, type: 'Ready' };
  if (ready.status === 'True' && readinessGates.length > 0) {
    const missing = readinessGates
      .map((g) => String(g['conditionType']))
      .filter((t) => !previous.some((c) => c['type'] === t && c['status'] === 'True'));
    if (missing.length > 0) {
      const absent = missing.find((t) => !previous.some((c) => c['type'] === t));
      ready = {
        type: 'Ready',
        status: 'False',
        reason: 'ReadinessGatesNotReady',
        message: absent
          ? `corresponding condition of pod readiness gate "${absent}" does not exist.`
          : `the status of pod readiness gate "${missing[0]}" is not "True", but False`,
      };
    }
  }
  next.push(ready, containersReady, { type: 'PodScheduled', status: 'True' });
  const now = formatTime();
  const foreign = previous.filter((c) => !kubeletConditions.includes(String(c['type'])));
  return [
    ...foreign,
    ...next.map((c) => {
      const old = previous.find((p) => p['type'] === c.type);
      return {
        type: c.type,
        status: c.status,
        ...(c.reason ? { reason: c.reason } : {}),
        ...(c.message ? { message: c.message } : {}),
        lastProbeTime: null,
        lastTransitionTime:
          old && old['status'] === c.status && old['lastTransitionTime'] ? old['lastTransitionTime'] : now,
      };
    }),
  ];
}

/** The whole status the node writes. */
export function podStatus(v: PodView, pod: Obj): Obj {
  const previous = pod['status'] ?? {};
  const phase = podPhase(v);
  const hasInit = v.containers.some((c) => c.kind !== 'regular');
  const status: Obj = {
    phase,
    conditions: podConditions(v, phase, (previous.conditions ?? []) as Obj[], pod['spec']?.readinessGates ?? []),
    hostIP: v.hostIP,
    hostIPs: [{ ip: v.hostIP }],
    ...(v.podIP ? { podIP: v.podIP, podIPs: [{ ip: v.podIP }] } : {}),
    ...(v.startTime ? { startTime: v.startTime } : {}),
    ...(previous.qosClass ? { qosClass: previous.qosClass } : {}),
    ...(v.failed?.reason ? { reason: v.failed.reason } : {}),
    ...(v.failed?.message ? { message: v.failed.message } : {}),
    containerStatuses: v.containers
      .filter((c) => c.kind === 'regular')
      .map((c) => containerStatus(c, hasInit))
      .sort((a, b) => (a['name'] < b['name'] ? -1 : a['name'] > b['name'] ? 1 : 0)),
  };
  if (hasInit)
    status['initContainerStatuses'] = v.containers
      .filter((c) => c.kind !== 'regular')
      .map((c) => containerStatus(c, hasInit));
  return status;
}
