// Redis Cluster commands and the parsing of their replies into typed observations: CLUSTER NODES,
// INFO, MYID and SHARDS, and the commands that change a cluster (MEET, ADDSLOTSRANGE, REPLICATE,
// SETSLOT, MIGRATE, FORGET, FAILOVER). Connections come from ./connection.ts; nothing here decides
// what to do, it only says what a node reports and does what it is told.
//
// Redis 6 and 7 differences handled here: CLUSTER ADDSLOTSRANGE and CLUSTER SHARDS exist from 7.0
// (6 gets ADDSLOTS with every slot, and no shard view); the node address in CLUSTER NODES carries
// a hostname after a comma from 7.0; MIGRATE's AUTH2 (user and password) exists from 6.0.

import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Redis } from 'ioredis';
import { parseInfo } from './connection.js';

export const HASH_SLOTS = 16384;

/** An inclusive range of hash slots. */
export interface SlotRange {
  start: number;
  end: number;
}

export interface ClusterNode {
  id: string;
  /** Announced IP; empty for a node that has not learnt its own address yet (a fresh node's myself line). */
  ip: string;
  port: number;
  busPort: number;
  /** cluster-announce-hostname (7.0+), when set. */
  hostname?: string;
  flags: string[];
  myself: boolean;
  master: boolean;
  replica: boolean;
  /** fail? (this node suspects it) or fail (the cluster agreed). */
  failing: boolean;
  handshake: boolean;
  noaddr: boolean;
  /** Node ID of the master of a replica. */
  masterId?: string;
  pingSent: number;
  pongReceived: number;
  configEpoch: number;
  linkState: 'connected' | 'disconnected';
  slots: SlotRange[];
  /** Slots this node is migrating to another node (only listed on the node's own myself line). */
  migrating: { slot: number; to: string }[];
  /** Slots this node is importing from another node (only listed on the node's own myself line). */
  importing: { slot: number; from: string }[];
}

/** Parses the reply of CLUSTER NODES. */
export function parseClusterNodes(text: string): ClusterNode[] {
  const out: ClusterNode[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (!line.trim()) continue;
    const f = line.trim().split(' ');
    if (f.length < 8) throw new Error(`malformed CLUSTER NODES line: ${JSON.stringify(line)}`);
    const [id, addr, flagText, master, ping, pong, epoch, link, ...slotFields] = f;
    const [hostPort, hostname] = addr.split(',', 2);
    const at = hostPort.indexOf('@');
    const ipPort = at >= 0 ? hostPort.slice(0, at) : hostPort;
    const colon = ipPort.lastIndexOf(':');
    const ip = ipPort.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
    const port = Number(ipPort.slice(colon + 1));
    const busPort = at >= 0 ? Number(hostPort.slice(at + 1)) : port + 10000;
    const flags = flagText === 'noflags' ? [] : flagText.split(',');
    const node: ClusterNode = {
      id,
      ip,
      port,
      busPort,
      ...(hostname ? { hostname } : {}),
      flags,
      myself: flags.includes('myself'),
      master: flags.includes('master'),
      replica: flags.includes('slave'),
      failing: flags.includes('fail') || flags.includes('fail?'),
      handshake: flags.includes('handshake'),
      noaddr: flags.includes('noaddr'),
      ...(master !== '-' ? { masterId: master } : {}),
      pingSent: Number(ping),
      pongReceived: Number(pong),
      configEpoch: Number(epoch),
      linkState: link === 'connected' ? 'connected' : 'disconnected',
      slots: [],
      migrating: [],
      importing: [],
    };
    for (const s of slotFields) {
      const open = /^\[(\d+)-([<>])-([0-9a-f]+)\]$/.exec(s);
      if (open) {
        const slot = Number(open[1]);
        if (open[2] === '>') node.migrating.push({ slot, to: open[3] });
        else node.importing.push({ slot, from: open[3] });
        continue;
      }
      const dash = s.indexOf('-');
      const start = Number(dash < 0 ? s : s.slice(0, dash));
      const end = Number(dash < 0 ? s : s.slice(dash + 1));
      if (!Number.isInteger(start) || !Number.isInteger(end)) throw new Error(`malformed slot field ${s}`);
      node.slots.push({ start, end });
    }
    out.push(node);
  }
  return out;
}

export interface ClusterInfo {
  state: 'ok' | 'fail';
  slotsAssigned: number;
  slotsOk: number;
  slotsPfail: number;
  slotsFail: number;
  knownNodes: number;
  size: number;
  currentEpoch: number;
  myEpoch: number;
}

/** Parses the reply of CLUSTER INFO. */
export function parseClusterInfo(text: string): ClusterInfo {
  const f = parseInfo(text);
  const n = (k: string) => Number(f[k] ?? 0);
  return {
    state: f['cluster_state'] === 'ok' ? 'ok' : 'fail',
    slotsAssigned: n('cluster_slots_assigned'),
    slotsOk: n('cluster_slots_ok'),
    slotsPfail: n('cluster_slots_pfail'),
    slotsFail: n('cluster_slots_fail'),
    knownNodes: n('cluster_known_nodes'),
    size: n('cluster_size'),
    currentEpoch: n('cluster_current_epoch'),
    myEpoch: n('cluster_my_epoch'),
  };
}

export interface ShardNode {
  id: string;
  port?: number;
  tlsPort?: number;
  ip?: string;
  endpoint?: string;
  hostname?: string;
  role: 'master' | 'replica';
  replicationOffset: number;
  health: 'online' | 'failed' | 'loading';
}

export interface Shard {
  slots: SlotRange[];
  nodes: ShardNode[];
}

/** Parses the reply of CLUSTER SHARDS (7.0+) as ioredis returns it (RESP2 flat key/value arrays). */
export function parseClusterShards(reply: unknown): Shard[] {
  const pairs = (a: unknown): Map<string, unknown> => {
    const m = new Map<string, unknown>();
    const arr = a as unknown[];
    for (let i = 0; i + 1 < arr.length; i += 2) m.set(String(arr[i]), arr[i + 1]);
    return m;
  };
  return (reply as unknown[]).map((s) => {
    const shard = pairs(s);
    const bounds = ((shard.get('slots') as unknown[]) ?? []).map(Number);
    const slots: SlotRange[] = [];
    for (let i = 0; i + 1 < bounds.length; i += 2) slots.push({ start: bounds[i], end: bounds[i + 1] });
    const nodes = ((shard.get('nodes') as unknown[]) ?? []).map((n) => {
      const m = pairs(n);
      const str = (k: string) => (m.has(k) ? String(m.get(k)) : undefined);
      const num = (k: string) => (m.has(k) ? Number(m.get(k)) : undefined);
      const node: ShardNode = {
        id: str('id')!,
        role: str('role') === 'master' ? 'master' : 'replica',
        replicationOffset: num('replication-offset') ?? 0,
        health: (str('health') ?? 'failed') as ShardNode['health'],
      };
      for (const [k, v] of [
        ['port', num('port')],
        ['tlsPort', num('tls-port')],
        ['ip', str('ip')],
        ['endpoint', str('endpoint')],
        ['hostname', str('hostname')],
      ] as const) {
        if (v !== undefined) (node as unknown as Record<string, unknown>)[k] = v;
      }
      return node;
    });
    return { slots, nodes };
  });
}

// ---------------------------------------------------------------------------------------------
// Slot ranges

/** Collapses a sorted or unsorted list of slots into ranges. */
export function toRanges(slots: Iterable<number>): SlotRange[] {
  const sorted = [...new Set(slots)].sort((a, b) => a - b);
  const out: SlotRange[] = [];
  for (const s of sorted) {
    const last = out[out.length - 1];
    if (last && last.end + 1 === s) last.end = s;
    else out.push({ start: s, end: s });
  }
  return out;
}

export function slotsOf(ranges: SlotRange[]): number[] {
  const out: number[] = [];
  for (const r of ranges) for (let s = r.start; s <= r.end; s++) out.push(s);
  return out;
}

export const countSlots = (ranges: SlotRange[]): number => ranges.reduce((n, r) => n + r.end - r.start + 1, 0);

/** "0-5460" or "5461" (the form of status and CLUSTER NODES). */
export const formatRange = (r: SlotRange): string => (r.start === r.end ? `${r.start}` : `${r.start}-${r.end}`);

export function parseRange(s: string): SlotRange {
  const [a, b] = s.split('-');
  return { start: Number(a), end: Number(b ?? a) };
}

// ---------------------------------------------------------------------------------------------
// Observations

/** The major version of `redis_version` (e.g. 7 for 7.0.15). */
export function majorVersion(version: string | undefined): number {
  return Number((version ?? '0').split('.')[0]) || 0;
}

export interface NodeObservation {
  version: string;
  clusterEnabled: boolean;
  /** The nodes this node knows (its own line has myself); empty when cluster mode is off. */
  nodes: ClusterNode[];
  info?: ClusterInfo;
  keys: number;
}

/** What one node reports about itself and the cluster, in one round trip. */
export async function observeNode(c: Redis): Promise<NodeObservation> {
  const [server, keyspace, cluster] = (await c.pipeline().info('server').dbsize().info('cluster').exec())!.map(
    ([err, v]) => {
      if (err) throw err;
      return v;
    },
  );
  const version = parseInfo(server as string)['redis_version'] ?? '';
  const clusterEnabled = parseInfo(cluster as string)['cluster_enabled'] === '1';
  if (!clusterEnabled) return { version, clusterEnabled, nodes: [], keys: Number(keyspace) };
  const [nodes, info] = (await c.pipeline().call('CLUSTER', 'NODES').call('CLUSTER', 'INFO').exec())!.map(
    ([err, v]) => {
      if (err) throw err;
      return String(v);
    },
  );
  return {
    version,
    clusterEnabled,
    nodes: parseClusterNodes(nodes),
    info: parseClusterInfo(info),
    keys: Number(keyspace),
  };
}

export async function clusterMyId(c: Redis): Promise<string> {
  return String(await c.call('CLUSTER', 'MYID'));
}

/** CLUSTER SHARDS, or undefined on servers before 7.0. */
export async function clusterShards(c: Redis, major: number): Promise<Shard[] | undefined> {
  if (major > 0 && major < 7) return undefined;
  return parseClusterShards(await c.call('CLUSTER', 'SHARDS'));
}

// ---------------------------------------------------------------------------------------------
// Commands

/** The IP address CLUSTER MEET needs (it takes no host names): `host` itself or its first address. */
export async function resolveIP(host: string): Promise<string> {
  if (isIP(host)) return host;
  return (await lookup(host)).address;
}

/** CLUSTER MEET `ip` `port` `busPort` (the bus port argument exists from 4.0). */
export async function clusterMeet(c: Redis, ip: string, port: number, busPort?: number): Promise<void> {
  const args = busPort && busPort !== port + 10000 ? [ip, port, busPort] : [ip, port];
  await c.call('CLUSTER', 'MEET', ...args);
}

/** The commands that assign `ranges` to a node: ADDSLOTSRANGE on 7.0+, ADDSLOTS before. */
export function addSlotsCommands(ranges: SlotRange[], major: number): (string | number)[][] {
  if (ranges.length === 0) return [];
  if (major >= 7) return [['CLUSTER', 'ADDSLOTSRANGE', ...ranges.flatMap((r) => [r.start, r.end])]];
  return [['CLUSTER', 'ADDSLOTS', ...slotsOf(ranges)]];
}

export async function clusterAddSlots(c: Redis, ranges: SlotRange[], major: number): Promise<void> {
  for (const [cmd, ...args] of addSlotsCommands(ranges, major)) await c.call(cmd as string, ...args);
}

export async function clusterReplicate(c: Redis, masterId: string): Promise<void> {
  await c.call('CLUSTER', 'REPLICATE', masterId);
}

export async function clusterForget(c: Redis, nodeId: string): Promise<void> {
  await c.call('CLUSTER', 'FORGET', nodeId);
}

/** CLUSTER FAILOVER on a replica: a coordinated switch (the master stops writes until the replica caught up). */
export async function clusterFailover(c: Redis, mode?: 'FORCE' | 'TAKEOVER'): Promise<void> {
  await c.call('CLUSTER', 'FAILOVER', ...(mode ? [mode] : []));
}

export type SetSlotState = { importing: string } | { migrating: string } | { node: string } | 'stable';

export function setSlotArgs(slot: number, state: SetSlotState): (string | number)[] {
  if (state === 'stable') return ['CLUSTER', 'SETSLOT', slot, 'STABLE'];
  if ('importing' in state) return ['CLUSTER', 'SETSLOT', slot, 'IMPORTING', state.importing];
  if ('migrating' in state) return ['CLUSTER', 'SETSLOT', slot, 'MIGRATING', state.migrating];
  return ['CLUSTER', 'SETSLOT', slot, 'NODE', state.node];
}

/** Sends CLUSTER SETSLOT for many slots in one pipeline; rejects with the first error. */
export async function setSlots(c: Redis, changes: { slot: number; state: SetSlotState }[]): Promise<void> {
  if (changes.length === 0) return;
  const p = c.pipeline();
  for (const ch of changes) {
    const [cmd, ...args] = setSlotArgs(ch.slot, ch.state);
    p.call(cmd as string, ...args);
  }
  const results = (await p.exec())!;
  const failed = results.findIndex(([err]) => err);
  if (failed >= 0) throw new Error(`CLUSTER SETSLOT ${changes[failed].slot}: ${results[failed][0]!.message}`);
}

/** COUNTKEYSINSLOT for many slots in one pipeline. */
export async function countKeysInSlots(c: Redis, slots: number[]): Promise<number[]> {
  if (slots.length === 0) return [];
  const p = c.pipeline();
  for (const s of slots) p.call('CLUSTER', 'COUNTKEYSINSLOT', s);
  return (await p.exec())!.map(([err, v]) => {
    if (err) throw err;
    return Number(v);
  });
}

/** GETKEYSINSLOT for many slots in one pipeline (keys as Buffers: key names are binary-safe). */
export async function getKeysInSlots(c: Redis, slots: number[], count: number): Promise<Buffer[][]> {
  if (slots.length === 0) return [];
  const p = c.pipeline();
  for (const s of slots) p.callBuffer('CLUSTER', 'GETKEYSINSLOT', s, count);
  return (await p.exec())!.map(([err, v]) => {
    if (err) throw err;
    return v as Buffer[];
  });
}

export interface MigrateTarget {
  ip: string;
  port: number;
  username?: string;
  password?: string;
  timeoutMs: number;
}

/** MIGRATE `target` "" 0 timeout [REPLACE] [AUTH pw | AUTH2 user pw] KEYS k1 k2 …. */
export function migrateArgs(
  t: MigrateTarget,
  keys: (string | Buffer)[],
  replace: boolean,
): (string | number | Buffer)[] {
  const auth = t.password
    ? t.username && t.username !== 'default'
      ? ['AUTH2', t.username, t.password]
      : ['AUTH', t.password]
    : [];
  return [t.ip, t.port, '', 0, t.timeoutMs, ...(replace ? ['REPLACE'] : []), ...auth, 'KEYS', ...keys];
}

/**
 * Moves every key of `slots` from `source` to the target with pipelined MIGRATE … KEYS batches
 * (one MIGRATE per slot and batch: keys of different slots cannot share one), until the source
 * has no key left in any of them. A key already on the target (left by a crash between the
 * target's RESTORE and the source's DEL) is replaced: while the slot is the source's, its copy
 * is the current one. Returns the number of keys moved.
 */
export async function migrateSlotKeys(
  source: Redis,
  target: MigrateTarget,
  slots: number[],
  keysPerBatch: number,
): Promise<number> {
  let moved = 0;
  let pending = slots;
  while (pending.length > 0) {
    const keys = await getKeysInSlots(source, pending, keysPerBatch);
    const work = pending.map((slot, i) => ({ slot, keys: keys[i] })).filter((w) => w.keys.length > 0);
    if (work.length === 0) break;
    const p = source.pipeline();
    for (const w of work) p.callBuffer('MIGRATE', ...migrateArgs(target, w.keys, false));
    const results = (await p.exec())!;
    const busy: typeof work = [];
    for (let i = 0; i < results.length; i++) {
      const err = results[i][0];
      if (!err) moved += work[i].keys.length;
      else if (/BUSYKEY/.test(err.message)) busy.push(work[i]);
      else throw new Error(`MIGRATE of slot ${work[i].slot}: ${err.message}`);
    }
    for (const w of busy) {
      await source.callBuffer('MIGRATE', ...migrateArgs(target, w.keys, true));
      moved += w.keys.length;
    }
    pending = work.filter((w) => w.keys.length >= keysPerBatch).map((w) => w.slot);
  }
  return moved;
}
