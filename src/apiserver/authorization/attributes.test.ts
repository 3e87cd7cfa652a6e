import { parseRequestInfo } from '../endpoints/requestinfo.js';
import {
  attributesFromRequest,
  attributesFromSelfSubjectAccessReviewSpec,
  attributesFromSubjectAccessReviewSpec,
  decisionFromSubjectAccessReviewStatus,
  nameFromFieldSelector,
  subjectAccessReviewSpecFromAttributes,
  subjectAccessReviewStatus,
  validateSubjectAccessReviewSpec,
} from './attributes.js';
import { InMemoryRBACSource, RBACAuthorizer } from './rbac.js';
import { alice, clusterRole, clusterRoleBinding, pathAttrs, resourceAttrs, userSubject } from './testing/builders.js';

function fromUrl(method: string, url: string) {
  const u = new URL(url, 'https://x');
  return attributesFromRequest(alice, parseRequestInfo(method, u.pathname, u.searchParams), u.searchParams);
}

describe('attributesFromRequest', () => {
  it('copies a namespaced resource request', () => {
    expect(fromUrl('GET', '/apis/upm.io/v1/namespaces/ns/unitsets/x/status')).toEqual({
      user: alice,
      verb: 'get',
      namespace: 'ns',
      apiGroup: 'upm.io',
      apiVersion: 'v1',
      resource: 'unitsets',
      subresource: 'status',
      name: 'x',
      isResourceRequest: true,
      path: '/apis/upm.io/v1/namespaces/ns/unitsets/x/status',
    });
  });

  it('cluster-scoped list and core group', () => {
    const a = fromUrl('GET', '/apis/upm.io/v1/unitsets');
    expect([a.verb, a.namespace, a.name, a.resource]).toEqual(['list', '', '', 'unitsets']);
    const c = fromUrl('DELETE', '/api/v1/namespaces/ns/configmaps');
    expect([c.verb, c.apiGroup, c.apiVersion, c.resource]).toEqual(['deletecollection', '', 'v1', 'configmaps']);
  });

  it('takes the name of a list/watch from a metadata.name field selector', () => {
    const list = fromUrl('GET', '/apis/upm.io/v1/namespaces/ns/unitsets?fieldSelector=metadata.name%3Dx');
    expect([list.verb, list.name]).toEqual(['list', 'x']);
    const watch = fromUrl(
      'GET',
      '/apis/upm.io/v1/namespaces/ns/unitsets?watch=true&fieldSelector=metadata.name%3D%3Dy',
    );
    expect([watch.verb, watch.name]).toEqual(['watch', 'y']);
    // Not for deletecollection, and not for other fields.
    expect(fromUrl('DELETE', '/apis/upm.io/v1/namespaces/ns/unitsets?fieldSelector=metadata.name%3Dx').name).toBe('');
    expect(fromUrl('GET', '/apis/upm.io/v1/namespaces/ns/unitsets?fieldSelector=status.phase%3Dx').name).toBe('');
    // Without the query nothing is inferred.
    const info = parseRequestInfo(
      'GET',
      '/apis/upm.io/v1/namespaces/ns/unitsets',
      new URLSearchParams('fieldSelector=metadata.name=x'),
    );
    expect(attributesFromRequest(alice, info).name).toBe('');
  });

  it('a field-selector name lets a resourceNames rule allow the list', () => {
    const src = new InMemoryRBACSource({
      clusterRoles: [
        clusterRole('cm', [
          { verbs: ['get', 'list', 'watch'], apiGroups: ['upm.io'], resources: ['unitsets'], resourceNames: ['x'] },
        ]),
      ],
      clusterRoleBindings: [clusterRoleBinding('cm', 'cm', [userSubject('alice')])],
    });
    const authz = new RBACAuthorizer(src);
    expect(
      authz.authorize(fromUrl('GET', '/apis/upm.io/v1/namespaces/ns/unitsets?fieldSelector=metadata.name%3Dx'))
        .decision,
    ).toBe('Allow');
    expect(
      authz.authorize(fromUrl('GET', '/apis/upm.io/v1/namespaces/ns/unitsets?watch=1&fieldSelector=metadata.name%3Dx'))
        .decision,
    ).toBe('Allow');
    expect(
      authz.authorize(fromUrl('GET', '/apis/upm.io/v1/namespaces/ns/unitsets?fieldSelector=metadata.name%3Dother'))
        .decision,
    ).toBe('NoOpinion');
    expect(authz.authorize(fromUrl('GET', '/apis/upm.io/v1/namespaces/ns/unitsets')).decision).toBe('NoOpinion');
    expect(authz.authorize(fromUrl('POST', '/apis/upm.io/v1/namespaces/ns/unitsets')).decision).toBe('NoOpinion');
  });

  it('non-resource requests keep only verb and path', () => {
    expect(fromUrl('GET', '/apis/upm.io')).toEqual(pathAttrs('/apis/upm.io'));
    expect(fromUrl('POST', '/healthz')).toEqual(pathAttrs('/healthz', 'post'));
  });
});

describe('nameFromFieldSelector', () => {
  it.each([
    ['metadata.name=x', 'x'],
    ['metadata.name==x', 'x'],
    ['metadata.namespace=ns,metadata.name=x', 'x'],
    ['metadata.name=a,metadata.name=b', 'a'],
    ['metadata.name=b,metadata.name=a', 'a'], // kube sorts the terms
    ['metadata.name!=x', ''],
    ['spec.name=x', ''],
    [' metadata.name=x', ''], // no trimming in kube
    ['metadata.name=a\\,b', 'a,b'], // escaped comma
    ['metadata.name=..', ''],
    ['metadata.name=a/b', ''],
    ['metadata.name=a%b', ''],
    ['metadata.name', ''], // parse error
    ['metadata.name=x,bogus', ''], // parse error anywhere drops everything
    ['metadata.name=a\\q', ''], // invalid escape
    ['metadata.name=a=b', ''], // unescaped '='
    ['', ''],
  ])('%j → %j', (sel, want) => {
    expect(nameFromFieldSelector(sel)).toBe(want);
  });
});

describe('SubjectAccessReview conversions', () => {
  it('spec with resourceAttributes → attributes (empty version means every version)', () => {
    const a = attributesFromSubjectAccessReviewSpec({
      user: 'alice',
      uid: 'u1',
      groups: ['g1', 'system:authenticated'],
      extra: { scopes: ['a', 'b'] },
      resourceAttributes: {
        namespace: 'ns',
        verb: 'update',
        group: 'upm.io',
        resource: 'unitsets',
        subresource: 'status',
        name: 'x',
      },
    });
    expect(a).toEqual({
      user: { username: 'alice', uid: 'u1', groups: ['g1', 'system:authenticated'], extra: { scopes: ['a', 'b'] } },
      verb: 'update',
      namespace: 'ns',
      apiGroup: 'upm.io',
      apiVersion: '*',
      resource: 'unitsets',
      subresource: 'status',
      name: 'x',
      isResourceRequest: true,
      path: '',
    });
    expect(attributesFromSubjectAccessReviewSpec({ user: 'a', resourceAttributes: { version: 'v1' } }).apiVersion).toBe(
      'v1',
    );
  });

  it('spec with nonResourceAttributes → attributes', () => {
    expect(
      attributesFromSubjectAccessReviewSpec({
        user: 'alice',
        groups: ['system:authenticated'],
        nonResourceAttributes: { path: '/healthz', verb: 'get' },
      }),
    ).toEqual(pathAttrs('/healthz'));
    expect(
      attributesFromSelfSubjectAccessReviewSpec(alice, { nonResourceAttributes: { path: '/x', verb: 'post' } }),
    ).toEqual(pathAttrs('/x', 'post'));
  });

  it('attributes → spec omits empty fields, like the webhook authorizer', () => {
    expect(subjectAccessReviewSpecFromAttributes(resourceAttrs({ namespace: '', subresource: 'status' }))).toEqual({
      resourceAttributes: {
        verb: 'get',
        group: 'upm.io',
        version: 'v1',
        resource: 'unitsets',
        subresource: 'status',
        name: 'x',
      },
      user: 'alice',
      groups: ['system:authenticated'],
    });
    const sa = {
      username: 'system:serviceaccount:a:b',
      uid: 'u',
      groups: [],
      extra: { 'authentication.kubernetes.io/credential-id': ['JTI=1'] },
    };
    expect(subjectAccessReviewSpecFromAttributes(pathAttrs('/readyz', 'get', sa))).toEqual({
      nonResourceAttributes: { path: '/readyz', verb: 'get' },
      user: 'system:serviceaccount:a:b',
      uid: 'u',
      extra: { 'authentication.kubernetes.io/credential-id': ['JTI=1'] },
    });
  });

  it('round trips through a SAR spec', () => {
    const attrs = resourceAttrs({ subresource: 'scale' });
    expect(attributesFromSubjectAccessReviewSpec(subjectAccessReviewSpecFromAttributes(attrs))).toEqual({
      ...attrs,
      path: '',
    });
  });

  it('validates the spec like kube', () => {
    expect(validateSubjectAccessReviewSpec({ user: 'a', resourceAttributes: {} })).toEqual([]);
    expect(validateSubjectAccessReviewSpec({ groups: ['g'], nonResourceAttributes: {} })).toEqual([]);
    expect(validateSubjectAccessReviewSpec({ user: 'a' })).toEqual([
      {
        field: 'spec.resourceAttributes',
        message: 'exactly one of nonResourceAttributes or resourceAttributes must be specified',
      },
    ]);
    expect(validateSubjectAccessReviewSpec({ resourceAttributes: {}, nonResourceAttributes: {} })).toEqual([
      { field: 'spec.nonResourceAttributes', message: 'cannot be specified in combination with resourceAttributes' },
      { field: 'spec.user', message: 'at least one of user or group must be specified' },
    ]);
    expect(validateSubjectAccessReviewSpec({ resourceAttributes: {} }, true)).toEqual([]);
  });

  it('decision → status (omitempty) and status → decision', () => {
    expect(subjectAccessReviewStatus({ decision: 'Allow', reason: 'RBAC: allowed by x' })).toEqual({
      allowed: true,
      reason: 'RBAC: allowed by x',
    });
    expect(subjectAccessReviewStatus({ decision: 'NoOpinion', reason: '' })).toEqual({ allowed: false });
    expect(subjectAccessReviewStatus({ decision: 'Deny', reason: 'no', error: 'boom' })).toEqual({
      allowed: false,
      denied: true,
      reason: 'no',
      evaluationError: 'boom',
    });

    expect(decisionFromSubjectAccessReviewStatus({ allowed: true, reason: 'r' })).toEqual({
      decision: 'Allow',
      reason: 'r',
    });
    expect(decisionFromSubjectAccessReviewStatus({ allowed: false })).toEqual({ decision: 'NoOpinion', reason: '' });
    expect(decisionFromSubjectAccessReviewStatus({ allowed: false, denied: true, reason: 'r' })).toEqual({
      decision: 'Deny',
      reason: 'r',
    });
    expect(decisionFromSubjectAccessReviewStatus({ allowed: true, denied: true })).toEqual({
      decision: 'Deny',
      reason: '',
      error: 'webhook subject access review returned both allow and deny response',
    });
  });

  it('a SAR evaluated by RBAC end to end', () => {
    const src = new InMemoryRBACSource({
      clusterRoles: [clusterRole('reader', [{ verbs: ['get'], apiGroups: ['upm.io'], resources: ['unitsets'] }])],
      clusterRoleBindings: [clusterRoleBinding('g', 'reader', [{ kind: 'Group', name: 'readers' }])],
    });
    const authz = new RBACAuthorizer(src);
    const review = (groups: string[]) =>
      subjectAccessReviewStatus(
        authz.authorize(
          attributesFromSubjectAccessReviewSpec({
            user: 'bob',
            groups,
            resourceAttributes: { namespace: 'ns', verb: 'get', group: 'upm.io', resource: 'unitsets', name: 'x' },
          }),
        ),
      );
    expect(review(['readers'])).toEqual({
      allowed: true,
      reason: 'RBAC: allowed by ClusterRoleBinding "g" of ClusterRole "reader" to Group "readers"',
    });
    expect(review(['writers'])).toEqual({ allowed: false });
  });
});
