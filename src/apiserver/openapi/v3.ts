// OpenAPI v3: one document per group-version (served at /openapi/v3/<key>?hash=<HASH>) and the
// root discovery document listing them (k8s.io/kube-openapi pkg/handler3).

import type { ResourceDefinition } from '../../machinery/definition.js';
import { canonicalJSON, sha512Hex } from './canonical.js';
import type { SchemaObject } from './meta-schemas.js';
import { buildGroupVersionModels, type GroupVersionModel, type OperationSpec, type ParameterSpec } from './model.js';

export interface OpenAPIInfoOptions {
  /** `info.title`; default "Kubernetes". */
  title?: string;
  /** `info.version`; default "unversioned" for v3 documents, "v0.0.0" for v2. */
  version?: string;
}

export interface OpenAPIV3GroupVersionDocument {
  /** The exact bytes served for the group-version. */
  body: Buffer;
  /** Uppercase hex SHA-512 of `body`: the `hash` query parameter and the ETag. */
  hash: string;
}

export interface OpenAPIV3Root {
  paths: Record<string, { serverRelativeURL: string }>;
}

export interface OpenAPIV3Documents {
  root: OpenAPIV3Root;
  /** Keyed by `apis/<group>/<version>` or `api/<version>`. */
  groupVersions: Map<string, OpenAPIV3GroupVersionDocument>;
}

const V3_SCHEMA_PREFIX = '#/components/schemas/';

/** The server-relative URL of a group-version document, as published in the root. */
export function serverRelativeURL(key: string, hash: string): string {
  return `/openapi/v3/${key}?hash=${hash}`;
}

/** Render a neutral schema as OpenAPI v3: `$ref` becomes `#/components/schemas/<name>`, and a
 * `$ref` with sibling keys is wrapped as `allOf: [{$ref}]` next to those keys (as kube does,
 * since siblings of `$ref` are ignored in OpenAPI 3.0). */
export function toV3Schema(s: SchemaObject): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s)) {
    if (k === '$ref') continue;
    if (k === 'properties' && v && typeof v === 'object') {
      out.properties = Object.fromEntries(
        Object.entries(v as Record<string, SchemaObject>).map(([pk, pv]) => [pk, toV3Schema(pv)]),
      );
    } else if (
      (k === 'items' || k === 'not' || k === 'additionalProperties') &&
      v &&
      typeof v === 'object' &&
      !Array.isArray(v)
    ) {
      out[k] = toV3Schema(v as SchemaObject);
    } else if ((k === 'allOf' || k === 'anyOf' || k === 'oneOf') && Array.isArray(v)) {
      out[k] = v.map((x) => toV3Schema(x as SchemaObject));
    } else {
      out[k] = structuredClone(v);
    }
  }
  if (typeof s.$ref === 'string') {
    const ref = { $ref: V3_SCHEMA_PREFIX + s.$ref };
    if (Object.keys(out).length === 0) return ref;
    out.allOf = [ref, ...((out.allOf as unknown[] | undefined) ?? [])];
  }
  return out;
}

function v3Parameter(p: ParameterSpec): Record<string, unknown> {
  const out: Record<string, unknown> = {
    name: p.name,
    in: p.in,
    description: p.description,
    schema: { type: p.type, uniqueItems: true },
  };
  if (p.required) out.required = true;
  return out;
}

const schemaRef = (name: string): Record<string, string> => ({ $ref: V3_SCHEMA_PREFIX + name });

function v3Operation(o: OperationSpec): Record<string, unknown> {
  const out: Record<string, unknown> = {
    tags: [o.tag],
    description: o.description,
    operationId: o.operationId,
    responses: Object.fromEntries(
      Object.entries(o.responses).map(([code, r]) => [
        code,
        r.schema === undefined
          ? { description: r.description }
          : {
              description: r.description,
              content: Object.fromEntries(o.produces.map((t) => [t, { schema: schemaRef(r.schema!) }])),
            },
      ]),
    ),
    'x-kubernetes-action': o.action,
    'x-kubernetes-group-version-kind': { group: o.gvk.group, version: o.gvk.version, kind: o.gvk.kind },
  };
  if (o.parameters.length > 0) out.parameters = o.parameters.map(v3Parameter);
  if (o.body) {
    const body: Record<string, unknown> = {
      content: Object.fromEntries(o.body.contentTypes.map((t) => [t, { schema: schemaRef(o.body!.schema) }])),
    };
    if (o.body.required) body.required = true;
    out.requestBody = body;
  }
  if (o.deprecated) out.deprecated = true;
  return out;
}

/** The OpenAPI v3 document of one group-version, as a plain object (keys not yet sorted). */
export function groupVersionDocumentV3(
  model: GroupVersionModel,
  info: OpenAPIInfoOptions = {},
): Record<string, unknown> {
  const paths: Record<string, unknown> = {};
  for (const p of model.paths) {
    const item: Record<string, unknown> = { parameters: p.parameters.map(v3Parameter) };
    for (const o of p.operations) item[o.method] = v3Operation(o);
    paths[p.path] = item;
  }
  return {
    openapi: '3.0.0',
    info: { title: info.title ?? 'Kubernetes', version: info.version ?? 'unversioned' },
    paths,
    components: {
      schemas: Object.fromEntries(Object.entries(model.schemas).map(([name, s]) => [name, toV3Schema(s)])),
      securitySchemes: {
        BearerToken: {
          type: 'apiKey',
          description: 'Bearer Token authentication',
          name: 'authorization',
          in: 'header',
        },
      },
    },
    security: [{ BearerToken: [] }],
  };
}

/** Build the OpenAPI v3 root and group-version documents for `defs`. Deterministic: the same
 * definitions (in any order) always give the same bytes and hashes. */
export function buildOpenAPIV3(defs: ResourceDefinition[], info: OpenAPIInfoOptions = {}): OpenAPIV3Documents {
  const root: OpenAPIV3Root = { paths: {} };
  const groupVersions = new Map<string, OpenAPIV3GroupVersionDocument>();
  for (const model of buildGroupVersionModels(defs)) {
    const body = canonicalJSON(groupVersionDocumentV3(model, info));
    const hash = sha512Hex(body);
    groupVersions.set(model.key, { body, hash });
    root.paths[model.key] = { serverRelativeURL: serverRelativeURL(model.key, hash) };
  }
  return { root, groupVersions };
}
