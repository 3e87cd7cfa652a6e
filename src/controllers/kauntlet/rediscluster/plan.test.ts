import type { ObservedInstance } from './model.js';
import { plan, type Action, type PlanInput, type ShardSpec } from './plan.js';
import { cluster, fresh, type NodeDef } from './testing/fixtures.js';

const shards = (...names: string[]): ShardSpec[] =>
  names.map((n) => ({ name: n, instances: [`${n}-0`, `${n}-1`], weight: 1 }));

const input = (instances: ObservedInstance[], more: Partial<PlanInput> = {}): PlanInput => ({
  shards: shards('a', 'b'),
  instances,
  paused: false,
  rebalanceThresholdPercent: 2,
  recordedIds: new Map(),
  ...more,
});

const kinds = (actions: Action[]) => actions.map((a) => a.kind);

// A formed 2×1 cluster: a-0 owns 0-8191, b-0 owns 8192-16383, the -1s replicate them.
const formed = (): NodeDef[] => [
  { shard: 'a', name: 'a-0', id: 'A0', port: 7000, slots: [[0, 8191]] },
  { shard: 'a', name: 'a-1', id: 'A1', port: 7001, replicaOf: 'A0' },
  { shard: 'b', name: 'b-0', id: 'B0', port: 7002, slots: [[8192, 16383]] },
  { shard: 'b', name: 'b-1', id: 'B1', port: 7003, replicaOf: 'B0' },
];

describe('plan: bootstrap', () => {
  it("meets every pair and gives each shard's first instance redis-cli's split", () => {
    const p = plan(
      input([
        fresh('a', 'a-0', 'A0', 7000),
        fresh('a', 'a-1', 'A1', 7001),
        fresh('b', 'b-0', 'B0', 7002),
        fresh('b', 'b-1', 'B1', 7003),
      ]),
    );
    expect(kinds(p.actions).filter((k) => k === 'Meet')).toHaveLength(6);
    expect(p.actions.filter((a) => a.kind === 'AddSlots')).toEqual([
      { kind: 'AddSlots', node: 'a/a-0', ranges: [{ start: 0, end: 8191 }] },
      { kind: 'AddSlots', node: 'b/b-0', ranges: [{ start: 8192, end: 16383 }] },
    ]);
    expect(p.waiting?.reason).toBe('Bootstrapping');
  });

  it('assigns no slot while an instance is unreachable, and says so', () => {
    const down: ObservedInstance = {
      ...fresh('b', 'b-1', 'B1', 7003),
      state: 'Unreachable',
      id: undefined,
      nodes: undefined,
    };
    const p = plan(
      input([fresh('a', 'a-0', 'A0', 7000), fresh('a', 'a-1', 'A1', 7001), fresh('b', 'b-0', 'B0', 7002), down]),
    );
    expect(kinds(p.actions)).not.toContain('AddSlots');
    expect(p.problems).toContainEqual(expect.objectContaining({ reason: 'Unreachable', instance: 'b/b-1' }));
    expect(p.waiting?.reason).toBe('InstancesMissing');
  });

  it('leaves alone a node of another cluster and a lone node holding keys', () => {
    const stranger = cluster([
      { shard: 'b', name: 'b-1', id: 'B1', port: 7003, slots: [[0, 16383]] },
      { shard: 'x', name: 'x', id: 'X9', port: 7999 },
    ])[0];
    const p = plan(
      input([fresh('a', 'a-0', 'A0', 7000), fresh('a', 'a-1', 'A1', 7001), fresh('b', 'b-0', 'B0', 7002, 5), stranger]),
    );
    expect(p.problems).toContainEqual(expect.objectContaining({ reason: 'ForeignCluster', instance: 'b/b-1' }));
    expect(p.problems).toContainEqual(expect.objectContaining({ reason: 'NodeNotEmpty', instance: 'b/b-0' }));
    const touched = p.actions.flatMap((a) => ('node' in a ? [a.node, (a as { peer?: string }).peer] : []));
    expect(touched).not.toContain('b/b-1');
    expect(touched).not.toContain('b/b-0');
    expect(kinds(p.actions)).not.toContain('AddSlots');
  });
});

describe('plan: a formed cluster', () => {
  it('does nothing when every shard has its share and its replica', () => {
    const p = plan(input(cluster(formed())));
    expect(p.actions).toEqual([]);
    expect(p.problems).toEqual([]);
  });

  it('attaches a replica that replicates nothing yet', () => {
    const defs = formed();
    defs[3] = { ...defs[3], replicaOf: undefined };
    expect(plan(input(cluster(defs))).actions).toEqual([
      { kind: 'Replicate', node: 'b/b-1', masterId: 'B0', master: 'b/b-0' },
    ]);
  });

  it('moves slots to a new shard once it has joined and every node is ok', () => {
    const defs = [
      ...formed(),
      { shard: 'c', name: 'c-0', id: 'C0', port: 7004 },
      { shard: 'c', name: 'c-1', id: 'C1', port: 7005, replicaOf: 'C0' },
    ];
    const spec = { shards: shards('a', 'b', 'c') };
    const busy = plan(input(cluster(defs, { state: { 'c-0': 'fail' } }), spec));
    expect(kinds(busy.actions)).toEqual([]);
    expect(busy.waiting).toMatchObject({ reason: 'WaitingForStableCluster' });
    const p = plan(input(cluster(defs), spec));
    expect(p.actions).toHaveLength(1);
    const start = p.actions[0] as Extract<Action, { kind: 'StartMigration' }>;
    expect(start.kind).toBe('StartMigration');
    expect(start.moves.map((m) => [m.from, m.to, m.slots.length])).toEqual([
      ['a', 'c', 2730],
      ['b', 'c', 2731],
    ]);
  });

  it('drains a shard removed from spec, then forgets its nodes', () => {
    const defs = [
      { shard: 'a', name: 'a-0', id: 'A0', port: 7000, slots: [[0, 5460]] as [number, number][] },
      { shard: 'a', name: 'a-1', id: 'A1', port: 7001, replicaOf: 'A0' },
      { shard: 'b', name: 'b-0', id: 'B0', port: 7002, slots: [[5461, 10922]] as [number, number][] },
      { shard: 'b', name: 'b-1', id: 'B1', port: 7003, replicaOf: 'B0' },
      { shard: 'c', name: 'C0', id: 'C0', port: 7004, slots: [[10923, 16383]] as [number, number][] },
    ];
    const recordedIds = new Map([['C0', { shard: 'c', name: 'c-0' }]]);
    const p = plan(input(cluster(defs, { extra: ['C0'] }), { recordedIds }));
    const start = p.actions[0] as Extract<Action, { kind: 'StartMigration' }>;
    expect(start.moves.map((m) => [m.from, m.to, m.slots.length])).toEqual([
      ['c', 'a', 2731],
      ['c', 'b', 2730],
    ]);
    // Drained: the spec shards own everything, c's node owns nothing and is forgotten by every member.
    const drained = [
      { ...defs[0], slots: [[0, 8191]] as [number, number][] },
      defs[1],
      { ...defs[2], slots: [[8192, 16383]] as [number, number][] },
      defs[3],
      { ...defs[4], slots: [] },
    ];
    const members = cluster(drained).slice(0, 4);
    expect(plan(input(members, { recordedIds })).actions).toEqual([
      { kind: 'Forget', nodeId: 'C0', on: ['a/a-0', 'a/a-1', 'b/b-0', 'b/b-1'] },
    ]);
  });

  it('finishes an open slot left by a crash, and resumes the recorded migration first', () => {
    const defs = formed();
    defs[0] = { ...defs[0], migrating: [{ slot: 100, to: 'B0' }] };
    defs[2] = { ...defs[2], importing: [{ slot: 100, from: 'A0' }] };
    expect(plan(input(cluster(defs))).actions).toEqual([{ kind: 'FixOpenSlot', slot: 100, fromId: 'A0', toId: 'B0' }]);
    const migration = [{ from: 'a', to: 'b', slots: [100, 101] }];
    expect(plan(input(cluster(defs), { migration })).actions).toEqual([{ kind: 'ResumeMigration', moves: migration }]);
  });

  it('gives a slot its owner dropped back to that owner', () => {
    const defs = cluster(formed());
    // a-0 dropped slot 5 (CLUSTER DELSLOTS); the others still route it to a-0.
    defs[0].nodes!.find((n) => n.myself)!.slots = [
      { start: 0, end: 4 },
      { start: 6, end: 8191 },
    ];
    const p = plan(input(defs));
    expect(p.actions).toContainEqual({ kind: 'AssignSlots', node: 'a/a-0', slots: [5] });
    expect(p.problems).toContainEqual(expect.objectContaining({ reason: 'SlotsUncovered' }));
  });

  it('changes nothing while paused', () => {
    const defs = formed();
    defs[3] = { ...defs[3], replicaOf: undefined };
    expect(plan(input(cluster(defs), { paused: true })).actions).toEqual([]);
  });
});

describe('plan: a recorded migration', () => {
  it('waits, without acting, while the primary at one end does not answer', () => {
    const instances = cluster(formed());
    instances[2] = { ...instances[2], state: 'Unreachable', id: undefined, nodes: undefined, info: undefined };
    const migration = [{ from: 'a', to: 'b', slots: [1, 2, 3] }];
    const p = plan(input(instances, { migration, recordedIds: new Map([['B0', { shard: 'b', name: 'b-0' }]]) }));
    expect(p.actions).toEqual([]);
    expect(p.waiting).toEqual({
      reason: 'MigrationWaiting',
      message: 'the migration waits for the primary of b to serve',
    });
  });
});

describe('plan: primary and announce address', () => {
  it('runs CLUSTER FAILOVER on the replica spec.primary names, once the cluster is stable', () => {
    const spec = { shards: [{ ...shards('a')[0], primary: 'a-1' }, shards('b')[0]] };
    expect(plan(input(cluster(formed()), spec)).actions).toEqual([{ kind: 'Failover', node: 'a/a-1' }]);
    expect(plan(input(cluster(formed(), { state: { 'b-1': 'fail' } }), spec)).actions).toEqual([]);
  });
  it('reports a node announcing another address than the spec expects', () => {
    const instances = cluster(formed());
    instances[1] = { ...instances[1], ip: '10.9.9.9' };
    expect(plan(input(instances)).problems).toContainEqual(
      expect.objectContaining({ reason: 'AnnounceAddressMismatch', instance: 'a/a-1' }),
    );
  });
});
