// Bad input against the real `upm-engine local --standalone` binary (the upm.io API server
// itself): every malformed, oversized, mistyped or conflicting request gets the Kubernetes Status
// (code + reason) kube-apiserver would answer, and a seeded fuzzer of random request bodies never
// gets a 5xx or a dropped connection, nor loses anything already stored. Talks HTTPS directly
// (node:https, keep-alive) with the admin client certificate.
//
// Reproduce a fuzz failure with FUZZ_SEED=<seed printed by the test>; FUZZ_REQUESTS changes the
// number of fuzzed requests (default 3000).

import { readFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { Agent, request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { stringify as toYAML } from 'yaml';
import { cleanup, startEngine, type Engine } from './harness.js';

// ---- HTTP ----------------------------------------------------------------------------------

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  text: string;
}

interface Send {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Sends the body with Transfer-Encoding: chunked, in pieces of this size, and no Content-Length. */
  chunkSize?: number;
  /** Default: the admin client certificate over a keep-alive connection. */
  agent?: Agent;
}

let engine: Engine;
let admin: Agent;
let anonymous: Agent;

function send(s: Send): Promise<Reply> {
  const url = new URL(s.path, engine.url);
  return new Promise<Reply>((resolve, reject) => {
    const req = httpsRequest(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        method: s.method,
        agent: s.agent ?? admin,
        headers: { ...(s.headers ?? {}) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString('utf8') });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    const body = s.body === undefined ? undefined : typeof s.body === 'string' ? Buffer.from(s.body, 'utf8') : s.body;
    if (body === undefined) {
      req.end();
    } else if (s.chunkSize) {
      req.setHeader('Transfer-Encoding', 'chunked');
      for (let off = 0; off < body.length; off += s.chunkSize) req.write(body.subarray(off, off + s.chunkSize));
      req.end();
    } else {
      req.setHeader('Content-Length', String(body.length));
      req.end(body);
    }
  });
}

interface StatusBody {
  kind: string;
  apiVersion: string;
  status: string;
  message: string;
  reason: string;
  code: number;
  details?: {
    name?: string;
    group?: string;
    kind?: string;
    causes?: { reason?: string; message?: string; field?: string }[];
  };
}

/** Parses a Status body; throws (with the reply) when the body is not one. */
function statusOf(r: Reply): StatusBody {
  let s: StatusBody;
  try {
    s = JSON.parse(r.text) as StatusBody;
  } catch {
    throw new Error(`HTTP ${r.status}: body is not JSON: ${r.text.slice(0, 300)}`);
  }
  if (s === null || typeof s !== 'object' || s.kind !== 'Status' || s.apiVersion !== 'v1' || s.code !== r.status) {
    throw new Error(`HTTP ${r.status}: body is not a v1 Status with code ${r.status}: ${r.text.slice(0, 300)}`);
  }
  return s;
}

/** Asserts a failure Status with exactly this code and reason. */
function expectStatus(r: Reply, code: number, reason: string, message?: string | RegExp): StatusBody {
  if (r.status !== code) throw new Error(`expected ${code} ${reason}, got ${r.status}: ${r.text.slice(0, 500)}`);
  expect(r.headers['content-type']).toMatch(/^application\/json/);
  const s = statusOf(r);
  expect(s).toMatchObject({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason });
  expect(typeof s.message).toBe('string');
  if (typeof message === 'string') expect(s.message).toBe(message);
  else if (message) expect(s.message).toMatch(message);
  return s;
}

// ---- fixtures ------------------------------------------------------------------------------

const ns = 'default';
const gv = '/apis/upm.io/v1alpha1';
const collection = `${gv}/namespaces/${ns}/unitsets`;
const item = (name: string): string => `${collection}/${name}`;
const json = { 'Content-Type': 'application/json' };

function unitSet(name: string, units = 1, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: 'upm.io/v1alpha1',
    kind: 'UnitSet',
    metadata: { name, labels: { app: 'robust' } },
    spec: { type: 'redis', version: '7.0.15', units },
    ...extra,
  };
}

async function create(name: string, units = 1): Promise<Record<string, any>> {
  const r = await send({ method: 'POST', path: collection, headers: json, body: JSON.stringify(unitSet(name, units)) });
  if (r.status !== 201) throw new Error(`create ${name}: ${r.status} ${r.text}`);
  return JSON.parse(r.text) as Record<string, any>;
}

async function getObject(name: string): Promise<Record<string, any>> {
  const r = await send({ method: 'GET', path: item(name) });
  if (r.status !== 200) throw new Error(`get ${name}: ${r.status} ${r.text}`);
  return JSON.parse(r.text) as Record<string, any>;
}

beforeAll(async () => {
  // --standalone: the upm.io API server itself, not behind the local control plane's aggregator
  // (ROBUSTNESS_FRONT=1 runs everything through the control plane instead).
  engine = await startEngine({ extraArgs: process.env['ROBUSTNESS_FRONT'] === '1' ? [] : ['--standalone'] });
  const pki = join(engine.dataDir, 'pki');
  const ca = readFileSync(join(pki, 'ca.crt'));
  admin = new Agent({
    keepAlive: true,
    maxSockets: 16,
    ca,
    cert: readFileSync(join(pki, 'admin.crt')),
    key: readFileSync(join(pki, 'admin.key')),
  });
  anonymous = new Agent({ keepAlive: false, ca });
});

afterAll(async () => {
  admin?.destroy();
  anonymous?.destroy();
  await engine?.stop();
  if (engine) cleanup(engine);
});

// ---- request bodies ------------------------------------------------------------------------

describe('request body decoding', () => {
  it.each([
    ['malformed JSON', '{"apiVersion":"upm.io/v1alpha1","kind":"UnitSet",'],
    ['trailing garbage', `${JSON.stringify(unitSet('trailing'))} x`],
    ['an empty body', ''],
    ['a whitespace body', ' \n\t '],
    ['a JSON array', JSON.stringify([unitSet('in-array')])],
    ['a JSON string', '"UnitSet"'],
    ['a JSON number', '42'],
    ['JSON null', 'null'],
    ['JSON true', 'true'],
    ['bytes that are not UTF-8 JSON', Buffer.from([0xff, 0xfe, 0x00, 0x7b, 0x80, 0x81])],
  ])('create with %s → 400 BadRequest', async (_what, body) => {
    expectStatus(await send({ method: 'POST', path: collection, headers: json, body }), 400, 'BadRequest');
  });

  it('rejects a kind, apiVersion or group that does not match the URL with 400', async () => {
    const cases: Record<string, unknown>[] = [
      { ...unitSet('wrong-kind'), kind: 'UnitTemplate' },
      { ...unitSet('wrong-kind-case'), kind: 'unitset' },
      { ...unitSet('wrong-version'), apiVersion: 'upm.io/v1' },
      { ...unitSet('wrong-group'), apiVersion: 'apps/v1alpha1' },
      { ...unitSet('core'), apiVersion: 'v1' },
      { ...unitSet('typed-kind'), kind: 7 },
    ];
    for (const body of cases) {
      expectStatus(
        await send({ method: 'POST', path: collection, headers: json, body: JSON.stringify(body) }),
        400,
        'BadRequest',
      );
    }
    const { kind: _kind, ...noKind } = unitSet('no-kind');
    expectStatus(
      await send({ method: 'POST', path: collection, headers: json, body: JSON.stringify(noKind) }),
      400,
      'BadRequest',
      /Object 'Kind' is missing/,
    );
    const { apiVersion: _av, ...noVersion } = unitSet('no-api-version');
    expectStatus(
      await send({ method: 'POST', path: collection, headers: json, body: JSON.stringify(noVersion) }),
      400,
      'BadRequest',
    );
  });

  it('rejects a body namespace that differs from the URL namespace with 400', async () => {
    const body = unitSet('other-ns');
    (body['metadata'] as Record<string, unknown>)['namespace'] = 'kube-system';
    expectStatus(
      await send({ method: 'POST', path: collection, headers: json, body: JSON.stringify(body) }),
      400,
      'BadRequest',
      'the namespace of the provided object does not match the namespace sent on the request',
    );
  });

  it('rejects metadata that is not an object with 400 and a mistyped metadata.name with 422', async () => {
    expectStatus(
      await send({
        method: 'POST',
        path: collection,
        headers: json,
        body: JSON.stringify({ ...unitSet('x'), metadata: 'x' }),
      }),
      400,
      'BadRequest',
    );
    const s = expectStatus(
      await send({
        method: 'POST',
        path: collection,
        headers: json,
        body: JSON.stringify({ ...unitSet('x'), metadata: { name: 5 } }),
      }),
      422,
      'Invalid',
    );
    expect(s.details?.causes?.map((c) => c.field)).toContain('metadata.name');
  });

  it('answers 413 to a body over 3 MiB, with Content-Length and chunked, and keeps serving', async () => {
    const limit = 3 * 1024 * 1024;
    const padding = 'x'.repeat(limit + 1 - JSON.stringify({ ...unitSet('huge'), pad: '' }).length);
    const body = Buffer.from(JSON.stringify({ ...unitSet('huge'), pad: padding }));
    expect(body.length).toBe(limit + 1);
    const withLength = await send({ method: 'POST', path: collection, headers: json, body });
    expectStatus(withLength, 413, 'RequestEntityTooLarge', /^Request entity too large: /);
    const chunked = await send({ method: 'POST', path: collection, headers: json, body, chunkSize: 64 * 1024 });
    expectStatus(chunked, 413, 'RequestEntityTooLarge', /^Request entity too large: /);
    const patch = await send({
      method: 'PATCH',
      path: item('huge'),
      headers: { 'Content-Type': 'application/merge-patch+json' },
      body,
      chunkSize: 256 * 1024,
    });
    expectStatus(patch, 413, 'RequestEntityTooLarge');
    // Exactly at the limit is accepted by the transport (then fails on its own merits, or not at all).
    const atLimit = Buffer.from(
      JSON.stringify({ ...unitSet('at-limit'), pad: padding.slice('at-limit'.length - 'huge'.length + 1) }),
    );
    expect(atLimit.length).toBe(limit);
    const ok = await send({ method: 'POST', path: collection, headers: json, body: atLimit });
    expect(ok.status).toBe(201);
    expect((await send({ method: 'GET', path: '/readyz' })).status).toBe(200);
    await create('after-413');
    // Over one kept-alive connection: a chunked body well past the limit is answered with 413 and
    // drained, and the same connection serves the next requests (it is not reset under them).
    const pki = join(engine.dataDir, 'pki');
    const single = new Agent({
      keepAlive: true,
      maxSockets: 1,
      ca: readFileSync(join(pki, 'ca.crt')),
      cert: readFileSync(join(pki, 'admin.crt')),
      key: readFileSync(join(pki, 'admin.key')),
    });
    try {
      const sockets = new Set<unknown>();
      single.on('free', (socket) => sockets.add(socket));
      const wayOver = Buffer.concat([body, Buffer.alloc(70_000, 0x20)]);
      for (let round = 0; round < 2; round++) {
        expectStatus(
          await send({
            method: 'POST',
            path: collection,
            headers: json,
            body: wayOver,
            chunkSize: 3668,
            agent: single,
          }),
          413,
          'RequestEntityTooLarge',
        );
        expectStatus(
          await send({ method: 'POST', path: collection, headers: json, body: '{}', agent: single }),
          400,
          'BadRequest',
        );
        expectStatus(
          await send({ method: 'PUT', path: item('after-413'), headers: json, body: wayOver, agent: single }),
          413,
          'RequestEntityTooLarge',
        );
        expect((await send({ method: 'GET', path: item('after-413'), agent: single })).status).toBe(200);
      }
      expect(sockets.size).toBe(1);
    } finally {
      single.destroy();
    }
    expect((await send({ method: 'DELETE', path: item('at-limit') })).status).toBe(200);
  });

  it('answers 400 (not 500) to bodies nested deeper than the server decodes', async () => {
    for (const depth of [2_000, 10_001, 100_000]) {
      const deepSpec = `{"apiVersion":"upm.io/v1alpha1","kind":"UnitSet","metadata":{"name":"deep"},"spec":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}`;
      expectStatus(await send({ method: 'POST', path: collection, headers: json, body: deepSpec }), 400, 'BadRequest');
      const deepMeta = `{"apiVersion":"upm.io/v1alpha1","kind":"UnitSet","metadata":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}`;
      expectStatus(await send({ method: 'POST', path: collection, headers: json, body: deepMeta }), 400, 'BadRequest');
      const deepArray = `${'['.repeat(depth)}${']'.repeat(depth)}`;
      expectStatus(await send({ method: 'POST', path: collection, headers: json, body: deepArray }), 400, 'BadRequest');
      const deepPatch = `{"metadata":{"annotations":${'{"a":'.repeat(depth)}null${'}'.repeat(depth)}}}`;
      expectStatus(
        await send({
          method: 'PATCH',
          path: item('after-413'),
          headers: { 'Content-Type': 'application/merge-patch+json' },
          body: deepPatch,
        }),
        400,
        'BadRequest',
      );
      const deepYAML = `apiVersion: upm.io/v1alpha1\nkind: UnitSet\nmetadata: {name: deep}\nspec: ${'['.repeat(depth)}${']'.repeat(depth)}\n`;
      expectStatus(
        await send({
          method: 'POST',
          path: collection,
          headers: { 'Content-Type': 'application/yaml' },
          body: deepYAML,
        }),
        400,
        'BadRequest',
      );
    }
    // Moderate nesting (well past anything real) is decoded; unknown fields are pruned.
    const nested = `{"apiVersion":"upm.io/v1alpha1","kind":"UnitSet","metadata":{"name":"nested"},"spec":{"type":"redis","version":"7.0.15","units":1,"junk":${'{"a":'.repeat(300)}1${'}'.repeat(300)}}}`;
    const r = await send({ method: 'POST', path: collection, headers: json, body: nested });
    expect(r.status).toBe(201);
    expect(JSON.parse(r.text).spec.junk).toBeUndefined();
    expect(r.headers['warning']).toContain('unknown field \\"spec.junk\\"');
  });

  it('answers 400 to YAML whose aliases make a cycle, and decodes YAML the way JSON would be', async () => {
    const yaml = { 'Content-Type': 'application/yaml' };
    for (const body of [
      'apiVersion: upm.io/v1alpha1\nkind: UnitSet\nmetadata: {name: cyclic}\nspec: &a [*a]\n',
      'apiVersion: upm.io/v1alpha1\nkind: UnitSet\nmetadata: &m {name: cyclic, annotations: {self: *m}}\nspec: {type: redis, version: "7", units: 1}\n',
      'apiVersion: upm.io/v1alpha1\nkind: UnitSet\nmetadata: {name: two-docs}\n---\nkind: Other\n',
      'a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n',
    ]) {
      expectStatus(await send({ method: 'POST', path: collection, headers: yaml, body }), 400, 'BadRequest');
    }
    // Tags that make non-JSON values (dates, byte arrays) arrive as JSON would carry them.
    const tagged =
      'apiVersion: upm.io/v1alpha1\nkind: UnitSet\nmetadata:\n  name: tagged\n  annotations: {when: !!timestamp 2001-12-14t21:59:43.10-05:00, day: 2001-12-14}\nspec: {type: redis, version: "7", units: 1}\n';
    const r = await send({ method: 'POST', path: collection, headers: yaml, body: tagged });
    expect(r.status).toBe(201);
    expect(JSON.parse(r.text)).toMatchObject({
      metadata: { annotations: { when: '2001-12-15T02:59:43.100Z', day: '2001-12-14T00:00:00.000Z' } },
    });
  });

  it('prunes fields named after Object.prototype members like any other unknown field', async () => {
    const body = `{"apiVersion":"upm.io/v1alpha1","kind":"UnitSet","metadata":{"name":"proto-keys"},"__proto__":{"x":1},"spec":{"type":"redis","version":"7.0.15","units":1,"constructor":{"x":1},"__proto__":{"y":2},"toString":"s","hasOwnProperty":1}}`;
    const r = await send({ method: 'POST', path: collection, headers: json, body });
    expect(r.status).toBe(201);
    const stored = JSON.parse(r.text) as { spec: Record<string, unknown> };
    for (const k of ['constructor', '__proto__', 'toString', 'hasOwnProperty'])
      expect(Object.hasOwn(stored.spec, k)).toBe(false);
    expect(Object.hasOwn(stored, '__proto__')).toBe(false);
    for (const f of ['spec.constructor', 'spec.__proto__', 'spec.toString', 'spec.hasOwnProperty', '__proto__'])
      expect(r.headers['warning']).toContain(`unknown field \\"${f}\\"`);
    const strict = await send({
      method: 'POST',
      path: `${collection}?fieldValidation=Strict`,
      headers: json,
      body: body.replace('proto-keys', 'proto-keys-strict'),
    });
    expectStatus(strict, 400, 'BadRequest', /unknown field "spec.constructor"/);
  });

  it("keeps Warning headers sendable: non-ASCII field names, and kube's 4096-rune cap", async () => {
    const many: Record<string, number> = {};
    for (let i = 0; i < 40; i++) many[`${'ü'.repeat(300)}${i}`] = i;
    const body = { ...unitSet('warn-unicode'), spec: { type: 'redis', version: '7.0.15', units: 1, 中文: 1, ...many } };
    const r = await send({ method: 'POST', path: collection, headers: json, body: JSON.stringify(body) });
    expect(r.status).toBe(201);
    // Node's client reads header bytes as latin1; the server sends the UTF-8 bytes of the text.
    const header = Buffer.from(String(r.headers['warning']), 'latin1').toString('utf8');
    expect(header).toContain('unknown field \\"spec.中文\\"');
    expect([...header].length).toBeLessThan(4096 + 256 + 40 * 10);
  });
});

// ---- content negotiation -------------------------------------------------------------------

describe('content types and Accept', () => {
  beforeAll(async () => {
    await create('negotiation');
  });

  it.each([
    ['application/vnd.kubernetes.protobuf', Buffer.from([0x6b, 0x38, 0x73, 0x00, 0x0a, 0x0f])],
    ['text/plain', 'apiVersion=upm.io/v1alpha1'],
    ['application/x-www-form-urlencoded', 'a=b'],
    ['application/cbor', Buffer.from([0xa0])],
  ])('create with Content-Type %s → 415', async (type, body) => {
    const s = expectStatus(
      await send({ method: 'POST', path: collection, headers: { 'Content-Type': type }, body }),
      415,
      'UnsupportedMediaType',
    );
    expect(s.message).toMatch(/^the body of the request was in an unknown format - accepted media types include: /);
  });

  it('update with a protobuf body → 415', async () => {
    expectStatus(
      await send({
        method: 'PUT',
        path: item('negotiation'),
        headers: { 'Content-Type': 'application/vnd.kubernetes.protobuf' },
        body: 'k8s\0',
      }),
      415,
      'UnsupportedMediaType',
    );
  });

  it.each([
    ['application/strategic-merge-patch+json', '{"spec":{"units":2}}'],
    ['application/apply-patch+cbor', '\xa0'],
    ['application/json', '{"spec":{"units":2}}'],
    ['text/plain', '{"spec":{"units":2}}'],
  ])('PATCH with %s → 415', async (type, body) => {
    expectStatus(
      await send({ method: 'PATCH', path: item('negotiation'), headers: { 'Content-Type': type }, body }),
      415,
      'UnsupportedMediaType',
    );
  });

  it('JSON with a charset parameter and YAML bodies are accepted', async () => {
    const r = await send({
      method: 'POST',
      path: collection,
      headers: { 'Content-Type': 'application/json; charset=utf-8' },
      body: JSON.stringify(unitSet('charset')),
    });
    expect(r.status).toBe(201);
    const y = await send({
      method: 'POST',
      path: collection,
      headers: { 'Content-Type': 'application/yaml' },
      body: toYAML(unitSet('from-yaml')),
    });
    expect(y.status).toBe(201);
  });

  it.each([
    ['application/vnd.kubernetes.protobuf'],
    ['application/json;as=Table;g=meta.k8s.io;v=v9'],
    ['application/json;as=Table;g=example.com;v=v1'],
    ['application/json;as=Widget;g=meta.k8s.io;v=v1'],
    ['text/html'],
    ['application/yaml'],
  ])('Accept %s alone → 406 on get, list and create', async (accept) => {
    expectStatus(
      await send({ method: 'GET', path: item('negotiation'), headers: { Accept: accept } }),
      406,
      'NotAcceptable',
    );
    expectStatus(await send({ method: 'GET', path: collection, headers: { Accept: accept } }), 406, 'NotAcceptable');
    expectStatus(
      await send({
        method: 'POST',
        path: collection,
        headers: { ...json, Accept: accept },
        body: JSON.stringify(unitSet('never-created')),
      }),
      406,
      'NotAcceptable',
    );
    expect((await send({ method: 'GET', path: item('never-created') })).status).toBe(404);
  });

  it('falls back to a later Accept clause it can serve', async () => {
    const r = await send({
      method: 'GET',
      path: item('negotiation'),
      headers: {
        Accept: 'application/vnd.kubernetes.protobuf, application/json;as=Table;g=meta.k8s.io;v=v9, application/json',
      },
    });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.text)).toMatchObject({ kind: 'UnitSet', metadata: { name: 'negotiation' } });
  });
});

// ---- paths and methods ---------------------------------------------------------------------

describe('paths, verbs and methods', () => {
  beforeAll(async () => {
    await create('methods');
  });

  it('POST to an item URL → 405 MethodNotAllowed', async () => {
    const s = expectStatus(
      await send({ method: 'POST', path: item('methods'), headers: json, body: JSON.stringify(unitSet('methods')) }),
      405,
      'MethodNotAllowed',
    );
    expect(s.message).toBe('create is not supported on resources of kind "unitsets.upm.io"');
  });

  it.each(['PROPFIND', 'OPTIONS', 'MKCOL', 'LOCK', 'PURGE', 'COPY'])(
    '%s on a resource path → 405 MethodNotAllowed',
    async (method) => {
      expectStatus(await send({ method, path: item('methods') }), 405, 'MethodNotAllowed');
      expectStatus(await send({ method, path: collection }), 405, 'MethodNotAllowed');
    },
  );

  it('PUT, PATCH and DELETE on a subresource they do not support → 405 or 404', async () => {
    expectStatus(await send({ method: 'DELETE', path: `${item('methods')}/status` }), 405, 'MethodNotAllowed');
    expectStatus(
      await send({ method: 'POST', path: `${item('methods')}/status`, headers: json, body: '{}' }),
      405,
      'MethodNotAllowed',
    );
  });

  it('answers 404 NotFound for paths that name nothing', async () => {
    const unknownPath = 'the server could not find the requested resource';
    // A namespaced kind addressed without a namespace.
    expectStatus(await send({ method: 'GET', path: `${gv}/unitsets/methods` }), 404, 'NotFound');
    expectStatus(await send({ method: 'GET', path: `${gv}/widgets` }), 404, 'NotFound', unknownPath);
    expectStatus(await send({ method: 'GET', path: `${gv}/namespaces/${ns}/widgets/x` }), 404, 'NotFound', unknownPath);
    expectStatus(
      await send({ method: 'POST', path: `${gv}/namespaces/${ns}/widgets`, headers: json, body: '{}' }),
      404,
      'NotFound',
      unknownPath,
    );
    expectStatus(await send({ method: 'GET', path: `${item('methods')}/logs` }), 404, 'NotFound', unknownPath);
    expectStatus(await send({ method: 'GET', path: `${item('methods')}/status/extra` }), 404, 'NotFound', unknownPath);
    expectStatus(
      await send({ method: 'GET', path: '/apis/upm.io/v9/namespaces/default/unitsets' }),
      404,
      'NotFound',
      unknownPath,
    );
    expectStatus(
      await send({ method: 'GET', path: '/apis/example.com/v1/namespaces/default/things' }),
      404,
      'NotFound',
      unknownPath,
    );
    expectStatus(await send({ method: 'GET', path: '/nonexistent' }), 404, 'NotFound', unknownPath);
    for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      expectStatus(await send({ method: 'GET', path: `${gv}/namespaces/${ns}/${name}` }), 404, 'NotFound', unknownPath);
      expectStatus(
        await send({ method: 'GET', path: `${gv}/namespaces/${ns}/${name}/x` }),
        404,
        'NotFound',
        unknownPath,
      );
      expectStatus(
        await send({ method: 'GET', path: item(name) }),
        404,
        'NotFound',
        `unitsets.upm.io "${name}" not found`,
      );
      expectStatus(await send({ method: 'GET', path: `${item('methods')}/${name}` }), 404, 'NotFound', unknownPath);
    }
    const missing = expectStatus(
      await send({ method: 'GET', path: item('does-not-exist') }),
      404,
      'NotFound',
      'unitsets.upm.io "does-not-exist" not found',
    );
    expect(missing.details).toEqual({ name: 'does-not-exist', group: 'upm.io', kind: 'unitsets' });
    expectStatus(await send({ method: 'DELETE', path: item('does-not-exist') }), 404, 'NotFound');
    expectStatus(await send({ method: 'GET', path: `${item('does-not-exist')}/status` }), 404, 'NotFound');
  });

  it('unknown paths and names with odd characters are 404, not 500', async () => {
    for (const p of [
      `${collection}/%ZZ`,
      `${collection}/%00`,
      `${collection}/..%2F..%2Fetc`,
      `${collection}/${'a'.repeat(4000)}`,
      `${gv}/namespaces/%E2%98%83/unitsets/x`,
      `${collection}/x%2Fy`,
    ]) {
      const r = await send({ method: 'GET', path: p });
      expect([400, 404]).toContain(r.status);
      statusOf(r);
    }
  });
});

// ---- query parameters ----------------------------------------------------------------------

describe('query parameters', () => {
  beforeAll(async () => {
    for (const n of ['page-a', 'page-b', 'page-c']) await create(n);
  });

  it.each([
    'a in (b',
    'a=b=c',
    '!',
    'a!!=b',
    '=b',
    'a in b',
    'Key With Space=x',
    'a=' + 'b'.repeat(64),
    'a,,b=c',
    'a in (b,,c',
  ])('labelSelector %j → 400 BadRequest', async (selector) => {
    expectStatus(
      await send({ method: 'GET', path: `${collection}?labelSelector=${encodeURIComponent(selector)}` }),
      400,
      'BadRequest',
    );
  });

  it('an unknown fieldSelector field → 400 naming the known ones', async () => {
    const s = expectStatus(
      await send({ method: 'GET', path: `${collection}?fieldSelector=${encodeURIComponent('spec.foo=bar')}` }),
      400,
      'BadRequest',
    );
    expect(s.message).toContain('"spec.foo" is not a known field selector');
    expect(s.message).toContain('"metadata.name", "metadata.namespace"');
    expectStatus(
      await send({ method: 'GET', path: `${collection}?fieldSelector=${encodeURIComponent('nonsense')}` }),
      400,
      'BadRequest',
    );
    expectStatus(
      await send({
        method: 'GET',
        path: `${collection}?watch=true&fieldSelector=${encodeURIComponent('spec.foo=bar')}`,
      }),
      400,
      'BadRequest',
      /is not a known field selector/,
    );
    expectStatus(
      await send({ method: 'DELETE', path: `${collection}?fieldSelector=${encodeURIComponent('spec.foo=bar')}` }),
      400,
      'BadRequest',
      /is not a known field selector/,
    );
  });

  it.each(['abc', '1.5', '1e3', '1e400', ' ', '0x10', '+', '99999999999999999999999'])(
    'limit=%j → 400',
    async (limit) => {
      expectStatus(
        await send({ method: 'GET', path: `${collection}?limit=${encodeURIComponent(limit)}` }),
        400,
        'BadRequest',
      );
    },
  );

  it('a limit up to the int64 maximum is served (as kube parses it), not a 500', async () => {
    for (const limit of ['9007199254740993', '9223372036854775807']) {
      const r = await send({ method: 'GET', path: `${collection}?limit=${limit}` });
      expect(r.status).toBe(200);
      expect(JSON.parse(r.text).metadata.continue).toBeUndefined();
    }
  });

  it('a garbage continue token → 400', async () => {
    const valid = JSON.parse((await send({ method: 'GET', path: `${collection}?limit=1` })).text) as {
      metadata: { continue?: string };
    };
    expect(valid.metadata.continue).toBeTruthy();
    const garbage = [
      'garbage',
      '!!!',
      Buffer.from('{"v":"meta.k8s.io/v1","rv":"x","start":"a"}').toString('base64url'),
      Buffer.from('{"v":"meta.k8s.io/v1","rv":1,"start":""}').toString('base64url'),
      Buffer.from('{"v":"meta.k8s.io/v1","rv":1,"start":"../../other/x"}').toString('base64url'),
      Buffer.from('[]').toString('base64url'),
      Buffer.from('null').toString('base64url'),
      valid.metadata.continue!.slice(0, 10),
    ];
    for (const token of garbage) {
      const r = await send({ method: 'GET', path: `${collection}?limit=1&continue=${encodeURIComponent(token)}` });
      expectStatus(r, 400, 'BadRequest');
    }
  });

  it('a bad resourceVersion on watch fails with a 4xx Status before any stream starts', async () => {
    for (const rv of ['abc', '-1', '1.5', '1e3']) {
      const r = await send({
        method: 'GET',
        path: `${collection}?watch=true&resourceVersion=${encodeURIComponent(rv)}&timeoutSeconds=1`,
      });
      expect(r.status).toBeGreaterThanOrEqual(400);
      expect(r.status).toBeLessThan(500);
      expect(r.headers['transfer-encoding']).toBeUndefined();
      expect(['BadRequest', 'Invalid']).toContain(statusOf(r).reason);
    }
    // A bad labelSelector on a watch, too.
    expectStatus(
      await send({ method: 'GET', path: `${collection}?watch=1&labelSelector=${encodeURIComponent('a in (b')}` }),
      400,
      'BadRequest',
    );
  });

  it('bad dryRun, fieldValidation and fieldManager values are rejected', async () => {
    expectStatus(
      await send({
        method: 'POST',
        path: `${collection}?dryRun=Some`,
        headers: json,
        body: JSON.stringify(unitSet('dry')),
      }),
      422,
      'Invalid',
    );
    expectStatus(
      await send({
        method: 'POST',
        path: `${collection}?fieldValidation=Loose`,
        headers: json,
        body: JSON.stringify(unitSet('fv')),
      }),
      400,
      'BadRequest',
    );
    expectStatus(
      await send({
        method: 'POST',
        path: `${collection}?fieldManager=${'m'.repeat(129)}`,
        headers: json,
        body: JSON.stringify(unitSet('fm')),
      }),
      422,
      'Invalid',
    );
    const strict = expectStatus(
      await send({
        method: 'POST',
        path: `${collection}?fieldValidation=Strict`,
        headers: json,
        body: JSON.stringify({
          ...unitSet('strict'),
          spec: { type: 'redis', version: '7.0.15', units: 1, bogus: true },
        }),
      }),
      400,
      'BadRequest',
    );
    expect(strict.message).toContain('strict decoding error: unknown field "spec.bogus"');
  });
});

// ---- validation and concurrency ------------------------------------------------------------

describe('validation, conflicts and patches', () => {
  let current: Record<string, any>;

  beforeAll(async () => {
    current = await create('target', 2);
  });

  it('an invalid object → 422 Invalid naming the field', async () => {
    const s = expectStatus(
      await send({ method: 'POST', path: collection, headers: json, body: JSON.stringify(unitSet('x', -1)) }),
      422,
      'Invalid',
    );
    expect(s.message).toMatch(/^UnitSet\.upm\.io "x" is invalid: spec\.units: Invalid value: -1: /);
    expect(s.details).toMatchObject({ name: 'x', group: 'upm.io', kind: 'UnitSet' });
    expect(s.details?.causes).toEqual([expect.objectContaining({ reason: 'FieldValueInvalid', field: 'spec.units' })]);

    const several = expectStatus(
      await send({
        method: 'POST',
        path: collection,
        headers: json,
        body: JSON.stringify({ ...unitSet('Bad_Name'), spec: { type: 'redis', units: 'two' } }),
      }),
      422,
      'Invalid',
    );
    const fields = several.details?.causes?.map((c) => c.field) ?? [];
    expect(fields).toEqual(expect.arrayContaining(['metadata.name', 'spec.version', 'spec.units']));
    expect(several.message).toMatch(/^UnitSet\.upm\.io "Bad_Name" is invalid: \[/);
  });

  it.each([
    ['a string spec', 'abc'],
    ['a number spec', 5],
    ['a boolean spec', true],
    ['an array spec', [1, 2]],
    ['a null spec', null],
  ])('%s → 422 (not 500)', async (_what, spec) => {
    const s = expectStatus(
      await send({
        method: 'POST',
        path: collection,
        headers: json,
        body: JSON.stringify({ ...unitSet('typed'), spec }),
      }),
      422,
      'Invalid',
    );
    expect(s.details?.causes?.some((c) => c.field === 'spec')).toBe(true);
  });

  it('mistyped fields in an update or patch → 422 (not 500)', async () => {
    const obj = await getObject('target');
    for (const spec of [
      'abc',
      5,
      { ...obj['spec'], storage: { volumes: 'abc' } },
      { ...obj['spec'], storage: { volumes: [null, 5] } },
      { ...obj['spec'], storage: { volumes: [{ name: 'data', size: {} }] } },
    ]) {
      const put = await send({
        method: 'PUT',
        path: item('target'),
        headers: json,
        body: JSON.stringify({ ...obj, spec }),
      });
      expectStatus(put, 422, 'Invalid');
      const patch = await send({
        method: 'PATCH',
        path: item('target'),
        headers: { 'Content-Type': 'application/merge-patch+json' },
        body: JSON.stringify({ spec }),
      });
      expectStatus(patch, 422, 'Invalid');
    }
    expect(await getObject('target')).toEqual(obj);
  });

  it('a non-string generateName → 422, never an object without a name', async () => {
    for (const generateName of [{ length: 100 }, 5, ['a'], true]) {
      const body = { ...unitSet(''), metadata: { generateName } };
      expectStatus(
        await send({ method: 'POST', path: collection, headers: json, body: JSON.stringify(body) }),
        422,
        'Invalid',
      );
    }
    const generated = await send({
      method: 'POST',
      path: collection,
      headers: json,
      body: JSON.stringify({ ...unitSet(''), metadata: { generateName: 'gen-' } }),
    });
    expect(generated.status).toBe(201);
    expect(JSON.parse(generated.text).metadata.name).toMatch(/^gen-[a-z0-9]{5}$/);
  });

  it('PUT without metadata.resourceVersion → 422', async () => {
    const { resourceVersion: _rv, ...meta } = current['metadata'] as Record<string, unknown>;
    const s = expectStatus(
      await send({
        method: 'PUT',
        path: item('target'),
        headers: json,
        body: JSON.stringify({ ...current, metadata: meta }),
      }),
      422,
      'Invalid',
    );
    expect(s.message).toBe(
      'UnitSet.upm.io "target" is invalid: metadata.resourceVersion: Invalid value: "0x0": must be specified for an update',
    );
    expect(s.details?.causes?.[0]?.field).toBe('metadata.resourceVersion');
  });

  it('PUT with a stale resourceVersion → 409 Conflict', async () => {
    const fresh = await getObject('target');
    const ok = await send({
      method: 'PUT',
      path: item('target'),
      headers: json,
      body: JSON.stringify({ ...fresh, spec: { ...fresh['spec'], units: 3 } }),
    });
    expect(ok.status).toBe(200);
    const s = expectStatus(
      await send({
        method: 'PUT',
        path: item('target'),
        headers: json,
        body: JSON.stringify({ ...fresh, spec: { ...fresh['spec'], units: 4 } }),
      }),
      409,
      'Conflict',
    );
    expect(s.message).toBe(
      'Operation cannot be fulfilled on unitsets.upm.io "target": the object has been modified; please apply your changes to the latest version and try again',
    );
    expect(s.details).toMatchObject({ name: 'target', group: 'upm.io', kind: 'unitsets' });
    expect((await getObject('target'))['spec']['units']).toBe(3);
  });

  it('PUT whose body name differs from the URL → 400', async () => {
    const fresh = await getObject('target');
    expectStatus(
      await send({
        method: 'PUT',
        path: item('target'),
        headers: json,
        body: JSON.stringify({ ...fresh, metadata: { ...fresh['metadata'], name: 'other' } }),
      }),
      400,
      'BadRequest',
    );
  });

  it('PUT to a missing object → 404', async () => {
    const body = { ...unitSet('missing'), metadata: { name: 'missing', resourceVersion: '1' } };
    expectStatus(
      await send({ method: 'PUT', path: item('missing'), headers: json, body: JSON.stringify(body) }),
      404,
      'NotFound',
      'unitsets.upm.io "missing" not found',
    );
  });

  it('create of an existing name → 409 AlreadyExists', async () => {
    const s = expectStatus(
      await send({ method: 'POST', path: collection, headers: json, body: JSON.stringify(unitSet('target')) }),
      409,
      'AlreadyExists',
    );
    expect(s.message).toBe('unitsets.upm.io "target" already exists');
    expect(s.details).toEqual({ name: 'target', group: 'upm.io', kind: 'unitsets' });
  });

  it('a JSON patch with a failing test op → 422 and nothing changes', async () => {
    const before = await getObject('target');
    const patch = [
      { op: 'replace', path: '/spec/units', value: 9 },
      { op: 'test', path: '/spec/units', value: 1 },
    ];
    expectStatus(
      await send({
        method: 'PATCH',
        path: item('target'),
        headers: { 'Content-Type': 'application/json-patch+json' },
        body: JSON.stringify(patch),
      }),
      422,
      'Invalid',
    );
    for (const bad of [
      [{ op: 'remove', path: '/spec/nope' }],
      [{ op: 'replace', path: '/spec/storage/volumes/99', value: 1 }],
      [{ op: 'frobnicate', path: '/spec' }],
    ]) {
      expectStatus(
        await send({
          method: 'PATCH',
          path: item('target'),
          headers: { 'Content-Type': 'application/json-patch+json' },
          body: JSON.stringify(bad),
        }),
        422,
        'Invalid',
      );
    }
    expect(await getObject('target')).toEqual(before);
  });

  it('a JSON patch that is not an array of operations → 400', async () => {
    for (const body of [
      '{"op":"add","path":"/spec/units","value":1}',
      '"x"',
      '[1]',
      '[{"op":"add"}]',
      '[{"op":"add","path":"/spec/units"}]',
      'not json',
    ]) {
      expectStatus(
        await send({
          method: 'PATCH',
          path: item('target'),
          headers: { 'Content-Type': 'application/json-patch+json' },
          body,
        }),
        400,
        'BadRequest',
      );
    }
  });

  it('a merge patch that is not an object or changes metadata.name → 400', async () => {
    for (const body of ['[]', '"x"', '5', 'null', '{"metadata":']) {
      expectStatus(
        await send({
          method: 'PATCH',
          path: item('target'),
          headers: { 'Content-Type': 'application/merge-patch+json' },
          body,
        }),
        400,
        'BadRequest',
      );
    }
    expectStatus(
      await send({
        method: 'PATCH',
        path: item('target'),
        headers: { 'Content-Type': 'application/merge-patch+json' },
        body: '{"metadata":{"name":"renamed"}}',
      }),
      400,
      'BadRequest',
      'the name of the object (renamed) does not match the name on the URL (target)',
    );
    expectStatus(
      await send({
        method: 'PATCH',
        path: item('target'),
        headers: { 'Content-Type': 'application/json-patch+json' },
        body: '[{"op":"replace","path":"/metadata/name","value":"renamed"}]',
      }),
      400,
      'BadRequest',
    );
  });

  it('a patch to a missing object → 404, a patch pinning a stale resourceVersion → 409', async () => {
    expectStatus(
      await send({
        method: 'PATCH',
        path: item('missing'),
        headers: { 'Content-Type': 'application/merge-patch+json' },
        body: '{"spec":{"units":1}}',
      }),
      404,
      'NotFound',
    );
    expectStatus(
      await send({
        method: 'PATCH',
        path: item('target'),
        headers: { 'Content-Type': 'application/merge-patch+json' },
        body: '{"metadata":{"resourceVersion":"1"},"spec":{"units":5}}',
      }),
      409,
      'Conflict',
    );
  });

  it('a JSON patch that keeps copying a value onto itself is refused, not run out of memory', async () => {
    const ops: unknown[] = [{ op: 'add', path: '/metadata/annotations', value: { a: 'x'.repeat(1024) } }];
    for (let i = 0; i < 40; i++)
      ops.push({ op: 'copy', from: '/metadata/annotations', path: `/metadata/annotations/c${i}` });
    const r = await send({
      method: 'PATCH',
      path: item('target'),
      headers: { 'Content-Type': 'application/json-patch+json' },
      body: JSON.stringify(ops),
    });
    expectStatus(r, 422, 'Invalid');
    expect((await send({ method: 'GET', path: '/readyz' })).status).toBe(200);
  });

  it('a JSON patch that nests values ever deeper is refused with 422, not a stack overflow', async () => {
    const before = await getObject('target');
    // 900 levels are fine; copying the chain into its own leaf would make 1800.
    const ops: unknown[] = [{ op: 'add', path: '/metadata/annotations', value: {} }];
    let path = '/metadata/annotations';
    for (let i = 0; i < 900; i++) {
      path += '/a';
      ops.push({ op: 'add', path, value: {} });
    }
    ops.push({ op: 'copy', from: '/metadata/annotations', path: `${path}/b` });
    ops.push({ op: 'copy', from: '/metadata/annotations', path: `${path}/b/a/b` });
    const r = await send({
      method: 'PATCH',
      path: item('target'),
      headers: { 'Content-Type': 'application/json-patch+json' },
      body: JSON.stringify(ops),
    });
    expectStatus(r, 422, 'Invalid', /nested deeper than/);
    expect(await getObject('target')).toEqual(before);
  });

  it('DELETE with a malformed or mistyped DeleteOptions body → 400', async () => {
    await create('delete-me');
    expectStatus(
      await send({ method: 'DELETE', path: item('delete-me'), headers: json, body: '{"kind":' }),
      400,
      'BadRequest',
    );
    expectStatus(
      await send({ method: 'DELETE', path: item('delete-me'), headers: json, body: '[1]' }),
      400,
      'BadRequest',
    );
    expectStatus(
      await send({ method: 'DELETE', path: item('delete-me'), headers: json, body: '{"kind":"Pod"}' }),
      400,
      'BadRequest',
    );
    expectStatus(
      await send({ method: 'DELETE', path: item('delete-me'), headers: { 'Content-Type': 'text/plain' }, body: 'x' }),
      415,
      'UnsupportedMediaType',
    );
    expectStatus(
      await send({
        method: 'DELETE',
        path: item('delete-me'),
        headers: json,
        body: '{"kind":"DeleteOptions","apiVersion":"v1","preconditions":{"uid":"not-the-uid"}}',
      }),
      409,
      'Conflict',
    );
    expect((await send({ method: 'GET', path: item('delete-me') })).status).toBe(200);
  });
});

// ---- authentication ------------------------------------------------------------------------

describe('authentication', () => {
  it('a request without a client certificate to a resource path → 401 Unauthorized', async () => {
    for (const [method, path] of [
      ['GET', collection],
      ['GET', item('target')],
      ['POST', collection],
      ['GET', `${gv}/unitsets`],
      ['GET', gv],
      ['GET', '/apis'],
      ['GET', '/openapi/v3'],
    ] as const) {
      const r = await send({
        method,
        path,
        agent: anonymous,
        ...(method === 'POST' ? { headers: json, body: JSON.stringify(unitSet('anon')) } : {}),
      });
      expectStatus(r, 401, 'Unauthorized', 'Unauthorized');
    }
  });

  it('/healthz, /livez, /readyz and /version work without a certificate', async () => {
    for (const p of ['/healthz', '/livez', '/readyz']) {
      const r = await send({ method: 'GET', path: p, agent: anonymous });
      expect(r.status).toBe(200);
      expect(r.text).toBe('ok');
    }
    const v = await send({ method: 'GET', path: '/version', agent: anonymous });
    expect(v.status).toBe(200);
    expect(JSON.parse(v.text)).toEqual(
      expect.objectContaining({ major: expect.any(String), minor: expect.any(String), gitVersion: expect.any(String) }),
    );
  });
});

// ---- fuzzing -------------------------------------------------------------------------------

/** mulberry32: a tiny seeded PRNG, so a failing run can be replayed with its seed. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Gen {
  constructor(readonly rand: () => number) {}
  int(n: number): number {
    return Math.floor(this.rand() * n);
  }
  chance(p: number): boolean {
    return this.rand() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }

  string(): string {
    switch (this.int(10)) {
      case 0:
        return '';
      case 1:
        return this.pick([
          'redis',
          'mysql',
          'postgresql',
          'kafka',
          '7.0.15',
          '8.0.36',
          'community',
          'data',
          '20Gi',
          '-1',
          '1e3',
          'Retain',
          'None',
          'true',
          'null',
        ]);
      case 2:
        return String.fromCodePoint(
          ...Array.from({ length: 1 + this.int(12) }, () =>
            this.pick([0x0, 0x7f, 0x200b, 0x202e, 0xfeff, 0x1f600, 0x10ffff, 0xe9, 0x4e2d, 0x5c, 0x22, 0x2f]),
          ),
        );
      case 3:
        return 'x'.repeat(this.pick([63, 64, 253, 254, 1000, 70_000]));
      case 4:
        return this.pick(['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf']);
      case 5:
        return this.pick([
          'a/b',
          '../x',
          'a.b',
          'A',
          'a-',
          '-a',
          'kubernetes.io/x',
          'a~1b',
          '%2F',
          '\ud800',
          '\udc00x',
        ]);
      default:
        return Array.from({ length: 1 + this.int(10) }, () =>
          this.pick('abcdefghijklmnopqrstuvwxyz0123456789-.'.split('')),
        ).join('');
    }
  }

  number(): number {
    return this.pick([
      0,
      -0,
      1,
      -1,
      2,
      3,
      0.5,
      -1.5,
      2 ** 31,
      2 ** 31 - 1,
      2 ** 53 + 1,
      -(2 ** 63),
      1e21,
      1e308,
      -1e308,
      Number.MIN_VALUE,
      this.int(100),
    ]);
  }

  key(): string {
    return this.chance(0.6)
      ? this.pick([
          'apiVersion',
          'kind',
          'metadata',
          'spec',
          'status',
          'name',
          'namespace',
          'labels',
          'annotations',
          'finalizers',
          'ownerReferences',
          'resourceVersion',
          'uid',
          'generateName',
          'units',
          'type',
          'version',
          'edition',
          'template',
          'storage',
          'volumes',
          'size',
          'storageClassName',
          '__proto__',
          'constructor',
          'toString',
          '',
        ])
      : this.string();
  }

  value(depth: number): unknown {
    const leaf = depth <= 0 || this.chance(0.45);
    if (leaf) {
      switch (this.int(6)) {
        case 0:
          return null;
        case 1:
          return this.chance(0.5);
        case 2:
          return this.number();
        default:
          return this.string();
      }
    }
    if (this.chance(0.5)) return Array.from({ length: this.int(5) }, () => this.value(depth - 1));
    const o: Record<string, unknown> = {};
    for (let i = this.int(6); i > 0; i--)
      Object.defineProperty(o, this.key(), {
        value: this.value(depth - 1),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    return o;
  }

  /** A chain of objects/arrays nested `depth` levels deep. */
  nested(depth: number, leaf: unknown): unknown {
    let v = leaf;
    for (let i = 0; i < depth; i++) v = this.chance(0.5) ? [v] : { [this.key()]: v };
    return v;
  }

  unitSet(name: string): Record<string, any> {
    return {
      apiVersion: 'upm.io/v1alpha1',
      kind: 'UnitSet',
      metadata: { name, labels: { fuzz: 'yes' } },
      spec: {
        type: this.pick(['redis', 'mysql']),
        version: '7.0.15',
        units: this.int(4),
        storage: { volumes: [{ name: 'data', size: '1Gi' }] },
      },
    };
  }

  /** Applies random field mutations to a near-valid object, in place. */
  mutate(obj: Record<string, any>, rounds: number): void {
    const paths = [
      ['apiVersion'],
      ['kind'],
      ['metadata'],
      ['metadata', 'name'],
      ['metadata', 'namespace'],
      ['metadata', 'generateName'],
      ['metadata', 'labels'],
      ['metadata', 'labels', this.key()],
      ['metadata', 'annotations'],
      ['metadata', 'annotations', this.key()],
      ['metadata', 'finalizers'],
      ['metadata', 'ownerReferences'],
      ['metadata', 'resourceVersion'],
      ['metadata', 'uid'],
      ['metadata', 'managedFields'],
      ['metadata', 'deletionTimestamp'],
      ['metadata', this.key()],
      ['spec'],
      ['spec', 'units'],
      ['spec', 'type'],
      ['spec', 'version'],
      ['spec', 'edition'],
      ['spec', 'template'],
      ['spec', 'storage'],
      ['spec', 'storage', 'volumes'],
      ['spec', 'storage', 'volumes', '0'],
      ['spec', 'storage', 'volumes', '0', 'size'],
      ['spec', 'storage', 'volumes', '0', 'name'],
      ['spec', this.key()],
      ['status'],
      [this.key()],
    ];
    for (let r = 0; r < rounds; r++) {
      const path = this.pick(paths);
      let cur: any = obj;
      for (const seg of path.slice(0, -1)) {
        if (cur === null || typeof cur !== 'object') break;
        if (cur[seg] === null || typeof cur[seg] !== 'object')
          Object.defineProperty(cur, seg, { value: {}, enumerable: true, writable: true, configurable: true });
        cur = cur[seg];
      }
      if (cur === null || typeof cur !== 'object') continue;
      const last = path[path.length - 1];
      const choice = this.int(4);
      if (choice === 0) delete cur[last];
      else
        Object.defineProperty(cur, last, {
          value:
            choice === 1 ? this.value(3) : this.chance(0.1) ? this.nested(this.int(200), this.value(1)) : this.value(1),
          enumerable: true,
          writable: true,
          configurable: true,
        });
    }
  }

  /** YAML that decodes to something other than plain JSON values: tags, aliases, 1.1 scalars. */
  yaml(name: string): string {
    const head = `apiVersion: upm.io/v1alpha1\nkind: UnitSet\nmetadata:\n  name: ${name}\n`;
    const units = this.pick([
      '0x10',
      '1_000',
      '0o17',
      '.inf',
      '-.nan',
      '!!float 1e400',
      '!!int 123456789012345678901234567890',
      'yes',
      '~',
      '017',
      '1:20',
      '!!str 1',
      '2001-12-14',
    ]);
    const snippets = [
      `${head}  labels: !!set {a, b}\nspec: {type: redis, version: 7.0.15, units: ${units}}\n`,
      `${head}  annotations: {a: !!binary aGVsbG8=}\nspec: {type: redis, version: 2001-12-14, units: 1}\n`,
      `${head}  labels: !!omap [{a: b}]\nspec: {type: redis, version: "7", units: 1}\n`,
      `${head}  annotations: {t: !!timestamp 2001-12-14t21:59:43.10-05:00, u: !custom x}\nspec: {type: redis, version: "7", units: 1}\n`,
      `${head}spec: &s {type: redis, version: "7", units: 1, storage: {volumes: [&v {name: data, size: 1Gi}, *v]}}\nstatus: *s\n`,
      `${head}spec:\n  <<: {type: redis, version: "7"}\n  units: ${units}\n`,
      `${head}spec: {type: redis, version: "7", units: 1, ? [complex, key] : v, ? {a: 1} : w}\n`,
      `${head}spec: {type: redis, version: "7", units: 1}\n---\nkind: Other\n`,
      `${head}spec: {type: redis, version: "7", units: 1, type: mysql}\n`,
      `${head}spec: &a [*a]\n`,
      `${head}  name: ${name}-dup\nspec: {type: redis, version: "7", units: 1}\n`,
      `${head}spec: {type: redis, version: "7", units: 1}\n\t- tab\n`,
      `a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n`,
      `%YAML 1.2\n---\n${head}spec: {type: redis, version: "7", units: 1}\n`,
      `${'- '.repeat(this.int(300))}x\n`,
    ];
    return this.pick(snippets);
  }

  /** Random bytes, or JSON text spoiled at the byte level. */
  garbage(): Buffer {
    switch (this.int(6)) {
      case 0:
        return Buffer.from(Array.from({ length: this.int(300) }, () => this.int(256)));
      case 1: {
        const text = JSON.stringify(this.unitSet('garbled'));
        return Buffer.from(text.slice(0, this.int(text.length)));
      }
      case 2:
        return Buffer.from(
          `${JSON.stringify(this.unitSet('trailing'))}${this.pick([' x', '}', ',', '\u0000', '{}', ']'])}`,
        );
      case 3:
        return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(this.unitSet('bom')))]);
      case 4:
        // Huge number literals, lone surrogate escapes, invalid escapes, NaN/Infinity.
        return Buffer.from(
          `{"apiVersion":"upm.io/v1alpha1","kind":"UnitSet","metadata":{"name":"lit-${this.int(5)}"},"spec":{"type":"redis","version":"7.0.15","units":${this.pick(
            [
              '1e400',
              '-1e400',
              '123456789012345678901234567890',
              '1.0',
              '1e0',
              '-0',
              '0.0000001',
              'NaN',
              'Infinity',
              '01',
              '"\\ud800"',
              '"\\x41"',
              '1',
            ],
          )}}}`,
        );
      default: {
        const text = JSON.stringify(this.value(4)) ?? 'null';
        const bytes = Buffer.from(text);
        for (let i = this.int(4); i > 0 && bytes.length > 0; i--) bytes[this.int(bytes.length)] = this.int(256);
        return bytes;
      }
    }
  }
}

interface FuzzRequest {
  method: 'POST' | 'PUT' | 'PATCH';
  path: string;
  contentType: string;
  body: Buffer;
  /** Chunk size for Transfer-Encoding: chunked; 0 sends a Content-Length. */
  chunkSize: number;
  /** For PUT of a near-valid object: the target whose latest seen resourceVersion goes into the body. */
  currentVersionOf?: string;
  note: string;
}

const allowedFuzzCodes = new Set([200, 201, 400, 404, 409, 413, 415, 422]);

/** The random requests of one run; a function of the seed only. */
function fuzzRequests(g: Gen, total: number, sentinels: string[], targets: string[]): FuzzRequest[] {
  const out: FuzzRequest[] = [];
  for (let i = 0; i < total; i++) {
    const method = g.pick(['POST', 'POST', 'PUT', 'PATCH', 'PATCH'] as const);
    const target = g.chance(0.9) ? g.pick(targets) : g.pick(['missing-x', 'missing-y']);
    let body: Buffer;
    let note: string;
    let contentType = 'application/json';
    let currentVersionOf: string | undefined;
    const kind = g.int(10);
    // Some updates and patches go to the status and scale subresources.
    const sub = method !== 'POST' && g.chance(0.15) ? g.pick(['status', 'scale'] as const) : undefined;
    if (method === 'PATCH') {
      contentType = g.chance(0.5) ? 'application/merge-patch+json' : 'application/json-patch+json';
      if (kind < 2) {
        note = 'garbage';
        body = g.garbage();
      } else if (contentType === 'application/merge-patch+json') {
        note = 'merge patch';
        const patch = kind < 6 ? { spec: {} } : g.value(4);
        if (patch !== null && typeof patch === 'object' && !Array.isArray(patch))
          g.mutate(patch as Record<string, any>, 1 + g.int(4));
        body = Buffer.from(JSON.stringify(patch) ?? 'null');
      } else {
        note = 'json patch';
        const pointers = [
          '/spec/units',
          '/spec/type',
          '/spec/version',
          '/spec',
          '/spec/storage',
          '/metadata/name',
          '/metadata/labels/x',
          '/metadata/labels',
          '/metadata/annotations',
          '/metadata/annotations/a',
          '/metadata/resourceVersion',
          '/metadata/finalizers',
          '/metadata/finalizers/-',
          '/spec/storage/volumes/0',
          '/spec/storage/volumes/-',
          '/spec/storage/volumes/0/size',
          '/status',
          '',
          '/',
          '/spec/storage/volumes/9',
          '/a~2b',
          '/metadata/__proto__',
          '/spec/constructor/x',
          '/metadata',
          '/kind',
          '/apiVersion',
          '/spec/replicas',
          '/status/selector',
          '/status/replicas',
        ];
        const ops = Array.from({ length: g.int(6) }, () => {
          const op: Record<string, unknown> = {
            op: g.pick(['add', 'remove', 'replace', 'move', 'copy', 'test', 'bogus']),
            path: g.chance(0.9) ? g.pick(pointers) : g.value(0),
          };
          if (g.chance(0.8)) op['value'] = g.chance(0.3) ? g.nested(g.int(200), g.value(1)) : g.value(3);
          if (g.chance(0.4)) op['from'] = g.pick(pointers);
          return op;
        });
        body = Buffer.from(JSON.stringify(g.chance(0.9) ? ops : (ops[0] ?? {})));
      }
    } else if (kind < 2) {
      note = 'garbage';
      body = g.garbage();
    } else if (kind === 3 && g.chance(0.5)) {
      note = 'tricky yaml';
      contentType = 'application/yaml';
      body = Buffer.from(g.yaml(method === 'POST' ? `y-${i}` : target));
    } else if (kind < 4) {
      note = 'random json';
      body = Buffer.from(JSON.stringify(g.chance(0.3) ? g.nested(g.int(200), g.value(2)) : g.value(5)) ?? 'null');
    } else {
      note = 'near-valid';
      const name =
        method === 'POST' ? g.pick([...sentinels, ...targets, `new-${i}`, `new-${i}`, `new-${i}`, `new-${i}`]) : target;
      const obj: Record<string, any> =
        sub === 'scale'
          ? {
              apiVersion: 'autoscaling/v1',
              kind: 'Scale',
              metadata: { name },
              spec: { replicas: g.pick([0, 1, 2, 3, -1, 1.5, '2', null, 2 ** 31]) },
            }
          : sub === 'status'
            ? {
                ...g.unitSet(name),
                status: g.chance(0.5)
                  ? { selector: g.string(), replicas: g.number(), conditions: g.value(2) }
                  : g.value(3),
              }
            : g.unitSet(name);
      if (method === 'PUT' && g.chance(0.7)) currentVersionOf = target;
      g.mutate(obj, g.int(4));
      if (g.chance(0.1) && !currentVersionOf) {
        contentType = 'application/yaml';
        body = Buffer.from(toYAML(obj, { aliasDuplicateObjects: false }));
      } else body = Buffer.from(JSON.stringify(obj));
    }
    if (g.chance(0.03))
      contentType = g.pick([
        'text/plain',
        'application/vnd.kubernetes.protobuf',
        'application/xml',
        '',
        'application/json; charset=utf-8',
        'APPLICATION/JSON',
      ]);
    if (g.chance(0.002)) {
      note += `, oversized #${i}`;
      body = Buffer.concat([body, Buffer.alloc(3 * 1024 * 1024 + 1, 0x20)]);
    }
    const path = method === 'POST' ? collection : `${item(target)}${sub ? `/${sub}` : ''}`;
    // Bodies over the limit go in large chunks: millions of tiny writes would only slow the client.
    const chunkSize = g.chance(0.1) ? (body.length > 1024 * 1024 ? 16 * 1024 + g.int(64 * 1024) : 1 + g.int(4096)) : 0;
    out.push({ method, path, contentType, body, chunkSize, note, ...(currentVersionOf ? { currentVersionOf } : {}) });
  }
  return out;
}

describe('fuzzing request bodies', () => {
  const seed = Number(process.env['FUZZ_SEED'] ?? Date.now() % 2 ** 31);
  const total = Number(process.env['FUZZ_REQUESTS'] ?? 3000);
  const concurrency = 16;
  const sentinels = ['keep-a', 'keep-b', 'keep-c'];
  const targets = ['fuzz-a', 'fuzz-b', 'fuzz-c'];

  it(`random create/update/patch bodies never get a 5xx or a dropped connection, and nothing stored is lost`, async () => {
    console.log(`fuzz seed ${seed} (replay with FUZZ_SEED=${seed})`);
    const requests = fuzzRequests(new Gen(mulberry32(seed)), total, sentinels, targets);
    const stored = new Map<string, Record<string, any>>();
    for (const n of sentinels) stored.set(n, await create(n, 1));
    const lastKnown = new Map<string, Record<string, any>>();
    for (const n of targets) lastKnown.set(n, await create(n, 1));

    const failures: string[] = [];
    const counts = new Map<number, number>();
    const slowest: { ms: number; what: string }[] = [];
    /** Targets a scale write changed: that answer is a Scale, so lastKnown missed the change. */
    const scaled = new Set<string>();
    let next = 0;
    let sent = 0;
    const started = Date.now();
    const worker = async (): Promise<void> => {
      while (next < requests.length && failures.length < 20) {
        const i = next++;
        const req = requests[i];
        let body = req.body;
        if (req.currentVersionOf) {
          // Near-valid PUTs carry the resourceVersion last seen, so some of them succeed.
          const obj = JSON.parse(body.toString('utf8')) as Record<string, any>;
          if (obj['metadata'] !== null && typeof obj['metadata'] === 'object' && !Array.isArray(obj['metadata'])) {
            obj['metadata']['resourceVersion'] = lastKnown.get(req.currentVersionOf)?.['metadata']['resourceVersion'];
          }
          body = Buffer.from(JSON.stringify(obj));
        }
        const what = () =>
          `#${i} ${req.method} ${req.path} [${req.contentType}] (${req.note}${req.chunkSize ? `, chunked by ${req.chunkSize}` : ''}): ${body.subarray(0, 300).toString('utf8')}`;
        let r: Reply;
        const t0 = Date.now();
        try {
          sent++;
          r = await send({
            method: req.method,
            path: req.path,
            headers: req.contentType ? { 'Content-Type': req.contentType } : {},
            body,
            ...(req.chunkSize ? { chunkSize: req.chunkSize } : {}),
          });
        } catch (err) {
          failures.push(`${what()}\n  → connection error: ${(err as Error).message}`);
          continue;
        }
        counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
        const ms = Date.now() - t0;
        if (ms > (slowest[slowest.length - 1]?.ms ?? 0) || slowest.length < 3) {
          slowest.push({ ms, what: `${what().slice(0, 160)} → ${r.status}` });
          slowest.sort((a, b) => b.ms - a.ms).splice(3);
        }
        if (!allowedFuzzCodes.has(r.status)) {
          failures.push(`${what()}\n  → HTTP ${r.status}: ${r.text.slice(0, 400)}`);
          continue;
        }
        if (r.status >= 300) {
          try {
            statusOf(r);
          } catch (err) {
            failures.push(`${what()}\n  → ${(err as Error).message}`);
          }
          continue;
        }
        const obj = JSON.parse(r.text) as Record<string, any>;
        const name = obj['metadata']?.['name'];
        if (req.path.endsWith('/scale')) {
          const target = req.path.split('/').at(-2)!;
          if (obj['kind'] !== 'Scale' || name !== target || !Number.isInteger(obj['spec']?.['replicas']))
            failures.push(`${what()}\n  → 2xx without a Scale: ${r.text.slice(0, 300)}`);
          scaled.add(target);
        } else if (obj['kind'] !== 'UnitSet' || typeof name !== 'string' || name === '')
          failures.push(`${what()}\n  → 2xx without a named UnitSet: ${r.text.slice(0, 300)}`);
        else if (sentinels.includes(name))
          failures.push(`${what()}\n  → a write to a sentinel succeeded: ${r.text.slice(0, 300)}`);
        else if (targets.includes(name)) {
          const seen = lastKnown.get(name);
          if (!seen || Number(obj['metadata']['resourceVersion']) > Number(seen['metadata']['resourceVersion']))
            lastKnown.set(name, obj);
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, () => worker()));
    const seconds = (Date.now() - started) / 1000;
    const codes = JSON.stringify(Object.fromEntries([...counts].sort((a, b) => a[0] - b[0])));

    console.log(
      `fuzz seed ${seed}: ${sent} requests in ${seconds.toFixed(1)} s (${Math.round(sent / seconds)} req/s), ${concurrency} in flight; codes ${codes}`,
    );
    console.log(`slowest:\n${slowest.map((x) => `  ${x.ms} ms ${x.what}`).join('\n')}`);
    if (failures.length > 0)
      throw new Error(
        `fuzz seed ${seed}: ${failures.length} bad responses (replay with FUZZ_SEED=${seed}):\n${failures.join('\n')}`,
      );
    expect(sent).toBe(total);
    // Every kind of outcome happened: the fuzzer reaches past decoding into validation and storage.
    for (const code of [200, 201, 400, 422]) expect(counts.get(code) ?? 0).toBeGreaterThan(0);

    // The server is still healthy, still takes writes, and lost nothing it had stored.
    expect((await send({ method: 'GET', path: '/readyz' })).status).toBe(200);
    await create('after-fuzz', 2);
    for (const [name, obj] of stored) expect(await getObject(name)).toEqual(obj);
    for (const name of targets) {
      const now = await getObject(name);
      expect(now['metadata']['uid']).toBe(lastKnown.get(name)!['metadata']['uid']);
      if (scaled.has(name))
        expect(Number(now['metadata']['resourceVersion'])).toBeGreaterThanOrEqual(
          Number(lastKnown.get(name)!['metadata']['resourceVersion']),
        );
      else expect(now).toEqual(lastKnown.get(name));
      expect(Number.isInteger(now['spec']['units']) && now['spec']['units'] >= 0).toBe(true);
    }
    const list = JSON.parse((await send({ method: 'GET', path: collection })).text) as {
      items: { metadata: { name: unknown; uid: unknown } }[];
    };
    const names = list.items.map((o) => o.metadata.name);
    for (const name of [...sentinels, ...targets, 'after-fuzz']) expect(names).toContain(name);
    for (const o of list.items) {
      expect(typeof o.metadata.name === 'string' && o.metadata.name.length > 0).toBe(true);
      expect(typeof o.metadata.uid).toBe('string');
    }
  }, 120_000);
});
