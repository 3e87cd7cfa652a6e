// @kubernetes/client-node helpers shared by the local components that are API clients (the pod
// simulator, the node runtime): loading a kubeconfig given in any form, and one keep-alive
// connection for all requests.

import { Agent as HTTPSAgent } from 'node:https';
import { KubeConfig } from '@kubernetes/client-node';

/** A KubeConfig, a kubeconfig file path, or kubeconfig YAML text. */
export type KubeconfigSource = KubeConfig | string;

export function loadKubeConfig(source: KubeconfigSource): KubeConfig {
  if (source instanceof KubeConfig) return source;
  const kc = new KubeConfig();
  if (source.includes('\n')) kc.loadFromString(source);
  else kc.loadFromFile(source);
  return kc;
}

/**
 * A copy of a KubeConfig whose API clients share one keep-alive HTTPS agent: client-node makes a
 * new agent, hence a new TLS connection, for every request (about 50 ms each against an
 * in-process server), which would make every pod take a second to start.
 */
export function keepAliveKubeConfig(source: KubeConfig): { kc: KubeConfig; close(): void } {
  const kc = new KubeConfig();
  kc.loadFromString(source.exportConfig());
  const apply = kc.applySecurityAuthentication.bind(kc);
  let shared: HTTPSAgent | undefined;
  kc.applySecurityAuthentication = async (context) => {
    await apply(context);
    const fresh = context.getAgent();
    if (fresh instanceof HTTPSAgent && fresh.constructor === HTTPSAgent) {
      shared ??= new HTTPSAgent({ ...(fresh as unknown as { options: object }).options, keepAlive: true });
      fresh.destroy();
      context.setAgent(shared);
    }
  };
  return { kc, close: () => shared?.destroy() };
}
