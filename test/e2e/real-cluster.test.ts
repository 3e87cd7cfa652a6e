// End-to-end against a real control plane (test/cluster: etcd, kube-apiserver, its aggregator,
// kube-controller-manager, kube-scheduler, kwok, built by hack/kubernetes/build.sh) with
// `upm-engine apiserver` registered behind it through an APIService: what only real Kubernetes
// can show. kubectl 1.27 and 1.33 through kube-apiserver's discovery merging and OpenAPI
// aggregation; the real namespace controller deleting the upm.io objects of a namespace
// through our discovery; the real garbage collector, which watches our kinds with
// metadata-only informers, deleting dependents across the two servers.

import { startRealCluster, type RealCluster } from '../cluster/cluster.js';
import { runKubectl, type KubectlResult } from '../cluster/kubectl.js';

type Obj = Record<string, any>;

/** Rows of a kubectl table, keyed by header (values under their header's column start). */
function table(stdout: string): Record<string, string>[] {
  const lines = stdout.split('\n').filter((l) => l.trim() !== '');
  if (lines.length === 0) return [];
  const columns = [...lines[0]!.matchAll(/\S+/g)].map((m) => ({ name: m[0], start: m.index }));
  return lines
    .slice(1)
    .map((line) =>
      Object.fromEntries(
        columns.map((c, i) => [
          c.name,
          line.slice(c.start, i + 1 < columns.length ? columns[i + 1]!.start : undefined).trim(),
        ]),
      ),
    );
}

const upmKinds = [
  { NAME: 'mysqlreplications', SHORTNAMES: 'mr', NAMESPACED: 'true', KIND: 'MysqlReplication' },
  { NAME: 'proxysqlsyncs', SHORTNAMES: 'ps', NAMESPACED: 'true', KIND: 'ProxysqlSync' },
  { NAME: 'redisclusters', SHORTNAMES: 'rcc', NAMESPACED: 'true', KIND: 'RedisCluster' },
  { NAME: 'redisreplications', SHORTNAMES: 'rr', NAMESPACED: 'true', KIND: 'RedisReplication' },
  { NAME: 'sidecarsets', SHORTNAMES: 'sds', NAMESPACED: 'false', KIND: 'SidecarSet' },
  { NAME: 'units', SHORTNAMES: 'un', NAMESPACED: 'true', KIND: 'Unit' },
  { NAME: 'unitsets', SHORTNAMES: 'us', NAMESPACED: 'true', KIND: 'UnitSet' },
  { NAME: 'unittemplates', SHORTNAMES: 'ut', NAMESPACED: 'false', KIND: 'UnitTemplate' },
];

function unitSet(name: string, units = 1): string {
  return JSON.stringify({
    apiVersion: 'upm.io/v1alpha1',
    kind: 'UnitSet',
    metadata: { name },
    spec: { type: 'mysql', version: '8.0.36', units },
  });
}

interface OwnerRef {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
}

const ownedBy = (owner: OwnerRef) => [{ ...owner, controller: true, blockOwnerDeletion: true }];

function unit(name: string, owner: OwnerRef): string {
  return JSON.stringify({
    apiVersion: 'upm.io/v1alpha1',
    kind: 'Unit',
    metadata: { name, ownerReferences: ownedBy(owner) },
    spec: {
      unitTemplate: 'mysql-community-8.0.36',
      podTemplate: { spec: { containers: [{ name: 'mysql', image: 'mysql:8.0.36' }] } },
    },
  });
}

function configMap(name: string, owner: OwnerRef): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, ownerReferences: ownedBy(owner) },
    data: { owner: owner.name },
  });
}

/** Polls until `cond` holds; bounded, with the last observation in the error. */
async function eventually(what: string, cond: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('a real control plane (kube-apiserver and its aggregator in front of upm-engine apiserver)', () => {
  let cluster: RealCluster | undefined;

  beforeAll(async () => {
    cluster = await startRealCluster({ nodes: 1 });
  }, 240_000);

  afterAll(async () => {
    await cluster?.stop();
  }, 60_000);

  const run = (version: string, args: string[], input?: string): Promise<KubectlResult> =>
    cluster!.kubectl(version, args, input === undefined ? {} : { input });

  async function ok(version: string, args: string[], input?: string): Promise<string> {
    const r = await run(version, args, input);
    if (r.code !== 0)
      throw new Error(`kubectl ${args.join(' ')} exited with ${r.code}\nstderr: ${r.stderr}\nstdout: ${r.stdout}`);
    return r.stdout;
  }

  const getJSON = async (args: string[]): Promise<Obj> => JSON.parse(await ok('1.33', ['get', ...args, '-o', 'json']));

  /** True once `kubectl get` answers NotFound for the object. */
  const gone = async (args: string[], kubeconfig?: string): Promise<boolean> => {
    const r = kubeconfig
      ? await runKubectl('1.33', kubeconfig, cluster!.cacheDir + '-direct', ['get', ...args])
      : await run('1.33', ['get', ...args]);
    if (r.code === 0) return false;
    if (/NotFound/.test(r.stderr)) return true;
    throw new Error(`kubectl get ${args.join(' ')} failed: ${r.stderr}`);
  };

  const ref = (o: Obj): OwnerRef => ({
    apiVersion: o['apiVersion'],
    kind: o['kind'],
    name: o['metadata'].name,
    uid: o['metadata'].uid,
  });

  it('reports the pinned Kubernetes version', async () => {
    const version = JSON.parse(await ok('1.33', ['version', '-o', 'json']));
    expect(version.serverVersion.gitVersion).toBe(cluster!.kubeVersion);
  });

  describe.each(['1.27', '1.33'])('kubectl %s', (version) => {
    const ns = `kubectl-${version.replace('.', '-')}`;
    beforeAll(async () => {
      await ok(version, ['create', 'namespace', ns]);
    });

    it('api-resources --api-group=upm.io lists the eight kinds from the merged discovery', async () => {
      const rows = table(await ok(version, ['api-resources', '--api-group=upm.io']));
      expect(
        rows.map(({ NAME, SHORTNAMES, APIVERSION, NAMESPACED, KIND }) => ({
          NAME,
          SHORTNAMES,
          APIVERSION,
          NAMESPACED,
          KIND,
        })),
      ).toEqual(upmKinds.map((k) => ({ ...k, APIVERSION: 'upm.io/v1alpha1' })));
    });

    it('explain unitset.spec documents the fields from the aggregated OpenAPI', async () => {
      const out = await ok(version, ['explain', 'unitset.spec']);
      expect(out).toMatch(/^KIND:\s+UnitSet$/m);
      expect(out).toContain('Desired state of a UnitSet.');
      expect(out).toMatch(/^ {2}units\t<integer> -required-\n {4}Desired number of Units\./m);
      expect(out).toMatch(/^ {2}type\t<string> -required-\n {4}Service type, for example mysql/m);
    });

    it('creates, gets, lists, patches and deletes a UnitSet', async () => {
      expect(await ok(version, ['create', '-n', ns, '-f', '-'], unitSet('db'))).toBe('unitset.upm.io/db created\n');

      const rows = table(await ok(version, ['get', 'us', 'db', '-n', ns]));
      expect(rows).toEqual([expect.objectContaining({ NAME: 'db', TYPE: 'mysql', VERSION: '8.0.36', UNITS: '1' })]);
      expect(Object.keys(rows[0]!)).toEqual(['NAME', 'TYPE', 'VERSION', 'UNITS', 'READY', 'STATUS', 'AGE']);

      await ok(version, ['create', '-n', ns, '-f', '-'], unitSet('cache', 2));
      expect(await ok(version, ['get', 'unitsets', '-n', ns, '-o', 'name'])).toBe(
        'unitset.upm.io/cache\nunitset.upm.io/db\n',
      );

      expect(await ok(version, ['patch', 'us', 'db', '-n', ns, '--type=merge', '-p', '{"spec":{"units":3}}'])).toBe(
        'unitset.upm.io/db patched\n',
      );
      const db = await getJSON(['us', 'db', '-n', ns]);
      expect(db['spec'].units).toBe(3);
      expect(db['metadata'].generation).toBe(2);

      expect(await ok(version, ['delete', 'us', 'db', '-n', ns])).toMatch(/^unitset\.upm\.io "db" deleted/);
      const r = await run(version, ['get', 'us', 'db', '-n', ns]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain('Error from server (NotFound): unitsets.upm.io "db" not found');
      expect(await ok(version, ['get', 'us', '-n', ns, '-o', 'name'])).toBe('unitset.upm.io/cache\n');
    });
  });

  it('the view and edit roles include upm.io through config/apiservice/aggregate-roles.yaml (--as)', async () => {
    await ok('1.33', ['create', 'namespace', 'rbac']);
    await ok('1.33', ['create', 'rolebinding', 'alice-view', '--clusterrole=view', '--user=alice', '-n', 'rbac']);
    await ok('1.33', ['create', 'rolebinding', 'bob-edit', '--clusterrole=edit', '--user=bob', '-n', 'rbac']);
    // The clusterrole-aggregation controller folds upm-io:aggregate-to-* into view and edit.
    await eventually('edit to include unitsets', async () =>
      (await getJSON(['clusterrole', 'edit'])).rules.some((r: Obj) => r.resources?.includes('unitsets/scale')),
    );

    expect(await ok('1.33', ['auth', 'can-i', 'list', 'unitsets.upm.io', '--as=alice', '-n', 'rbac'])).toBe('yes\n');
    const denied = await run('1.33', ['create', '-n', 'rbac', '--as=alice', '-f', '-'], unitSet('viewer'));
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toContain(
      'unitsets.upm.io is forbidden: User "alice" cannot create resource "unitsets" in API group "upm.io" in the namespace "rbac"',
    );

    expect(await ok('1.33', ['create', '-n', 'rbac', '--as=bob', '-f', '-'], unitSet('editor'))).toBe(
      'unitset.upm.io/editor created\n',
    );
    expect(await ok('1.33', ['scale', 'us/editor', '--replicas=2', '-n', 'rbac', '--as=bob'])).toBe(
      'unitset.upm.io/editor scaled\n',
    );
    expect(await ok('1.33', ['get', 'us', '-n', 'rbac', '--as=alice', '-o', 'name'])).toBe('unitset.upm.io/editor\n');
    const elsewhere = await run('1.33', ['get', 'us', '-n', 'default', '--as=bob']);
    expect(elsewhere.stderr).toContain(
      'unitsets.upm.io is forbidden: User "bob" cannot list resource "unitsets" in API group "upm.io" in the namespace "default"',
    );
  });

  it("the namespace controller deletes a namespace's UnitSets and Units through our discovery", async () => {
    await ok('1.33', ['create', 'namespace', 'doomed']);
    await ok('1.33', ['create', '-n', 'doomed', '-f', '-'], unitSet('orders'));
    await ok('1.33', ['create', '-n', 'doomed', '-f', '-'], unitSet('carts'));
    const orders = await getJSON(['us', 'orders', '-n', 'doomed']);
    await ok('1.33', ['create', '-n', 'doomed', '-f', '-'], unit('orders-0', ref(orders)));

    await ok('1.33', ['delete', 'namespace', 'doomed', '--wait=false']);
    await eventually('namespace doomed to be gone', () => gone(['namespace', 'doomed']), 90_000);

    // Asked of the upm.io server directly: nothing of the namespace is left in its storage.
    const direct = await runKubectl('1.33', cluster!.upmKubeconfig, cluster!.cacheDir + '-direct', [
      'get',
      'unitsets,units',
      '-n',
      'doomed',
      '-o',
      'name',
    ]);
    expect(direct).toMatchObject({ code: 0, stdout: '' });
  }, 120_000);

  describe('the garbage collector', () => {
    beforeAll(async () => {
      await ok('1.33', ['create', 'namespace', 'gc']);
    });

    /** A UnitSet with two Units and a ConfigMap (stored by kube-apiserver) that it owns. */
    async function family(name: string): Promise<Obj> {
      await ok('1.33', ['create', '-n', 'gc', '-f', '-'], unitSet(name, 2));
      const owner = await getJSON(['us', name, '-n', 'gc']);
      for (const dependent of [
        unit(`${name}-0`, ref(owner)),
        unit(`${name}-1`, ref(owner)),
        configMap(name, ref(owner)),
      ])
        await ok('1.33', ['create', '-n', 'gc', '-f', '-'], dependent);
      return owner;
    }

    const dependentsGone = async (name: string) =>
      (await gone(['unit', `${name}-0`, '-n', 'gc'])) &&
      (await gone(['unit', `${name}-1`, '-n', 'gc'])) &&
      (await gone(['configmap', name, '-n', 'gc']));

    it('deletes the Units and the ConfigMap of a UnitSet deleted with background propagation', async () => {
      await family('bg');
      await ok('1.33', ['delete', 'us', 'bg', '-n', 'gc', '--cascade=background']);
      expect(await gone(['us', 'bg', '-n', 'gc'])).toBe(true);
      await eventually('the dependents of bg to be deleted', () => dependentsGone('bg'));
    }, 90_000);

    it('keeps a UnitSet deleted with foreground propagation until its Units and ConfigMap are gone', async () => {
      await family('fg');
      // kubectl waits until the owner itself is gone: by then its blocking dependents must be.
      await ok('1.33', ['delete', 'us', 'fg', '-n', 'gc', '--cascade=foreground', '--timeout=60s']);
      expect(await dependentsGone('fg')).toBe(true);
    }, 90_000);

    // upm-engine apiserver runs no collector of its own on a cluster (--enable-garbage-collector is
    // off): kube-controller-manager's keeps the owner until every blocking dependent is gone.
    it('keeps a UnitSet deleted with foreground propagation while a blocking ConfigMap waits on its finalizer', async () => {
      await ok('1.33', ['create', '-n', 'gc', '-f', '-'], unitSet('held-fg'));
      const owner = await getJSON(['us', 'held-fg', '-n', 'gc']);
      const cm = JSON.parse(configMap('held-fg', ref(owner)));
      cm.metadata.finalizers = ['test.upm.io/hold'];
      await ok('1.33', ['create', '-n', 'gc', '-f', '-'], JSON.stringify(cm));

      await ok('1.33', ['delete', 'us', 'held-fg', '-n', 'gc', '--cascade=foreground', '--wait=false']);
      await eventually('the garbage collector to delete ConfigMap held-fg', async () => {
        const c = await getJSON(['configmap', 'held-fg', '-n', 'gc']);
        return c['metadata'].deletionTimestamp !== undefined;
      });
      // The ConfigMap still exists (its finalizer holds it), so the owner must stay too.
      await new Promise((r) => setTimeout(r, 2_000));
      const waiting = await getJSON(['us', 'held-fg', '-n', 'gc']);
      expect(waiting['metadata'].deletionTimestamp).toBeDefined();
      expect(waiting['metadata'].finalizers).toEqual(['foregroundDeletion']);

      await ok('1.33', [
        'patch',
        'configmap',
        'held-fg',
        '-n',
        'gc',
        '--type=merge',
        '-p',
        '{"metadata":{"finalizers":null}}',
      ]);
      await eventually('UnitSet held-fg to be gone', () => gone(['us', 'held-fg', '-n', 'gc']));
    }, 90_000);

    it('orphans the Units and the ConfigMap of a UnitSet deleted with orphan propagation', async () => {
      await family('orphan');
      await ok('1.33', ['delete', 'us', 'orphan', '-n', 'gc', '--cascade=orphan']);
      expect(await gone(['us', 'orphan', '-n', 'gc'])).toBe(true);
      await new Promise((r) => setTimeout(r, 2_000)); // a collector that wrongly deletes them has had its chance
      for (const dependent of [
        ['unit', 'orphan-0'],
        ['unit', 'orphan-1'],
        ['configmap', 'orphan'],
      ]) {
        const o = await getJSON([...dependent, '-n', 'gc']);
        expect(o['metadata'].deletionTimestamp).toBeUndefined();
        expect(o['metadata'].ownerReferences).toBeUndefined();
      }
    }, 90_000);

    it('deletes a Unit whose owner, a ConfigMap, was deleted', async () => {
      await ok(
        '1.33',
        ['create', '-n', 'gc', '-f', '-'],
        JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'holder' } }),
      );
      const holder = await getJSON(['configmap', 'holder', '-n', 'gc']);
      await ok('1.33', ['create', '-n', 'gc', '-f', '-'], unit('held', { ...ref(holder), apiVersion: 'v1' }));
      await ok('1.33', ['delete', 'configmap', 'holder', '-n', 'gc']);
      await eventually('Unit held to be deleted', () => gone(['unit', 'held', '-n', 'gc']));
    }, 90_000);
  });
});
