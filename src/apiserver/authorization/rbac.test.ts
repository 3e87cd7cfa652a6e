import type { UserInfo } from '../authentication/authenticator.js';
import type { Attributes } from './attributes.js';
import {
  InMemoryRBACSource,
  RBACAuthorizer,
  appliesTo,
  nonResourceURLMatches,
  resourceMatches,
  ruleAllows,
  serviceAccountUser,
  serviceAccountUsername,
} from './rbac.js';
import {
  alice,
  clusterRole,
  clusterRoleBinding,
  groupSubject,
  pathAttrs,
  resourceAttrs,
  role,
  roleBinding,
  saSubject,
  userSubject,
} from './testing/builders.js';
import type { PolicyRule } from './types.js';

/** Authorizes `attrs` with `rule` granted to alice through a ClusterRoleBinding. */
function viaBinding(rule: PolicyRule, attrs: Attributes): boolean {
  const src = new InMemoryRBACSource({
    clusterRoles: [clusterRole('r', [rule])],
    clusterRoleBindings: [clusterRoleBinding('b', 'r', [userSubject('alice')])],
  });
  return new RBACAuthorizer(src).authorize(attrs).decision === 'Allow';
}

/** Both the bare matcher and the full authorizer must agree. */
function allows(rule: PolicyRule, attrs: Attributes): boolean {
  const direct = ruleAllows(attrs, rule);
  expect(viaBinding(rule, attrs)).toBe(direct);
  return direct;
}

describe('rule matching: verbs', () => {
  const rule = (verbs: string[]): PolicyRule => ({ verbs, apiGroups: ['upm.io'], resources: ['unitsets'] });

  it('matches listed verbs only', () => {
    expect(allows(rule(['get', 'list']), resourceAttrs({ verb: 'get' }))).toBe(true);
    expect(allows(rule(['get', 'list']), resourceAttrs({ verb: 'list', name: '' }))).toBe(true);
    expect(allows(rule(['get', 'list']), resourceAttrs({ verb: 'delete' }))).toBe(false);
    expect(allows(rule(['get']), resourceAttrs({ verb: 'watch', name: '' }))).toBe(false);
  });

  it('`*` matches every verb, including custom ones', () => {
    for (const verb of ['get', 'create', 'deletecollection', 'escalate', 'impersonate']) {
      expect(allows(rule(['*']), resourceAttrs({ verb }))).toBe(true);
    }
  });

  it('verbs match exactly (no case folding, no prefix)', () => {
    expect(allows(rule(['GET']), resourceAttrs({ verb: 'get' }))).toBe(false);
    expect(allows(rule(['de*']), resourceAttrs({ verb: 'delete' }))).toBe(false);
    expect(allows(rule([]), resourceAttrs())).toBe(false);
  });
});

describe('rule matching: apiGroups', () => {
  const rule = (apiGroups?: string[]): PolicyRule => ({
    verbs: ['get'],
    resources: ['*'],
    ...(apiGroups ? { apiGroups } : {}),
  });

  it('matches a listed group only', () => {
    expect(allows(rule(['upm.io']), resourceAttrs())).toBe(true);
    expect(allows(rule(['apps']), resourceAttrs())).toBe(false);
    expect(allows(rule(['upm']), resourceAttrs())).toBe(false);
  });

  it('`*` matches every group, including core', () => {
    expect(allows(rule(['*']), resourceAttrs())).toBe(true);
    expect(allows(rule(['*']), resourceAttrs({ apiGroup: '', resource: 'pods' }))).toBe(true);
  });

  it('"" is the core group only', () => {
    expect(allows(rule(['']), resourceAttrs({ apiGroup: '', resource: 'configmaps' }))).toBe(true);
    expect(allows(rule(['']), resourceAttrs({ apiGroup: 'upm.io' }))).toBe(false);
    expect(allows(rule(['upm.io']), resourceAttrs({ apiGroup: '' }))).toBe(false);
  });

  it('no apiGroups matches no resource request', () => {
    expect(allows(rule(undefined), resourceAttrs())).toBe(false);
    expect(allows(rule([]), resourceAttrs({ apiGroup: '' }))).toBe(false);
  });
});

describe('rule matching: resources and subresources', () => {
  const rule = (resources: string[]): PolicyRule => ({ verbs: ['get'], apiGroups: ['upm.io'], resources });

  it('matches a listed resource only, exactly', () => {
    expect(allows(rule(['unitsets']), resourceAttrs())).toBe(true);
    expect(allows(rule(['unitset']), resourceAttrs())).toBe(false);
    expect(allows(rule(['units']), resourceAttrs())).toBe(false);
    expect(allows(rule(['UnitSets']), resourceAttrs())).toBe(false);
  });

  it('`*` matches every resource and every subresource', () => {
    expect(allows(rule(['*']), resourceAttrs())).toBe(true);
    expect(allows(rule(['*']), resourceAttrs({ subresource: 'status' }))).toBe(true);
  });

  it('a resource does not cover its subresources, and a subresource not its resource', () => {
    expect(allows(rule(['unitsets']), resourceAttrs({ subresource: 'status' }))).toBe(false);
    expect(allows(rule(['unitsets/status']), resourceAttrs({ subresource: 'status' }))).toBe(true);
    expect(allows(rule(['unitsets/status']), resourceAttrs({ subresource: 'scale' }))).toBe(false);
    expect(allows(rule(['unitsets/status']), resourceAttrs())).toBe(false);
  });

  it('`*/subresource` matches that subresource of every resource, and nothing else', () => {
    expect(allows(rule(['*/scale']), resourceAttrs({ subresource: 'scale' }))).toBe(true);
    expect(allows(rule(['*/scale']), resourceAttrs({ resource: 'units', subresource: 'scale' }))).toBe(true);
    expect(allows(rule(['*/scale']), resourceAttrs({ subresource: 'status' }))).toBe(false);
    expect(allows(rule(['*/scale']), resourceAttrs())).toBe(false);
    // The length check: `*/scale` must not match subresource "ale" or "xscale".
    expect(resourceMatches(rule(['*/scale']), 'unitsets/ale', 'ale')).toBe(false);
    expect(resourceMatches(rule(['*/scale']), 'unitsets/xscale', 'xscale')).toBe(false);
  });

  it('`resource/*` is not a wildcard in kube: it matches no real subresource', () => {
    expect(allows(rule(['unitsets/*']), resourceAttrs({ subresource: 'status' }))).toBe(false);
    expect(allows(rule(['unitsets/*']), resourceAttrs())).toBe(false);
    // `*/*` is not a wildcard either.
    expect(allows(rule(['*/*']), resourceAttrs({ subresource: 'status' }))).toBe(false);
  });

  it('no resources matches no resource request', () => {
    expect(allows({ verbs: ['get'], apiGroups: ['upm.io'] }, resourceAttrs())).toBe(false);
    expect(allows({ verbs: ['*'], nonResourceURLs: ['*'] }, resourceAttrs())).toBe(false);
  });
});

describe('rule matching: resourceNames', () => {
  const rule: PolicyRule = { verbs: ['*'], apiGroups: ['upm.io'], resources: ['unitsets'], resourceNames: ['a', 'b'] };

  it('matches only the listed names', () => {
    expect(allows(rule, resourceAttrs({ name: 'a' }))).toBe(true);
    expect(allows(rule, resourceAttrs({ name: 'b', verb: 'delete' }))).toBe(true);
    expect(allows(rule, resourceAttrs({ name: 'c' }))).toBe(false);
    expect(allows(rule, resourceAttrs({ name: 'A' }))).toBe(false);
  });

  it('list, watch, create and deletecollection without a name do not match', () => {
    for (const verb of ['list', 'watch', 'create', 'deletecollection']) {
      expect(allows(rule, resourceAttrs({ verb, name: '' }))).toBe(false);
    }
  });

  it('list/watch with the name pinned (metadata.name field selector) match', () => {
    expect(allows(rule, resourceAttrs({ verb: 'list', name: 'a' }))).toBe(true);
    expect(allows(rule, resourceAttrs({ verb: 'watch', name: 'b' }))).toBe(true);
    expect(allows(rule, resourceAttrs({ verb: 'watch', name: 'z' }))).toBe(false);
  });

  it('no resourceNames (or []) matches every name and no name', () => {
    const open: PolicyRule = {
      verbs: ['list', 'get'],
      apiGroups: ['upm.io'],
      resources: ['unitsets'],
      resourceNames: [],
    };
    expect(allows(open, resourceAttrs({ verb: 'list', name: '' }))).toBe(true);
    expect(allows(open, resourceAttrs({ name: 'anything' }))).toBe(true);
  });

  it('names are exact: no wildcard', () => {
    const star: PolicyRule = { verbs: ['get'], apiGroups: ['upm.io'], resources: ['unitsets'], resourceNames: ['*'] };
    expect(allows(star, resourceAttrs({ name: 'x' }))).toBe(false);
  });
});

describe('rule matching: nonResourceURLs', () => {
  const rule = (nonResourceURLs: string[], verbs = ['get']): PolicyRule => ({ verbs, nonResourceURLs });

  it('exact URLs match only themselves', () => {
    expect(allows(rule(['/healthz']), pathAttrs('/healthz'))).toBe(true);
    expect(allows(rule(['/healthz']), pathAttrs('/healthz/ping'))).toBe(false);
    expect(allows(rule(['/healthz']), pathAttrs('/healthz/'))).toBe(false);
    expect(allows(rule(['/version/']), pathAttrs('/version'))).toBe(false);
  });

  it('a trailing `*` is a plain prefix match', () => {
    expect(allows(rule(['/apis/*']), pathAttrs('/apis/upm.io/v1'))).toBe(true);
    expect(allows(rule(['/apis/*']), pathAttrs('/apis/'))).toBe(true);
    expect(allows(rule(['/apis/*']), pathAttrs('/apis'))).toBe(false);
    expect(allows(rule(['/healthz*']), pathAttrs('/healthzfoo'))).toBe(true);
    expect(allows(rule(['/openapi/v3*']), pathAttrs('/openapi/v2'))).toBe(false);
  });

  it('`*` matches every path', () => {
    expect(allows(rule(['*']), pathAttrs('/anything/at/all'))).toBe(true);
    expect(allows(rule(['*']), pathAttrs('/'))).toBe(true);
  });

  it('a `*` in the middle is literal', () => {
    expect(nonResourceURLMatches(rule(['/a/*/c']), '/a/b/c')).toBe(false);
    expect(nonResourceURLMatches(rule(['/a/*/c']), '/a/*/c')).toBe(true);
  });

  it('the verb must match (non-resource verbs are lower-case HTTP methods)', () => {
    expect(allows(rule(['/metrics']), pathAttrs('/metrics', 'post'))).toBe(false);
    expect(allows(rule(['/metrics'], ['post']), pathAttrs('/metrics', 'post'))).toBe(true);
  });

  it('resource rules do not match non-resource requests', () => {
    expect(allows({ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }, pathAttrs('/healthz'))).toBe(false);
  });
});

describe('subjects', () => {
  const sa = serviceAccountUser('upm-system', 'upm-apiserver');

  it('builds kube service account usernames and groups', () => {
    expect(serviceAccountUsername('ns', 'x')).toBe('system:serviceaccount:ns:x');
    expect(sa).toEqual({
      username: 'system:serviceaccount:upm-system:upm-apiserver',
      groups: ['system:serviceaccounts', 'system:serviceaccounts:upm-system', 'system:authenticated'],
    });
  });

  it('User matches the username exactly', () => {
    expect(appliesTo(alice, [userSubject('alice')], '')).toBe(0);
    expect(appliesTo(alice, [userSubject('Alice')], '')).toBe(-1);
    expect(appliesTo(alice, [groupSubject('alice')], '')).toBe(-1);
  });

  it('Group matches any of the user groups', () => {
    const bob: UserInfo = { username: 'bob', groups: ['dev', 'system:authenticated'] };
    expect(appliesTo(bob, [userSubject('alice'), groupSubject('dev')], '')).toBe(1);
    expect(appliesTo(bob, [groupSubject('ops')], '')).toBe(-1);
    expect(appliesTo(bob, [userSubject('dev')], '')).toBe(-1);
  });

  it('ServiceAccount matches system:serviceaccount:<ns>:<name>', () => {
    expect(appliesTo(sa, [saSubject('upm-apiserver', 'upm-system')], '')).toBe(0);
    expect(appliesTo(sa, [saSubject('upm-apiserver', 'other')], '')).toBe(-1);
    expect(appliesTo(sa, [saSubject('other', 'upm-system')], '')).toBe(-1);
    // A User subject spelled like the SA username matches too (it is just the username).
    expect(appliesTo(sa, [userSubject('system:serviceaccount:upm-system:upm-apiserver')], '')).toBe(0);
  });

  it('a ServiceAccount subject without namespace defaults to the RoleBinding namespace', () => {
    expect(appliesTo(sa, [saSubject('upm-apiserver')], 'upm-system')).toBe(0);
    expect(appliesTo(sa, [saSubject('upm-apiserver')], 'default')).toBe(-1);
    // ...and never matches in a ClusterRoleBinding (no namespace to default to).
    expect(appliesTo(sa, [saSubject('upm-apiserver')], '')).toBe(-1);
  });

  it('service account groups work as Group subjects', () => {
    expect(appliesTo(sa, [groupSubject('system:serviceaccounts')], '')).toBe(0);
    expect(appliesTo(sa, [groupSubject('system:serviceaccounts:upm-system')], '')).toBe(0);
    expect(appliesTo(sa, [groupSubject('system:serviceaccounts:default')], '')).toBe(-1);
  });

  it('unknown subject kinds never match', () => {
    expect(appliesTo(alice, [{ kind: 'user', name: 'alice' }], '')).toBe(-1);
    expect(appliesTo(alice, null, '')).toBe(-1);
  });
});

describe('RBACAuthorizer: bindings', () => {
  const readUnitsets: PolicyRule = { verbs: ['get', 'list'], apiGroups: ['upm.io'], resources: ['unitsets'] };

  it('denies by default: NoOpinion with an empty reason', () => {
    const authz = new RBACAuthorizer(new InMemoryRBACSource());
    expect(authz.authorize(resourceAttrs())).toEqual({ decision: 'NoOpinion', reason: '' });
    expect(authz.authorize(pathAttrs('/healthz'))).toEqual({ decision: 'NoOpinion', reason: '' });
  });

  it("ClusterRoleBinding grants everywhere, with kube's reason", () => {
    const src = new InMemoryRBACSource({
      clusterRoles: [clusterRole('upm-reader', [readUnitsets])],
      clusterRoleBindings: [clusterRoleBinding('alice-reads', 'upm-reader', [groupSubject('x'), userSubject('alice')])],
    });
    const authz = new RBACAuthorizer(src);
    expect(authz.authorize(resourceAttrs({ namespace: 'a' }))).toEqual({
      decision: 'Allow',
      reason: 'RBAC: allowed by ClusterRoleBinding "alice-reads" of ClusterRole "upm-reader" to User "alice"',
    });
    expect(authz.authorize(resourceAttrs({ namespace: 'b' })).decision).toBe('Allow');
    expect(authz.authorize(resourceAttrs({ namespace: '', verb: 'list', name: '' })).decision).toBe('Allow');
    expect(authz.authorize(resourceAttrs({ verb: 'delete' })).decision).toBe('NoOpinion');
    expect(authz.authorize(resourceAttrs({ user: { username: 'bob', groups: [] } })).decision).toBe('NoOpinion');
  });

  it('RoleBinding to a Role grants in its namespace only', () => {
    const src = new InMemoryRBACSource({
      roles: [role('a', 'reader', [readUnitsets])],
      roleBindings: [roleBinding('a', 'alice-reads', 'Role', 'reader', [userSubject('alice')])],
    });
    const authz = new RBACAuthorizer(src);
    expect(authz.authorize(resourceAttrs({ namespace: 'a' }))).toEqual({
      decision: 'Allow',
      reason: 'RBAC: allowed by RoleBinding "alice-reads/a" of Role "reader" to User "alice"',
    });
    expect(authz.authorize(resourceAttrs({ namespace: 'b' })).decision).toBe('NoOpinion');
    expect(authz.authorize(resourceAttrs({ namespace: '' })).decision).toBe('NoOpinion');
  });

  it('RoleBinding to a Role only finds the Role in the binding namespace', () => {
    const src = new InMemoryRBACSource({
      roles: [role('b', 'reader', [readUnitsets])],
      roleBindings: [roleBinding('a', 'alice-reads', 'Role', 'reader', [userSubject('alice')])],
    });
    const r = new RBACAuthorizer(src).authorize(resourceAttrs({ namespace: 'a' }));
    expect(r).toEqual({ decision: 'NoOpinion', reason: 'RBAC: role.rbac.authorization.k8s.io "reader" not found' });
  });

  it('RoleBinding to a ClusterRole grants that ClusterRole in the binding namespace only', () => {
    const src = new InMemoryRBACSource({
      clusterRoles: [clusterRole('upm-reader', [readUnitsets, { verbs: ['get'], nonResourceURLs: ['/metrics'] }])],
      roleBindings: [roleBinding('a', 'alice-reads', 'ClusterRole', 'upm-reader', [userSubject('alice')])],
    });
    const authz = new RBACAuthorizer(src);
    expect(authz.authorize(resourceAttrs({ namespace: 'a' }))).toEqual({
      decision: 'Allow',
      reason: 'RBAC: allowed by RoleBinding "alice-reads/a" of ClusterRole "upm-reader" to User "alice"',
    });
    expect(authz.authorize(resourceAttrs({ namespace: 'b' })).decision).toBe('NoOpinion');
    // Not at the cluster scope, and non-resource rules of the ClusterRole don't apply through it.
    expect(authz.authorize(resourceAttrs({ namespace: '', verb: 'list', name: '' })).decision).toBe('NoOpinion');
    expect(authz.authorize(pathAttrs('/metrics')).decision).toBe('NoOpinion');
  });

  it('RoleBindings are never consulted for cluster-scoped requests, even if the source lists all namespaces for ""', () => {
    // An informer lister's RoleBindings("") lists every namespace; kube guards with len(namespace) > 0.
    const inner = new InMemoryRBACSource({
      clusterRoles: [clusterRole('upm-reader', [readUnitsets])],
      roleBindings: [roleBinding('a', 'rb', 'ClusterRole', 'upm-reader', [userSubject('alice')])],
    });
    const allNamespaces = Object.assign(Object.create(inner) as InMemoryRBACSource, {
      listRoleBindings: (ns: string) => (ns === '' ? inner.listRoleBindings('a') : inner.listRoleBindings(ns)),
    });
    const authz = new RBACAuthorizer(allNamespaces);
    expect(authz.authorize(resourceAttrs({ namespace: 'a' })).decision).toBe('Allow');
    expect(authz.authorize(resourceAttrs({ namespace: '' })).decision).toBe('NoOpinion');
  });

  it('ServiceAccount subjects: explicit namespace, defaulted namespace, reasons', () => {
    const sa = serviceAccountUser('upm-system', 'upm-apiserver');
    const src = new InMemoryRBACSource({
      clusterRoles: [clusterRole('upm-reader', [readUnitsets])],
      roleBindings: [
        roleBinding('upm-system', 'local', 'ClusterRole', 'upm-reader', [saSubject('upm-apiserver')]),
        roleBinding('other', 'local', 'ClusterRole', 'upm-reader', [saSubject('upm-apiserver')]),
      ],
      clusterRoleBindings: [clusterRoleBinding('no-ns', 'upm-reader', [saSubject('upm-apiserver')])],
    });
    const authz = new RBACAuthorizer(src);
    expect(authz.authorize(resourceAttrs({ user: sa, namespace: 'upm-system' }))).toEqual({
      decision: 'Allow',
      reason:
        'RBAC: allowed by RoleBinding "local/upm-system" of ClusterRole "upm-reader" to ServiceAccount "upm-apiserver/upm-system"',
    });
    // In "other" the namespace-less subject means other:upm-apiserver, not our SA.
    expect(authz.authorize(resourceAttrs({ user: sa, namespace: 'other' })).decision).toBe('NoOpinion');
    // The ClusterRoleBinding's namespace-less SA subject matches nobody.
    expect(authz.authorize(resourceAttrs({ user: sa, namespace: '' })).decision).toBe('NoOpinion');

    src.putClusterRoleBinding(clusterRoleBinding('with-ns', 'upm-reader', [saSubject('upm-apiserver', 'upm-system')]));
    expect(authz.authorize(resourceAttrs({ user: sa, namespace: '' }))).toEqual({
      decision: 'Allow',
      reason:
        'RBAC: allowed by ClusterRoleBinding "with-ns" of ClusterRole "upm-reader" to ServiceAccount "upm-apiserver/upm-system"',
    });
  });

  it('Group subjects, and the reason names the first matching subject', () => {
    const src = new InMemoryRBACSource({
      clusterRoles: [clusterRole('upm-reader', [readUnitsets])],
      clusterRoleBindings: [
        clusterRoleBinding('authenticated', 'upm-reader', [groupSubject('system:authenticated'), userSubject('alice')]),
      ],
    });
    const authz = new RBACAuthorizer(src);
    expect(authz.authorize(resourceAttrs()).reason).toBe(
      'RBAC: allowed by ClusterRoleBinding "authenticated" of ClusterRole "upm-reader" to Group "system:authenticated"',
    );
    expect(
      authz.authorize(resourceAttrs({ user: { username: 'anon', groups: ['system:unauthenticated'] } })).decision,
    ).toBe('NoOpinion');
  });

  it('ClusterRoleBindings are consulted before RoleBindings', () => {
    const src = new InMemoryRBACSource({
      clusterRoles: [clusterRole('upm-reader', [readUnitsets])],
      roleBindings: [roleBinding('ns', 'rb', 'ClusterRole', 'upm-reader', [userSubject('alice')])],
      clusterRoleBindings: [clusterRoleBinding('crb', 'upm-reader', [userSubject('alice')])],
    });
    expect(new RBACAuthorizer(src).authorize(resourceAttrs()).reason).toContain('ClusterRoleBinding "crb"');
  });

  it('a binding to a missing role is skipped and the error noted; other bindings still grant', () => {
    const src = new InMemoryRBACSource({
      clusterRoles: [clusterRole('upm-reader', [readUnitsets])],
      roleBindings: [roleBinding('ns', 'gone-role', 'Role', 'gone', [userSubject('alice')])],
      clusterRoleBindings: [
        clusterRoleBinding('gone', 'missing', [userSubject('alice')]),
        clusterRoleBinding('bad-kind', 'x', [userSubject('alice')], 'Group'),
        clusterRoleBinding('not-alice', 'also-missing', [userSubject('bob')]),
      ],
    });
    const authz = new RBACAuthorizer(src);
    const denied = authz.authorize(resourceAttrs({ verb: 'delete' }));
    expect(denied).toEqual({
      decision: 'NoOpinion',
      reason:
        'RBAC: [clusterrole.rbac.authorization.k8s.io "missing" not found, unsupported role reference kind: "Group", role.rbac.authorization.k8s.io "gone" not found]',
    });
    // Bindings that don't apply to the user are never resolved.
    expect(denied.reason).not.toContain('also-missing');

    src.putClusterRoleBinding(clusterRoleBinding('works', 'upm-reader', [userSubject('alice')]));
    expect(authz.authorize(resourceAttrs())).toEqual({
      decision: 'Allow',
      reason: 'RBAC: allowed by ClusterRoleBinding "works" of ClusterRole "upm-reader" to User "alice"',
    });
  });

  it('one resolution error is reported without brackets, and duplicates once', () => {
    const src = new InMemoryRBACSource({
      clusterRoleBindings: [
        clusterRoleBinding('a', 'missing', [userSubject('alice')]),
        clusterRoleBinding('b', 'missing', [userSubject('alice')]),
      ],
    });
    expect(new RBACAuthorizer(src).authorize(resourceAttrs()).reason).toBe(
      'RBAC: clusterrole.rbac.authorization.k8s.io "missing" not found',
    );
  });

  it('a failing source is an error, not a crash', () => {
    const src = new InMemoryRBACSource();
    src.listClusterRoleBindings = () => {
      throw new Error('cache not synced');
    };
    expect(new RBACAuthorizer(src).authorize(resourceAttrs())).toEqual({
      decision: 'NoOpinion',
      reason: 'RBAC: cache not synced',
    });
  });

  it('null rules and subjects are tolerated', () => {
    const src = new InMemoryRBACSource({
      clusterRoles: [{ kind: 'ClusterRole', metadata: { name: 'empty' }, rules: null }],
      clusterRoleBindings: [
        { ...clusterRoleBinding('nobody', 'empty', []), subjects: null },
        clusterRoleBinding('alice', 'empty', [userSubject('alice')]),
      ],
    });
    expect(new RBACAuthorizer(src).authorize(resourceAttrs())).toEqual({ decision: 'NoOpinion', reason: '' });
  });

  it('never returns Deny', () => {
    const src = new InMemoryRBACSource({
      clusterRoleBindings: [clusterRoleBinding('x', 'missing', [userSubject('alice')])],
    });
    const authz = new RBACAuthorizer(src);
    for (const a of [resourceAttrs(), pathAttrs('/x'), resourceAttrs({ namespace: '' })]) {
      expect(authz.authorize(a).decision).not.toBe('Deny');
    }
  });

  it('non-resource rules apply through ClusterRoleBindings', () => {
    const src = new InMemoryRBACSource({
      clusterRoles: [clusterRole('metrics', [{ verbs: ['get'], nonResourceURLs: ['/metrics', '/debug/*'] }])],
      clusterRoleBindings: [clusterRoleBinding('m', 'metrics', [userSubject('alice')])],
    });
    const authz = new RBACAuthorizer(src);
    expect(authz.authorize(pathAttrs('/metrics')).decision).toBe('Allow');
    expect(authz.authorize(pathAttrs('/debug/pprof/heap')).decision).toBe('Allow');
    expect(authz.authorize(pathAttrs('/metricsx')).decision).toBe('NoOpinion');
    expect(authz.authorize(pathAttrs('/metrics', 'put')).decision).toBe('NoOpinion');
  });
});

describe('RBACAuthorizer.rulesFor (SelfSubjectRulesReview)', () => {
  it('returns the applicable rules split into resource and non-resource rules', () => {
    const src = new InMemoryRBACSource({
      clusterRoles: [
        clusterRole('global', [
          { verbs: ['get'], nonResourceURLs: ['/healthz'] },
          { verbs: ['list'], apiGroups: ['upm.io'], resources: ['unitsets'] },
        ]),
        clusterRole('someone-else', [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }]),
      ],
      roles: [
        role('a', 'local', [{ verbs: ['get'], apiGroups: ['upm.io'], resources: ['units'], resourceNames: ['u1'] }]),
      ],
      roleBindings: [
        roleBinding('a', 'local', 'Role', 'local', [userSubject('alice')]),
        roleBinding('a', 'broken', 'Role', 'nope', [userSubject('alice')]),
      ],
      clusterRoleBindings: [
        clusterRoleBinding('global', 'global', [userSubject('alice')]),
        clusterRoleBinding('other', 'someone-else', [userSubject('bob')]),
      ],
    });
    const authz = new RBACAuthorizer(src);
    expect(authz.rulesFor(alice, 'a')).toEqual({
      resourceRules: [
        { verbs: ['list'], apiGroups: ['upm.io'], resources: ['unitsets'] },
        { verbs: ['get'], apiGroups: ['upm.io'], resources: ['units'], resourceNames: ['u1'] },
      ],
      nonResourceRules: [{ verbs: ['get'], nonResourceURLs: ['/healthz'] }],
      incomplete: false,
      evaluationError: 'role.rbac.authorization.k8s.io "nope" not found',
    });
    const other = authz.rulesFor(alice, 'b');
    expect(other.resourceRules).toEqual([{ verbs: ['list'], apiGroups: ['upm.io'], resources: ['unitsets'] }]);
    expect(other.evaluationError).toBeUndefined();
  });
});

describe('InMemoryRBACSource', () => {
  it('puts, replaces, lists by namespace and deletes', () => {
    const src = new InMemoryRBACSource();
    src.put(role('a', 'r', []));
    src.put(role('b', 'r', []));
    src.put({ ...role('a', 'r', [{ verbs: ['get'] }]) });
    expect(src.listRoles('a')).toHaveLength(1);
    expect(src.getRole('a', 'r')?.rules).toEqual([{ verbs: ['get'] }]);
    expect(src.getRole('c', 'r')).toBeUndefined();
    expect(src.delete('Role', 'a', 'r')).toBe(true);
    expect(src.getRole('a', 'r')).toBeUndefined();
    src.put(clusterRole('c', []));
    expect(src.getClusterRole('c')).toBeDefined();
    expect(() =>
      src.put({ kind: 'RoleBinding', metadata: { name: 'x' }, roleRef: { apiGroup: '', kind: 'Role', name: 'r' } }),
    ).toThrow(/needs metadata.namespace/);
  });
});
