// What the RedisReplication controller observes and the steps it can take: the vocabulary shared
// by observe (reads the servers), plan (pure decisions) and act (runs one step).

import type { ReplicationInfo } from '../../../drivers/redis/replication.js';
import type { Endpoint } from '../../shared/instances.js';

export interface Address {
  host: string;
  port: number;
}

export type NodeProblem = 'UnitNotFound' | 'UnitNotAddressable' | 'Unreachable' | 'AuthenticationFailed' | 'Failed';

export interface NodeObservation {
  name: string;
  /** Where the controller connects (undefined when the instance could not be resolved). */
  endpoint?: Endpoint;
  /** The address replicas and Sentinels use (announceHost/announcePort, else the endpoint). */
  replicationAddress?: Address;
  problem?: { reason: NodeProblem; message: string };
  info?: ReplicationInfo;
  /** min-replicas-to-write (WRITE_FENCE: the server refuses writes), undefined when unknown. */
  minReplicasToWrite?: number;
}

export interface SentinelObservation {
  name: string;
  endpoint?: Endpoint;
  problem?: { reason: NodeProblem; message: string };
  /** SENTINEL MASTER fields, undefined when this Sentinel does not monitor the primary name. */
  master?: Record<string, string>;
  /** Where this Sentinel sees the primary. */
  primary?: Address;
}

export interface Observation {
  nodes: NodeObservation[];
  sentinels: SentinelObservation[];
}

/** One command group on one server. Credentials are added by act, never carried here. */
export type Action =
  /** Refuse writes (min-replicas-to-write = WRITE_FENCE), and make writers wait (CLIENT PAUSE WRITE) when pauseMs is set. */
  | { kind: 'fence'; node: string; pauseMs?: number }
  /** Lift a fence: min-replicas-to-write back to a normal value, CLIENT UNPAUSE. */
  | { kind: 'unfence'; node: string; minReplicasToWrite: number }
  /** REPLICAOF NO ONE, then the primary settings. */
  | { kind: 'promote'; node: string; minReplicasToWrite: number }
  /** The primary settings only (the fence a returning old primary starts with, see plan.ts). */
  | { kind: 'configurePrimary'; node: string; minReplicasToWrite: number; unpause?: boolean }
  /** REPLICAOF `to` (after fencing when fenceFirst), replica settings, CLIENT UNPAUSE when unpause. */
  | { kind: 'repoint'; node: string; to: Address; fenceFirst?: boolean; unpause?: boolean }
  /** Out of replication and unable to take writes: fence, then REPLICAOF NO ONE. */
  | { kind: 'isolate'; node: string }
  | { kind: 'sentinelMonitor'; sentinel: string; primary: Address; quorum: number; downAfterMilliseconds: number }
  | { kind: 'sentinelSet'; sentinel: string; options: Record<string, string | number> };

export interface PlanEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  note: string;
}
