// Builders shared by the authorization tests.

import type { UserInfo } from '../../authentication/authenticator.js';
import type { Attributes } from '../attributes.js';
import type { ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, Subject } from '../types.js';
import { RBAC_GROUP } from '../types.js';

export const alice: UserInfo = { username: 'alice', groups: ['system:authenticated'] };

export function resourceAttrs(over: Partial<Attributes> = {}): Attributes {
  return {
    user: alice,
    verb: 'get',
    namespace: 'ns',
    apiGroup: 'upm.io',
    apiVersion: 'v1',
    resource: 'unitsets',
    subresource: '',
    name: 'x',
    isResourceRequest: true,
    path: '/apis/upm.io/v1/namespaces/ns/unitsets/x',
    ...over,
  };
}

export function pathAttrs(path: string, verb = 'get', user: UserInfo = alice): Attributes {
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

export const userSubject = (name: string): Subject => ({ kind: 'User', apiGroup: RBAC_GROUP, name });
export const groupSubject = (name: string): Subject => ({ kind: 'Group', apiGroup: RBAC_GROUP, name });
export const saSubject = (name: string, namespace?: string): Subject =>
  namespace === undefined ? { kind: 'ServiceAccount', name } : { kind: 'ServiceAccount', name, namespace };

export function clusterRole(name: string, rules: PolicyRule[], labels?: Record<string, string>): ClusterRole {
  return { kind: 'ClusterRole', metadata: labels ? { name, labels } : { name }, rules };
}

export function role(namespace: string, name: string, rules: PolicyRule[]): Role {
  return { kind: 'Role', metadata: { name, namespace }, rules };
}

export function clusterRoleBinding(
  name: string,
  roleName: string,
  subjects: Subject[],
  kind = 'ClusterRole',
): ClusterRoleBinding {
  return {
    kind: 'ClusterRoleBinding',
    metadata: { name },
    roleRef: { apiGroup: RBAC_GROUP, kind, name: roleName },
    subjects,
  };
}

export function roleBinding(
  namespace: string,
  name: string,
  roleKind: 'Role' | 'ClusterRole' | string,
  roleName: string,
  subjects: Subject[],
): RoleBinding {
  return {
    kind: 'RoleBinding',
    metadata: { name, namespace },
    roleRef: { apiGroup: RBAC_GROUP, kind: roleKind, name: roleName },
    subjects,
  };
}
