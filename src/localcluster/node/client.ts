// The node's API clients (@kubernetes/client-node over one keep-alive connection) and the
// request options its writes use.

import {
  CoordinationV1Api,
  CoreV1Api,
  DiscoveryV1Api,
  PatchStrategy,
  setHeaderOptions,
  StorageV1Api,
  type KubeConfig,
} from '@kubernetes/client-node';
import { keepAliveKubeConfig } from '../kubeclient/index.js';

export const mergePatch = () => setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export interface Clients {
  kc: KubeConfig;
  core: CoreV1Api;
  coordination: CoordinationV1Api;
  discovery: DiscoveryV1Api;
  storage: StorageV1Api;
  close(): void;
}

export function makeClients(source: KubeConfig): Clients {
  const { kc, close } = keepAliveKubeConfig(source);
  return {
    kc: source,
    core: kc.makeApiClient(CoreV1Api),
    coordination: kc.makeApiClient(CoordinationV1Api),
    discovery: kc.makeApiClient(DiscoveryV1Api),
    storage: kc.makeApiClient(StorageV1Api),
    close,
  };
}

/** A plain JSON copy of what client-node returns (its Dates become RFC 3339 strings). */
export function plain<T>(v: T): Record<string, any> {
  return JSON.parse(JSON.stringify(v)) as Record<string, any>;
}
