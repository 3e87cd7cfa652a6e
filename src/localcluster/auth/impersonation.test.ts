// The impersonation wrapper on its own: which `impersonate` checks it asks, the user it builds,
// and how a refusal surfaces through ControlPlaneAuthorizer.

import type { IncomingMessage } from 'node:http';
import type { Authenticator, UserInfo } from '../../apiserver/authentication/authenticator.js';
import type { Attributes } from '../../apiserver/authorization/attributes.js';
import { InMemoryRBACSource } from '../../apiserver/authorization/rbac.js';
import { newControlPlaneAuthorizer } from './authorizer.js';
import { ImpersonatingAuthenticator, impersonationFailure, splitServiceAccountUsername } from './impersonation.js';

function req(headers: [string, string][]): IncomingMessage {
  const lower: Record<string, string | string[]> = {};
  for (const [k, v] of headers) {
    const key = k.toLowerCase();
    const prev = lower[key];
    lower[key] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return { headers: lower, rawHeaders: headers.flat() } as unknown as IncomingMessage;
}

const fixed = (user: UserInfo | undefined): Authenticator => ({ authenticate: () => user });
const alice: UserInfo = { username: 'alice', groups: ['system:authenticated'] };

function recordingAuthorizer(allow: (a: Attributes) => boolean) {
  const asked: Attributes[] = [];
  return {
    asked,
    authorize(a: Attributes) {
      asked.push(a);
      return allow(a) ? { decision: 'Allow' as const, reason: '' } : { decision: 'NoOpinion' as const, reason: '' };
    },
  };
}

it('passes requests without impersonation headers through', () => {
  const authz = recordingAuthorizer(() => true);
  const wrapper = new ImpersonatingAuthenticator([fixed(undefined), fixed(alice)], authz);
  expect(wrapper.authenticate(req([['Impersonate-User', '']]))).toBe(alice);
  expect(new ImpersonatingAuthenticator(fixed(undefined), authz).authenticate(req([]))).toBeUndefined();
  expect(authz.asked).toEqual([]);
});

it("asks for each user, group, extra and uid, in kube's order and attributes", () => {
  const authz = recordingAuthorizer(() => true);
  const r = req([
    ['Impersonate-User', 'bob'],
    ['Impersonate-Group', 'g1'],
    ['Impersonate-Group', 'g2'],
    ['Impersonate-Extra-Acme.com%2Fproject', 'p1'],
    ['Impersonate-Extra-acme.com%2fproject', 'p2'],
    ['Impersonate-Uid', 'u-7'],
    ['Accept', 'application/json'],
  ]);
  const user = new ImpersonatingAuthenticator(fixed(alice), authz).authenticate(r);
  expect(user).toEqual({
    username: 'bob',
    uid: 'u-7',
    groups: ['g1', 'g2', 'system:authenticated'],
    extra: { 'acme.com/project': ['p1', 'p2'] },
  });
  expect(authz.asked.map((a) => [a.verb, a.apiGroup, a.resource, a.subresource, a.namespace, a.name])).toEqual([
    ['impersonate', '', 'users', '', '', 'bob'],
    ['impersonate', '', 'groups', '', '', 'g1'],
    ['impersonate', '', 'groups', '', '', 'g2'],
    ['impersonate', 'authentication.k8s.io', 'userextras', 'acme.com/project', '', 'p1'],
    ['impersonate', 'authentication.k8s.io', 'userextras', 'acme.com/project', '', 'p2'],
    ['impersonate', 'authentication.k8s.io', 'uids', '', '', 'u-7'],
  ]);
  expect(authz.asked.every((a) => a.user === alice && a.isResourceRequest)).toBe(true);
  // The impersonation headers are gone, the others stay.
  expect(Object.keys(r.headers)).toEqual(['accept']);
});

it('treats service-account usernames as serviceaccounts in their namespace', () => {
  const authz = recordingAuthorizer(() => true);
  const wrapper = new ImpersonatingAuthenticator(fixed(alice), authz);
  expect(wrapper.authenticate(req([['Impersonate-User', 'system:serviceaccount:ns1:robot']]))).toEqual({
    username: 'system:serviceaccount:ns1:robot',
    groups: ['system:serviceaccounts', 'system:serviceaccounts:ns1', 'system:authenticated'],
  });
  expect(authz.asked[0]).toMatchObject({ resource: 'serviceaccounts', namespace: 'ns1', name: 'robot' });
  // Explicit groups replace the service-account groups.
  expect(
    wrapper.authenticate(
      req([
        ['Impersonate-User', 'system:serviceaccount:ns1:robot'],
        ['Impersonate-Group', 'x'],
      ]),
    )!.groups,
  ).toEqual(['x', 'system:authenticated']);
  expect(splitServiceAccountUsername('system:serviceaccount:ns1:robot')).toEqual({ namespace: 'ns1', name: 'robot' });
  expect(splitServiceAccountUsername('system:serviceaccount:ns1')).toBeUndefined();
  expect(splitServiceAccountUsername('system:serviceaccount:NS:robot')).toBeUndefined();
});

it('adds system:authenticated unless a (un)authenticated group is given; anonymous gets system:unauthenticated', () => {
  const wrapper = new ImpersonatingAuthenticator(
    fixed(alice),
    recordingAuthorizer(() => true),
  );
  expect(
    wrapper.authenticate(
      req([
        ['Impersonate-User', 'x'],
        ['Impersonate-Group', 'system:unauthenticated'],
      ]),
    )!.groups,
  ).toEqual(['system:unauthenticated']);
  expect(wrapper.authenticate(req([['Impersonate-User', 'system:anonymous']]))!.groups).toEqual([
    'system:unauthenticated',
  ]);
});

it('marks a refused impersonation so that the authorizer answers 403 (or 500 without a user)', async () => {
  const source = new InMemoryRBACSource({
    clusterRoles: [
      {
        metadata: { name: 'imp' },
        rules: [{ verbs: ['impersonate'], apiGroups: [''], resources: ['users'], resourceNames: ['bob'] }],
      },
    ],
    clusterRoleBindings: [
      {
        metadata: { name: 'imp' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'imp' },
        subjects: [{ kind: 'User', name: 'alice' }],
      },
    ],
  });
  const authz = newControlPlaneAuthorizer(source);
  const wrapper = new ImpersonatingAuthenticator(fixed(alice), authz.chain);
  expect(wrapper.authenticate(req([['Impersonate-User', 'bob']]))!.username).toBe('bob');

  const refused = wrapper.authenticate(
    req([
      ['Impersonate-User', 'bob'],
      ['Impersonate-Group', 'system:masters'],
    ]),
  )!;
  expect(refused).toEqual(alice);
  const failure = impersonationFailure(refused)!;
  expect(failure.code).toBe(403);
  expect(failure.message).toBe(
    'groups "system:masters" is forbidden: User "alice" cannot impersonate resource "groups" in API group "" at the cluster scope',
  );
  const attrs: Attributes = {
    user: refused,
    verb: 'get',
    namespace: '',
    apiGroup: '',
    apiVersion: '',
    resource: '',
    subresource: '',
    name: '',
    isResourceRequest: false,
    path: '/api',
  };
  await expect(Promise.resolve(authz.authorize(attrs))).rejects.toBe(failure);
  expect(impersonationFailure(alice)).toBeUndefined();

  const noUser = wrapper.authenticate(req([['Impersonate-Group', 'g']]))!;
  expect(impersonationFailure(noUser)).toMatchObject({
    code: 500,
    message: 'Internal error occurred: requested [{Group  g}] without impersonating a user',
  });
});

it('checks unauthenticated requests as system:anonymous only with anonymousAuth', () => {
  const authz = recordingAuthorizer(() => false);
  expect(
    new ImpersonatingAuthenticator(fixed(undefined), authz).authenticate(req([['Impersonate-User', 'bob']])),
  ).toBeUndefined();
  const marked = new ImpersonatingAuthenticator(fixed(undefined), authz, { anonymousAuth: true }).authenticate(
    req([['Impersonate-User', 'bob']]),
  )!;
  expect(marked.username).toBe('system:anonymous');
  expect(impersonationFailure(marked)!.message).toBe(
    'users "bob" is forbidden: User "system:anonymous" cannot impersonate resource "users" in API group "" at the cluster scope',
  );
});
