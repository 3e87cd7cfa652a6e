// End-to-end: the parts of the API contract beyond plain CRUD that GitOps tools, kubectl and the
// garbage collector rely on, driven with the real kubectl 1.27 and 1.33.

import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify as stringifyYAML } from 'yaml';
import { controlPlanes, type KubectlResult, type KubectlTarget, startControlPlane } from './harness.js';

type Obj = Record<string, any>;

function unitSet(name: string, units: number, extra: Obj = {}): Obj {
  return {
    apiVersion: 'upm.io/v1alpha1',
    kind: 'UnitSet',
    metadata: { name, ...extra },
    spec: { type: 'mysql', version: '8.0.36', units },
  };
}

function unit(name: string, owner: Obj): Obj {
  return {
    apiVersion: 'upm.io/v1alpha1',
    kind: 'Unit',
    metadata: {
      name,
      labels: { 'upm.io/unitset': owner['metadata'].name },
      ownerReferences: [
        {
          apiVersion: 'upm.io/v1alpha1',
          kind: 'UnitSet',
          name: owner['metadata'].name,
          uid: owner['metadata'].uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: {
      unitTemplate: 'mysql-community-8.0.36',
      podTemplate: { spec: { containers: [{ name: 'mysql', image: 'mysql:8.0.36' }] } },
    },
  };
}

const matrix = controlPlanes().flatMap((plane) => ['1.27', '1.33'].map((version) => [version, plane] as const));

describe.each(matrix)('kubectl %s: API semantics on the %s control plane', (version, plane) => {
  let engine: KubectlTarget;
  beforeAll(async () => {
    engine = await startControlPlane(plane);
  }, 240_000);
  afterAll(async () => {
    await engine?.stop();
  }, 60_000);

  const run = (args: string[], opts: { input?: string; env?: Record<string, string> } = {}): Promise<KubectlResult> =>
    engine.kubectl(version, args, opts);
  async function ok(args: string[], opts: { input?: string; env?: Record<string, string> } = {}): Promise<string> {
    const r = await run(args, opts);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}):\n${r.stderr}`);
    return r.stdout;
  }
  const getJSON = async (args: string[]): Promise<Obj> => JSON.parse(await ok([...args, '-o', 'json']));

  it('apply --server-side creates and updates; a second manager conflicts and wins with --force-conflicts', async () => {
    const manifest = (units: number, labels: Obj = { team: 'db' }) =>
      JSON.stringify({ ...unitSet('ssa', units), metadata: { name: 'ssa', labels } });
    expect(await ok(['apply', '--server-side', '-f', '-'], { input: manifest(3) })).toContain(
      'unitset.upm.io/ssa serverside-applied',
    );
    let obj = await getJSON(['get', 'us', 'ssa', '--show-managed-fields']);
    expect(obj['spec'].units).toBe(3);
    expect(obj['metadata'].managedFields).toEqual([
      expect.objectContaining({
        manager: 'kubectl',
        operation: 'Apply',
        apiVersion: 'upm.io/v1alpha1',
        fieldsType: 'FieldsV1',
        fieldsV1: {
          'f:metadata': { 'f:labels': { 'f:team': {} } },
          'f:spec': { 'f:type': {}, 'f:units': {}, 'f:version': {} },
        },
      }),
    ]);
    // An update by the same manager; a label it stops applying is removed.
    await ok(['apply', '--server-side', '-f', '-'], { input: manifest(4, {}) });
    obj = await getJSON(['get', 'us', 'ssa']);
    expect(obj['spec'].units).toBe(4);
    expect(obj['metadata'].labels).toBeUndefined();
    const other = JSON.stringify({ ...unitSet('ssa', 9), metadata: { name: 'ssa' } });
    const conflict = await run(['apply', '--server-side', '--field-manager=other', '-f', '-'], { input: other });
    expect(conflict.code).not.toBe(0);
    expect(conflict.stderr).toMatch(/Apply failed with 1 conflict: conflict with "kubectl".*: \.spec\.units/);
    expect((await getJSON(['get', 'us', 'ssa']))['spec'].units).toBe(4);
    await ok(['apply', '--server-side', '--field-manager=other', '--force-conflicts', '-f', '-'], { input: other });
    obj = await getJSON(['get', 'us', 'ssa', '--show-managed-fields']);
    expect(obj['spec'].units).toBe(9);
    const managers = obj['metadata'].managedFields.map((m: Obj) => m['manager']).sort();
    expect(managers).toEqual(['kubectl', 'other']);
    const kubectlFields = obj['metadata'].managedFields.find((m: Obj) => m['manager'] === 'kubectl')['fieldsV1'];
    expect(kubectlFields['f:spec']['f:units']).toBeUndefined();
  });

  it('patch --type=json applies RFC 6902 operations and rejects a failing test op', async () => {
    await ok(['create', '-f', '-'], { input: JSON.stringify(unitSet('jp', 1, { labels: { a: 'b' } })) });
    await ok([
      'patch',
      'us',
      'jp',
      '--type=json',
      '-p',
      '[{"op":"replace","path":"/spec/units","value":4},{"op":"add","path":"/metadata/labels/c","value":"d"}]',
    ]);
    const obj = await getJSON(['get', 'us', 'jp']);
    expect(obj['spec'].units).toBe(4);
    expect(obj['metadata'].labels).toEqual({ a: 'b', c: 'd' });
    const bad = await run([
      'patch',
      'us',
      'jp',
      '--type=json',
      '-p',
      '[{"op":"test","path":"/spec/units","value":99},{"op":"replace","path":"/spec/units","value":7}]',
    ]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('testing value /spec/units failed');
    expect((await getJSON(['get', 'us', 'jp']))['spec'].units).toBe(4);
  });

  it('--dry-run=server validates and stores nothing', async () => {
    const out = await ok(['create', '--dry-run=server', '-f', '-'], { input: JSON.stringify(unitSet('dry', 1)) });
    expect(out).toContain('unitset.upm.io/dry created (server dry run)');
    expect((await run(['get', 'us', 'dry'])).stderr).toContain('NotFound');
    const invalid = await run(['create', '--dry-run=server', '-f', '-'], { input: JSON.stringify(unitSet('dry', -1)) });
    expect(invalid.code).not.toBe(0);
    expect(invalid.stderr).toContain('spec.units');
    await ok(['patch', 'us', 'jp', '--dry-run=server', '--type=merge', '-p', '{"spec":{"units":9}}']);
    expect((await getJSON(['get', 'us', 'jp']))['spec'].units).toBe(4);
    await ok(['delete', 'us', 'jp', '--dry-run=server']);
    expect((await getJSON(['get', 'us', 'jp']))['metadata'].name).toBe('jp');
  });

  it('kubectl diff shows a real diff and exits 1, and 0 when nothing changes', async () => {
    await ok(['apply', '-f', '-'], { input: JSON.stringify(unitSet('diffme', 2)) });
    const same = await run(['diff', '-f', '-'], { input: JSON.stringify(unitSet('diffme', 2)) });
    expect(same.code).toBe(0);
    const changed = await run(['diff', '-f', '-'], { input: JSON.stringify(unitSet('diffme', 5)) });
    expect(changed.code).toBe(1);
    expect(changed.stdout).toMatch(/^-\s+units: 2$/m);
    expect(changed.stdout).toMatch(/^\+\s+units: 5$/m);
    expect((await getJSON(['get', 'us', 'diffme']))['spec'].units).toBe(2);
  });

  it('get --chunk-size=2 over 25 objects returns all 25', async () => {
    const items = Array.from({ length: 25 }, (_, i) =>
      unitSet(`chunk-${String(i).padStart(2, '0')}`, 1, { labels: { batch: 'chunks' } }),
    );
    await ok(['create', '-f', '-'], { input: items.map((i) => stringifyYAML(i)).join('---\n') });
    const out = await ok(['get', 'us', '-l', 'batch=chunks', '--chunk-size=2', '-o', 'name']);
    const names = out.trim().split('\n');
    expect(names).toHaveLength(25);
    expect(new Set(names).size).toBe(25);
    expect(await ok(['delete', 'us', '-l', 'batch=chunks'])).toContain('deleted');
    expect((await ok(['get', 'us', '-l', 'batch=chunks', '-o', 'name'])).trim()).toBe('');
  });

  it('delete --cascade=foreground removes owned Units first, --cascade=orphan keeps them', async () => {
    const owner = JSON.parse(
      await ok(['create', '-f', '-', '-o', 'json'], { input: JSON.stringify(unitSet('owner', 2)) }),
    );
    for (const n of ['owner-0', 'owner-1']) await ok(['create', '-f', '-'], { input: JSON.stringify(unit(n, owner)) });
    // A finalizer on one Unit holds the owner in foreground deletion until it is released.
    await ok(['patch', 'un', 'owner-1', '--type=merge', '-p', '{"metadata":{"finalizers":["test.upm.io/hold"]}}']);
    await ok(['delete', 'us', 'owner', '--cascade=foreground', '--wait=false']);
    const deleting = await getJSON(['get', 'us', 'owner']);
    expect(deleting['metadata'].finalizers).toContain('foregroundDeletion');
    expect(deleting['metadata'].deletionTimestamp).toBeDefined();
    await ok(['wait', '--for=delete', 'un/owner-0', '--timeout=10s']);
    expect((await getJSON(['get', 'us', 'owner']))['metadata'].deletionTimestamp).toBeDefined();
    await ok(['patch', 'un', 'owner-1', '--type=merge', '-p', '{"metadata":{"finalizers":null}}']);
    await ok(['wait', '--for=delete', 'us/owner', '--timeout=10s']);
    expect((await run(['get', 'un', 'owner-1'])).stderr).toContain('NotFound');

    const keeper = JSON.parse(
      await ok(['create', '-f', '-', '-o', 'json'], { input: JSON.stringify(unitSet('keeper', 1)) }),
    );
    await ok(['create', '-f', '-'], { input: JSON.stringify(unit('keeper-0', keeper)) });
    await ok(['delete', 'us', 'keeper', '--cascade=orphan']);
    const orphan = await getJSON(['get', 'un', 'keeper-0']);
    expect(orphan['metadata'].ownerReferences).toBeUndefined();

    const bg = JSON.parse(await ok(['create', '-f', '-', '-o', 'json'], { input: JSON.stringify(unitSet('bg', 1)) }));
    await ok(['create', '-f', '-'], { input: JSON.stringify(unit('bg-0', bg)) });
    await ok(['delete', 'us', 'bg']);
    await ok(['wait', '--for=delete', 'un/bg-0', '--timeout=10s']);
  });

  it('wait --for=condition returns when a status condition is set', async () => {
    await ok(['create', '-f', '-'], { input: JSON.stringify(unitSet('waiter', 1)) });
    const waiting = engine.kubectl(version, ['wait', '--for=condition=Ready', 'us/waiter', '--timeout=20s']);
    await new Promise((r) => setTimeout(r, 1000));
    const condition = {
      type: 'Ready',
      status: 'True',
      reason: 'AllUnitsReady',
      message: 'all units are ready',
      lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      observedGeneration: 1,
    };
    await ok([
      'patch',
      'us',
      'waiter',
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({ status: { conditions: [condition] } }),
    ]);
    const result = await waiting;
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('unitset.upm.io/waiter condition met');
  });

  it('kubectl edit applies what a scripted EDITOR writes', async () => {
    await ok(['create', '-f', '-'], { input: JSON.stringify(unitSet('edited', 1)) });
    const dir = mkdtempSync(join(tmpdir(), 'upm-editor-'));
    const editor = join(dir, 'editor.sh');
    writeFileSync(editor, '#!/bin/sh\nsed -i "s/^  units: 1$/  units: 6/" "$1"\n');
    chmodSync(editor, 0o755);
    const out = await ok(['edit', 'us', 'edited'], { env: { EDITOR: editor, KUBE_EDITOR: editor } });
    expect(out).toContain('unitset.upm.io/edited edited');
    expect((await getJSON(['get', 'us', 'edited']))['spec'].units).toBe(6);
  });
});
