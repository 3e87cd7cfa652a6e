import type { MysqlReplicationSpec, MysqlReplicationStatus, PrimaryChange } from '../../../api/generated/types.js';
import type { ReplicaStatus } from '../../drivers/mysql/dialect.js';
import type { Flavor } from '../../drivers/mysql/gtid.js';
import type { ServerState } from '../../drivers/mysql/operations.js';
import { planReplication, type InstanceObservation, type PlanInput } from './plan.js';

const port = { a: 3301, b: 3302, c: 3303 } as const;
type Name = keyof typeof port;
const U = {
  a: 'aaaaaaaa-0000-0000-0000-000000000001',
  b: 'bbbbbbbb-0000-0000-0000-000000000002',
  c: 'cccccccc-0000-0000-0000-000000000003',
};
const serverId = { a: '1', b: '2', c: '3' };

function state(
  name: Name,
  o: {
    writable?: boolean;
    executed?: string;
    replicaOf?: Name;
    replica?: Partial<ReplicaStatus>;
    flavor?: Flavor;
  } = {},
): ServerState {
  const flavor = o.flavor ?? 'MariaDB';
  return {
    version: flavor === 'MariaDB' ? '10.11.19-MariaDB' : '8.4.3',
    flavor,
    origin: flavor === 'MariaDB' ? serverId[name] : U[name],
    readOnly: !o.writable,
    superReadOnly: flavor === 'MySQL' ? !o.writable : undefined,
    executed: o.executed ?? '',
    semiSync: { source: false, replica: false },
    replica: o.replicaOf
      ? {
          sourceHost: '127.0.0.1',
          sourcePort: port[o.replicaOf],
          ioRunning: 'Yes',
          sqlRunning: 'Yes',
          secondsBehind: 0,
          lastIOError: '',
          lastSQLError: '',
          received: '',
          sourceOrigin: flavor === 'MariaDB' ? serverId[o.replicaOf] : U[o.replicaOf],
          autoPosition: true,
          ...o.replica,
        }
      : undefined,
    variables: {},
  };
}

const obs = (name: Name, s?: ServerState): InstanceObservation => ({
  name,
  host: '127.0.0.1',
  port: port[name],
  address: `127.0.0.1:${port[name]}`,
  state: s,
  error: s ? undefined : 'connect ECONNREFUSED',
});

const spec = (extra: Partial<MysqlReplicationSpec> = {}): MysqlReplicationSpec => ({
  primary: 'a',
  instances: (['a', 'b', 'c'] as Name[]).map((n) => ({ name: n, host: '127.0.0.1', port: port[n] })),
  credentials: { admin: { name: 'creds' } },
  ...extra,
});
const now = new Date('2026-12-07T12:00:00Z');
const plan = (p: Partial<PlanInput> & { observations: InstanceObservation[] }) =>
  planReplication({ spec: spec(), status: undefined, now, ...p });
const healthy = (exec = '0-1-10') => [
  obs('a', state('a', { writable: true, executed: exec })),
  obs('b', state('b', { replicaOf: 'a', executed: exec })),
  obs('c', state('c', { replicaOf: 'a', executed: exec })),
];
const established: MysqlReplicationStatus = { currentPrimary: 'a' };

describe('first primary', () => {
  it('makes spec.primary writable only after every other instance is read-only', () => {
    const p = plan({
      observations: [
        obs('a', state('a')),
        obs('b', state('b', { writable: true, replicaOf: 'c' })),
        obs('c', state('c')),
      ],
    });
    expect(p.currentPrimary).toBe('a');
    expect(p.steps).toEqual([
      { kind: 'MakeReadOnly', instance: 'b' },
      { kind: 'Promote', instance: 'a' },
    ]);
  });
  it('refuses a primary that lacks transactions another instance has', () => {
    const p = plan({
      observations: [obs('a', state('a')), obs('b', state('b', { executed: '0-2-5' })), obs('c', state('c'))],
    });
    expect(p.currentPrimary).toBeUndefined();
    expect(p.steps).toEqual([]);
    expect(p.waiting).toMatchObject({ reason: 'PrimaryBehind', message: expect.stringContaining('0-2-5') });
  });
  it('adopts a running primary, which a different spec.primary then switches over from', () => {
    const p = plan({ spec: spec({ primary: 'b' }), observations: healthy() });
    expect(p.currentPrimary).toBe('a');
    const next = plan({ spec: spec({ primary: 'b' }), status: { currentPrimary: 'a' }, observations: healthy() });
    expect(next.change).toMatchObject({ kind: 'Switchover', from: 'a', to: 'b', phase: 'Pending', epoch: 1 });
  });
});

describe('steady state', () => {
  it('does nothing when the topology is as wanted', () => {
    const p = plan({ status: established, observations: healthy() });
    expect(p.steps).toEqual([]);
    expect(p.findings).toEqual([]);
  });
  it('repairs drift: a writable replica, a stopped channel, a new instance, a replica of someone else', () => {
    const p = plan({
      status: established,
      observations: [
        obs('a', state('a', { writable: true, executed: '0-1-10' })),
        obs('b', state('b', { writable: true, replicaOf: 'a', replica: { sqlRunning: 'No', ioRunning: 'No' } })),
        obs('c', state('c')),
      ],
    });
    expect(p.steps).toEqual([
      { kind: 'MakeReadOnly', instance: 'b' },
      { kind: 'StartReplication', instance: 'b' },
      { kind: 'Replicate', instance: 'c', source: 'a', fresh: true },
    ]);
    expect(p.events.map((e) => e.reason)).toEqual(['DriftRepaired', 'ReplicationRestarted', 'ReplicationConfigured']);
    const elsewhere = plan({
      status: established,
      observations: [...healthy().slice(0, 2), obs('c', state('c', { replicaOf: 'b' }))],
    });
    expect(elsewhere.steps).toEqual([{ kind: 'Replicate', instance: 'c', source: 'a', fresh: false }]);
  });
  it('keeps a replica with errant transactions read-only and out of replication', () => {
    const p = plan({
      status: established,
      observations: [...healthy().slice(0, 2), obs('c', state('c', { executed: '0-1-10,7-3-1' }))],
    });
    expect(p.steps).toEqual([]);
    expect(p.diverged).toEqual({ c: '7-3-1' });
    expect(p.findings[0]).toMatchObject({ reason: 'ErrantTransactions' });
  });
  it('fences a second writable instance before anything else (split brain)', () => {
    const p = plan({
      status: established,
      observations: [healthy()[0], obs('b', state('b', { writable: true, replicaOf: 'a' })), healthy()[2]],
    });
    expect(p.findings[0]).toMatchObject({ reason: 'SplitBrain' });
    expect(p.steps[0]).toEqual({ kind: 'MakeReadOnly', instance: 'b' });
  });
  it('turns semi-sync on, primary last, and detaches an isolated instance', () => {
    const p = plan({
      spec: {
        ...spec({ mode: 'SemiSync' }),
        instances: spec().instances.map((i) => ({ ...i, isolated: i.name === 'c' })),
      },
      status: established,
      observations: healthy(),
    });
    expect(p.steps).toEqual([
      { kind: 'ReplicaSemiSync', instance: 'b', enabled: true },
      { kind: 'Detach', instance: 'c' },
      { kind: 'SourceSemiSync', instance: 'a', enabled: true },
    ]);
  });
});

describe('switchover', () => {
  const change = (phase: PrimaryChange['phase'], extra: Partial<PrimaryChange> = {}): MysqlReplicationStatus => ({
    currentPrimary: 'a',
    lastPrimaryChange: { kind: 'Switchover', from: 'a', to: 'b', phase, epoch: 1, ...extra },
  });
  const toB = spec({ primary: 'b' });

  it('waits while the candidate lags, without fencing', () => {
    const lagging = [
      healthy()[0],
      obs('b', state('b', { replicaOf: 'a', replica: { secondsBehind: 90 } })),
      healthy()[2],
    ];
    const p = plan({ spec: toB, status: change('Pending'), observations: lagging });
    expect(p.steps).toEqual([]);
    expect(p.change).toMatchObject({ phase: 'Pending', reason: 'CandidateLagging' });
    expect(plan({ spec: toB, status: change('Pending'), observations: healthy() }).change?.phase).toBe('Fencing');
  });

  it('fences, catches up and promotes in one batch once the phase record names the candidate', () => {
    expect(plan({ spec: toB, status: change('Pending'), observations: healthy() }).change?.message).toMatch(
      /making a read-only .* then promoting b once it has applied every transaction of a/,
    );
    expect(plan({ spec: toB, status: change('Fencing'), observations: healthy() }).steps).toEqual([
      { kind: 'Fence', instance: 'a' },
      { kind: 'CatchUpWith', instance: 'b', source: 'a', timeoutSeconds: 1 },
      { kind: 'Promote', instance: 'b' },
    ]);
    // Another instance made writable by hand is made read-only before the candidate is promoted.
    const cWritable = [healthy()[0], healthy()[1], obs('c', state('c', { writable: true }))];
    expect(plan({ spec: toB, status: change('Fencing'), observations: cWritable }).steps).toEqual([
      { kind: 'Fence', instance: 'a' },
      { kind: 'MakeReadOnly', instance: 'c' },
      { kind: 'CatchUpWith', instance: 'b', source: 'a', timeoutSeconds: 1 },
      { kind: 'Promote', instance: 'b' },
    ]);
    // The batch ran to the end (or the controller died after it): the record still says Fencing,
    // the servers say the candidate is the primary.
    const afterBatch = [
      obs('a', state('a', { executed: '0-1-12' })),
      obs('b', state('b', { writable: true, executed: '0-1-12' })),
      obs('c', state('c', { replicaOf: 'a', executed: '0-1-12' })),
    ];
    const p = plan({ spec: toB, status: change('Fencing'), observations: afterBatch });
    expect(p.steps).toEqual([]);
    expect(p.currentPrimary).toBe('b');
    expect(p.change?.phase).toBe('Repointing');
    expect(p.events.map((e) => e.reason)).toContain('Promoted');
  });

  it('fences alone when the candidate does not replicate from the old primary', () => {
    const notReplicating = [healthy()[0], obs('b', state('b', {})), healthy()[2]];
    expect(plan({ spec: toB, status: change('Fencing'), observations: notReplicating }).steps).toEqual([
      { kind: 'Fence', instance: 'a' },
    ]);
  });

  it('a writable candidate that lacks transactions of the fenced primary is not taken for promoted', () => {
    const behind = [
      obs('a', state('a', { executed: '0-1-12' })),
      obs('b', state('b', { writable: true, executed: '0-1-11' })),
      healthy()[2],
    ];
    expect(plan({ spec: toB, status: change('Fencing'), observations: behind }).change?.phase).toBe('CatchingUp');
  });

  it('fences, waits for the GTIDs of the fenced primary, promotes, then re-points', () => {
    // Fenced, the candidate is behind: wait for the old primary's position.
    const fenced = [
      obs('a', state('a', { executed: '0-1-12' })),
      obs('b', state('b', { replicaOf: 'a', executed: '0-1-11' })),
      healthy()[2],
    ];
    expect(plan({ spec: toB, status: change('Fencing'), observations: fenced }).change?.phase).toBe('CatchingUp');
    const waiting = plan({ spec: toB, status: change('CatchingUp'), observations: fenced, phaseSince: now });
    expect(waiting.steps).toEqual([{ kind: 'WaitForGtids', instance: 'b', position: '0-1-12', timeoutSeconds: 1 }]);
    // Caught up.
    const caughtUp = [fenced[0], obs('b', state('b', { replicaOf: 'a', executed: '0-1-12' })), healthy()[2]];
    expect(plan({ spec: toB, status: change('CatchingUp'), observations: caughtUp }).change?.phase).toBe('Promoting');
    expect(plan({ spec: toB, status: change('Promoting'), observations: caughtUp }).steps).toEqual([
      { kind: 'Promote', instance: 'b' },
    ]);
    const promoted = [
      fenced[0],
      obs('b', state('b', { writable: true, executed: '0-1-12' })),
      obs('c', state('c', { replicaOf: 'a', executed: '0-1-12' })),
    ];
    const p = plan({ spec: toB, status: change('Promoting'), observations: promoted });
    expect(p.currentPrimary).toBe('b');
    expect(p.change?.phase).toBe('Repointing');
    const repoint = plan({
      spec: toB,
      status: { ...change('Repointing'), currentPrimary: 'b' },
      observations: promoted,
    });
    expect(repoint.steps).toEqual([
      { kind: 'Replicate', instance: 'a', source: 'b', fresh: true },
      { kind: 'Replicate', instance: 'c', source: 'b', fresh: false },
    ]);
  });

  it('resumes from the recorded phase after a restart: no second fence, no new change', () => {
    const fenced = [
      obs('a', state('a', { executed: '0-1-12' })),
      obs('b', state('b', { replicaOf: 'a', executed: '0-1-11' })),
      healthy()[2],
    ];
    const p = plan({ spec: toB, status: change('CatchingUp', { epoch: 4 }), observations: fenced });
    expect(p.change).toMatchObject({ epoch: 4, phase: 'CatchingUp' });
    expect(p.steps.map((s) => s.kind)).toEqual(['WaitForGtids']);
  });

  it('fails on catch-up timeout and then makes the old primary writable again', () => {
    const fenced = [
      obs('a', state('a', { executed: '0-1-12' })),
      obs('b', state('b', { replicaOf: 'a', executed: '0-1-11' })),
      healthy()[2],
    ];
    const p = plan({
      spec: { ...toB, switchover: { catchUpTimeoutSeconds: 5 } },
      status: change('CatchingUp'),
      observations: fenced,
      phaseSince: new Date(now.getTime() - 6000),
    });
    expect(p.change).toMatchObject({ phase: 'Failed', reason: 'CatchUpTimeout' });
    expect(p.change?.message).toMatch(/0-1-12.*a stays primary/);
    const after = plan({
      spec: toB,
      status: { currentPrimary: 'a', lastPrimaryChange: p.change },
      observations: fenced,
    });
    expect(after.steps).toEqual([{ kind: 'MakeWritable', instance: 'a' }]);
    expect(after.change?.phase).toBe('Failed'); // not retried until the spec changes again
    const retry = plan({
      spec: toB,
      status: { currentPrimary: 'a', lastPrimaryChange: p.change },
      observations: healthy(),
      specChangedSinceFailure: true,
    });
    expect(retry.change).toMatchObject({ phase: 'Pending', epoch: 2 });
  });
});

describe('failover', () => {
  const auto = spec({ failover: { mode: 'Automatic', delaySeconds: 5, cooldownSeconds: 60 } });
  const down = new Date(now.getTime() - 10_000);
  const disconnected = (name: Name, executed: string, received = '') =>
    obs(name, state(name, { replicaOf: 'a', executed, replica: { ioRunning: 'Connecting', received } }));
  const known: MysqlReplicationStatus = {
    currentPrimary: 'a',
    instances: [{ name: 'a', gtidExecuted: '0-1-10' }],
  };

  it('reports and waits in Manual mode', () => {
    const p = plan({
      status: known,
      observations: [obs('a'), disconnected('b', '0-1-10'), disconnected('c', '0-1-10')],
    });
    expect(p.change).toBeUndefined();
    expect(p.findings[0]).toMatchObject({ reason: 'PrimaryFailed' });
  });
  it('waits for the delay, and for the replicas to lose the primary too', () => {
    const observations = [obs('a'), disconnected('b', '0-1-10'), disconnected('c', '0-1-10')];
    expect(plan({ spec: auto, status: known, observations, unreachableSince: { a: now } }).change).toBeUndefined();
    const stillConnected = [obs('a'), healthy()[1], disconnected('c', '0-1-10')];
    const p = plan({ spec: auto, status: known, observations: stillConnected, unreachableSince: { a: down } });
    expect(p.change).toBeUndefined();
    expect(p.waiting?.message).toMatch(/b still receive/);
  });
  it('promotes the replica that received the most, counting relay logs not yet applied', () => {
    const observations = [obs('a'), disconnected('b', '0-1-9', '0-1-12'), disconnected('c', '0-1-11', '0-1-11')];
    const p = plan({ spec: auto, status: known, observations, unreachableSince: { a: down } });
    expect(p.change).toMatchObject({ kind: 'Failover', from: 'a', to: 'b', phase: 'Fencing' });
    // Catching up means applying what it received.
    const c = plan({
      spec: auto,
      status: { ...known, lastPrimaryChange: { ...p.change!, phase: 'CatchingUp' } },
      observations,
    });
    expect(c.steps).toEqual([{ kind: 'WaitForGtids', instance: 'b', position: '0-1-12', timeoutSeconds: 1 }]);
  });
  it('never promotes a replica with errant transactions and says why', () => {
    const observations = [obs('a'), disconnected('b', '0-1-10,7-2-1'), disconnected('c', '0-1-10')];
    const p = plan({ spec: auto, status: known, observations, unreachableSince: { a: down } });
    expect(p.change?.to).toBe('c');
    expect(p.change?.message).toMatch(/b: errant transactions 7-2-1/);
  });
  it('refuses when no replica holds everything the others hold, and respects the cooldown', () => {
    const split = [obs('a'), disconnected('b', '0-1-12'), { ...disconnected('c', '0-1-11') }];
    const notPromotable = { ...auto, instances: auto.instances.map((i) => ({ ...i, promotable: i.name !== 'b' })) };
    const p = plan({ spec: notPromotable, status: known, observations: split, unreachableSince: { a: down } });
    expect(p.change).toBeUndefined();
    expect(p.findings[0]).toMatchObject({
      reason: 'NoSafeCandidate',
      message: expect.stringMatching(/b: not promotable/),
    });
    const recent = {
      ...known,
      lastPrimaryChange: {
        kind: 'Failover',
        to: 'a',
        phase: 'Completed',
        completionTime: new Date(now.getTime() - 30_000).toISOString(),
      } as PrimaryChange,
    };
    const q = plan({ spec: auto, status: recent, observations: split, unreachableSince: { a: down } });
    expect(q.change?.phase).toBe('Completed');
    expect(q.findings[0]).toMatchObject({ reason: 'FailoverCooldown' });
  });
  it('works on MySQL GTID sets the same way', () => {
    const my = (name: Name, executed: string) =>
      obs(name, state(name, { flavor: 'MySQL', replicaOf: 'a', executed, replica: { ioRunning: 'Connecting' } }));
    const status = { currentPrimary: 'a', instances: [{ name: 'a', gtidExecuted: `${U.a}:1-10` }] };
    const observations = [obs('a'), my('b', `${U.a}:1-10,${U.b}:1`), my('c', `${U.a}:1-9`)];
    const p = plan({ spec: auto, status, observations, unreachableSince: { a: down } });
    expect(p.change).toBeUndefined(); // c is behind b's history, b is errant: nobody safe
    expect(p.findings[0].message).toMatch(new RegExp(`b: errant transactions ${U.b}:1`));
    const ok = plan({
      spec: auto,
      status,
      observations: [obs('a'), my('b', `${U.a}:1-10,${U.b}:1`), my('c', `${U.a}:1-10`)],
      unreachableSince: { a: down },
    });
    expect(ok.change?.to).toBe('c');
  });
  it('reads the last known GTIDs in the flavor last seen when nothing answers, and reports unreadable ones', () => {
    const status = {
      currentPrimary: 'a',
      instances: [{ name: 'a', flavor: 'MySQL' as const, gtidExecuted: `${U.a}:1-10` }],
    };
    const p = plan({ spec: auto, status, observations: [obs('a'), obs('b'), obs('c')], unreachableSince: { a: down } });
    expect(p.waiting?.message).toMatch(/no replica is reachable/);
    const bad = plan({
      spec: auto,
      status: { ...status, instances: [{ name: 'a', flavor: 'MariaDB' as const, gtidExecuted: 'garbage' }] },
      observations: [obs('a'), disconnected('b', '0-1-10'), disconnected('c', '0-1-10')],
      unreachableSince: { a: down },
    });
    expect(bad.findings[0]).toMatchObject({ reason: 'UnreadableGtids' });
    expect(bad.steps).toEqual([]);
  });
  it('after promotion, writes the promoted instance into spec.primary before completing', () => {
    const status: MysqlReplicationStatus = {
      ...known,
      lastPrimaryChange: { kind: 'Failover', from: 'a', to: 'b', phase: 'Promoting', epoch: 1 },
    };
    const promoted = [
      obs('a'),
      obs('b', state('b', { writable: true, executed: '0-1-10' })),
      disconnected('c', '0-1-10'),
    ];
    expect(plan({ spec: auto, status, observations: promoted }).steps).toEqual([
      { kind: 'SetSpecPrimary', primary: 'b' },
    ]);
    const p = plan({ spec: { ...auto, primary: 'b' }, status, observations: promoted });
    expect(p.currentPrimary).toBe('b');
    expect(p.change?.phase).toBe('Repointing');
  });
});
