import { detachFinalizer, detaching, finalizerPatch, planDetach, removeFinalizerPatch } from './detach.js';

const obj = (policy: string | undefined, finalizers?: string[], deletionTimestamp?: string) => ({
  metadata: { resourceVersion: '7', finalizers, deletionTimestamp },
  spec: { deletionPolicy: policy },
});

describe('the detach finalizer follows spec.deletionPolicy', () => {
  it('is added for Detach, kept with the other finalizers', () => {
    expect(finalizerPatch(obj('Detach'))).toEqual([
      { op: 'test', path: '/metadata/resourceVersion', value: '7' },
      { op: 'add', path: '/metadata/finalizers', value: [detachFinalizer] },
    ]);
    expect(finalizerPatch(obj('Detach', ['example.com/x']))?.[1]).toEqual({
      op: 'add',
      path: '/metadata/finalizers',
      value: ['example.com/x', detachFinalizer],
    });
    expect(finalizerPatch(obj('Detach', [detachFinalizer]))).toBeUndefined();
  });
  it('is absent for Retain (the default): deletion stays immediate', () => {
    expect(finalizerPatch(obj(undefined))).toBeUndefined();
    expect(finalizerPatch(obj('Retain', ['example.com/x']))).toBeUndefined();
    expect(finalizerPatch(obj('Retain', ['example.com/x', detachFinalizer]))?.[1]).toEqual({
      op: 'add',
      path: '/metadata/finalizers',
      value: ['example.com/x'],
    });
  });
  it('holds a deleted object only while it carries the finalizer', () => {
    const t = '2026-01-01T00:00:00Z';
    expect(detaching(obj('Detach', [detachFinalizer], t))).toBe(true);
    expect(detaching(obj('Detach', ['example.com/x'], t))).toBe(false);
    expect(detaching(obj('Detach', [detachFinalizer]))).toBe(false);
    expect(removeFinalizerPatch(obj('Detach', [detachFinalizer, 'example.com/x'], t))[1]).toEqual({
      op: 'add',
      path: '/metadata/finalizers',
      value: ['example.com/x'],
    });
  });
});

describe('planDetach', () => {
  const deletionTimestamp = new Date('2026-01-01T00:00:00Z');
  const at = (s: number) => new Date(deletionTimestamp.getTime() + s * 1000);

  it('detaches every reachable replica, leaves the primary alone and finishes', () => {
    const p = planDetach({
      instances: [{ name: 'a' }, { name: 'b', replicating: true }, { name: 'c', replicating: true }],
      deletionTimestamp,
      now: at(1),
    });
    expect(p).toMatchObject({ detach: ['b', 'c'], unreached: [], finish: true });
    expect(p.condition).toEqual({
      reason: 'DetachingInstances',
      message: 'deletionPolicy Detach: stopping replication on b, c (left read-only)',
    });
    expect(p.final).toEqual({
      type: 'Normal',
      reason: 'Detached',
      message: 'b, c no longer replicate and stay read-only; Pod role labels removed; no data deleted',
    });
  });

  it('run again after a crash, with everything detached, finishes without a step', () => {
    const p = planDetach({ instances: [{ name: 'a' }, { name: 'b' }], deletionTimestamp, now: at(5) });
    expect(p).toMatchObject({ detach: [], finish: true, final: { reason: 'Detached' } });
  });

  it('waits for an unreachable instance, saying so, and detaches the reachable ones meanwhile', () => {
    const p = planDetach({
      instances: [{ name: 'a' }, { name: 'b', replicating: true }, { name: 'c', problem: 'connect ECONNREFUSED' }],
      deletionTimestamp,
      now: at(10),
      timeoutMs: 60_000,
    });
    expect(p).toMatchObject({ detach: ['b'], finish: false, retryMs: 2000 });
    expect(p.final).toBeUndefined();
    expect(p.condition.reason).toBe('WaitingForInstances');
    expect(p.condition.message).toBe(
      'deletionPolicy Detach: cannot reach c (connect ECONNREFUSED); retrying until 2026-01-01T00:01:00.000Z, ' +
        'then they are left as they are',
    );
    expect(planDetach({ instances: [{ name: 'c', problem: 'x' }], deletionTimestamp, now: at(59.5) }).retryMs).toBe(
      500,
    );
  });

  it('gives up at the deadline (from deletionTimestamp) and names the instances left as they were', () => {
    const p = planDetach({
      instances: [{ name: 'a' }, { name: 'b', replicating: true }, { name: 'c', problem: 'timeout' }],
      deletionTimestamp,
      now: at(60),
      timeoutMs: 60_000,
    });
    expect(p).toMatchObject({ detach: ['b'], finish: true });
    expect(p.final).toEqual({
      type: 'Warning',
      reason: 'DetachIncomplete',
      message: 'gave up after 60 s: c could not be reached and is left as it was',
    });
  });

  it('counts a replica whose detach failed as not reached', () => {
    const instances = [{ name: 'b', replicating: true }];
    const p = planDetach({ instances, deletionTimestamp, now: at(1), failed: { b: 'ERR' } });
    expect(p).toMatchObject({ detach: [], finish: false, unreached: [{ name: 'b', problem: 'ERR' }] });
    const late = planDetach({ instances, deletionTimestamp, now: at(61), failed: { b: 'ERR' } });
    expect(late.final?.reason).toBe('DetachIncomplete');
  });
});

it('says it in the singular for one replica', () => {
  const p = planDetach({
    instances: [{ name: 'a' }, { name: 'b', replicating: true }],
    deletionTimestamp: new Date(0),
    now: new Date(1000),
  });
  expect(p.final?.message).toBe('b no longer replicates and stays read-only; Pod role labels removed; no data deleted');
});
