// The read-write and read-only Services of a replication object, and the Pod labels that drive
// them. The Services select Pods by labels the controller sets from the observed topology, so a
// Pod joins the read-write Service only after the controller has seen it writable and fenced
// every other instance.

import type { V1Service } from '@kubernetes/client-node';
import { roleLabel } from '../../../api/labels.js';
import type { KubeObject } from '../../../machinery/object.js';

/** Names the replication object whose Services select the Pod. */
export const replicationLabel = 'upm.io/replication';

export type PodRole = 'primary' | 'replica';

export interface ServicePort {
  name: string;
  port: number;
}

export interface ReplicationServicesSpec {
  type?: string;
  annotations?: Record<string, string>;
  readOnly?: boolean;
}

export const readWriteServiceName = (owner: string): string => `${owner}-readwrite`;
export const readOnlyServiceName = (owner: string): string => `${owner}-readonly`;

/** The Services of `owner` (a replication object): read-write always, read-only unless disabled. */
export function replicationServices(
  owner: KubeObject & { apiVersion: string; kind: string },
  spec: ReplicationServicesSpec | undefined,
  port: ServicePort,
): V1Service[] {
  const name = owner.metadata.name!;
  const make = (serviceName: string, role: PodRole): V1Service => ({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: serviceName,
      namespace: owner.metadata.namespace,
      labels: { [replicationLabel]: name },
      ...(spec?.annotations ? { annotations: spec.annotations } : {}),
      ownerReferences: [
        {
          apiVersion: owner.apiVersion,
          kind: owner.kind,
          name,
          uid: owner.metadata.uid!,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: {
      type: spec?.type ?? 'ClusterIP',
      selector: { [replicationLabel]: name, [roleLabel]: role },
      ports: [{ name: port.name, port: port.port, targetPort: port.port as never, protocol: 'TCP' }],
      publishNotReadyAddresses: false,
    },
  });
  const out = [make(readWriteServiceName(name), 'primary')];
  if (spec?.readOnly !== false) out.push(make(readOnlyServiceName(name), 'replica'));
  return out;
}

/**
 * The labels a Pod should carry for `role` (undefined: in no Service, for instances that are
 * unreachable, isolated, diverged or fenced), as a merge patch of metadata.labels, or undefined
 * when the Pod already carries them.
 */
export function podRoleLabelPatch(
  pod: Pick<KubeObject, 'metadata'> | undefined,
  owner: string,
  role: PodRole | undefined,
): Record<string, string | null> | undefined {
  if (!pod) return undefined;
  const labels = pod.metadata.labels ?? {};
  const want: Record<string, string | null> = {
    [replicationLabel]: role ? owner : null,
    [roleLabel]: role ?? null,
  };
  const same = Object.entries(want).every(([k, v]) => (labels[k] ?? null) === v);
  return same ? undefined : want;
}
