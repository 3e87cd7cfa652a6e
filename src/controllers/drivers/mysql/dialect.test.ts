// Every step the controller takes, rendered for MySQL 8 (no MySQL server runs here) and for
// MariaDB; the MariaDB statements also run against real servers in driver.test.ts and the e2e test.

import { format } from 'mysql2/promise';
import { dialectFor, mariadbDialect, mysqlDialect, SEMI_SYNC_NEVER_FALL_BACK_MS, type Statement } from './dialect.js';

const text = (s: Statement) => format(s.sql, s.values ?? []);
const texts = (list: Statement[]) => list.map(text);
const source = { host: "db-0.db'x", port: 3306, user: 'repl', password: "p'w" };

describe('dialect choice from SELECT VERSION()', () => {
  it.each([
    ['8.0.36', 'MySQL'],
    ['8.4.3', 'MySQL'],
    ['9.1.0', 'MySQL'],
    ['10.11.19-MariaDB-0+deb12u1', 'MariaDB'],
    ['11.4.2-MariaDB', 'MariaDB'],
  ])('%s → %s', (v, flavor) => {
    const c = dialectFor(v);
    expect(c.ok && c.dialect.flavor).toBe(flavor);
  });
  it.each(['5.7.44', '8.0.25', '10.5.9-MariaDB', 'garbage'])('%s is refused with a reason', (v) => {
    expect(dialectFor(v)).toMatchObject({ ok: false, message: expect.stringMatching(/not supported|cannot read/) });
  });
});

describe('MySQL 8 dialect', () => {
  const d = mysqlDialect;
  it('observes with SHOW REPLICA STATUS and the 8.0.26+ variable names', () => {
    expect(text(d.replicaStatus)).toBe('SHOW REPLICA STATUS');
    expect(text(d.variables)).toContain("'super_read_only'");
    expect(text(d.variables)).toContain("'rpl_semi_sync_source_enabled'");
    expect(text(d.variables)).toContain("'gtid_executed'");
    const status = d.parseReplicaStatus([
      {
        Channel_Name: '',
        Source_Host: '10.0.0.1',
        Source_Port: 3306,
        Replica_IO_Running: 'Connecting',
        Replica_SQL_Running: 'Yes',
        Seconds_Behind_Source: null,
        Last_IO_Error: 'error connecting to source',
        Last_SQL_Error: '',
        Retrieved_Gtid_Set: 'x:1-5',
        Source_UUID: 'ABC',
        Auto_Position: 1,
      },
    ]);
    expect(status).toEqual({
      sourceHost: '10.0.0.1',
      sourcePort: 3306,
      ioRunning: 'Connecting',
      sqlRunning: 'Yes',
      secondsBehind: null,
      lastIOError: 'error connecting to source',
      lastSQLError: '',
      received: 'x:1-5',
      sourceOrigin: 'abc',
      autoPosition: true,
    });
    expect(d.parseReplicaStatus([])).toBeUndefined();
    const v = { gtid_executed: 'u:1-3', server_uuid: 'U', read_only: 'ON', super_read_only: 'OFF' };
    expect([d.executed(v), d.origin(v), d.readOnly(v)]).toEqual([
      'u:1-3',
      'u',
      { readOnly: true, superReadOnly: false },
    ]);
    expect(d.semiSync({ rpl_semi_sync_source_enabled: 'ON' })).toEqual({ source: true, replica: false });
  });
  it('fences with super_read_only and kills client sessions only', () => {
    expect(texts(d.fence())).toEqual(["SET GLOBAL super_read_only = 'ON'"]);
    expect(texts(d.unfence())).toEqual(["SET GLOBAL super_read_only = 'OFF'", "SET GLOBAL read_only = 'OFF'"]);
    expect(text(d.clientConnections)).toMatch(/ID <> CONNECTION_ID\(\).*'Binlog Dump GTID'/);
    expect(text(d.kill(42))).toBe('KILL CONNECTION 42');
    expect(() => d.kill(NaN)).toThrow();
  });
  it('points a replica at its source with GTID auto-positioning, values escaped', () => {
    expect(text(d.changeSource(source))).toBe(
      "CHANGE REPLICATION SOURCE TO SOURCE_HOST = 'db-0.db\\'x', SOURCE_PORT = 3306, SOURCE_USER = 'repl', " +
        "SOURCE_PASSWORD = 'p\\'w', SOURCE_AUTO_POSITION = 1, SOURCE_CONNECT_RETRY = 1, SOURCE_HEARTBEAT_PERIOD = 1, " +
        "GET_SOURCE_PUBLIC_KEY = 1, SOURCE_SSL = 0, SOURCE_SSL_CA = '', SOURCE_SSL_VERIFY_SERVER_CERT = 0",
    );
    expect(text(d.changeSource({ ...source, tls: true }))).toMatch(
      /GET_SOURCE_PUBLIC_KEY = 1, SOURCE_SSL = 1, SOURCE_SSL_CA = '', SOURCE_SSL_VERIFY_SERVER_CERT = 0$/,
    );
  });
  it('verifies the source with a CA file on the replica: chain (VerifyCA) or chain and host name (VerifyFull)', () => {
    const ca = { ...source, tls: true, caFile: "/etc/mysql/tls/ca'.crt" };
    expect(text(d.changeSource(ca))).toMatch(
      /GET_SOURCE_PUBLIC_KEY = 1, SOURCE_SSL = 1, SOURCE_SSL_CA = '\/etc\/mysql\/tls\/ca\\'.crt', SOURCE_SSL_VERIFY_SERVER_CERT = 0$/,
    );
    expect(text(d.changeSource({ ...ca, verifyHostName: true }))).toMatch(
      /SOURCE_SSL = 1, SOURCE_SSL_CA = '\/etc\/mysql\/tls\/ca\\'.crt', SOURCE_SSL_VERIFY_SERVER_CERT = 1$/,
    );
    // No CA file without TLS: a plain channel stays plain, and a CA file set before is cleared.
    expect(text(d.changeSource({ ...source, caFile: '/ca.crt', verifyHostName: true }))).toMatch(
      /SOURCE_SSL = 0, SOURCE_SSL_CA = '', SOURCE_SSL_VERIFY_SERVER_CERT = 0$/,
    );
    expect(text(d.changeSource({ ...source, tls: true, verifyHostName: true }))).toMatch(
      /SOURCE_SSL = 1, SOURCE_SSL_CA = '', SOURCE_SSL_VERIFY_SERVER_CERT = 0$/,
    );
  });
  it('prepares replicas and restarts the receiver', () => {
    expect(d.prepareReplica({ gtid_executed: 'u:1' })).toEqual([]);
    expect([d.stopReplica, d.startReplica, d.resetReplicaAll].map(text)).toEqual([
      'STOP REPLICA',
      'START REPLICA',
      'RESET REPLICA ALL',
    ]);
    expect(texts(d.restartReceiver())).toEqual(['STOP REPLICA IO_THREAD', 'START REPLICA IO_THREAD']);
  });
  it('configures semi-sync on the source and the replicas', () => {
    expect(texts(d.semiSyncSource(true, { waitForReplicaCount: 2 }))).toEqual([
      "SET GLOBAL rpl_semi_sync_source_wait_point = 'AFTER_SYNC'",
      `SET GLOBAL rpl_semi_sync_source_timeout = ${SEMI_SYNC_NEVER_FALL_BACK_MS}`,
      'SET GLOBAL rpl_semi_sync_source_wait_for_replica_count = 2',
      "SET GLOBAL rpl_semi_sync_source_enabled = 'ON'",
    ]);
    expect(texts(d.semiSyncSource(true, { timeoutMs: 10_000 }))[1]).toBe(
      'SET GLOBAL rpl_semi_sync_source_timeout = 10000',
    );
    expect(texts(d.semiSyncSource(false))).toEqual(["SET GLOBAL rpl_semi_sync_source_enabled = 'OFF'"]);
    expect(texts(d.semiSyncReplica(true))).toEqual(["SET GLOBAL rpl_semi_sync_replica_enabled = 'ON'"]);
  });
  it('waits for a GTID set with WAIT_FOR_EXECUTED_GTID_SET', () => {
    expect(text(d.waitForGtids('u:1-10', 30))).toBe("SELECT WAIT_FOR_EXECUTED_GTID_SET('u:1-10', 30) AS r");
    expect([d.waitSucceeded(0), d.waitSucceeded('0'), d.waitSucceeded(1), d.waitSucceeded(null)]).toEqual([
      true,
      true,
      false,
      false,
    ]);
  });
});

describe('MariaDB dialect', () => {
  const d = mariadbDialect;
  it('renders the same steps with MariaDB names', () => {
    expect(text(d.replicaStatus)).toBe('SHOW ALL SLAVES STATUS');
    expect(texts(d.fence())).toEqual(["SET GLOBAL read_only = 'ON'"]);
    expect(text(d.changeSource(source))).toMatch(
      /^CHANGE MASTER TO MASTER_HOST = 'db-0.db\\'x', MASTER_PORT = 3306, .*MASTER_USE_GTID = slave_pos/,
    );
    expect(texts(d.prepareReplica({ gtid_binlog_pos: '0-1-5' }))).toEqual(["SET GLOBAL gtid_slave_pos = '0-1-5'"]);
    expect(texts(d.semiSyncSource(true))[2]).toBe("SET GLOBAL rpl_semi_sync_master_enabled = 'ON'");
    expect(text(d.waitForGtids('0-1-5', 3))).toBe("SELECT MASTER_GTID_WAIT('0-1-5', 3) AS r");
    expect(d.executed({ gtid_binlog_state: '0-1-5,0-2-3', gtid_slave_pos: '0-2-3' })).toBe('0-1-5,0-2-3');
    expect(d.parseReplicaStatus([{ Connection_name: 'other', Master_Host: 'x' }])).toBeUndefined();
  });
  it('renders the SSL options of CHANGE MASTER TO', () => {
    expect(text(d.changeSource(source))).toMatch(
      /MASTER_HEARTBEAT_PERIOD = 1, MASTER_SSL = 0, MASTER_SSL_CA = '', MASTER_SSL_VERIFY_SERVER_CERT = 0$/,
    );
    expect(text(d.changeSource({ ...source, tls: true }))).toMatch(
      /MASTER_HEARTBEAT_PERIOD = 1, MASTER_SSL = 1, MASTER_SSL_CA = '', MASTER_SSL_VERIFY_SERVER_CERT = 0$/,
    );
    expect(text(d.changeSource({ ...source, tls: true, caFile: '/ca.crt', verifyHostName: true }))).toMatch(
      /MASTER_SSL = 1, MASTER_SSL_CA = '\/ca.crt', MASTER_SSL_VERIFY_SERVER_CERT = 1$/,
    );
  });
});
