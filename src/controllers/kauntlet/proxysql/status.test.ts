import type { ProxysqlSync } from '../../../api/generated/types.js';
import type { ServersPlan, UsersPlan } from './plan.js';
import { blockedStatus, problemOf, syncStatus, withConditions, type Instance } from './status.js';

const now = new Date('2026-01-01T00:00:00Z');
const sync = (extra: Partial<ProxysqlSync['spec']> = {}, status?: ProxysqlSync['status']): ProxysqlSync => ({
  apiVersion: 'upm.io/v1alpha1',
  kind: 'ProxysqlSync',
  metadata: { name: 'front', namespace: 'db', generation: 3 },
  spec: {
    mysqlReplication: { name: 'orders' },
    credentials: { admin: { name: 'a' } },
    proxysql: [
      { name: 'p1', host: '127.0.0.1' },
      { name: 'p2', host: '127.0.0.1' },
    ],
    ...extra,
  },
  status,
});
const desired = {
  settings: {
    writerHostgroup: 0,
    readerHostgroup: 1,
    checkType: 'read_only',
    writerIsAlsoReader: false,
    maxConnections: 1,
    maxReplicationLagSeconds: 0,
  },
  primary: 'm1',
  servers: [],
  replicationHostgroup: { writer_hostgroup: 0, reader_hostgroup: 1, check_type: 'read_only', comment: '' },
};
const servers = (changes = 0): ServersPlan => ({
  changes: Array.from({ length: changes }, () => ({ op: 'delete', table: 'mysql_servers', where: { port: 1 } })),
  draining: [],
  notes: [],
  writerChanged: false,
});
const users = (changes = 0): UsersPlan => ({
  ...servers(changes),
  conflicts: [],
  added: 0,
  updated: 0,
  removed: 0,
  managed: 2,
});
const instance = (name: string, extra: Partial<Instance> = {}): Instance => ({
  name,
  address: '127.0.0.1:6032',
  version: '2.7',
  servers: servers(),
  users: users(),
  reload: [],
  applied: false,
  runtime: [
    {
      hostgroup_id: 0,
      hostname: '127.0.0.1',
      port: 3307,
      status: 'ONLINE',
      weight: 1,
      max_connections: 1,
      max_replication_lag: 0,
      comment: '',
    },
    {
      hostgroup_id: 0,
      hostname: '127.0.0.1',
      port: 3306,
      status: 'OFFLINE_SOFT',
      weight: 1,
      max_connections: 1,
      max_replication_lag: 0,
      comment: '',
    },
  ],
  ...extra,
});
const condition = (s: ProxysqlSync['status'], type: string) => s?.conditions?.find((c) => c.type === type);

test('in sync everywhere: Ready, the writer at runtime, the primary', () => {
  const s = sync();
  const instances = [instance('p1'), instance('p2')];
  const status = withConditions(s, syncStatus(s, instances, desired, false, now), {}, now);
  expect(status).toMatchObject({ observedGeneration: 3, primary: 'm1', totalInstances: 2, readyInstances: 2 });
  expect(status.instances![0]).toEqual({
    name: 'p1',
    address: '127.0.0.1:6032',
    health: 'Healthy',
    ready: true,
    version: '2.7',
    serversSynced: true,
    usersSynced: true,
    users: 2,
    writer: '127.0.0.1:3307',
    lastSyncTime: '2026-01-01T00:00:00Z',
  });
  expect(condition(status, 'Ready')).toMatchObject({
    status: 'True',
    reason: 'Synced',
    message: '2/2 ProxySQL instances in sync',
  });
});

test('announcing: an instance with changes is not in sync until they are applied', () => {
  const s = sync();
  const instances = [instance('p1', { servers: servers(2) }), instance('p2')];
  const announced = syncStatus(s, instances, desired, false, now);
  expect(announced.instances![0]).toMatchObject({
    ready: false,
    serversSynced: false,
    usersSynced: true,
    message: 'applying changes',
  });
  expect(problemOf(instances, 'SERVERS', false)).toEqual({
    reason: 'Syncing',
    message: 'p1: changes are being applied',
  });
  instances[0].applied = true;
  expect(syncStatus(s, instances, desired, false, now).instances![0]).toMatchObject({
    ready: true,
    serversSynced: true,
  });
  // A load that was announced but not known to be done counts as a change too.
  expect(syncStatus(s, [instance('p1', { reload: ['USERS'] })], desired, false, now).instances![0]).toMatchObject({
    usersSynced: false,
  });
});

test('an unreachable instance: its reason on Ready, the others still ready', () => {
  const s = sync();
  const instances = [
    instance('p1'),
    instance('p2', {
      servers: undefined,
      users: undefined,
      failure: { health: 'Unreachable', reason: 'ProxysqlUnreachable', message: 'refused' },
    }),
  ];
  const status = withConditions(
    s,
    syncStatus(s, instances, desired, false, now),
    { servers: problemOf(instances, 'SERVERS', false), users: problemOf(instances, 'USERS', false) },
    now,
  );
  expect(status.readyInstances).toBe(1);
  expect(status.primary).toBeUndefined();
  expect(status.instances![1]).toMatchObject({
    health: 'Unreachable',
    ready: false,
    serversSynced: false,
    message: 'refused',
  });
  expect(condition(status, 'Ready')).toMatchObject({
    status: 'False',
    reason: 'ProxysqlUnreachable',
    message: 'p2: refused',
  });
});

test('paused with changes pending: Paused, not applied', () => {
  const s = sync({ paused: true });
  const instances = [instance('p1', { users: users(1) })];
  expect(syncStatus(s, instances, desired, true, now).instances![0]).toMatchObject({
    usersSynced: false,
    message: 'paused: changes are not applied',
  });
  expect(problemOf(instances, 'USERS', true)).toMatchObject({ reason: 'Paused' });
});

test('users disabled: UsersSynced True with reason Disabled', () => {
  const s = sync({ users: { enabled: false } });
  const status = withConditions(s, syncStatus(s, [instance('p1', { users: undefined })], desired, false, now), {}, now);
  expect(status.instances![0]).toMatchObject({ ready: true, usersSynced: true });
  expect(condition(status, 'UsersSynced')).toMatchObject({ status: 'True', reason: 'Disabled' });
});

test('nothing observable: every instance not ready with the reason, earlier fields kept', () => {
  const s = sync({}, { instances: [{ name: 'p1', version: '2.7', ready: true }] });
  const p = { reason: 'MysqlReplicationNotFound', message: 'MysqlReplication "orders" not found' };
  const status = withConditions(s, blockedStatus(s, p), { servers: p, users: p }, now);
  expect(status.instances).toEqual([
    { name: 'p1', version: '2.7', ready: false, serversSynced: false, usersSynced: false, message: p.message },
    { name: 'p2', ready: false, serversSynced: false, usersSynced: false, message: p.message },
  ]);
  for (const t of ['Ready', 'ServersSynced', 'UsersSynced']) {
    expect(condition(status, t)).toMatchObject({
      status: 'False',
      reason: 'MysqlReplicationNotFound',
      observedGeneration: 3,
    });
  }
});
