// The admission webhook server of UPM Engine, wired: the cluster cache, the serving certificate
// (Secret-backed, renewed while serving), the HTTPS server and the registration of its webhook
// configurations with the current CA bundle.

import { AdmissionregistrationV1Api, CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { ClusterCache } from './cache.js';
import { ServingCertificates, type ServingBundle } from './certificates.js';
import { registerWebhooks, webhookConfigurations, type WebhookEndpoint } from './registration.js';
import { startWebhookServer, type RunningWebhookServer } from './server.js';
import { sidecarInjectionWebhook } from './sidecar-injection/mutate.js';
import { sidecarSetWebhook } from './sidecarset/validate.js';
import type { ClusterState } from './state.js';
import { unitSetWebhook } from './unitset/validate.js';
import { unitTemplateWebhook } from './unittemplate/validate.js';
import type { AdmissionWebhook } from './webhook.js';

export { webhookConfigurations, registerWebhooks, CONFIGURATION_NAME } from './registration.js';
export type { AdmissionWebhook } from './webhook.js';

export interface WebhookSettings {
  injectionFailurePolicy?: 'Fail' | 'Ignore';
}

/** Every webhook this server serves. */
export function upmWebhooks(state: ClusterState, settings: WebhookSettings = {}): AdmissionWebhook[] {
  const injection = sidecarInjectionWebhook(state);
  return [
    unitTemplateWebhook,
    unitSetWebhook(state),
    sidecarSetWebhook(state),
    { ...injection, failurePolicy: settings.injectionFailurePolicy ?? injection.failurePolicy },
  ];
}

export interface WebhooksOptions extends WebhookSettings {
  kubeconfig: KubeConfig;
  port: number;
  bindAddress: string;
  /** Namespace and name of the Service in front of the server, and of the certificate Secret. */
  namespace: string;
  serviceName: string;
  secretName: string;
  /** More names or IPs for the certificate (local mode: 127.0.0.1). */
  extraHosts?: string[];
  /** Certificate from files instead of the Secret (not renewed here). */
  staticCertificate?: { certPem: string; keyPem: string; caPem: string };
  validityMs?: number;
  renewBeforeMs?: number;
  /** Write the webhook configurations (with the CA bundle) and keep them current. */
  register: boolean;
  /** Where the configurations point: the Service (default) or a URL (local mode, where the port is known after listening). */
  endpoint?: (port: number) => WebhookEndpoint;
  shutdownDelayMs?: number;
  /** How long a new CA bundle is given to reach the API servers before the certificate it signs is served. Default 2 s. */
  caPropagationDelayMs?: number;
  log: Logger;
}

export interface RunningWebhooks {
  server: RunningWebhookServer;
  cache: ClusterCache;
  certificates?: ServingCertificates;
  stop(): Promise<void>;
}

export async function startWebhooks(o: WebhooksOptions): Promise<RunningWebhooks> {
  const log = o.log;
  const cache = new ClusterCache({ kubeconfig: o.kubeconfig, log: log.child({ component: 'webhook-cache' }) });
  const webhooks = upmWebhooks(cache, o);
  let certificates: ServingCertificates | undefined;
  let bundle: Pick<ServingBundle, 'certPem' | 'keyPem' | 'caPem'>;
  if (o.staticCertificate) bundle = o.staticCertificate;
  else {
    certificates = new ServingCertificates({
      core: o.kubeconfig.makeApiClient(CoreV1Api),
      namespace: o.namespace,
      secretName: o.secretName,
      serviceName: o.serviceName,
      extraHosts: o.extraHosts,
      validityMs: o.validityMs,
      renewBeforeMs: o.renewBeforeMs,
      log: log.child({ component: 'webhook-certificates' }),
    });
    bundle = await certificates.ensure();
  }
  cache.start();
  let server: RunningWebhookServer;
  try {
    server = await startWebhookServer({
      webhooks,
      certPem: bundle.certPem,
      keyPem: bundle.keyPem,
      port: o.port,
      bindAddress: o.bindAddress,
      log: log.child({ component: 'webhook-server' }),
      shutdownDelayMs: o.shutdownDelayMs,
      readinessChecks: [
        {
          name: 'informer-sync',
          check: () => {
            const missing = cache.unsynced();
            if (missing.length) throw new Error(`not synced: ${missing.join(', ')}`);
          },
        },
      ],
    });
  } catch (err) {
    await cache.stop();
    throw err;
  }
  const endpoint = o.endpoint?.(server.port) ?? {
    service: { namespace: o.namespace, name: o.serviceName, port: 443 },
  };
  const registration = o.kubeconfig.makeApiClient(AdmissionregistrationV1Api);
  const register = async (caPem: string) => {
    if (!o.register) return;
    await registerWebhooks(registration, webhookConfigurations(webhooks, endpoint, caPem));
    log.info({ endpoint }, 'registered the webhook configurations');
  };
  try {
    await register(bundle.caPem);
  } catch (err) {
    await server.close();
    await cache.stop();
    throw err;
  }
  let registeredCA = bundle.caPem;
  certificates?.onChange((b) => {
    // Trust first, then serve: a new CA bundle (holding the old and the new CA while a CA
    // rotates) is registered, and given time to reach the API servers' watches, before a
    // certificate signed by the new CA is served, so no caller sees an unknown signer.
    const caChanged = b.caPem !== registeredCA;
    registeredCA = b.caPem;
    void (caChanged ? register(b.caPem) : Promise.resolve())
      .catch((err: unknown) => log.warn({ err: (err as Error).message }, 'updating the webhook configurations failed'))
      .then(() =>
        caChanged && o.register ? new Promise((r) => setTimeout(r, o.caPropagationDelayMs ?? 2000)) : undefined,
      )
      .finally(() => server.setCertificate(b.certPem, b.keyPem));
  });
  certificates?.start();
  return {
    server,
    cache,
    certificates,
    async stop() {
      certificates?.stop();
      await server.close();
      await cache.stop();
    },
  };
}
