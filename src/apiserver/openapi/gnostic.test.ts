import protobuf from 'protobufjs';
import YAML from 'yaml';
import {
  anyYAML,
  decodeOpenAPIV2Document,
  documentMessage,
  encodeOpenAPIV2Document,
  openAPIV2DocumentType,
} from './gnostic.js';
import { testDefinitions } from './testing/definitions.js';
import { buildOpenAPIV2 } from './v2.js';

type M = Record<string, any>;

// ---------------------------------------------------------------------------------------------
// The inverse of the JSON → gnostic conversion, written independently from gnostic.ts, so that a
// decode + inverse must give back the JSON document.

const anyValue = (a: M): unknown => YAML.parse(a.yaml, { version: '1.1' });
const SCALAR_FIELDS: [string, string][] = [
  ['format', 'format'],
  ['title', 'title'],
  ['description', 'description'],
  ['multiple_of', 'multipleOf'],
  ['maximum', 'maximum'],
  ['exclusive_maximum', 'exclusiveMaximum'],
  ['minimum', 'minimum'],
  ['exclusive_minimum', 'exclusiveMinimum'],
  ['max_length', 'maxLength'],
  ['min_length', 'minLength'],
  ['pattern', 'pattern'],
  ['max_items', 'maxItems'],
  ['min_items', 'minItems'],
  ['unique_items', 'uniqueItems'],
  ['max_properties', 'maxProperties'],
  ['min_properties', 'minProperties'],
  ['required', 'required'],
  ['discriminator', 'discriminator'],
  ['read_only', 'readOnly'],
  ['in', 'in'],
  ['name', 'name'],
  ['type', 'type'],
  ['collection_format', 'collectionFormat'],
  ['allow_empty_value', 'allowEmptyValue'],
];

function common(m: M, out: M): M {
  for (const [pf, jf] of SCALAR_FIELDS) if (m[pf] !== undefined && typeof m[pf] !== 'object') out[jf] = m[pf];
  if (Array.isArray(m.required)) out.required = m.required;
  if (m.default) out.default = anyValue(m.default);
  if (m.example) out.example = anyValue(m.example);
  if (m.enum) out.enum = m.enum.map(anyValue);
  for (const e of m.vendor_extension ?? []) out[e.name] = anyValue(e.value);
  return out;
}

function schemaJSON(m: M): M {
  const out: M = {};
  if (m._ref) out.$ref = m._ref;
  common(m, out);
  if (m.type) out.type = m.type.value.length === 1 ? m.type.value[0] : m.type.value;
  if (m.items) out.items = m.items.schema.length === 1 ? schemaJSON(m.items.schema[0]) : m.items.schema.map(schemaJSON);
  if (m.additional_properties) {
    out.additionalProperties = m.additional_properties.schema
      ? schemaJSON(m.additional_properties.schema)
      : m.additional_properties.boolean;
  }
  if (m.all_of) out.allOf = m.all_of.map(schemaJSON);
  if (m.properties)
    out.properties = Object.fromEntries(
      (m.properties.additional_properties ?? []).map((p: M) => [p.name, schemaJSON(p.value)]),
    );
  return out;
}

function parameterJSON(p: M): M {
  if (p.json_reference) return { $ref: p.json_reference._ref };
  const param = p.parameter;
  if (param.body_parameter) {
    const b = param.body_parameter;
    return common(b, { ...(b.schema ? { schema: schemaJSON(b.schema) } : {}) });
  }
  const nb = param.non_body_parameter;
  const sub =
    nb.query_parameter_sub_schema ??
    nb.path_parameter_sub_schema ??
    nb.header_parameter_sub_schema ??
    nb.form_data_parameter_sub_schema;
  return common(sub, {});
}

function operationJSON(o: M): M {
  const out: M = {};
  for (const [pf, jf] of [
    ['tags', 'tags'],
    ['summary', 'summary'],
    ['description', 'description'],
    ['operation_id', 'operationId'],
    ['produces', 'produces'],
    ['consumes', 'consumes'],
    ['schemes', 'schemes'],
    ['deprecated', 'deprecated'],
  ]) {
    if (o[pf!] !== undefined) out[jf!] = o[pf!];
  }
  if (o.parameters) out.parameters = o.parameters.map(parameterJSON);
  if (o.responses) {
    out.responses = Object.fromEntries(
      o.responses.response_code.map((r: M) => {
        const resp = r.value.response;
        const j: M = { description: resp.description };
        if (resp.schema?.schema) j.schema = schemaJSON(resp.schema.schema);
        return [r.name, j];
      }),
    );
  }
  for (const e of o.vendor_extension ?? []) out[e.name] = anyValue(e.value);
  return out;
}

function documentJSON(d: M): M {
  const out: M = { swagger: d.swagger, info: { title: d.info.title, version: d.info.version } };
  out.paths = Object.fromEntries(
    d.paths.path.map((p: M) => {
      const item: M = {};
      for (const method of ['get', 'put', 'post', 'delete', 'options', 'head', 'patch'])
        if (p.value[method]) item[method] = operationJSON(p.value[method]);
      if (p.value.parameters) item.parameters = p.value.parameters.map(parameterJSON);
      return [p.name, item];
    }),
  );
  out.definitions = Object.fromEntries(
    d.definitions.additional_properties.map((s: M) => [s.name, schemaJSON(s.value)]),
  );
  out.securityDefinitions = Object.fromEntries(
    d.security_definitions.additional_properties.map((s: M) => {
      const k = s.value.api_key_security;
      return [s.name, { type: k.type, name: k.name, in: k.in, description: k.description }];
    }),
  );
  out.security = d.security.map((r: M) =>
    Object.fromEntries(r.additional_properties.map((a: M) => [a.name, a.value.value ?? []])),
  );
  return out;
}

/** What proto3 cannot carry: zero scalars (false, 0, '') and empty lists outside Any values. */
function dropZeroValues(v: unknown, key = ''): unknown {
  if (key === 'default' || key === 'example' || key === 'enum' || key.startsWith('x-')) return v;
  if (Array.isArray(v)) return v.map((x) => dropZeroValues(x));
  if (v && typeof v === 'object') {
    const out: M = {};
    for (const [k, x] of Object.entries(v)) {
      const anyValued = k === 'default' || k === 'example' || k === 'enum' || k.startsWith('x-');
      if (
        !anyValued &&
        k !== 'additionalProperties' &&
        (x === false || x === 0 || x === '' || (Array.isArray(x) && x.length === 0 && k !== 'BearerToken'))
      )
        continue;
      out[k] = dropZeroValues(x, k);
    }
    return out;
  }
  return v;
}

// ---------------------------------------------------------------------------------------------
// A minimal wire encoder, independent of protobufjs, for checking field numbers.

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}
const ld = (field: number, payload: number[]): number[] => [
  ...varint((field << 3) | 2),
  ...varint(payload.length),
  ...payload,
];
const s = (field: number, text: string): number[] => ld(field, [...Buffer.from(text, 'utf8')]);
const b = (field: number): number[] => [...varint(field << 3), 1];

describe('gnostic openapi.v2.Document protobuf', () => {
  it('uses gnostic field numbers (checked against a hand-encoded message)', () => {
    const doc = {
      swagger: '2.0',
      info: { title: 'T', version: 'v' },
      paths: {
        '/x': {
          get: {
            operationId: 'op',
            parameters: [{ name: 'q', in: 'query', type: 'string', uniqueItems: true }],
            responses: { '200': { description: 'OK', schema: { $ref: '#/definitions/D' } } },
            'x-kubernetes-action': 'get',
          },
          parameters: [{ name: 'n', in: 'path', required: true, type: 'string' }],
        },
      },
      definitions: {
        D: {
          description: 'd',
          type: 'object',
          properties: {
            a: { type: 'array', items: { type: 'string' } },
            m: { type: 'object', additionalProperties: false },
          },
          'x-kubernetes-group-version-kind': [{ group: '', kind: 'D', version: 'v1' }],
        },
      },
    };
    const anyMsg = (v: unknown): number[] => s(2, anyYAML(v)); // Any.yaml = 2
    const expected = [
      ...s(1, '2.0'), // Document.swagger = 1
      ...ld(2, [...s(1, 'T'), ...s(2, 'v')]), // Document.info = 2 {title = 1, version = 2}
      ...ld(8, [
        // Document.paths = 8; Paths.path = 2 (NamedPathItem {name = 1, value = 2})
        ...ld(2, [
          ...s(1, '/x'),
          ...ld(2, [
            // PathItem.get = 2 (Operation)
            ...ld(2, [
              ...s(5, 'op'), // Operation.operation_id = 5
              // Operation.parameters = 8: ParametersItem.parameter = 1 → Parameter.non_body_parameter = 2
              // → NonBodyParameter.query_parameter_sub_schema = 3 {in = 2, name = 4, type = 6, unique_items = 20}
              ...ld(8, ld(1, ld(2, ld(3, [...s(2, 'query'), ...s(4, 'q'), ...s(6, 'string'), ...b(20)])))),
              // Operation.responses = 9: Responses.response_code = 1 (NamedResponseValue) → ResponseValue.response = 1
              // → Response {description = 1, schema = 2 → SchemaItem.schema = 1 → Schema._ref = 1}
              ...ld(
                9,
                ld(1, [...s(1, '200'), ...ld(2, ld(1, [...s(1, 'OK'), ...ld(2, ld(1, s(1, '#/definitions/D')))]))]),
              ),
              // Operation.vendor_extension = 13 (NamedAny {name = 1, value = 2 (Any)})
              ...ld(13, [...s(1, 'x-kubernetes-action'), ...ld(2, anyMsg('get'))]),
            ]),
            // PathItem.parameters = 9 → ... PathParameterSubSchema {required = 1, in = 2, name = 4, type = 5}
            ...ld(9, ld(1, ld(2, ld(4, [...b(1), ...s(2, 'path'), ...s(4, 'n'), ...s(5, 'string')])))),
          ]),
        ]),
      ]),
      // Document.definitions = 9: Definitions.additional_properties = 1 (NamedSchema)
      ...ld(
        9,
        ld(1, [
          ...s(1, 'D'),
          ...ld(2, [
            ...s(4, 'd'), // Schema.description = 4
            // Schema.type = 22 (TypeItem.value = 1)
            ...ld(22, s(1, 'object')),
            // Schema.properties = 25: Properties.additional_properties = 1 (NamedSchema)
            ...ld(25, [
              // items = 23: ItemsItem.schema = 1
              ...ld(1, [...s(1, 'a'), ...ld(2, [...ld(22, s(1, 'array')), ...ld(23, ld(1, ld(22, s(1, 'string'))))])]),
              // additional_properties = 21: AdditionalPropertiesItem.boolean = 2 (false, but a oneof member)
              ...ld(1, [...s(1, 'm'), ...ld(2, [...ld(21, [...varint(2 << 3), 0]), ...ld(22, s(1, 'object'))])]),
            ]),
            // Schema.vendor_extension = 31
            ...ld(31, [
              ...s(1, 'x-kubernetes-group-version-kind'),
              ...ld(2, anyMsg([{ group: '', kind: 'D', version: 'v1' }])),
            ]),
          ]),
        ]),
      ),
    ];
    const encoded = encodeOpenAPIV2Document(doc);
    expect([...encoded]).toEqual(expected);
  });

  it('writes vendor extensions and Any values as YAML that YAML 1.1 readers parse back', () => {
    expect(anyYAML({ group: 'upm.io', kind: 'UnitSet', version: 'v1alpha1' })).toBe(
      'group: upm.io\nkind: UnitSet\nversion: v1alpha1\n',
    );
    expect(anyYAML([{ group: '', kind: 'Pod', version: 'v1' }])).toBe('- group: ""\n  kind: Pod\n  version: v1\n');
    for (const v of [
      'on',
      'yes',
      'no',
      'off',
      'y',
      'true',
      '1.0',
      '010',
      'null',
      '',
      'a: b',
      'long '.repeat(40),
      'x\ny',
    ]) {
      expect(YAML.parse(anyYAML(v), { version: '1.1' })).toBe(v);
    }
    expect(YAML.parse(anyYAML(0), { version: '1.1' })).toBe(0);
    expect(YAML.parse(anyYAML({}), { version: '1.1' })).toEqual({});
  });

  it('round-trips the whole v2 document: decode + inverse conversion gives the JSON back', () => {
    const { json, proto } = buildOpenAPIV2(testDefinitions);
    const original = JSON.parse(json.toString('utf8'));
    const Document = openAPIV2DocumentType();
    expect(Document.verify(documentMessage(original))).toBeNull();
    expect(Document.verify(Document.decode(proto))).toBeNull();
    const decoded = decodeOpenAPIV2Document(proto);
    expect(documentJSON(decoded)).toEqual(dropZeroValues(original));
  });

  it('keeps the parts kubectl reads: GVK extensions, patch parameters, nested descriptions', () => {
    const decoded = decodeOpenAPIV2Document(buildOpenAPIV2(testDefinitions).proto);
    expect(decoded.swagger).toBe('2.0');
    const item = decoded.paths.path.find(
      (p: M) => p.name === '/apis/example.upm.io/v1beta1/namespaces/{namespace}/gizmos/{name}',
    );
    const patch = item.value.patch;
    const gvk = patch.vendor_extension.find((e: M) => e.name === 'x-kubernetes-group-version-kind');
    expect(YAML.parse(gvk.value.yaml)).toEqual({ group: 'example.upm.io', kind: 'Gizmo', version: 'v1beta1' });
    const queryNames = patch.parameters
      .map((p: M) => p.parameter?.non_body_parameter?.query_parameter_sub_schema?.name)
      .filter(Boolean);
    expect(queryNames).toEqual(['dryRun', 'fieldManager', 'fieldValidation', 'force']);
    expect(patch.parameters[0].parameter.body_parameter.schema._ref).toBe(
      '#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Patch',
    );
    expect(patch.consumes).toEqual([
      'application/json-patch+json',
      'application/merge-patch+json',
      'application/apply-patch+yaml',
    ]);

    const defs = Object.fromEntries(decoded.definitions.additional_properties.map((d: M) => [d.name, d.value]));
    const gizmo = defs['io.upm.example.v1beta1.Gizmo'];
    const gizmoGVK = gizmo.vendor_extension.find((e: M) => e.name === 'x-kubernetes-group-version-kind');
    expect(YAML.parse(gizmoGVK.value.yaml)).toEqual([{ group: 'example.upm.io', kind: 'Gizmo', version: 'v1beta1' }]);
    const prop = (sch: M, name: string): M =>
      sch.properties.additional_properties.find((p: M) => p.name === name).value;
    const storage = prop(prop(gizmo, 'spec'), 'storage');
    expect(storage.description).toBe('Persistent storage of the gizmo.');
    expect(prop(prop(storage, 'volumes').items.schema[0], 'name').description).toBe('Volume name.');
    expect(prop(gizmo, 'metadata')._ref).toBe('#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta');
    const mode = prop(prop(gizmo, 'spec'), 'mode');
    expect(mode.enum.map((a: M) => YAML.parse(a.yaml, { version: '1.1' }))).toEqual(['on', 'off', 'yes']);
  });

  it('walks as a plain protobuf stream with Document fields 1, 2, 8, 9, 12, 13', () => {
    const { proto } = buildOpenAPIV2(testDefinitions);
    const reader = protobuf.Reader.create(proto);
    const fields = new Set<number>();
    while (reader.pos < reader.len) {
      const tag = reader.uint32();
      fields.add(tag >>> 3);
      reader.skipType(tag & 7);
    }
    expect([...fields].sort((x, y) => x - y)).toEqual([1, 2, 8, 9, 12, 13]);
  });
});
