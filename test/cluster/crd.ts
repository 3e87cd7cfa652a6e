// The CustomResourceDefinition a user would write instead of our aggregated API: the same schema,
// printer columns, subresources and selectable fields as one of our kinds, in another group so
// both can be served side by side by the same kube-apiserver (differential checks, benchmarks).

import type { JSONSchema, ResourceDefinition } from '../../src/machinery/definition.js';

type Obj = Record<string, any>;

/** The schema type at a simple JSONPath (`.spec.units`); filters and unknown paths give string. */
function columnType(schema: JSONSchema, jsonPath: string): string {
  if (jsonPath === '.metadata.creationTimestamp') return 'date';
  let node: Obj | undefined = schema as Obj;
  for (const part of jsonPath.replace(/^\./, '').split('.')) {
    if (!/^[A-Za-z0-9_]+$/.test(part)) return 'string';
    node = node?.['properties']?.[part];
  }
  const t = node?.['type'];
  return t === 'integer' || t === 'number' || t === 'boolean' ? t : 'string';
}

export function crdOf(def: ResourceDefinition, group: string): Obj {
  const schema = structuredClone(def.schema) as Obj;
  schema['properties'] = {
    apiVersion: { type: 'string' },
    kind: { type: 'string' },
    metadata: { type: 'object' },
    ...schema['properties'],
  };
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${def.plural}.${group}` },
    spec: {
      group,
      scope: def.namespaced ? 'Namespaced' : 'Cluster',
      names: {
        plural: def.plural,
        singular: def.singular,
        kind: def.kind,
        listKind: def.listKind,
        // Short names and categories stay with the aggregated kind: kubectl would otherwise pick one of the two.
      },
      versions: [
        {
          name: def.version,
          served: true,
          storage: true,
          schema: { openAPIV3Schema: schema },
          subresources: {
            ...(def.subresources.status ? { status: {} } : {}),
            ...(def.subresources.scale ? { scale: def.subresources.scale } : {}),
          },
          additionalPrinterColumns: def.printerColumns.map((c) => ({
            name: c.name,
            jsonPath: c.jsonPath,
            type: c.type ?? columnType(def.schema, c.jsonPath),
            ...(c.format ? { format: c.format } : {}),
            ...(c.priority ? { priority: c.priority } : {}),
          })),
          ...(def.selectableFields?.length
            ? { selectableFields: def.selectableFields.map((f) => ({ jsonPath: `.${f}` })) }
            : {}),
        },
      ],
    },
  };
}
