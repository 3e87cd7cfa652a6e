// A neutral model of what the OpenAPI documents describe, built from ResourceDefinitions: the
// paths and operations of each group-version and the schemas they reference. The v2 (Swagger) and
// v3 writers render the same model, so both documents always agree. Nothing here is specific to
// one API group: core/v1 kinds (group '') publish the same way under /api/v1.

import { ALL_VERBS, type JSONSchema, type ResourceDefinition, type Verb } from '../../machinery/definition.js';
import {
  API_VERSION_DESCRIPTION,
  DELETE_OPTIONS,
  KIND_DESCRIPTION,
  LIST_META,
  LIST_METADATA_DESCRIPTION,
  OBJECT_META,
  OBJECT_METADATA_DESCRIPTION,
  PATCH,
  SCALE,
  SCALE_GVK,
  STATUS,
  WATCH_EVENT,
  isMetaDefinition,
  metaDefinition,
  type GroupVersionKind,
  type SchemaObject,
} from './meta-schemas.js';

export type HttpMethod = 'get' | 'put' | 'post' | 'delete' | 'patch';

export type KubernetesAction =
  'get' | 'list' | 'watch' | 'watchlist' | 'post' | 'put' | 'patch' | 'delete' | 'deletecollection';

export interface ParameterSpec {
  name: string;
  in: 'query' | 'path';
  description: string;
  type: 'string' | 'integer' | 'boolean';
  required?: boolean;
}

export interface ResponseSpec {
  description: string;
  /** Definition name of the response body, if any. */
  schema?: string;
}

export interface OperationSpec {
  method: HttpMethod;
  operationId: string;
  description: string;
  tag: string;
  action: KubernetesAction;
  gvk: GroupVersionKind;
  /** Operation-level query parameters, sorted by name. */
  parameters: ParameterSpec[];
  body?: { schema: string; contentTypes: string[]; required: boolean };
  responses: Record<string, ResponseSpec>;
  produces: string[];
  deprecated?: boolean;
}

export interface PathSpec {
  path: string;
  /** Path-level parameters: path parameters, then `pretty`. */
  parameters: ParameterSpec[];
  operations: OperationSpec[];
}

export interface GroupVersionModel {
  group: string;
  version: string;
  /** The key of the group-version in the OpenAPI v3 root: `apis/<group>/<version>` or `api/<version>`. */
  key: string;
  paths: PathSpec[];
  /** Every definition the paths reference, directly or through other definitions. */
  schemas: Record<string, SchemaObject>;
}

/** The PATCH content types we implement (the CRD set: no strategic merge patch). */
// Only what the server implements: kubectl chooses its patch type from this list.
export const PATCH_CONTENT_TYPES = [
  'application/json-patch+json',
  'application/merge-patch+json',
  'application/apply-patch+yaml',
];

const JSON_TYPE = 'application/json';
const WATCH_STREAM_TYPE = 'application/json;stream=watch';

/** `apis/upm.io/v1alpha1`, or `api/v1` for the core group. */
export function groupVersionKey(group: string, version: string): string {
  return group === '' ? `api/${version}` : `apis/${group}/${version}`;
}

/** The prefix of definition names for a group-version: the reversed group for API groups
 * (`upm.io` → `io.upm.v1alpha1`), and the upstream Go package path for Kubernetes' own groups
 * (core → `io.k8s.api.core.v1`, `apps` → `io.k8s.api.apps.v1`, `rbac.authorization.k8s.io` →
 * `io.k8s.api.rbac.v1`). */
export function definitionNamePrefix(group: string, version: string): string {
  if (group === '') return `io.k8s.api.core.${version}`;
  if (!group.includes('.')) return `io.k8s.api.${group}.${version}`;
  if (group.endsWith('.k8s.io')) return `io.k8s.api.${group.split('.')[0]}.${version}`;
  return `${group.split('.').reverse().join('.')}.${version}`;
}

export function definitionName(gvk: GroupVersionKind): string {
  return `${definitionNamePrefix(gvk.group, gvk.version)}.${gvk.kind}`;
}

const capitalize = (s: string): string => (s === '' ? s : s[0]!.toUpperCase() + s.slice(1));

/** The group and version part of operation ids: `UpmIoV1alpha1`, `CoreV1`. */
export function operationIdInfix(group: string, version: string): string {
  const g = group === '' ? 'Core' : group.split(/[.-]/).map(capitalize).join('');
  return g + capitalize(version);
}

/** The operation tag: `upmIo_v1alpha1`, `core_v1`. */
export function operationTag(group: string, version: string): string {
  if (group === '') return `core_${version}`;
  const parts = group.split(/[.-]/);
  return parts[0]! + parts.slice(1).map(capitalize).join('') + '_' + version;
}

// ---------------------------------------------------------------------------------------------
// Parameters

const q = (name: string, type: ParameterSpec['type'], description: string): ParameterSpec => ({
  name,
  in: 'query',
  type,
  description,
});

const P = {
  pretty: q('pretty', 'string', "If 'true', the response is pretty-printed (indented)."),
  dryRun: q(
    'dryRun',
    'string',
    'When present, the request is validated and processed but nothing is persisted. The only valid ' +
      'value is "All", meaning every stage runs in dry-run mode. Any other value fails the request.',
  ),
  fieldManager: q(
    'fieldManager',
    'string',
    'The name of the actor making the change, recorded in metadata.managedFields. Must be printable ' +
      'and at most 128 characters.',
  ),
  fieldManagerPatch: q(
    'fieldManager',
    'string',
    'The name of the actor making the change, recorded in metadata.managedFields. Must be printable ' +
      'and at most 128 characters. Required for apply requests (application/apply-patch+yaml), ' +
      'optional for the other patch types.',
  ),
  fieldValidation: q(
    'fieldValidation',
    'string',
    'What the server does with unknown or duplicate fields in the request body. "Ignore" drops them ' +
      'silently; "Warn" drops them and reports each in a Warning response header; "Strict" fails ' +
      'the request with 400 Bad Request listing them. The default is "Warn".',
  ),
  force: q(
    'force',
    'boolean',
    'Force an apply request: take ownership of fields that other managers own instead of failing with ' +
      '409 Conflict. Only valid for apply patches (application/apply-patch+yaml).',
  ),
  allowWatchBookmarks: q(
    'allowWatchBookmarks',
    'boolean',
    'Ask for BOOKMARK events in a watch: events carrying only a resourceVersion, so a client can resume ' +
      'from a recent point. The server decides when to send them; clients must not rely on timing. ' +
      'Ignored when watch is not set.',
  ),
  continue: q(
    'continue',
    'string',
    'The continue token of a previous page (metadata.continue) to get the next page of a limited list. ' +
      'The other parameters must match the first request. An expired token fails with 410 Gone.',
  ),
  fieldSelector: q(
    'fieldSelector',
    'string',
    'Only return objects whose fields match, e.g. "metadata.name=db,metadata.namespace!=test". Defaults to everything.',
  ),
  labelSelector: q(
    'labelSelector',
    'string',
    'Only return objects whose labels match, e.g. "app=db,tier in (a,b),!canary". Defaults to everything.',
  ),
  limit: q(
    'limit',
    'integer',
    'The maximum number of objects to return in one page. When more exist, metadata.continue is set; ' +
      'pass it as the continue parameter for the next page. Pages may hold fewer items than the limit.',
  ),
  resourceVersion: q(
    'resourceVersion',
    'string',
    'Constrains which version of the data may be served: unset means the most recent; "0" means any ' +
      'version the server has; any other value means at least that version (or exactly, see ' +
      'resourceVersionMatch). For watches, the version to start from. ' +
      'More info: https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions',
  ),
  resourceVersionMatch: q(
    'resourceVersionMatch',
    'string',
    'How resourceVersion applies to a list: "NotOlderThan" or "Exact". Only valid together with ' +
      'resourceVersion; not valid for watches.',
  ),
  sendInitialEvents: q(
    'sendInitialEvents',
    'boolean',
    'With watch=true, start the stream with synthetic ADDED events for the current state, followed by a ' +
      'BOOKMARK annotated "k8s.io/initial-events-end". Requires resourceVersionMatch=NotOlderThan and allowWatchBookmarks=true.',
  ),
  timeoutSeconds: q(
    'timeoutSeconds',
    'integer',
    'A timeout for the list or watch call, in seconds; the call ends after this time regardless of activity.',
  ),
  watch: q(
    'watch',
    'boolean',
    'Watch for changes to the described resources and stream them as add, update and remove events. Use resourceVersion to choose the starting point.',
  ),
  gracePeriodSeconds: q(
    'gracePeriodSeconds',
    'integer',
    'Seconds to wait before the object is deleted; zero or positive. Zero deletes immediately; unset uses the default for the kind.',
  ),
  orphanDependents: q(
    'orphanDependents',
    'boolean',
    'Deprecated: use propagationPolicy. If true, dependents are orphaned; if false, they are deleted in the background.',
  ),
  propagationPolicy: q(
    'propagationPolicy',
    'string',
    'Whether and how dependents are garbage collected: "Orphan", "Background" or "Foreground". Do not combine with orphanDependents.',
  ),
  ignoreStoreReadErrorWithClusterBreakingPotential: q(
    'ignoreStoreReadErrorWithClusterBreakingPotential',
    'boolean',
    'If true, remove an object that cannot be read from storage, skipping finalizers and admission. ' +
      'Dangerous; requires explicit permission and is meant for recovering a broken cluster only.',
  ),
} satisfies Record<string, ParameterSpec>;

const byName = (a: ParameterSpec, b: ParameterSpec): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
const sorted = (ps: ParameterSpec[]): ParameterSpec[] => [...ps].sort(byName);

const LIST_PARAMS = sorted([
  P.allowWatchBookmarks,
  P.continue,
  P.fieldSelector,
  P.labelSelector,
  P.limit,
  P.resourceVersion,
  P.resourceVersionMatch,
  P.sendInitialEvents,
  P.timeoutSeconds,
  P.watch,
]);
const WRITE_PARAMS = sorted([P.dryRun, P.fieldManager, P.fieldValidation]);
const PATCH_PARAMS = sorted([P.dryRun, P.fieldManagerPatch, P.fieldValidation, P.force]);
const DELETE_PARAMS = sorted([
  P.dryRun,
  P.gracePeriodSeconds,
  P.ignoreStoreReadErrorWithClusterBreakingPotential,
  P.orphanDependents,
  P.propagationPolicy,
]);
const DELETE_COLLECTION_PARAMS = sorted([
  P.continue,
  P.dryRun,
  P.fieldSelector,
  P.gracePeriodSeconds,
  P.ignoreStoreReadErrorWithClusterBreakingPotential,
  P.labelSelector,
  P.limit,
  P.orphanDependents,
  P.propagationPolicy,
  P.resourceVersion,
  P.resourceVersionMatch,
  P.sendInitialEvents,
  P.timeoutSeconds,
]);

const namespaceParam: ParameterSpec = {
  name: 'namespace',
  in: 'path',
  type: 'string',
  required: true,
  description: 'object name and auth scope, such as for teams and projects',
};
const nameParam = (kind: string): ParameterSpec => ({
  name: 'name',
  in: 'path',
  type: 'string',
  required: true,
  description: `name of the ${kind}`,
});

// ---------------------------------------------------------------------------------------------
// Schemas

/** Strip `#/components/schemas/` or `#/definitions/` from `$ref`s in a copy of a schema. */
function normalizeRefs(s: SchemaObject): SchemaObject {
  const out: SchemaObject = {};
  for (const [k, v] of Object.entries(s)) {
    if (k === '$ref' && typeof v === 'string') out.$ref = v.replace(/^#\/(components\/schemas|definitions)\//, '');
    else if (k === 'properties' && v && typeof v === 'object') {
      out.properties = Object.fromEntries(
        Object.entries(v as Record<string, SchemaObject>).map(([pk, pv]) => [pk, normalizeRefs(pv)]),
      );
    } else if (
      (k === 'items' || k === 'not' || k === 'additionalProperties') &&
      v &&
      typeof v === 'object' &&
      !Array.isArray(v)
    ) {
      out[k] = normalizeRefs(v as SchemaObject);
    } else if ((k === 'allOf' || k === 'anyOf' || k === 'oneOf') && Array.isArray(v)) {
      out[k] = v.map((x) => normalizeRefs(x as SchemaObject));
    } else out[k] = structuredClone(v);
  }
  return out;
}

/** Like kube's CRD OpenAPI builder: an `x-kubernetes-embedded-resource` object gets apiVersion,
 * kind and metadata properties (and requires apiVersion and kind). */
function addEmbeddedProperties(s: SchemaObject): void {
  if (s.properties) for (const p of Object.values(s.properties)) addEmbeddedProperties(p);
  if (s.items) addEmbeddedProperties(s.items);
  if (s.additionalProperties && typeof s.additionalProperties === 'object')
    addEmbeddedProperties(s.additionalProperties);
  if (s['x-kubernetes-embedded-resource'] === true) {
    s.properties = {
      ...(s.properties ?? {}),
      apiVersion: { description: API_VERSION_DESCRIPTION, type: 'string' },
      kind: { description: KIND_DESCRIPTION, type: 'string' },
      metadata: { $ref: OBJECT_META, description: OBJECT_METADATA_DESCRIPTION },
    };
    const req = new Set(s.required ?? []);
    s.required = [...(s.required ?? []), ...['kind', 'apiVersion'].filter((r) => !req.has(r))];
  }
}

function kindSchema(def: ResourceDefinition): SchemaObject {
  const own = normalizeRefs(def.schema as JSONSchema as SchemaObject);
  const { type: _type, description: ownDescription, properties, ...rest } = own;
  const fields: Record<string, SchemaObject> = { ...(properties ?? {}) };
  for (const p of Object.values(fields)) addEmbeddedProperties(p);
  delete fields.apiVersion;
  delete fields.kind;
  delete fields.metadata;
  const required = rest.required?.filter((r) => r !== 'apiVersion' && r !== 'kind' && r !== 'metadata');
  delete rest.required;
  const schema: SchemaObject = {
    ...rest,
    description: def.description || ownDescription || `${def.kind} is a ${def.kind} resource.`,
    type: 'object',
    properties: {
      apiVersion: { description: API_VERSION_DESCRIPTION, type: 'string' },
      kind: { description: KIND_DESCRIPTION, type: 'string' },
      metadata: { $ref: OBJECT_META, description: OBJECT_METADATA_DESCRIPTION },
      ...fields,
    },
    'x-kubernetes-group-version-kind': [{ group: def.group, kind: def.kind, version: def.version }],
  };
  if (required && required.length > 0) schema.required = required;
  return schema;
}

function listSchema(def: ResourceDefinition, itemName: string): SchemaObject {
  return {
    description: `${def.listKind} is a list of ${def.kind}`,
    type: 'object',
    required: ['items'],
    properties: {
      apiVersion: { description: API_VERSION_DESCRIPTION, type: 'string' },
      items: {
        description: `List of ${def.plural}. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md`,
        type: 'array',
        items: { $ref: itemName },
      },
      kind: { description: KIND_DESCRIPTION, type: 'string' },
      metadata: { $ref: LIST_META, description: LIST_METADATA_DESCRIPTION },
    },
    'x-kubernetes-group-version-kind': [{ group: def.group, kind: def.listKind, version: def.version }],
  };
}

function collectRefs(s: unknown, into: Set<string>): void {
  if (Array.isArray(s)) {
    for (const x of s) collectRefs(x, into);
    return;
  }
  if (!s || typeof s !== 'object') return;
  for (const [k, v] of Object.entries(s)) {
    if (k === '$ref' && typeof v === 'string') into.add(v);
    else if (k === 'properties' && v && typeof v === 'object') for (const p of Object.values(v)) collectRefs(p, into);
    else if (['items', 'additionalProperties', 'not', 'allOf', 'anyOf', 'oneOf'].includes(k)) collectRefs(v, into);
  }
}

// ---------------------------------------------------------------------------------------------
// Operations

function verbsOf(def: ResourceDefinition): Set<Verb> {
  return new Set(def.verbs ?? ALL_VERBS);
}

const resp = (description: string, schema?: string): ResponseSpec =>
  schema === undefined ? { description } : { description, schema };
const UNAUTHORIZED = resp('Unauthorized');

function resourcePaths(def: ResourceDefinition, kindName: string, listName: string): PathSpec[] {
  const { group, version, kind, plural, namespaced } = def;
  const verbs = verbsOf(def);
  const gvk: GroupVersionKind = { group, version, kind };
  const tag = operationTag(group, version);
  const gv = operationIdInfix(group, version);
  const scope = namespaced ? 'Namespaced' : '';
  const prefix = '/' + groupVersionKey(group, version);
  const base = namespaced ? `${prefix}/namespaces/{namespace}` : prefix;
  const scopeParams = namespaced ? [namespaceParam] : [];
  const paths: PathSpec[] = [];
  const op = (
    o: Omit<OperationSpec, 'tag' | 'gvk' | 'produces'> & Partial<Pick<OperationSpec, 'gvk' | 'produces'>>,
  ): OperationSpec => ({
    tag,
    gvk,
    produces: [JSON_TYPE],
    ...o,
  });
  const path = (p: string, params: ParameterSpec[], ops: OperationSpec[]): void => {
    if (ops.length > 0) paths.push({ path: p, parameters: [...params, P.pretty], operations: ops });
  };

  const listOp = (operationId: string): OperationSpec =>
    op({
      method: 'get',
      operationId,
      description: `list or watch objects of kind ${kind}`,
      action: 'list',
      parameters: LIST_PARAMS,
      responses: { '200': resp('OK', listName), '401': UNAUTHORIZED },
      produces: [JSON_TYPE, WATCH_STREAM_TYPE],
    });

  // Collection across namespaces.
  if (namespaced && verbs.has('list')) path(`${prefix}/${plural}`, [], [listOp(`list${gv}${kind}ForAllNamespaces`)]);

  // Collection.
  const collectionOps: OperationSpec[] = [];
  if (verbs.has('list')) collectionOps.push(listOp(`list${gv}${scope}${kind}`));
  if (verbs.has('create')) {
    collectionOps.push(
      op({
        method: 'post',
        operationId: `create${gv}${scope}${kind}`,
        description: `create a ${kind}`,
        action: 'post',
        parameters: WRITE_PARAMS,
        body: { schema: kindName, contentTypes: ['*/*'], required: true },
        responses: {
          '200': resp('OK', kindName),
          '201': resp('Created', kindName),
          '202': resp('Accepted', kindName),
          '401': UNAUTHORIZED,
        },
      }),
    );
  }
  if (verbs.has('deletecollection')) {
    collectionOps.push(
      op({
        method: 'delete',
        operationId: `delete${gv}Collection${scope}${kind}`,
        description: `delete collection of ${kind}`,
        action: 'deletecollection',
        parameters: DELETE_COLLECTION_PARAMS,
        body: { schema: DELETE_OPTIONS, contentTypes: ['*/*'], required: false },
        responses: { '200': resp('OK', STATUS), '401': UNAUTHORIZED },
      }),
    );
  }
  path(`${base}/${plural}`, scopeParams, collectionOps);

  // Item.
  const itemParams = [nameParam(kind), ...scopeParams];
  const itemOps: OperationSpec[] = [];
  if (verbs.has('get')) {
    itemOps.push(
      op({
        method: 'get',
        operationId: `read${gv}${scope}${kind}`,
        description: `read the specified ${kind}`,
        action: 'get',
        parameters: [],
        responses: { '200': resp('OK', kindName), '401': UNAUTHORIZED },
      }),
    );
  }
  if (verbs.has('update')) {
    itemOps.push(
      op({
        method: 'put',
        operationId: `replace${gv}${scope}${kind}`,
        description: `replace the specified ${kind}`,
        action: 'put',
        parameters: WRITE_PARAMS,
        body: { schema: kindName, contentTypes: ['*/*'], required: true },
        responses: { '200': resp('OK', kindName), '201': resp('Created', kindName), '401': UNAUTHORIZED },
      }),
    );
  }
  if (verbs.has('patch')) {
    itemOps.push(
      op({
        method: 'patch',
        operationId: `patch${gv}${scope}${kind}`,
        description: `partially update the specified ${kind}`,
        action: 'patch',
        parameters: PATCH_PARAMS,
        body: { schema: PATCH, contentTypes: PATCH_CONTENT_TYPES, required: true },
        responses: { '200': resp('OK', kindName), '201': resp('Created', kindName), '401': UNAUTHORIZED },
      }),
    );
  }
  if (verbs.has('delete')) {
    itemOps.push(
      op({
        method: 'delete',
        operationId: `delete${gv}${scope}${kind}`,
        description: `delete a ${kind}`,
        action: 'delete',
        parameters: DELETE_PARAMS,
        body: { schema: DELETE_OPTIONS, contentTypes: ['*/*'], required: false },
        responses: { '200': resp('OK', STATUS), '202': resp('Accepted', STATUS), '401': UNAUTHORIZED },
      }),
    );
  }
  path(`${base}/${plural}/{name}`, itemParams, itemOps);

  // Subresources: get/update/patch follow the verbs of the main resource.
  const subresource = (sub: 'status' | 'scale', schemaName: string, subGVK: GroupVersionKind): void => {
    const Sub = capitalize(sub);
    const ops: OperationSpec[] = [];
    const params = [{ ...nameParam(subGVK.kind) }, ...scopeParams];
    if (verbs.has('get')) {
      ops.push(
        op({
          method: 'get',
          operationId: `read${gv}${scope}${kind}${Sub}`,
          description: `read ${sub} of the specified ${kind}`,
          action: 'get',
          gvk: subGVK,
          parameters: [],
          responses: { '200': resp('OK', schemaName), '401': UNAUTHORIZED },
        }),
      );
    }
    if (verbs.has('update')) {
      ops.push(
        op({
          method: 'put',
          operationId: `replace${gv}${scope}${kind}${Sub}`,
          description: `replace ${sub} of the specified ${kind}`,
          action: 'put',
          gvk: subGVK,
          parameters: WRITE_PARAMS,
          body: { schema: schemaName, contentTypes: ['*/*'], required: true },
          responses: { '200': resp('OK', schemaName), '201': resp('Created', schemaName), '401': UNAUTHORIZED },
        }),
      );
    }
    if (verbs.has('patch')) {
      ops.push(
        op({
          method: 'patch',
          operationId: `patch${gv}${scope}${kind}${Sub}`,
          description: `partially update ${sub} of the specified ${kind}`,
          action: 'patch',
          gvk: subGVK,
          parameters: PATCH_PARAMS,
          body: { schema: PATCH, contentTypes: PATCH_CONTENT_TYPES, required: true },
          responses: { '200': resp('OK', schemaName), '201': resp('Created', schemaName), '401': UNAUTHORIZED },
        }),
      );
    }
    path(`${base}/${plural}/{name}/${sub}`, params, ops);
  };
  if (def.subresources.status) subresource('status', kindName, gvk);
  if (def.subresources.scale) subresource('scale', SCALE, SCALE_GVK);

  // Deprecated watch paths, published as kube still does.
  if (verbs.has('watch')) {
    const watchOp = (operationId: string, action: 'watch' | 'watchlist', description: string): OperationSpec =>
      op({
        method: 'get',
        operationId,
        description,
        action,
        parameters: LIST_PARAMS,
        responses: { '200': resp('OK', WATCH_EVENT), '401': UNAUTHORIZED },
        produces: [JSON_TYPE, WATCH_STREAM_TYPE],
        deprecated: true,
      });
    const listDescription = `watch individual changes to a list of ${kind}. deprecated: use the 'watch' parameter with a list operation instead.`;
    if (namespaced) {
      path(
        `${prefix}/watch/${plural}`,
        [],
        [watchOp(`watch${gv}${kind}ListForAllNamespaces`, 'watchlist', listDescription)],
      );
    }
    const wbase = namespaced ? `${prefix}/watch/namespaces/{namespace}` : `${prefix}/watch`;
    path(`${wbase}/${plural}`, scopeParams, [watchOp(`watch${gv}${scope}${kind}List`, 'watchlist', listDescription)]);
    path(`${wbase}/${plural}/{name}`, itemParams, [
      watchOp(
        `watch${gv}${scope}${kind}`,
        'watch',
        `watch changes to an object of kind ${kind}. deprecated: use the 'watch' parameter with a list operation instead, filtered to a single item with the 'fieldSelector' parameter.`,
      ),
    ]);
  }
  return paths;
}

// ---------------------------------------------------------------------------------------------

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function sortDefinitions(defs: ResourceDefinition[]): ResourceDefinition[] {
  return [...defs].sort((a, b) => cmp(a.group, b.group) || cmp(a.version, b.version) || cmp(a.plural, b.plural));
}

/**
 * Build the model of every group-version served by `defs`, ordered by group then version.
 * `servedGroupVersions` lists the group-versions the meta kinds DeleteOptions and WatchEvent are
 * registered in (defaults to the model's own group-version).
 */
export function buildGroupVersionModels(
  defs: ResourceDefinition[],
  servedGroupVersions?: GroupVersionKind[],
): GroupVersionModel[] {
  const byGV = new Map<string, ResourceDefinition[]>();
  for (const def of sortDefinitions(defs)) {
    const key = groupVersionKey(def.group, def.version);
    const list = byGV.get(key) ?? [];
    if (list.some((d) => d.plural === def.plural)) throw new Error(`duplicate resource ${def.plural} in ${key}`);
    if (list.some((d) => d.kind === def.kind)) throw new Error(`duplicate kind ${def.kind} in ${key}`);
    list.push(def);
    byGV.set(key, list);
  }
  const models: GroupVersionModel[] = [];
  for (const [key, gvDefs] of byGV) {
    const { group, version } = gvDefs[0]!;
    const own: Record<string, SchemaObject> = {};
    const paths: PathSpec[] = [];
    for (const def of gvDefs) {
      if (def.schema.type !== undefined && def.schema.type !== 'object')
        throw new Error(`schema of ${def.kind} must be type: object`);
      const kindName = definitionName(def);
      const listName = definitionName({ group, version, kind: def.listKind });
      own[kindName] = kindSchema(def);
      own[listName] = listSchema(def, kindName);
      paths.push(...resourcePaths(def, kindName, listName));
    }
    // The closure of referenced definitions.
    const served = servedGroupVersions ?? [{ group, version, kind: '' }];
    const schemas: Record<string, SchemaObject> = {};
    const pending: string[] = [];
    const want = (name: string): void => {
      if (!(name in schemas) && !pending.includes(name)) pending.push(name);
    };
    for (const name of Object.keys(own)) want(name);
    for (const p of paths) {
      for (const o of p.operations) {
        if (o.body) want(o.body.schema);
        for (const r of Object.values(o.responses)) if (r.schema) want(r.schema);
      }
    }
    while (pending.length > 0) {
      const name = pending.shift()!;
      let schema: SchemaObject;
      if (name in own) schema = own[name]!;
      else if (isMetaDefinition(name)) schema = metaDefinition(name, served);
      else throw new Error(`OpenAPI ${key}: reference to unknown definition ${JSON.stringify(name)}`);
      schemas[name] = schema;
      const refs = new Set<string>();
      collectRefs(schema, refs);
      for (const r of refs) want(r);
    }
    const seen = new Set<string>();
    for (const p of paths) {
      if (seen.has(p.path)) throw new Error(`duplicate OpenAPI path ${p.path}`);
      seen.add(p.path);
    }
    models.push({ group, version, key, paths, schemas });
  }
  return models;
}
