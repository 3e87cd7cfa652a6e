// Namespaces as kube-apiserver and kube-controller-manager keep them: NamespaceLifecycle
// admission for every kind the control plane serves, and the namespace controller that empties a
// deleted namespace (every served group, aggregated ones included) and then removes it.
//
// Use (after the server serves and the system namespaces exist):
//   const namespaces = await startNamespaces(server.registry, { server: server.url, caPem, certPem, keyPem, logger });
//   ...
//   await namespaces.stop();

import type { Logger } from 'pino';
import { NamespaceLifecycle } from '../../apiserver/admission/namespace-lifecycle.js';
import type { APIRegistry } from '../../apiserver/registry/registry.js';
import { isNotFound } from '../../machinery/errors.js';
import { HTTPContentClient, type ClientCredentials } from './client.js';
import { NamespaceController } from './controller.js';

export { HTTPContentClient, type ContentClient, type ContentResource } from './client.js';
export { deleteContent, deletionConditions, kubernetesFinalizer, NamespaceController } from './controller.js';

export interface RunningNamespaces {
  controller: NamespaceController;
  stop(): Promise<void>;
}

/** Installs NamespaceLifecycle on every served resource and starts the namespace controller. */
export async function startNamespaces(
  registry: APIRegistry,
  o: ClientCredentials & { logger: Logger },
): Promise<RunningNamespaces> {
  const namespaces = registry.lookup('', 'v1', 'namespaces');
  if (!namespaces) throw new Error('the control plane does not serve namespaces');
  registry.setNamespaceLifecycle(
    new NamespaceLifecycle(async (name) => {
      try {
        return await namespaces.store.get('', name);
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    }),
  );
  const client = new HTTPContentClient(o);
  const controller = new NamespaceController({ namespaces: namespaces.store, client, logger: o.logger });
  await controller.start();
  return {
    controller,
    async stop() {
      await controller.stop();
      client.close();
    },
  };
}
