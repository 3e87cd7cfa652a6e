import type { V1PersistentVolumeClaim } from '@kubernetes/client-node';
import { volumesReadyCondition } from './volumes.js';

const claim = (
  requested: string,
  status: V1PersistentVolumeClaim['status'] = { phase: 'Bound', capacity: { storage: requested } },
): V1PersistentVolumeClaim => ({ spec: { resources: { requests: { storage: requested } } }, status });

describe('VolumesReady', () => {
  it('is True when every claim is bound with at least its request', () => {
    expect(
      volumesReadyCondition([
        { name: 'db-0-data', claim: claim('10Gi') },
        { name: 'db-0-log', claim: claim('1Gi', { phase: 'Bound', capacity: { storage: '2Gi' } }) },
      ]),
    ).toMatchObject({ type: 'VolumesReady', status: 'True', reason: 'Bound' });
  });

  it('says which claim is missing, pending or lost', () => {
    expect(volumesReadyCondition([{ name: 'db-0-data', claim: undefined }])).toMatchObject({
      status: 'False',
      reason: 'Pending',
      message: 'claim db-0-data does not exist yet',
    });
    expect(volumesReadyCondition([{ name: 'a', claim: claim('1Gi', { phase: 'Pending' }) }])).toMatchObject({
      reason: 'Pending',
      message: 'claim a is Pending',
    });
    expect(volumesReadyCondition([{ name: 'a', claim: claim('1Gi', { phase: 'Lost' }) }]).reason).toBe('Lost');
  });

  it('follows a resize through its steps and reports a failed or refused one', () => {
    const growing = claim('20Gi', {
      phase: 'Bound',
      capacity: { storage: '10Gi' },
      allocatedResourceStatuses: { storage: 'ControllerResizeInProgress' },
    });
    expect(volumesReadyCondition([{ name: 'a', claim: growing }])).toMatchObject({
      status: 'False',
      reason: 'Resizing',
      message: 'claim a is growing from 10Gi to 20Gi',
    });
    const fsPending = claim('20Gi', {
      phase: 'Bound',
      capacity: { storage: '10Gi' },
      conditions: [{ type: 'FileSystemResizePending', status: 'True' }],
    });
    expect(volumesReadyCondition([{ name: 'a', claim: fsPending }]).message).toMatch(/file system is resized/);
    const failed = claim('20Gi', {
      phase: 'Bound',
      capacity: { storage: '10Gi' },
      allocatedResourceStatuses: { storage: 'ControllerResizeInfeasible' },
      conditions: [{ type: 'ControllerResizeError', status: 'True', message: 'quota exceeded' }],
    });
    expect(volumesReadyCondition([{ name: 'a', claim: failed }])).toMatchObject({
      reason: 'ResizeFailed',
      message: 'claim a cannot grow to 20Gi: quota exceeded',
    });
    expect(
      volumesReadyCondition([{ name: 'a', claim: claim('10Gi'), resizeRejected: 'growing to 20Gi was refused: x' }]),
    ).toMatchObject({ reason: 'ResizeRejected', message: 'a: growing to 20Gi was refused: x' });
  });

  it('is True with reason NoVolumes for a Unit without claims', () => {
    expect(volumesReadyCondition([])).toMatchObject({ status: 'True', reason: 'NoVolumes' });
  });
});
