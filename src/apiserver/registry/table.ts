// Table (meta.k8s.io/v1) and PartialObjectMetadata conversion: what `kubectl get` prints.
// Column types and descriptions are read from the kind's schema at each column's JSONPath,
// so a column can never disagree with the field it shows.

import type { JSONSchema, PrinterColumn, ResourceDefinition } from '../../machinery/definition.js';
import { parseJSONPath, selectJSONPath } from './jsonpath.js';
import type { KubeObject } from '../../machinery/object.js';
import { ageOf } from '../../machinery/time.js';

export interface TableColumnDefinition {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
}

export interface TableRow {
  cells: unknown[];
  object?: unknown;
}

export type IncludeObject = 'None' | 'Metadata' | 'Object';

const metadataSchema: JSONSchema = {
  type: 'object',
  properties: {
    name: { type: 'string', description: 'Name must be unique within a namespace.' },
    namespace: { type: 'string', description: 'Namespace defines the space within which each name must be unique.' },
    creationTimestamp: {
      type: 'string',
      format: 'date-time',
      description: 'CreationTimestamp is a timestamp representing the server time when this object was created.',
    },
    generation: {
      type: 'integer',
      description: 'A sequence number representing a specific generation of the desired state.',
    },
    labels: {
      type: 'object',
      additionalProperties: { type: 'string' },
      description: 'Map of string keys and values that can be used to organize and categorize objects.',
    },
  },
};

/** The schema node a JSONPath points at, or undefined when the schema does not declare it. */
export function schemaAt(def: Pick<ResourceDefinition, 'schema'>, path: string): JSONSchema | undefined {
  let node: JSONSchema | undefined = {
    type: 'object',
    properties: { ...(def.schema.properties ?? {}), metadata: metadataSchema },
  };
  for (const step of parseJSONPath(path)) {
    if (!node) return undefined;
    if (step.kind === 'field') {
      const props: Record<string, JSONSchema> | undefined = node.properties;
      node =
        props?.[step.name] ?? (typeof node.additionalProperties === 'object' ? node.additionalProperties : undefined);
    } else {
      node = node.items;
    }
  }
  return node;
}

function columnType(schema: JSONSchema | undefined, col: PrinterColumn): { type: string; format: string } {
  if (col.type) return { type: col.type, format: col.format ?? '' };
  if (schema?.format === 'date-time') return { type: 'date', format: col.format ?? '' };
  const t = schema?.type;
  if (t === 'integer' || t === 'number' || t === 'boolean' || t === 'string')
    return { type: t, format: col.format ?? schema?.format ?? '' };
  return { type: 'string', format: col.format ?? '' };
}

export class TableConvertor {
  readonly columns: TableColumnDefinition[];

  constructor(private readonly def: ResourceDefinition) {
    const nameColumn: TableColumnDefinition = {
      name: 'Name',
      type: 'string',
      format: 'name',
      description:
        'Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically.',
      priority: 0,
    };
    const declared =
      def.printerColumns.length > 0
        ? def.printerColumns
        : [{ name: 'Created At', jsonPath: '.metadata.creationTimestamp' }];
    this.columns = [
      nameColumn,
      ...declared.map((col) => {
        const schema = schemaAt(def, col.jsonPath);
        const { type, format } = columnType(schema, col);
        return {
          name: col.name,
          type,
          format,
          description: col.description ?? schema?.description ?? '',
          priority: col.priority ?? 0,
        };
      }),
    ];
  }

  row(obj: KubeObject, include: IncludeObject): TableRow {
    const declared =
      this.def.printerColumns.length > 0
        ? this.def.printerColumns
        : [{ name: 'Created At', jsonPath: '.metadata.creationTimestamp' }];
    const cells: unknown[] = [obj.metadata.name ?? ''];
    declared.forEach((col, i) => {
      const values = selectJSONPath(obj, col.jsonPath);
      const type = this.columns[i + 1].type;
      if (values.length === 0) cells.push(null);
      else if (type === 'date') cells.push(ageOf(values[0]));
      else if (values.length === 1 && (type !== 'string' || typeof values[0] !== 'object')) cells.push(values[0]);
      else cells.push(values.map((v) => (typeof v === 'object' ? JSON.stringify(v) : String(v))).join(','));
    });
    const row: TableRow = { cells };
    if (include === 'Object') row.object = obj;
    else if (include === 'Metadata') row.object = partialObjectMetadata(obj, 'v1');
    return row;
  }

  table(
    objects: KubeObject[],
    listMeta: Record<string, unknown>,
    include: IncludeObject,
    version: 'v1' | 'v1beta1',
    withColumns = true,
  ): Record<string, unknown> {
    return {
      kind: 'Table',
      apiVersion: `meta.k8s.io/${version}`,
      metadata: listMeta,
      ...(withColumns ? { columnDefinitions: this.columns } : {}),
      rows: objects.map((o) => this.row(o, include)),
    };
  }
}

export function partialObjectMetadata(obj: KubeObject, version: 'v1' | 'v1beta1'): Record<string, unknown> {
  return { kind: 'PartialObjectMetadata', apiVersion: `meta.k8s.io/${version}`, metadata: obj.metadata };
}
