// The node runtime as users see it through the real kubectl: Pods of database images run as real
// redis-server and mariadbd processes on their own loopback addresses, with logs, exec, volumes,
// Services, restarts, and nothing left running when the engine or a node stops. Needs root on
// Linux (the CI runs as root); skipped otherwise.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanup, cliPath, repoRoot, startEngine, waitFor, type Engine, type KubectlResult } from './harness.js';

type Obj = Record<string, any>;
const version = '1.33';
const isRoot = process.platform === 'linux' && process.getuid?.() === 0;
const describeIfRoot = isRoot ? describe : describe.skip;

/** Pids of live processes whose root directory lies under `dir` (containers of that data dir). */
function processesUnder(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readlinkSync(`/proc/${entry}/root`).startsWith(dir)) pids.push(Number(entry));
    } catch {
      // gone, or a zombie
    }
  }
  return pids;
}

/** The pid of the process running a container (its root is the container's). */
function containerPid(dataDir: string, podUID: string, container: string): number | undefined {
  const prefix = join(dataDir, 'node', 'pods', podUID, 'containers', container);
  return processesUnder(prefix)[0];
}

/** Polls until `probe` returns a value (not undefined/false); fails after the timeout. */
async function poll<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** One RESP command; the first reply line. */
function redis(host: string, command: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port: 6379 });
    let data = '';
    s.setTimeout(2000, () => {
      s.destroy();
      reject(new Error('timeout'));
    });
    s.on('error', reject);
    s.on('connect', () => s.write(`*${command.length}\r\n${command.map((a) => `$${a.length}\r\n${a}\r\n`).join('')}`));
    s.on('data', (d) => {
      data += d.toString();
      if (data.includes('\r\n')) {
        s.destroy();
        resolve(data.split('\r\n')[0]);
      }
    });
  });
}

/** Whether something accepts TCP connections at host:port. */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    s.setTimeout(1000, () => {
      s.destroy();
      resolve(false);
    });
    s.on('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

describeIfRoot('node runtime: Pods of database images as processes', () => {
  let engine: Engine;
  const leaseSeconds = 4;
  beforeAll(async () => {
    engine = await startEngine({
      controllers: true,
      extraArgs: [
        '--node-lease-duration',
        `${leaseSeconds}s`,
        '--pod-cidr',
        '127.81.0.0/16',
        '--service-cluster-ip-range',
        '127.113.0.0/16',
      ],
    });
  }, 60_000);
  afterAll(async () => {
    if (!engine) return;
    await engine.stop();
    const left = processesUnder(engine.dataDir);
    cleanup(engine);
    expect(left).toEqual([]);
  }, 60_000);

  const run = (args: string[], input?: string, v = version): Promise<KubectlResult> =>
    engine.kubectl(v, args, input === undefined ? {} : { input });
  async function ok(args: string[], input?: string, v = version): Promise<string> {
    const r = await run(args, input, v);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}):\n${r.stderr}`);
    return r.stdout;
  }
  const getJSON = async (args: string[]): Promise<Obj> => JSON.parse(await ok([...args, '-o', 'json'])) as Obj;
  const create = (...docs: Obj[]) =>
    ok(['create', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: docs }));
  const readyPod = (name: string, timeoutMs = 30_000) =>
    waitFor(
      `pod ${name} Ready`,
      async () => {
        const p = await getJSON(['get', 'pod', name]);
        return ((p['status']?.conditions ?? []) as Obj[]).some((c) => c['type'] === 'Ready' && c['status'] === 'True');
      },
      timeoutMs,
    );

  const redisPod = (name: string, extra: Obj = {}): Obj => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { app: name } },
    spec: {
      terminationGracePeriodSeconds: 5,
      containers: [
        {
          name: 'redis',
          image: 'redis:7',
          ports: [{ name: 'redis', containerPort: 6379 }],
          readinessProbe: { exec: { command: ['redis-cli', 'ping'] }, periodSeconds: 1 },
        },
      ],
      ...extra,
    },
  });

  it('a redis:7 Pod becomes Running/Ready with a real redis-server; kubectl logs and exec reach it', async () => {
    const t0 = Date.now();
    await create(redisPod('cache'));
    await readyPod('cache');
    const readyMs = Date.now() - t0;
    const pod = await getJSON(['get', 'pod', 'cache']);
    expect(pod['status'].phase).toBe('Running');
    expect(pod['status'].podIP).toMatch(/^127\.81\./);
    expect(await redis(pod['status'].podIP, ['PING'])).toBe('+PONG');
    expect(await ok(['logs', 'cache'])).toContain('Ready to accept connections');
    expect((await ok(['logs', 'cache', '--tail=1', '--timestamps'])).trim()).toMatch(
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z \S/,
    );
    for (const v of ['1.33', '1.30'])
      expect((await ok(['exec', 'cache', '--', 'redis-cli', 'ping'], undefined, v)).trim()).toBe('PONG');
    expect((await ok(['exec', '-i', 'cache', '--', 'redis-cli'], 'PING\n')).trim()).toBe('PONG');
    const failing = await run(['exec', 'cache', '--', 'sh', '-c', 'exit 3']);
    expect(failing.code).toBe(3);
    // kubectl 1.29 speaks SPDY unless told otherwise: a clear refusal, not a hang.
    const spdy = await run(['exec', 'cache', '--', 'redis-cli', 'ping'], undefined, '1.29');
    expect(spdy.code).not.toBe(0);
    expect(spdy.stderr).toContain('kubectl 1.30 or newer');
    process.stdout.write(`redis:7 Pod Ready ${readyMs} ms after kubectl create\n`);
  }, 60_000);

  it('kill -9 of the container process: restarted at once, then with back-off; restartCount and lastState show it', async () => {
    const uid = (await getJSON(['get', 'pod', 'cache']))['metadata'].uid;
    const pid = await poll('redis-server of cache', () => containerPid(engine.dataDir, uid, 'redis'));
    process.kill(pid, 'SIGKILL');
    await waitFor('restart', async () => {
      const s = (await getJSON(['get', 'pod', 'cache']))['status'].containerStatuses?.[0];
      return s?.restartCount === 1 && s.state.running !== undefined;
    });
    const restarted = (await getJSON(['get', 'pod', 'cache']))['status'].containerStatuses[0];
    expect(restarted.lastState.terminated).toMatchObject({ exitCode: 137, reason: 'Error' });
    await readyPod('cache');
    expect(await ok(['logs', 'cache', '--previous'])).toContain('Ready to accept connections');

    const again = await poll('the restarted redis-server', () => {
      const p = containerPid(engine.dataDir, uid, 'redis');
      return p !== pid && p;
    });
    process.kill(again, 'SIGKILL');
    await waitFor('CrashLoopBackOff', async () =>
      (await ok(['get', 'pod', 'cache', '--no-headers'])).includes('CrashLoopBackOff'),
    );
    const waiting = (await getJSON(['get', 'pod', 'cache']))['status'].containerStatuses[0];
    expect(waiting.state.waiting.message).toMatch(
      /^back-off 10s restarting failed container=redis pod=cache_default\(/,
    );
    expect(waiting.restartCount).toBe(1);
    const described = await ok(['describe', 'pod', 'cache']);
    for (const reason of ['Scheduled', 'Created', 'Started', 'BackOff']) expect(described).toContain(reason);
    expect(described).not.toContain('Pulled');
    // After the back-off it runs again, restartCount 2.
    await waitFor(
      'restart after the back-off',
      async () => (await getJSON(['get', 'pod', 'cache']))['status'].containerStatuses[0].restartCount === 2,
      20_000,
    );
    await readyPod('cache');
  }, 60_000);

  it('deleting the Pod stops its process within the grace period', async () => {
    const uid = (await getJSON(['get', 'pod', 'cache']))['metadata'].uid;
    const pid = await poll('redis-server of cache', () => containerPid(engine.dataDir, uid, 'redis'));
    const t0 = Date.now();
    await ok(['delete', 'pod', 'cache', '--wait=false']);
    await waitFor('the process gone', async () => !processesUnder(engine.dataDir).includes(pid), 10_000);
    expect(Date.now() - t0).toBeLessThan(5_000);
  }, 30_000);

  it('MariaDB with a PVC and a ConfigMap my.cnf: rows survive the Pod; a changed ConfigMap reaches the file; an unready Pod leaves its Service', async () => {
    const db: Obj = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'db', labels: { app: 'db' } },
      spec: {
        terminationGracePeriodSeconds: 20,
        containers: [
          {
            name: 'mariadb',
            image: 'mariadb:11.4',
            env: [
              { name: 'MARIADB_ROOT_PASSWORD', valueFrom: { secretKeyRef: { name: 'db', key: 'root-password' } } },
              { name: 'MARIADB_DATABASE', value: 'shop' },
            ],
            ports: [{ name: 'mysql', containerPort: 3306 }],
            readinessProbe: {
              exec: {
                command: ['sh', '-c', 'test ! -e /tmp/unready && healthcheck.sh --connect --innodb_initialized'],
              },
              periodSeconds: 1,
            },
            volumeMounts: [
              { name: 'data', mountPath: '/var/lib/mysql' },
              { name: 'config', mountPath: '/etc/mysql/conf.d' },
            ],
          },
        ],
        volumes: [
          { name: 'data', persistentVolumeClaim: { claimName: 'data-db' } },
          { name: 'config', configMap: { name: 'db' } },
        ],
      },
    };
    await create(
      {
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        metadata: { name: 'data-db' },
        spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
      },
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'db' },
        data: { 'my.cnf': '[mariadb]\nmax_connections=77\n' },
      },
      { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db' }, stringData: { 'root-password': 's3cret' } },
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'db' },
        spec: { selector: { app: 'db' }, ports: [{ name: 'mysql', port: 3306, targetPort: 'mysql' }] },
      },
    );
    const t0 = Date.now();
    await create(db);
    await readyPod('db', 60_000);
    const readyMs = Date.now() - t0;
    const sql = (query: string) =>
      ok(['exec', 'db', '--', 'mariadb', '-uroot', '-ps3cret', '--batch', '--skip-column-names', '-e', query]);
    expect((await sql('SELECT @@max_connections')).trim()).toBe('77');
    await sql('CREATE TABLE shop.orders (id INT PRIMARY KEY); INSERT INTO shop.orders VALUES (1), (2), (3)');
    expect((await getJSON(['get', 'pvc', 'data-db']))['status'].phase).toBe('Bound');

    // The ClusterIP routes to the Pod (a MariaDB handshake starts with the protocol version 10).
    const clusterIP = (await getJSON(['get', 'service', 'db']))['spec'].clusterIP as string;
    expect(clusterIP).toMatch(/^127\.113\./);
    await waitFor('the ClusterIP routing', () => accepts(clusterIP, 3306), 5_000);

    await ok(['delete', 'pod', 'db']);
    await waitFor('db gone', async () => (await run(['get', 'pod', 'db'])).code !== 0, 30_000);
    const t1 = Date.now();
    await create(db);
    await readyPod('db', 60_000);
    const readyAgainMs = Date.now() - t1;
    expect((await sql('SELECT COUNT(*) FROM shop.orders')).trim()).toBe('3');

    await ok([
      'patch',
      'configmap',
      'db',
      '--type=merge',
      '-p',
      JSON.stringify({ data: { 'my.cnf': '[mariadb]\nmax_connections=88\n' } }),
    ]);
    await waitFor(
      'the new my.cnf in the Pod',
      async () => (await ok(['exec', 'db', '--', 'cat', '/etc/mysql/conf.d/my.cnf'])).includes('max_connections=88'),
      10_000,
    );

    await ok(['exec', 'db', '--', 'touch', '/tmp/unready']);
    const t2 = Date.now();
    await waitFor('the ClusterIP to stop routing', async () => !(await accepts(clusterIP, 3306)), 10_000);
    const outMs = Date.now() - t2;
    const slice = (await getJSON(['get', 'endpointslices', '-l', 'kubernetes.io/service-name=db']))['items'][0];
    expect(slice.endpoints[0].conditions).toMatchObject({ ready: false, serving: false });
    await ok(['exec', 'db', '--', 'rm', '/tmp/unready']);
    await waitFor('the ClusterIP routing again', () => accepts(clusterIP, 3306), 10_000);
    process.stdout.write(
      `mariadb:11.4 Pod Ready ${readyMs} ms after create (first start, data directory initialised), ${readyAgainMs} ms on the existing volume; out of its Service ${outMs} ms after its probe started failing\n`,
    );
  }, 180_000);

  it('a node attached with upm-engine node: killed, its processes are gone and it goes NotReady within the lease duration', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'upm-node-'));
    let node: ChildProcess | undefined;
    try {
      node = spawn(
        process.execPath,
        [
          cliPath,
          'node',
          '--kubeconfig',
          engine.kubeconfig,
          '--node-name',
          'edge',
          '--data-dir',
          dataDir,
          '--pod-cidr',
          '127.82.0.0/16',
          '--lease-duration',
          `${leaseSeconds}s`,
          '--kubelet-port',
          '0',
          '--log-format',
          'json',
        ],
        { stdio: 'ignore' },
      );
      await waitFor('node edge Ready', async () => {
        const r = await run(['get', 'node', 'edge', '-o', 'json']);
        return (
          r.code === 0 &&
          (JSON.parse(r.stdout).status?.conditions ?? []).some((c: Obj) => c.type === 'Ready' && c.status === 'True')
        );
      });
      await create(redisPod('edge-cache', { nodeName: 'edge' }));
      await readyPod('edge-cache');
      const pod = await getJSON(['get', 'pod', 'edge-cache']);
      expect(pod['status'].podIP).toMatch(/^127\.82\./);
      expect(await redis(pod['status'].podIP, ['PING'])).toBe('+PONG');
      expect(await ok(['logs', 'edge-cache'])).toContain('Ready to accept connections');
      expect(processesUnder(dataDir).length).toBeGreaterThan(0);

      const t0 = Date.now();
      node.kill('SIGKILL');
      await waitFor('its processes gone', async () => processesUnder(dataDir).length === 0, 5_000);
      await waitFor(
        'node edge NotReady',
        async () => (await ok(['get', 'node', 'edge', '--no-headers'])).includes('NotReady'),
        (leaseSeconds + 5) * 1000,
      );
      const notReadyMs = Date.now() - t0;
      expect(notReadyMs).toBeLessThan((leaseSeconds + 3) * 1000);
      const after = await getJSON(['get', 'pod', 'edge-cache']);
      expect(((after['status'].conditions ?? []) as Obj[]).find((c) => c['type'] === 'Ready')?.['status']).toBe(
        'False',
      );
      process.stdout.write(`node edge NotReady ${notReadyMs} ms after kill -9 (lease ${leaseSeconds}s)\n`);
    } finally {
      if (node && node.exitCode === null && node.signalCode === null) node.kill('SIGKILL');
      await run(['delete', 'pod', 'edge-cache', '--force', '--grace-period=0', '--wait=false']);
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);

  it('UnitSets from examples/ (3 MariaDB, 6 Redis cluster nodes) become real, reachable servers', async () => {
    for (const f of [
      'unittemplates/mariadb-community-10.11.8.yaml',
      'unittemplates/redis-cluster-community-7.2.5.yaml',
    ])
      await ok(['apply', '-f', join(repoRoot, 'examples', f)]);
    const t0 = Date.now();
    await ok([
      'apply',
      '-f',
      join(repoRoot, 'examples/unitsets/mariadb.yaml'),
      '-f',
      join(repoRoot, 'examples/unitsets/redis-cluster.yaml'),
    ]);
    // While nine database processes start on two cores, a read may find the aggregated API
    // briefly unavailable (503): that is a poll to repeat, not a failure.
    const readyUnits = async (name: string) =>
      ((await getJSON(['get', 'unitset', name]).catch(() => ({}) as Obj))['status']?.readyUnits ?? 0) as number;
    await waitFor(
      '3 + 6 ready Units',
      async () => (await readyUnits('orders-db')) === 3 && (await readyUnits('events-cache')) === 6,
      120_000,
    );
    const allReadyMs = Date.now() - t0;
    const pods = (await getJSON(['get', 'pods', '-l', 'upm.io/unitset in (orders-db,events-cache)']))['items'] as Obj[];
    expect(pods).toHaveLength(9);
    for (const p of pods) expect(p['spec'].nodeName).not.toMatch(/^node-\d$/);
    // Each MariaDB answers with its own server_id from the rendered config on its Pod IP; each Redis node
    // takes the password of its credential Secret and runs in cluster mode.
    const ids = new Set<string>();
    for (const p of pods.filter((x) => x['metadata'].name.startsWith('orders-db-'))) {
      const out = await ok([
        'exec',
        p['metadata'].name,
        '-c',
        'mariadb',
        '--',
        'sh',
        '-c',
        'mariadb -uroot -p"$(cat /etc/upm/credentials/admin/password)" -h "$POD_IP" --batch --skip-column-names -e "SELECT @@server_id, @@bind_address"',
      ]);
      const [id, bind] = out.trim().split('\t');
      expect(bind).toBe(p['status'].podIP);
      ids.add(id);
    }
    expect(ids.size).toBe(3);
    // The exporter sidecar of the template is Debian's mysqld exporter, scraping its own server.
    for (const p of pods.filter((x) => x['metadata'].name.startsWith('orders-db-'))) {
      const metrics = await (await fetch(`http://${p['status'].podIP}:9104/metrics`)).text();
      expect(metrics).toMatch(/^mysql_up 1$/m);
    }
    // The password of the credential Secret the Cube generated.
    const secret = await getJSON(['get', 'secret', 'events-cache-admin']);
    const password = Buffer.from(secret['data'].password, 'base64').toString('utf8');
    for (const p of pods.filter((x) => x['metadata'].name.startsWith('events-cache-'))) {
      expect(await redis(p['status'].podIP, ['AUTH', password])).toBe('+OK');
      const metrics = await (await fetch(`http://${p['status'].podIP}:9121/metrics`)).text();
      expect(metrics).toMatch(/^redis_up 1$/m);
    }
    const cluster = await ok([
      'exec',
      'events-cache-0',
      '-c',
      'redis-cluster',
      '--',
      'sh',
      '-c',
      'redis-cli -a "$(cat /etc/upm/credentials/admin/password)" --no-auth-warning cluster info',
    ]);
    // In cluster mode, on its own until RedisCluster forms the cluster.
    expect(cluster).toContain('cluster_known_nodes:1');

    // Volumes: bound by the local provisioner; growing the UnitSet's volume grows every claim
    // (expansion allowed by the local-path class), and each Unit says so in VolumesReady.
    const volumesReady = async (unit: string) =>
      ((await getJSON(['get', 'unit', unit]))['status']?.conditions ?? []).find(
        (c: Obj) => c['type'] === 'VolumesReady',
      ) as Obj | undefined;
    for (const u of ['orders-db-0', 'orders-db-1', 'orders-db-2'])
      await waitFor(`${u} VolumesReady`, async () => (await volumesReady(u))?.['reason'] === 'Bound', 20_000);
    await ok([
      'patch',
      'unitset',
      'orders-db',
      '--type=json',
      '-p',
      '[{"op":"replace","path":"/spec/storage/volumes/0/size","value":"3Gi"}]',
    ]);
    await waitFor(
      'claims grown to 3Gi and VolumesReady again',
      async () => {
        const claims = (await getJSON(['get', 'pvc', '-l', 'upm.io/unitset=orders-db']))['items'] as Obj[];
        if (claims.length !== 3 || claims.some((c) => c['status']?.capacity?.storage !== '3Gi')) return false;
        for (const u of ['orders-db-0', 'orders-db-1', 'orders-db-2']) {
          const c = await volumesReady(u);
          if (c?.['status'] !== 'True' || c?.['reason'] !== 'Bound') return false;
        }
        return true;
      },
      60_000,
    );
    process.stdout.write(
      `examples: 3 MariaDB + 6 Redis cluster Units all Ready ${allReadyMs} ms after kubectl apply\n`,
    );
  }, 180_000);

  it('kill -9 of the engine leaves no process behind; the next start runs the Pods again', async () => {
    const pod = await getJSON(['get', 'pod', 'db']);
    const before = pod['status'].containerStatuses[0].restartCount as number;
    expect(processesUnder(engine.dataDir).length).toBeGreaterThan(0);
    await engine.stop('SIGKILL');
    await waitFor('no process of the killed engine', async () => processesUnder(engine.dataDir).length === 0, 5_000);
    engine = await startEngine({
      controllers: true,
      dataDir: engine.dataDir,
      port: engine.port,
      extraArgs: [
        '--node-lease-duration',
        `${leaseSeconds}s`,
        '--pod-cidr',
        '127.81.0.0/16',
        '--service-cluster-ip-range',
        '127.113.0.0/16',
      ],
    });
    await readyPod('db', 60_000);
    const again = await getJSON(['get', 'pod', 'db']);
    expect(again['status'].podIP).toBe(pod['status'].podIP);
    expect(again['status'].containerStatuses[0].restartCount).toBe(before + 1);
    expect(again['status'].containerStatuses[0].lastState.terminated.exitCode).toBe(137);
  }, 120_000);
});
