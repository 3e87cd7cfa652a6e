// The local control plane as kubectl sees it: one endpoint for core kinds and upm.io (through
// the aggregation layer), RBAC decided by the control plane and re-checked by the upm.io server
// with the caller's identity, Pod admission webhooks, and the pod simulator.

import { FakeWebhookServer } from '../../src/apiserver/admission/testing/webhook-server.js';
import { cleanup, startEngine, type Engine, type KubectlResult } from './harness.js';

type Obj = Record<string, any>;
const version = '1.33';

describe('local control plane', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await startEngine();
  }, 60_000);
  afterAll(async () => {
    await engine?.stop();
    if (engine) cleanup(engine);
  });

  const run = (args: string[], input?: string, v = version): Promise<KubectlResult> =>
    engine.kubectl(v, args, input === undefined ? {} : { input });
  async function ok(args: string[], input?: string, v = version): Promise<string> {
    const r = await run(args, input, v);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}):\n${r.stderr}`);
    return r.stdout;
  }

  it('serves core kinds and upm.io through one endpoint, with the APIService Available', async () => {
    const apiservice = JSON.parse(await ok(['get', 'apiservice', 'v1alpha1.upm.io', '-o', 'json']));
    expect(apiservice.status.conditions).toEqual([
      expect.objectContaining({ type: 'Available', status: 'True', reason: 'Passed', message: 'all checks passed' }),
    ]);
    await ok(
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'upm.io/v1alpha1',
        kind: 'UnitSet',
        metadata: { name: 'one' },
        spec: { type: 'redis', version: '7.0.15', units: 1 },
      }),
    );
    const out = await ok(['get', 'pods,unitsets', '-o', 'name']);
    expect(out).toContain('unitset.upm.io/one');
    const ns = await ok(['get', 'ns', '-o', 'name']);
    expect(ns).toContain('namespace/upm-system');
  });

  it('RBAC: a user with get/list on unitsets in one namespace can list there, and nothing else', async () => {
    for (const doc of [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-a' } },
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-b' } },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'Role',
        metadata: { name: 'unitset-reader', namespace: 'team-a' },
        rules: [{ apiGroups: ['upm.io'], resources: ['unitsets'], verbs: ['get', 'list'] }],
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: 'alice-reads', namespace: 'team-a' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'unitset-reader' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'alice' }],
      },
    ]) {
      await ok(['create', '-f', '-'], JSON.stringify(doc));
    }
    await ok(
      ['create', '-n', 'team-a', '-f', '-'],
      JSON.stringify({
        apiVersion: 'upm.io/v1alpha1',
        kind: 'UnitSet',
        metadata: { name: 'shared' },
        spec: { type: 'redis', version: '7.0.15', units: 1 },
      }),
    );
    // RBAC caches update from watches: allow a moment.
    let list: KubectlResult | undefined;
    for (let i = 0; i < 20; i++) {
      list = await run(['--as', 'alice', 'get', 'us', '-n', 'team-a', '-o', 'name']);
      if (list.code === 0) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(list!.stdout.trim()).toBe('unitset.upm.io/shared');
    const create = await run(
      ['--as', 'alice', 'create', '-n', 'team-a', '-f', '-'],
      JSON.stringify({
        apiVersion: 'upm.io/v1alpha1',
        kind: 'UnitSet',
        metadata: { name: 'nope' },
        spec: { type: 'redis', version: '7.0.15', units: 1 },
      }),
    );
    expect(create.code).not.toBe(0);
    expect(create.stderr).toContain('Error from server (Forbidden)');
    expect(create.stderr).toContain(
      'User "alice" cannot create resource "unitsets" in API group "upm.io" in the namespace "team-a"',
    );
    const other = await run(['--as', 'alice', 'get', 'us', '-n', 'team-b']);
    expect(other.code).not.toBe(0);
    expect(other.stderr).toContain(
      'User "alice" cannot list resource "unitsets" in API group "upm.io" in the namespace "team-b"',
    );
    expect(
      (await run(['auth', 'can-i', 'list', 'unitsets.upm.io', '-n', 'team-a', '--as', 'alice'])).stdout.trim(),
    ).toBe('yes');
    const cannot = await run(['auth', 'can-i', 'create', 'unitsets.upm.io', '-n', 'team-a', '--as', 'alice']);
    expect([cannot.code, cannot.stdout.trim()]).toEqual([1, 'no']);
    expect(
      (await run(['auth', 'can-i', 'list', 'unitsets.upm.io', '-n', 'team-b', '--as', 'alice'])).stdout.trim(),
    ).toBe('no');
  });

  it('the pod simulator takes a Pod from Pending to Running/Ready', async () => {
    await ok(
      ['create', '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'plain' },
        spec: { containers: [{ name: 'app', image: 'busybox' }] },
      }),
    );
    await ok(['wait', '--for=condition=Ready', 'pod/plain', '--timeout=20s']);
    const pod = JSON.parse(await ok(['get', 'pod', 'plain', '-o', 'json']));
    expect(pod.status.phase).toBe('Running');
    expect(pod.spec.nodeName).toMatch(/^node-\d$/);
    expect(pod.status.containerStatuses).toEqual([expect.objectContaining({ name: 'app', ready: true })]);
  });

  it('calls a mutating webhook on Pod create; failurePolicy Fail vs Ignore when it is down', async () => {
    const hook = await FakeWebhookServer.start();
    hook.on('/inject', () => ({
      patch: [
        { op: 'add', path: '/spec/containers/-', value: { name: 'exporter', image: 'prom/exporter' } },
        { op: 'add', path: '/metadata/labels', value: { injected: 'true' } },
      ],
    }));
    const config = (failurePolicy: 'Fail' | 'Ignore', port = hook.port): Obj => ({
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'MutatingWebhookConfiguration',
      metadata: { name: 'sidecar-injector' },
      webhooks: [
        {
          name: 'inject.upm.io',
          clientConfig: { url: `https://127.0.0.1:${port}/inject`, caBundle: hook.caBundle },
          rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
          failurePolicy,
          sideEffects: 'None',
          admissionReviewVersions: ['v1'],
          timeoutSeconds: 2,
        },
      ],
    });
    try {
      await ok(['apply', '--server-side', '-f', '-'], JSON.stringify(config('Fail')));
      let pod: Obj | undefined;
      for (let i = 0; i < 20 && !pod?.metadata?.labels?.injected; i++) {
        await run(['delete', 'pod', 'injected', '--ignore-not-found']);
        await ok(
          ['create', '-f', '-'],
          JSON.stringify({
            apiVersion: 'v1',
            kind: 'Pod',
            metadata: { name: 'injected' },
            spec: { containers: [{ name: 'app', image: 'busybox' }] },
          }),
        );
        pod = JSON.parse(await ok(['get', 'pod', 'injected', '-o', 'json']));
        if (!pod?.metadata?.labels?.injected) await new Promise((r) => setTimeout(r, 250));
      }
      expect(pod!.metadata.labels).toEqual({ injected: 'true' });
      expect(pod!.spec.containers.map((c: Obj) => c['name'])).toEqual(['app', 'exporter']);
      expect(hook.received('/inject').at(-1)).toMatchObject({
        request: { operation: 'CREATE', kind: { kind: 'Pod' }, namespace: 'default' },
      });
    } finally {
      await hook.close();
    }
    // The webhook is down now.
    const failing = await run(
      ['create', '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'blocked' },
        spec: { containers: [{ name: 'app', image: 'busybox' }] },
      }),
    );
    expect(failing.code).not.toBe(0);
    expect(failing.stderr).toContain('failed calling webhook "inject.upm.io"');
    expect((await run(['get', 'pod', 'blocked'])).stderr).toContain('NotFound');
    // Built-in kinds take strategic merge patches from client-side apply; server-side apply works for all.
    await ok(['apply', '--server-side', '--force-conflicts', '-f', '-'], JSON.stringify(config('Ignore')));
    let created: KubectlResult | undefined;
    for (let i = 0; i < 20; i++) {
      created = await run(
        ['create', '-f', '-'],
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: 'ignored' },
          spec: { containers: [{ name: 'app', image: 'busybox' }] },
        }),
      );
      if (created.code === 0) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(created!.code).toBe(0);
    const pod = JSON.parse(await ok(['get', 'pod', 'ignored', '-o', 'json']));
    expect(pod.metadata.labels).toBeUndefined();
  }, 60_000);
});
