// A kubeconfig (clientcmd v1 `Config`) with everything embedded: CA, client certificate and key
// as base64 `*-data` fields, one cluster, one user, one context that is the current one.

import { chmod, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'yaml';

export interface KubeconfigOptions {
  clusterName: string;
  /** e.g. https://127.0.0.1:6443 (bracket IPv6 hosts: https://[::1]:6443). */
  server: string;
  caPem: string;
  /** The user entry's name (the identity itself is the client certificate's CN). */
  user: string;
  clientCertPem: string;
  clientKeyPem: string;
  /** Default namespace of the context. */
  namespace?: string;
  /** Defaults to `<user>@<clusterName>`, as kubeadm names it. */
  contextName?: string;
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

/** The kubeconfig as YAML text. */
export function buildKubeconfig(o: KubeconfigOptions): string {
  for (const k of ['clusterName', 'server', 'caPem', 'user', 'clientCertPem', 'clientKeyPem'] as const) {
    if (typeof o[k] !== 'string' || o[k] === '') throw new Error(`buildKubeconfig: ${k} is required`);
  }
  let url: URL;
  try {
    url = new URL(o.server);
  } catch {
    throw new Error(`buildKubeconfig: server is not a URL: ${o.server}`);
  }
  if (url.protocol !== 'https:') throw new Error(`buildKubeconfig: server must be https, got ${o.server}`);
  const contextName = o.contextName ?? `${o.user}@${o.clusterName}`;
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    preferences: {},
    clusters: [{ name: o.clusterName, cluster: { server: o.server, 'certificate-authority-data': b64(o.caPem) } }],
    users: [
      {
        name: o.user,
        user: { 'client-certificate-data': b64(o.clientCertPem), 'client-key-data': b64(o.clientKeyPem) },
      },
    ],
    contexts: [
      {
        name: contextName,
        context: { cluster: o.clusterName, user: o.user, ...(o.namespace ? { namespace: o.namespace } : {}) },
      },
    ],
    'current-context': contextName,
  };
  return stringify(config, { lineWidth: 0 });
}

/** Writes buildKubeconfig(opts) to `file` (mode 0600, parent directories created, atomic). */
export async function writeKubeconfig(file: string, opts: KubeconfigOptions): Promise<string> {
  const text = buildKubeconfig(opts);
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    await writeFile(tmp, text, { mode: 0o600, flag: 'wx' });
    await chmod(tmp, 0o600);
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  return text;
}
