// Admission's view of the cluster against a real API server (the local control plane's core kinds):
// configurations and namespaces watched, and a kind the cluster does not serve (here
// ValidatingAdmissionPolicy and its bindings, as on kube before 1.30) counted as an empty list.

import { KubeConfig } from '@kubernetes/client-node';
import pino from 'pino';
import { coreRegistrations } from '../../localcluster/kinds/index.js';
import { startTestCluster, type TestCluster } from '../../localcluster/testing/controlplane.js';
import { ClusterAdmissionSource } from './cluster.js';
import { eventually } from '../watchcache/testing/store.js';

const log = pino({ level: 'silent' });

describe('ClusterAdmissionSource', () => {
  let cluster: TestCluster;
  let kc: KubeConfig;

  beforeAll(async () => {
    cluster = await startTestCluster({
      resources: coreRegistrations().filter((r) => !r.definition.kind.startsWith('ValidatingAdmissionPolicy')),
    });
    kc = new KubeConfig();
    kc.loadFromString(cluster.kubeconfigText);
  });
  afterAll(async () => {
    await cluster?.close();
  });

  it('syncs with the kinds not served as empty, then follows webhook configurations and namespaces', async () => {
    const policies = await cluster.call('GET', '/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies');
    expect(policies.status).toBe(404);
    const source = new ClusterAdmissionSource({ kubeconfig: kc, log });
    source.start();
    try {
      await source.whenSynced();
      expect(source.synced).toBe(true);
      expect(source.policies()).toEqual([]);
      expect(source.bindings()).toEqual([]);
      expect(source.namespaceObject('default')?.metadata.name).toBe('default');

      const created = await cluster.call(
        'POST',
        '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations',
        {
          body: {
            apiVersion: 'admissionregistration.k8s.io/v1',
            kind: 'ValidatingWebhookConfiguration',
            metadata: { name: 'check-units' },
            webhooks: [
              {
                name: 'check.units.example.test',
                clientConfig: { url: 'https://127.0.0.1:9/validate' },
                rules: [{ apiGroups: ['upm.io'], apiVersions: ['*'], operations: ['CREATE'], resources: ['unitsets'] }],
                sideEffects: 'None',
                admissionReviewVersions: ['v1'],
              },
            ],
          },
        },
      );
      expect(created.status).toBe(201);
      await eventually(() => source.validating().some((c) => c.metadata.name === 'check-units'), 5_000);
      expect(source.mutating()).toEqual([]);
    } finally {
      await source.stop();
    }
  });
});
