import type { MysqlReplication } from '../../../api/generated/types.js';
import type { ServerState } from '../../drivers/mysql/operations.js';
import type { InstanceObservation, Plan } from './plan.js';
import { podRoles, replicationStatus } from './status.js';

const now = new Date('2026-12-07T12:00:00Z');
const server = (writable: boolean, replicaOfPort?: number): ServerState => ({
  version: '10.11.19-MariaDB',
  flavor: 'MariaDB',
  origin: '1',
  readOnly: !writable,
  executed: '0-1-10',
  semiSync: { source: false, replica: false },
  replica: replicaOfPort
    ? {
        sourceHost: '10.0.0.1',
        sourcePort: replicaOfPort,
        ioRunning: 'Yes',
        sqlRunning: 'Yes',
        secondsBehind: 0,
        lastIOError: '',
        lastSQLError: '',
        received: '',
        sourceOrigin: '1',
        autoPosition: true,
      }
    : undefined,
  variables: {},
});
const obs = (name: string, port: number, state?: ServerState): InstanceObservation => ({
  name,
  host: '10.0.0.1',
  port,
  address: `10.0.0.1:${port}`,
  unit: `orders-${name}`,
  state,
  error: state ? undefined : 'connect ECONNREFUSED',
});
const mr = (extra: Partial<MysqlReplication['spec']> = {}, status?: MysqlReplication['status']): MysqlReplication => ({
  apiVersion: 'upm.io/v1alpha1',
  kind: 'MysqlReplication',
  metadata: { name: 'orders', namespace: 'ns', generation: 3 },
  spec: {
    primary: 'a',
    instances: [
      { name: 'a', unitRef: { name: 'orders-a' }, port: 1 },
      { name: 'b', unitRef: { name: 'orders-b' }, port: 2 },
      { name: 'c', unitRef: { name: 'orders-c' }, port: 3 },
    ],
    credentials: { admin: { name: 'creds' } },
    ...extra,
  },
  status,
});
const plan = (p: Partial<Plan> = {}): Plan => ({
  currentPrimary: 'a',
  steps: [],
  events: [],
  findings: [],
  diverged: {},
  requeueMs: 2000,
  ...p,
});
const services = { readWrite: 'orders-readwrite', readOnly: 'orders-readonly' };
const healthy = [obs('a', 1, server(true)), obs('b', 2, server(false, 1)), obs('c', 3, server(false, 1))];
const cond = (s: ReturnType<typeof replicationStatus>, type: string) => s.conditions?.find((c) => c.type === type);

describe('MysqlReplication status', () => {
  it('reports a healthy topology and labels the Pods by observed role', () => {
    const s = replicationStatus({ mr: mr(), plan: plan(), observations: healthy, now, services });
    expect(s).toMatchObject({ currentPrimary: 'a', targetPrimary: 'a', readyInstances: 3, totalInstances: 3 });
    expect(cond(s, 'Ready')).toMatchObject({ status: 'True', reason: 'Ready', observedGeneration: 3 });
    expect(cond(s, 'Degraded')).toMatchObject({ status: 'False' });
    expect(s.instances?.[1]).toMatchObject({ role: 'Replica', health: 'Healthy', ready: true, sourcePort: 1 });
    expect([...podRoles(mr(), s.instances!, 'a')]).toEqual([
      ['a', 'primary'],
      ['b', 'replica'],
      ['c', 'replica'],
    ]);
  });
  it('takes unreachable, isolated and diverged instances out of the Services, keeping what was last seen', () => {
    const before = replicationStatus({ mr: mr(), plan: plan(), observations: healthy, now, services });
    const spec = { instances: mr().spec.instances.map((i) => ({ ...i, isolated: i.name === 'c' })) };
    const s = replicationStatus({
      mr: mr(spec, before),
      plan: plan({ findings: [{ reason: 'ErrantTransactions', message: 'b has transactions the primary lacks' }] }),
      observations: [healthy[0], obs('b', 2), obs('c', 3, server(false))],
      now: new Date(now.getTime() + 5000),
      services,
    });
    expect(s.instances?.[1]).toMatchObject({
      role: 'Unknown',
      health: 'Unreachable',
      gtidExecuted: '0-1-10',
      lastSeen: '2026-12-07T12:00:00Z',
    });
    expect(s.instances?.[2]).toMatchObject({ ready: true, message: 'isolated' });
    expect([...podRoles(mr(spec), s.instances!, 'a')]).toEqual([
      ['a', 'primary'],
      ['b', undefined],
      ['c', undefined],
    ]);
    expect(cond(s, 'Ready')).toMatchObject({ status: 'False', reason: 'ReplicasNotReady' });
    expect(cond(s, 'Degraded')).toMatchObject({ status: 'True', reason: 'ErrantTransactions' });
  });
  it('says a change is in progress and does not rewrite an unchanged status', () => {
    const change = {
      kind: 'Switchover' as const,
      from: 'a',
      to: 'b',
      phase: 'CatchingUp' as const,
      reason: 'CatchingUp',
    };
    const s = replicationStatus({ mr: mr(), plan: plan({ change }), observations: healthy, now, services });
    expect(s.targetPrimary).toBe('b');
    expect(cond(s, 'Ready')).toMatchObject({ status: 'False', reason: 'SwitchoverInProgress' });
    expect(cond(s, 'Progressing')).toMatchObject({ status: 'True', reason: 'CatchingUp' });
    expect(s.instances?.[0]).toMatchObject({ ready: false, message: 'switchover in progress' });
    const later = new Date(now.getTime() + 10_000);
    const again = replicationStatus({
      mr: mr({}, s),
      plan: plan({ change }),
      observations: healthy,
      now: later,
      services,
    });
    expect(again).toEqual(s);
  });
});
