import type { UnitSet, UnitTemplate } from '../../../api/generated/types.js';
import { generatedCredentialSecrets } from './credentials.js';

const template = {
  metadata: { name: 't' },
  spec: {
    credentials: [{ name: 'admin', defaultUsername: 'root' }, { name: 'monitor' }, { name: 'replication' }],
  },
} as unknown as UnitTemplate;

const unitSet = (spec: Partial<UnitSet['spec']> = {}): UnitSet =>
  ({
    apiVersion: 'upm.io/v1alpha1',
    kind: 'UnitSet',
    metadata: { name: 'orders', namespace: 'shop', uid: 'u-1' },
    spec: { type: 'mariadb', version: '10.11.8', units: 3, ...spec },
  }) as UnitSet;

describe('generatedCredentialSecrets', () => {
  it('generates one Secret per declared account the UnitSet does not bring itself', () => {
    let n = 0;
    const secrets = generatedCredentialSecrets(
      unitSet({ credentials: [{ name: 'monitor', secretRef: { name: 'my-monitor' } }] }),
      template,
      () => `pw${n++}`,
    );
    expect(secrets.map((s) => [s.metadata!.name, s.stringData])).toEqual([
      ['orders-admin', { username: 'root', password: 'pw0' }],
      ['orders-replication', { username: 'replication', password: 'pw1' }],
    ]);
    expect(secrets[0].metadata!.labels).toEqual({ 'upm.io/unitset': 'orders' });
  });

  it('ties the Secrets to the UnitSet only when its data goes with it', () => {
    const kept = generatedCredentialSecrets(unitSet(), template, () => 'x');
    expect(kept[0].metadata!.ownerReferences).toBeUndefined();
    const deleted = generatedCredentialSecrets(
      unitSet({ storage: { persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Delete' } } }),
      template,
      () => 'x',
    );
    expect(deleted[0].metadata!.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'UnitSet', name: 'orders', uid: 'u-1', controller: true }),
    ]);
  });
});
