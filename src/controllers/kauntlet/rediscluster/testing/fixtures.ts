// Observations of cluster nodes for the planner's and the status' unit tests, without servers.

import type { ClusterInfo, ClusterNode } from '../../../drivers/redis/cluster.js';
import type { ObservedInstance } from '../model.js';

export interface NodeDef {
  shard: string;
  name: string;
  id: string;
  port: number;
  replicaOf?: string;
  slots?: [number, number][];
  migrating?: { slot: number; to: string }[];
  importing?: { slot: number; from: string }[];
  keys?: number;
}

const info = (state: 'ok' | 'fail'): ClusterInfo => ({
  state,
  slotsAssigned: 0,
  slotsOk: 0,
  slotsPfail: 0,
  slotsFail: 0,
  knownNodes: 0,
  size: 0,
  currentEpoch: 0,
  myEpoch: 0,
});

function line(d: NodeDef, me: boolean): ClusterNode {
  const flags = [...(me ? ['myself'] : []), d.replicaOf ? 'slave' : 'master'];
  return {
    id: d.id,
    ip: '127.0.0.1',
    port: d.port,
    busPort: d.port + 10000,
    flags,
    myself: me,
    master: !d.replicaOf,
    replica: !!d.replicaOf,
    failing: false,
    handshake: false,
    noaddr: false,
    ...(d.replicaOf ? { masterId: d.replicaOf } : {}),
    pingSent: 0,
    pongReceived: 0,
    configEpoch: 1,
    linkState: 'connected',
    slots: (d.slots ?? []).map(([start, end]) => ({ start, end })),
    migrating: me ? (d.migrating ?? []) : [],
    importing: me ? (d.importing ?? []) : [],
  };
}

/** Instances that all know each other (one cluster), cluster_state ok unless told otherwise. */
export function cluster(defs: NodeDef[], opts: { state?: Record<string, 'ok' | 'fail'>; extra?: string[] } = {}) {
  return defs.map((d): ObservedInstance => ({
    shard: d.shard,
    name: d.name,
    host: '127.0.0.1',
    port: d.port,
    ip: '127.0.0.1',
    busPort: d.port + 10000,
    state: 'Reachable',
    id: d.id,
    nodes: defs.map((o) => line(o, o === d)),
    info: info(opts.state?.[d.name] ?? 'ok'),
    keys: d.keys ?? 0,
    ...(opts.extra?.includes(d.name) ? { extra: true } : {}),
  }));
}

/** A fresh server: it knows only itself and has not learnt its address. */
export function fresh(shard: string, name: string, id: string, port: number, keys = 0): ObservedInstance {
  const [i] = cluster([{ shard, name, id, port, keys }], { state: { [name]: 'fail' } });
  i.nodes![0].ip = '';
  return i;
}
