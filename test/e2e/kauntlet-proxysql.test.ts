// ProxysqlSync end to end: an engine (API only), the ProxysqlSync controller alone on an
// in-process Manager, two ProxySQL stand-ins (ProxySQL's admin schema in SQLite behind the MySQL
// protocol: the statements are real, ProxySQL's own behaviour is not modelled; no live ProxySQL
// runs here) and two real mariadbd as the sources of the accounts.
//
// The MysqlReplication's status is written by this test through the status subresource: it
// stands for the MysqlReplication controller, which is not running here.

import type { MysqlReplicationStatus } from '../../src/api/generated/types.js';
import {
  startProxysqlStandIn,
  type ProxysqlStandIn,
} from '../../src/controllers/drivers/proxysql/testing/proxysql-standin.js';
import {
  startMariadbServers,
  testAccounts,
  type MariadbServer,
} from '../../src/controllers/drivers/testing/mariadb-server.js';
import { addProxysqlSync } from '../../src/controllers/kauntlet/proxysql/index.js';
import { proxysqlSyncFieldManager } from '../../src/controllers/kauntlet/proxysql/reconciler.js';
import { mysqlReplications, proxysqlSyncs, units } from '../../src/controllers/resources.js';
import { KubeClient, loadKubeConfig } from '../../src/controllers/runtime/client.js';
import { Manager } from '../../src/controllers/runtime/manager.js';
import type { KubeObject } from '../../src/machinery/object.js';
import { cleanup, kubectlHelpers, startEngine, waitFor, type Engine } from './harness.js';

let engine: Engine;
let manager: Manager | undefined;
let client: KubeClient;
const dbs: MariadbServer[] = [];
const proxies: ProxysqlStandIn[] = [];
const { ok, json } = kubectlHelpers(() => engine);
const fakeReplicaPort = 3399; // m2: listed in ProxySQL, never connected to by anything here

interface ServerRowOut {
  hostgroup_id: number;
  port: number;
  status: string;
}

const runtimeServers = (p: ProxysqlStandIn) =>
  p.query<ServerRowOut>('SELECT hostgroup_id, port, status FROM runtime_mysql_servers ORDER BY hostgroup_id, port');
const online = (p: ProxysqlStandIn, hostgroup: number) =>
  runtimeServers(p)
    .filter((r) => r.hostgroup_id === hostgroup && r.status === 'ONLINE')
    .map((r) => r.port);
const sync = () => json('get', 'proxysqlsync', 'front');
const condition = async (type: string) =>
  ((await sync()).status?.conditions ?? []).find((c: { type: string }) => c.type === type);
const instanceStatus = async (name: string) =>
  ((await sync()).status?.instances ?? []).find((i: { name: string }) => i.name === name);

/** Writes the MysqlReplication's status as its controller would. */
async function replicationStatus(primary: string, ready: Record<string, boolean>): Promise<void> {
  const status: MysqlReplicationStatus = {
    currentPrimary: primary,
    instances: ['m0', 'm1', 'm2'].map((name) => ({
      name,
      role: name === primary ? 'Primary' : 'Replica',
      health: 'Healthy',
      ready: ready[name] ?? true,
    })),
  };
  await client.apply(
    mysqlReplications,
    {
      apiVersion: 'upm.io/v1alpha1',
      kind: 'MysqlReplication',
      metadata: { name: 'orders', namespace: 'default' },
      status,
    } as unknown as KubeObject,
    'test-stands-for-mysqlreplication-controller',
    { subresource: 'status' },
  );
}

/** Waits until the Events of the ProxysqlSync (kubectl get events) match every pattern. */
async function eventsMatching(...patterns: RegExp[]): Promise<void> {
  let events = '';
  await waitFor(`events matching ${patterns.join(', ')}`, async () => {
    events = await ok(
      'get',
      'events',
      '--field-selector',
      'involvedObject.name=front',
      '-o',
      'custom-columns=REASON:.reason,MESSAGE:.message',
    );
    return patterns.every((p) => p.test(events));
  }).catch((err: Error) => {
    throw new Error(`${err.message}\n${events}`);
  });
}

/** Makes the controller reconcile now (an update of the object) and waits until that pass is over. */
async function nudge(...waitOn: ProxysqlStandIn[]): Promise<void> {
  const before = waitOn.map((p) => p.statements.length);
  await ok('annotate', '--overwrite', 'proxysqlsync/front', `test/nudge=${Date.now()}`);
  await waitFor('a reconcile that reads ProxySQL', () => waitOn.every((p, i) => p.statements.length > before[i]));
  // The pass is over when no statement has arrived for a while.
  let last = -1;
  await waitFor('the pass to end', async () => {
    const now = waitOn.reduce((n, p) => n + p.statements.length, 0);
    const quiet = now === last;
    last = now;
    await new Promise((r) => setTimeout(r, 250));
    return quiet;
  });
}

beforeAll(async () => {
  [engine] = await Promise.all([
    startEngine({ extraArgs: ['--webhooks=false'] }),
    startMariadbServers(2, { adminOnly: true, bootReadOnly: false }).then((started) => dbs.push(...started)),
    ...[0, 1].map(async () =>
      proxies.push(await startProxysqlStandIn({ adminUser: 'radmin', adminPassword: "s3cr'et" })),
    ),
  ]);
  for (const db of dbs) {
    await db.query("CREATE USER 'app'@'%' IDENTIFIED BY 'app-pw'");
    await db.query("CREATE USER 'reporting'@'%' IDENTIFIED BY 'rep-pw'");
  }
  client = new KubeClient(loadKubeConfig(engine.kubeconfig));
  manager = new Manager({ client, leaderElection: false });
  // A long resync: every pass below is caused by a watch event (or the short retry), not by the poll.
  addProxysqlSync(manager, { resyncMs: 120_000, retryMs: 300, timeouts: { connectMs: 500, queryMs: 2000 } });
  await manager.start();

  await ok(
    'create',
    'secret',
    'generic',
    'proxysql-admin',
    '--from-literal=username=radmin',
    "--from-literal=password=s3cr'et",
  );
  await ok(
    'create',
    'secret',
    'generic',
    'proxysql-monitor',
    '--from-literal=username=mon',
    '--from-literal=password=mon-pw',
  );
  await ok(
    'create',
    'secret',
    'generic',
    'mysql-admin',
    `--from-literal=username=${testAccounts.admin.user}`,
    `--from-literal=password=${testAccounts.admin.password}`,
  );
  await applyYaml(`
apiVersion: upm.io/v1alpha1
kind: MysqlReplication
metadata: {name: orders, namespace: default}
spec:
  primary: m0
  credentials: {admin: {name: mysql-admin}}
  instances:
    - {name: m0, host: 127.0.0.1, port: ${dbs[0].port}}
    - {name: m1, host: 127.0.0.1, port: ${dbs[1].port}}
    - {name: m2, host: 127.0.0.1, port: ${fakeReplicaPort}}
`);
  await replicationStatus('m0', {});
}, 120_000);

async function applyYaml(yaml: string): Promise<void> {
  const r = await engine.kubectl('1.33', ['apply', '-f', '-'], { input: yaml });
  if (r.code !== 0) throw new Error(`kubectl apply failed: ${r.stderr}`);
}

const syncYaml = () => `
apiVersion: upm.io/v1alpha1
kind: ProxysqlSync
metadata: {name: front, namespace: default}
spec:
  mysqlReplication: {name: orders}
  credentials: {admin: {name: proxysql-admin}, monitor: {name: proxysql-monitor}}
  proxysql:
    - {name: p1, host: 127.0.0.1, port: ${proxies[0].port}}
    - {name: p2, host: 127.0.0.1, port: ${proxies[1].port}}
  users: {exclude: [root, admin]}
`;

it('loads the primary as writer, the ready replicas as readers and the accounts as users into every ProxySQL', async () => {
  await applyYaml(syncYaml());
  await ok('wait', '--for=condition=Ready', 'proxysqlsync/front', '--timeout=30s');
  const [a, b, c] = [dbs[0].port, dbs[1].port, fakeReplicaPort];
  for (const p of proxies) {
    expect(online(p, 0)).toEqual([a]);
    expect(online(p, 1)).toEqual([b, c].sort((x, y) => x - y));
    // Saved to disk as well as loaded.
    expect(p.query('SELECT COUNT(*) AS n FROM disk.mysql_servers')).toEqual([{ n: 3 }]);
    expect(
      p.query('SELECT writer_hostgroup, reader_hostgroup, check_type FROM runtime_mysql_replication_hostgroups'),
    ).toEqual([{ writer_hostgroup: 0, reader_hostgroup: 1, check_type: 'read_only' }]);
    expect(p.query('SELECT username, default_hostgroup FROM runtime_mysql_users ORDER BY username')).toEqual([
      { username: 'app', default_hostgroup: 0 },
      { username: 'reporting', default_hostgroup: 0 },
    ]);
  }
  // The monitor account from its Secret and the primary's version, loaded and saved.
  const [{ version }] = await dbs[0].query<{ version: string }>('SELECT VERSION() AS version');
  for (const p of proxies) {
    for (const t of ['runtime_global_variables', 'disk.global_variables']) {
      expect(
        p.query(
          `SELECT variable_name, variable_value FROM ${t} WHERE variable_name IN ('mysql-monitor_username', 'mysql-monitor_password', 'mysql-server_version') ORDER BY 1`,
        ),
      ).toEqual([
        { variable_name: 'mysql-monitor_password', variable_value: 'mon-pw' },
        { variable_name: 'mysql-monitor_username', variable_value: 'mon' },
        { variable_name: 'mysql-server_version', variable_value: version },
      ]);
    }
  }
  // The hash ProxySQL got is the account's hash on the primary.
  const [{ h }] = await dbs[0].query<{ h: string }>(
    "SELECT authentication_string AS h FROM mysql.user WHERE user='app'",
  );
  expect(proxies[0].query("SELECT password FROM runtime_mysql_users WHERE username='app'")).toEqual([{ password: h }]);

  const table = await ok('get', 'proxysqlsync', 'front');
  expect(table).toMatch(/^NAME\s+REPLICATION\s+PRIMARY\s+READY\s+INSTANCES\s+STATUS\s+AGE\n/);
  expect(table).toMatch(/\nfront\s+orders\s+m0\s+2\s+2\s+Synced\s+/);
  const p1 = await instanceStatus('p1');
  expect(p1).toMatchObject({
    health: 'Healthy',
    ready: true,
    serversSynced: true,
    usersSynced: true,
    users: 2,
    version: '0.0.0-standin',
    writer: `127.0.0.1:${a}`,
  });
  await eventsMatching(
    /ServersChanged\s+p1, p2: added replication hostgroups 0\/1/,
    /UsersChanged\s+p1, p2: added 2, updated 0, removed 0 user/,
  );
});

it('writes nothing to ProxySQL on a pass that finds everything in line', async () => {
  const writes = proxies.map((p) => p.writes().length);
  await nudge(...proxies);
  await nudge(...proxies);
  expect(proxies.map((p) => p.writes().slice(writes[0]))).toEqual([[], []]);
});

it('moves the writer hostgroup to the new primary on the first pass after a switchover, then drains the old rows', async () => {
  const [a, b, c] = [dbs[0].port, dbs[1].port, fakeReplicaPort];
  const started = Date.now();
  const before = proxies.map((p) => p.writes().length);
  await replicationStatus('m1', {});
  await waitFor('the new primary as the only ONLINE writer in both ProxySQL', () =>
    proxies.every((p) => JSON.stringify(online(p, 0)) === JSON.stringify([b])),
  );
  const followedMs = Date.now() - started;
  // One pass did it: the first load after the change carries both the new writer and the old one's drain.
  for (const [n, p] of proxies.entries()) {
    const batch = p.writes().slice(before[n]);
    const firstLoad = batch.indexOf('LOAD MYSQL SERVERS TO RUNTIME');
    expect(batch.slice(0, firstLoad)).toEqual([
      `UPDATE mysql_servers SET status='OFFLINE_SOFT' WHERE hostgroup_id=0 AND hostname='127.0.0.1' AND port=${a}`,
      `UPDATE mysql_servers SET status='OFFLINE_SOFT' WHERE hostgroup_id=1 AND hostname='127.0.0.1' AND port=${b}`,
      expect.stringMatching(new RegExp(`^INSERT INTO mysql_servers .* VALUES \\(0,'127.0.0.1',${b},'ONLINE'`)),
      expect.stringMatching(new RegExp(`^INSERT INTO mysql_servers .* VALUES \\(1,'127.0.0.1',${a},'ONLINE'`)),
    ]);
  }
  // Well under the 120 s resync: the watch on the MysqlReplication triggered the pass.
  expect(followedMs).toBeLessThan(10_000);
  await waitFor('the old rows drained and removed', () => proxies.every((p) => runtimeServers(p).length === 3));
  for (const p of proxies) {
    expect(online(p, 0)).toEqual([b]);
    expect(online(p, 1)).toEqual([a, c].sort((x, y) => x - y));
  }
  await waitFor('status names the new primary', async () => (await sync()).status?.primary === 'm1');
  expect(await instanceStatus('p2')).toMatchObject({ writer: `127.0.0.1:${b}`, ready: true });
  await eventsMatching(
    new RegExp(
      `WriterChanged\\s+p1, p2: .*draining 127.0.0.1:${a} in hostgroup 0 \\(OFFLINE_SOFT\\).*added 127.0.0.1:${b} in hostgroup 0 \\(writer\\)`,
    ),
  );
  console.log(`ProxySQL writer followed the switchover in ${followedMs} ms`);

  const writes = proxies.map((p) => p.writes().length);
  await nudge(...proxies);
  expect(proxies.map((p) => p.writes().length)).toEqual(writes);
});

it('reports a ProxySQL that is down with a reason, keeps the others in line, and syncs it when it is back', async () => {
  const [a, b] = [dbs[0].port, dbs[1].port];
  await proxies[1].stop();
  // A change while p2 is down: m2 is no longer a ready replica.
  await replicationStatus('m1', { m2: false });
  await waitFor(
    'p1 without m2 (drained and removed)',
    () => JSON.stringify(runtimeServers(proxies[0]).map((r) => r.port)) === JSON.stringify([b, a]),
    20_000,
  );
  await waitFor(
    'the Ready condition says why, p1 in sync',
    async () =>
      (await condition('Ready'))?.reason === 'ProxysqlUnreachable' && (await instanceStatus('p1'))?.ready === true,
    20_000,
  );
  expect(await condition('Ready')).toMatchObject({
    status: 'False',
    message: expect.stringContaining('p2: cannot reach the admin interface'),
  });
  expect(await instanceStatus('p2')).toMatchObject({ health: 'Unreachable', ready: false });
  expect(await instanceStatus('p1')).toMatchObject({ health: 'Healthy', ready: true });
  expect(await ok('get', 'proxysqlsync', 'front')).toMatch(/\nfront\s+orders\s+m1\s+1\s+2\s+ProxysqlUnreachable\s+/);

  await proxies[1].start();
  await ok('wait', '--for=condition=Ready', 'proxysqlsync/front', '--timeout=30s');
  expect(online(proxies[1], 0)).toEqual([b]);
  expect(online(proxies[1], 1)).toEqual([a]);
  expect(await instanceStatus('p2')).toMatchObject({ health: 'Healthy', ready: true });
});

it('leaves users created in ProxySQL by hand alone', async () => {
  const p = proxies[0];
  p.db.exec("DELETE FROM mysql_users WHERE username='app' AND comment LIKE 'upm.io/%'");
  p.db.exec("INSERT INTO mysql_users (username, password, comment) VALUES ('app', 'by-hand', 'made by hand')");
  p.db.exec("INSERT INTO mysql_users (username, password) VALUES ('legacy', 'x')");
  await nudge(p);
  await waitFor('the conflict reported', async () =>
    /users left alone/.test((await instanceStatus('p1'))?.message ?? ''),
  );
  expect(
    p.query("SELECT username, password FROM mysql_users WHERE username IN ('app', 'legacy') ORDER BY username"),
  ).toEqual([
    { username: 'app', password: 'by-hand' },
    { username: 'legacy', password: 'x' },
  ]);
});

it('changes nothing while paused, and catches up when unpaused', async () => {
  const [a, b] = [dbs[0].port, dbs[1].port];
  await ok('patch', 'proxysqlsync/front', '--type=merge', '-p', '{"spec":{"paused":true}}');
  await waitFor('the controller to see the pause', async () => {
    const o = await sync();
    return o.status?.observedGeneration === o.metadata.generation;
  });
  const writes = proxies.map((p) => p.writes().length);
  await replicationStatus('m1', {});
  await waitFor('the Ready condition says Paused', async () => (await condition('Ready'))?.reason === 'Paused');
  expect(proxies.map((p) => p.writes().length)).toEqual(writes);
  expect(online(proxies[0], 1)).toEqual([a]);
  expect(await instanceStatus('p1')).toMatchObject({ ready: false, message: expect.stringContaining('paused') });

  await ok('patch', 'proxysqlsync/front', '--type=merge', '-p', '{"spec":{"paused":false}}');
  await ok('wait', '--for=condition=Ready', 'proxysqlsync/front', '--timeout=30s');
  for (const p of proxies)
    expect(online(p, 1).sort((x, y) => x - y)).toEqual([a, fakeReplicaPort].sort((x, y) => x - y));
  expect(online(proxies[0], 0)).toEqual([b]);
});

it('loads again after a restart when the previous controller stopped between its table edits and the LOAD', async () => {
  await manager!.stop();
  manager = undefined;
  // What such a controller leaves behind: the change announced in status (serversSynced false)
  // and the in-memory table right, but the runtime one not loaded.
  const current = await sync();
  const instances = current.status.instances.map((i: { name: string }) =>
    i.name === 'p1' ? { ...i, serversSynced: false, ready: false } : i,
  );
  await client.apply(
    proxysqlSyncs,
    {
      apiVersion: 'upm.io/v1alpha1',
      kind: 'ProxysqlSync',
      metadata: { name: 'front', namespace: 'default' },
      status: { ...current.status, instances },
    } as unknown as KubeObject,
    proxysqlSyncFieldManager,
    { subresource: 'status' },
  );
  const p = proxies[0];
  const expected = runtimeServers(p);
  p.db.exec('DELETE FROM runtime_mysql_servers');
  const writes = p.writes().length;

  manager = new Manager({ client, leaderElection: false });
  addProxysqlSync(manager, { resyncMs: 120_000, retryMs: 300, timeouts: { connectMs: 500, queryMs: 2000 } });
  await manager.start();
  await waitFor('runtime servers loaded again', () => runtimeServers(p).length === expected.length);
  expect(runtimeServers(p)).toEqual(expected);
  await waitFor('p1 in sync again', async () => (await instanceStatus('p1'))?.serversSynced === true);
  // Only the load (and save) that did not happen: no table edit.
  expect(p.writes().slice(writes)).toEqual(['LOAD MYSQL SERVERS TO RUNTIME', 'SAVE MYSQL SERVERS TO DISK']);
});

it('reaches a ProxySQL run by a Unit once the Unit has an address', async () => {
  const p = await startProxysqlStandIn({ adminUser: 'radmin', adminPassword: "s3cr'et" });
  proxies.push(p); // closed in afterAll
  await applyYaml(`
apiVersion: upm.io/v1alpha1
kind: Unit
metadata: {name: proxy-0, namespace: default}
spec:
  unitTemplate: proxysql-2.7
  podTemplate: {spec: {containers: [{name: proxysql, image: proxysql/proxysql:2.7.1}]}}
---
apiVersion: upm.io/v1alpha1
kind: ProxysqlSync
metadata: {name: on-units, namespace: default}
spec:
  mysqlReplication: {name: orders}
  credentials: {admin: {name: proxysql-admin}}
  proxysql: [{name: p0, unitRef: {name: proxy-0}, port: ${p.port}}]
  users: {enabled: false}
`);
  const ready = async () =>
    ((await json('get', 'proxysqlsync', 'on-units')).status?.conditions ?? []).find(
      (c: { type: string }) => c.type === 'Ready',
    );
  await waitFor('UnitNotAddressable', async () => (await ready())?.reason === 'UnitNotAddressable');
  // The Unit controller (not running here) would write this; the Unit's change triggers the pass.
  await client.apply(
    units,
    {
      apiVersion: 'upm.io/v1alpha1',
      kind: 'Unit',
      metadata: { name: 'proxy-0', namespace: 'default' },
      status: { address: '127.0.0.1' },
    } as unknown as KubeObject,
    'test-stands-for-unit-controller',
    { subresource: 'status' },
  );
  await waitFor('Ready', async () => (await ready())?.status === 'True');
  expect(online(p, 0)).toEqual([dbs[1].port]);
});

it('refuses to share hostgroups with another ProxysqlSync on the same ProxySQL', async () => {
  const p = proxies[0];
  const writes = p.writes().length;
  await applyYaml(
    syncYaml()
      .replace('name: front', 'name: rival')
      .replace(/ {4}- \{name: p2.*\n/, ''),
  );
  await waitFor('the conflict on Ready', async () => {
    const c = ((await json('get', 'proxysqlsync', 'rival')).status?.conditions ?? []).find(
      (x: { type: string }) => x.type === 'Ready',
    );
    return c?.reason === 'HostgroupConflict' && /managed by ProxysqlSync default\/front/.test(c.message);
  });
  expect(p.writes().length).toBe(writes);
  await ok('delete', 'proxysqlsync', 'rival');
});

it('says so when the MysqlReplication does not exist', async () => {
  await applyYaml(syncYaml().replace('name: front', 'name: orphan').replace('{name: orders}', '{name: missing}'));
  await waitFor('the condition', async () => {
    const c = ((await json('get', 'proxysqlsync', 'orphan')).status?.conditions ?? []).find(
      (x: { type: string }) => x.type === 'Ready',
    );
    return c?.status === 'False' && c.reason === 'MysqlReplicationNotFound';
  });
});

afterAll(async () => {
  await manager?.stop();
  await Promise.all([...proxies.map((p) => p.close()), ...dbs.map((d) => d.stop())]);
  await engine?.stop();
  if (engine) cleanup(engine);
}, 60_000);
