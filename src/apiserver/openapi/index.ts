export { OpenAPIService } from './handlers.js';
export { buildOpenAPIV2, openAPIV2Object, toV2Schema, type OpenAPIV2Document } from './v2.js';
export {
  buildOpenAPIV3,
  groupVersionDocumentV3,
  serverRelativeURL,
  toV3Schema,
  type OpenAPIInfoOptions,
  type OpenAPIV3Documents,
  type OpenAPIV3GroupVersionDocument,
  type OpenAPIV3Root,
} from './v3.js';
export {
  OPENAPI_V2_PROTO_MEDIA_TYPE,
  OPENAPI_V2_PROTO_MEDIA_TYPE_ALT,
  decodeOpenAPIV2Document,
  encodeOpenAPIV2Document,
  openAPIV2ProtoRoot,
} from './gnostic.js';
export {
  buildGroupVersionModels,
  definitionName,
  definitionNamePrefix,
  groupVersionKey,
  PATCH_CONTENT_TYPES,
} from './model.js';
export * as metaSchemas from './meta-schemas.js';
