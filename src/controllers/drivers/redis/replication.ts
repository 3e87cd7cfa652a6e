// Redis primary/replica replication and Sentinel commands, as typed calls on a connection opened by
// connection.ts. Nothing here decides anything: the RedisReplication controller plans, these
// functions carry out one command each and report what the server said.

import type { Redis } from 'ioredis';
import { parseInfo } from './connection.js';

/** min-replicas-to-write above any replica count: the server refuses every write (NOREPLICAS). */
export const WRITE_FENCE = 2147483647;

export interface ConnectedReplica {
  host: string;
  port: number;
  state: string;
  /** Replication offset the replica acknowledged. */
  offset: number;
  /** Seconds since its last acknowledgement. */
  lag: number;
}

/** INFO replication (plus the fields of other sections the controller reads), typed. */
export interface ReplicationInfo {
  role: 'master' | 'replica';
  version?: string;
  replId: string;
  /** Replication id this server continued from when it was promoted ('' or zeros when none). */
  replId2: string;
  /** First offset not covered by replId2 (-1 when none). */
  secondReplOffset: number;
  masterReplOffset: number;
  connectedReplicas: ConnectedReplica[];
  /** Replica side (role replica). */
  masterHost?: string;
  masterPort?: number;
  masterLinkStatus?: 'up' | 'down';
  masterSyncInProgress?: boolean;
  /** Offset the replica processed (slave_repl_offset). */
  replicaOffset?: number;
  /** replica-priority: lower is preferred, 0 never promoted. */
  replicaPriority?: number;
  replicaReadOnly?: boolean;
  masterLinkDownSinceSeconds?: number;
  /** Number of keys over all databases (INFO keyspace), when the server reported it. */
  keys?: number;
}

const num = (v: string | undefined): number | undefined => {
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
};

/** Parses the text of INFO (any sections; replication is required) into a ReplicationInfo. */
export function parseReplicationInfo(text: string): ReplicationInfo {
  const f = parseInfo(text);
  const roleText = f['role'];
  if (roleText !== 'master' && roleText !== 'slave' && roleText !== 'replica') {
    throw new Error(`INFO has no replication role (role=${JSON.stringify(roleText)})`);
  }
  const connectedReplicas: ConnectedReplica[] = [];
  for (const [k, v] of Object.entries(f)) {
    if (!/^slave\d+$/.test(k)) continue;
    const kv = Object.fromEntries(v.split(',').map((p) => p.split('=') as [string, string]));
    connectedReplicas.push({
      host: kv['ip'] ?? '',
      port: num(kv['port']) ?? 0,
      state: kv['state'] ?? '',
      offset: num(kv['offset']) ?? 0,
      lag: num(kv['lag']) ?? 0,
    });
  }
  let keys: number | undefined;
  for (const [k, v] of Object.entries(f)) {
    if (!/^db\d+$/.test(k)) continue;
    keys = (keys ?? 0) + (num(/keys=(\d+)/.exec(v)?.[1]) ?? 0);
  }
  if (keys === undefined && 'rdb_changes_since_last_save' in f) keys = 0; // keyspace section sent, but empty
  const info: ReplicationInfo = {
    role: roleText === 'master' ? 'master' : 'replica',
    version: f['redis_version'],
    replId: f['master_replid'] ?? '',
    replId2: f['master_replid2'] ?? '',
    secondReplOffset: num(f['second_repl_offset']) ?? -1,
    masterReplOffset: num(f['master_repl_offset']) ?? 0,
    connectedReplicas,
    keys,
  };
  if (info.role === 'replica') {
    info.masterHost = f['master_host'];
    info.masterPort = num(f['master_port']);
    info.masterLinkStatus = f['master_link_status'] === 'up' ? 'up' : 'down';
    info.masterSyncInProgress = f['master_sync_in_progress'] === '1';
    info.replicaOffset = num(f['slave_repl_offset']);
    info.replicaPriority = num(f['slave_priority'] ?? f['replica_priority']);
    info.replicaReadOnly = f['slave_read_only'] === undefined ? undefined : f['slave_read_only'] === '1';
    info.masterLinkDownSinceSeconds = num(f['master_link_down_since_seconds']);
  }
  return info;
}

/**
 * The replication state of the server behind `c`. Plain INFO (default sections) rather than
 * `INFO server replication keyspace`: Redis 6 answers only one section per call.
 */
export async function replicationInfo(c: Redis): Promise<ReplicationInfo> {
  return parseReplicationInfo(await c.info());
}

/** Current value of an integer configuration parameter, or undefined when CONFIG GET is refused. */
export async function configGetInt(c: Redis, name: string): Promise<number | undefined> {
  try {
    const r = (await c.call('CONFIG', 'GET', name)) as string[];
    return num(r[1]);
  } catch {
    return undefined;
  }
}

/** CONFIG SET of each parameter (one call per parameter, so a Redis 6 server accepts it too). */
export async function configSet(c: Redis, params: Record<string, string | number>): Promise<void> {
  for (const [k, v] of Object.entries(params)) await c.call('CONFIG', 'SET', k, String(v));
}

/**
 * CONFIG REWRITE, so a restarted server keeps its role and fencing. Returns false when the server
 * cannot (no config file, read-only file): the in-memory change still holds.
 */
export async function configRewrite(c: Redis): Promise<boolean> {
  try {
    await c.call('CONFIG', 'REWRITE');
    return true;
  } catch {
    return false;
  }
}

/** REPLICAOF host port. A server that was a primary discards its data for the primary's on full resync. */
export async function replicaOf(c: Redis, host: string, port: number): Promise<void> {
  await c.call('REPLICAOF', host, String(port));
}

/** REPLICAOF NO ONE: the replica becomes a primary with the data it has. */
export async function promote(c: Redis): Promise<void> {
  await c.call('REPLICAOF', 'NO', 'ONE');
}

/** CLIENT PAUSE <ms> WRITE: write commands of clients wait (reads go on) until unpaused or the time ends. */
export async function pauseWrites(c: Redis, ms: number): Promise<void> {
  await c.call('CLIENT', 'PAUSE', String(Math.max(1, Math.round(ms))), 'WRITE');
}

export async function unpause(c: Redis): Promise<void> {
  await c.call('CLIENT', 'UNPAUSE');
}

/** WAIT numReplicas timeoutMs: how many replicas acknowledged every write of this connection so far. */
export async function waitReplicas(c: Redis, numReplicas: number, timeoutMs: number): Promise<number> {
  return Number(await c.call('WAIT', String(numReplicas), String(timeoutMs)));
}

// ---------------------------------------------------------------------------------------------
// Sentinel

export interface SentinelAddress {
  host: string;
  port: number;
}

/** SENTINEL GET-MASTER-ADDR-BY-NAME: where this Sentinel sees the primary, undefined when it does not monitor `name`. */
export async function sentinelMasterAddress(c: Redis, name: string): Promise<SentinelAddress | undefined> {
  const r = (await c.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name)) as string[] | null;
  if (!r || r.length < 2) return undefined;
  return { host: r[0], port: Number(r[1]) };
}

const pairs = (flat: unknown): Record<string, string> => {
  const a = (flat ?? []) as string[];
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < a.length; i += 2) out[a[i]] = a[i + 1];
  return out;
};

/** SENTINEL MASTER <name> as field → value, undefined when it does not monitor `name`. */
export async function sentinelMaster(c: Redis, name: string): Promise<Record<string, string> | undefined> {
  try {
    return pairs(await c.call('SENTINEL', 'MASTER', name));
  } catch (err) {
    if (/No such master/i.test((err as Error).message)) return undefined;
    throw err;
  }
}

/** SENTINEL REPLICAS <name>: each replica the Sentinel knows, as field → value. */
export async function sentinelReplicas(c: Redis, name: string): Promise<Record<string, string>[]> {
  return ((await c.call('SENTINEL', 'REPLICAS', name)) as unknown[]).map(pairs);
}

export async function sentinelMonitor(c: Redis, name: string, host: string, port: number, quorum: number) {
  await c.call('SENTINEL', 'MONITOR', name, host, String(port), String(quorum));
}

/** SENTINEL SET <name> option value … (auth-pass, auth-user, down-after-milliseconds, quorum, …). */
export async function sentinelSet(c: Redis, name: string, options: Record<string, string | number>) {
  const args = Object.entries(options).flatMap(([k, v]) => [k, String(v)]);
  if (args.length) await c.call('SENTINEL', 'SET', name, ...args);
}

export async function sentinelRemove(c: Redis, name: string): Promise<void> {
  await c.call('SENTINEL', 'REMOVE', name);
}

/** SENTINEL CKQUORUM: whether enough Sentinels are reachable to authorise a failover, with the server's message. */
export async function sentinelCheckQuorum(c: Redis, name: string): Promise<{ ok: boolean; message: string }> {
  try {
    return { ok: true, message: String(await c.call('SENTINEL', 'CKQUORUM', name)) };
  } catch (err) {
    return { ok: false, message: (err as Error).message };
  }
}
