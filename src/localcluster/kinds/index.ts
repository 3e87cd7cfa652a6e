// The built-in Kubernetes kinds of the local control plane: core/v1 (served under /api/v1),
// coordination.k8s.io, storage.k8s.io, discovery.k8s.io, admissionregistration.k8s.io, rbac.authorization.k8s.io and
// apiregistration.k8s.io, each a ResourceDefinition for the generic machinery plus the strategy
// that does what kube-apiserver's registry for the kind does.
//
// Use:
//   const server = await startAPIServer({ ..., resources: [...coreRegistrations(), ...upmRegistrations()] });
//   await initCoreResources(server.registry);   // kube's table printers, allocator state, default namespaces

import { validatePathSegmentName } from '../../apiserver/registry/metadata-validation.js';
import type { ResourceDefinition } from '../../machinery/definition.js';
import type { KubeObject } from '../../machinery/object.js';
import type { APIRegistry, ResourceRegistration } from '../../apiserver/registry/registry.js';
import type { Strategy } from '../../apiserver/registry/strategy.js';
import { ServiceAllocators, type ServiceAllocatorOptions } from './allocators.js';
import {
  apiServiceDefinition,
  clusterRoleBindingDefinition,
  clusterRoleDefinition,
  customResourceDefinitionDefinition,
  leaseDefinition,
  mutatingWebhookConfigurationDefinition,
  podDisruptionBudgetDefinition,
  roleBindingDefinition,
  roleDefinition,
  validatingAdmissionPolicyBindingDefinition,
  validatingAdmissionPolicyDefinition,
  validatingWebhookConfigurationDefinition,
} from './cluster.js';
import {
  configMapDefinition,
  eventDefinition,
  namespaceDefinition,
  nodeDefinition,
  persistentVolumeClaimDefinition,
  podDefinition,
  secretDefinition,
  serviceAccountDefinition,
  serviceDefinition,
} from './core.js';
import {
  configMapStrategy,
  namespaceStrategy,
  persistentVolumeClaimStrategy,
  podStrategy,
  secretStrategy,
  ServiceStrategy,
} from './strategies.js';
import { endpointSliceDefinition } from './discovery.js';
import { persistentVolumeDefinition, storageClassDefinition } from './storage.js';
import { installCoreTables } from './tables.js';

export * from './core.js';
export * from './cluster.js';
export * from './storage.js';
export * from './discovery.js';
export { ServiceAllocators, type ServiceAllocatorOptions } from './allocators.js';
export { podQOSClass, ServiceStrategy } from './strategies.js';
export {
  ComputedTableConvertor,
  coreTableColumns,
  installCoreTables,
  podSummary,
  type ComputedColumn,
} from './tables.js';
import { isAlreadyExists } from '../../machinery/errors.js';

/** Every built-in kind served, core/v1 first. */
export const coreDefinitions: readonly ResourceDefinition[] = [
  namespaceDefinition,
  podDefinition,
  persistentVolumeClaimDefinition,
  persistentVolumeDefinition,
  configMapDefinition,
  secretDefinition,
  serviceDefinition,
  serviceAccountDefinition,
  eventDefinition,
  nodeDefinition,
  leaseDefinition,
  storageClassDefinition,
  endpointSliceDefinition,
  podDisruptionBudgetDefinition,
  mutatingWebhookConfigurationDefinition,
  validatingWebhookConfigurationDefinition,
  validatingAdmissionPolicyDefinition,
  validatingAdmissionPolicyBindingDefinition,
  roleDefinition,
  clusterRoleDefinition,
  roleBindingDefinition,
  clusterRoleBindingDefinition,
  apiServiceDefinition,
  customResourceDefinitionDefinition,
];

/** The Service strategy (and its allocators) of each registered Service definition, so that
 * initCoreResources can seed the allocators from storage. Each coreRegistrations() call makes
 * its own copy of the Service definition and its own allocators. */
const serviceStrategies = new WeakMap<ResourceDefinition, ServiceStrategy>();

export type CoreRegistrationOptions = ServiceAllocatorOptions;

/** The registrations (definition + strategy) of the built-in kinds, for startAPIServer. */
export function coreRegistrations(opts: CoreRegistrationOptions = {}): ResourceRegistration[] {
  const services = new ServiceStrategy(new ServiceAllocators(opts));
  const serviceDef: ResourceDefinition = { ...serviceDefinition };
  serviceStrategies.set(serviceDef, services);
  const strategies = new Map<ResourceDefinition, Strategy>([
    [namespaceDefinition, namespaceStrategy],
    [podDefinition, podStrategy],
    [persistentVolumeClaimDefinition, persistentVolumeClaimStrategy],
    [configMapDefinition, configMapStrategy],
    [secretDefinition, secretStrategy],
  ]);
  const rbacNames: Strategy = { validateName: validatePathSegmentName };
  for (const def of [roleDefinition, clusterRoleDefinition, roleBindingDefinition, clusterRoleBindingDefinition])
    strategies.set(def, rbacNames);
  return coreDefinitions.map((definition) => {
    if (definition === serviceDefinition) return { definition: serviceDef, strategy: services };
    const strategy = strategies.get(definition);
    return strategy ? { definition, strategy } : { definition };
  });
}

export interface InitCoreOptions {
  /** Create the namespaces kube creates (default, kube-system, kube-public, kube-node-lease) and
   * the `default/kubernetes` Service. Default true. */
  bootstrap?: boolean;
  /** targetPort of the `kubernetes` Service (the API server's port). */
  apiServerPort?: number;
}

export const systemNamespaces = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

/**
 * Completes the built-in kinds on a started server (what the generic machinery has no hook for):
 * kube's computed table columns, the Service allocators seeded from the stored Services, and the
 * objects kube-apiserver bootstraps. Idempotent; safe to call on every start.
 */
export async function initCoreResources(registry: APIRegistry, opts: InitCoreOptions = {}): Promise<void> {
  installCoreTables(registry);
  const services = registry.lookup('', 'v1', 'services');
  const strategy = services ? serviceStrategies.get(services.def) : undefined;
  if (services && strategy) strategy.seed((await services.store.list(undefined)).items);
  if (opts.bootstrap === false) return;
  const namespaces = registry.lookup('', 'v1', 'namespaces');
  if (namespaces) {
    for (const name of systemNamespaces)
      await createIfMissing(() =>
        namespaces.store.create('', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } }),
      );
  }
  if (services && strategy) {
    const body: KubeObject = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        name: 'kubernetes',
        namespace: 'default',
        labels: { component: 'apiserver', provider: 'kubernetes' },
      },
      spec: {
        type: 'ClusterIP',
        clusterIP: strategy.allocators.address(1),
        ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: opts.apiServerPort ?? 6443 }],
      },
    };
    await createIfMissing(() => services.store.create('default', body));
  }
}

async function createIfMissing(create: () => Promise<unknown>): Promise<void> {
  try {
    await create();
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
  }
}
