// RBAC object shapes (k8s.io/api/rbac/v1 types.go) as they appear on the wire. Optional fields
// are the ones Go marks `omitempty`; evaluation treats a missing list like an empty one.

import type { LabelSelector } from '../../machinery/labels.js';

export type { LabelSelector, LabelSelectorRequirement } from '../../machinery/labels.js';
export const RBAC_GROUP = 'rbac.authorization.k8s.io';
export const RBAC_API_VERSION = `${RBAC_GROUP}/v1`;

/** `*` in verbs, apiGroups, resources and nonResourceURLs (rbacv1.VerbAll, APIGroupAll, ...). */
export const WILDCARD = '*';

export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  uid?: string;
  resourceVersion?: string;
  [key: string]: unknown;
}

export interface PolicyRule {
  /** get, list, watch, create, update, patch, delete, deletecollection, or `*`. Required. */
  verbs: string[];
  /** API groups; `""` is the core group, `*` all groups. */
  apiGroups?: string[];
  /** Resources (`unitsets`), `resource/subresource`, `*\/subresource`, or `*`. */
  resources?: string[];
  /** Object names; empty means all. Exact matches only, no wildcards. */
  resourceNames?: string[];
  /** Non-resource paths (`/healthz`), `*`, or a prefix ending in `*` (`/apis/*`). */
  nonResourceURLs?: string[];
}

export interface AggregationRule {
  /** A ClusterRole matching ANY of these selectors contributes its rules. */
  clusterRoleSelectors?: LabelSelector[];
}

export interface Role {
  apiVersion?: string;
  kind?: 'Role';
  metadata: ObjectMeta;
  rules?: PolicyRule[] | null;
}

export interface ClusterRole {
  apiVersion?: string;
  kind?: 'ClusterRole';
  metadata: ObjectMeta;
  rules?: PolicyRule[] | null;
  /** When set, the rules are computed from other ClusterRoles (see aggregateClusterRoles). */
  aggregationRule?: AggregationRule | null;
}

export type SubjectKind = 'User' | 'Group' | 'ServiceAccount';

export interface Subject {
  /** User, Group or ServiceAccount; any other kind never matches. */
  kind: SubjectKind | string;
  /** `rbac.authorization.k8s.io` for User/Group, `""` for ServiceAccount. Not used in matching. */
  apiGroup?: string;
  name: string;
  /** ServiceAccount only. In a RoleBinding, empty means the binding's namespace. */
  namespace?: string;
}

export interface RoleRef {
  apiGroup: string;
  kind: 'Role' | 'ClusterRole' | string;
  name: string;
}

export interface RoleBinding {
  apiVersion?: string;
  kind?: 'RoleBinding';
  metadata: ObjectMeta;
  subjects?: Subject[] | null;
  roleRef: RoleRef;
}

export interface ClusterRoleBinding {
  apiVersion?: string;
  kind?: 'ClusterRoleBinding';
  metadata: ObjectMeta;
  subjects?: Subject[] | null;
  roleRef: RoleRef;
}

export type RBACObject = Role | ClusterRole | RoleBinding | ClusterRoleBinding;

/** SubjectRulesReviewStatus.resourceRules entry (authorization/v1 ResourceRule). */
export interface ResourceRule {
  verbs: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
}

/** SubjectRulesReviewStatus.nonResourceRules entry (authorization/v1 NonResourceRule). */
export interface NonResourceRule {
  verbs: string[];
  nonResourceURLs?: string[];
}

/** authorization/v1 SubjectRulesReviewStatus, the answer to a SelfSubjectRulesReview. */
export interface SubjectRulesReviewStatus {
  resourceRules: ResourceRule[];
  nonResourceRules: NonResourceRule[];
  incomplete: boolean;
  evaluationError?: string;
}
