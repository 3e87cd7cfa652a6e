import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeOpenAPIV2Document } from './gnostic.js';
import { parseAccept } from '../endpoints/negotiation.js';
import { OpenAPIService } from './handlers.js';
import { gizmoDefinition, testDefinitions, thingDefinition } from './testing/definitions.js';

const PROTO = 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf';
const PROTO_ALT = 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf';
const GV = 'apis/example.upm.io/v1beta1';

let server: Server;
let base: string;
let service: OpenAPIService;

beforeAll(async () => {
  service = new OpenAPIService(testDefinitions);
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (service.handle(req, res, url.pathname, url.searchParams) === undefined) {
      res.statusCode = 418;
      res.end('fallthrough');
    }
  }).listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const get = (path: string, headers: Record<string, string> = {}): Promise<Response> =>
  fetch(base + path, { headers, redirect: 'manual' });
const json = async (r: Response): Promise<any> => r.json();
const sha = (b: Buffer): string => createHash('sha512').update(b).digest('hex').toUpperCase();

describe('GET /openapi/v2', () => {
  it('serves JSON without Accept, for */* and for application/json', async () => {
    for (const accept of [undefined, '*/*', 'application/json', 'application/*']) {
      const res = await get('/openapi/v2', accept ? { Accept: accept } : {});
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/json');
      expect(res.headers.get('vary')).toBe('Accept');
      const body = Buffer.from(await res.arrayBuffer());
      expect(body.equals(service.v2.json)).toBe(true);
      expect(res.headers.get('etag')).toBe(`"${sha(body)}"`);
      expect(JSON.parse(body.toString()).swagger).toBe('2.0');
    }
  });

  it('serves the gnostic protobuf for the protobuf media types (kubectl 1.27/1.28)', async () => {
    for (const accept of [PROTO, PROTO_ALT, `${PROTO}, application/json;q=0.9`, `application/json;q=0.5, ${PROTO}`]) {
      const res = await get('/openapi/v2', { Accept: accept });
      expect(res.status).toBe(200);
      // The '@'-less type: Go's mime.ParseMediaType (client-go) rejects '@'.
      expect(res.headers.get('content-type')).toBe(PROTO_ALT);
      const body = Buffer.from(await res.arrayBuffer());
      expect(body.equals(service.v2.proto)).toBe(true);
      expect(res.headers.get('etag')).toBe(`"${sha(body)}"`);
      expect(decodeOpenAPIV2Document(body).swagger).toBe('2.0');
    }
  });

  it('answers 406 with a Status for media types it cannot produce', async () => {
    const res = await get('/openapi/v2', { Accept: 'application/yaml, text/html' });
    expect(res.status).toBe(406);
    expect(await json(res)).toMatchObject({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      reason: 'NotAcceptable',
      code: 406,
    });
    expect((await get('/openapi/v2', { Accept: 'application/json;q=0' })).status).toBe(406);
  });

  it('answers 304 to If-None-Match with the current ETag of the chosen representation', async () => {
    const first = await get('/openapi/v2');
    const etag = first.headers.get('etag')!;
    const res = await get('/openapi/v2', { 'If-None-Match': etag });
    expect(res.status).toBe(304);
    expect(res.headers.get('etag')).toBe(etag);
    expect((await res.arrayBuffer()).byteLength).toBe(0);
    expect((await get('/openapi/v2', { 'If-None-Match': `"other", W/${etag}` })).status).toBe(304);
    expect((await get('/openapi/v2', { 'If-None-Match': '"other"' })).status).toBe(200);
    // The JSON ETag does not match the protobuf representation.
    expect((await get('/openapi/v2', { 'If-None-Match': etag, Accept: PROTO })).status).toBe(200);
  });

  it('serves the protobuf at the legacy /swagger-2.0.0.pb-v1', async () => {
    const res = await get('/swagger-2.0.0.pb-v1');
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(service.v2.proto)).toBe(true);
  });

  it('refuses other methods and leaves other paths alone', async () => {
    const res = await fetch(base + '/openapi/v2', { method: 'POST' });
    expect(res.status).toBe(405);
    expect((await json(res)).reason).toBe('MethodNotAllowed');
    expect((await get('/openapi/v1')).status).toBe(418);
    expect((await get('/apis')).status).toBe(418);
    const head = await fetch(base + '/openapi/v2', { method: 'HEAD' });
    expect(head.status).toBe(200);
  });
});

describe('GET /openapi/v3', () => {
  it('serves the root listing each group-version with its hash', async () => {
    const res = await get('/openapi/v3');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    const root = await json(res);
    expect(root).toEqual(service.v3.root);
    expect(root.paths[GV].serverRelativeURL).toBe(`/openapi/v3/${GV}?hash=${service.v3.groupVersions.get(GV)!.hash}`);
  });

  it('serves a group-version at its serverRelativeURL, immutable and hashed', async () => {
    const root = await json(await get('/openapi/v3'));
    for (const key of [GV, 'api/v1']) {
      const res = await get(root.paths[key].serverRelativeURL);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/json');
      expect(res.headers.get('cache-control')).toBe('public, immutable');
      expect(res.headers.get('vary')).toBe('Accept');
      const expires = Date.parse(res.headers.get('expires')!);
      expect(expires - Date.now()).toBeGreaterThan(364 * 24 * 3600 * 1000);
      const body = Buffer.from(await res.arrayBuffer());
      const hash = sha(body);
      expect(root.paths[key].serverRelativeURL).toBe(`/openapi/v3/${key}?hash=${hash}`);
      expect(res.headers.get('etag')).toBe(`"${hash}"`);
      expect(JSON.parse(body.toString()).openapi).toBe('3.0.0');
    }
  });

  it('serves without a hash (not cacheable), and 304s on the ETag', async () => {
    const res = await get(`/openapi/v3/${GV}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBeNull();
    const etag = res.headers.get('etag')!;
    expect((await get(`/openapi/v3/${GV}`, { 'If-None-Match': etag })).status).toBe(304);
  });

  it('redirects a stale hash to the current URL with 301', async () => {
    const res = await get(`/openapi/v3/${GV}?hash=0123ABCD`);
    expect(res.status).toBe(301);
    expect(res.headers.get('location')).toBe(`/openapi/v3/${GV}?hash=${service.v3.groupVersions.get(GV)!.hash}`);
  });

  it('answers 404 with a Status for an unknown group-version, 406 for protobuf only', async () => {
    const res = await get('/openapi/v3/apis/nope.io/v1');
    expect(res.status).toBe(404);
    expect(await json(res)).toMatchObject({
      kind: 'Status',
      apiVersion: 'v1',
      status: 'Failure',
      reason: 'NotFound',
      code: 404,
    });
    const pb = await get(`/openapi/v3/${GV}`, { Accept: 'application/com.github.proto-openapi.spec.v3@v1.0+protobuf' });
    expect(pb.status).toBe(406);
    expect((await json(pb)).reason).toBe('NotAcceptable');
    const both = await get(`/openapi/v3/${GV}`, {
      Accept: 'application/com.github.proto-openapi.spec.v3@v1.0+protobuf, application/json',
    });
    expect(both.status).toBe(200);
  });

  it('rebuilds on update: new hash, old hash redirects, removed group-versions 404', async () => {
    const before = service.v3.groupVersions.get(GV)!.hash;
    const v2Before = service.v2.etag;
    const changed = structuredClone(gizmoDefinition);
    changed.description = 'Gizmo, revised.';
    service.update([changed]);
    try {
      const after = service.v3.groupVersions.get(GV)!.hash;
      expect(after).not.toBe(before);
      expect(service.v2.etag).not.toBe(v2Before);
      const res = await get(`/openapi/v3/${GV}?hash=${before}`);
      expect(res.status).toBe(301);
      expect(res.headers.get('location')).toBe(`/openapi/v3/${GV}?hash=${after}`);
      expect((await get(`/openapi/v3/${GV}?hash=${after}`)).status).toBe(200);
      expect((await get('/openapi/v3/api/v1')).status).toBe(404);
      expect(Object.keys((await json(await get('/openapi/v3'))).paths)).toEqual([GV]);
    } finally {
      service.update(testDefinitions);
    }
    expect(service.v3.groupVersions.get(GV)!.hash).toBe(before);
    expect(service.v2.etag).toBe(v2Before);
  });

  it('keeps the previous documents when an update fails', () => {
    const bad = structuredClone(thingDefinition);
    bad.schema.properties!.x = { $ref: '#/components/schemas/io.example.Missing' };
    const before = service.v2.etag;
    expect(() => service.update([bad])).toThrow(/unknown definition/);
    expect(service.v2.etag).toBe(before);
  });
});

describe('parseAccept', () => {
  it('orders clauses by quality, then specificity, then position', () => {
    expect(
      parseAccept('text/*;q=0.5, application/json, */*;q=0.1, application/x;q=0').map((c) => `${c.type}/${c.subtype}`),
    ).toEqual(['application/json', 'text/*', '*/*']);
    expect(parseAccept(undefined).map((c) => `${c.type}/${c.subtype}`)).toEqual(['*/*']);
    expect(parseAccept('*/*, application/json').map((c) => `${c.type}/${c.subtype}`)).toEqual([
      'application/json',
      '*/*',
    ]);
  });
});
