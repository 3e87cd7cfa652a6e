// The Secrets Cube generates for the accounts a UnitTemplate declares.

import type { V1Secret } from '@kubernetes/client-node';
import type { UnitSet, UnitTemplate } from '../../../api/generated/types.js';
import { unitSetLabel } from '../../../api/labels.js';
import { generatedCredentialSecretName } from './names.js';
import { controllerReference } from './units.js';

/**
 * The Secrets to generate for `unitSet`: one per credential of the template that the UnitSet
 * does not point at a Secret of its own, with the template's default user name and `password`
 * (a random one the caller supplies: builders stay pure). The Secret follows the data: owned by
 * the UnitSet only when its claims are deleted with it, else kept, so a UnitSet recreated over
 * retained volumes finds the password its data was made with.
 */
export function generatedCredentialSecrets(
  unitSet: UnitSet,
  template: UnitTemplate,
  password: () => string,
): V1Secret[] {
  const owned = unitSet.spec.storage?.persistentVolumeClaimRetentionPolicy?.whenDeleted === 'Delete';
  return (template.spec.credentials ?? [])
    .filter((c) => !unitSet.spec.credentials?.some((own) => own.name === c.name && own.secretRef?.name))
    .map((c) => ({
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'Opaque',
      metadata: {
        name: generatedCredentialSecretName(unitSet.metadata.name!, c.name),
        namespace: unitSet.metadata.namespace,
        labels: { [unitSetLabel]: unitSet.metadata.name! },
        ...(owned ? { ownerReferences: [controllerReference({ kind: 'UnitSet', metadata: unitSet.metadata })] } : {}),
      },
      stringData: { username: c.defaultUsername ?? c.name, password: password() },
    }));
}
