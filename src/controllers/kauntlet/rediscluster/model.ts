// What the controller knows about a RedisCluster's servers after observing them: plain data, the
// input of the pure planner (plan.ts) and of the status (status.ts).

import type { ClusterInfo, ClusterNode } from '../../drivers/redis/cluster.js';

export type InstanceState =
  /** Connected; the other fields are filled. */
  | 'Reachable'
  /** No connection (refused, timed out, host unknown). */
  | 'Unreachable'
  /** The server refused the credentials (WRONGPASS, NOAUTH, NOPERM). */
  | 'AuthFailed'
  /** The server runs without cluster-enabled yes. */
  | 'ClusterDisabled'
  /** A Unit-backed instance whose Unit is missing or has no address yet. */
  | 'NotResolved';

export interface ObservedInstance {
  shard: string;
  name: string;
  /** Where the controller connects. */
  host: string;
  port: number;
  /** The IP the node announces (announceHost or host, resolved): what MEET and the other nodes use. */
  ip?: string;
  busPort: number;
  /** The Kubernetes node of the instance's Pod, when it is Unit-backed and scheduled. */
  nodeName?: string;
  /** Set when the instance is not part of spec: a node outside spec that holds slots and must be drained. */
  extra?: boolean;
  state: InstanceState;
  message?: string;
  version?: string;
  id?: string;
  /** Its view of the cluster (its own line has myself). */
  nodes?: ClusterNode[];
  info?: ClusterInfo;
  keys?: number;
}

/** The node line an instance reports about itself. */
export const myself = (i: ObservedInstance): ClusterNode | undefined => i.nodes?.find((n) => n.myself);
