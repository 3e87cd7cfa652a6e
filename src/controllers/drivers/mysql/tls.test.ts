// The MySQL driver over TLS against real mariadbd processes serving certificates of a test CA:
// the controller's connections in each ClientTLS mode, a client certificate, and replication
// channels that the replica verifies with a CA file on its host.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCA, issueClientCert, issueServingCert, type CertKeyPair } from '../../../pki/certs.js';
import { startMariadbServer, testAccounts, type MariadbServer } from '../testing/mariadb-server.js';
import { tlsOptions, type TlsSettings } from '../tls.js';
import { connectMysql, isTlsFailure, withMysql, type MysqlTarget } from './connection.js';
import { promote, readServerState, replicateFrom } from './operations.js';

const ca = createCA('kauntlet-test-ca');
const otherCA = createCA('some-other-ca');
let named: MariadbServer; // certificate for 127.0.0.1 and localhost
// certificate for localhost only: a host name check must compare with the address connected to
let misnamed: MariadbServer;
const servers: MariadbServer[] = [];
const files = mkdtempSync(join(tmpdir(), 'upm-mysql-tls-'));
const caFile = join(files, 'ca.pem');
const otherCAFile = join(files, 'other-ca.pem');

const serving = (names: { dnsNames: string[]; ipAddresses: string[] }): CertKeyPair =>
  issueServingCert(ca, { commonName: 'mariadb', ...names });

beforeAll(async () => {
  writeFileSync(caFile, ca.certPem);
  writeFileSync(otherCAFile, otherCA.certPem);
  const start = async (serverId: number, cert: CertKeyPair) => {
    const s = await startMariadbServer({ serverId, tls: { ...cert, caPem: ca.certPem } });
    servers.push(s);
    return s;
  };
  [named, misnamed] = await Promise.all([
    start(1, serving({ dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] })),
    start(2, serving({ dnsNames: ['localhost'], ipAddresses: [] })),
  ]);
}, 60_000);
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  rmSync(files, { recursive: true, force: true });
});

const target = (s: MariadbServer, tls: TlsSettings, account: keyof typeof testAccounts = 'admin'): MysqlTarget => ({
  host: s.host,
  port: s.port,
  ...testAccounts[account],
  tls: tlsOptions(tls),
});
const cipher = (t: MysqlTarget) =>
  withMysql(t, async (s) => {
    const [row] = await s.run<{ Value: string }>({ sql: "SHOW SESSION STATUS LIKE 'Ssl_cipher'" });
    return row?.Value ?? '';
  });
/** The message of a failed connection, marked when TLS failed. */
const failure = (t: MysqlTarget) =>
  connectMysql(t).then(
    async (s) => {
      await s.close();
      return 'connected';
    },
    (err: Error) => `${isTlsFailure(err) ? 'TLS: ' : ''}${err.message}`,
  );

const until = async (what: string, cond: () => Promise<boolean>, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};
const slaveStatus = async (s: MariadbServer) => (await s.query('SHOW SLAVE STATUS'))[0] ?? {};

describe('MySQL driver over TLS (MariaDB)', () => {
  it('VerifyFull connects when the CA signs a certificate naming the host, encrypted', async () => {
    expect(await cipher(target(named, { mode: 'VerifyFull', ca: ca.certPem }))).not.toBe('');
    expect(await cipher(target(named, { mode: 'Disabled' }))).toBe('');
  });

  it('VerifyFull refuses a certificate of another CA or one naming another host', async () => {
    expect(await failure(target(named, { mode: 'VerifyFull', ca: otherCA.certPem }))).toMatch(
      /^TLS: 127\.0\.0\.1:\d+: .*(self-signed|unable to verify|unable to get)/,
    );
    expect(await failure(target(misnamed, { mode: 'VerifyFull', ca: ca.certPem }))).toMatch(
      /^TLS: 127\.0\.0\.1:\d+: .*IP: 127\.0\.0\.1 is not in the cert's list/,
    );
  });

  it('VerifyCA checks the chain but not the host name', async () => {
    expect(await cipher(target(misnamed, { mode: 'VerifyCA', ca: ca.certPem }))).not.toBe('');
    expect(await failure(target(misnamed, { mode: 'VerifyCA', ca: otherCA.certPem }))).toMatch(
      /self-signed|unable to verify|unable to get/,
    );
  });

  it('Required encrypts without any CA', async () => {
    expect(await cipher(target(misnamed, { mode: 'Required' }))).not.toBe('');
  });

  it('presents the client certificate to an account that requires one', async () => {
    await named.query("CREATE USER 'certified'@'%' IDENTIFIED BY 'c-pw' REQUIRE X509");
    const client = issueClientCert(ca, { commonName: 'certified' });
    const t = (tls: TlsSettings): MysqlTarget => ({ ...target(named, tls), user: 'certified', password: 'c-pw' });
    expect(await failure(t({ mode: 'VerifyFull', ca: ca.certPem }))).toMatch(/^127\.0\.0\.1:\d+: Access denied/);
    expect(await cipher(t({ mode: 'VerifyFull', ca: ca.certPem, cert: client.certPem, key: client.keyPem }))).not.toBe(
      '',
    );
  });

  it('forms a replication channel the replica verifies with a CA file on its host', async () => {
    const tls: TlsSettings = { mode: 'VerifyFull', ca: ca.certPem };
    await withMysql(target(named, tls), (s) => promote(s, undefined));
    const state = await withMysql(target(misnamed, { mode: 'VerifyCA', ca: ca.certPem }), readServerState);
    const source = { host: named.host, port: named.port, ...testAccounts.repl, tls: true };
    // VerifyFull: the source's certificate names 127.0.0.1.
    await withMysql(target(misnamed, { mode: 'VerifyCA', ca: ca.certPem }), (s) =>
      replicateFrom(s, state, { ...source, caFile, verifyHostName: true }, { fresh: true, semiSync: false }),
    );
    await named.query('CREATE DATABASE tls_check');
    await until(
      'the database on the replica',
      async () => (await misnamed.query("SHOW DATABASES LIKE 'tls_check'")).length === 1,
    );
    expect(await slaveStatus(misnamed)).toMatchObject({
      Slave_IO_Running: 'Yes',
      Master_SSL_Allowed: 'Yes',
      Master_SSL_CA_File: caFile,
      Master_SSL_Verify_Server_Cert: 'Yes',
    });
  });

  it('a replica verifying its source refuses a certificate of another CA', async () => {
    const state = await withMysql(target(misnamed, { mode: 'Required' }), readServerState);
    await withMysql(target(misnamed, { mode: 'Required' }), (s) =>
      replicateFrom(
        s,
        state,
        {
          host: named.host,
          port: named.port,
          ...testAccounts.repl,
          tls: true,
          caFile: otherCAFile,
          verifyHostName: true,
        },
        { fresh: false, semiSync: false },
      ),
    );
    await until('an IO error', async () => String((await slaveStatus(misnamed))['Last_IO_Error'] ?? '') !== '');
    expect(await slaveStatus(misnamed)).toMatchObject({ Slave_IO_Running: 'Connecting', Master_SSL_Allowed: 'Yes' });
    expect(String((await slaveStatus(misnamed))['Last_IO_Error'])).toMatch(/SSL|certificate/i);
  });

  it('the replica checks the chain always and the host name with verifyHostName; a channel change clears the CA', async () => {
    // Reverse the roles: `named` replicates from `misnamed`, whose certificate names localhost only.
    const tls: TlsSettings = { mode: 'Required' };
    await withMysql(target(misnamed, tls), (s) => s.run(s.dialect.stopReplica));
    await withMysql(target(misnamed, tls), (s) => s.run(s.dialect.resetReplicaAll));
    await withMysql(target(misnamed, tls), (s) => promote(s, undefined));
    const state = await withMysql(target(named, tls), readServerState);
    const src = { host: misnamed.host, port: misnamed.port, ...testAccounts.repl, tls: true };
    const channel = async (extra: { caFile?: string; verifyHostName?: boolean }) => {
      await withMysql(target(named, tls), (s) => s.run(s.dialect.stopReplica));
      await withMysql(target(named, tls), (s) =>
        replicateFrom(s, state, { ...src, ...extra }, { fresh: true, semiSync: false }),
      );
      let st: Record<string, unknown> = {};
      await until('the IO thread to connect or fail', async () => {
        st = await slaveStatus(named);
        return st['Slave_IO_Running'] === 'Yes' || String(st['Last_IO_Error'] ?? '') !== '';
      });
      return { io: st['Slave_IO_Running'], error: String(st['Last_IO_Error'] ?? '') };
    };
    expect(await channel({ caFile, verifyHostName: true })).toEqual({
      io: 'Connecting',
      error: expect.stringMatching(/SSL certificate validation failure/) as unknown,
    });
    expect(await channel({ caFile, verifyHostName: false })).toEqual({ io: 'Yes', error: '' });
    expect(await channel({ caFile: otherCAFile })).toEqual({
      io: 'Connecting',
      error: expect.stringMatching(/SSL connection error/) as unknown,
    });
    // Encrypted, unverified: the CA file of the previous channel must not linger.
    expect(await channel({})).toEqual({ io: 'Yes', error: '' });
    expect(await slaveStatus(named)).toMatchObject({ Master_SSL_Allowed: 'Yes', Master_SSL_CA_File: '' });
  });
});
