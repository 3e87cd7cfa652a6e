import type { RedisCluster } from '../../../api/generated/types.js';
import { plan } from './plan.js';
import { buildStatus, migrationStatus, movesOf } from './status.js';
import { cluster } from './testing/fixtures.js';

const rc = (shards: string[]): RedisCluster =>
  ({
    apiVersion: 'upm.io/v1alpha1',
    kind: 'RedisCluster',
    metadata: { name: 'cache', namespace: 'default', generation: 2 },
    spec: {
      credentials: { name: 'auth' },
      shards: shards.map((n) => ({ name: n, instances: [{ name: `${n}-0` }, { name: `${n}-1` }] })),
    },
  }) as unknown as RedisCluster;

const formed = cluster([
  { shard: 'a', name: 'a-0', id: 'A0', port: 7000, slots: [[0, 8191]], keys: 40 },
  { shard: 'a', name: 'a-1', id: 'A1', port: 7001, replicaOf: 'A0', keys: 40 },
  { shard: 'b', name: 'b-0', id: 'B0', port: 7002, slots: [[8192, 16383]], keys: 60 },
  { shard: 'b', name: 'b-1', id: 'B1', port: 7003, replicaOf: 'B0', keys: 60 },
]);

const build = (instances = formed, extra: Partial<Parameters<typeof buildStatus>[0]> = {}) => {
  const p = plan({
    shards: ['a', 'b'].map((n) => ({ name: n, instances: [`${n}-0`, `${n}-1`], weight: 1 })),
    instances,
    paused: false,
    rebalanceThresholdPercent: 2,
    recordedIds: new Map(),
  });
  return buildStatus({ rc: rc(['a', 'b']), instances, plan: p, acted: [], now: new Date(0), ...extra });
};

describe('buildStatus', () => {
  it('reports every shard with its primary, slots, keys and nodes, and Ready when all is served', () => {
    const s = build();
    expect(s).toMatchObject({ clusterState: 'ok', slotsAssigned: 16384, totalShards: 2, readyShards: 2 });
    expect(s.shards![0]).toMatchObject({
      name: 'a',
      currentPrimary: 'a-0',
      slots: ['0-8191'],
      slotCount: 8192,
      keys: 40,
    });
    expect(s.shards![0].nodes).toEqual([
      expect.objectContaining({ name: 'a-0', nodeId: 'A0', role: 'Primary', health: 'Healthy', ready: true }),
      expect.objectContaining({
        name: 'a-1',
        role: 'Replica',
        primaryNodeId: 'A0',
        ready: true,
        linkState: 'connected',
      }),
    ]);
    const byType = Object.fromEntries(s.conditions!.map((c) => [c.type, [c.status, c.reason, c.observedGeneration]]));
    expect(byType).toEqual({
      Ready: ['True', 'ClusterReady', 2],
      Progressing: ['False', 'Stable', 2],
      Degraded: ['False', 'Healthy', 2],
    });
  });

  it('is not Ready while a shard removed from spec still owns slots, even with nothing in flight', () => {
    const instances = cluster(
      [
        { shard: 'a', name: 'a-0', id: 'A0', port: 7000, slots: [[0, 16000]], keys: 40 },
        { shard: 'a', name: 'a-1', id: 'A1', port: 7001, replicaOf: 'A0', keys: 40 },
        { shard: 'b', name: 'b-0', id: 'B0', port: 7002, slots: [[16001, 16383]], keys: 60 },
      ],
      { extra: ['b-0'] },
    );
    const p = plan({
      shards: [{ name: 'a', instances: ['a-0', 'a-1'], weight: 1 }],
      instances,
      paused: false,
      rebalanceThresholdPercent: 2,
      recordedIds: new Map(),
    });
    const s = buildStatus({ rc: rc(['a']), instances, plan: p, acted: [], now: new Date(0) });
    expect(s.shards!.find((x) => x.name === 'b')).toMatchObject({ slotCount: 383 });
    expect(s.conditions!.find((c) => c.type === 'Ready')).toMatchObject({
      status: 'False',
      message: 'removed from spec but still owning slots: b (383)',
    });
  });

  it('says why it is not Ready: an unreachable node is Degraded, a migration is Progressing', () => {
    const down = formed.map((i) =>
      i.name === 'b-1'
        ? { ...i, state: 'Unreachable' as const, id: undefined, nodes: undefined, message: 'ECONNREFUSED' }
        : i,
    );
    const s = build(down);
    expect(s.conditions!.find((c) => c.type === 'Degraded')).toMatchObject({ status: 'True', reason: 'Unreachable' });
    expect(s.shards![1].nodes![1]).toMatchObject({ health: 'Unreachable', role: 'Unknown', ready: false });
    const migration = migrationStatus(
      [{ from: 'a', to: 'b', slots: [1, 2, 3, 7] }],
      { moved: 10 },
      '2026-01-01T00:00:00Z',
    );
    expect(migration).toMatchObject({ fromShard: 'a', toShard: 'b', slot: 1, slotsRemaining: 4, slotsMoved: 10 });
    expect(migration.steps).toEqual([{ fromShard: 'a', toShard: 'b', slots: ['1-3', '7'] }]);
    expect(movesOf(migration)).toEqual([{ from: 'a', to: 'b', slots: [1, 2, 3, 7] }]);
    const moving = build(formed, { migration });
    expect(moving.migration).toBe(migration);
    expect(moving.conditions!.find((c) => c.type === 'Ready')).toMatchObject({
      status: 'False',
      reason: 'MigratingSlots',
    });
    expect(moving.conditions!.find((c) => c.type === 'Progressing')).toMatchObject({
      status: 'True',
      reason: 'MigratingSlots',
    });
  });
});
