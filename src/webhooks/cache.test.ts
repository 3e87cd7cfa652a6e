// The webhooks' cluster cache against a real API server (the local control plane's core kinds,
// which do not serve upm.io): what has listed is read from memory and follows changes; a kind the
// API does not serve stays unavailable, so that the webhook configuration's failurePolicy decides.

import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import pino from 'pino';
import { startTestCluster, type TestCluster } from '../localcluster/testing/controlplane.js';
import { ClusterCache } from './cache.js';
import { StateUnavailableError } from './state.js';
import { eventually } from '../apiserver/watchcache/testing/store.js';

const log = pino({ level: 'silent' });

describe('ClusterCache', () => {
  let cluster: TestCluster;
  let kc: KubeConfig;

  beforeAll(async () => {
    cluster = await startTestCluster();
    kc = new KubeConfig();
    kc.loadFromString(cluster.kubeconfigText);
  });
  afterAll(async () => {
    await cluster?.close();
  });

  it('follows namespace labels from memory; upm.io kinds the API does not serve stay unavailable', async () => {
    const cache = new ClusterCache({ kubeconfig: kc, log });
    cache.start();
    try {
      await eventually(() => !cache.unsynced().includes('namespaces'), 5_000);
      expect(cache.namespaceLabels('no-such-namespace')).toBeUndefined();
      await kc.makeApiClient(CoreV1Api).createNamespace({
        body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'cache-a', labels: { team: 'a' } } },
      });
      await eventually(() => cache.namespaceLabels('cache-a')?.['team'] === 'a', 5_000);

      expect(cache.synced).toBe(false);
      expect(cache.unsynced()).toEqual(['unittemplates', 'sidecarsets']);
      expect(() => cache.unitTemplates()).toThrow(StateUnavailableError);
      expect(() => cache.sidecarSets()).toThrow('the cache of sidecarsets has not synced yet');
      await expect(cache.waitForSync(300)).rejects.toThrow('not synced within 300 ms: unittemplates, sidecarsets');
    } finally {
      await cache.stop();
    }
  });
});
