// The bootstrap policy (idempotent creation through the registry) and the RBAC source fed from
// the stored objects, evaluated by the control plane's authorizer.

import type { Attributes } from '../../apiserver/authorization/attributes.js';
import { APIRegistry } from '../../apiserver/registry/registry.js';
import { openSqliteStore } from '../../storage/sqlite/store.js';
import type { Store } from '../../storage/interface.js';
import { coreRegistrations } from '../kinds/index.js';
import { newControlPlaneAuthorizer } from './authorizer.js';
import { AGGREGATE_TO_VIEW, bootstrapPolicy, ensureBootstrapPolicy } from './bootstrap.js';
import { StoredRBACSource } from './rbac-source.js';
import { watchCacheDecorator } from '../../apiserver/watchcache/decorator.js';

const RBAC = 'rbac.authorization.k8s.io';
let store: Store;
let registry: APIRegistry;

beforeEach(() => {
  store = openSqliteStore(':memory:');
  registry = new APIRegistry(store, coreRegistrations(), { decorator: watchCacheDecorator() });
});

afterEach(async () => {
  registry.close();
  await store.close();
});

const served = (plural: string) => registry.lookup(RBAC, 'v1', plural)!.store;

async function eventually(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function resourceAttrs(
  user: Attributes['user'],
  verb: string,
  apiGroup: string,
  resource: string,
  namespace = '',
): Attributes {
  return {
    user,
    verb,
    namespace,
    apiGroup,
    apiVersion: 'v1',
    resource,
    subresource: '',
    name: '',
    isResourceRequest: true,
    path: '',
  };
}

function pathAttrs(user: Attributes['user'], path: string, verb = 'get'): Attributes {
  return {
    user,
    verb,
    namespace: '',
    apiGroup: '',
    apiVersion: '',
    resource: '',
    subresource: '',
    name: '',
    isResourceRequest: false,
    path,
  };
}

describe('ensureBootstrapPolicy', () => {
  it('creates everything once, then nothing; leaves changed objects alone; recreates deleted ones', async () => {
    const first = await ensureBootstrapPolicy(registry);
    expect(first.created).toEqual(
      expect.arrayContaining([
        'clusterroles/cluster-admin',
        'clusterroles/admin',
        'clusterroles/edit',
        'clusterroles/view',
        'clusterroles/system:aggregate-to-view',
        'clusterroles/system:auth-delegator',
        'clusterroles/system:basic-user',
        'clusterroles/system:discovery',
        'clusterroles/system:public-info-viewer',
        'clusterrolebindings/cluster-admin',
        'clusterrolebindings/system:discovery',
        'clusterrolebindings/system:basic-user',
        'clusterrolebindings/system:public-info-viewer',
        'roles/kube-system/extension-apiserver-authentication-reader',
      ]),
    );
    const policy = bootstrapPolicy();
    expect(first.created).toHaveLength(
      policy.clusterRoles.length + policy.clusterRoleBindings.length + policy.roles.length,
    );
    expect((await ensureBootstrapPolicy(registry)).created).toEqual([]);

    const view = await served('clusterroles').get('', 'view');
    expect(view.metadata.labels).toEqual({
      'kubernetes.io/bootstrapping': 'rbac-defaults',
      [`${RBAC}/aggregate-to-edit`]: 'true',
    });
    expect(view.metadata.annotations).toEqual({ 'rbac.authorization.kubernetes.io/autoupdate': 'true' });
    expect(view['aggregationRule']).toEqual({
      clusterRoleSelectors: [{ matchLabels: { [AGGREGATE_TO_VIEW]: 'true' } }],
    });
    // Stored with the rules the aggregation controller would write.
    expect(view['rules']).toContainEqual({
      verbs: ['get', 'list', 'watch'],
      apiGroups: [''],
      resources: ['namespaces'],
    });
    const admin = await served('clusterroles').get('', 'admin');
    expect(admin['rules']).toContainEqual({
      verbs: ['get', 'list', 'watch'],
      apiGroups: [''],
      resources: ['namespaces'],
    });
    expect(admin['rules']).toContainEqual({
      verbs: ['create'],
      apiGroups: ['authorization.k8s.io'],
      resources: ['localsubjectaccessreviews'],
    });

    const reader = await served('roles').get('kube-system', 'extension-apiserver-authentication-reader');
    expect(reader['rules']).toEqual([
      {
        verbs: ['get', 'list', 'watch'],
        apiGroups: [''],
        resources: ['configmaps'],
        resourceNames: ['extension-apiserver-authentication'],
      },
    ]);

    // A changed object stays changed.
    await served('clusterroles').update('', 'system:basic-user', {
      ...(await served('clusterroles').get('', 'system:basic-user')),
      rules: [],
    });
    expect((await ensureBootstrapPolicy(registry)).created).toEqual([]);
    expect((await served('clusterroles').get('', 'system:basic-user'))['rules']).toEqual([]);
    // A deleted one comes back.
    await served('clusterrolebindings').delete('', 'cluster-admin');
    expect((await ensureBootstrapPolicy(registry)).created).toEqual(['clusterrolebindings/cluster-admin']);
  });
});

describe('StoredRBACSource + newControlPlaneAuthorizer', () => {
  it('follows the stored objects and evaluates kube bootstrap semantics', async () => {
    await ensureBootstrapPolicy(registry);
    const source = new StoredRBACSource();
    const synced = source.synced();
    expect(source.hasSynced).toBe(false);
    source.start(registry);
    await synced;
    expect(source.hasSynced).toBe(true);
    const authz = newControlPlaneAuthorizer(source);
    const alice = { username: 'alice', groups: ['system:authenticated'] };
    const anonymous = { username: 'system:anonymous', groups: ['system:unauthenticated'] };
    try {
      // Bootstrap: public info for everyone, discovery and self reviews for authenticated users.
      expect(authz.decide(pathAttrs(anonymous, '/healthz')).decision).toBe('Allow');
      expect(authz.decide(pathAttrs(anonymous, '/readyz', 'post')).decision).toBe('NoOpinion');
      expect(authz.decide(pathAttrs(anonymous, '/apis')).decision).toBe('NoOpinion');
      expect(authz.decide(pathAttrs(alice, '/apis/upm.io/v1')).decision).toBe('Allow');
      expect(authz.decide(resourceAttrs(alice, 'create', 'authorization.k8s.io', 'selfsubjectaccessreviews'))).toEqual({
        decision: 'Allow',
        reason:
          'RBAC: allowed by ClusterRoleBinding "system:basic-user" of ClusterRole "system:basic-user" to Group "system:authenticated"',
      });
      expect(authz.decide(resourceAttrs(alice, 'create', 'authentication.k8s.io', 'tokenreviews')).decision).toBe(
        'NoOpinion',
      );
      // system:masters needs no binding; deleting the cluster-admin binding changes nothing for it.
      const master = { username: 'root', groups: ['system:masters', 'system:authenticated'] };
      await served('clusterrolebindings').delete('', 'cluster-admin');
      expect(authz.decide(resourceAttrs(master, 'delete', 'upm.io', 'unitsets', 'x'))).toEqual({
        decision: 'Allow',
        reason: '',
      });

      // A new binding is seen after its watch event.
      await served('rolebindings').create('team-a', {
        apiVersion: `${RBAC}/v1`,
        kind: 'RoleBinding',
        metadata: { name: 'alice-view', namespace: 'team-a' },
        roleRef: { apiGroup: RBAC, kind: 'ClusterRole', name: 'view' },
        subjects: [{ apiGroup: RBAC, kind: 'User', name: 'alice' }],
      });
      await eventually(() => source.listRoleBindings('team-a').length === 1, 'binding');
      expect(authz.decide(resourceAttrs(alice, 'list', '', 'pods', 'team-a')).decision).toBe('Allow');
      expect(authz.decide(resourceAttrs(alice, 'list', '', 'secrets', 'team-a')).decision).toBe('NoOpinion');
      expect(authz.decide(resourceAttrs(alice, 'list', 'upm.io', 'unitsets', 'team-a')).decision).toBe('NoOpinion');

      // Aggregation is resolved at evaluation time: a new aggregate-to-view role extends view.
      await served('clusterroles').create('', {
        apiVersion: `${RBAC}/v1`,
        kind: 'ClusterRole',
        metadata: { name: 'upm-view', labels: { [AGGREGATE_TO_VIEW]: 'true' } },
        rules: [{ apiGroups: ['upm.io'], resources: ['unitsets'], verbs: ['get', 'list', 'watch'] }],
      });
      await eventually(() => source.getClusterRole('upm-view') !== undefined, 'upm-view');
      expect(authz.decide(resourceAttrs(alice, 'list', 'upm.io', 'unitsets', 'team-a'))).toEqual({
        decision: 'Allow',
        reason: 'RBAC: allowed by RoleBinding "alice-view/team-a" of ClusterRole "view" to User "alice"',
      });
      expect(authz.decide(resourceAttrs(alice, 'list', 'upm.io', 'unitsets', 'team-b')).decision).toBe('NoOpinion');
      expect(authz.rulesFor(alice, 'team-a').resourceRules).toContainEqual({
        verbs: ['get', 'list', 'watch'],
        apiGroups: ['upm.io'],
        resources: ['unitsets'],
      });

      // Updates and deletes.
      const upmView = await served('clusterroles').get('', 'upm-view');
      await served('clusterroles').update('', 'upm-view', {
        ...upmView,
        metadata: { ...upmView.metadata, labels: {} },
      });
      await eventually(
        () => Object.keys(source.getClusterRole('upm-view')?.metadata.labels ?? {}).length === 0,
        'label removal',
      );
      expect(authz.decide(resourceAttrs(alice, 'list', 'upm.io', 'unitsets', 'team-a')).decision).toBe('NoOpinion');
      await served('rolebindings').delete('team-a', 'alice-view');
      await eventually(() => source.listRoleBindings('team-a').length === 0, 'binding deletion');
      expect(authz.decide(resourceAttrs(alice, 'list', '', 'pods', 'team-a')).decision).toBe('NoOpinion');
    } finally {
      source.stop();
    }
  });

  it('stops following after stop()', async () => {
    const source = new StoredRBACSource(registry);
    await source.synced();
    source.stop();
    await served('clusterroles').create('', {
      apiVersion: `${RBAC}/v1`,
      kind: 'ClusterRole',
      metadata: { name: 'late' },
      rules: [],
    });
    await new Promise((r) => setTimeout(r, 50));
    expect(source.getClusterRole('late')).toBeUndefined();
  });
});
