// What the generic API machinery needs to know about a kind to serve it. Nothing in the
// machinery is specific to upm.io: the same definitions describe core/v1 kinds in the local
// control plane. A definition is CRD-shaped on purpose: one structural OpenAPI v3 schema per
// kind drives validation, defaulting, pruning, OpenAPI, printer columns and TypeScript types.

/** A structural OpenAPI v3 schema (the subset Kubernetes allows for CRDs). */
export interface JSONSchema {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  description?: string;
  properties?: Record<string, JSONSchema>;
  additionalProperties?: JSONSchema | boolean;
  items?: JSONSchema;
  required?: string[];
  enum?: unknown[];
  default?: unknown;
  format?: string;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  exclusiveMaximum?: boolean;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  minProperties?: number;
  maxProperties?: number;
  uniqueItems?: boolean;
  nullable?: boolean;
  anyOf?: JSONSchema[];
  allOf?: JSONSchema[];
  oneOf?: JSONSchema[];
  not?: JSONSchema;
  $ref?: string;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-embedded-resource'?: boolean;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-map-type'?: 'atomic' | 'granular';
  'x-kubernetes-validations'?: { rule: string; message?: string }[];
}

/** A column of `kubectl get` output. Its type and description come from the schema at jsonPath. */
export interface PrinterColumn {
  name: string;
  /** A CRD-style JSONPath into the object, e.g. `.spec.units` or
   * `.status.conditions[?(@.type=="Ready")].status`. */
  jsonPath: string;
  /** 0: always shown; >0: only with `-o wide`. */
  priority?: number;
  /** Overrides the type read from the schema (needed for filter expressions). */
  type?: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  format?: string;
  /** Overrides the description read from the schema. */
  description?: string;
}

export interface ScaleSubresource {
  /** JSONPath of the desired replica count in the object, e.g. `.spec.units`. */
  specReplicasPath: string;
  /** JSONPath of the observed replica count, e.g. `.status.units`. */
  statusReplicasPath: string;
  /** JSONPath of the string label selector published as Scale `status.selector`. */
  labelSelectorPath?: string;
}

export interface ResourceDefinition {
  /** API group; '' for the core group. */
  group: string;
  version: string;
  kind: string;
  listKind: string;
  /** Lower-case plural: the resource name in URLs. */
  plural: string;
  singular: string;
  shortNames: string[];
  categories: string[];
  namespaced: boolean;
  /** Description of the kind (the top of `kubectl explain`). */
  description: string;
  /** Schema of `spec` and `status` and any other top-level fields except apiVersion, kind and
   * metadata, which the machinery supplies. Must be `type: object`. */
  schema: JSONSchema;
  printerColumns: PrinterColumn[];
  subresources: {
    status?: boolean;
    scale?: ScaleSubresource;
    /** PUT `<name>/finalize` (only Namespaces have it; the strategy's prepareForFinalize says what it changes). */
    finalize?: boolean;
  };
  /** Extra field-selector paths beyond metadata.name and metadata.namespace, e.g. `spec.type`. */
  selectableFields?: string[];
  /** The verbs served; defaults to all of them. Read-only kinds list fewer. */
  verbs?: Verb[];
}

export type Verb = 'create' | 'delete' | 'deletecollection' | 'get' | 'list' | 'patch' | 'update' | 'watch';

export const ALL_VERBS: readonly Verb[] = [
  'create',
  'delete',
  'deletecollection',
  'get',
  'list',
  'patch',
  'update',
  'watch',
];

export function groupVersion(def: Pick<ResourceDefinition, 'group' | 'version'>): string {
  return def.group === '' ? def.version : `${def.group}/${def.version}`;
}

/** `unitsets.upm.io`, or `pods` for the core group: the name kube uses in error messages. */
export function qualifiedResource(def: Pick<ResourceDefinition, 'group' | 'plural'>): string {
  return def.group === '' ? def.plural : `${def.plural}.${def.group}`;
}

/** What a kind must state; the rest has kube's usual values (see defineResource). */
export type ResourceDefinitionInput = Pick<
  ResourceDefinition,
  'group' | 'version' | 'kind' | 'namespaced' | 'description' | 'schema'
> &
  Partial<ResourceDefinition>;

/**
 * A definition with the names kube derives filled in: listKind `<Kind>List`, plural and singular
 * from the lower-cased kind (give them where English needs more than an `s`), no short names,
 * categories, printer columns or subresources unless given.
 */
export function defineResource(def: ResourceDefinitionInput): ResourceDefinition {
  const singular = def.singular ?? def.kind.toLowerCase();
  return {
    listKind: `${def.kind}List`,
    plural: `${singular}s`,
    singular,
    shortNames: [],
    categories: [],
    printerColumns: [],
    subresources: {},
    ...def,
  };
}
