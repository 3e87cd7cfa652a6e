// ProxysqlSync: how long a switchover takes to reach ProxySQL. An engine (`upm-engine local
// --controllers=false`), the ProxysqlSync controller on an in-process Manager, 4 ProxySQL
// stand-ins (ProxySQL's admin schema in SQLite behind the MySQL protocol; no live ProxySQL) and a
// MysqlReplication of 3 instances whose status the suite writes, as its controller would. Timed
// from the status write until the new primary is the only ONLINE writer in the runtime tables of
// every ProxySQL. The reference is the same server changes applied by the driver alone (plan and
// apply on the 4 stand-ins, no API, no watch): the controller's share is the difference.

import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withProxysqlAdmin } from '../../src/controllers/drivers/proxysql/admin.js';
import {
  startProxysqlStandIn,
  type ProxysqlStandIn,
} from '../../src/controllers/drivers/proxysql/testing/proxysql-standin.js';
import { addProxysqlSync } from '../../src/controllers/kauntlet/proxysql/index.js';
import { desiredServers, markerOf, planServers, serverSettings } from '../../src/controllers/kauntlet/proxysql/plan.js';
import { mysqlReplications, proxysqlSyncs, secrets } from '../../src/controllers/resources.js';
import { KubeClient, loadKubeConfig } from '../../src/controllers/runtime/client.js';
import { Manager } from '../../src/controllers/runtime/manager.js';
import type { MysqlReplication } from '../../src/api/generated/types.js';
import type { KubeObject } from '../../src/machinery/object.js';
import { startLocalEngine, stopProcess } from '../lib/engine.js';
import { row, type Row, type Suite } from '../lib/types.js';

const proxies = 4;
const switchovers = 10;
// The MySQL instances are only listed in ProxySQL: their loopback ports are free ones nobody
// listens on (the controller's read of the primary's version is refused at once).
const ports: number[] = [];
const names = ['m0', 'm1', 'm2'];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function replication(primary: string): MysqlReplication {
  return {
    apiVersion: 'upm.io/v1alpha1',
    kind: 'MysqlReplication',
    metadata: { name: 'orders', namespace: 'default' },
    spec: {
      primary,
      credentials: { admin: { name: 'mysql-admin' } },
      instances: names.map((name, i) => ({ name, host: '127.0.0.1', port: ports[i] })),
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

const writerIs = (p: ProxysqlStandIn, port: number) => {
  const rows = p.query<{ port: number }>(
    "SELECT port FROM runtime_mysql_servers WHERE hostgroup_id=0 AND status='ONLINE'",
  );
  return rows.length === 1 && rows[0].port === port;
};

async function until(cond: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setImmediate(r));
  }
}

export const proxysqlSuite: Suite = {
  name: 'proxysql',
  scope: 'global',
  async run({ log }) {
    const dir = mkdtempSync(join(tmpdir(), 'upm-bench-proxysql-'));
    const standIns: ProxysqlStandIn[] = [];
    let manager: Manager | undefined;
    const engine = await startLocalEngine(dir, ['--controllers=false', '--webhooks=false']);
    try {
      if (ports.length === 0) for (const _ of names) ports.push(await freePort());
      for (let i = 0; i < proxies; i++) standIns.push(await startProxysqlStandIn());
      const client = new KubeClient(loadKubeConfig(join(dir, 'kubeconfig')));
      const secret = (name: string) =>
        ({
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: { name, namespace: 'default' },
          data: {
            username: Buffer.from('admin').toString('base64'),
            password: Buffer.from('admin').toString('base64'),
          },
        }) as unknown as KubeObject;
      await client.create(secrets, secret('proxysql-admin'));
      await client.create(secrets, secret('mysql-admin'));
      const { status: _status, ...mr } = replication('m0');
      await client.create(mysqlReplications, mr as unknown as KubeObject);
      const writeStatus = (primary: string) =>
        client.apply(mysqlReplications, replication(primary) as unknown as KubeObject, 'bench-mysqlreplication', {
          subresource: 'status',
        });
      await writeStatus('m0');
      manager = new Manager({ client, leaderElection: false });
      addProxysqlSync(manager, { resyncMs: 600_000, retryMs: 200 });
      await manager.start();
      await client.create(proxysqlSyncs, {
        apiVersion: 'upm.io/v1alpha1',
        kind: 'ProxysqlSync',
        metadata: { name: 'front', namespace: 'default' },
        spec: {
          mysqlReplication: { name: 'orders' },
          credentials: { admin: { name: 'proxysql-admin' } },
          proxysql: standIns.map((p, i) => ({ name: `p${i}`, host: p.host, port: p.port })),
          users: { enabled: false },
        },
      } as unknown as KubeObject);
      await until(() => standIns.every((p) => writerIs(p, ports[0])));
      const viaController: number[] = [];
      for (let n = 1; n <= switchovers; n++) {
        const to = n % 2;
        await until(() => standIns.every((p) => p.query('SELECT 1 FROM mysql_servers').length === 3));
        const started = performance.now();
        await writeStatus(names[to]);
        await until(() => standIns.every((p) => writerIs(p, ports[to])));
        viaController.push(performance.now() - started);
      }
      log(`proxysql: controller ${viaController.map((x) => x.toFixed(0)).join(' ')} ms`);

      // Reference: the driver alone, the same alternation on the same stand-ins.
      await manager.stop();
      manager = undefined;
      const marker = markerOf({ metadata: { name: 'front', namespace: 'default' } });
      const endpoints = new Map(names.map((name, i) => [name, { name, host: '127.0.0.1', port: ports[i] }]));
      const direct: number[] = [];
      for (let n = 1; n <= switchovers; n++) {
        const to = names[(switchovers + n) % 2];
        const desired = desiredServers(serverSettings(undefined), replication(to), endpoints, marker);
        if (!desired.ok) throw new Error(desired.message);
        const pass = () =>
          Promise.all(
            standIns.map((p) =>
              withProxysqlAdmin({ host: p.host, port: p.port, username: 'admin', password: 'admin' }, async (admin) => {
                const [servers, replicationHostgroups, pool] = await Promise.all([
                  admin.servers(),
                  admin.replicationHostgroups(),
                  admin.connectionPool(),
                ]);
                const plan = planServers(desired.desired, { servers, replicationHostgroups, pool }, marker);
                if (plan.changes.length > 0) await admin.apply(plan.changes);
              }),
            ),
          );
        const started = performance.now();
        await pass();
        direct.push(performance.now() - started);
        await pass(); // the drained rows go, untimed, as the controller's next pass does
      }
      const note =
        `median of ${switchovers} switchovers (status write → new writer ONLINE in runtime_mysql_servers of all ` +
        `${proxies} ProxySQL stand-ins, not a live ProxySQL); controller in-process, watch-triggered; users off`;
      const rows: Row[] = [
        row(
          this.name,
          null,
          `ProxySQL writer follows a switchover (${proxies} ProxySQL)`,
          median(viaController),
          'ms',
          'same changes by the driver alone',
          median(direct),
          note,
        ),
      ];
      return rows;
    } finally {
      await manager?.stop();
      for (const p of standIns) await p.close();
      await stopProcess(engine.proc);
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
