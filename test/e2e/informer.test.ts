// @kubernetes/client-node's informer against `upm-engine local`: it sees creates, updates and
// deletes, and keeps working across a server restart on the same data directory.

import {
  CustomObjectsApi,
  KubeConfig,
  makeInformer,
  PatchStrategy,
  setHeaderOptions,
  type KubernetesListObject,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { cleanup, type Engine, freePort, startEngine, waitFor } from './harness.js';

const group = 'upm.io';
const version = 'v1alpha1';
const plural = 'unitsets';
const namespace = 'default';

function unitSet(name: string, units: number): Record<string, unknown> {
  return {
    apiVersion: 'upm.io/v1alpha1',
    kind: 'UnitSet',
    metadata: { name },
    spec: { type: 'redis', version: '7.0.15', units },
  };
}

describe('client-node informer', () => {
  let engine: Engine;
  let port: number;

  beforeAll(async () => {
    port = await freePort();
    engine = await startEngine({ port });
  });
  afterAll(async () => {
    await engine?.stop();
    if (engine) cleanup(engine);
  });

  it('sees creates, updates and deletes, and keeps working across a server restart', async () => {
    const kc = new KubeConfig();
    kc.loadFromFile(engine.kubeconfig);
    const api = kc.makeApiClient(CustomObjectsApi);
    const informer = makeInformer<KubernetesObject>(
      kc,
      `/apis/${group}/${version}/namespaces/${namespace}/${plural}`,
      () =>
        api.listNamespacedCustomObject({ group, version, namespace, plural }) as Promise<
          KubernetesListObject<KubernetesObject>
        >,
    );
    const events: string[] = [];
    let errors = 0;
    let stopped = false;
    informer.on('add', (o) => events.push(`add:${o.metadata?.name}`));
    informer.on('update', (o) => events.push(`update:${o.metadata?.name}`));
    informer.on('delete', (o) => events.push(`delete:${o.metadata?.name}`));
    // The documented client-node pattern: an informer stops on error and is restarted.
    informer.on('error', () => {
      errors++;
      setTimeout(() => {
        if (!stopped) void informer.start().catch(() => {});
      }, 500);
    });
    await informer.start();
    try {
      await api.createNamespacedCustomObject({ group, version, namespace, plural, body: unitSet('a', 1) });
      await waitFor('add:a', () => events.includes('add:a'));
      await api.patchNamespacedCustomObject(
        { group, version, namespace, plural, name: 'a', body: { spec: { units: 2 } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
      await waitFor('update:a', () => events.includes('update:a'));
      expect((informer.get('a', namespace) as { spec: { units: number } }).spec.units).toBe(2);
      await api.deleteNamespacedCustomObject({ group, version, namespace, plural, name: 'a' });
      await waitFor('delete:a', () => events.includes('delete:a'));

      // Restart the server on the same data dir and port; objects written while it is down
      // cannot exist, so write right after it is back and expect the informer to see it.
      await api.createNamespacedCustomObject({ group, version, namespace, plural, body: unitSet('b', 1) });
      await waitFor('add:b', () => events.includes('add:b'));
      await engine.stop();
      engine = await startEngine({ dataDir: engine.dataDir, port });
      await waitFor('the informer to notice the restart', () => errors > 0, 20_000);
      await api.createNamespacedCustomObject({ group, version, namespace, plural, body: unitSet('c', 3) });
      await waitFor('add:c after restart', () => events.includes('add:c'), 20_000);
      await api.deleteNamespacedCustomObject({ group, version, namespace, plural, name: 'b' });
      await waitFor('delete:b after restart', () => events.includes('delete:b'), 20_000);
      expect(
        informer
          .list(namespace)
          .map((o) => o.metadata?.name)
          .sort(),
      ).toEqual(['c']);
      // b survived the restart (the informer saw it deleted, not re-added as new).
      expect(events.filter((e) => e === 'add:b')).toHaveLength(1);
    } finally {
      stopped = true;
      await informer.stop();
    }
  }, 90_000);
});
