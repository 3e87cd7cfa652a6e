// The admission plugins of this server in kube-apiserver's order (k8s.io/apiserver
// pkg/server/options/admission.go): MutatingAdmissionWebhook in the mutating phase, then (after
// the kind's own defaulting and validation, in the registry) ValidatingAdmissionPolicy and
// ValidatingAdmissionWebhook. The configurations come from the cluster this server is
// aggregated into, watched (cluster.ts): kube-apiserver does not run admission for requests it
// proxies to an aggregated server, so this server does.

import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { serviceUnavailable } from '../../machinery/errors.js';
import type { KubeObject } from '../../machinery/object.js';
import { AdmissionChain, type AdmitResult, type ValidateResult } from './chain.js';
import type { ServiceResolver } from './client.js';
import { ClusterAdmissionSource } from './cluster.js';
import { PolicyValidator } from './policy/validator.js';
import type { AdmissionAttributes } from './types.js';

export type AdmissionPluginName =
  'NamespaceLifecycle' | 'MutatingAdmissionWebhook' | 'ValidatingAdmissionPolicy' | 'ValidatingAdmissionWebhook';
/** In kube's order; NamespaceLifecycle (namespace-lifecycle.ts) runs in the registry before the others. */
export const admissionPluginNames: readonly AdmissionPluginName[] = [
  'NamespaceLifecycle',
  'MutatingAdmissionWebhook',
  'ValidatingAdmissionPolicy',
  'ValidatingAdmissionWebhook',
];

export interface AdmissionPluginsOptions {
  webhooks: AdmissionChain;
  policies?: PolicyValidator;
  disabled?: ReadonlySet<AdmissionPluginName>;
  /** Resolves when the configurations are loaded; admission waits for it (up to readyTimeoutMs). */
  ready?: () => Promise<void>;
  readyTimeoutMs?: number;
}

/** What the registry's admission hook (registry/admission-hook.ts) asks for, structurally. */
export class AdmissionPlugins {
  private loaded = false;

  constructor(private readonly o: AdmissionPluginsOptions) {}

  private async ready(): Promise<void> {
    if (this.loaded || !this.o.ready) return;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.o.ready(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                serviceUnavailable('admission is not ready: the webhook and policy configurations are still loading'),
              ),
            this.o.readyTimeoutMs ?? 10_000,
          );
        }),
      ]);
      this.loaded = true;
    } finally {
      clearTimeout(timer);
    }
  }

  private enabled(name: AdmissionPluginName): boolean {
    return !this.o.disabled?.has(name);
  }

  async admit(attrs: AdmissionAttributes): Promise<AdmitResult | { object: KubeObject | null }> {
    if (!this.enabled('MutatingAdmissionWebhook')) return { object: attrs.object ?? null };
    await this.ready();
    return this.o.webhooks.admit(attrs);
  }

  async validate(attrs: AdmissionAttributes): Promise<ValidateResult | undefined> {
    await this.ready();
    if (this.o.policies && this.enabled('ValidatingAdmissionPolicy')) await this.o.policies.validate(attrs);
    if (!this.enabled('ValidatingAdmissionWebhook')) return undefined;
    return this.o.webhooks.validate(attrs);
  }
}

export interface ClusterAdmissionOptions {
  kubeconfig: KubeConfig;
  log: Logger;
  disabled?: ReadonlySet<AdmissionPluginName>;
  /** How webhook Services are dialled (default: their cluster DNS names). */
  resolveService?: ServiceResolver;
}

export interface ClusterAdmission {
  hook: AdmissionPlugins;
  source: ClusterAdmissionSource;
  stop(): Promise<void>;
}

/** Admission from the cluster's webhook configurations and policies, watched through `kubeconfig`. */
export function startClusterAdmission(o: ClusterAdmissionOptions): ClusterAdmission {
  const source = new ClusterAdmissionSource({ kubeconfig: o.kubeconfig, log: o.log });
  source.start();
  const webhooks = new AdmissionChain({
    source,
    namespaces: source,
    resolveService: o.resolveService,
    onEvent: (e) => o.log.debug({ event: e }, 'admission'),
  });
  const policies = new PolicyValidator({
    source,
    params: source,
    namespaceLabels: (name) => source.namespaceLabels(name),
    namespaceObject: (name) => source.namespaceObject(name),
  });
  const hook = new AdmissionPlugins({ webhooks, policies, disabled: o.disabled, ready: () => source.whenSynced() });
  return {
    hook,
    source,
    async stop() {
      webhooks.close();
      await source.stop();
    },
  };
}
