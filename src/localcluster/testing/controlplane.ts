// Test helpers for the local control plane: a server with the built-in kinds over HTTPS, a
// kubeconfig for it, an HTTPS client and the real kubectl.

import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pino } from 'pino';
import { startAPIServer, type RunningAPIServer } from '../../apiserver/server.js';
import type { ResourceRegistration } from '../../apiserver/registry/registry.js';
import { createCA, issueClientCert, issueServingCert, type CertKeyPair } from '../../pki/certs.js';
import { buildKubeconfig } from '../../pki/kubeconfig.js';
import type { Store } from '../../storage/interface.js';
import { openSqliteStore } from '../../storage/sqlite/store.js';
import { coreRegistrations, initCoreResources } from '../kinds/index.js';

export interface HTTPResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** The body's bytes (for protobuf answers). */
  raw: Buffer;
  json(): any;
}

export interface TestCluster {
  server: RunningAPIServer;
  ca: CertKeyPair;
  admin: CertKeyPair;
  /** A temporary directory removed by close(). */
  dir: string;
  /** Path of a kubeconfig for the admin user (O=system:masters). */
  kubeconfig: string;
  /** The kubeconfig text. */
  kubeconfigText: string;
  call(
    method: string,
    path: string,
    opts?: { body?: unknown; headers?: Record<string, string> },
  ): Promise<HTTPResponse>;
  kubectl(
    args: string[],
    opts?: { input?: string; version?: string },
  ): Promise<{ code: number; stdout: string; stderr: string }>;
  close(): Promise<void>;
}

export interface TestClusterOptions {
  store?: Store;
  resources?: ResourceRegistration[];
  port?: number;
}

/** Folder of the versioned kubectl binaries (kubectl.1.27 … kubectl.1.33). */
export function kubectlBinary(version = '1.33'): string {
  for (const dir of (process.env['PATH'] ?? '').split(':')) {
    const candidate = join(dir, 'kubectl');
    if (existsSync(candidate)) {
      const path = join(dirname(realpathSync(candidate)), `kubectl.${version}`);
      if (existsSync(path)) return path;
    }
  }
  throw new Error(`kubectl.${version} not found next to kubectl on PATH`);
}

export async function startTestCluster(opts: TestClusterOptions = {}): Promise<TestCluster> {
  const ca = createCA('localcluster-test-ca');
  const serving = issueServingCert(ca, {
    commonName: 'localhost',
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
  });
  const admin = issueClientCert(ca, { commonName: 'admin', organizations: ['system:masters'] });
  const server = await startAPIServer({
    store: opts.store ?? openSqliteStore(':memory:'),
    resources: opts.resources ?? coreRegistrations(),
    logger: pino({ level: 'silent' }),
    tls: { certPem: serving.certPem, keyPem: serving.keyPem, clientCAPem: ca.certPem },
    bindAddress: '127.0.0.1',
    port: opts.port ?? 0,
  });
  await initCoreResources(server.registry, { apiServerPort: server.port });
  const dir = mkdtempSync(join(tmpdir(), 'upm-localcluster-'));
  const kubeconfigText = buildKubeconfig({
    clusterName: 'local',
    server: server.url,
    caPem: ca.certPem,
    user: 'admin',
    clientCertPem: admin.certPem,
    clientKeyPem: admin.keyPem,
  });
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, kubeconfigText, { mode: 0o600 });

  const call: TestCluster['call'] = (method, path, o = {}) => {
    const payload =
      o.body === undefined || typeof o.body === 'string' || Buffer.isBuffer(o.body) ? o.body : JSON.stringify(o.body);
    return new Promise((resolve, reject) => {
      const req = request(
        new URL(path, server.url),
        {
          method,
          ca: ca.certPem,
          cert: admin.certPem,
          key: admin.keyPem,
          headers: { ...(payload !== undefined ? { 'Content-Type': 'application/json' } : {}), ...(o.headers ?? {}) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (d: Buffer) => chunks.push(d));
          res.on('end', () => {
            const raw = Buffer.concat(chunks);
            const body = raw.toString('utf8');
            resolve({ status: res.statusCode!, headers: res.headers, body, raw, json: () => JSON.parse(body) });
          });
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  };

  const kubectl: TestCluster['kubectl'] = (args, o = {}) =>
    new Promise((resolve) => {
      const p = execFile(
        kubectlBinary(o.version),
        ['--kubeconfig', kubeconfig, '--cache-dir', join(dir, 'cache'), ...args],
        { timeout: 30_000, maxBuffer: 16 * 1024 * 1024 },
        (err, stdout, stderr) => {
          const code = err
            ? typeof (err as { code?: unknown }).code === 'number'
              ? (err as { code: number }).code
              : 1
            : 0;
          resolve({ code, stdout, stderr });
        },
      );
      p.stdin!.end(o.input ?? '');
    });

  return {
    server,
    ca,
    admin,
    dir,
    kubeconfig,
    kubeconfigText,
    call,
    kubectl,
    async close() {
      await server.close();
      server.registry.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
