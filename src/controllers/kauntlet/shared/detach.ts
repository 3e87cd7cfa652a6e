// spec.deletionPolicy of the replication objects. Retain: deleting the object leaves the servers
// as they are. Detach: a finalizer holds the deleted object until every replica has stopped and
// forgotten replication (left read-only) and the Pod role labels are gone; the primary keeps
// taking writes. Pure decisions here; each controller runs them with its own driver.

/** Held by MysqlReplication and RedisReplication objects whose deletionPolicy is Detach. */
export const detachFinalizer = 'upm.io/replication-detach';

/**
 * How long a deleted object waits for instances it cannot reach (counted from
 * metadata.deletionTimestamp, so a restarted controller does not wait again); after that it is
 * deleted and the instances it could not reach are named in a Warning Event.
 */
export const DETACH_TIMEOUT_MS = 60_000;

/** How often a deleted object looks again at the instances it cannot reach. */
export const DETACH_RETRY_MS = 2000;

interface Finalized {
  metadata: { finalizers?: string[]; resourceVersion?: string; deletionTimestamp?: string | Date };
  spec?: { deletionPolicy?: string };
}

/**
 * The JSON patch that makes the finalizer follow spec.deletionPolicy (present for Detach, absent
 * for Retain), undefined when it already does. Not for objects being deleted: their finalizer is
 * removed only once detaching is done.
 */
export function finalizerPatch(obj: Finalized): object[] | undefined {
  const have = obj.metadata.finalizers ?? [];
  const want = obj.spec?.deletionPolicy === 'Detach';
  if (have.includes(detachFinalizer) === want) return undefined;
  return withoutOrWith(obj, want ? [...have, detachFinalizer] : have.filter((f) => f !== detachFinalizer));
}

/** The JSON patch that removes the finalizer (the last step of detaching). */
export function removeFinalizerPatch(obj: Finalized): object[] {
  return withoutOrWith(
    obj,
    (obj.metadata.finalizers ?? []).filter((f) => f !== detachFinalizer),
  );
}

function withoutOrWith(obj: Finalized, finalizers: string[]): object[] {
  // The resourceVersion test turns a concurrent change of the list into a Conflict (and a retry).
  return [
    { op: 'test', path: '/metadata/resourceVersion', value: obj.metadata.resourceVersion },
    { op: 'add', path: '/metadata/finalizers', value: finalizers },
  ];
}

/** Whether the object is deleted and still held by the finalizer: the controller detaches it. */
export const detaching = (obj: Finalized): boolean =>
  !!obj.metadata.deletionTimestamp && (obj.metadata.finalizers ?? []).includes(detachFinalizer);

export interface DetachInstance {
  name: string;
  /** Why the controller could not read the instance (unresolvable, unreachable, refused credentials). */
  problem?: string;
  /** The instance replicates from another (it has replication configured). */
  replicating?: boolean;
}

export interface DetachInput {
  instances: DetachInstance[];
  deletionTimestamp: Date;
  now: Date;
  timeoutMs?: number;
  /** Instances whose detach step failed on an earlier try of this pass (counted as not reached). */
  failed?: Record<string, string>;
}

export interface DetachPlan {
  /** Reachable instances that replicate: stop and forget replication, stay read-only. */
  detach: string[];
  /** Instances not reached, with why; retried until the deadline. */
  unreached: { name: string; problem: string }[];
  /** Whether to remove the finalizer now (after the detach steps): everything reached, or the deadline passed. */
  finish: boolean;
  /** When finishing: the condition the object carries meanwhile, and the Event that closes it. */
  condition: { reason: 'DetachingInstances' | 'WaitingForInstances'; message: string };
  final?: { type: 'Normal' | 'Warning'; reason: 'Detached' | 'DetachIncomplete'; message: string };
  /** Milliseconds until the next try when not finishing. */
  retryMs: number;
}

export function planDetach(input: DetachInput): DetachPlan {
  const timeoutMs = input.timeoutMs ?? DETACH_TIMEOUT_MS;
  const failed = input.failed ?? {};
  const detach = input.instances.filter((i) => !i.problem && i.replicating && !failed[i.name]).map((i) => i.name);
  const unreached = input.instances
    .map((i) => ({ name: i.name, problem: i.problem ?? failed[i.name] }))
    .filter((i): i is { name: string; problem: string } => !!i.problem);
  const deadline = input.deletionTimestamp.getTime() + timeoutMs;
  const expired = input.now.getTime() >= deadline;
  const finish = unreached.length === 0 || expired;
  const names = (list: { name: string }[]) => list.map((i) => i.name).join(', ');
  const condition: DetachPlan['condition'] = unreached.length
    ? {
        reason: 'WaitingForInstances',
        message:
          `deletionPolicy Detach: cannot reach ${unreached.map((u) => `${u.name} (${u.problem})`).join('; ')}; ` +
          `retrying until ${new Date(deadline).toISOString()}, then they are left as they are`,
      }
    : {
        reason: 'DetachingInstances',
        message: detach.length
          ? `deletionPolicy Detach: stopping replication on ${detach.join(', ')} (left read-only)`
          : 'deletionPolicy Detach: no instance replicates; removing Pod role labels',
      };
  let final: DetachPlan['final'];
  if (finish) {
    final = unreached.length
      ? {
          type: 'Warning',
          reason: 'DetachIncomplete',
          message:
            `gave up after ${Math.round(timeoutMs / 1000)} s: ${names(unreached)} could not be reached and ` +
            `${unreached.length === 1 ? 'is' : 'are'} left as ${unreached.length === 1 ? 'it was' : 'they were'}`,
        }
      : {
          type: 'Normal',
          reason: 'Detached',
          message: detach.length
            ? `${detach.join(', ')} ${detach.length === 1 ? 'no longer replicates and stays' : 'no longer replicate and stay'} read-only; ` +
              'Pod role labels removed; no data deleted'
            : 'no instance replicated; Pod role labels removed; no data deleted',
        };
  }
  return {
    detach,
    unreached,
    finish,
    condition,
    final,
    retryMs: Math.max(1, Math.min(DETACH_RETRY_MS, deadline - input.now.getTime())),
  };
}
