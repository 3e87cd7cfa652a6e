// Small definitions for the OpenAPI tests (not upm.io kinds: the machinery is generic).

import type { ResourceDefinition } from '../../../machinery/definition.js';

/** A namespaced kind with status and scale, nested objects, and the schema features the v2
 * conversion treats specially (nullable, preserve-unknown-fields, int-or-string). */
export const gizmoDefinition: ResourceDefinition = {
  group: 'example.upm.io',
  version: 'v1beta1',
  kind: 'Gizmo',
  listKind: 'GizmoList',
  plural: 'gizmos',
  singular: 'gizmo',
  shortNames: ['gz'],
  categories: ['all'],
  namespaced: true,
  description: 'Gizmo is a test kind for the OpenAPI documents.',
  schema: {
    type: 'object',
    required: ['spec'],
    properties: {
      spec: {
        type: 'object',
        description: 'Desired state of the Gizmo.',
        required: ['replicas'],
        properties: {
          replicas: {
            type: 'integer',
            format: 'int32',
            minimum: 1,
            maximum: 9,
            description: 'Number of gizmo instances.',
          },
          mode: {
            type: 'string',
            enum: ['on', 'off', 'yes'],
            default: 'on',
            description: 'Power mode; "on" must stay a string in YAML 1.1.',
          },
          port: { 'x-kubernetes-int-or-string': true, description: 'Port number or name.' },
          storage: {
            type: 'object',
            description: 'Persistent storage of the gizmo.',
            properties: {
              size: { type: 'string', pattern: '^[0-9]+Gi$', description: 'Size of the volume, e.g. 10Gi.' },
              className: { type: 'string', nullable: true, description: 'StorageClass; null for the default class.' },
              volumes: {
                type: 'array',
                description: 'Extra volumes.',
                'x-kubernetes-list-type': 'map',
                'x-kubernetes-list-map-keys': ['name'],
                items: {
                  type: 'object',
                  required: ['name'],
                  properties: {
                    name: { type: 'string', description: 'Volume name.' },
                    mountPath: { type: 'string', description: 'Where the volume is mounted.' },
                  },
                },
              },
            },
          },
          labels: {
            type: 'object',
            additionalProperties: { type: 'string' },
            description: 'Labels copied to the parts.',
          },
          extra: {
            type: 'object',
            'x-kubernetes-preserve-unknown-fields': true,
            properties: { hint: { type: 'string', description: 'A hint.' } },
            description: 'Free-form settings.',
          },
          anything: {
            type: 'array',
            'x-kubernetes-preserve-unknown-fields': true,
            items: { type: 'string' },
            description: 'Free-form list.',
          },
          limits: {
            type: 'object',
            nullable: true,
            description: 'Optional limits; null clears them.',
            properties: { cpu: { type: 'string', description: 'CPU limit.' } },
          },
          choice: { type: 'string', description: 'One of two.', anyOf: [{ pattern: '^a' }, { pattern: '^b' }] },
        },
        'x-kubernetes-validations': [{ rule: 'self.replicas <= 9', message: 'too many' }],
      },
      status: {
        type: 'object',
        description: 'Observed state of the Gizmo.',
        properties: {
          replicas: { type: 'integer', format: 'int32', description: 'Observed instances.' },
          selector: { type: 'string', description: 'Label selector of the instances.' },
          conditions: {
            type: 'array',
            description: 'Latest observations.',
            'x-kubernetes-list-type': 'map',
            'x-kubernetes-list-map-keys': ['type'],
            items: {
              type: 'object',
              required: ['type', 'status'],
              properties: {
                type: { type: 'string', description: 'Condition type.' },
                status: { type: 'string', enum: ['True', 'False', 'Unknown'], description: 'Condition status.' },
              },
            },
          },
        },
      },
    },
  },
  printerColumns: [],
  subresources: {
    status: true,
    scale: {
      specReplicasPath: '.spec.replicas',
      statusReplicasPath: '.status.replicas',
      labelSelectorPath: '.status.selector',
    },
  },
};

/** A cluster-scoped, read-only kind in the same group-version. */
export const doohickeyDefinition: ResourceDefinition = {
  group: 'example.upm.io',
  version: 'v1beta1',
  kind: 'Doohickey',
  listKind: 'DoohickeyList',
  plural: 'doohickeys',
  singular: 'doohickey',
  shortNames: [],
  categories: [],
  namespaced: false,
  description: 'Doohickey is a cluster-scoped, read-only test kind.',
  schema: {
    type: 'object',
    properties: {
      spec: {
        type: 'object',
        description: 'What the doohickey does.',
        properties: { purpose: { type: 'string', description: 'Its purpose.' } },
      },
    },
  },
  printerColumns: [],
  subresources: {},
  verbs: ['get', 'list', 'watch'],
};

/** A kind of the core group (served under /api/v1). */
export const thingDefinition: ResourceDefinition = {
  group: '',
  version: 'v1',
  kind: 'Thing',
  listKind: 'ThingList',
  plural: 'things',
  singular: 'thing',
  shortNames: [],
  categories: [],
  namespaced: true,
  description: 'Thing is a core-group test kind.',
  schema: {
    type: 'object',
    properties: { data: { type: 'object', additionalProperties: { type: 'string' }, description: 'Payload.' } },
  },
  printerColumns: [],
  subresources: { status: true },
};

export const testDefinitions: ResourceDefinition[] = [gizmoDefinition, doohickeyDefinition, thingDefinition];
