// Admission for the control plane's own resources: the webhook configurations it stores are
// kept in memory by informers and consulted on every write, as kube-apiserver does, so a
// mutating webhook registered here (sidecar injection) changes Pods as they are created.

import type { Logger } from 'pino';
import { AdmissionChain } from '../apiserver/admission/chain.js';
import type { MutatingWebhookConfiguration, ValidatingWebhookConfiguration } from '../apiserver/admission/types.js';
import type { KubeObject } from '../machinery/object.js';
import type { APIRegistry } from '../apiserver/registry/registry.js';
import { StoreInformer } from './auth/informer.js';

function mirror(map: Map<string, KubeObject>) {
  return {
    replace(objects: KubeObject[]) {
      map.clear();
      for (const o of objects) map.set(o.metadata.name ?? '', o);
    },
    upsert(o: KubeObject) {
      map.set(o.metadata.name ?? '', o);
    },
    remove(o: KubeObject) {
      map.delete(o.metadata.name ?? '');
    },
  };
}

export interface WebhookAdmission {
  chain: AdmissionChain;
  synced(): Promise<void>;
  stop(): void;
}

export function startWebhookAdmission(registry: APIRegistry, log: Logger): WebhookAdmission {
  const mutating = new Map<string, KubeObject>();
  const validating = new Map<string, KubeObject>();
  const namespaces = new Map<string, KubeObject>();
  const store = (plural: string, group = 'admissionregistration.k8s.io') => {
    const served = registry.lookup(group, 'v1', plural);
    if (!served) throw new Error(`the control plane does not serve ${plural}`);
    return served.store;
  };
  const informers = [
    new StoreInformer(store('mutatingwebhookconfigurations'), mirror(mutating)),
    new StoreInformer(store('validatingwebhookconfigurations'), mirror(validating)),
    new StoreInformer(store('namespaces', ''), mirror(namespaces)),
  ];
  for (const i of informers) i.start();
  const chain = new AdmissionChain({
    source: {
      mutating: () => [...mutating.values()] as unknown as MutatingWebhookConfiguration[],
      validating: () => [...validating.values()] as unknown as ValidatingWebhookConfiguration[],
    },
    namespaces: {
      namespaceLabels: (name) => namespaces.get(name)?.metadata.labels ?? (namespaces.has(name) ? {} : undefined),
    },
    onEvent: (e) => log.debug({ event: e }, 'admission'),
  });
  registry.setAdmission(chain);
  return {
    chain,
    synced: () => Promise.all(informers.map((i) => i.synced())).then(() => undefined),
    stop() {
      for (const i of informers) i.stop();
      chain.close();
    },
  };
}
