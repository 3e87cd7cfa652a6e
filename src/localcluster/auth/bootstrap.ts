// The RBAC policy the control plane creates at startup when missing, a subset of kube-apiserver's
// bootstrap policy (plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go and
// namespace_policy.go): the user-facing aggregated roles (admin, edit, view and their
// system:aggregate-to-* parts), cluster-admin, the discovery and self-review roles every
// authenticated user has, system:auth-delegator, and the reader role of the
// extension-apiserver-authentication ConfigMap. Like kube's bootstrap it only creates what is
// missing (it does not reconcile changed objects), so it is safe to run on every start.

import { aggregateClusterRoles } from '../../apiserver/authorization/rbac.js';
import {
  ALL_AUTHENTICATED_GROUP,
  ALL_UNAUTHENTICATED_GROUP,
  SYSTEM_PRIVILEGED_GROUP,
} from '../../apiserver/authorization/authorizer.js';
import type {
  ClusterRole,
  ClusterRoleBinding,
  PolicyRule,
  Role,
  RoleBinding,
  Subject,
} from '../../apiserver/authorization/types.js';
import { RBAC_API_VERSION, RBAC_GROUP } from '../../apiserver/authorization/types.js';
import type { APIRegistry } from '../../apiserver/registry/registry.js';
import { isAlreadyExists } from '../../machinery/errors.js';

const Read = ['get', 'list', 'watch'];
const Write = ['create', 'delete', 'deletecollection', 'patch', 'update'];
const ReadWrite = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection'];

const bootstrapLabels = () => ({ 'kubernetes.io/bootstrapping': 'rbac-defaults' });
const autoupdate = () => ({ 'rbac.authorization.kubernetes.io/autoupdate': 'true' });

export const AGGREGATE_TO_ADMIN = 'rbac.authorization.k8s.io/aggregate-to-admin';
export const AGGREGATE_TO_EDIT = 'rbac.authorization.k8s.io/aggregate-to-edit';
export const AGGREGATE_TO_VIEW = 'rbac.authorization.k8s.io/aggregate-to-view';

function rule(verbs: string[], apiGroups: string[], resources: string[], resourceNames?: string[]): PolicyRule {
  return {
    verbs: [...verbs],
    apiGroups: [...apiGroups],
    resources: [...resources],
    ...(resourceNames ? { resourceNames: [...resourceNames] } : {}),
  };
}

function urls(verbs: string[], nonResourceURLs: string[]): PolicyRule {
  return { verbs: [...verbs], nonResourceURLs: [...nonResourceURLs] };
}

function clusterRole(
  name: string,
  rules: PolicyRule[],
  extra: { labels?: Record<string, string>; aggregateFrom?: string } = {},
): ClusterRole {
  const role: ClusterRole = {
    apiVersion: RBAC_API_VERSION,
    kind: 'ClusterRole',
    metadata: { name, labels: { ...bootstrapLabels(), ...(extra.labels ?? {}) }, annotations: autoupdate() },
    rules,
  };
  if (extra.aggregateFrom)
    role.aggregationRule = { clusterRoleSelectors: [{ matchLabels: { [extra.aggregateFrom]: 'true' } }] };
  return role;
}

function group(name: string): Subject {
  return { apiGroup: RBAC_GROUP, kind: 'Group', name };
}

function clusterRoleBinding(name: string, roleName: string, subjects: Subject[]): ClusterRoleBinding {
  return {
    apiVersion: RBAC_API_VERSION,
    kind: 'ClusterRoleBinding',
    metadata: { name, labels: bootstrapLabels(), annotations: autoupdate() },
    roleRef: { apiGroup: RBAC_GROUP, kind: 'ClusterRole', name: roleName },
    subjects,
  };
}

export interface BootstrapPolicy {
  clusterRoles: ClusterRole[];
  clusterRoleBindings: ClusterRoleBinding[];
  roles: Role[];
  roleBindings: RoleBinding[];
}

/**
 * The bootstrap objects. Aggregated ClusterRoles (admin, edit, view) carry the rules the
 * aggregation controller would write from these roles, so that `kubectl describe` shows them;
 * the control plane's authorizer resolves aggregation at evaluation time anyway.
 */
export function bootstrapPolicy(): BootstrapPolicy {
  const legacy = '';
  const clusterRoles: ClusterRole[] = [
    clusterRole('cluster-admin', [rule(['*'], ['*'], ['*']), urls(['*'], ['*'])]),
    clusterRole('system:discovery', [
      urls(
        ['get'],
        [
          '/api',
          '/api/*',
          '/apis',
          '/apis/*',
          '/healthz',
          '/livez',
          '/openapi',
          '/openapi/*',
          '/readyz',
          '/version',
          '/version/',
        ],
      ),
    ]),
    clusterRole('system:public-info-viewer', [
      urls(['get'], ['/healthz', '/livez', '/readyz', '/version', '/version/']),
    ]),
    clusterRole('system:basic-user', [
      rule(['create'], ['authorization.k8s.io'], ['selfsubjectaccessreviews', 'selfsubjectrulesreviews']),
      rule(['create'], ['authentication.k8s.io'], ['selfsubjectreviews']),
    ]),
    clusterRole('system:auth-delegator', [
      rule(['create'], ['authentication.k8s.io'], ['tokenreviews']),
      rule(['create'], ['authorization.k8s.io'], ['subjectaccessreviews']),
    ]),

    // User-facing roles: the aggregated ones and the parts they aggregate.
    clusterRole('admin', [], { aggregateFrom: AGGREGATE_TO_ADMIN }),
    clusterRole('edit', [], { aggregateFrom: AGGREGATE_TO_EDIT, labels: { [AGGREGATE_TO_ADMIN]: 'true' } }),
    clusterRole('view', [], { aggregateFrom: AGGREGATE_TO_VIEW, labels: { [AGGREGATE_TO_EDIT]: 'true' } }),
    clusterRole(
      'system:aggregate-to-admin',
      [
        rule(['create'], ['authorization.k8s.io'], ['localsubjectaccessreviews']),
        rule(ReadWrite, [RBAC_GROUP], ['roles', 'rolebindings']),
      ],
      { labels: { [AGGREGATE_TO_ADMIN]: 'true' } },
    ),
    clusterRole(
      'system:aggregate-to-edit',
      [
        rule(
          Read,
          [legacy],
          ['pods/attach', 'pods/proxy', 'pods/exec', 'pods/portforward', 'secrets', 'services/proxy'],
        ),
        rule(['impersonate'], [legacy], ['serviceaccounts']),
        rule(Write, [legacy], ['pods', 'pods/attach', 'pods/proxy', 'pods/exec', 'pods/portforward']),
        rule(['create'], [legacy], ['pods/eviction']),
        rule(
          Write,
          [legacy],
          [
            'replicationcontrollers',
            'replicationcontrollers/scale',
            'serviceaccounts',
            'services',
            'services/proxy',
            'persistentvolumeclaims',
            'configmaps',
            'secrets',
            'events',
          ],
        ),
        rule(['create'], [legacy], ['serviceaccounts/token']),
        rule(
          Write,
          ['apps'],
          [
            'statefulsets',
            'statefulsets/scale',
            'daemonsets',
            'deployments',
            'deployments/scale',
            'deployments/rollback',
            'replicasets',
            'replicasets/scale',
          ],
        ),
        rule(Write, ['autoscaling'], ['horizontalpodautoscalers']),
        rule(Write, ['batch'], ['jobs', 'cronjobs']),
        rule(Write, ['policy'], ['poddisruptionbudgets']),
        rule(Write, ['networking.k8s.io'], ['networkpolicies', 'ingresses']),
        rule(Write, ['coordination.k8s.io'], ['leases']),
      ],
      { labels: { [AGGREGATE_TO_EDIT]: 'true' } },
    ),
    clusterRole(
      'system:aggregate-to-view',
      [
        rule(
          Read,
          [legacy],
          [
            'pods',
            'replicationcontrollers',
            'replicationcontrollers/scale',
            'serviceaccounts',
            'services',
            'services/status',
            'endpoints',
            'persistentvolumeclaims',
            'persistentvolumeclaims/status',
            'configmaps',
          ],
        ),
        rule(
          Read,
          [legacy],
          [
            'limitranges',
            'resourcequotas',
            'bindings',
            'events',
            'pods/status',
            'resourcequotas/status',
            'namespaces/status',
            'replicationcontrollers/status',
            'pods/log',
          ],
        ),
        rule(Read, [legacy], ['namespaces']),
        rule(Read, ['discovery.k8s.io'], ['endpointslices']),
        rule(
          Read,
          ['apps'],
          [
            'controllerrevisions',
            'statefulsets',
            'statefulsets/scale',
            'statefulsets/status',
            'daemonsets',
            'daemonsets/status',
            'deployments',
            'deployments/scale',
            'deployments/status',
            'replicasets',
            'replicasets/scale',
            'replicasets/status',
          ],
        ),
        rule(Read, ['autoscaling'], ['horizontalpodautoscalers', 'horizontalpodautoscalers/status']),
        rule(Read, ['batch'], ['jobs', 'cronjobs', 'cronjobs/status', 'jobs/status']),
        rule(Read, ['policy'], ['poddisruptionbudgets', 'poddisruptionbudgets/status']),
        rule(Read, ['networking.k8s.io'], ['networkpolicies', 'ingresses', 'ingresses/status']),
        rule(Read, ['coordination.k8s.io'], ['leases']),
      ],
      { labels: { [AGGREGATE_TO_VIEW]: 'true' } },
    ),
  ];

  const resolved = aggregateClusterRoles(clusterRoles);
  const clusterRoleBindings: ClusterRoleBinding[] = [
    clusterRoleBinding('cluster-admin', 'cluster-admin', [group(SYSTEM_PRIVILEGED_GROUP)]),
    clusterRoleBinding('system:discovery', 'system:discovery', [group(ALL_AUTHENTICATED_GROUP)]),
    clusterRoleBinding('system:basic-user', 'system:basic-user', [group(ALL_AUTHENTICATED_GROUP)]),
    clusterRoleBinding('system:public-info-viewer', 'system:public-info-viewer', [
      group(ALL_AUTHENTICATED_GROUP),
      group(ALL_UNAUTHENTICATED_GROUP),
    ]),
  ];
  const roles: Role[] = [
    {
      apiVersion: RBAC_API_VERSION,
      kind: 'Role',
      metadata: {
        name: 'extension-apiserver-authentication-reader',
        namespace: 'kube-system',
        labels: bootstrapLabels(),
        annotations: autoupdate(),
      },
      rules: [rule(Read, [legacy], ['configmaps'], ['extension-apiserver-authentication'])],
    },
  ];
  return { clusterRoles: resolved, clusterRoleBindings, roles, roleBindings: [] };
}

export interface BootstrapResult {
  /** `<resource>/<namespace/>name` of each object created (empty when everything existed). */
  created: string[];
}

/**
 * Creates each bootstrap object that does not exist yet, through the registry's stores (so
 * watchers, including the RBAC informers, see them). Objects that exist are left as they are,
 * even when changed. Run after the system namespaces exist (initCoreResources).
 */
export async function ensureBootstrapPolicy(
  registry: APIRegistry,
  policy: BootstrapPolicy = bootstrapPolicy(),
): Promise<BootstrapResult> {
  const created: string[] = [];
  const ensure = async (plural: string, objects: { metadata: { name: string; namespace?: string } }[]) => {
    const served = registry.lookup(RBAC_GROUP, 'v1', plural);
    if (!served) throw new Error(`the registry does not serve ${plural}.${RBAC_GROUP}/v1`);
    for (const obj of objects) {
      const ns = obj.metadata.namespace ?? '';
      try {
        await served.store.create(ns, structuredClone(obj));
        created.push(`${plural}/${ns ? `${ns}/` : ''}${obj.metadata.name}`);
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
      }
    }
  };
  await ensure('clusterroles', policy.clusterRoles);
  await ensure('clusterrolebindings', policy.clusterRoleBindings);
  await ensure('roles', policy.roles);
  await ensure('rolebindings', policy.roleBindings);
  return { created };
}
