// MysqlReplication over TLS end to end: an API server (no Cube), the MysqlReplication controller
// in this process, and two real mariadbd processes serving certificates of a test CA that name
// 127.0.0.1 and localhost, listening on 127.0.0.1 and 127.0.0.2 (an address their certificates
// do not name). The admin and replication accounts REQUIRE SSL, so nothing works unencrypted.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MysqlReplication } from '../../src/api/generated/types.js';
import {
  startMariadbServers,
  testAccounts,
  type MariadbServer,
} from '../../src/controllers/drivers/testing/mariadb-server.js';
import { addMysqlReplication } from '../../src/controllers/kauntlet/mysql/index.js';
import { mysqlReplications } from '../../src/controllers/resources.js';
import { KubeClient, loadKubeConfig } from '../../src/controllers/runtime/client.js';
import { Manager } from '../../src/controllers/runtime/manager.js';
import { createCA, issueServingCert } from '../../src/pki/certs.js';
import { cleanup, kubectlHelpers, startEngine, waitFor, type Engine } from './harness.js';

let engine: Engine;
let servers: MariadbServer[] = [];
let mgr: Manager | undefined;
let client: KubeClient;
const { ok } = kubectlHelpers(() => engine);
const ns = 'default';
const ca = createCA('kauntlet-e2e-ca');
const wrongCA = createCA('not-the-servers-ca');
const files = mkdtempSync(join(tmpdir(), 'upm-mysql-tls-e2e-'));
/** The CA file "on every server's host": all servers of this test share the machine. */
const serverCAFile = join(files, 'ca.pem');

const get = async () => (await client.get(mysqlReplications, ns, 'secure')) as unknown as MysqlReplication;
const ready = (mr: MysqlReplication) => mr.status?.conditions?.find((c) => c.type === 'Ready');
const patchSpec = (spec: Record<string, unknown>) => client.patch(mysqlReplications, ns, 'secure', { spec }, 'merge');
const until = (what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 20_000) =>
  waitFor(what, cond, timeoutMs).catch(async (err: Error) => {
    const mr = await get().catch(() => undefined);
    throw new Error(`${err.message}\nstatus: ${JSON.stringify(mr?.status, null, 1)}`);
  });
const readyWith = (n: number) =>
  until(`Ready with ${n} ready instances`, async () => {
    const mr = await get();
    return ready(mr)?.status === 'True' && mr.status?.readyInstances === n;
  });
const blockedBy = async (reason: string) => {
  await until(`Ready=False ${reason}`, async () => ready(await get())?.reason === reason);
  return ready(await get())!;
};
const slaveStatus = async (s: MariadbServer) => (await s.query('SHOW SLAVE STATUS'))[0] ?? {};
const instances = (host: string) => servers.map((s, i) => ({ name: `db-${i}`, host, port: s.port }));

beforeAll(async () => {
  writeFileSync(serverCAFile, ca.certPem);
  const cert = issueServingCert(ca, { commonName: 'mariadb', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  [engine, servers] = await Promise.all([
    startEngine(),
    startMariadbServers(2, {
      tls: { ...cert, caPem: ca.certPem },
      config: ['bind-address=127.0.0.1,127.0.0.2'],
    }),
  ]);
  for (const s of servers) {
    const c = await s.connect();
    await c.query('SET SESSION sql_log_bin = 0');
    for (const a of [testAccounts.admin, testAccounts.repl]) await c.query("ALTER USER ?@'%' REQUIRE SSL", [a.user]);
    await c.end();
  }
  client = new KubeClient(loadKubeConfig(engine.kubeconfig));
  const secret = (name: string, data: Record<string, string>) =>
    JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name }, stringData: data });
  for (const input of [
    secret('mysql-admin', { username: testAccounts.admin.user, password: testAccounts.admin.password }),
    secret('mysql-repl', { username: testAccounts.repl.user, password: testAccounts.repl.password }),
    secret('mysql-ca', { 'ca.crt': ca.certPem }),
    secret('wrong-ca', { 'ca.crt': wrongCA.certPem }),
  ]) {
    const r = await engine.kubectl('1.33', ['apply', '-f', '-'], { input });
    if (r.code !== 0) throw new Error(r.stderr);
  }
  mgr = new Manager({ client, leaderElection: false });
  addMysqlReplication(mgr, { timeouts: { connectMs: 500, queryMs: 3000 } });
  await mgr.start();
}, 90_000);

afterAll(async () => {
  await mgr?.stop();
  await Promise.all(servers.map((s) => s.stop()));
  if (engine) {
    await engine.stop();
    cleanup(engine);
  }
  rmSync(files, { recursive: true, force: true });
}, 60_000);

describe('MysqlReplication over TLS on MariaDB 10.11', () => {
  it('VerifyFull: the controller and the replica both verify the servers; rows replicate', async () => {
    const manifest = {
      apiVersion: 'upm.io/v1alpha1',
      kind: 'MysqlReplication',
      metadata: { name: 'secure', namespace: ns },
      spec: {
        primary: 'db-0',
        instances: instances('127.0.0.1'),
        credentials: { admin: { name: 'mysql-admin' }, replication: { name: 'mysql-repl' } },
        tls: { mode: 'VerifyFull', ca: { name: 'mysql-ca', key: 'ca.crt' }, serverCAFile },
      },
    };
    const applied = await engine.kubectl('1.33', ['apply', '-f', '-'], { input: JSON.stringify(manifest) });
    expect(applied.stderr).toBe('');
    await readyWith(2);
    expect(await ok('get', 'mysqlreplication', 'secure')).toMatch(/secure\s+db-0\s+2\s+2\s+Ready/);
    expect(await slaveStatus(servers[1])).toMatchObject({
      Master_Host: '127.0.0.1',
      Slave_IO_Running: 'Yes',
      Master_SSL_Allowed: 'Yes',
      Master_SSL_CA_File: serverCAFile,
      Master_SSL_Verify_Server_Cert: 'Yes',
    });
    await servers[0].query('CREATE DATABASE shop');
    await until(
      'the database on the replica',
      async () => (await servers[1].query("SHOW DATABASES LIKE 'shop'")).length === 1,
    );
  }, 60_000);

  it('reports a missing CA Secret and a CA that did not sign the servers, and recovers', async () => {
    await patchSpec({ tls: { ca: { name: 'absent', key: 'ca.crt' } } });
    expect((await blockedBy('SecretNotFound')).message).toBe('tls.ca: Secret "absent" not found');
    await patchSpec({ tls: { ca: { name: 'wrong-ca', key: 'ca.crt' } } });
    const wrong = await blockedBy('TLSHandshakeFailed');
    expect(wrong.message).toMatch(/^db-0: 127\.0\.0\.1:\d+: self-signed certificate in certificate chain; db-1: /);
    await patchSpec({ tls: { ca: { name: 'mysql-ca', key: 'ca.crt' } } });
    await readyWith(2);
  }, 60_000);

  it('VerifyFull refuses an address the certificates do not name; VerifyCA accepts it, on the replica too', async () => {
    await patchSpec({ instances: instances('127.0.0.2') });
    const mismatch = await blockedBy('TLSHandshakeFailed');
    expect(mismatch.message).toMatch(/^db-0: 127\.0\.0\.2:\d+: .*IP: 127\.0\.0\.2 is not in the cert's list/);
    await patchSpec({ tls: { mode: 'VerifyCA' } });
    await until(
      'db-1 re-pointed at 127.0.0.2',
      async () => (await slaveStatus(servers[1]))['Master_Host'] === '127.0.0.2',
    );
    await readyWith(2);
    expect(await slaveStatus(servers[1])).toMatchObject({
      Slave_IO_Running: 'Yes',
      Master_SSL_Allowed: 'Yes',
      Master_SSL_CA_File: serverCAFile,
      Master_SSL_Verify_Server_Cert: 'No',
    });
  }, 60_000);

  it('Required: encrypted connections without any CA', async () => {
    await patchSpec({ tls: { mode: 'Required', ca: null, serverCAFile: null } });
    await until('Ready observed under the new spec', async () => {
      const mr = await get();
      return !mr.spec.tls?.ca && ready(mr)?.observedGeneration === mr.metadata.generation;
    });
    // Drift the controller must repair: only a connection it encrypts is accepted (REQUIRE SSL).
    await servers[1].query('STOP SLAVE');
    await until('db-1 replicating again', async () => {
      const st = await slaveStatus(servers[1]);
      return st['Slave_IO_Running'] === 'Yes' && st['Slave_SQL_Running'] === 'Yes';
    });
    await readyWith(2);
  }, 60_000);
});
