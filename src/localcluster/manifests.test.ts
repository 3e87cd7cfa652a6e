// The RBAC of a cluster install (config/apiservice) applied to the local control plane.

import { startTestCluster, type TestCluster } from './testing/controlplane.js';
import { installClusterRBAC, rbacManifests, readManifest } from './manifests.js';

let c: TestCluster;

beforeAll(async () => {
  c = await startTestCluster();
  await c.call('POST', '/api/v1/namespaces', {
    body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'upm-system' } },
  });
});
afterAll(async () => c?.close());

describe('installClusterRBAC', () => {
  it('creates every object of the RBAC manifests once, and puts back what was changed', async () => {
    const expected = rbacManifests.flatMap(readManifest).length;
    expect(await installClusterRBAC(c.server.registry)).toHaveLength(expected);
    expect(await installClusterRBAC(c.server.registry)).toEqual([]);

    const view = (
      await c.call('GET', '/apis/rbac.authorization.k8s.io/v1/clusterroles/upm-io:aggregate-to-view')
    ).json();
    expect(view.metadata.labels['rbac.authorization.k8s.io/aggregate-to-view']).toBe('true');
    expect(view.rules[0]).toMatchObject({ apiGroups: ['upm.io'], verbs: ['get', 'list', 'watch'] });

    await c.call('PATCH', '/apis/rbac.authorization.k8s.io/v1/clusterroles/upm-io:aggregate-to-view', {
      body: { rules: [] },
      headers: { 'Content-Type': 'application/merge-patch+json' },
    });
    expect(await installClusterRBAC(c.server.registry)).toEqual(['clusterroles/upm-io:aggregate-to-view']);
    const restored = (
      await c.call('GET', '/apis/rbac.authorization.k8s.io/v1/clusterroles/upm-io:aggregate-to-view')
    ).json();
    expect(restored.rules).toEqual(view.rules);
  });
});
