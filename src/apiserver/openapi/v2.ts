// OpenAPI v2 (Swagger 2.0): one document for everything we serve, as JSON and as the gnostic
// `openapi.v2.Document` protobuf kubectl 1.27/1.28 require (served at /openapi/v2).

import type { ResourceDefinition } from '../../machinery/definition.js';
import { canonicalJSON, sha512Hex } from './canonical.js';
import { encodeOpenAPIV2Document } from './gnostic.js';
import type { GroupVersionKind, SchemaObject } from './meta-schemas.js';
import { buildGroupVersionModels, type OperationSpec, type ParameterSpec } from './model.js';
import type { OpenAPIInfoOptions } from './v3.js';

export interface OpenAPIV2Document {
  /** The Swagger 2.0 document as JSON bytes. */
  json: Buffer;
  /** The same document as a gnostic `openapi.v2.Document` protobuf message. */
  proto: Buffer;
  /** ETag header value (quoted uppercase hex SHA-512) of `json`. */
  etag: string;
  /** ETag header value of `proto` (a different representation, so a different tag). */
  protoEtag: string;
}

const V2_DEFINITION_PREFIX = '#/definitions/';

/**
 * Render a neutral schema for Swagger 2.0, with the simplifications kube applies to CRD schemas
 * published in v2 (apiextensions-apiserver `ToStructuralOpenAPIV2`), which keep kubectl's
 * client-side v2 model usable:
 * - `allOf`, `anyOf`, `oneOf`, `not` are dropped (v2 clients cannot use them);
 * - a `nullable` node loses its type, properties and items (v2 cannot express null), and a
 *   nullable property is no longer required;
 * - an `x-kubernetes-preserve-unknown-fields` node loses its properties and items;
 * - an array left without items loses its type (kubectl rejects arrays without items).
 * `$ref`s become `#/definitions/<name>` and keep their sibling keys (as kube publishes v2).
 */
export function toV2Schema(s: SchemaObject): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const nullable = s.nullable === true;
  const preserveUnknown = s['x-kubernetes-preserve-unknown-fields'] === true;
  for (const [k, v] of Object.entries(s)) {
    switch (k) {
      case 'allOf':
      case 'anyOf':
      case 'oneOf':
      case 'not':
      case 'nullable':
        break;
      case '$ref':
        out.$ref = V2_DEFINITION_PREFIX + String(v);
        break;
      case 'type':
        if (!nullable) out.type = v;
        break;
      case 'properties':
        if (!nullable && !preserveUnknown && v && typeof v === 'object') {
          out.properties = Object.fromEntries(
            Object.entries(v as Record<string, SchemaObject>).map(([pk, pv]) => [pk, toV2Schema(pv)]),
          );
        }
        break;
      case 'items':
        if (!nullable && !preserveUnknown && v && typeof v === 'object' && !Array.isArray(v))
          out.items = toV2Schema(v as SchemaObject);
        break;
      case 'additionalProperties':
        out.additionalProperties = typeof v === 'object' && v !== null ? toV2Schema(v as SchemaObject) : v;
        break;
      case 'required': {
        const props = s.properties ?? {};
        const req = (v as string[]).filter((r) => props[r]?.nullable !== true);
        if (req.length > 0) out.required = [...req];
        break;
      }
      default:
        out[k] = structuredClone(v);
    }
  }
  if (out.type === 'array' && out.items === undefined) delete out.type;
  if (nullable || preserveUnknown) {
    if (out.properties === undefined) delete out.required;
  }
  return out;
}

function v2Parameter(p: ParameterSpec): Record<string, unknown> {
  const out: Record<string, unknown> = {
    name: p.name,
    in: p.in,
    description: p.description,
    type: p.type,
    uniqueItems: true,
  };
  if (p.required) out.required = true;
  return out;
}

function v2Operation(o: OperationSpec): Record<string, unknown> {
  const parameters: Record<string, unknown>[] = [];
  if (o.body)
    parameters.push({
      name: 'body',
      in: 'body',
      required: o.body.required,
      schema: { $ref: V2_DEFINITION_PREFIX + o.body.schema },
    });
  parameters.push(...o.parameters.map(v2Parameter));
  const out: Record<string, unknown> = {
    tags: [o.tag],
    description: o.description,
    operationId: o.operationId,
    consumes: o.body ? [...o.body.contentTypes] : ['*/*'],
    produces: [...o.produces],
    responses: Object.fromEntries(
      Object.entries(o.responses).map(([code, r]) => [
        code,
        r.schema === undefined
          ? { description: r.description }
          : { description: r.description, schema: { $ref: V2_DEFINITION_PREFIX + r.schema } },
      ]),
    ),
    'x-kubernetes-action': o.action,
    'x-kubernetes-group-version-kind': { group: o.gvk.group, version: o.gvk.version, kind: o.gvk.kind },
  };
  if (parameters.length > 0) out.parameters = parameters;
  if (o.deprecated) out.deprecated = true;
  return out;
}

/** The Swagger 2.0 document for `defs` as a plain object (keys not yet sorted). */
export function openAPIV2Object(defs: ResourceDefinition[], info: OpenAPIInfoOptions = {}): Record<string, unknown> {
  const served: GroupVersionKind[] = [];
  for (const d of defs) {
    if (!served.some((g) => g.group === d.group && g.version === d.version))
      served.push({ group: d.group, version: d.version, kind: '' });
  }
  served.sort((a, b) => (a.group + '/' + a.version < b.group + '/' + b.version ? -1 : 1));
  const paths: Record<string, unknown> = {};
  const definitions: Record<string, unknown> = {};
  for (const model of buildGroupVersionModels(defs, served)) {
    for (const p of model.paths) {
      const item: Record<string, unknown> = { parameters: p.parameters.map(v2Parameter) };
      for (const o of p.operations) item[o.method] = v2Operation(o);
      paths[p.path] = item;
    }
    for (const [name, s] of Object.entries(model.schemas)) definitions[name] = toV2Schema(s);
  }
  return {
    swagger: '2.0',
    info: { title: info.title ?? 'Kubernetes', version: info.version ?? 'v0.0.0' },
    paths,
    definitions,
    securityDefinitions: {
      BearerToken: { type: 'apiKey', name: 'authorization', in: 'header', description: 'Bearer Token authentication' },
    },
    security: [{ BearerToken: [] }],
  };
}

/** Build the Swagger 2.0 document for `defs` as JSON and as protobuf. Deterministic. */
export function buildOpenAPIV2(defs: ResourceDefinition[], info: OpenAPIInfoOptions = {}): OpenAPIV2Document {
  const json = canonicalJSON(openAPIV2Object(defs, info));
  // Encode from the parsed bytes so every repeated (name, value) pair follows the JSON order.
  const proto = encodeOpenAPIV2Document(JSON.parse(json.toString('utf8')) as Record<string, unknown>);
  return { json, proto, etag: `"${sha512Hex(json)}"`, protoEtag: `"${sha512Hex(proto)}"` };
}

/** Our document with the paths and definitions of other servers' documents added (a definition
 * we already have keeps ours), encoded as buildOpenAPIV2 does. */
export function mergedOpenAPIV2(own: Record<string, unknown>, others: Record<string, unknown>[]): OpenAPIV2Document {
  const paths = { ...((own['paths'] as Record<string, unknown>) ?? {}) };
  const definitions = { ...((own['definitions'] as Record<string, unknown>) ?? {}) };
  for (const doc of others) {
    Object.assign(paths, (doc['paths'] as Record<string, unknown>) ?? {}, paths);
    for (const [name, def] of Object.entries((doc['definitions'] as Record<string, unknown>) ?? {}))
      if (!(name in definitions)) definitions[name] = def;
  }
  const json = canonicalJSON({ ...own, paths, definitions });
  const proto = encodeOpenAPIV2Document(JSON.parse(json.toString('utf8')) as Record<string, unknown>);
  return { json, proto, etag: `"${sha512Hex(json)}"`, protoEtag: `"${sha512Hex(proto)}"` };
}
