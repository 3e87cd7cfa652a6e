// Where `upm-engine apiserver` takes authentication and authorization from: file flags, the
// cluster's ConfigMap (--authentication-kubeconfig or in a pod), and the in-cluster defaults.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import type { ClusterAuthenticationConfig } from '../apiserver/authentication/cluster-config.js';
import { DelegatingAuthorizer } from '../apiserver/authorization/delegating.js';
import { buildKubeconfig } from '../pki/kubeconfig.js';
import { apiserverCommand, resolveDelegation, type APIServerOptions } from './apiserver.js';
import { parseCommandLine } from './command.js';

const logger = pino({ level: 'silent' });
let dir: string;
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const clusterCA = '-----BEGIN CERTIFICATE-----\ncluster\n-----END CERTIFICATE-----\n';
const flagCA = '-----BEGIN CERTIFICATE-----\nflag\n-----END CERTIFICATE-----\n';
const clusterProxyCA = '-----BEGIN CERTIFICATE-----\nproxy\n-----END CERTIFICATE-----\n';
const fromCluster: ClusterAuthenticationConfig = {
  clientCAPem: clusterCA,
  requestHeader: {
    clientCAPem: clusterProxyCA,
    allowedNames: ['aggregator'],
    usernameHeaders: ['X-User'],
    uidHeaders: [],
    groupHeaders: ['X-Group'],
    extraHeaderPrefixes: ['X-Extra-'],
  },
};

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'upm-delegation-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function flags(extra: string[]): APIServerOptions {
  return parseCommandLine(apiserverCommand, [
    '--tls-cert-file=c',
    '--tls-private-key-file=k',
    ...extra,
  ]) as APIServerOptions;
}
function podConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'in', server: 'https://10.0.0.1:443' }],
    users: [{ name: 'sa', token: 't' }],
    contexts: [{ name: 'in', cluster: 'in', user: 'sa' }],
    currentContext: 'in',
  });
  return kc;
}

describe('resolveDelegation', () => {
  it('outside a pod and without flags: nothing from the cluster, every authenticated user allowed', async () => {
    const lookups: KubeConfig[] = [];
    const d = await resolveDelegation(
      flags([]),
      logger,
      () => undefined,
      async (kc) => (lookups.push(kc), fromCluster),
    );
    expect(lookups).toEqual([]);
    expect(d).toEqual({ clientCAPem: undefined, requestHeader: undefined, authorizer: undefined });
  });

  it('in a pod: the ConfigMap through the service account, and SubjectAccessReviews through it', async () => {
    const pod = podConfig();
    const lookups: KubeConfig[] = [];
    const d = await resolveDelegation(
      flags([]),
      logger,
      () => pod,
      async (kc) => (lookups.push(kc), fromCluster),
    );
    expect(lookups).toEqual([pod]);
    expect(d.clientCAPem).toBe(clusterCA);
    expect(d.requestHeader).toEqual(fromCluster.requestHeader);
    expect(d.authorizer).toBeInstanceOf(DelegatingAuthorizer);
  });

  it('--authentication-skip-lookup: no ConfigMap in a pod (authorization stays delegated)', async () => {
    const lookups: KubeConfig[] = [];
    const d = await resolveDelegation(
      flags(['--authentication-skip-lookup']),
      logger,
      () => podConfig(),
      async (kc) => (lookups.push(kc), fromCluster),
    );
    expect(lookups).toEqual([]);
    expect(d.requestHeader).toBeUndefined();
    expect(d.authorizer).toBeInstanceOf(DelegatingAuthorizer);
  });

  it('--requestheader-client-ca-file in a pod: the file, not the ConfigMap', async () => {
    const lookups: KubeConfig[] = [];
    const ca = file('proxy.crt', 'file-proxy-ca');
    const d = await resolveDelegation(
      flags([`--requestheader-client-ca-file=${ca}`]),
      logger,
      () => podConfig(),
      async (kc) => (lookups.push(kc), fromCluster),
    );
    expect(lookups).toEqual([]);
    expect(d.requestHeader).toEqual({ clientCAPem: 'file-proxy-ca', allowedNames: ['front-proxy-client'] });
  });

  it('--authentication-kubeconfig: that cluster, even outside a pod; file flags win and both client CAs are trusted', async () => {
    const kubeconfig = file(
      'kubeconfig',
      buildKubeconfig({
        clusterName: 'x',
        server: 'https://192.0.2.1:6443',
        caPem: clusterCA,
        user: 'u',
        clientCertPem: flagCA,
        clientKeyPem: 'key',
      }),
    );
    const servers: string[] = [];
    const lookup = async (kc: KubeConfig) => (servers.push(kc.getCurrentCluster()!.server), fromCluster);
    const fromConfigMap = await resolveDelegation(
      flags([`--authentication-kubeconfig=${kubeconfig}`, `--client-ca-file=${file('ca.crt', flagCA)}`]),
      logger,
      () => undefined,
      lookup,
    );
    expect(servers).toEqual(['https://192.0.2.1:6443']);
    expect(fromConfigMap.clientCAPem).toBe(`${flagCA}\n${clusterCA}`);
    expect(fromConfigMap.requestHeader).toEqual(fromCluster.requestHeader);
    expect(fromConfigMap.authorizer).toBeUndefined();
    const withFile = await resolveDelegation(
      flags([
        `--authentication-kubeconfig=${kubeconfig}`,
        `--requestheader-client-ca-file=${file('p.crt', 'file-proxy-ca')}`,
        '--requestheader-allowed-names=a,b',
      ]),
      logger,
      () => undefined,
      lookup,
    );
    expect(withFile.clientCAPem).toBe(clusterCA);
    expect(withFile.requestHeader).toEqual({ clientCAPem: 'file-proxy-ca', allowedNames: ['a', 'b'] });
  });

  it('a missing --authentication-kubeconfig file is an error naming the flag', async () => {
    await expect(
      resolveDelegation(
        flags([`--authentication-kubeconfig=${join(dir, 'nope')}`]),
        logger,
        () => undefined,
        async () => fromCluster,
      ),
    ).rejects.toThrow(/--authentication-kubeconfig: /);
  });
});
