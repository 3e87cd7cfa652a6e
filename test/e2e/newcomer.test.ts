// Local mode as a newcomer meets it, with the real kubectl 1.27, 1.32 and 1.33 against one
// `upm-engine local`: the core verbs (1.32+ send protobuf bodies; client-side apply and
// `patch --type=strategic` send strategic merge patches), namespaces (lifecycle admission,
// deletion of everything in them, upm.io included), managedFields across the kubectl verbs and the
// SSA conflict that names the right manager, view/edit/admin covering upm.io, kubectl version.

import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanup, kubectlBinary, startEngine, waitFor, type Engine, type KubectlResult } from './harness.js';

let engine: Engine | undefined;
/** A directory whose `kubectl` is kubectl 1.33, so kubectl's field manager is its own name, `kubectl`. */
let named: string;

beforeAll(async () => {
  engine = await startEngine();
  named = mkdtempSync(join(tmpdir(), 'upm-kubectl-'));
  symlinkSync(kubectlBinary('1.33'), join(named, 'kubectl'));
}, 60_000);

afterAll(async () => {
  rmSync(named, { recursive: true, force: true });
  if (!engine) return;
  await engine.stop();
  cleanup(engine);
});

async function ok(version: string, args: string[], input?: string): Promise<string> {
  const r = await engine!.kubectl(version, args, input === undefined ? {} : { input });
  if (r.code !== 0) throw new Error(`kubectl ${version} ${args.join(' ')} exited ${r.code}:\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

async function fails(version: string, args: string[], input?: string): Promise<KubectlResult> {
  const r = await engine!.kubectl(version, args, input === undefined ? {} : { input });
  if (r.code === 0) throw new Error(`kubectl ${args.join(' ')} succeeded:\n${r.stdout}`);
  return r;
}

const json = async (version: string, args: string[]) => JSON.parse(await ok(version, [...args, '-o', 'json']));

const unitSet = (name: string, namespace: string, units = 3) =>
  [
    'apiVersion: upm.io/v1alpha1',
    'kind: UnitSet',
    `metadata: {name: ${name}, namespace: ${namespace}}`,
    `spec: {type: mysql, version: 8.0.36, units: ${units}}`,
  ].join('\n');

const pod = (image: string, labels: string) =>
  [
    'apiVersion: v1',
    'kind: Pod',
    `metadata: {name: web, labels: {${labels}}}`,
    'spec:',
    '  containers:',
    `  - {name: web, image: "${image}"}`,
  ].join('\n');

const configMap = (data: string) =>
  ['apiVersion: v1', 'kind: ConfigMap', 'metadata: {name: settings}', `data: {${data}}`].join('\n');

describe.each(['1.27', '1.32', '1.33'])('kubectl %s: core verbs', (version) => {
  const ns = `core-${version.replace('.', '-')}`;

  it('create namespace, configmap --from-literal, secret generic and rolebinding', async () => {
    expect(await ok(version, ['create', 'namespace', ns])).toBe(`namespace/${ns} created\n`);
    expect(await ok(version, ['create', 'configmap', 'game', '--from-literal=lives=3', '-n', ns])).toBe(
      'configmap/game created\n',
    );
    expect(await ok(version, ['create', 'secret', 'generic', 'db', '--from-literal=password=s3cret', '-n', ns])).toBe(
      'secret/db created\n',
    );
    expect(await ok(version, ['create', 'rolebinding', 'readers', '--clusterrole=view', '--user=bob', '-n', ns])).toBe(
      'rolebinding.rbac.authorization.k8s.io/readers created\n',
    );
    expect((await json(version, ['get', 'configmap', 'game', '-n', ns])).data).toEqual({ lives: '3' });
    expect((await json(version, ['get', 'secret', 'db', '-n', ns])).data).toEqual({
      password: Buffer.from('s3cret').toString('base64'),
    });
    expect((await json(version, ['get', 'rolebinding', 'readers', '-n', ns])).subjects).toEqual([
      { apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'bob' },
    ]);
  });

  it('client-side apply of a Pod and a ConfigMap twice, with a change in between', async () => {
    expect(await ok(version, ['apply', '-n', ns, '-f', '-'], pod('nginx:1.25', 'app: web'))).toBe('pod/web created\n');
    expect(await ok(version, ['apply', '-n', ns, '-f', '-'], configMap('a: "1", b: "2"'))).toBe(
      'configmap/settings created\n',
    );
    expect(await ok(version, ['apply', '-n', ns, '-f', '-'], pod('nginx:1.26', 'app: web, tier: front'))).toBe(
      'pod/web configured\n',
    );
    expect(await ok(version, ['apply', '-n', ns, '-f', '-'], configMap('a: "1", c: "3"'))).toBe(
      'configmap/settings configured\n',
    );
    const p = await json(version, ['get', 'pod', 'web', '-n', ns]);
    expect(p.metadata.labels).toEqual({ app: 'web', tier: 'front' });
    expect(p.spec.containers.map((c: { image: string }) => c.image)).toEqual(['nginx:1.26']);
    expect((await json(version, ['get', 'configmap', 'settings', '-n', ns])).data).toEqual({ a: '1', c: '3' });
  });

  it('patch pod --type=strategic merges containers by name', async () => {
    const patch = '{"spec":{"containers":[{"name":"web","image":"nginx:1.27"}]}}';
    expect(await ok(version, ['patch', 'pod', 'web', '-n', ns, '--type=strategic', '-p', patch])).toBe(
      'pod/web patched\n',
    );
    const p = await json(version, ['get', 'pod', 'web', '-n', ns]);
    expect(p.spec.containers).toHaveLength(1);
    expect(p.spec.containers[0]).toMatchObject({ name: 'web', image: 'nginx:1.27' });
  });
});

describe('namespaces', () => {
  it('a create in a namespace that does not exist is refused with kube’s message, for a ConfigMap and a UnitSet', async () => {
    const cm = await fails('1.33', ['create', 'configmap', 'x', '--from-literal=a=b', '-n', 'nowhere']);
    expect(cm.stderr).toBe('error: failed to create configmap: namespaces "nowhere" not found\n');
    const us = await fails('1.33', ['create', '-f', '-'], unitSet('x', 'nowhere'));
    expect(us.stderr).toBe(
      'Error from server (NotFound): error when creating "STDIN": namespaces "nowhere" not found\n',
    );
  });

  it('no new content, upm.io included, in a namespace being deleted', async () => {
    await ok('1.33', ['create', 'namespace', 'team-held']);
    const held = ['apiVersion: v1', 'kind: ConfigMap', 'metadata: {name: held, finalizers: [example.com/hold]}'];
    await ok('1.33', ['create', '-n', 'team-held', '-f', '-'], held.join('\n'));
    await ok('1.33', ['delete', 'namespace', 'team-held', '--wait=false']);
    const refused = await fails('1.33', ['create', 'configmap', 'late', '--from-literal=a=b', '-n', 'team-held']);
    expect(refused.stderr).toBe(
      'error: failed to create configmap: configmaps "late" is forbidden: unable to create new content in namespace team-held because it is being terminated\n',
    );
    // The upm.io server learns of it from its namespace informer: allow it a moment.
    let stderr = '';
    await waitFor('the upm.io server to refuse a UnitSet in team-held', async () => {
      const r = await engine!.kubectl('1.33', ['create', '-f', '-'], {
        input: unitSet(`late-${Date.now()}`, 'team-held'),
      });
      stderr = r.stderr;
      return r.code !== 0;
    });
    expect(stderr).toMatch(
      /^Error from server \(Forbidden\): error when creating "STDIN": unitsets\.upm\.io "late-\d+" is forbidden: unable to create new content in namespace team-held because it is being terminated\n$/,
    );
    const ns = await json('1.33', ['get', 'namespace', 'team-held']);
    expect(ns.status.phase).toBe('Terminating');
    expect(ns.status.conditions).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          type: 'NamespaceFinalizersRemaining',
          status: 'True',
          reason: 'SomeFinalizersRemain',
        }),
      ]),
    );
    await ok('1.33', [
      'patch',
      'configmap',
      'held',
      '-n',
      'team-held',
      '--type=merge',
      '-p',
      '{"metadata":{"finalizers":null}}',
    ]);
    await ok('1.33', ['wait', '--for=delete', 'namespace/team-held', '--timeout=30s']);
  });

  it('deleting a namespace leaves nothing of it: UnitSets, ConfigMaps and Pods go with it', async () => {
    await ok('1.32', ['create', 'namespace', 'team-gone']);
    await ok('1.32', ['create', '-f', '-'], unitSet('orders', 'team-gone'));
    await ok('1.32', ['create', 'configmap', 'cfg', '--from-literal=a=b', '-n', 'team-gone']);
    await ok('1.32', ['run', 'web', '--image=nginx', '-n', 'team-gone']);
    // kubectl waits until the namespace is gone.
    expect(await ok('1.32', ['delete', 'namespace', 'team-gone', '--timeout=30s'])).toBe(
      'namespace "team-gone" deleted\n',
    );
    expect((await fails('1.32', ['get', 'namespace', 'team-gone'])).stderr).toContain(
      'namespaces "team-gone" not found',
    );
    for (const kind of ['unitsets', 'units', 'configmaps', 'pods']) {
      const all = await json('1.32', ['get', kind, '-A']);
      expect(
        all.items.filter((i: { metadata: { namespace: string } }) => i.metadata.namespace === 'team-gone'),
      ).toEqual([]);
    }
  });
});

describe('managedFields', () => {
  // kubectl's default field manager is its own file name; run it as `kubectl`.
  const kubectl = async (args: string[], input?: string) => {
    return new Promise<KubectlResult>((resolve) => {
      const p = execFile(
        join(named, 'kubectl'),
        ['--kubeconfig', engine!.kubeconfig, '--cache-dir', engine!.cacheDir, ...args],
        (err, stdout, stderr) => resolve({ code: err ? 1 : 0, stdout, stderr }),
      );
      p.stdin!.end(input ?? '');
    });
  };

  it('holds an entry per manager and subresource after create, label, patch, scale and replace', async () => {
    const must = async (args: string[], input?: string) => {
      const r = await kubectl(args, input);
      if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
      return r.stdout;
    };
    await must(['create', '-f', '-'], unitSet('owned', 'default'));
    await must(['label', 'us', 'owned', 'tier=db']);
    await must([
      'patch',
      'us',
      'owned',
      '--type=merge',
      '-p',
      '{"metadata":{"annotations":{"owner":"team-a"}}}',
      '--field-manager=mytool',
    ]);
    await must(['scale', 'us', 'owned', '--replicas=5']);
    // The UnitSet controller writes too: replace what was read, again if it changed meanwhile (409).
    for (let attempt = 0; ; attempt++) {
      const current = JSON.parse(await must(['get', 'us', 'owned', '-o', 'json']));
      current.metadata.annotations = { ...current.metadata.annotations, note: 'replaced' };
      delete current.metadata.managedFields;
      const replaced = await kubectl(['replace', '-f', '-'], JSON.stringify(current));
      if (replaced.code === 0) break;
      if (attempt === 4 || !replaced.stderr.includes('the object has been modified')) throw new Error(replaced.stderr);
    }

    const obj = JSON.parse(await must(['get', 'us', 'owned', '-o', 'json', '--show-managed-fields']));
    // Managers of the kubectl verbs (the UnitSet controller's own entries aside).
    const entries = obj.metadata.managedFields
      .filter((e: { manager: string }) => !e.manager.startsWith('upm.io/'))
      .map((e: Record<string, unknown>) => ({
        manager: e['manager'],
        operation: e['operation'],
        ...(e['subresource'] ? { subresource: e['subresource'] } : {}),
      }));
    expect(entries).toEqual(
      expect.arrayContaining([
        { manager: 'kubectl-create', operation: 'Update' },
        { manager: 'kubectl-label', operation: 'Update' },
        { manager: 'mytool', operation: 'Update' },
        { manager: 'kubectl', operation: 'Update', subresource: 'scale' },
        { manager: 'kubectl-replace', operation: 'Update' },
      ]),
    );
    expect(entries).toHaveLength(5);
    const byManager = (m: string) => obj.metadata.managedFields.find((e: { manager: string }) => e.manager === m);
    expect(byManager('kubectl').fieldsV1).toEqual({ 'f:spec': { 'f:units': {} } });
    expect(byManager('mytool').fieldsV1).toEqual({ 'f:metadata': { 'f:annotations': { '.': {}, 'f:owner': {} } } });
    expect(byManager('kubectl-label').fieldsV1).toEqual({ 'f:metadata': { 'f:labels': { '.': {}, 'f:tier': {} } } });
    expect(byManager('kubectl-replace').fieldsV1).toEqual({
      'f:metadata': { 'f:annotations': { 'f:note': {} } },
    });
    for (const e of obj.metadata.managedFields) expect(e.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    // An apply of spec.units by another manager conflicts with the scale that set it.
    const conflict = await kubectl(
      ['apply', '--server-side', '--field-manager=autoscaler', '-f', '-'],
      unitSet('owned', 'default', 7),
    );
    expect(conflict.code).not.toBe(0);
    expect(conflict.stderr).toContain(
      'conflict with "kubectl" with subresource "scale" using upm.io/v1alpha1: .spec.units',
    );
  });
});

describe('RBAC of a cluster install', () => {
  it('alice may list unitsets in team-a once bound to view there, not before', async () => {
    await ok('1.32', ['create', 'namespace', 'team-a']);
    const canI = ['--as', 'alice', 'auth', 'can-i', 'list', 'unitsets.upm.io', '-n', 'team-a'];
    const before = await engine!.kubectl('1.32', canI);
    expect(before.stdout.trim()).toBe('no');
    await ok('1.32', ['create', 'rolebinding', 'alice-view', '--clusterrole=view', '--user=alice', '-n', 'team-a']);
    const after = await engine!.kubectl('1.32', canI);
    expect(after.stdout.trim()).toBe('yes');
    expect(after.code).toBe(0);
    // view reads; it does not write.
    expect(
      (await engine!.kubectl('1.32', ['--as', 'alice', 'auth', 'can-i', 'create', 'unitsets.upm.io', '-n', 'team-a']))
        .stdout,
    ).toBe('no\n');
  });
});

describe('what kubectl reports about the server', () => {
  it('kubectl version shows the Kubernetes version the control plane emulates, without a skew warning', async () => {
    const r = await engine!.kubectl('1.32', ['version']);
    expect(r.stdout).toMatch(/^Server Version: v1\.33\.\d+\+upm-engine\.\d+\.\d+\.\d+$/m);
    expect(r.stderr).toBe('');
  });

  it('kubectl logs says the stand-in runs no containers', async () => {
    const r = await fails('1.32', ['logs', 'web', '-n', 'core-1-32']);
    expect(r.stderr).toContain('does not serve pods/log');
  });
});
