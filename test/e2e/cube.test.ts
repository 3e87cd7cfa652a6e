// Tesseract Cube as a user meets it: `upm-engine local` (controllers in-process) and the real
// kubectl. A MariaDB UnitSet from examples/ becomes Units, Pods, claims, rendered ConfigMaps,
// Services and a PodDisruptionBudget; scaling, parameter changes and template changes do what
// the docs say; objects deleted or edited by hand are put back, foreign fields are left alone.

import { join } from 'node:path';
import { cleanup, kubectlHelpers, repoRoot, startEngine, waitFor, type Engine } from './harness.js';

let engine: Engine;
const { k, ok, json } = kubectlHelpers(() => engine);
const names = async (kind: string, selector = 'upm.io/unitset=orders-db') =>
  ((await json('get', kind, '-l', selector)).items as { metadata: { name: string } }[])
    .map((i) => i.metadata.name)
    .sort();
const podUIDs = async (): Promise<Record<string, string>> =>
  Object.fromEntries(
    ((await json('get', 'pods', '-l', 'upm.io/unitset=orders-db')).items as any[])
      .filter((p) => !p.metadata.deletionTimestamp)
      .map((p) => [p.metadata.name, p.metadata.uid]),
  );
const condition = async (type: string) =>
  ((await json('get', 'us', 'orders-db')).status?.conditions ?? []).find((c: any) => c.type === type);

async function waitReady(units: number, timeoutMs = 30_000) {
  await waitFor(
    `${units} ready Units at the update revision`,
    async () => {
      const us = await json('get', 'us', 'orders-db');
      const s = us.status ?? {};
      return (
        s.observedGeneration === us.metadata.generation &&
        s.units === units &&
        s.readyUnits === units &&
        s.updatedUnits === units &&
        s.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True')
      );
    },
    timeoutMs,
  );
}

beforeAll(async () => {
  // The controllers' own handling of bad input (a bad parameter override as a Degraded
  // condition): admission, which rejects such a write first, is tested in admission.test.ts.
  // The controllers against simulated Pods; node-runtime.test.ts runs a UnitSet's Pods as processes.
  engine = await startEngine({ controllers: true, extraArgs: ['--webhooks=false', '--simulate-pods-only'] });
  await ok('apply', '-f', join(repoRoot, 'examples/unittemplates/mariadb-community-10.11.8.yaml'));
}, 60_000);

afterAll(async () => {
  await engine?.stop();
  if (engine) cleanup(engine);
});

describe('a MariaDB UnitSet', () => {
  it('becomes 3 Units with Pods, claims, rendered my.cnf, Services and a PDB, and turns Available', async () => {
    await ok('apply', '-f', join(repoRoot, 'examples/unitsets/mariadb.yaml'));
    await ok('wait', '--for=condition=Available', 'us/orders-db', '--timeout=30s');
    await waitReady(3);
    const units = ['orders-db-0', 'orders-db-1', 'orders-db-2'];
    expect(await names('units')).toEqual(units);
    expect(await names('pods')).toEqual(units);
    expect(await names('pvc')).toEqual(units.map((u) => `${u}-data`));
    expect(await names('cm', 'upm.io/unit')).toEqual(units.map((u) => `${u}-config`));
    expect(await names('svc')).toEqual(['orders-db', 'orders-db-headless']);
    expect(await names('pdb')).toEqual(['orders-db']);
    // The accounts the template declares get generated Secrets, once.
    const admin = await json('get', 'secret', 'orders-db-admin');
    expect(Buffer.from(admin.data.password, 'base64').toString()).toMatch(/^[A-Za-z0-9]{24}$/);
    const cnf = (await json('get', 'cm', 'orders-db-1-config')).data['upm.cnf'] as string;
    expect(cnf).toContain('max_connections = 500');
    expect(cnf).toContain('server_id = 1001');
    expect(cnf).toMatch(/innodb_buffer_pool_size = \d+/);
    // The UnitSet's own columns tell progress.
    const table = await ok('get', 'us', 'orders-db');
    expect(table.split('\n')[1]).toMatch(/^orders-db\s+mariadb\s+10\.11\.8\s+3\s+3\s+UnitsReady\s/);
    const unit = await json('get', 'unit', 'orders-db-0');
    expect(unit.metadata.ownerReferences[0]).toMatchObject({ kind: 'UnitSet', name: 'orders-db', controller: true });
    expect(unit.status).toMatchObject({ ready: true, podIP: expect.any(String), nodeName: expect.any(String) });
  });

  it('scales to 5 and back to 2 from the highest ordinal, deleting claims as whenScaled says', async () => {
    await ok('scale', 'us/orders-db', '--replicas=5');
    await waitReady(5);
    expect(await names('pods')).toHaveLength(5);
    await ok('scale', 'us/orders-db', '--replicas=2');
    await waitFor('2 Units and their claims', async () => (await names('units')).length === 2, 20_000);
    expect(await names('units')).toEqual(['orders-db-0', 'orders-db-1']);
    await waitFor(
      'claims of removed Units deleted (whenScaled: Delete)',
      async () => (await names('pvc')).join() === 'orders-db-0-data,orders-db-1-data',
    );
    await waitFor('Pods of removed Units gone', async () => (await names('pods')).length === 2);
    await waitReady(2);
  });

  it('changes a dynamic parameter in the ConfigMap without replacing the Pod; a restart parameter replaces it', async () => {
    const before = await podUIDs();
    const revision = (await json('get', 'pod', 'orders-db-0')).metadata.annotations['upm.io/config-revision'];
    await ok(
      'patch',
      'us/orders-db',
      '--type=merge',
      '-p',
      '{"spec":{"config":{"parameters":{"max_connections":"800"}}}}',
    );
    await waitFor('the ConfigMap to carry the new value', async () =>
      ((await json('get', 'cm', 'orders-db-0-config')).data['upm.cnf'] as string).includes('max_connections = 800'),
    );
    await waitFor('the Pod to carry the new config revision', async () => {
      const now = (await json('get', 'pod', 'orders-db-0')).metadata.annotations['upm.io/config-revision'];
      return now !== revision;
    });
    await waitReady(2);
    expect(await podUIDs()).toEqual(before);

    await ok(
      'patch',
      'us/orders-db',
      '--type=merge',
      '-p',
      '{"spec":{"config":{"parameters":{"performance_schema":"true"}}}}',
    );
    await waitFor(
      'every Pod to be replaced',
      async () => {
        const now = await podUIDs();
        return Object.keys(now).length === 2 && Object.entries(now).every(([n, uid]) => before[n] !== uid);
      },
      30_000,
    );
    await waitReady(2);
  });

  it('rolls a template change one Unit at a time, replicas before the labelled primary, and honours partition', async () => {
    await ok('scale', 'us/orders-db', '--replicas=3');
    await waitReady(3);
    // The replication controller labels the primary's Pod; Cube updates it last.
    await ok('label', 'pod', 'orders-db-1', 'upm.io/role=primary');
    const before = await podUIDs();
    const order: string[] = [];
    let maxReplacing = 0;
    const poll = setInterval(() => {
      podUIDs().then(
        (now) => {
          let replacing = 0;
          for (const name of Object.keys(before)) {
            if (now[name] !== before[name] && !order.includes(name)) order.push(name);
            if (!now[name]) replacing++;
          }
          maxReplacing = Math.max(maxReplacing, replacing);
        },
        () => undefined,
      );
    }, 100);
    try {
      await ok(
        'patch',
        'ut/mariadb-community-10.11.8',
        '--type=json',
        '-p',
        '[{"op":"replace","path":"/spec/podTemplate/spec/containers/0/image","value":"mariadb:10.11.9"}]',
      );
      await waitFor('all three Pods replaced', async () => order.length === 3, 45_000);
      await waitReady(3, 45_000);
    } finally {
      clearInterval(poll);
    }
    expect(order[2]).toBe('orders-db-1'); // the primary last
    expect(order.slice(0, 2)).toEqual(['orders-db-2', 'orders-db-0']); // replicas from the highest ordinal
    expect(maxReplacing).toBeLessThanOrEqual(1); // maxUnavailable: 1
    const images = ((await json('get', 'pods', '-l', 'upm.io/unitset=orders-db')).items as any[]).map(
      (p) => p.spec.containers.find((c: any) => c.name === 'mariadb').image,
    );
    expect(images).toEqual(['mariadb:10.11.9', 'mariadb:10.11.9', 'mariadb:10.11.9']);

    // partition 2: only orders-db-2 moves to the next revision; 0 and 1 are held.
    await ok(
      'patch',
      'us/orders-db',
      '--type=merge',
      '-p',
      '{"spec":{"updateStrategy":{"rollingUpdate":{"partition":2}}}}',
    );
    const held = await podUIDs();
    await ok(
      'patch',
      'ut/mariadb-community-10.11.8',
      '--type=json',
      '-p',
      '[{"op":"replace","path":"/spec/podTemplate/spec/containers/0/image","value":"mariadb:10.11.10"}]',
    );
    await waitFor(
      'the partition to be reached',
      async () => (await condition('Progressing'))?.reason === 'PartitionReached',
      30_000,
    );
    const after = await podUIDs();
    expect(after['orders-db-2']).not.toBe(held['orders-db-2']);
    expect(after['orders-db-0']).toBe(held['orders-db-0']);
    expect(after['orders-db-1']).toBe(held['orders-db-1']);
    // Lowering the partition lets the rest follow.
    await ok(
      'patch',
      'us/orders-db',
      '--type=merge',
      '-p',
      '{"spec":{"updateStrategy":{"rollingUpdate":{"partition":0}}}}',
    );
    await waitReady(3, 45_000);
  });

  it('puts back what was deleted or edited by hand and leaves fields others own alone', async () => {
    await ok('label', 'pod', 'orders-db-0', 'team=payments');
    await ok('delete', 'cm', 'orders-db-0-config');
    await ok('delete', 'svc', 'orders-db-headless');
    await ok('patch', 'cm', 'orders-db-1-config', '--type=merge', '-p', '{"data":{"upm.cnf":"edited by hand"}}');
    await ok('delete', 'unit', 'orders-db-2', '--wait=false');
    await waitFor('the ConfigMap recreated', async () =>
      (await names('cm', 'upm.io/unit')).includes('orders-db-0-config'),
    );
    await waitFor('the headless Service recreated', async () => (await names('svc')).includes('orders-db-headless'));
    await waitFor('the edited ConfigMap restored', async () =>
      ((await json('get', 'cm', 'orders-db-1-config')).data['upm.cnf'] as string).includes('[mariadbd]'),
    );
    await waitFor(
      'the deleted Unit recreated',
      async () => {
        const u = await k('get', 'unit', 'orders-db-2', '-o', 'json');
        return u.code === 0 && !JSON.parse(u.stdout).metadata.deletionTimestamp;
      },
      30_000,
    );
    await waitReady(3, 30_000);
    expect((await json('get', 'pod', 'orders-db-0')).metadata.labels.team).toBe('payments');
  });

  it('reports a missing template and a bad parameter as conditions and events, and creates nothing', async () => {
    const bad = `apiVersion: upm.io/v1alpha1
kind: UnitSet
metadata: {name: broken-db}
spec: {type: mariadb, version: 10.11.99, units: 2}
`;
    const r = await engine.kubectl('1.33', ['apply', '-f', '-'], { input: bad });
    expect(r.code).toBe(0);
    await waitFor('TemplateResolved=False', async () => {
      const us = await json('get', 'us', 'broken-db');
      return us.status?.conditions?.some((c: any) => c.type === 'TemplateResolved' && c.reason === 'TemplateNotFound');
    });
    expect(await names('units', 'upm.io/unitset=broken-db')).toEqual([]);
    const events = await ok('get', 'events', '--field-selector', 'involvedObject.name=broken-db');
    expect(events).toContain('TemplateNotFound');

    await ok(
      'patch',
      'us/orders-db',
      '--type=merge',
      '-p',
      '{"spec":{"config":{"parameters":{"max_connections":"5"}}}}',
    );
    await waitFor('Degraded with the parameter named', async () => {
      const c = await condition('Degraded');
      return c?.status === 'True' && /max_connections/.test(c.message);
    });
    const pods = await podUIDs();
    await new Promise((r) => setTimeout(r, 500));
    expect(await podUIDs()).toEqual(pods);
    await ok(
      'patch',
      'us/orders-db',
      '--type=merge',
      '-p',
      '{"spec":{"config":{"parameters":{"max_connections":"800"}}}}',
    );
    await waitFor('Degraded cleared', async () => (await condition('Degraded'))?.status === 'False');
  });

  it('deleting the UnitSet removes its Units, Pods, Services, ConfigMaps and PDB; retained claims stay', async () => {
    await ok('delete', 'us', 'orders-db', '--timeout=30s');
    await waitFor(
      'everything made for it gone',
      async () => {
        const [units, pods, svcs, cms, pdbs] = await Promise.all([
          names('units'),
          names('pods'),
          names('svc'),
          names('cm', 'upm.io/unit'),
          names('pdb'),
        ]);
        return [units, pods, svcs, cms, pdbs].every((l) => l.length === 0);
      },
      30_000,
    );
    // whenDeleted: Retain keeps the data of the last Units.
    expect(await names('pvc')).toEqual(['orders-db-0-data', 'orders-db-1-data', 'orders-db-2-data']);
  });
});
