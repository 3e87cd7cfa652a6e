import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { ensureLocalPKI, type LocalPKI } from './bundle.js';
import { buildKubeconfig, writeKubeconfig, type KubeconfigOptions } from './kubeconfig.js';

const run = promisify(execFile);
let root: string;
let pki: LocalPKI;

beforeAll(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'upm-kubeconfig-'));
  pki = await ensureLocalPKI(path.join(root, 'pki'), { serverHosts: [] });
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

function opts(server: string, extra: Partial<KubeconfigOptions> = {}): KubeconfigOptions {
  return {
    clusterName: 'upm-local',
    server,
    caPem: pki.ca.certPem,
    user: 'upm-admin',
    clientCertPem: pki.admin.certPem,
    clientKeyPem: pki.admin.keyPem,
    ...extra,
  };
}

const unb64 = (s: string) => Buffer.from(s, 'base64').toString('utf8');

describe('buildKubeconfig', () => {
  it('embeds the CA, client certificate and key and selects its context', () => {
    const cfg = parse(buildKubeconfig(opts('https://127.0.0.1:6443', { namespace: 'demo' })));
    expect(cfg).toMatchObject({ apiVersion: 'v1', kind: 'Config', 'current-context': 'upm-admin@upm-local' });
    expect(cfg.clusters).toEqual([
      {
        name: 'upm-local',
        cluster: { server: 'https://127.0.0.1:6443', 'certificate-authority-data': expect.any(String) },
      },
    ]);
    expect(unb64(cfg.clusters[0].cluster['certificate-authority-data'])).toBe(pki.ca.certPem);
    expect(unb64(cfg.users[0].user['client-certificate-data'])).toBe(pki.admin.certPem);
    expect(unb64(cfg.users[0].user['client-key-data'])).toBe(pki.admin.keyPem);
    expect(cfg.contexts).toEqual([
      { name: 'upm-admin@upm-local', context: { cluster: 'upm-local', user: 'upm-admin', namespace: 'demo' } },
    ]);
  });

  it('omits the namespace when not given and accepts a context name', () => {
    const cfg = parse(buildKubeconfig(opts('https://[::1]:8443', { contextName: 'local' })));
    expect(cfg.contexts[0]).toEqual({ name: 'local', context: { cluster: 'upm-local', user: 'upm-admin' } });
    expect(cfg['current-context']).toBe('local');
  });

  it('rejects missing fields and non-https servers', () => {
    expect(() => buildKubeconfig(opts('http://127.0.0.1:8080'))).toThrow(/https/);
    expect(() => buildKubeconfig(opts('not a url'))).toThrow(/URL/);
    expect(() => buildKubeconfig(opts('https://x', { caPem: '' }))).toThrow(/caPem/);
  });
});

describe('writeKubeconfig with the real kubectl', () => {
  it('writes mode 0600 (also over an existing file) and kubectl config view reads it back', async () => {
    const file = path.join(root, 'sub', 'dir', 'kubeconfig');
    const text = await writeKubeconfig(file, opts('https://127.0.0.1:6443', { namespace: 'demo' }));
    expect(readFileSync(file, 'utf8')).toBe(text);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    writeFileSync(file, 'old', { mode: 0o644 });
    await writeKubeconfig(file, opts('https://127.0.0.1:6443', { namespace: 'demo' }));
    expect(statSync(file).mode & 0o777).toBe(0o600);

    const { stdout } = await run('kubectl', ['config', 'view', '--kubeconfig', file, '--raw', '-o', 'json']);
    const view = JSON.parse(stdout);
    expect(view['current-context']).toBe('upm-admin@upm-local');
    expect(view.clusters[0].cluster.server).toBe('https://127.0.0.1:6443');
    expect(unb64(view.clusters[0].cluster['certificate-authority-data'])).toBe(pki.ca.certPem);
    expect(unb64(view.users[0].user['client-certificate-data'])).toBe(pki.admin.certPem);
    expect(unb64(view.users[0].user['client-key-data'])).toBe(pki.admin.keyPem);
    const ns = await run('kubectl', [
      'config',
      'view',
      '--kubeconfig',
      file,
      '--minify',
      '-o',
      'jsonpath={.contexts[0].context.namespace}',
    ]);
    expect(ns.stdout).toBe('demo');
  });

  it('lets kubectl (Go TLS) verify the serving certificate and authenticate with the admin certificate', async () => {
    const seen: { authorized: boolean; cn: unknown; o: unknown }[] = [];
    const server = https.createServer(
      {
        cert: pki.apiserver.certPem,
        key: pki.apiserver.keyPem,
        ca: [pki.ca.certPem],
        requestCert: true,
        rejectUnauthorized: false,
      },
      (req, res) => {
        const socket = req.socket as TLSSocket;
        const peer = socket.getPeerCertificate();
        seen.push({ authorized: socket.authorized, cn: peer?.subject?.CN, o: peer?.subject?.O });
        res.writeHead(socket.authorized ? 200 : 401, { 'content-type': 'text/plain' });
        res.end(socket.authorized ? `ok ${peer.subject.CN}` : 'unauthorized');
      },
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as AddressInfo).port;
      for (const host of ['127.0.0.1', 'localhost']) {
        const file = path.join(root, `kubeconfig-${host}`);
        await writeKubeconfig(file, opts(`https://${host}:${port}`));
        const { stdout } = await run('kubectl', [
          '--kubeconfig',
          file,
          'get',
          '--raw',
          '/healthz',
          '--request-timeout=10s',
        ]);
        expect(stdout).toBe('ok upm-admin');
      }
      expect(seen.length).toBeGreaterThanOrEqual(2);
      for (const s of seen) expect(s).toEqual({ authorized: true, cn: 'upm-admin', o: 'system:masters' });
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
