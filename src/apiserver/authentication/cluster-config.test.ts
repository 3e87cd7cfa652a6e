// The cluster's authentication ConfigMap (kube-system/extension-apiserver-authentication):
// parsing as k8s.io/apiserver does, and reading it through client-node with retries.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import {
  ClusterAuthenticationConfigError,
  inClusterKubeConfig,
  loadClusterAuthenticationConfig,
  parseAuthenticationConfigMap,
  parseStringList,
  serviceAccountTokenPath,
} from './cluster-config.js';

const caPem = '-----BEGIN CERTIFICATE-----\nclient\n-----END CERTIFICATE-----\n';
const proxyCAPem = '-----BEGIN CERTIFICATE-----\nproxy\n-----END CERTIFICATE-----\n';

const published = {
  'client-ca-file': caPem,
  'requestheader-client-ca-file': proxyCAPem,
  'requestheader-allowed-names': '["front-proxy-client","aggregator"]',
  'requestheader-username-headers': '["X-Remote-User"]',
  'requestheader-uid-headers': '["X-Remote-Uid"]',
  'requestheader-group-headers': '["X-Remote-Group"]',
  'requestheader-extra-headers-prefix': '["X-Remote-Extra-"]',
};

describe('parseAuthenticationConfigMap', () => {
  it('reads the client CA and the front-proxy settings kube-apiserver publishes', () => {
    expect(parseAuthenticationConfigMap(published)).toEqual({
      clientCAPem: caPem,
      requestHeader: {
        clientCAPem: proxyCAPem,
        allowedNames: ['front-proxy-client', 'aggregator'],
        usernameHeaders: ['X-Remote-User'],
        uidHeaders: ['X-Remote-Uid'],
        groupHeaders: ['X-Remote-Group'],
        extraHeaderPrefixes: ['X-Remote-Extra-'],
      },
    });
  });

  it('missing list keys, empty values and JSON null are empty lists, as in k8s.io/apiserver', () => {
    // e.g. a kube-apiserver before 1.32 publishes no requestheader-uid-headers; "null" is an unset flag.
    const cfg = parseAuthenticationConfigMap({
      'requestheader-client-ca-file': proxyCAPem,
      'requestheader-username-headers': '["X-Remote-User"]',
      'requestheader-group-headers': 'null',
      'requestheader-allowed-names': '',
    });
    expect(cfg).toEqual({
      requestHeader: {
        clientCAPem: proxyCAPem,
        allowedNames: [],
        usernameHeaders: ['X-Remote-User'],
        uidHeaders: [],
        groupHeaders: [],
        extraHeaderPrefixes: [],
      },
    });
  });

  it('without requestheader-client-ca-file there is no front-proxy authentication; without client-ca-file no client CA', () => {
    expect(
      parseAuthenticationConfigMap({ 'client-ca-file': caPem, 'requestheader-username-headers': '["X-Remote-User"]' }),
    ).toEqual({ clientCAPem: caPem });
    expect(parseAuthenticationConfigMap({ 'requestheader-client-ca-file': '  ' })).toEqual({});
    expect(parseAuthenticationConfigMap(undefined)).toEqual({});
  });

  it('rejects a value that is not a JSON array of strings, naming the key', () => {
    expect(() =>
      parseAuthenticationConfigMap({ ...published, 'requestheader-group-headers': 'X-Remote-Group' }),
    ).toThrow(ClusterAuthenticationConfigError);
    expect(() =>
      parseAuthenticationConfigMap({ ...published, 'requestheader-group-headers': 'X-Remote-Group' }),
    ).toThrow(
      /ConfigMap kube-system\/extension-apiserver-authentication: requestheader-group-headers is not valid JSON/,
    );
    expect(() => parseStringList('requestheader-allowed-names', '"front-proxy-client"')).toThrow(
      'requestheader-allowed-names must be a JSON array of strings, got "\\"front-proxy-client\\""',
    );
    expect(() => parseStringList('requestheader-allowed-names', '["a", 1]')).toThrow(/must be a JSON array of strings/);
    expect(() => parseStringList('requestheader-allowed-names', '{"a":"b"}')).toThrow(
      /must be a JSON array of strings/,
    );
  });
});

describe('loadClusterAuthenticationConfig', () => {
  let server: Server;
  let answers: Array<{ status: number; body: unknown }>;
  const paths: string[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      paths.push(req.url ?? '');
      const a = answers.length > 1 ? answers.shift()! : answers[0]!;
      res.writeHead(a.status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(a.body));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));
  beforeEach(() => (paths.length = 0));

  function kubeconfigFor(url: string): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: url, skipTLSVerify: true }],
      users: [{ name: 'u', token: 't' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    return kc;
  }
  const url = () => `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const configMap = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'extension-apiserver-authentication', namespace: 'kube-system' },
    data: published,
  };
  const status = (code: number, reason: string) => ({
    apiVersion: 'v1',
    kind: 'Status',
    status: 'Failure',
    message: `configmaps "extension-apiserver-authentication" is ${reason}`,
    code,
  });

  it('reads the ConfigMap from kube-system', async () => {
    answers = [{ status: 200, body: configMap }];
    const cfg = await loadClusterAuthenticationConfig(kubeconfigFor(url()));
    expect(paths).toEqual(['/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication']);
    expect(cfg.clientCAPem).toBe(caPem);
    expect(cfg.requestHeader?.allowedNames).toEqual(['front-proxy-client', 'aggregator']);
  });

  it('retries 5xx answers while the cluster starts', async () => {
    answers = [
      { status: 503, body: status(503, 'unavailable') },
      { status: 500, body: status(500, 'broken') },
      { status: 200, body: configMap },
    ];
    const warnings: string[] = [];
    const cfg = await loadClusterAuthenticationConfig(kubeconfigFor(url()), {
      retryIntervalMs: 10,
      warn: (m) => warnings.push(m),
    });
    expect(cfg.requestHeader?.clientCAPem).toBe(proxyCAPem);
    expect(paths).toHaveLength(3);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toContain('attempt 1, retrying');
  });

  it('a missing ConfigMap gives no settings, with a warning', async () => {
    answers = [{ status: 404, body: status(404, 'not found') }];
    const warnings: string[] = [];
    await expect(
      loadClusterAuthenticationConfig(kubeconfigFor(url()), { warn: (m) => warnings.push(m) }),
    ).resolves.toEqual({});
    expect(warnings[0]).toContain('does not exist');
  });

  it('forbidden fails at once and says which Role to bind', async () => {
    answers = [{ status: 403, body: status(403, 'forbidden') }];
    const err = await loadClusterAuthenticationConfig(kubeconfigFor(url()), { retryIntervalMs: 10 }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ClusterAuthenticationConfigError);
    expect((err as Error).message).toContain('HTTP 403: configmaps "extension-apiserver-authentication" is forbidden');
    expect((err as Error).message).toContain('extension-apiserver-authentication-reader');
    expect(paths).toHaveLength(1);
  });

  it('a bad value in the ConfigMap is a clear error, not retried', async () => {
    answers = [
      {
        status: 200,
        body: { ...configMap, data: { ...published, 'requestheader-username-headers': '[X-Remote-User]' } },
      },
    ];
    await expect(loadClusterAuthenticationConfig(kubeconfigFor(url()), { retryIntervalMs: 10 })).rejects.toThrow(
      /requestheader-username-headers is not valid JSON/,
    );
    expect(paths).toHaveLength(1);
  });

  it('a configuration error is not retried', async () => {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: url(), skipTLSVerify: false }],
      users: [{ name: 'u' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    await expect(loadClusterAuthenticationConfig(kc, { retryIntervalMs: 10 })).rejects.toThrow(
      /after 1 attempt\(s\): HTTP protocol is not allowed/,
    );
  });

  it('gives up on an unreachable cluster after the retry period', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as { port: number }).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const warnings: string[] = [];
    const started = Date.now();
    const err = await loadClusterAuthenticationConfig(kubeconfigFor(`http://127.0.0.1:${port}`), {
      retryForMs: 300,
      retryIntervalMs: 50,
      warn: (m) => warnings.push(m),
    }).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(err).toBeInstanceOf(ClusterAuthenticationConfigError);
    expect((err as Error).message).toMatch(
      new RegExp(
        `cannot read ConfigMap kube-system/extension-apiserver-authentication from http://127.0.0.1:${port} after \\d+ attempt\\(s\\): .*ECONNREFUSED`,
      ),
    );
    expect(warnings.length).toBeGreaterThanOrEqual(2);
  });
});

describe('inClusterKubeConfig', () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'upm-sa-'));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('is undefined outside a pod: no KUBERNETES_SERVICE_HOST, or no token file', () => {
    expect(inClusterKubeConfig(root, {})).toBeUndefined();
    expect(inClusterKubeConfig(root, { KUBERNETES_SERVICE_HOST: '10.0.0.1' })).toBeUndefined();
  });

  it("in a pod it is the service account's config for the kubernetes Service", () => {
    const token = `${root}${serviceAccountTokenPath}`;
    mkdirSync(dirname(token), { recursive: true });
    writeFileSync(token, 'sa-token');
    writeFileSync(join(dirname(token), 'ca.crt'), caPem);
    const saved = { host: process.env['KUBERNETES_SERVICE_HOST'], port: process.env['KUBERNETES_SERVICE_PORT'] };
    process.env['KUBERNETES_SERVICE_HOST'] = '10.0.0.1';
    process.env['KUBERNETES_SERVICE_PORT'] = '443';
    try {
      const kc = inClusterKubeConfig(root, process.env)!;
      expect(kc.getCurrentCluster()).toEqual(
        expect.objectContaining({
          server: 'https://10.0.0.1:443',
          caFile: `${root}/var/run/secrets/kubernetes.io/serviceaccount/ca.crt`,
        }),
      );
      expect(kc.getCurrentUser()?.authProvider?.config?.tokenFile).toBe(token);
    } finally {
      for (const [k, v] of [
        ['KUBERNETES_SERVICE_HOST', saved.host],
        ['KUBERNETES_SERVICE_PORT', saved.port],
      ] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});
