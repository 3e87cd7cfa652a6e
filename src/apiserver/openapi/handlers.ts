// HTTP handlers for the OpenAPI documents, with kube-openapi's semantics
// (k8s.io/kube-openapi pkg/handler for v2, pkg/handler3 for v3):
//   GET /openapi/v2             JSON or gnostic protobuf by Accept; ETag / If-None-Match; else 406
//   GET /swagger-2.0.0.pb-v1    the v2 protobuf (legacy path some kubectl versions still try)
//   GET /openapi/v3             the root: {"paths": {"<key>": {"serverRelativeURL": ...}}}
//   GET /openapi/v3/<key>       a group-version document (JSON only; protobuf → 406); ?hash= of an
//                               older version → 301 to the current URL; matching hash → cacheable
//                               for a year; unknown group-version → 404.

import { parseAccept } from '../endpoints/negotiation.js';
import { notModified } from '../endpoints/http.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ResourceDefinition } from '../../machinery/definition.js';
import { OPENAPI_V2_PROTO_MEDIA_TYPE, OPENAPI_V2_PROTO_MEDIA_TYPE_ALT } from './gnostic.js';
import { buildOpenAPIV2, mergedOpenAPIV2, openAPIV2Object, type OpenAPIV2Document } from './v2.js';
import { buildOpenAPIV3, serverRelativeURL, type OpenAPIInfoOptions, type OpenAPIV3Documents } from './v3.js';

const JSON_MEDIA_TYPE = 'application/json';
const ONE_YEAR_MS = 365 * 24 * 60 * 60 * 1000;

/** Holds the OpenAPI documents built from the current definitions. Documents are built once per
 * `update` and served from memory; the same definitions always give the same bytes and hashes. */
/** Documents of other servers merged into this one's, as kube-aggregator does. */
export interface AggregatedOpenAPI {
  /** v3 root entries (`apis/upm.io/v1alpha1` → serverRelativeURL), served by the other server. */
  v3Paths: Record<string, { serverRelativeURL: string }>;
  /** Swagger 2.0 documents whose paths and definitions join ours. */
  v2Documents: Record<string, unknown>[];
}

export class OpenAPIService {
  private v2Doc!: OpenAPIV2Document;
  private v3Docs!: OpenAPIV3Documents;
  private v3RootBody!: Buffer;
  private builtAt!: Date;
  private defs: ResourceDefinition[] = [];
  private aggregated: AggregatedOpenAPI = { v3Paths: {}, v2Documents: [] };

  constructor(
    defs: ResourceDefinition[] = [],
    private readonly info: { v2?: OpenAPIInfoOptions; v3?: OpenAPIInfoOptions } = {},
  ) {
    this.update(defs);
  }

  /** Rebuild the documents from a new set of definitions. Throws (keeping the previous documents)
   * if the definitions cannot be published, e.g. a schema references an unknown definition. */
  update(defs: ResourceDefinition[]): void {
    const v3 = buildOpenAPIV3(defs, this.info.v3);
    const v2 =
      this.aggregated.v2Documents.length > 0
        ? mergedOpenAPIV2(openAPIV2Object(defs, this.info.v2), this.aggregated.v2Documents)
        : buildOpenAPIV2(defs, this.info.v2);
    this.defs = defs;
    this.v3Docs = v3;
    this.v2Doc = v2;
    this.v3RootBody = Buffer.from(JSON.stringify({ paths: { ...v3.root.paths, ...this.aggregated.v3Paths } }), 'utf8');
    this.builtAt = new Date();
  }

  /** Replaces the documents merged in from other servers. */
  setAggregated(aggregated: AggregatedOpenAPI): void {
    const before = JSON.stringify(this.aggregated);
    if (before === JSON.stringify(aggregated)) return;
    this.aggregated = aggregated;
    this.update(this.defs);
  }

  get v2(): OpenAPIV2Document {
    return this.v2Doc;
  }

  get v3(): OpenAPIV3Documents {
    return this.v3Docs;
  }

  /**
   * Serve `path` if it is one of the OpenAPI paths: writes the response and returns its status
   * code, or returns undefined (writing nothing) for any other path.
   */
  handle(req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams): number | undefined {
    let route: () => number;
    if (path === '/openapi/v2') route = () => this.serveV2(req, res, false);
    else if (path === '/swagger-2.0.0.pb-v1') route = () => this.serveV2(req, res, true);
    else if (path === '/openapi/v3' || path === '/openapi/v3/') route = () => this.serveV3Root(req, res);
    else if (path.startsWith('/openapi/v3/'))
      route = () => this.serveV3GroupVersion(req, res, path.slice('/openapi/v3/'.length).replace(/\/+$/, ''), query);
    else return undefined;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return sendStatus(
        res,
        405,
        'MethodNotAllowed',
        `the server does not allow this method on the requested resource`,
      );
    }
    return route();
  }

  private serveV2(req: IncomingMessage, res: ServerResponse, legacyProto: boolean): number {
    const doc = this.v2Doc;
    res.setHeader('Vary', 'Accept');
    // Both protobuf media types are answered with the '@'-less one, as kube-openapi does: Go's
    // mime.ParseMediaType (used by client-go on the response) rejects '@' in a subtype.
    const representations = [
      { type: JSON_MEDIA_TYPE, contentType: JSON_MEDIA_TYPE, body: doc.json, etag: doc.etag },
      {
        type: OPENAPI_V2_PROTO_MEDIA_TYPE,
        contentType: OPENAPI_V2_PROTO_MEDIA_TYPE_ALT,
        body: doc.proto,
        etag: doc.protoEtag,
      },
      {
        type: OPENAPI_V2_PROTO_MEDIA_TYPE_ALT,
        contentType: OPENAPI_V2_PROTO_MEDIA_TYPE_ALT,
        body: doc.proto,
        etag: doc.protoEtag,
      },
    ];
    const chosen = legacyProto ? representations[1] : negotiate(req.headers.accept, representations);
    if (!chosen) return notAcceptable(res, [JSON_MEDIA_TYPE, OPENAPI_V2_PROTO_MEDIA_TYPE]);
    res.setHeader('Content-Type', chosen.contentType);
    res.setHeader('ETag', chosen.etag);
    res.setHeader('Last-Modified', this.builtAt.toUTCString());
    return sendBody(req, res, chosen.etag, chosen.body);
  }

  private serveV3Root(req: IncomingMessage, res: ServerResponse): number {
    res.setHeader('Vary', 'Accept');
    if (!negotiate(req.headers.accept, [{ type: JSON_MEDIA_TYPE }])) return notAcceptable(res, [JSON_MEDIA_TYPE]);
    res.setHeader('Content-Type', JSON_MEDIA_TYPE);
    res.setHeader('Last-Modified', this.builtAt.toUTCString());
    res.statusCode = 200;
    res.end(this.v3RootBody);
    return 200;
  }

  private serveV3GroupVersion(req: IncomingMessage, res: ServerResponse, key: string, query: URLSearchParams): number {
    res.setHeader('Vary', 'Accept');
    const doc = this.v3Docs.groupVersions.get(key);
    if (!doc)
      return sendStatus(res, 404, 'NotFound', `the OpenAPI v3 document for ${JSON.stringify(key)} was not found`);
    if (!negotiate(req.headers.accept, [{ type: JSON_MEDIA_TYPE }])) return notAcceptable(res, [JSON_MEDIA_TYPE]);
    const etag = `"${doc.hash}"`;
    res.setHeader('Content-Type', JSON_MEDIA_TYPE);
    res.setHeader('ETag', etag);
    const hash = query.get('hash');
    if (hash !== null && hash !== '') {
      if (hash !== doc.hash) {
        // An older (or unknown) version: point the client at the current one.
        const location = serverRelativeURL(key, doc.hash);
        res.statusCode = 301;
        res.setHeader('Location', location);
        res.setHeader('Content-Type', 'text/html; charset=utf-8');
        res.end(`<a href="${location}">Moved Permanently</a>.\n`);
        return 301;
      }
      // The hash names these exact bytes: cacheable forever.
      res.setHeader('Cache-Control', 'public, immutable');
      res.setHeader('Expires', new Date(Date.now() + ONE_YEAR_MS).toUTCString());
    }
    res.setHeader('Last-Modified', this.builtAt.toUTCString());
    return sendBody(req, res, etag, doc.body);
  }
}

// ---------------------------------------------------------------------------------------------

/** The first offer (in the order given) matching the best Accept clause that matches any. */
function negotiate<T extends { type: string }>(accept: string | undefined, offers: T[]): T | undefined {
  for (const clause of parseAccept(accept)) {
    for (const offer of offers) {
      const [type, subtype] = offer.type.toLowerCase().split('/') as [string, string];
      if ((clause.type === '*' || clause.type === type) && (clause.subtype === '*' || clause.subtype === subtype))
        return offer;
    }
  }
  return undefined;
}

function sendBody(req: IncomingMessage, res: ServerResponse, etag: string, body: Buffer): number {
  if (notModified(req, etag)) {
    res.statusCode = 304;
    res.end();
    return 304;
  }
  res.statusCode = 200;
  res.setHeader('Content-Length', body.length);
  res.end(body);
  return 200;
}

function sendStatus(res: ServerResponse, code: number, reason: string, message: string): number {
  const body = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
  res.statusCode = code;
  res.setHeader('Content-Type', JSON_MEDIA_TYPE);
  res.end(JSON.stringify(body));
  return code;
}

function notAcceptable(res: ServerResponse, supported: string[]): number {
  return sendStatus(res, 406, 'NotAcceptable', `only the following media types are accepted: ${supported.join(', ')}`);
}
