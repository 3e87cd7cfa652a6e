// The MutatingWebhookConfiguration and ValidatingWebhookConfiguration that point the API
// servers at this server, built from the webhooks' own definitions (config/webhooks/ holds the
// same objects as YAML, checked against these by a test), and kept up to date with the CA bundle.

import type { AdmissionregistrationV1Api } from '@kubernetes/client-node';
import { isAlreadyExists, isConflict, isNotFound } from '../machinery/errors.js';
import type { LabelSelector } from '../machinery/labels.js';
import { exemptNamespaces, type AdmissionWebhook } from './webhook.js';

export const CONFIGURATION_NAME = 'upm-webhooks';

export interface WebhookEndpoint {
  /** The Service in front of the server (in a cluster). */
  service?: { namespace: string; name: string; port?: number };
  /** A base URL (`https://127.0.0.1:9443`) instead of a Service (local mode). */
  url?: string;
}

/** Namespaces webhooks are never called for, by the label every namespace has. */
export const namespaceSelector: LabelSelector = {
  matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [...exemptNamespaces] }],
};

/**
 * The same exclusion as a match condition, for the upm.io kinds: their API server evaluates it
 * from the request alone, without looking the namespace up (a namespaceSelector makes every
 * write in a namespace the cluster does not know fail with NotFound, whatever the webhook).
 */
export const namespaceCondition = {
  name: 'exclude-system-namespaces',
  expression: `!(request.namespace in [${exemptNamespaces.map((n) => `'${n}'`).join(', ')}])`,
};

function clientConfig(w: AdmissionWebhook, endpoint: WebhookEndpoint, caBundlePem: string | undefined) {
  const caBundle = caBundlePem ? Buffer.from(caBundlePem, 'utf8').toString('base64') : undefined;
  const base = endpoint.url
    ? { url: `${endpoint.url.replace(/\/+$/, '')}${w.path}` }
    : { service: { ...endpoint.service!, port: endpoint.service!.port ?? 443, path: w.path } };
  return { ...base, ...(caBundle ? { caBundle } : {}) };
}

function entry(w: AdmissionWebhook, endpoint: WebhookEndpoint, caBundlePem: string | undefined) {
  return {
    name: w.name,
    clientConfig: clientConfig(w, endpoint, caBundlePem),
    rules: w.rules.map((r) => ({ ...r, scope: r.scope ?? '*' })),
    failurePolicy: w.failurePolicy,
    matchPolicy: 'Equivalent',
    ...(w.rules.every((r) => r.apiGroups.includes('upm.io'))
      ? { namespaceSelector: {}, matchConditions: [namespaceCondition] }
      : { namespaceSelector }),
    objectSelector: w.objectSelector ?? {},
    sideEffects: 'None',
    timeoutSeconds: w.timeoutSeconds,
    admissionReviewVersions: ['v1'],
    ...(w.type === 'mutating' ? { reinvocationPolicy: w.reinvocationPolicy ?? 'Never' } : {}),
  };
}

export interface Configurations {
  mutating: {
    apiVersion: string;
    kind: string;
    metadata: { name: string; labels: Record<string, string> };
    webhooks: object[];
  };
  validating: {
    apiVersion: string;
    kind: string;
    metadata: { name: string; labels: Record<string, string> };
    webhooks: object[];
  };
}

export function webhookConfigurations(
  webhooks: AdmissionWebhook[],
  endpoint: WebhookEndpoint,
  caBundlePem?: string,
): Configurations {
  const metadata = {
    name: CONFIGURATION_NAME,
    labels: { 'app.kubernetes.io/name': 'upm-webhooks', 'app.kubernetes.io/part-of': 'upm-engine' },
  };
  const apiVersion = 'admissionregistration.k8s.io/v1';
  return {
    mutating: {
      apiVersion,
      kind: 'MutatingWebhookConfiguration',
      metadata,
      webhooks: webhooks.filter((w) => w.type === 'mutating').map((w) => entry(w, endpoint, caBundlePem)),
    },
    validating: {
      apiVersion,
      kind: 'ValidatingWebhookConfiguration',
      metadata,
      webhooks: webhooks.filter((w) => w.type === 'validating').map((w) => entry(w, endpoint, caBundlePem)),
    },
  };
}

type RegistrationAPI = Pick<
  AdmissionregistrationV1Api,
  | 'readMutatingWebhookConfiguration'
  | 'createMutatingWebhookConfiguration'
  | 'replaceMutatingWebhookConfiguration'
  | 'readValidatingWebhookConfiguration'
  | 'createValidatingWebhookConfiguration'
  | 'replaceValidatingWebhookConfiguration'
>;

async function upsert(
  read: () => Promise<{ metadata?: { resourceVersion?: string } }>,
  create: () => Promise<unknown>,
  replace: (resourceVersion: string | undefined) => Promise<unknown>,
): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      let current;
      try {
        current = await read();
      } catch (err) {
        if (!isNotFound(err)) throw err;
        await create();
        return;
      }
      await replace(current.metadata?.resourceVersion);
      return;
    } catch (err) {
      if ((isConflict(err) || isAlreadyExists(err)) && attempt < 5) continue;
      throw err;
    }
  }
}

/** Creates or replaces both configurations (ours entirely: other fields are not merged). */
export async function registerWebhooks(api: RegistrationAPI, configs: Configurations): Promise<void> {
  const name = CONFIGURATION_NAME;
  const m = configs.mutating as never;
  const v = configs.validating as never;
  const withRV = <T extends { metadata: object }>(body: T, rv: string | undefined): T =>
    ({ ...body, metadata: { ...body.metadata, ...(rv ? { resourceVersion: rv } : {}) } }) as T;
  await upsert(
    () => api.readMutatingWebhookConfiguration({ name }),
    () => api.createMutatingWebhookConfiguration({ body: m }),
    (rv) => api.replaceMutatingWebhookConfiguration({ name, body: withRV(configs.mutating, rv) as never }),
  );
  await upsert(
    () => api.readValidatingWebhookConfiguration({ name }),
    () => api.createValidatingWebhookConfiguration({ body: v }),
    (rv) => api.replaceValidatingWebhookConfiguration({ name, body: withRV(configs.validating, rv) as never }),
  );
}
