import type { PrimaryChange, RedisReplication } from '../../../../api/generated/types.js';
import { WRITE_FENCE, type ReplicationInfo } from '../../../drivers/redis/replication.js';
import type { NodeObservation, Observation, SentinelObservation } from './model.js';
import { plan, type PlanInput } from './plan.js';

const now = new Date('2026-12-07T12:00:00Z');
const port = (n: string) => 7000 + Number(n.slice(1));
const at = (n: string) => ({ host: '127.0.0.1', port: port(n) });

function rr(spec: Partial<RedisReplication['spec']> = {}, status?: RedisReplication['status']): RedisReplication {
  return {
    apiVersion: 'upm.io/v1alpha1',
    kind: 'RedisReplication',
    metadata: { name: 'cache', namespace: 'ns', generation: 1 },
    spec: {
      primary: 'r0',
      credentials: { name: 'auth' },
      instances: ['r0', 'r1', 'r2'].map((name) => ({ name, unitRef: { name }, host: '127.0.0.1', port: port(name) })),
      ...spec,
    },
    status,
  };
}

function master(name: string, offset = 1000, extra: Partial<ReplicationInfo> = {}): NodeObservation {
  return {
    name,
    endpoint: { name, ...at(name), unit: name },
    replicationAddress: at(name),
    minReplicasToWrite: 0,
    info: {
      role: 'master',
      replId: 'a'.repeat(40),
      replId2: '0'.repeat(40),
      secondReplOffset: -1,
      masterReplOffset: offset,
      connectedReplicas: [],
      keys: 10,
      ...extra,
    },
  };
}

function replica(name: string, of: string, offset = 1000, extra: Partial<ReplicationInfo> = {}): NodeObservation {
  return {
    ...master(name),
    info: {
      ...master(name).info!,
      role: 'replica',
      masterHost: '127.0.0.1',
      masterPort: port(of),
      masterLinkStatus: 'up',
      masterSyncInProgress: false,
      replicaOffset: offset,
      masterReplOffset: offset,
      replicaPriority: 100,
      ...extra,
    },
  };
}

const down = (name: string): NodeObservation => ({
  name,
  endpoint: { name, ...at(name), unit: name },
  replicationAddress: at(name),
  problem: { reason: 'Unreachable', message: 'connect ECONNREFUSED' },
});

const healthy = (): NodeObservation[] => [master('r0'), replica('r1', 'r0'), replica('r2', 'r0')];
const settled = (extra: Partial<NonNullable<RedisReplication['status']>> = {}) => ({ currentPrimary: 'r0', ...extra });

function run(
  object: RedisReplication,
  nodes: NodeObservation[],
  opts: Partial<PlanInput> & { sentinels?: SentinelObservation[] } = {},
) {
  const observation: Observation = { nodes, sentinels: opts.sentinels ?? [] };
  return plan({ rr: object, observation, now, unreachableForMs: () => 0, ...opts });
}

const cond = (p: ReturnType<typeof run>, type: string) => p.status.conditions?.find((c) => c.type === type);
const change = (phase: PrimaryChange['phase'], extra: Partial<PrimaryChange> = {}): PrimaryChange => ({
  kind: 'Switchover',
  from: 'r0',
  to: 'r1',
  phase,
  epoch: 1,
  startTime: '2026-12-07T11:59:59Z',
  ...extra,
});

describe('formation', () => {
  it('adopts spec.primary when it is a primary, then attaches the others', () => {
    const fresh = [master('r0'), master('r1', 0, { keys: 0 }), replica('r2', 'r0')];
    const first = run(rr(), fresh);
    expect(first.status.currentPrimary).toBe('r0');
    expect(first.actions).toEqual([]);
    const second = run(rr({}, first.status), fresh);
    expect(second.actions).toEqual([{ kind: 'repoint', node: 'r1', to: at('r0'), fenceFirst: true }]);
  });

  it('fences a second primary that holds data instead of wiping it, and says so', () => {
    const p = run(rr({}, settled()), [master('r0'), master('r1', 50, { keys: 3 }), replica('r2', 'r0')]);
    expect(p.actions).toEqual([{ kind: 'fence', node: 'r1' }]);
    expect(p.status.instances!.find((i) => i.name === 'r1')).toMatchObject({ health: 'Diverged', ready: false });
    expect(p.status.instances!.find((i) => i.name === 'r1')!.message).toMatch(/holding 3 keys: fenced/);
    expect(cond(p, 'Degraded')).toMatchObject({ status: 'True', reason: 'SplitBrain' });
  });

  it('is Ready with labels for the primary and the replicas', () => {
    const p = run(rr({}, settled()), healthy());
    expect(p.actions).toEqual([]);
    expect(cond(p, 'Ready')).toMatchObject({ status: 'True', reason: 'Ready' });
    expect(p.roles).toEqual({ r0: 'primary', r1: 'replica', r2: 'replica' });
    expect(p.status).toMatchObject({ readyInstances: 3, totalInstances: 3 });
  });

  it('reports a missing Secret and does nothing', () => {
    const p = run(rr(), [], { credentialsProblem: { reason: 'SecretNotFound', message: 'Secret "auth" not found' } });
    expect(p.actions).toEqual([]);
    expect(cond(p, 'Ready')).toMatchObject({ status: 'False', reason: 'SecretNotFound' });
    expect(p.events[0]).toMatchObject({ type: 'Warning', reason: 'SecretNotFound' });
  });

  it('changes nothing while paused', () => {
    const p = run(rr({ paused: true, primary: 'r1' }, settled()), [master('r0'), master('r1', 0, { keys: 0 })]);
    expect(p.actions).toEqual([]);
    expect(cond(p, 'Progressing')).toMatchObject({ reason: 'Paused' });
  });
});

describe('switchover', () => {
  it('fences and pauses the primary first, recording the step', () => {
    const p = run(rr({ primary: 'r1' }, settled()), healthy());
    expect(p.status.lastPrimaryChange).toMatchObject({
      kind: 'Switchover',
      from: 'r0',
      to: 'r1',
      phase: 'Fencing',
      epoch: 1,
    });
    expect(p.actions).toEqual([{ kind: 'fence', node: 'r0', pauseMs: 15_000 }]);
    // The fenced primary leaves the read-write Service at once.
    expect(p.roles['r0']).toBeUndefined();
    expect(p.status.targetPrimary).toBe('r1');
    expect(cond(p, 'Progressing')).toMatchObject({ status: 'True', reason: 'Switchover' });
  });

  it('waits while the candidate lags more than maxLagBytes', () => {
    const p = run(rr({ primary: 'r1', switchover: { maxLagBytes: 10 } }, settled()), [
      master('r0', 5000),
      replica('r1', 'r0', 1000),
      replica('r2', 'r0'),
    ]);
    expect(p.actions).toEqual([]);
    expect(p.status.lastPrimaryChange).toMatchObject({ phase: 'Pending', reason: 'CandidateLagging' });
  });

  it('walks Fencing → CatchingUp → Promoting → Repointing → Completed', () => {
    const fenced = { ...master('r0', 2000), minReplicasToWrite: WRITE_FENCE };
    let p = run(rr({ primary: 'r1' }, settled({ lastPrimaryChange: change('Fencing') })), [
      fenced,
      replica('r1', 'r0', 1990),
      replica('r2', 'r0'),
    ]);
    expect(p.status.lastPrimaryChange!.phase).toBe('CatchingUp');
    expect(p.actions).toEqual([]);

    p = run(rr({ primary: 'r1' }, settled({ lastPrimaryChange: change('CatchingUp') })), [
      fenced,
      replica('r1', 'r0', 1990),
      replica('r2', 'r0'),
    ]);
    expect(p.status.lastPrimaryChange!.phase).toBe('CatchingUp');
    expect(p.actions).toEqual([]);
    expect(p.requeueAfterMs).toBeLessThan(100);

    p = run(rr({ primary: 'r1' }, settled({ lastPrimaryChange: change('CatchingUp') })), [
      fenced,
      replica('r1', 'r0', 2000),
      replica('r2', 'r0'),
    ]);
    expect(p.status.lastPrimaryChange!.phase).toBe('Promoting');
    expect(p.actions).toEqual([{ kind: 'promote', node: 'r1', minReplicasToWrite: 0 }]);

    p = run(rr({ primary: 'r1' }, settled({ lastPrimaryChange: change('Promoting') })), [
      fenced,
      master('r1', 2000),
      replica('r2', 'r0'),
    ]);
    expect(p.status.lastPrimaryChange!.phase).toBe('Repointing');
    expect(p.actions).toEqual([
      { kind: 'repoint', node: 'r0', to: at('r1'), fenceFirst: true, unpause: true },
      { kind: 'repoint', node: 'r2', to: at('r1'), fenceFirst: false, unpause: false },
    ]);
    // Neither the fenced old primary nor the not yet completed new one is behind the read-write Service.
    expect(p.roles['r0']).toBeUndefined();
    expect(p.roles['r1']).toBeUndefined();

    p = run(rr({ primary: 'r1' }, settled({ lastPrimaryChange: change('Repointing') })), [
      replica('r0', 'r1'),
      master('r1', 2000),
      replica('r2', 'r1'),
    ]);
    expect(p.status.lastPrimaryChange!.phase).toBe('Completed');
    expect(p.status.currentPrimary).toBe('r1');
    expect(p.roles).toEqual({ r0: 'replica', r1: 'primary', r2: 'replica' });
    expect(p.events.map((e) => e.reason)).toEqual(['SwitchoverCompleted']);
  });

  it('resumes a recorded step: a Fencing step that did not happen is taken again', () => {
    const p = run(rr({ primary: 'r1' }, settled({ lastPrimaryChange: change('Fencing') })), healthy());
    expect(p.actions).toEqual([{ kind: 'fence', node: 'r0', pauseMs: 15_000 }]);
    expect(p.status.lastPrimaryChange!.phase).toBe('Fencing');
  });

  it('gives up after timeoutSeconds and lifts the fence', () => {
    const late = new Date(now.getTime() + 60_000);
    const p = plan({
      rr: rr({ primary: 'r1' }, settled({ lastPrimaryChange: change('CatchingUp') })),
      observation: {
        nodes: [
          { ...master('r0', 2000), minReplicasToWrite: WRITE_FENCE },
          replica('r1', 'r0', 10),
          replica('r2', 'r0'),
        ],
        sentinels: [],
      },
      now: late,
      unreachableForMs: () => 0,
    });
    expect(p.status.lastPrimaryChange).toMatchObject({ phase: 'Failed', reason: 'CatchUpTimeout' });
    expect(p.actions).toEqual([{ kind: 'unfence', node: 'r0', minReplicasToWrite: 0 }]);
    expect(p.events[0]).toMatchObject({ type: 'Warning', reason: 'SwitchoverFailed' });
  });
});

describe('automatic failover', () => {
  const spec = { failover: { mode: 'Automatic' as const, delaySeconds: 5, cooldownSeconds: 60 } };
  const lost = (a: number, b: number) => [
    down('r0'),
    replica('r1', 'r0', a, { masterLinkStatus: 'down' }),
    replica('r2', 'r0', b, { masterLinkStatus: 'down' }),
  ];

  it('waits delaySeconds', () => {
    const p = run(rr(spec, settled()), lost(10, 20), { unreachableForMs: () => 1000 });
    expect(p.actions).toEqual([]);
    expect(cond(p, 'Degraded')).toMatchObject({ status: 'True', reason: 'PrimaryFailed' });
  });

  it('promotes the replica with the highest offset once the replicas confirm', () => {
    const p = run(rr(spec, settled()), lost(10, 20), { unreachableForMs: () => 6000 });
    expect(p.actions).toEqual([{ kind: 'promote', node: 'r2', minReplicasToWrite: 1 }]);
    expect(p.status.lastPrimaryChange).toMatchObject({ kind: 'Failover', from: 'r0', to: 'r2', phase: 'Promoting' });
  });

  it('breaks ties by replica-priority, then by name, and skips unpromotable replicas', () => {
    const tie = lost(20, 20);
    expect(run(rr(spec, settled()), tie, { unreachableForMs: () => 6000 }).status.lastPrimaryChange!.to).toBe('r1');
    tie[2].info!.replicaPriority = 10;
    expect(run(rr(spec, settled()), tie, { unreachableForMs: () => 6000 }).status.lastPrimaryChange!.to).toBe('r2');
    const object = rr(spec, settled());
    object.spec.instances[2].promotable = false;
    expect(run(object, tie, { unreachableForMs: () => 6000 }).status.lastPrimaryChange!.to).toBe('r1');
  });

  it('does not fail over while a replica still reaches the primary', () => {
    const nodes = [down('r0'), replica('r1', 'r0'), replica('r2', 'r0', 1000, { masterLinkStatus: 'down' })];
    const p = run(rr(spec, settled()), nodes, { unreachableForMs: () => 60_000 });
    expect(p.actions).toEqual([]);
    expect(cond(p, 'Degraded')).toMatchObject({ reason: 'PrimaryUnreachableFromController' });
  });

  it('respects the cooldown after a failover', () => {
    const last = change('Completed', { kind: 'Failover', completionTime: '2026-12-07T11:59:30Z' });
    const p = run(rr(spec, settled({ lastPrimaryChange: last })), lost(10, 20), { unreachableForMs: () => 6000 });
    expect(p.actions).toEqual([]);
    expect(cond(p, 'Degraded')).toMatchObject({ reason: 'FailoverCooldown' });
  });

  it('only reports in Manual mode', () => {
    const p = run(rr({}, settled()), lost(10, 20), { unreachableForMs: () => 600_000 });
    expect(p.actions).toEqual([]);
    expect(p.events[0]).toMatchObject({ type: 'Warning', reason: 'PrimaryFailed' });
  });

  it('writes spec.primary when the failover completes', () => {
    const last = change('Repointing', { kind: 'Failover', to: 'r2' });
    const p = run(rr(spec, settled({ lastPrimaryChange: last })), [
      down('r0'),
      replica('r1', 'r2'),
      master('r2', 3000, { minReplicasToWrite: 1 } as never),
    ]);
    expect(p.status.currentPrimary).toBe('r2');
    expect(p.specPrimary).toBe('r2');
  });

  it('fences then re-points a former primary that comes back, saying what it discards', () => {
    const last = change('Completed', { kind: 'Failover', to: 'r2', completionTime: '2026-12-07T11:00:00Z' });
    const p = run(rr({ ...spec, primary: 'r2' }, { currentPrimary: 'r2', lastPrimaryChange: last }), [
      master('r0', 0, { replId: 'b'.repeat(40) }),
      replica('r1', 'r2'),
      { ...master('r2', 3000), minReplicasToWrite: 1 },
    ]);
    expect(p.actions).toEqual([{ kind: 'repoint', node: 'r0', to: at('r2'), fenceFirst: true }]);
    expect(p.events[0]).toMatchObject({ type: 'Warning', reason: 'DemoteFormerPrimary' });
    expect(p.status.instances![0].message).toMatch(/former primary re-pointed to r2: .*discarded/);
    expect(p.roles['r0']).toBeUndefined();
  });

  it('keeps the primary at min-replicas-to-write 1', () => {
    const p = run(rr(spec, settled()), healthy());
    expect(p.actions).toEqual([{ kind: 'configurePrimary', node: 'r0', minReplicasToWrite: 1, unpause: false }]);
  });
});

describe('changes made outside the controller', () => {
  it('adopts the primary at the top of the chain, then re-points the chained replica', () => {
    const nodes = [replica('r0', 'r1'), master('r1'), replica('r2', 'r0')];
    const p = run(rr({ primary: 'r1' }, settled()), nodes);
    expect(p.status.currentPrimary).toBe('r1');
    expect(p.events[0]).toMatchObject({ reason: 'PrimaryMoved' });
    const next = run(rr({ primary: 'r1' }, p.status), nodes);
    expect(next.actions).toEqual([{ kind: 'repoint', node: 'r2', to: at('r1') }]);
  });
});

describe('isolated instances', () => {
  it('takes an isolated replica out of replication, fenced', () => {
    const object = rr({}, settled());
    object.spec.instances[2].isolated = true;
    const p = run(object, healthy());
    expect(p.actions).toEqual([{ kind: 'isolate', node: 'r2' }]);
    expect(p.roles['r2']).toBeUndefined();
  });
});

describe('Sentinel mode', () => {
  const spec = {
    failover: { mode: 'Sentinel' as const },
    sentinel: {
      instances: [
        { name: 's0', host: '127.0.0.1' },
        { name: 's1', host: '127.0.0.1' },
      ],
      quorum: 2,
    },
  };
  const sentinel = (name: string, primary?: string): SentinelObservation => ({
    name,
    ...(primary ? { master: { quorum: '2', 'down-after-milliseconds': '5000' }, primary: at(primary) } : {}),
  });

  it('registers the primary with Sentinels that do not monitor it', () => {
    const p = run(rr(spec, settled()), healthy(), { sentinels: [sentinel('s0'), sentinel('s1', 'r0')] });
    expect(p.actions).toContainEqual({
      kind: 'sentinelMonitor',
      sentinel: 's0',
      primary: at('r0'),
      quorum: 2,
      downAfterMilliseconds: 5000,
    });
  });

  it('follows the primary the Sentinels elected, and does not re-point anything itself', () => {
    const nodes = [down('r0'), master('r1'), replica('r2', 'r1')];
    const p = run(rr(spec, settled()), nodes, { sentinels: [sentinel('s0', 'r1'), sentinel('s1', 'r1')] });
    expect(p.status.currentPrimary).toBe('r1');
    expect(p.specPrimary).toBe('r1');
    expect(p.status.lastPrimaryChange).toMatchObject({ kind: 'Failover', to: 'r1', reason: 'SentinelFailover' });
    expect(p.actions.filter((a) => a.kind === 'repoint' || a.kind === 'promote')).toEqual([]);
    expect(p.roles['r1']).toBe('primary');
  });
});
