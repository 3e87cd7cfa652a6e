import type { UserInfo } from '../authentication/authenticator.js';
import { isStatusError } from '../../machinery/errors.js';
import type { Attributes, AuthorizationResult } from './attributes.js';
import {
  DEFAULT_ALWAYS_ALLOW_PATHS,
  PathAuthorizer,
  PrivilegedGroupsAuthorizer,
  UnionAuthorizer,
  forbiddenError,
  forbiddenMessage,
  newDefaultAuthorizer,
  publicInfoViewerPolicy,
  type Authorizer,
} from './authorizer.js';
import { goQuote } from '../../machinery/goformat.js';
import { InMemoryRBACSource, RBACAuthorizer } from './rbac.js';
import { alice, clusterRole, clusterRoleBinding, pathAttrs, resourceAttrs, userSubject } from './testing/builders.js';

const anonymous: UserInfo = { username: 'system:anonymous', groups: ['system:unauthenticated'] };
const admin: UserInfo = { username: 'kubernetes-admin', groups: ['system:masters', 'system:authenticated'] };

const fixed = (r: AuthorizationResult): Authorizer => ({ authorize: () => r });

describe('UnionAuthorizer', () => {
  it('the first Allow or Deny wins, with its own reason and error', () => {
    const u = new UnionAuthorizer(
      fixed({ decision: 'NoOpinion', reason: 'a' }),
      fixed({ decision: 'Deny', reason: 'nope', error: 'e' }),
      fixed({ decision: 'Allow', reason: 'yes' }),
    );
    expect(u.authorize(resourceAttrs())).toEqual({ decision: 'Deny', reason: 'nope', error: 'e' });
    const v = new UnionAuthorizer(
      fixed({ decision: 'Allow', reason: 'first' }),
      fixed({ decision: 'Deny', reason: 'second' }),
    );
    expect(v.authorize(resourceAttrs())).toEqual({ decision: 'Allow', reason: 'first' });
  });

  it('all NoOpinion: reasons joined by newline, errors aggregated', () => {
    const u = new UnionAuthorizer(
      fixed({ decision: 'NoOpinion', reason: 'a', error: 'e1' }),
      fixed({ decision: 'NoOpinion', reason: '' }),
      fixed({ decision: 'NoOpinion', reason: 'b', error: 'e2' }),
    );
    expect(u.authorize(resourceAttrs())).toEqual({ decision: 'NoOpinion', reason: 'a\nb', error: '[e1, e2]' });
    expect(new UnionAuthorizer().authorize(resourceAttrs())).toEqual({ decision: 'NoOpinion', reason: '' });
  });
});

describe('PrivilegedGroupsAuthorizer', () => {
  it('system:masters may do anything; others get no opinion', () => {
    const p = new PrivilegedGroupsAuthorizer();
    expect(p.authorize(resourceAttrs({ user: admin, verb: 'escalate' }))).toEqual({ decision: 'Allow', reason: '' });
    expect(p.authorize(pathAttrs('/anything', 'delete', admin)).decision).toBe('Allow');
    expect(p.authorize(resourceAttrs())).toEqual({ decision: 'NoOpinion', reason: '' });
    // A user *named* system:masters is not in the group.
    expect(p.authorize(resourceAttrs({ user: { username: 'system:masters', groups: [] } })).decision).toBe('NoOpinion');
  });

  it('no user is an error', () => {
    const attrs = { ...resourceAttrs(), user: undefined } as unknown as Attributes;
    expect(new PrivilegedGroupsAuthorizer().authorize(attrs)).toEqual({
      decision: 'NoOpinion',
      reason: 'Error',
      error: 'no user on request.',
    });
  });
});

describe('PathAuthorizer', () => {
  it('exact paths and trailing-* prefixes, leading / optional, any verb, non-resource only', () => {
    const p = new PathAuthorizer(['/healthz', 'readyz/*', '/version/']);
    expect(p.authorize(pathAttrs('/healthz')).decision).toBe('Allow');
    expect(p.authorize(pathAttrs('/healthz', 'post')).decision).toBe('Allow');
    expect(p.authorize(pathAttrs('/healthz/ping')).decision).toBe('NoOpinion');
    expect(p.authorize(pathAttrs('/readyz/etcd')).decision).toBe('Allow');
    expect(p.authorize(pathAttrs('/readyz')).decision).toBe('NoOpinion');
    expect(p.authorize(pathAttrs('/version/')).decision).toBe('Allow');
    expect(p.authorize(pathAttrs('/version')).decision).toBe('NoOpinion');
    expect(p.authorize(resourceAttrs({ path: '/healthz' })).decision).toBe('NoOpinion');
  });

  it('rejects a * that is not trailing', () => {
    expect(() => new PathAuthorizer(['/a/*/b'])).toThrow('only trailing * allowed in "a/*/b"');
  });
});

describe('default chain (system:masters → public paths → RBAC)', () => {
  const src = new InMemoryRBACSource({
    clusterRoles: [clusterRole('reader', [{ verbs: ['get'], apiGroups: ['upm.io'], resources: ['unitsets'] }])],
    clusterRoleBindings: [
      clusterRoleBinding('alice', 'reader', [userSubject('alice')]),
      clusterRoleBinding('broken', 'missing', [userSubject('alice')]),
    ],
  });
  const chain = newDefaultAuthorizer(src);

  it('system:masters is allowed everything without any RBAC objects', () => {
    const empty = newDefaultAuthorizer(new InMemoryRBACSource());
    expect(empty.authorize(resourceAttrs({ user: admin, verb: 'delete' }))).toEqual({ decision: 'Allow', reason: '' });
    expect(empty.authorize(pathAttrs('/metrics', 'get', admin)).decision).toBe('Allow');
    expect(empty.authorize(resourceAttrs({ verb: 'delete' })).decision).toBe('NoOpinion');
  });

  it('health, readiness, liveness (and their checks) and /version are public', () => {
    for (const path of [
      '/healthz',
      '/livez',
      '/readyz',
      '/readyz/etcd',
      '/livez/ping',
      '/healthz/log',
      '/version',
      '/version/',
    ]) {
      expect(chain.authorize(pathAttrs(path, 'get', anonymous)).decision).toBe('Allow');
    }
    for (const path of ['/metrics', '/healthzx', '/openapi/v2', '/apis', '/']) {
      expect(chain.authorize(pathAttrs(path, 'get', anonymous)).decision).toBe('NoOpinion');
    }
    expect(DEFAULT_ALWAYS_ALLOW_PATHS).toContain('/readyz/*');
  });

  it('RBAC decides the rest, its reason surfaces through the chain', () => {
    expect(chain.authorize(resourceAttrs())).toEqual({
      decision: 'Allow',
      reason: 'RBAC: allowed by ClusterRoleBinding "alice" of ClusterRole "reader" to User "alice"',
    });
    expect(chain.authorize(resourceAttrs({ verb: 'delete' }))).toEqual({
      decision: 'NoOpinion',
      reason: 'RBAC: clusterrole.rbac.authorization.k8s.io "missing" not found',
    });
  });

  it('the path bypass can be turned off', () => {
    const strict = newDefaultAuthorizer(src, { alwaysAllowPaths: [] });
    expect(strict.authorize(pathAttrs('/healthz', 'get', anonymous)).decision).toBe('NoOpinion');
  });

  it('publicInfoViewerPolicy grants the same paths through RBAC, get only', () => {
    const { clusterRole: cr, clusterRoleBinding: crb } = publicInfoViewerPolicy();
    const rbac = new RBACAuthorizer(new InMemoryRBACSource({ clusterRoles: [cr], clusterRoleBindings: [crb] }));
    expect(rbac.authorize(pathAttrs('/readyz', 'get', anonymous))).toEqual({
      decision: 'Allow',
      reason:
        'RBAC: allowed by ClusterRoleBinding "system:public-info-viewer" of ClusterRole "system:public-info-viewer" to Group "system:unauthenticated"',
    });
    expect(rbac.authorize(pathAttrs('/version', 'get', alice)).reason).toContain('Group "system:authenticated"');
    expect(rbac.authorize(pathAttrs('/readyz', 'post', anonymous)).decision).toBe('NoOpinion');
    expect(rbac.authorize(pathAttrs('/readyz/etcd', 'get', anonymous)).decision).toBe('NoOpinion');
    expect(rbac.authorize(pathAttrs('/version', 'get', { username: 'x', groups: [] })).decision).toBe('NoOpinion');
  });
});

describe('forbiddenMessage', () => {
  it('named namespaced resource', () => {
    expect(forbiddenMessage(resourceAttrs())).toBe(
      'unitsets.upm.io "x" is forbidden: User "alice" cannot get resource "unitsets" in API group "upm.io" in the namespace "ns"',
    );
  });

  it('cluster scope', () => {
    expect(forbiddenMessage(resourceAttrs({ namespace: '', verb: 'delete' }))).toBe(
      'unitsets.upm.io "x" is forbidden: User "alice" cannot delete resource "unitsets" in API group "upm.io" at the cluster scope',
    );
  });

  it('subresource', () => {
    expect(forbiddenMessage(resourceAttrs({ subresource: 'status', verb: 'update' }))).toBe(
      'unitsets.upm.io "x" is forbidden: User "alice" cannot update resource "unitsets/status" in API group "upm.io" in the namespace "ns"',
    );
  });

  it('core group', () => {
    expect(forbiddenMessage(resourceAttrs({ apiGroup: '', resource: 'configmaps', name: 'cm' }))).toBe(
      'configmaps "cm" is forbidden: User "alice" cannot get resource "configmaps" in API group "" in the namespace "ns"',
    );
  });

  it('list without a name', () => {
    expect(forbiddenMessage(resourceAttrs({ verb: 'list', name: '' }))).toBe(
      'unitsets.upm.io is forbidden: User "alice" cannot list resource "unitsets" in API group "upm.io" in the namespace "ns"',
    );
    expect(forbiddenMessage(resourceAttrs({ verb: 'watch', name: '', namespace: '' }))).toBe(
      'unitsets.upm.io is forbidden: User "alice" cannot watch resource "unitsets" in API group "upm.io" at the cluster scope',
    );
  });

  it('non-resource path', () => {
    expect(forbiddenMessage(pathAttrs('/x', 'get', { username: 'u', groups: [] }))).toBe(
      'forbidden: User "u" cannot get path "/x"',
    );
    expect(forbiddenMessage(pathAttrs('/metrics', 'post', anonymous))).toBe(
      'forbidden: User "system:anonymous" cannot post path "/metrics"',
    );
  });

  it('appends ": <reason>" when there is one', () => {
    expect(forbiddenMessage(resourceAttrs(), 'RBAC: clusterrole.rbac.authorization.k8s.io "missing" not found')).toBe(
      'unitsets.upm.io "x" is forbidden: User "alice" cannot get resource "unitsets" in API group "upm.io" in the namespace "ns": RBAC: clusterrole.rbac.authorization.k8s.io "missing" not found',
    );
    expect(forbiddenMessage(pathAttrs('/x'), '')).toBe('forbidden: User "alice" cannot get path "/x"');
  });

  it('quotes like Go %q and HTML-escapes the detail (not the reason)', () => {
    const weird = { username: 'a"b\\c\n<i>&', groups: [] };
    expect(forbiddenMessage(pathAttrs('/x', 'get', weird), '<r>')).toBe(
      'forbidden: User "a\\"b\\\\c\\n&lt;i&gt;&amp;" cannot get path "/x": <r>',
    );
    expect(goQuote('tab\there\x01é')).toBe('"tab\\there\\x01é"');
  });
});

describe('forbiddenError', () => {
  it('is a 403 Forbidden Status with kube details', () => {
    const err = forbiddenError(resourceAttrs(), 'why');
    expect(isStatusError(err)).toBe(true);
    expect(err.toStatus()).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message:
        'unitsets.upm.io "x" is forbidden: User "alice" cannot get resource "unitsets" in API group "upm.io" in the namespace "ns": why',
      reason: 'Forbidden',
      details: { name: 'x', group: 'upm.io', kind: 'unitsets' },
      code: 403,
    });
  });

  it('core-group list has no group or name; non-resource has empty details', () => {
    expect(
      forbiddenError(resourceAttrs({ apiGroup: '', resource: 'pods', name: '', verb: 'list' })).toStatus().details,
    ).toEqual({ kind: 'pods' });
    const s = forbiddenError(pathAttrs('/x')).toStatus();
    expect(s.details).toEqual({});
    expect(s.message).toBe('forbidden: User "alice" cannot get path "/x"');
  });
});
