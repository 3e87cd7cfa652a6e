// The storage kinds a volume provisioner needs: core/v1 PersistentVolume and storage.k8s.io/v1
// StorageClass. Schemas are permissive like the other built-in kinds (see core.ts).

import { defineResource } from '../../machinery/definition.js';
import { bool, kindSchema, loose, quantityMap, str, stringMap, strings, time } from '../../machinery/schema.js';

const ageColumn = { name: 'Age', jsonPath: '.metadata.creationTimestamp' } as const;

export const persistentVolumeDefinition = defineResource({
  group: '',
  version: 'v1',
  kind: 'PersistentVolume',
  shortNames: ['pv'],
  namespaced: false,
  description:
    'PersistentVolume (PV) is a storage resource provisioned by an administrator. It is analogous to a node. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes',
  schema: kindSchema('PersistentVolume (PV) is a storage resource provisioned by an administrator.', {
    spec: loose('spec defines a specification of a persistent volume owned by the cluster.', {
      accessModes: strings('accessModes contains all ways the volume can be mounted.'),
      capacity: quantityMap("capacity is the description of the persistent volume's resources and capacity."),
      claimRef: loose(
        'claimRef is part of a bi-directional binding between PersistentVolume and PersistentVolumeClaim.',
      ),
      hostPath: loose('hostPath represents a directory on the host.', {
        path: str('path of the directory on the host.'),
        type: str('type for HostPath Volume. Defaults to "".'),
      }),
      local: loose('local represents directly-attached storage with node affinity', {
        path: str('path of the full path to the volume on the node.'),
      }),
      nodeAffinity: loose('nodeAffinity defines constraints that limit what nodes this volume can be accessed from.'),
      persistentVolumeReclaimPolicy: str(
        'persistentVolumeReclaimPolicy defines what happens to a persistent volume when released from its claim. Valid options are Retain (default for manually created PersistentVolumes), Delete (default for dynamically provisioned PersistentVolumes), and Recycle (deprecated).',
      ),
      storageClassName: str('storageClassName is the name of StorageClass to which this persistent volume belongs.'),
      volumeMode: str(
        'volumeMode defines if a volume is intended to be used with a formatted filesystem or to remain in raw block state.',
      ),
      mountOptions: strings('mountOptions is the list of mount options, e.g. ["ro", "soft"].'),
    }),
    status: loose('status represents the current information/status for the persistent volume.', {
      phase: str('phase indicates if a volume is available, bound to a claim, or released by a claim.'),
      message: str('message is a human-readable message indicating details about why the volume is in this state.'),
      reason: str('reason is a brief CamelCase string that describes any failure and is meant for machine parsing.'),
      lastPhaseTransitionTime: time('lastPhaseTransitionTime is the time the phase transitioned from one to another.'),
    }),
  }),
  printerColumns: [
    { name: 'Capacity', jsonPath: '.spec.capacity.storage', type: 'string' },
    { name: 'Access Modes', jsonPath: '.spec.accessModes', type: 'string' },
    { name: 'Reclaim Policy', jsonPath: '.spec.persistentVolumeReclaimPolicy' },
    { name: 'Status', jsonPath: '.status.phase' },
    { name: 'Claim', jsonPath: '.spec.claimRef.name' },
    { name: 'StorageClass', jsonPath: '.spec.storageClassName' },
    { name: 'Reason', jsonPath: '.status.reason' },
    ageColumn,
  ],
  subresources: { status: true },
});

export const storageClassDefinition = defineResource({
  group: 'storage.k8s.io',
  version: 'v1',
  kind: 'StorageClass',
  plural: 'storageclasses',
  shortNames: ['sc'],
  namespaced: false,
  description:
    'StorageClass describes the parameters for a class of storage for which PersistentVolumes can be dynamically provisioned.',
  schema: kindSchema('StorageClass describes the parameters for a class of storage.', {
    provisioner: str('provisioner indicates the type of the provisioner.'),
    parameters: stringMap(
      'parameters holds the parameters for the provisioner that should create volumes of this storage class.',
    ),
    reclaimPolicy: str(
      'reclaimPolicy controls the reclaimPolicy for dynamically provisioned PersistentVolumes of this storage class. Defaults to Delete.',
    ),
    mountOptions: strings(
      'mountOptions controls the mountOptions for dynamically provisioned PersistentVolumes of this storage class.',
    ),
    allowVolumeExpansion: bool('allowVolumeExpansion shows whether the storage class allow volume expand.'),
    volumeBindingMode: str(
      'volumeBindingMode indicates how PersistentVolumeClaims should be provisioned and bound. When unset, VolumeBindingImmediate is used.',
    ),
    allowedTopologies: {
      type: 'array',
      description: 'allowedTopologies restrict the node topologies where volumes can be dynamically provisioned.',
      items: loose(''),
    },
  }),
  printerColumns: [
    { name: 'Provisioner', jsonPath: '.provisioner' },
    { name: 'ReclaimPolicy', jsonPath: '.reclaimPolicy' },
    { name: 'VolumeBindingMode', jsonPath: '.volumeBindingMode' },
    { name: 'AllowVolumeExpansion', jsonPath: '.allowVolumeExpansion', type: 'boolean' },
    ageColumn,
  ],
  subresources: {},
});
