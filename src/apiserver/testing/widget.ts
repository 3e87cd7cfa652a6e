// A small kind used by the machinery's own tests, so they do not depend on upm.io kinds.

import type { ResourceDefinition } from '../../machinery/definition.js';

export const widgetDefinition: ResourceDefinition = {
  group: 'test.upm.io',
  version: 'v1',
  kind: 'Widget',
  listKind: 'WidgetList',
  plural: 'widgets',
  singular: 'widget',
  shortNames: ['wd'],
  categories: ['upm'],
  namespaced: true,
  description: 'Widget is a test kind.',
  schema: {
    type: 'object',
    description: 'Widget is a test kind.',
    required: ['spec'],
    properties: {
      spec: {
        type: 'object',
        description: 'Desired state.',
        required: ['size'],
        properties: {
          size: { type: 'integer', minimum: 0, description: 'How many parts.' },
          color: { type: 'string', enum: ['red', 'blue'], default: 'red', description: 'Paint.' },
          parts: {
            type: 'array',
            items: { type: 'object', properties: { name: { type: 'string', description: 'Part name.' } } },
            description: 'Parts.',
          },
          extra: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true, description: 'Anything.' },
        },
      },
      status: {
        type: 'object',
        description: 'Observed state.',
        properties: {
          size: { type: 'integer', description: 'Observed parts.' },
          selector: { type: 'string', description: 'Label selector of the parts.' },
          conditions: {
            type: 'array',
            description: 'Conditions.',
            items: {
              type: 'object',
              properties: {
                type: { type: 'string', description: 'Type.' },
                status: { type: 'string', description: 'Status.' },
              },
            },
          },
        },
      },
    },
  },
  printerColumns: [
    { name: 'Size', jsonPath: '.spec.size' },
    { name: 'Color', jsonPath: '.spec.color', priority: 1 },
    { name: 'Ready', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
    { name: 'Age', jsonPath: '.metadata.creationTimestamp' },
  ],
  subresources: {
    status: true,
    scale: {
      specReplicasPath: '.spec.size',
      statusReplicasPath: '.status.size',
      labelSelectorPath: '.status.selector',
    },
  },
  selectableFields: ['spec.color'],
};

export const gadgetDefinition: ResourceDefinition = {
  ...widgetDefinition,
  kind: 'Gadget',
  listKind: 'GadgetList',
  plural: 'gadgets',
  singular: 'gadget',
  shortNames: [],
  namespaced: false,
  description: 'Gadget is a cluster-scoped test kind.',
  subresources: {},
};
