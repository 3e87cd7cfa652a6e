// Delegated authentication settings from the cluster, as k8s.io/apiserver-based aggregated
// servers learn them: kube-apiserver publishes its client CA and the front-proxy
// (request-header) settings in the ConfigMap kube-system/extension-apiserver-authentication,
// which the server reads with its service account (or --authentication-kubeconfig).

import { existsSync } from 'node:fs';
import { ApiException, CoreV1Api, FetchError, KubeConfig } from '@kubernetes/client-node';
import type { RequestHeaderConfig } from './requestheader.js';
import { isForbidden, isNotFound, isUnauthorized } from '../../machinery/errors.js';

export const authenticationConfigMapNamespace = 'kube-system';
export const authenticationConfigMapName = 'extension-apiserver-authentication';
const where = `ConfigMap ${authenticationConfigMapNamespace}/${authenticationConfigMapName}`;

/** Where a pod's service account credentials are mounted (client-node's and client-go's path). */
export const serviceAccountTokenPath = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export interface ClusterAuthenticationConfig {
  /** PEM bundle of the cluster's client CA (`client-ca-file`), if published. */
  clientCAPem?: string;
  /** Front-proxy settings; absent when the ConfigMap has no `requestheader-client-ca-file`. */
  requestHeader?: RequestHeaderConfig;
}

export class ClusterAuthenticationConfigError extends Error {
  override name = 'ClusterAuthenticationConfigError';
}

/**
 * A list value of the ConfigMap, read as k8s.io/apiserver's deserializeStrings reads it: a
 * missing or empty value is the empty list (so is JSON `null`, what kube-apiserver writes for an
 * unset flag); anything else must be a JSON array of strings.
 */
export function parseStringList(key: string, value: string | undefined): string[] {
  if (value === undefined || value === '') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (err) {
    throw new ClusterAuthenticationConfigError(
      `${where}: ${key} is not valid JSON (${(err as Error).message}): ${JSON.stringify(value)}`,
    );
  }
  if (parsed === null) return [];
  if (!Array.isArray(parsed) || !parsed.every((v) => typeof v === 'string')) {
    throw new ClusterAuthenticationConfigError(
      `${where}: ${key} must be a JSON array of strings, got ${JSON.stringify(value)}`,
    );
  }
  return parsed as string[];
}

/**
 * The authentication settings in the ConfigMap's data. As in k8s.io/apiserver, a missing header
 * key means no header of that kind (not X-Remote-*: a cluster that does not name a header does
 * not strip it from its clients' requests either), and missing allowed names allow every
 * certificate the front-proxy CA signed.
 */
export function parseAuthenticationConfigMap(data: Record<string, string> | undefined): ClusterAuthenticationConfig {
  const d = data ?? {};
  const result: ClusterAuthenticationConfig = {};
  if (d['client-ca-file']?.trim()) result.clientCAPem = d['client-ca-file'];
  if (d['requestheader-client-ca-file']?.trim()) {
    result.requestHeader = {
      clientCAPem: d['requestheader-client-ca-file'],
      allowedNames: parseStringList('requestheader-allowed-names', d['requestheader-allowed-names']),
      usernameHeaders: parseStringList('requestheader-username-headers', d['requestheader-username-headers']),
      uidHeaders: parseStringList('requestheader-uid-headers', d['requestheader-uid-headers']),
      groupHeaders: parseStringList('requestheader-group-headers', d['requestheader-group-headers']),
      extraHeaderPrefixes: parseStringList(
        'requestheader-extra-headers-prefix',
        d['requestheader-extra-headers-prefix'],
      ),
    };
  }
  return result;
}

/** A KubeConfig for the pod's service account, or undefined outside a pod. `pathPrefix` is client-node's (tests). */
export function inClusterKubeConfig(pathPrefix = '', env: NodeJS.ProcessEnv = process.env): KubeConfig | undefined {
  if (!env['KUBERNETES_SERVICE_HOST'] || !existsSync(`${pathPrefix}${serviceAccountTokenPath}`)) return undefined;
  const kc = new KubeConfig();
  kc.loadFromCluster(pathPrefix);
  return kc;
}

export interface LoadClusterAuthenticationOptions {
  /** How long connection failures and 5xx/429 answers are retried (default 30 s). */
  retryForMs?: number;
  /** Pause between attempts (default 1 s). */
  retryIntervalMs?: number;
  /** Told about each failed attempt that will be retried, and about a missing ConfigMap. */
  warn?: (msg: string) => void;
}

function retryable(err: unknown): boolean {
  if (err instanceof ApiException) return err.code === 429 || err.code >= 500;
  // No HTTP answer (refused, reset, DNS, timeout). Anything else is a configuration error.
  return err instanceof FetchError;
}

function describe(err: unknown): string {
  if (err instanceof ApiException) {
    let body: unknown = err.body;
    if (typeof body === 'string') {
      try {
        body = JSON.parse(body); // client-node hands a Status over as its JSON text
      } catch {
        // not JSON: keep the text
      }
    }
    const status = body as { message?: unknown } | undefined;
    const message = typeof status?.message === 'string' ? status.message : typeof body === 'string' ? body : '';
    return `HTTP ${err.code}${message ? `: ${message}` : ''}`;
  }
  return (err as Error)?.message ?? String(err);
}

/**
 * Reads the ConfigMap through `kc`. A missing ConfigMap gives no settings (as in
 * k8s.io/apiserver); connection errors are retried for a while (the cluster may be starting);
 * anything else, or running out of time, throws a ClusterAuthenticationConfigError.
 */
export async function loadClusterAuthenticationConfig(
  kc: KubeConfig,
  opts: LoadClusterAuthenticationOptions = {},
): Promise<ClusterAuthenticationConfig> {
  const api = kc.makeApiClient(CoreV1Api);
  const server = kc.getCurrentCluster()?.server ?? '(no server)';
  const deadline = Date.now() + (opts.retryForMs ?? 30_000);
  const interval = opts.retryIntervalMs ?? 1_000;
  for (let attempt = 1; ; attempt++) {
    try {
      const cm = await api.readNamespacedConfigMap({
        name: authenticationConfigMapName,
        namespace: authenticationConfigMapNamespace,
      });
      return parseAuthenticationConfigMap(cm.data);
    } catch (err) {
      if (err instanceof ClusterAuthenticationConfigError) throw err;
      if (isNotFound(err)) {
        opts.warn?.(
          `${where} does not exist on ${server}: no client CA and no front-proxy authentication from the cluster`,
        );
        return {};
      }
      if (isUnauthorized(err) || isForbidden(err)) {
        throw new ClusterAuthenticationConfigError(
          `cannot read ${where} from ${server} (${describe(err)}); grant the Role ${authenticationConfigMapNamespace}/extension-apiserver-authentication-reader to this server's identity ` +
            `(kubectl create rolebinding -n kube-system NAME --role=extension-apiserver-authentication-reader --serviceaccount=NS:SA), or pass --authentication-skip-lookup`,
          { cause: err },
        );
      }
      if (!retryable(err) || Date.now() + interval > deadline) {
        throw new ClusterAuthenticationConfigError(
          `cannot read ${where} from ${server} after ${attempt} attempt(s): ${describe(err)}`,
          { cause: err },
        );
      }
      opts.warn?.(`reading ${where} from ${server} failed (attempt ${attempt}, retrying): ${describe(err)}`);
      await new Promise((r) => setTimeout(r, interval));
    }
  }
}
