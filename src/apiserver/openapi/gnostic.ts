// The Swagger 2.0 document as a protobuf message in the format of google/gnostic's
// `openapiv2/OpenAPIv2.proto` (package `openapi.v2`), which kube-openapi serves for
// `Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf` and kubectl 1.27/1.28
// require. kube-openapi produces it by parsing the JSON document with gnostic
// (`openapi_v2.ParseDocument`); this module does the same conversion:
// - JSON maps become repeated (name, value) pairs in the order of the JSON document;
// - every `x-…` key becomes a `NamedAny` whose `Any.yaml` holds the YAML text of the value
//   (gnostic `NewAny`: `compiler.Marshal` of the YAML node); `default`, `example` and `enum`
//   values are `Any`s the same way;
// - a schema's `type` is a `TypeItem` (list of strings), `items` an `ItemsItem` (list of
//   schemas), `additionalProperties` a schema-or-boolean `AdditionalPropertiesItem`;
// - a parameter is a `$ref` (`JsonReference`), a body parameter, or a non-body parameter whose
//   sub-schema depends on `in`.
// Zero values are left out, as proto3 encoders do.

import protobuf from 'protobufjs';
import YAML from 'yaml';

/** The media types of the gnostic v2 protobuf: the one kubectl sends in Accept, and the variant
 * without '@' (also accepted) that responses carry, since Go's mime parser rejects '@'. */
export const OPENAPI_V2_PROTO_MEDIA_TYPE = 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf';
export const OPENAPI_V2_PROTO_MEDIA_TYPE_ALT = 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf';

const ANY_PROTO = `
syntax = "proto3";
package google.protobuf;
message Any {
  string type_url = 1;
  bytes value = 2;
}
`;

// Field names and numbers follow gnostic's openapiv2/OpenAPIv2.proto exactly; the messages are
// listed alphabetically as there.
const OPENAPI_V2_PROTO = `
syntax = "proto3";
package openapi.v2;

message AdditionalPropertiesItem { oneof oneof { Schema schema = 1; bool boolean = 2; } }
message Any { google.protobuf.Any value = 1; string yaml = 2; }
message ApiKeySecurity { string type = 1; string name = 2; string in = 3; string description = 4; repeated NamedAny vendor_extension = 5; }
message BasicAuthenticationSecurity { string type = 1; string description = 2; repeated NamedAny vendor_extension = 3; }
message BodyParameter {
  string description = 1; string name = 2; string in = 3; bool required = 4; Schema schema = 5;
  repeated NamedAny vendor_extension = 6;
}
message Contact { string name = 1; string url = 2; string email = 3; repeated NamedAny vendor_extension = 4; }
message Default { repeated NamedAny additional_properties = 1; }
message Definitions { repeated NamedSchema additional_properties = 1; }
message Document {
  string swagger = 1; Info info = 2; string host = 3; string base_path = 4; repeated string schemes = 5;
  repeated string consumes = 6; repeated string produces = 7; Paths paths = 8; Definitions definitions = 9;
  ParameterDefinitions parameters = 10; ResponseDefinitions responses = 11; repeated SecurityRequirement security = 12;
  SecurityDefinitions security_definitions = 13; repeated Tag tags = 14; ExternalDocs external_docs = 15;
  repeated NamedAny vendor_extension = 16;
}
message Examples { repeated NamedAny additional_properties = 1; }
message ExternalDocs { string description = 1; string url = 2; repeated NamedAny vendor_extension = 3; }
message FileSchema {
  string format = 1; string title = 2; string description = 3; Any default = 4; repeated string required = 5;
  string type = 6; bool read_only = 7; ExternalDocs external_docs = 8; Any example = 9; repeated NamedAny vendor_extension = 10;
}
message FormDataParameterSubSchema {
  bool required = 1; string in = 2; string description = 3; string name = 4; bool allow_empty_value = 5;
  string type = 6; string format = 7; PrimitivesItems items = 8; string collection_format = 9; Any default = 10;
  double maximum = 11; bool exclusive_maximum = 12; double minimum = 13; bool exclusive_minimum = 14;
  int64 max_length = 15; int64 min_length = 16; string pattern = 17; int64 max_items = 18; int64 min_items = 19;
  bool unique_items = 20; repeated Any enum = 21; double multiple_of = 22; repeated NamedAny vendor_extension = 23;
}
message Header {
  string type = 1; string format = 2; PrimitivesItems items = 3; string collection_format = 4; Any default = 5;
  double maximum = 6; bool exclusive_maximum = 7; double minimum = 8; bool exclusive_minimum = 9;
  int64 max_length = 10; int64 min_length = 11; string pattern = 12; int64 max_items = 13; int64 min_items = 14;
  bool unique_items = 15; repeated Any enum = 16; double multiple_of = 17; string description = 18;
  repeated NamedAny vendor_extension = 19;
}
message HeaderParameterSubSchema {
  bool required = 1; string in = 2; string description = 3; string name = 4; string type = 5; string format = 6;
  PrimitivesItems items = 7; string collection_format = 8; Any default = 9; double maximum = 10;
  bool exclusive_maximum = 11; double minimum = 12; bool exclusive_minimum = 13; int64 max_length = 14;
  int64 min_length = 15; string pattern = 16; int64 max_items = 17; int64 min_items = 18; bool unique_items = 19;
  repeated Any enum = 20; double multiple_of = 21; repeated NamedAny vendor_extension = 22;
}
message Headers { repeated NamedHeader additional_properties = 1; }
message Info {
  string title = 1; string version = 2; string description = 3; string terms_of_service = 4;
  Contact contact = 5; License license = 6; repeated NamedAny vendor_extension = 7;
}
message ItemsItem { repeated Schema schema = 1; }
message JsonReference { string _ref = 1; string description = 2; }
message License { string name = 1; string url = 2; repeated NamedAny vendor_extension = 3; }
message NamedAny { string name = 1; Any value = 2; }
message NamedHeader { string name = 1; Header value = 2; }
message NamedParameter { string name = 1; Parameter value = 2; }
message NamedPathItem { string name = 1; PathItem value = 2; }
message NamedResponse { string name = 1; Response value = 2; }
message NamedResponseValue { string name = 1; ResponseValue value = 2; }
message NamedSchema { string name = 1; Schema value = 2; }
message NamedSecurityDefinitionsItem { string name = 1; SecurityDefinitionsItem value = 2; }
message NamedString { string name = 1; string value = 2; }
message NamedStringArray { string name = 1; StringArray value = 2; }
message NonBodyParameter {
  oneof oneof {
    HeaderParameterSubSchema header_parameter_sub_schema = 1;
    FormDataParameterSubSchema form_data_parameter_sub_schema = 2;
    QueryParameterSubSchema query_parameter_sub_schema = 3;
    PathParameterSubSchema path_parameter_sub_schema = 4;
  }
}
message Oauth2AccessCodeSecurity {
  string type = 1; string flow = 2; Oauth2Scopes scopes = 3; string authorization_url = 4; string token_url = 5;
  string description = 6; repeated NamedAny vendor_extension = 7;
}
message Oauth2ApplicationSecurity {
  string type = 1; string flow = 2; Oauth2Scopes scopes = 3; string token_url = 4; string description = 5;
  repeated NamedAny vendor_extension = 6;
}
message Oauth2ImplicitSecurity {
  string type = 1; string flow = 2; Oauth2Scopes scopes = 3; string authorization_url = 4; string description = 5;
  repeated NamedAny vendor_extension = 6;
}
message Oauth2PasswordSecurity {
  string type = 1; string flow = 2; Oauth2Scopes scopes = 3; string token_url = 4; string description = 5;
  repeated NamedAny vendor_extension = 6;
}
message Oauth2Scopes { repeated NamedString additional_properties = 1; }
message Operation {
  repeated string tags = 1; string summary = 2; string description = 3; ExternalDocs external_docs = 4;
  string operation_id = 5; repeated string produces = 6; repeated string consumes = 7;
  repeated ParametersItem parameters = 8; Responses responses = 9; repeated string schemes = 10;
  bool deprecated = 11; repeated SecurityRequirement security = 12; repeated NamedAny vendor_extension = 13;
}
message Parameter { oneof oneof { BodyParameter body_parameter = 1; NonBodyParameter non_body_parameter = 2; } }
message ParameterDefinitions { repeated NamedParameter additional_properties = 1; }
message ParametersItem { oneof oneof { Parameter parameter = 1; JsonReference json_reference = 2; } }
message PathItem {
  string _ref = 1; Operation get = 2; Operation put = 3; Operation post = 4; Operation delete = 5;
  Operation options = 6; Operation head = 7; Operation patch = 8; repeated ParametersItem parameters = 9;
  repeated NamedAny vendor_extension = 10;
}
message PathParameterSubSchema {
  bool required = 1; string in = 2; string description = 3; string name = 4; string type = 5; string format = 6;
  PrimitivesItems items = 7; string collection_format = 8; Any default = 9; double maximum = 10;
  bool exclusive_maximum = 11; double minimum = 12; bool exclusive_minimum = 13; int64 max_length = 14;
  int64 min_length = 15; string pattern = 16; int64 max_items = 17; int64 min_items = 18; bool unique_items = 19;
  repeated Any enum = 20; double multiple_of = 21; repeated NamedAny vendor_extension = 22;
}
message Paths { repeated NamedAny vendor_extension = 1; repeated NamedPathItem path = 2; }
message PrimitivesItems {
  string type = 1; string format = 2; PrimitivesItems items = 3; string collection_format = 4; Any default = 5;
  double maximum = 6; bool exclusive_maximum = 7; double minimum = 8; bool exclusive_minimum = 9;
  int64 max_length = 10; int64 min_length = 11; string pattern = 12; int64 max_items = 13; int64 min_items = 14;
  bool unique_items = 15; repeated Any enum = 16; double multiple_of = 17; repeated NamedAny vendor_extension = 18;
}
message Properties { repeated NamedSchema additional_properties = 1; }
message QueryParameterSubSchema {
  bool required = 1; string in = 2; string description = 3; string name = 4; bool allow_empty_value = 5;
  string type = 6; string format = 7; PrimitivesItems items = 8; string collection_format = 9; Any default = 10;
  double maximum = 11; bool exclusive_maximum = 12; double minimum = 13; bool exclusive_minimum = 14;
  int64 max_length = 15; int64 min_length = 16; string pattern = 17; int64 max_items = 18; int64 min_items = 19;
  bool unique_items = 20; repeated Any enum = 21; double multiple_of = 22; repeated NamedAny vendor_extension = 23;
}
message Response {
  string description = 1; SchemaItem schema = 2; Headers headers = 3; Examples examples = 4;
  repeated NamedAny vendor_extension = 5;
}
message ResponseDefinitions { repeated NamedResponse additional_properties = 1; }
message ResponseValue { oneof oneof { Response response = 1; JsonReference json_reference = 2; } }
message Responses { repeated NamedResponseValue response_code = 1; repeated NamedAny vendor_extension = 2; }
message Schema {
  string _ref = 1; string format = 2; string title = 3; string description = 4; Any default = 5;
  double multiple_of = 6; double maximum = 7; bool exclusive_maximum = 8; double minimum = 9;
  bool exclusive_minimum = 10; int64 max_length = 11; int64 min_length = 12; string pattern = 13;
  int64 max_items = 14; int64 min_items = 15; bool unique_items = 16; int64 max_properties = 17;
  int64 min_properties = 18; repeated string required = 19; repeated Any enum = 20;
  AdditionalPropertiesItem additional_properties = 21; TypeItem type = 22; ItemsItem items = 23;
  repeated Schema all_of = 24; Properties properties = 25; string discriminator = 26; bool read_only = 27;
  Xml xml = 28; ExternalDocs external_docs = 29; Any example = 30; repeated NamedAny vendor_extension = 31;
}
message SchemaItem { oneof oneof { Schema schema = 1; FileSchema file_schema = 2; } }
message SecurityDefinitions { repeated NamedSecurityDefinitionsItem additional_properties = 1; }
message SecurityDefinitionsItem {
  oneof oneof {
    BasicAuthenticationSecurity basic_authentication_security = 1;
    ApiKeySecurity api_key_security = 2;
    Oauth2ImplicitSecurity oauth2_implicit_security = 3;
    Oauth2PasswordSecurity oauth2_password_security = 4;
    Oauth2ApplicationSecurity oauth2_application_security = 5;
    Oauth2AccessCodeSecurity oauth2_access_code_security = 6;
  }
}
message SecurityRequirement { repeated NamedStringArray additional_properties = 1; }
message StringArray { repeated string value = 1; }
message Tag { string name = 1; string description = 2; ExternalDocs external_docs = 3; repeated NamedAny vendor_extension = 4; }
message TypeItem { repeated string value = 1; }
message VendorExtension { repeated NamedAny additional_properties = 1; }
message Xml {
  string name = 1; string namespace = 2; string prefix = 3; bool attribute = 4; bool wrapped = 5;
  repeated NamedAny vendor_extension = 6;
}
`;

let cachedRoot: protobuf.Root | undefined;

/** The protobufjs root holding `openapi.v2.*` (field names as in the .proto, snake_case). */
export function openAPIV2ProtoRoot(): protobuf.Root {
  if (!cachedRoot) {
    const root = new protobuf.Root();
    protobuf.parse(ANY_PROTO, root, { keepCase: true });
    protobuf.parse(OPENAPI_V2_PROTO, root, { keepCase: true });
    root.resolveAll();
    cachedRoot = root;
  }
  return cachedRoot;
}

export function openAPIV2DocumentType(): protobuf.Type {
  return openAPIV2ProtoRoot().lookupType('openapi.v2.Document');
}

// ---------------------------------------------------------------------------------------------
// JSON → message objects

type J = Record<string, unknown>;
type Msg = Record<string, unknown>;

const isObj = (v: unknown): v is J => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Drop absent and zero values (proto3 does not encode them). */
function clean(m: Msg): Msg {
  const out: Msg = {};
  for (const [k, v] of Object.entries(m)) {
    if (v === undefined || v === null || v === '' || v === false || v === 0) continue;
    if (Array.isArray(v) && v.length === 0) continue;
    out[k] = v;
  }
  return out;
}

/** YAML text of a value, as gnostic stores `Any.yaml`. YAML 1.1 quoting, because Go clients read
 * it with yaml.v2 (so "on", "yes", "no" stay strings); no line folding. */
export function anyYAML(value: unknown): string {
  return YAML.stringify(value, { version: '1.1', lineWidth: 0, minContentWidth: 0 });
}

// The same few values (actions, GVKs, list types) recur thousands of times in a document.
const yamlCache = new Map<string, string>();

function cachedAnyYAML(value: unknown): string {
  const key = JSON.stringify(value);
  let text = yamlCache.get(key);
  if (text === undefined) {
    text = anyYAML(value);
    if (yamlCache.size > 10000) yamlCache.clear();
    yamlCache.set(key, text);
  }
  return text;
}

const anyOf = (v: unknown): Msg => ({ yaml: cachedAnyYAML(v) });
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);
const bool = (v: unknown): boolean | undefined => (typeof v === 'boolean' ? v : undefined);
const strs = (v: unknown): string[] | undefined =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : undefined;

function vendorExtensions(o: J): Msg[] {
  return Object.entries(o)
    .filter(([k]) => k.startsWith('x-'))
    .map(([name, v]) => ({ name, value: anyOf(v) }));
}

function named<T>(o: unknown, f: (v: J) => T, filter: (k: string) => boolean = () => true): Msg[] {
  if (!isObj(o)) return [];
  return Object.entries(o)
    .filter(([k, v]) => filter(k) && isObj(v))
    .map(([name, v]) => ({ name, value: f(v as J) }));
}

function externalDocs(d: unknown): Msg | undefined {
  return isObj(d)
    ? clean({ description: str(d.description), url: str(d.url), vendor_extension: vendorExtensions(d) })
    : undefined;
}

function info(i: J): Msg {
  const contact = isObj(i.contact)
    ? clean({
        name: str(i.contact.name),
        url: str(i.contact.url),
        email: str(i.contact.email),
        vendor_extension: vendorExtensions(i.contact),
      })
    : undefined;
  const license = isObj(i.license)
    ? clean({ name: str(i.license.name), url: str(i.license.url), vendor_extension: vendorExtensions(i.license) })
    : undefined;
  return clean({
    title: str(i.title),
    version: str(i.version),
    description: str(i.description),
    terms_of_service: str(i.termsOfService),
    contact,
    license,
    vendor_extension: vendorExtensions(i),
  });
}

/** The validation keywords shared by schemas, non-body parameters, headers and primitive items. */
function validations(s: J): Msg {
  return {
    maximum: num(s.maximum),
    exclusive_maximum: bool(s.exclusiveMaximum),
    minimum: num(s.minimum),
    exclusive_minimum: bool(s.exclusiveMinimum),
    max_length: num(s.maxLength),
    min_length: num(s.minLength),
    pattern: str(s.pattern),
    max_items: num(s.maxItems),
    min_items: num(s.minItems),
    unique_items: bool(s.uniqueItems),
    enum: Array.isArray(s.enum) ? s.enum.map(anyOf) : undefined,
    multiple_of: num(s.multipleOf),
    default: s.default !== undefined ? anyOf(s.default) : undefined,
  };
}

export function schemaMessage(s: J): Msg {
  let items: Msg | undefined;
  if (Array.isArray(s.items)) items = { schema: s.items.filter(isObj).map(schemaMessage) };
  else if (isObj(s.items)) items = { schema: [schemaMessage(s.items)] };
  let additional: Msg | undefined;
  if (typeof s.additionalProperties === 'boolean') additional = { boolean: s.additionalProperties };
  else if (isObj(s.additionalProperties)) additional = { schema: schemaMessage(s.additionalProperties) };
  let type: Msg | undefined;
  if (typeof s.type === 'string') type = { value: [s.type] };
  else if (Array.isArray(s.type)) type = { value: strs(s.type) };
  return clean({
    _ref: str(s.$ref),
    format: str(s.format),
    title: str(s.title),
    description: str(s.description),
    ...validations(s),
    max_properties: num(s.maxProperties),
    min_properties: num(s.minProperties),
    required: strs(s.required),
    additional_properties: additional,
    type,
    items,
    all_of: Array.isArray(s.allOf) ? s.allOf.filter(isObj).map(schemaMessage) : undefined,
    properties: isObj(s.properties) ? { additional_properties: named(s.properties, schemaMessage) } : undefined,
    discriminator: str(s.discriminator),
    read_only: bool(s.readOnly),
    xml: isObj(s.xml)
      ? clean({
          name: str(s.xml.name),
          namespace: str(s.xml.namespace),
          prefix: str(s.xml.prefix),
          attribute: bool(s.xml.attribute),
          wrapped: bool(s.xml.wrapped),
          vendor_extension: vendorExtensions(s.xml),
        })
      : undefined,
    external_docs: externalDocs(s.externalDocs),
    example: s.example !== undefined ? anyOf(s.example) : undefined,
    vendor_extension: vendorExtensions(s),
  });
}

function primitivesItems(i: J): Msg {
  return clean({
    type: str(i.type),
    format: str(i.format),
    items: isObj(i.items) ? primitivesItems(i.items) : undefined,
    collection_format: str(i.collectionFormat),
    ...validations(i),
    vendor_extension: vendorExtensions(i),
  });
}

const NON_BODY_FIELD: Record<string, string> = {
  header: 'header_parameter_sub_schema',
  formData: 'form_data_parameter_sub_schema',
  query: 'query_parameter_sub_schema',
  path: 'path_parameter_sub_schema',
};

function parameter(p: J): Msg {
  if (p.in === 'body') {
    return {
      body_parameter: clean({
        description: str(p.description),
        name: str(p.name),
        in: 'body',
        required: bool(p.required),
        schema: isObj(p.schema) ? schemaMessage(p.schema) : undefined,
        vendor_extension: vendorExtensions(p),
      }),
    };
  }
  const field = NON_BODY_FIELD[String(p.in)];
  if (!field) throw new Error(`OpenAPI v2 parameter ${String(p.name)}: unsupported "in": ${String(p.in)}`);
  const sub = clean({
    required: bool(p.required),
    in: str(p.in),
    description: str(p.description),
    name: str(p.name),
    allow_empty_value:
      field === 'query_parameter_sub_schema' || field === 'form_data_parameter_sub_schema'
        ? bool(p.allowEmptyValue)
        : undefined,
    type: str(p.type),
    format: str(p.format),
    items: isObj(p.items) ? primitivesItems(p.items) : undefined,
    collection_format: str(p.collectionFormat),
    ...validations(p),
    vendor_extension: vendorExtensions(p),
  });
  return { non_body_parameter: { [field]: sub } };
}

function parametersItem(p: J): Msg {
  if (typeof p.$ref === 'string') return { json_reference: clean({ _ref: p.$ref, description: str(p.description) }) };
  return { parameter: parameter(p) };
}

function response(r: J): Msg {
  let schema: Msg | undefined;
  if (isObj(r.schema)) {
    schema =
      r.schema.type === 'file'
        ? {
            file_schema: clean({
              format: str(r.schema.format),
              title: str(r.schema.title),
              description: str(r.schema.description),
              default: r.schema.default !== undefined ? anyOf(r.schema.default) : undefined,
              required: strs(r.schema.required),
              type: 'file',
              read_only: bool(r.schema.readOnly),
              external_docs: externalDocs(r.schema.externalDocs),
              example: r.schema.example !== undefined ? anyOf(r.schema.example) : undefined,
              vendor_extension: vendorExtensions(r.schema),
            }),
          }
        : { schema: schemaMessage(r.schema) };
  }
  const headers = isObj(r.headers)
    ? {
        additional_properties: named(r.headers, (h) =>
          clean({
            type: str(h.type),
            format: str(h.format),
            items: isObj(h.items) ? primitivesItems(h.items) : undefined,
            collection_format: str(h.collectionFormat),
            ...validations(h),
            description: str(h.description),
            vendor_extension: vendorExtensions(h),
          }),
        ),
      }
    : undefined;
  const examples = isObj(r.examples)
    ? { additional_properties: Object.entries(r.examples).map(([name, v]) => ({ name, value: anyOf(v) })) }
    : undefined;
  return clean({ description: str(r.description), schema, headers, examples, vendor_extension: vendorExtensions(r) });
}

function responseValue(r: J): Msg {
  if (typeof r.$ref === 'string') return { json_reference: clean({ _ref: r.$ref, description: str(r.description) }) };
  return { response: response(r) };
}

function securityRequirements(v: unknown): Msg[] | undefined {
  if (!Array.isArray(v)) return undefined;
  return v.filter(isObj).map((req) => ({
    additional_properties: Object.entries(req).map(([name, scopes]) => ({
      name,
      value: clean({ value: strs(scopes) }),
    })),
  }));
}

function operation(o: J): Msg {
  return clean({
    tags: strs(o.tags),
    summary: str(o.summary),
    description: str(o.description),
    external_docs: externalDocs(o.externalDocs),
    operation_id: str(o.operationId),
    produces: strs(o.produces),
    consumes: strs(o.consumes),
    parameters: Array.isArray(o.parameters) ? o.parameters.filter(isObj).map(parametersItem) : undefined,
    responses: isObj(o.responses)
      ? clean({
          response_code: named(o.responses, responseValue, (k) => !k.startsWith('x-')),
          vendor_extension: vendorExtensions(o.responses),
        })
      : undefined,
    schemes: strs(o.schemes),
    deprecated: bool(o.deprecated),
    security: securityRequirements(o.security),
    vendor_extension: vendorExtensions(o),
  });
}

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch'] as const;

function pathItem(p: J): Msg {
  const m: Msg = { _ref: str(p.$ref) };
  for (const method of METHODS) if (isObj(p[method])) m[method] = operation(p[method]);
  m.parameters = Array.isArray(p.parameters) ? p.parameters.filter(isObj).map(parametersItem) : undefined;
  m.vendor_extension = vendorExtensions(p);
  return clean(m);
}

function securityDefinition(s: J): Msg {
  const common = { type: str(s.type), description: str(s.description), vendor_extension: vendorExtensions(s) };
  switch (s.type) {
    case 'basic':
      return { basic_authentication_security: clean(common) };
    case 'apiKey':
      return { api_key_security: clean({ ...common, name: str(s.name), in: str(s.in) }) };
    case 'oauth2': {
      const scopes = isObj(s.scopes)
        ? { additional_properties: Object.entries(s.scopes).map(([name, value]) => ({ name, value: String(value) })) }
        : undefined;
      const o = {
        ...common,
        flow: str(s.flow),
        scopes,
        authorization_url: str(s.authorizationUrl),
        token_url: str(s.tokenUrl),
      };
      const field = {
        implicit: 'oauth2_implicit_security',
        password: 'oauth2_password_security',
        application: 'oauth2_application_security',
        accessCode: 'oauth2_access_code_security',
      }[String(s.flow)];
      if (!field) throw new Error(`OpenAPI v2: unsupported oauth2 flow ${String(s.flow)}`);
      return { [field]: clean(o) };
    }
    default:
      throw new Error(`OpenAPI v2: unsupported security definition type ${String(s.type)}`);
  }
}

/** Convert a Swagger 2.0 JSON document to the gnostic `openapi.v2.Document` message object. */
export function documentMessage(d: J): Msg {
  return clean({
    swagger: str(d.swagger),
    info: isObj(d.info) ? info(d.info) : undefined,
    host: str(d.host),
    base_path: str(d.basePath),
    schemes: strs(d.schemes),
    consumes: strs(d.consumes),
    produces: strs(d.produces),
    paths: isObj(d.paths)
      ? clean({ vendor_extension: vendorExtensions(d.paths), path: named(d.paths, pathItem, (k) => k.startsWith('/')) })
      : undefined,
    definitions: isObj(d.definitions) ? { additional_properties: named(d.definitions, schemaMessage) } : undefined,
    parameters: isObj(d.parameters) ? { additional_properties: named(d.parameters, parameter) } : undefined,
    responses: isObj(d.responses) ? { additional_properties: named(d.responses, response) } : undefined,
    security: securityRequirements(d.security),
    security_definitions: isObj(d.securityDefinitions)
      ? { additional_properties: named(d.securityDefinitions, securityDefinition) }
      : undefined,
    tags: Array.isArray(d.tags)
      ? d.tags.filter(isObj).map((t) =>
          clean({
            name: str(t.name),
            description: str(t.description),
            external_docs: externalDocs(t.externalDocs),
            vendor_extension: vendorExtensions(t),
          }),
        )
      : undefined,
    external_docs: externalDocs(d.externalDocs),
    vendor_extension: vendorExtensions(d),
  });
}

/** Encode a Swagger 2.0 JSON document as a gnostic `openapi.v2.Document` protobuf. */
export function encodeOpenAPIV2Document(doc: J): Buffer {
  const Document = openAPIV2DocumentType();
  // The message objects already have the exact field names and value types, so they are encoded
  // directly (protobufjs encoders accept plain objects; fromObject would only copy them).
  return Buffer.from(Document.encode(documentMessage(doc)).finish());
}

/** Decode a gnostic `openapi.v2.Document` protobuf into a plain object (snake_case field names,
 * int64 as numbers, oneof members only when set). For tests and diagnostics. */
export function decodeOpenAPIV2Document(buf: Uint8Array): Record<string, any> {
  const Document = openAPIV2DocumentType();
  return Document.toObject(Document.decode(buf), { longs: Number, arrays: false, defaults: false }) as Record<
    string,
    any
  >;
}
