// Kauntlet MysqlReplication on three real mariadbd (10.11) on loopback, the controller in this
// process against `upm-engine local --controllers=false`, a client writing one row at a time
// through an account that read_only stops, to whichever server accepts it:
// - switchover under load: spec.primary changed → first write acknowledged by the new primary,
//   and acknowledged writes missing from it afterwards;
// - failover: kill -9 of the semi-sync primary (failover.delaySeconds 1) → first write
//   acknowledged by the promoted replica, and acknowledged writes missing from it afterwards.
// References: one controller observation of the three servers (median of 20), the configured
// failover delay, and the writes acknowledged.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MysqlReplication } from '../../src/api/generated/types.js';
import { withMysql } from '../../src/controllers/drivers/mysql/connection.js';
import { readServerState } from '../../src/controllers/drivers/mysql/operations.js';
import {
  startMariadbServers,
  testAccounts,
  type MariadbServer,
} from '../../src/controllers/drivers/testing/mariadb-server.js';
import { startWriter, type Ack } from '../../src/controllers/drivers/testing/mysql-load.js';
import { addMysqlReplication } from '../../src/controllers/kauntlet/mysql/index.js';
import { mysqlReplications, secrets } from '../../src/controllers/resources.js';
import { KubeClient, loadKubeConfig } from '../../src/controllers/runtime/client.js';
import { Manager } from '../../src/controllers/runtime/manager.js';
import type { KubeObject } from '../../src/machinery/object.js';
import { row, type Row, type Suite } from '../lib/types.js';
import { startLocalEngine, stopProcess } from '../lib/engine.js';

const names = ['db-0', 'db-1', 'db-2'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

async function missing(server: MariadbServer, acked: Ack[]): Promise<number> {
  await until(
    'the new primary to hold every acknowledged write',
    async () => {
      const [r] = await server.query<{ n: string }>('SELECT COUNT(*) AS n FROM app.w');
      return Number(r.n) >= acked.length;
    },
    10_000,
  ).catch(() => undefined);
  const have = new Set((await server.query<{ id: string }>('SELECT id FROM app.w')).map((r) => Number(r.id)));
  return acked.filter((a) => !have.has(a.id)).length;
}

async function measure(log: (m: string) => void): Promise<Row[]> {
  const dir = mkdtempSync(join(tmpdir(), 'upm-bench-mysql-'));
  const [engine, servers] = await Promise.all([
    startLocalEngine(dir, ['--controllers=false']),
    startMariadbServers(3, { semiSync: true }),
  ]);
  const client = new KubeClient(loadKubeConfig(join(dir, 'kubeconfig')));
  const mgr = new Manager({ client, leaderElection: false });
  addMysqlReplication(mgr, { timeouts: { connectMs: 500, queryMs: 3000 } });
  const writers: { stop(): Promise<unknown> }[] = [];
  const nodes = servers.map((server, i) => ({ name: names[i], server }));
  const server = (name: string) => servers[names.indexOf(name)];
  const get = async () => (await client.get(mysqlReplications, 'default', 'bench')) as unknown as MysqlReplication;
  const patch = (spec: Record<string, unknown>) =>
    client.patch(mysqlReplications, 'default', 'bench', { spec }, 'merge');
  try {
    await mgr.start();
    const secret = (name: string, a: { user: string; password: string }): KubeObject => ({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name, namespace: 'default' },
      stringData: { username: a.user, password: a.password },
    });
    await client.create(secrets, secret('bench-admin', testAccounts.admin));
    await client.create(secrets, secret('bench-repl', testAccounts.repl));
    await client.create(mysqlReplications, {
      apiVersion: 'upm.io/v1alpha1',
      kind: 'MysqlReplication',
      metadata: { name: 'bench', namespace: 'default' },
      spec: {
        primary: 'db-0',
        instances: servers.map((s, i) => ({ name: names[i], host: s.host, port: s.port })),
        credentials: { admin: { name: 'bench-admin' }, replication: { name: 'bench-repl' } },
      },
    } as KubeObject);
    const ready = (primary: string) => async () => {
      const mr = await get();
      return (
        mr.status?.currentPrimary === primary &&
        mr.status.readyInstances === 3 &&
        !!mr.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')
      );
    };
    await until('formation', ready('db-0'));
    await server('db-0').query('CREATE DATABASE app');
    await server('db-0').query('CREATE TABLE app.w (id INT PRIMARY KEY, node VARCHAR(8))');

    const passes: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t = performance.now();
      await Promise.all(
        servers.map((s) => withMysql({ host: s.host, port: s.port, ...testAccounts.admin }, readServerState)),
      );
      passes.push(performance.now() - t);
    }
    const observeMs = passes.sort((a, b) => a - b)[10];

    // Switchover under load.
    const w1 = startWriter(nodes, 'db-0');
    writers.push(w1);
    await until('writes on db-0', () => w1.ackedOn('db-0') > 100);
    const requested = Date.now();
    await patch({ primary: 'db-1' });
    await until('writes on db-1', () => w1.ackedOn('db-1') > 20);
    const acked1 = await w1.stop();
    await until('switchover complete', ready('db-1'));
    const switchoverMs = w1.firstAckOn('db-1')! - requested;
    const gapMs = w1.firstAckOn('db-1')! - w1.lastAckOn('db-0')!;
    const lost1 = await missing(server('db-1'), acked1);
    log(`mysql: switchover ${switchoverMs} ms (writes stopped ${gapMs} ms), ${lost1} of ${acked1.length} lost`);

    // Failover of a semi-sync primary killed with SIGKILL.
    await patch({ mode: 'SemiSync', failover: { mode: 'Automatic', delaySeconds: 1, cooldownSeconds: 5 } });
    await until('semi-sync everywhere', async () => {
      const mr = await get();
      return (mr.status?.instances ?? []).every((i) => i.semiSyncEnabled) && (await ready('db-1')());
    });
    await server('db-1').query('DELETE FROM app.w');
    const w2 = startWriter(nodes, 'db-1');
    writers.push(w2);
    await until('writes on db-1', () => w2.ackedOn('db-1') > 100);
    const killed = Date.now();
    await server('db-1').kill9();
    let promoted = '';
    await until('failover', async () => {
      const mr = await get();
      promoted = mr.status?.currentPrimary ?? '';
      return mr.status?.lastPrimaryChange?.kind === 'Failover' && promoted !== 'db-1';
    });
    await until('writes on the promoted replica', () => w2.ackedOn(promoted) > 20);
    const acked2 = await w2.stop();
    const failoverMs = w2.firstAckOn(promoted)! - killed;
    const lost2 = await missing(server(promoted), acked2);
    const beforeKill = acked2.filter((a) => a.node === 'db-1').length;
    log(`mysql: failover ${failoverMs} ms to ${promoted}, ${lost2} of ${acked2.length} lost`);

    const note = '3 mariadbd 10.11 on loopback, one writer (one row per INSERT, app account), 2 cores shared';
    return [
      row(
        'mysql',
        null,
        'MySQL switchover RTO (spec.primary change → first write on the new primary, under load)',
        switchoverMs,
        'ms',
        'one controller observation of the 3 servers (median)',
        observeMs,
        `${note}; writes refused for ${gapMs} ms (last ack on the old primary → first on the new)`,
      ),
      row(
        'mysql',
        null,
        'MySQL switchover writes lost',
        lost1,
        'writes lost',
        'writes acknowledged during the run',
        acked1.length,
        note,
      ),
      row(
        'mysql',
        null,
        'MySQL failover RTO (kill -9 of the semi-sync primary → first write on the promoted replica)',
        failoverMs,
        'ms',
        'failover.delaySeconds (detection wait)',
        1000,
        `${note}; promoted ${promoted}`,
      ),
      row(
        'mysql',
        null,
        'MySQL failover RPO (semi-sync, primary killed)',
        lost2,
        'writes lost',
        'writes acknowledged by the killed primary',
        beforeKill,
        note,
      ),
    ];
  } finally {
    await Promise.all(writers.map((w) => w.stop()));
    await mgr.stop();
    client.close();
    await Promise.all(servers.map((s) => s.stop()));
    await stopProcess(engine.proc);
    rmSync(dir, { recursive: true, force: true });
  }
}

export const mysqlSuite: Suite = {
  name: 'mysql',
  scope: 'global',
  run: (ctx) => measure(ctx.log),
};
