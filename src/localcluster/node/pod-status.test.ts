import { containerStatus, podPhase, podStatus, type ContainerView, type PodView } from './pod-status.js';

const running = (startedAt = '2026-01-01T00:00:00Z') => ({ containerID: 'upm://1', startedAt, running: true });
const exited = (exitCode: number) => ({
  containerID: 'upm://2',
  startedAt: '2026-01-01T00:00:00Z',
  finishedAt: '2026-01-01T00:00:05Z',
  running: false,
  exitCode,
  reason: exitCode === 0 ? 'Completed' : 'Error',
});
const c = (over: Partial<ContainerView>): ContainerView => ({
  name: 'main',
  image: 'redis:7',
  imageID: '',
  kind: 'regular',
  restartCount: 0,
  started: true,
  ready: true,
  ...over,
});
const view = (containers: ContainerView[], over: Partial<PodView> = {}): PodView => ({
  restartPolicy: 'Always',
  sandboxReady: true,
  podIP: '127.64.0.2',
  hostIP: '127.0.0.1',
  containers,
  deletedAndStopped: false,
  ...over,
});

describe('pod status as the kubelet reports it', () => {
  it('phase', () => {
    expect(podPhase(view([c({})]))).toBe('Pending');
    expect(podPhase(view([c({ current: running() })]))).toBe('Running');
    expect(podPhase(view([c({ current: exited(1), waiting: { reason: 'CrashLoopBackOff' } })]))).toBe('Running');
    expect(podPhase(view([c({ current: exited(1) })], { restartPolicy: 'Never' }))).toBe('Failed');
    expect(podPhase(view([c({ current: exited(0) })], { restartPolicy: 'OnFailure' }))).toBe('Succeeded');
    expect(podPhase(view([c({ current: exited(1) })], { restartPolicy: 'OnFailure' }))).toBe('Running');
    expect(podPhase(view([c({ kind: 'init', name: 'init', current: running() }), c({})]))).toBe('Pending');
    expect(podPhase(view([c({ current: exited(143) })], { deletedAndStopped: true }))).toBe('Failed');
  });

  it('a container in back-off shows waiting CrashLoopBackOff with its last run as lastState', () => {
    const s = containerStatus(
      c({ restartCount: 1, current: exited(137), waiting: { reason: 'CrashLoopBackOff', message: 'back-off 10s' } }),
      false,
    );
    expect(s).toMatchObject({
      state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 10s' } },
      lastState: { terminated: { exitCode: 137, reason: 'Error' } },
      ready: false,
      started: false,
      restartCount: 1,
    });
  });

  it('conditions in kubelet order with reasons; foreign conditions kept first; containers sorted by name', () => {
    const pod = {
      spec: {},
      status: {
        conditions: [
          { type: 'DisruptionTarget', status: 'True' },
          { type: 'Ready', status: 'True', lastTransitionTime: 'T0' },
        ],
      },
    };
    const s = podStatus(
      view([c({ name: 'web', current: running(), ready: false }), c({ name: 'agent', current: running() })]),
      pod,
    );
    expect(s['conditions'].map((x: any) => [x.type, x.status, x.reason, x.message])).toEqual([
      ['DisruptionTarget', 'True', undefined, undefined],
      ['PodReadyToStartContainers', 'True', undefined, undefined],
      ['Initialized', 'True', undefined, undefined],
      ['Ready', 'False', 'ContainersNotReady', 'containers with unready status: [web]'],
      ['ContainersReady', 'False', 'ContainersNotReady', 'containers with unready status: [web]'],
      ['PodScheduled', 'True', undefined, undefined],
    ]);
    expect(s['containerStatuses'].map((x: any) => x.name)).toEqual(['agent', 'web']);
    expect(s['podIP']).toBe('127.64.0.2');
  });

  it('init containers not done: Initialized False with the incomplete ones; regular containers PodInitializing', () => {
    const s = podStatus(view([c({ kind: 'init', name: 'setup', current: running() }), c({})]), {
      spec: {},
      status: {},
    });
    expect(s['conditions'].find((x: any) => x.type === 'Initialized')).toMatchObject({
      status: 'False',
      reason: 'ContainersNotInitialized',
      message: 'containers with incomplete status: [setup]',
    });
    expect(s['containerStatuses'][0].state).toEqual({ waiting: { reason: 'PodInitializing' } });
  });
});
