// Request bodies of the benchmark objects: a UnitSet as a user writes it, and a Unit as the
// controller will write it (owner reference, Pod template, claim, and a status with a condition):
// about 2.5 KB of stored JSON once the server has added its metadata, defaults and
// managedFields (which are about half of it).

export const apiBase = '/apis/upm.io/v1alpha1';

export function collectionPath(resource: string, namespace: string, query = ''): string {
  return `${apiBase}/namespaces/${namespace}/${resource}${query ? `?${query}` : ''}`;
}

export function objectPath(resource: string, namespace: string, name: string, query = ''): string {
  return `${apiBase}/namespaces/${namespace}/${resource}/${name}${query ? `?${query}` : ''}`;
}

export function unitSetBody(name: string): Record<string, unknown> {
  return {
    apiVersion: 'upm.io/v1alpha1',
    kind: 'UnitSet',
    metadata: {
      name,
      labels: { app: 'orders', team: 'payments', 'upm.io/bench': 'true' },
      annotations: { 'upm.io/description': 'orders database, benchmark object' },
    },
    spec: {
      type: 'mysql',
      version: '8.0.36',
      units: 3,
      resources: { requests: { cpu: '2', memory: '4Gi' }, limits: { cpu: '2', memory: '4Gi' } },
      storage: {
        volumes: [
          { name: 'data', size: '20Gi', storageClassName: 'local-path' },
          { name: 'log', size: '5Gi', storageClassName: 'local-path' },
        ],
      },
      env: [{ name: 'ARCH_MODE', value: 'rpl_semi_sync' }],
    },
  };
}

/** A Unit owned by the UnitSet `unitSet` (which must exist with `ownerUid`, or the garbage
 * collector deletes the Unit as an orphan). */
export function unitBody(name: string, unitSet: string, ownerUid: string, ordinal: number): Record<string, unknown> {
  return {
    apiVersion: 'upm.io/v1alpha1',
    kind: 'Unit',
    metadata: {
      name,
      labels: { 'upm.io/unitset': unitSet, 'upm.io/unit-ordinal': String(ordinal) },
      ownerReferences: [
        {
          apiVersion: 'upm.io/v1alpha1',
          kind: 'UnitSet',
          name: unitSet,
          uid: ownerUid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: {
      unitTemplate: 'mysql-community-8.0.36',
      podTemplate: {
        spec: {
          containers: [
            {
              name: 'mysql',
              image: 'registry.example.com/upm/mysql:8.0.36',
              ports: [{ name: 'mysql', containerPort: 3306 }],
            },
          ],
        },
      },
      resources: { requests: { cpu: '2', memory: '4Gi' }, limits: { cpu: '2', memory: '4Gi' } },
      volumeClaimTemplates: [{ name: 'data', size: '20Gi', storageClassName: 'local-path' }],
    },
  };
}

export function unitStatus(name: string, unitSet: string, namespace: string, ordinal: number): Record<string, unknown> {
  const at = '2025-01-01T00:00:00Z';
  return {
    observedGeneration: 1,
    ready: true,
    address: `${name}.${unitSet}-headless.${namespace}.svc`,
    nodeName: `node-${ordinal % 16}`,
    hostIP: `10.0.0.${ordinal % 250}`,
    podIP: `10.244.${ordinal % 250}.17`,
    processState: 'Running',
    role: ordinal === 0 ? 'primary' : 'replica',
    conditions: [
      { type: 'Ready', status: 'True', observedGeneration: 1, lastTransitionTime: at, reason: 'Running', message: '' },
    ],
  };
}
