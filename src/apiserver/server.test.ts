// The assembled server over HTTPS: discovery (legacy and aggregated, ETags, 406), health,
// version, metrics, tables and metadata-only lists, authentication.

import { request } from 'node:https';
import { pino } from 'pino';
import { createCA, issueClientCert, issueServingCert, type CertKeyPair } from '../pki/certs.js';
import { openSqliteStore } from '../storage/sqlite/store.js';
import { startAPIServer, type RunningAPIServer } from './server.js';
import { gadgetDefinition, widgetDefinition } from './testing/widget.js';

let server: RunningAPIServer;
let ca: CertKeyPair;
let admin: CertKeyPair;
let other: CertKeyPair;

interface Response {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json(): any;
}

function call(
  method: string,
  path: string,
  opts: { headers?: Record<string, string>; body?: unknown; cert?: CertKeyPair | null } = {},
): Promise<Response> {
  const cert = opts.cert === undefined ? admin : opts.cert;
  const url = new URL(path, server.url);
  const payload =
    opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        ca: ca.certPem,
        ...(cert ? { cert: cert.certPem, key: cert.keyPem } : {}),
        headers: { ...(payload ? { 'Content-Type': 'application/json' } : {}), ...(opts.headers ?? {}) },
      },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () =>
          resolve({ status: res.statusCode!, headers: res.headers, body, json: () => JSON.parse(body) }),
        );
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

beforeAll(async () => {
  ca = createCA('test-ca');
  const serving = issueServingCert(ca, { commonName: 'server', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  admin = issueClientCert(ca, { commonName: 'alice', organizations: ['system:masters'] });
  const otherCA = createCA('other-ca');
  other = issueClientCert(otherCA, { commonName: 'mallory', organizations: ['system:masters'] });
  server = await startAPIServer({
    store: openSqliteStore(':memory:'),
    resources: [{ definition: widgetDefinition }, { definition: gadgetDefinition }],
    logger: pino({ level: 'silent' }),
    tls: { certPem: serving.certPem, keyPem: serving.keyPem, clientCAPem: ca.certPem },
    bindAddress: '127.0.0.1',
    port: 0,
  });
});
afterAll(async () => server?.close());

describe('discovery', () => {
  it('serves the legacy documents', async () => {
    const groups = (await call('GET', '/apis')).json();
    expect(groups).toEqual({
      kind: 'APIGroupList',
      apiVersion: 'v1',
      groups: [
        {
          name: 'test.upm.io',
          versions: [{ groupVersion: 'test.upm.io/v1', version: 'v1' }],
          preferredVersion: { groupVersion: 'test.upm.io/v1', version: 'v1' },
        },
      ],
    });
    const group = (await call('GET', '/apis/test.upm.io')).json();
    expect(group).toMatchObject({ kind: 'APIGroup', name: 'test.upm.io' });
    const list = (await call('GET', '/apis/test.upm.io/v1')).json();
    expect(list.kind).toBe('APIResourceList');
    expect(list.resources.map((r: { name: string }) => r.name)).toEqual([
      'gadgets',
      'widgets',
      'widgets/status',
      'widgets/scale',
    ]);
    const widgets = list.resources.find((r: { name: string }) => r.name === 'widgets');
    expect(widgets).toMatchObject({
      singularName: 'widget',
      namespaced: true,
      kind: 'Widget',
      shortNames: ['wd'],
      categories: ['upm'],
    });
    expect(widgets.verbs).toEqual(['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch']);
    expect(widgets.storageVersionHash).toMatch(/^[A-Za-z0-9+/]{11}=$/);
    expect(list.resources.find((r: { name: string }) => r.name === 'widgets/scale')).toMatchObject({
      group: 'autoscaling',
      version: 'v1',
      kind: 'Scale',
    });
  });

  it.each(['v2', 'v2beta1'])('serves aggregated discovery %s with an ETag and 304', async (v) => {
    const accept = `application/json;g=apidiscovery.k8s.io;v=${v};as=APIGroupDiscoveryList,application/json`;
    const res = await call('GET', '/apis', { headers: { Accept: accept } });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe(`application/json;g=apidiscovery.k8s.io;v=${v};as=APIGroupDiscoveryList`);
    const doc = res.json();
    expect(doc).toMatchObject({ kind: 'APIGroupDiscoveryList', apiVersion: `apidiscovery.k8s.io/${v}` });
    const resources = doc.items[0].versions[0].resources;
    const widgets = resources.find((r: { resource: string }) => r.resource === 'widgets');
    expect(widgets).toMatchObject({
      responseKind: { group: 'test.upm.io', version: 'v1', kind: 'Widget' },
      scope: 'Namespaced',
      singularResource: 'widget',
      subresources: [
        {
          subresource: 'status',
          responseKind: { group: 'test.upm.io', version: 'v1', kind: 'Widget' },
          verbs: ['get', 'patch', 'update'],
        },
        {
          subresource: 'scale',
          responseKind: { group: 'autoscaling', version: 'v1', kind: 'Scale' },
          verbs: ['get', 'patch', 'update'],
        },
      ],
    });
    expect(resources.find((r: { resource: string }) => r.resource === 'gadgets').scope).toBe('Cluster');
    const etag = res.headers['etag'] as string;
    expect(etag).toMatch(/^"[0-9A-F]{128}"$/);
    const again = await call('GET', '/apis', { headers: { Accept: accept, 'If-None-Match': etag } });
    expect(again.status).toBe(304);
  });

  it('answers 406, never a 200 APIGroupList, to an aggregated-only Accept it cannot serve', async () => {
    const res = await call('GET', '/apis', {
      headers: { Accept: 'application/json;g=apidiscovery.k8s.io;v=v3;as=APIGroupDiscoveryList' },
    });
    expect(res.status).toBe(406);
    expect(res.json()).toMatchObject({ kind: 'Status', reason: 'NotAcceptable', code: 406 });
  });

  it('answers 404 for unknown groups and versions', async () => {
    expect((await call('GET', '/apis/nope.io')).status).toBe(404);
    expect((await call('GET', '/apis/test.upm.io/v9')).json()).toMatchObject({
      reason: 'NotFound',
      message: 'the server could not find the requested resource',
    });
  });
});

describe('health, version and metrics', () => {
  it('serves health checks without credentials, verbose and per check', async () => {
    for (const path of ['/healthz', '/livez', '/readyz']) {
      const res = await call('GET', path, { cert: null });
      expect([res.status, res.body]).toEqual([200, 'ok']);
    }
    const verbose = await call('GET', '/readyz?verbose', { cert: null });
    expect(verbose.body).toContain('[+]storage ok');
    expect(verbose.body).toContain('readyz check passed');
    expect((await call('GET', '/readyz/storage', { cert: null })).status).toBe(200);
    expect((await call('GET', '/readyz/nope', { cert: null })).status).toBe(404);
  });

  it('serves /version', async () => {
    const v = (await call('GET', '/version', { cert: null })).json();
    expect(v.gitVersion).toMatch(/^v\d+\.\d+\.\d+/);
    expect(v.platform).toBe(`${process.platform}/${process.arch}`);
  });

  it('counts requests, open watches and storage latency', async () => {
    await call('GET', '/apis/test.upm.io/v1/namespaces/default/widgets');
    const watch = request(new URL('/apis/test.upm.io/v1/namespaces/default/widgets?watch=true', server.url), {
      ca: ca.certPem,
      cert: admin.certPem,
      key: admin.keyPem,
    });
    watch.end();
    await new Promise<void>((r) => watch.once('response', () => r()));
    const text = (await call('GET', '/metrics')).body;
    expect(text).toMatch(
      /apiserver_request_total\{verb="LIST",group="test.upm.io",version="v1",resource="widgets",subresource="",code="200"\} \d+/,
    );
    expect(text).toMatch(/apiserver_request_duration_seconds_bucket\{le="[\d.]+",verb="LIST"/);
    expect(text).toMatch(/apiserver_registered_watchers\{group="test.upm.io",resource="widgets"\} 1/);
    expect(text).toMatch(/upm_storage_operation_duration_seconds_count\{operation="list",backend="sqlite"\} \d+/);
    watch.destroy();
  });
});

describe('authentication', () => {
  it('rejects requests without a certificate or with one from another CA with 401', async () => {
    for (const cert of [null, other]) {
      const res = await call('GET', '/apis/test.upm.io/v1/namespaces/default/widgets', { cert });
      expect(res.status).toBe(401);
      expect(res.json()).toMatchObject({ kind: 'Status', reason: 'Unauthorized', code: 401 });
    }
  });
});

describe('representations', () => {
  beforeAll(async () => {
    for (const name of ['t1', 't2']) {
      const res = await call('POST', '/apis/test.upm.io/v1/namespaces/default/widgets', {
        body: {
          apiVersion: 'test.upm.io/v1',
          kind: 'Widget',
          metadata: { name, labels: { app: name } },
          spec: { size: 2 },
        },
      });
      expect(res.status).toBe(201);
    }
  });

  it('returns a Table with printer columns and PartialObjectMetadata rows to kubectl get', async () => {
    const res = await call('GET', '/apis/test.upm.io/v1/namespaces/default/widgets?labelSelector=app%3Dt1', {
      headers: {
        Accept:
          'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json',
      },
    });
    const table = res.json();
    expect(table.kind).toBe('Table');
    expect(table.columnDefinitions.map((c: { name: string }) => c.name)).toEqual([
      'Name',
      'Size',
      'Color',
      'Ready',
      'Age',
    ]);
    expect(table.rows).toHaveLength(1);
    expect(table.rows[0].cells.slice(0, 4)).toEqual(['t1', 2, 'red', null]);
    expect(table.rows[0].object).toMatchObject({
      kind: 'PartialObjectMetadata',
      metadata: { name: 't1', labels: { app: 't1' } },
    });
    const full = (
      await call('GET', '/apis/test.upm.io/v1/namespaces/default/widgets?includeObject=Object', {
        headers: { Accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' },
      })
    ).json();
    expect(full.rows[0].object.spec).toEqual({ size: 2, color: 'red' });
  });

  it('returns PartialObjectMetadataList to the metadata client and 406 for the list form on one object', async () => {
    const accept =
      'application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json';
    const list = (await call('GET', '/apis/test.upm.io/v1/widgets', { headers: { Accept: accept } })).json();
    expect(list.kind).toBe('PartialObjectMetadataList');
    expect(list.items.map((i: { kind: string; metadata: { name: string } }) => `${i.kind}/${i.metadata.name}`)).toEqual(
      ['PartialObjectMetadata/t1', 'PartialObjectMetadata/t2'],
    );
    expect(list.items[0].spec).toBeUndefined();
    const one = await call('GET', '/apis/test.upm.io/v1/namespaces/default/widgets/t1', {
      headers: { Accept: 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1' },
    });
    expect(one.status).toBe(406);
  });

  it('lists empty collections as items: []', async () => {
    const res = (await call('GET', '/apis/test.upm.io/v1/gadgets')).json();
    expect(res).toMatchObject({ kind: 'GadgetList', apiVersion: 'test.upm.io/v1', items: [] });
  });
});

describe('watch timeouts', () => {
  const events = (body: string) =>
    body
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as { type: string; object: { metadata: { resourceVersion: string } } });

  it('sends a bookmark 2 s before the deadline of a watch that allows them, as kube-apiserver does', async () => {
    const started = Date.now();
    const res = await call(
      'GET',
      '/apis/test.upm.io/v1/namespaces/default/widgets?watch=true&allowWatchBookmarks=true&timeoutSeconds=3&resourceVersion=0',
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(2900);
    const bookmarks = events(res.body).filter((e) => e.type === 'BOOKMARK');
    expect(bookmarks).toHaveLength(1);
    expect(Number(bookmarks[0]!.object.metadata.resourceVersion)).toBeGreaterThan(0);
  });

  it('sends none without allowWatchBookmarks, or when the timeout is 2 s or less', async () => {
    for (const query of ['timeoutSeconds=3', 'allowWatchBookmarks=true&timeoutSeconds=2']) {
      const res = await call('GET', `/apis/test.upm.io/v1/namespaces/default/widgets?watch=true&${query}`);
      expect(events(res.body).filter((e) => e.type === 'BOOKMARK')).toEqual([]);
    }
  });
});
