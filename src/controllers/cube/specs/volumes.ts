// The Unit's VolumesReady condition from its claims: every claim Bound with at least the requested
// capacity. A grown request is only done when the volume has grown: kube reports the steps on the
// claim (allocatedResourceStatuses, the Resizing and FileSystemResizePending conditions), and a
// request the cluster refused (a storage class without allowVolumeExpansion) is reported, not
// retried forever.

import type { V1PersistentVolumeClaim } from '@kubernetes/client-node';
import type { Condition } from '../../../machinery/conditions.js';
import { quantityValue } from '../../../machinery/quantity.js';

export interface ClaimState {
  name: string;
  claim: V1PersistentVolumeClaim | undefined;
  /** The server's refusal of the last resize request, when there was one. */
  resizeRejected?: string;
}

type Verdict = { status: 'True' | 'False'; reason: string; message: string };

const infeasible = new Set(['ControllerResizeInfeasible', 'NodeResizeInfeasible']);

function claimVerdict(c: ClaimState): Verdict | undefined {
  const { claim, name } = c;
  if (c.resizeRejected) return { status: 'False', reason: 'ResizeRejected', message: `${name}: ${c.resizeRejected}` };
  if (!claim) return { status: 'False', reason: 'Pending', message: `claim ${name} does not exist yet` };
  const phase = claim.status?.phase ?? 'Pending';
  if (phase === 'Lost') return { status: 'False', reason: 'Lost', message: `claim ${name} lost its volume` };
  if (phase !== 'Bound') return { status: 'False', reason: 'Pending', message: `claim ${name} is ${phase}` };
  const requested = claim.spec?.resources?.requests?.['storage'];
  const capacity = claim.status?.capacity?.['storage'];
  if (!requested || !capacity || quantityValue(capacity) >= quantityValue(requested)) return undefined;
  const step = claim.status?.allocatedResourceStatuses?.['storage'];
  if (step && infeasible.has(step)) {
    const failure = claim.status?.conditions?.find(
      (x) => x.type === 'ControllerResizeError' || x.type === 'NodeResizeError',
    );
    return {
      status: 'False',
      reason: 'ResizeFailed',
      message: `claim ${name} cannot grow to ${requested}: ${failure?.message ?? step}`,
    };
  }
  const fsPending = claim.status?.conditions?.some((x) => x.type === 'FileSystemResizePending' && x.status === 'True');
  return {
    status: 'False',
    reason: 'Resizing',
    message: fsPending
      ? `claim ${name} grew to ${requested}; the file system is resized when the node next mounts it`
      : `claim ${name} is growing from ${capacity} to ${requested}`,
  };
}

/** VolumesReady for `claims` (the Unit's, in spec order). The first problem decides the reason. */
export function volumesReadyCondition(claims: ClaimState[]): Condition {
  const problems = claims.map(claimVerdict).filter((v): v is Verdict => !!v);
  if (claims.length === 0)
    return { type: 'VolumesReady', status: 'True', reason: 'NoVolumes', message: 'the Unit has no claims' };
  if (problems.length === 0)
    return { type: 'VolumesReady', status: 'True', reason: 'Bound', message: 'every claim is bound with its capacity' };
  return { type: 'VolumesReady', ...problems[0], message: problems.map((p) => p.message).join('; ') };
}
