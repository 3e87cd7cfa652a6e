import type { Redis } from 'ioredis';
import { startRedisServer, type RedisServer } from '../testing/redis-server.js';
import {
  addSlotsCommands,
  clusterAddSlots,
  clusterMeet,
  clusterMyId,
  clusterShards,
  countKeysInSlots,
  majorVersion,
  migrateArgs,
  migrateSlotKeys,
  observeNode,
  parseClusterInfo,
  parseClusterNodes,
  setSlots,
  toRanges,
} from './cluster.js';
import { connectRedis } from './connection.js';

describe('CLUSTER NODES parsing', () => {
  it('reads Redis 7 lines: hostname, flags, replicas, open slots', () => {
    const text = [
      'a1 10.0.0.1:6379@16379,redis-0.example myself,master - 0 0 3 connected 0-5460 [77->-b2] [93-<-c3]',
      'b2 10.0.0.2:6380@16380 slave a1 0 1700000000000 3 connected',
      'c3 :6381@16381 master,fail?,noaddr - 1700000000000 1700000000000 2 disconnected 5461 5470-5480',
      'd4 10.0.0.4:6382@16382 handshake - 0 0 0 connected',
      '',
    ].join('\n');
    const [a, b, c, d] = parseClusterNodes(text);
    expect(a).toMatchObject({
      id: 'a1',
      ip: '10.0.0.1',
      port: 6379,
      busPort: 16379,
      hostname: 'redis-0.example',
      myself: true,
      master: true,
      configEpoch: 3,
      slots: [{ start: 0, end: 5460 }],
      migrating: [{ slot: 77, to: 'b2' }],
      importing: [{ slot: 93, from: 'c3' }],
    });
    expect(b).toMatchObject({ replica: true, masterId: 'a1', linkState: 'connected' });
    expect(c).toMatchObject({ ip: '', failing: true, noaddr: true, linkState: 'disconnected' });
    expect(c.slots).toEqual([
      { start: 5461, end: 5461 },
      { start: 5470, end: 5480 },
    ]);
    expect(d.handshake).toBe(true);
  });

  it('reads Redis 6 lines (no hostname) and old ones without a bus port', () => {
    const [n] = parseClusterNodes('e5 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-16383\n');
    expect(n).toMatchObject({ ip: '127.0.0.1', port: 7000, busPort: 17000, slots: [{ start: 0, end: 16383 }] });
    expect(n.hostname).toBeUndefined();
    expect(parseClusterNodes('f6 127.0.0.1:7000 myself,master - 0 0 1 connected\n')[0].busPort).toBe(17000);
  });

  it('reads CLUSTER INFO', () => {
    expect(
      parseClusterInfo('cluster_state:ok\r\ncluster_slots_assigned:16384\r\ncluster_known_nodes:6\r\n'),
    ).toMatchObject({
      state: 'ok',
      slotsAssigned: 16384,
      knownNodes: 6,
    });
  });
});

describe('commands by server version', () => {
  it('assigns ranges with ADDSLOTSRANGE on 7 and every slot with ADDSLOTS before', () => {
    const ranges = [
      { start: 0, end: 2 },
      { start: 10, end: 10 },
    ];
    expect(addSlotsCommands(ranges, 7)).toEqual([['CLUSTER', 'ADDSLOTSRANGE', 0, 2, 10, 10]]);
    expect(addSlotsCommands(ranges, 6)).toEqual([['CLUSTER', 'ADDSLOTS', 0, 1, 2, 10]]);
    expect(majorVersion('6.2.14')).toBe(6);
  });
  it('authenticates MIGRATE with AUTH, or AUTH2 for a named user', () => {
    const t = { ip: '127.0.0.1', port: 7000, timeoutMs: 500 };
    expect(migrateArgs(t, ['k'], false)).toEqual(['127.0.0.1', 7000, '', 0, 500, 'KEYS', 'k']);
    expect(migrateArgs({ ...t, password: 'p' }, ['k'], true)).toEqual([
      '127.0.0.1',
      7000,
      '',
      0,
      500,
      'REPLACE',
      'AUTH',
      'p',
      'KEYS',
      'k',
    ]);
    expect(migrateArgs({ ...t, username: 'ops', password: 'p' }, ['k'], false)).toContain('AUTH2');
  });
  it('collapses slots into ranges', () => {
    expect(toRanges([5, 1, 2, 3, 9, 10])).toEqual([
      { start: 1, end: 3 },
      { start: 5, end: 5 },
      { start: 9, end: 10 },
    ]);
  });
});

describe('against two real redis-server cluster nodes', () => {
  const password = 'pw';
  let a: RedisServer;
  let b: RedisServer;
  let ca: Redis;
  let cb: Redis;

  beforeAll(async () => {
    [a, b] = await Promise.all([0, 1].map(() => startRedisServer({ config: ['cluster-enabled yes'], password })));
    ca = await connectRedis({ host: a.host, port: a.port, password });
    cb = await connectRedis({ host: b.host, port: b.port, password });
  });
  afterAll(async () => {
    ca?.disconnect();
    cb?.disconnect();
    await Promise.all([a?.stop(), b?.stop()]);
  });

  it('meets, assigns slots, and moves a slot with its keys (MIGRATE with AUTH, pipelined)', async () => {
    const [idA, idB] = [await clusterMyId(ca), await clusterMyId(cb)];
    await clusterAddSlots(ca, [{ start: 0, end: 16383 }], 7);
    await clusterMeet(ca, b.host, b.port, b.port + 10000);
    // Joined, and serving (a new master waits a moment before cluster_state turns ok).
    for (let i = 0; i < 100; i++) {
      const [ob, oa] = [await observeNode(cb), await observeNode(ca)];
      if (ob.nodes.some((n) => n.id === idA && !n.handshake) && oa.info?.state === 'ok') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const before = await observeNode(ca);
    expect(before).toMatchObject({ clusterEnabled: true, version: expect.stringMatching(/^\d+\./) });
    expect(before.nodes.find((n) => n.myself)).toMatchObject({ id: idA, slots: [{ start: 0, end: 16383 }] });

    // Keys of two slots: {x} and {y} hash tags keep each group in one slot.
    const slotX = Number(await ca.call('CLUSTER', 'KEYSLOT', '{x}'));
    const slotY = Number(await ca.call('CLUSTER', 'KEYSLOT', '{y}'));
    for (let i = 0; i < 250; i++) await ca.set(`{x}${i}`, `x${i}`);
    for (let i = 0; i < 3; i++) await ca.set(`{y}${i}`, `y${i}`);
    const slots = [slotX, slotY];
    await setSlots(
      cb,
      slots.map((slot) => ({ slot, state: { importing: idA } })),
    );
    await setSlots(
      ca,
      slots.map((slot) => ({ slot, state: { migrating: idB } })),
    );
    expect((await observeNode(ca)).nodes.find((n) => n.myself)!.migrating).toHaveLength(2);
    const moved = await migrateSlotKeys(ca, { ip: b.host, port: b.port, password, timeoutMs: 5000 }, slots, 100);
    expect(moved).toBe(253);
    expect(await countKeysInSlots(ca, slots)).toEqual([0, 0]);
    expect(await countKeysInSlots(cb, slots)).toEqual([250, 3]);
    const assign = slots.map((slot) => ({ slot, state: { node: idB } }));
    await setSlots(cb, assign);
    await setSlots(ca, assign);
    const after = (await observeNode(ca)).nodes.find((n) => n.myself)!;
    expect(after.migrating).toEqual([]);
    expect(after.slots.some((r) => r.start <= slotX && slotX <= r.end)).toBe(false);
    expect(await cb.get('{x}7')).toBe('x7');

    const shards = await clusterShards(ca, 7);
    expect(shards!.flatMap((s) => s.nodes.map((n) => n.id)).sort()).toEqual([idA, idB].sort());
    expect(await clusterShards(ca, 6)).toBeUndefined();
  });

  it('rejects a SETSLOT the server refuses with the slot in the message', async () => {
    await expect(setSlots(cb, [{ slot: 1, state: { migrating: 'f'.repeat(40) } }])).rejects.toThrow(/SETSLOT 1/);
  });
});
