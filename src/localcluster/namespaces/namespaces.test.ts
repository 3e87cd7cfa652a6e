// NamespaceLifecycle and the namespace controller on a control plane over HTTPS.

import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { clusterNamespaceLookup } from '../../apiserver/admission/namespace-lookup.js';
import { startTestCluster, type TestCluster } from '../testing/controlplane.js';
import { startNamespaces, type RunningNamespaces } from './index.js';

let c: TestCluster;
let namespaces: RunningNamespaces;

beforeAll(async () => {
  c = await startTestCluster();
  namespaces = await startNamespaces(c.server.registry, {
    server: c.server.url,
    caPem: c.ca.certPem,
    certPem: c.admin.certPem,
    keyPem: c.admin.keyPem,
    logger: pino({ level: 'silent' }),
  });
});
afterAll(async () => {
  await namespaces?.stop();
  await c?.close();
});

const configMap = (name: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, ...extra },
  data: { a: 'b' },
});

async function until<T>(probe: () => Promise<T | undefined>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('NamespaceLifecycle', () => {
  it('rejects a create in a namespace that does not exist with kube’s 404', async () => {
    const res = await c.call('POST', '/api/v1/namespaces/nope/configmaps', { body: configMap('x') });
    expect(res.status).toBe(404);
    expect(res.json()).toMatchObject({
      reason: 'NotFound',
      message: 'namespaces "nope" not found',
      details: { name: 'nope', kind: 'namespaces' },
    });
  });

  it('refuses to delete the namespaces kube needs', async () => {
    const res = await c.call('DELETE', '/api/v1/namespaces/kube-system');
    expect(res.status).toBe(403);
    expect(res.json().message).toBe('namespaces "kube-system" is forbidden: this namespace may not be deleted');
  });
});

describe('namespace deletion', () => {
  it('empties a deleted namespace, reports what holds it, and removes it when nothing is left', async () => {
    await c.call('POST', '/api/v1/namespaces', {
      body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'doomed' } },
    });
    await c.call('POST', '/api/v1/namespaces/doomed/configmaps', { body: configMap('plain') });
    await c.call('POST', '/api/v1/namespaces/doomed/configmaps', {
      body: configMap('held', { finalizers: ['example.com/hold'] }),
    });
    const deleted = await c.call('DELETE', '/api/v1/namespaces/doomed');
    expect(deleted.status).toBe(200);
    expect(deleted.json()).toMatchObject({ status: { phase: 'Terminating' }, spec: { finalizers: ['kubernetes'] } });

    const refused = await c.call('POST', '/api/v1/namespaces/doomed/configmaps', { body: configMap('late') });
    expect(refused.status).toBe(403);
    expect(refused.json()).toMatchObject({
      reason: 'Forbidden',
      message:
        'configmaps "late" is forbidden: unable to create new content in namespace doomed because it is being terminated',
      details: {
        causes: [
          {
            reason: 'NamespaceTerminating',
            message: 'namespace doomed is being terminated',
            field: 'metadata.namespace',
          },
        ],
      },
    });
    const again = await c.call('DELETE', '/api/v1/namespaces/doomed');
    expect(again.status).toBe(409);
    expect(again.json().message).toBe(
      'Operation cannot be fulfilled on namespaces "doomed": The system is ensuring all content is removed from this namespace.  Upon completion, this namespace will automatically be purged by the system.',
    );

    const conditions = await until(async () => {
      const ns = (await c.call('GET', '/api/v1/namespaces/doomed')).json();
      const remaining = ns.status.conditions?.find((x: { type: string }) => x.type === 'NamespaceFinalizersRemaining');
      return remaining?.status === 'True' ? ns.status.conditions : undefined;
    });
    expect(conditions).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          type: 'NamespaceContentRemaining',
          status: 'True',
          reason: 'SomeResourcesRemain',
          message: 'Some resources are remaining: configmaps has 1 resource instances',
        }),
        expect.objectContaining({
          type: 'NamespaceFinalizersRemaining',
          status: 'True',
          reason: 'SomeFinalizersRemain',
          message: 'Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances',
        }),
        expect.objectContaining({
          type: 'NamespaceDeletionDiscoveryFailure',
          status: 'False',
          reason: 'ResourcesDiscovered',
        }),
      ]),
    );
    const list = (await c.call('GET', '/api/v1/namespaces/doomed/configmaps')).json();
    expect(list.items.map((i: { metadata: { name: string } }) => i.metadata.name)).toEqual(['held']);

    await c.call('PATCH', '/api/v1/namespaces/doomed/configmaps/held', {
      body: { metadata: { finalizers: null } },
      headers: { 'Content-Type': 'application/merge-patch+json' },
    });
    await until(async () => ((await c.call('GET', '/api/v1/namespaces/doomed')).status === 404 ? true : undefined));
    expect((await c.call('GET', '/api/v1/namespaces/doomed/configmaps')).json().items).toEqual([]);
  });

  it('serves namespaces/finalize: emptying spec.finalizers of a terminating namespace deletes it', async () => {
    // Held by someone else's finalizer only: the controller leaves it alone.
    await c.call('POST', '/api/v1/namespaces', {
      body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'fin' }, spec: { finalizers: ['example.com/x'] } },
    });
    await c.call('DELETE', '/api/v1/namespaces/fin');
    const ns = (await c.call('GET', '/api/v1/namespaces/fin')).json();
    expect(ns.status.phase).toBe('Terminating');
    const res = await c.call('PUT', '/api/v1/namespaces/fin/finalize', { body: { ...ns, spec: { finalizers: [] } } });
    expect(res.status).toBe(200);
    expect((await c.call('GET', '/api/v1/namespaces/fin')).status).toBe(404);
  });
});

describe('clusterNamespaceLookup (what the upm.io server asks the cluster)', () => {
  it('finds namespaces, confirms missing ones, and sees a deleted one Terminating', async () => {
    const kc = new KubeConfig();
    kc.loadFromString(c.kubeconfigText);
    const namespaces = clusterNamespaceLookup(kc);
    try {
      await c.call('POST', '/api/v1/namespaces', {
        body: {
          apiVersion: 'v1',
          kind: 'Namespace',
          metadata: { name: 'looked-up' },
          spec: { finalizers: ['example.com/x'] },
        },
      });
      expect((await namespaces.lookup('looked-up'))?.metadata.name).toBe('looked-up');
      expect(await namespaces.lookup('never-there')).toBeUndefined();
      await c.call('DELETE', '/api/v1/namespaces/looked-up');
      await until(async () =>
        ((await namespaces.lookup('looked-up'))?.['status'] as { phase?: string } | undefined)?.phase === 'Terminating'
          ? true
          : undefined,
      );
    } finally {
      namespaces.close();
      await c.call('PUT', '/api/v1/namespaces/looked-up/finalize', {
        body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'looked-up' }, spec: { finalizers: [] } },
      });
    }
  });
});
