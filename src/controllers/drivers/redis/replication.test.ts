// The replication commands against real redis-server processes (a primary, a replica, a Sentinel).

import type { Redis } from 'ioredis';
import { startRedisServer, type RedisServer } from '../testing/redis-server.js';
import { connectRedis, holdRedis } from './connection.js';
import {
  configGetInt,
  configSet,
  parseReplicationInfo,
  pauseWrites,
  promote,
  replicaOf,
  replicationInfo,
  sentinelCheckQuorum,
  sentinelMaster,
  sentinelMasterAddress,
  sentinelMonitor,
  sentinelRemove,
  sentinelReplicas,
  sentinelSet,
  unpause,
  waitReplicas,
  WRITE_FENCE,
} from './replication.js';

const password = 'driver-pw';
let primary: RedisServer;
let replica: RedisServer;
let sentinel: RedisServer;
const conns: Redis[] = [];
const open = async (s: RedisServer, pw: string | undefined = password) => {
  const c = await connectRedis({ host: s.host, port: s.port, password: pw || undefined });
  conns.push(c);
  return c;
};

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  primary = await startRedisServer({ password, config: ['repl-diskless-sync-delay 0'] });
  replica = await startRedisServer({ password, config: ['repl-diskless-sync-delay 0'] });
  sentinel = await startRedisServer({ sentinel: true });
}, 30_000);

afterAll(async () => {
  for (const c of conns) c.disconnect();
  await Promise.all([primary, replica, sentinel].map((s) => s?.stop()));
});

describe('replication commands', () => {
  it('attaches a replica and reads both sides of INFO replication', async () => {
    const p = await open(primary);
    const r = await open(replica);
    await p.set('k', 'v');
    await replicaOf(r, primary.host, primary.port);
    const ri = await until('link up', async () => {
      const i = await replicationInfo(r);
      return i.masterLinkStatus === 'up' && !i.masterSyncInProgress && i;
    });
    expect(ri).toMatchObject({
      role: 'replica',
      masterHost: primary.host,
      masterPort: primary.port,
      replicaPriority: 100,
    });
    expect(ri.replicaReadOnly).toBe(true);
    expect(ri.version).toMatch(/^\d+\.\d+/);
    const pi = await until('replica listed', async () => {
      const i = await replicationInfo(p);
      return i.connectedReplicas.length === 1 && i;
    });
    expect(pi).toMatchObject({ role: 'master', keys: 1 });
    expect(pi.connectedReplicas[0]).toMatchObject({ host: '127.0.0.1', port: replica.port, state: 'online' });
    expect(await r.get('k')).toBe('v');
    expect(await waitReplicas(p, 1, 1000)).toBe(1);
  });

  it('pauses writes (they wait) and fences them (they fail)', async () => {
    const p = await open(primary);
    const writer = await open(primary);
    await pauseWrites(p, 5000);
    let done = false;
    const write = writer.set('paused', '1').then(() => (done = true));
    await new Promise((r) => setTimeout(r, 200));
    expect(done).toBe(false);
    expect(await p.get('k')).toBe('v'); // reads go on
    await unpause(p);
    await write;
    expect(done).toBe(true);

    await configSet(p, { 'min-replicas-to-write': WRITE_FENCE });
    expect(await configGetInt(p, 'min-replicas-to-write')).toBe(WRITE_FENCE);
    await expect(writer.set('fenced', '1')).rejects.toThrow(/NOREPLICAS/);
    await configSet(p, { 'min-replicas-to-write': 0 });
    expect(await writer.set('fenced', '1')).toBe('OK');
  });

  it('promotes a replica that keeps its data and continues the primary history', async () => {
    const r = await open(replica);
    const before = await replicationInfo(await open(primary));
    await until('caught up', async () => ((await replicationInfo(r)).replicaOffset ?? 0) >= before.masterReplOffset);
    await promote(r);
    const i = await replicationInfo(r);
    expect(i.role).toBe('master');
    expect(i.replId2).toBe(before.replId);
    expect(i.secondReplOffset).toBeGreaterThan(0);
    expect(await r.get('k')).toBe('v');
  });

  it('a held connection says when the server ends it', async () => {
    const held = await holdRedis({ host: primary.host, port: primary.port, password });
    let ended = false;
    void held.closed.then(() => (ended = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(ended).toBe(false);
    // The held connection is the newest one before this one.
    const killer = await open(primary);
    const me = Number(await killer.call('CLIENT', 'ID'));
    const list = String(await killer.call('CLIENT', 'LIST', 'TYPE', 'normal'));
    const ids = [...list.matchAll(/\bid=(\d+)/g)].map((m) => Number(m[1])).filter((id) => id < me);
    await killer.call('CLIENT', 'KILL', 'ID', String(Math.max(...ids)));
    await held.closed;
    expect(ended).toBe(true);
    await held.close();
  });

  it('reports a wrong password as the server says it', async () => {
    await expect(open(primary, 'wrong')).rejects.toThrow(/WRONGPASS|invalid/);
  });

  it('parses a Redis 6 style replica section', () => {
    const i = parseReplicationInfo(
      'role:slave\r\nmaster_host:10.0.0.1\r\nmaster_port:6379\r\nmaster_link_status:down\r\nmaster_link_down_since_seconds:12\r\n' +
        'master_sync_in_progress:0\r\nslave_repl_offset:42\r\nslave_priority:0\r\nslave_read_only:1\r\nmaster_replid:x\r\nmaster_repl_offset:42\r\n',
    );
    expect(i).toMatchObject({
      role: 'replica',
      masterLinkStatus: 'down',
      masterLinkDownSinceSeconds: 12,
      replicaOffset: 42,
      replicaPriority: 0,
    });
    expect(() => parseReplicationInfo('# Server\r\nredis_version:7.0.0\r\n')).toThrow(/no replication role/);
  });
});

describe('Sentinel commands', () => {
  it('monitors, reports, sets, checks quorum and removes', async () => {
    const s = await open(sentinel, '');
    // The replica was promoted above: monitor it, with a replica attached again.
    await replicaOf(await open(primary), replica.host, replica.port);
    expect(await sentinelMasterAddress(s, 'cache')).toBeUndefined();
    expect(await sentinelMaster(s, 'cache')).toBeUndefined();
    await sentinelMonitor(s, 'cache', replica.host, replica.port, 1);
    await sentinelSet(s, 'cache', { 'auth-pass': password, 'down-after-milliseconds': 3000 });
    expect(await sentinelMasterAddress(s, 'cache')).toEqual({ host: replica.host, port: replica.port });
    expect(await sentinelMaster(s, 'cache')).toMatchObject({ quorum: '1', 'down-after-milliseconds': '3000' });
    expect(await sentinelCheckQuorum(s, 'cache')).toMatchObject({ ok: true });
    const replicas = await until('the Sentinel finds the replica', async () => {
      const r = await sentinelReplicas(s, 'cache');
      return r.length > 0 && r;
    });
    expect(replicas[0]).toMatchObject({ port: String(primary.port) });
    await sentinelRemove(s, 'cache');
    expect(await sentinelMasterAddress(s, 'cache')).toBeUndefined();
  });
});
