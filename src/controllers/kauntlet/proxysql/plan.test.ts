import type { MysqlReplication } from '../../../api/generated/types.js';
import type { ServerRow, UserRow } from '../../drivers/proxysql/admin.js';
import { renderChange } from '../../drivers/proxysql/sql.js';
import type { Endpoint } from '../shared/instances.js';
import {
  desiredServers,
  desiredUsers,
  planServers,
  planUsers,
  planVariables,
  serverSettings,
  userSettings,
  type DesiredServers,
} from './plan.js';

const marker = 'upm.io/proxysqlsync=db/ps';
const endpoints = new Map<string, Endpoint>(
  ['m0', 'm1', 'm2'].map((n, i) => [n, { name: n, host: '127.0.0.1', port: 3306 + i }]),
);

function replication(primary: string | undefined, extra: Partial<MysqlReplication['spec']> = {}): MysqlReplication {
  const names = ['m0', 'm1', 'm2'];
  return {
    apiVersion: 'upm.io/v1alpha1',
    kind: 'MysqlReplication',
    metadata: { name: 'mr', namespace: 'db' },
    spec: {
      instances: names.map((name, i) => ({ name, host: '127.0.0.1', port: 3306 + i })),
      primary: primary ?? 'm0',
      credentials: { admin: { name: 's' } },
      ...extra,
    },
    status: {
      currentPrimary: primary,
      instances: names.map((name) => ({
        name,
        role: name === primary ? 'Primary' : 'Replica',
        health: 'Healthy',
        ready: true,
      })),
    },
  } as MysqlReplication;
}

function desired(primary: string, settings = serverSettings(undefined), mr = replication(primary)): DesiredServers {
  const r = desiredServers(settings, mr, endpoints, marker);
  if (!r.ok) throw new Error(r.message);
  return r.desired;
}

/** The in-memory table after applying `changes` (a tiny model of the table for the tests). */
function applied(rows: ServerRow[], plan: ReturnType<typeof planServers>): ServerRow[] {
  let out = rows.map((r) => ({ ...r }));
  const match = (r: ServerRow, where: Record<string, unknown>) =>
    Object.entries(where).every(([k, v]) => (r as unknown as Record<string, unknown>)[k] === v);
  for (const c of plan.changes) {
    if (c.table !== 'mysql_servers') continue;
    if (c.op === 'insert') out.push(c.values as unknown as ServerRow);
    if (c.op === 'delete') out = out.filter((r) => !match(r, c.where));
    if (c.op === 'update') out = out.map((r) => (match(r, c.where) ? { ...r, ...(c.set as object) } : r));
  }
  return out;
}

describe('desiredServers', () => {
  test('the observed primary is the writer, ready replicas are readers', () => {
    const d = desired('m1');
    expect(d.servers.map((s) => [s.hostgroup_id, s.port, s.status])).toEqual([
      [0, 3307, 'ONLINE'],
      [1, 3306, 'ONLINE'],
      [1, 3308, 'ONLINE'],
    ]);
    expect(d.replicationHostgroup).toEqual({
      writer_hostgroup: 0,
      reader_hostgroup: 1,
      check_type: 'read_only',
      comment: marker,
    });
  });

  test('isolated and unready replicas are left out; writerIsAlsoReader adds the primary to the readers', () => {
    const mr = replication('m0', {
      instances: [
        { name: 'm0', host: '127.0.0.1', port: 3306 },
        { name: 'm1', host: '127.0.0.1', port: 3307, isolated: true },
        { name: 'm2', host: '127.0.0.1', port: 3308 },
      ],
    });
    mr.status!.instances![2].ready = false;
    const s = { ...serverSettings({ writerIsAlsoReader: true, maxReplicationLagSeconds: 10 }) };
    const d = desired('m0', s, mr);
    expect(d.servers.map((x) => [x.hostgroup_id, x.port, x.max_replication_lag])).toEqual([
      [0, 3306, 0],
      [1, 3306, 0],
    ]);
  });

  test('no primary established: nothing is decided, with a reason', () => {
    const r = desiredServers(serverSettings(undefined), replication(undefined), endpoints, marker);
    expect(r).toMatchObject({ ok: false, reason: 'NoPrimary' });
    const same = desiredServers(
      serverSettings({ writerHostgroup: 3, readerHostgroup: 3 }),
      replication('m0'),
      endpoints,
      marker,
    );
    expect(same).toMatchObject({ ok: false, reason: 'InvalidHostgroups' });
  });
});

describe('planServers', () => {
  const none = { servers: [], replicationHostgroups: [], pool: [] };

  test('an empty ProxySQL gets the hostgroups and servers as inserts', () => {
    const plan = planServers(desired('m0'), none, marker);
    expect(plan.changes.map(renderChange)).toEqual([
      `INSERT INTO mysql_replication_hostgroups (writer_hostgroup,reader_hostgroup,check_type,comment) VALUES (0,1,'read_only','${marker}')`,
      `INSERT INTO mysql_servers (hostgroup_id,hostname,port,status,weight,max_connections,max_replication_lag,comment) VALUES (0,'127.0.0.1',3306,'ONLINE',1,2000,0,'${marker}')`,
      `INSERT INTO mysql_servers (hostgroup_id,hostname,port,status,weight,max_connections,max_replication_lag,comment) VALUES (1,'127.0.0.1',3307,'ONLINE',1,2000,0,'${marker}')`,
      `INSERT INTO mysql_servers (hostgroup_id,hostname,port,status,weight,max_connections,max_replication_lag,comment) VALUES (1,'127.0.0.1',3308,'ONLINE',1,2000,0,'${marker}')`,
    ]);
  });

  test('in sync: no change at all', () => {
    const d = desired('m0');
    const plan = planServers(
      d,
      { servers: d.servers, replicationHostgroups: [d.replicationHostgroup], pool: [] },
      marker,
    );
    expect(plan.changes).toEqual([]);
    expect(plan.draining).toEqual([]);
  });

  test('a switchover: the new primary is added ONLINE, the leaving rows drain, then go once idle', () => {
    const before = desired('m0');
    const after = desired('m1');
    const actual = { servers: before.servers, replicationHostgroups: [before.replicationHostgroup], pool: [] };
    const first = planServers(after, actual, marker);
    expect(first.changes.map(renderChange)).toEqual([
      "UPDATE mysql_servers SET status='OFFLINE_SOFT' WHERE hostgroup_id=0 AND hostname='127.0.0.1' AND port=3306",
      "UPDATE mysql_servers SET status='OFFLINE_SOFT' WHERE hostgroup_id=1 AND hostname='127.0.0.1' AND port=3307",
      expect.stringMatching(/^INSERT INTO mysql_servers .* VALUES \(0,'127.0.0.1',3307,'ONLINE'/),
      expect.stringMatching(/^INSERT INTO mysql_servers .* VALUES \(1,'127.0.0.1',3306,'ONLINE'/),
    ]);
    expect(first.writerChanged).toBe(true);
    expect(planServers(before, none, marker).writerChanged).toBe(false);
    const mid = applied(before.servers, first);
    // Only m1 is ONLINE in the writer hostgroup after the first pass.
    expect(mid.filter((s) => s.hostgroup_id === 0 && s.status === 'ONLINE').map((s) => s.port)).toEqual([3307]);

    // A connection still in use on the old writer keeps its row.
    const busy = planServers(
      after,
      {
        ...actual,
        servers: mid,
        pool: [{ hostgroup: 0, srv_host: '127.0.0.1', srv_port: 3306, status: 'OFFLINE_SOFT', ConnUsed: 2 }],
      },
      marker,
    );
    expect(busy.changes.map(renderChange)).toEqual([
      "DELETE FROM mysql_servers WHERE hostgroup_id=1 AND hostname='127.0.0.1' AND port=3307",
    ]);
    expect(busy.draining).toEqual(['127.0.0.1:3306 in hostgroup 0']);

    const second = planServers(after, { ...actual, servers: mid }, marker);
    const end = applied(mid, second);
    expect(second.draining).toEqual([]);
    expect(planServers(after, { ...actual, servers: end }, marker).changes).toEqual([]);
    expect(end.map((s) => [s.hostgroup_id, s.port]).sort()).toEqual([
      [0, 3307],
      [1, 3306],
      [1, 3308],
    ]);
  });

  test('rows of other owners outside our hostgroups are left alone; strays in ours are drained', () => {
    const d = desired('m0');
    const foreign: ServerRow = { ...d.servers[0], hostgroup_id: 10, comment: 'by hand' };
    const stray: ServerRow = { ...d.servers[0], hostname: '10.0.0.9', comment: 'by hand' };
    const plan = planServers(
      d,
      {
        servers: [...d.servers, foreign, stray],
        replicationHostgroups: [
          d.replicationHostgroup,
          { writer_hostgroup: 10, reader_hostgroup: 11, check_type: 'read_only', comment: '' },
        ],
        pool: [],
      },
      marker,
    );
    expect(plan.changes.map(renderChange)).toEqual([
      "UPDATE mysql_servers SET status='OFFLINE_SOFT' WHERE hostgroup_id=0 AND hostname='10.0.0.9' AND port=3306",
    ]);
  });

  test("another ProxysqlSync's rows in our hostgroups: nothing is planned, the conflict is named", () => {
    const d = desired('m0');
    const theirs: ServerRow = { ...d.servers[0], hostname: '10.0.0.9', comment: 'upm.io/proxysqlsync=db/other' };
    const plan = planServers(d, { servers: [theirs], replicationHostgroups: [], pool: [] }, marker);
    expect(plan.changes).toEqual([]);
    expect(plan.conflict).toBe(
      'hostgroups 0/1 are managed by ProxysqlSync db/other; give one of them other hostgroups',
    );
    const rh = { ...d.replicationHostgroup, comment: 'upm.io/proxysqlsync=db/other' };
    expect(planServers(d, { servers: [], replicationHostgroups: [rh], pool: [] }, marker).conflict).toMatch(
      /db\/other/,
    );
  });

  test('settings changes are updates of the differing fields only', () => {
    const d = desired('m0', serverSettings({ maxConnections: 50, checkType: 'super_read_only' }));
    const old = desired('m0');
    const plan = planServers(
      d,
      { servers: old.servers, replicationHostgroups: [old.replicationHostgroup], pool: [] },
      marker,
    );
    expect(plan.changes.map(renderChange)).toEqual([
      "UPDATE mysql_replication_hostgroups SET check_type='super_read_only' WHERE writer_hostgroup=0",
      "UPDATE mysql_servers SET max_connections=50 WHERE hostgroup_id=0 AND hostname='127.0.0.1' AND port=3306",
      "UPDATE mysql_servers SET max_connections=50 WHERE hostgroup_id=1 AND hostname='127.0.0.1' AND port=3307",
      "UPDATE mysql_servers SET max_connections=50 WHERE hostgroup_id=1 AND hostname='127.0.0.1' AND port=3308",
    ]);
  });

  test('moving to other hostgroups removes the old replication hostgroup row before inserting', () => {
    const old = desired('m0');
    const d = desired('m0', serverSettings({ writerHostgroup: 10, readerHostgroup: 11 }));
    const plan = planServers(d, { servers: [], replicationHostgroups: [old.replicationHostgroup], pool: [] }, marker);
    expect(plan.changes.slice(0, 2).map(renderChange)).toEqual([
      'DELETE FROM mysql_replication_hostgroups WHERE writer_hostgroup=0',
      `INSERT INTO mysql_replication_hostgroups (writer_hostgroup,reader_hostgroup,check_type,comment) VALUES (10,11,'read_only','${marker}')`,
    ]);
  });
});

describe('users', () => {
  const settings = userSettings(undefined);
  const hashA = '*' + 'A'.repeat(40);
  const hashB = '*' + 'B'.repeat(40);
  const user = (username: string, password: string, comment = marker): UserRow => ({
    username,
    password,
    active: 1,
    default_hostgroup: 0,
    max_connections: 2000,
    frontend: 1,
    backend: 1,
    comment,
  });

  test('accounts become users; conflicting hashes for one name are skipped with a reason', () => {
    const d = desiredUsers(
      settings,
      {
        version: '10.11',
        accounts: [
          { username: 'app', host: '%', hash: hashA },
          { username: 'dup', host: '%', hash: hashA },
          { username: 'dup', host: '10.%', hash: hashB },
        ],
        skipped: [
          {
            username: 'sha',
            host: '%',
            reason: 'authentication plugin caching_sha2_password has no hash ProxySQL can check',
          },
        ],
      },
      0,
      marker,
    );
    expect(d.users).toEqual([
      { username: 'app', password: hashA, active: 1, default_hostgroup: 0, max_connections: 2000, comment: marker },
    ]);
    expect(d.skipped).toEqual([
      'sha@%: authentication plugin caching_sha2_password has no hash ProxySQL can check',
      'dup: its matching accounts have different passwords',
    ]);
  });

  test('add, change, remove only marked users; unmarked users of the same name are conflicts, left alone', () => {
    const want = desiredUsers(
      settings,
      {
        version: '',
        accounts: [
          { username: 'new', host: '%', hash: hashA },
          { username: "o'k", host: '%', hash: hashB },
          { username: 'mine', host: '%', hash: hashA },
        ],
        skipped: [],
      },
      0,
      marker,
    ).users;
    const plan = planUsers(
      want,
      [user("o'k", hashA), user('gone', hashA), user('mine', hashA, 'by hand'), user('other', hashA, '')],
      marker,
    );
    expect(plan.changes.map(renderChange)).toEqual([
      `DELETE FROM mysql_users WHERE username='gone' AND comment='${marker}'`,
      `UPDATE mysql_users SET password='${hashB}' WHERE username='o''k' AND comment='${marker}'`,
      `INSERT INTO mysql_users (username,password,active,default_hostgroup,max_connections,comment) VALUES ('new','${hashA}',1,0,2000,'${marker}')`,
    ]);
    expect(plan).toMatchObject({ conflicts: ['mine'], added: 1, updated: 1, removed: 1, managed: 2 });
  });

  test('in sync: no change', () => {
    const want = desiredUsers(
      settings,
      { version: '', accounts: [{ username: 'app', host: '%', hash: hashA }], skipped: [] },
      0,
      marker,
    ).users;
    expect(planUsers(want, [user('app', hashA)], marker).changes).toEqual([]);
  });
});

describe('planVariables', () => {
  const desiredVars = {
    'mysql-monitor_username': 'mon',
    'mysql-monitor_password': "p'w",
    'mysql-server_version': '10.11.6-MariaDB',
  };
  const maps = (v: Record<string, string>) => new Map(Object.entries(v));

  test('differing values are updated, the password is not named with its value, unknown variables are left out', () => {
    const plan = planVariables(
      { ...desiredVars, 'mysql-no_such_thing': '1' },
      {
        main: maps({
          'mysql-monitor_username': 'monitor',
          'mysql-monitor_password': 'monitor',
          'mysql-server_version': '8.0.11',
        }),
        runtime: maps({}),
      },
    );
    expect(plan.changes.map(renderChange)).toEqual([
      "UPDATE global_variables SET variable_value='p''w' WHERE variable_name='mysql-monitor_password'",
      "UPDATE global_variables SET variable_value='mon' WHERE variable_name='mysql-monitor_username'",
      "UPDATE global_variables SET variable_value='10.11.6-MariaDB' WHERE variable_name='mysql-server_version'",
    ]);
    expect(plan.notes.join('; ')).not.toContain("p'w");
    expect(plan.unknown).toEqual(['mysql-no_such_thing']);
  });

  test('right in memory but not at runtime: a reload, no update; all right: nothing', () => {
    expect(planVariables(desiredVars, { main: maps(desiredVars), runtime: maps({}) })).toMatchObject({
      changes: [],
      reload: true,
    });
    expect(planVariables(desiredVars, { main: maps(desiredVars), runtime: maps(desiredVars) })).toMatchObject({
      changes: [],
      reload: false,
    });
  });
});
