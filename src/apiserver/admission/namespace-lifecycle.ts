// NamespaceLifecycle, the first admission plugin of kube-apiserver and of every aggregated API
// server (k8s.io/apiserver/pkg/admission/plugin/namespace/lifecycle): no new objects in a
// namespace that does not exist or is being terminated, and the namespaces kube itself needs
// may not be deleted. The namespace is looked up where it lives: the local control plane reads
// its own storage, the upm.io server asks the cluster (namespace-lookup.ts).

import { internalError, isNotFound, isStatusError, notFound, StatusError } from '../../machinery/errors.js';
import type { KubeObject } from '../../machinery/object.js';

/** The namespace as stored, or undefined when there is none. Errors other than "not found" are 500s. */
export type NamespaceLookup = (name: string) => Promise<KubeObject | undefined>;

/** What NamespaceLifecycle needs to know about a request. */
export interface LifecycleRequest {
  operation: 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';
  group: string;
  /** Resource (plural), e.g. `configmaps`. */
  resource: string;
  /** '' for cluster-scoped objects. */
  namespace: string;
  /** The object's name; '' when it is generated. */
  name: string;
}

/** kube-apiserver's default --immortal-namespaces. */
export const immortalNamespaces: readonly string[] = ['default', 'kube-system', 'kube-public'];

export const namespaceTerminatingCause = 'NamespaceTerminating';

function isNamespaceResource(r: LifecycleRequest): boolean {
  return r.group === '' && r.resource === 'namespaces';
}

function qualified(group: string, resource: string): string {
  return group ? `${resource}.${group}` : resource;
}

/** admission.NewForbidden: `<resource> "<name>" is forbidden: <why>`, without the name when there is none. */
function forbiddenFor(r: LifecycleRequest, why: string): StatusError {
  const what = qualified(r.group, r.resource);
  const message = r.name ? `${what} "${r.name}" is forbidden: ${why}` : `${what} is forbidden: ${why}`;
  return new StatusError(403, 'Forbidden', message, {
    ...(r.name ? { name: r.name } : {}),
    ...(r.group ? { group: r.group } : {}),
    kind: r.resource,
  });
}

export class NamespaceLifecycle {
  constructor(
    private readonly lookup: NamespaceLookup,
    private readonly immortal: readonly string[] = immortalNamespaces,
  ) {}

  /** Throws kube's Status when the request may not proceed. */
  async admit(r: LifecycleRequest): Promise<void> {
    if (r.operation === 'DELETE' && isNamespaceResource(r) && this.immortal.includes(r.name))
      throw forbiddenFor(r, 'this namespace may not be deleted');
    if (isNamespaceResource(r) || r.namespace === '') return;
    if (r.operation === 'DELETE') return;
    let namespace: KubeObject | undefined;
    try {
      namespace = await this.lookup(r.namespace);
    } catch (err) {
      if (!isNotFound(err)) throw isStatusError(err) && err.code < 500 ? err : internalError(err);
    }
    if (!namespace) throw notFound({ group: '', resource: 'namespaces', name: r.namespace });
    if (r.operation !== 'CREATE') return;
    const status = namespace['status'] as { phase?: unknown } | undefined;
    if (status?.phase !== 'Terminating') return;
    const err = forbiddenFor(
      r,
      `unable to create new content in namespace ${r.namespace} because it is being terminated`,
    );
    err.details!.causes = [
      {
        reason: namespaceTerminatingCause,
        message: `namespace ${r.namespace} is being terminated`,
        field: 'metadata.namespace',
      },
    ];
    throw err;
  }
}
