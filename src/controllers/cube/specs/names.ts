// Names of the objects a UnitSet and its Units own, in one place.

/** `<unitset>-<ordinal>`. */
export function unitName(unitSetName: string, ordinal: number): string {
  return `${unitSetName}-${ordinal}`;
}

/** The ordinal of `unitName` in the UnitSet `unitSetName`, or undefined when the name is not `<unitset>-<n>`. */
export function ordinalOf(unitSetName: string, unitName: string): number | undefined {
  const prefix = `${unitSetName}-`;
  if (!unitName.startsWith(prefix)) return undefined;
  const rest = unitName.slice(prefix.length);
  if (!/^(0|[1-9][0-9]{0,8})$/.test(rest)) return undefined;
  return Number(rest);
}

/** The headless Service giving every Unit the DNS name `<unit>.<unitset>-headless.<namespace>.svc`. */
export function headlessServiceName(unitSetName: string): string {
  return `${unitSetName}-headless`;
}

/** The client Service selecting every Unit in service (services.external). */
export function clientServiceName(unitSetName: string): string {
  return unitSetName;
}

/** The per-Unit Service (services.perUnit): named like the Unit. */
export function unitServiceName(unitName: string): string {
  return unitName;
}

/** The PodDisruptionBudget of a UnitSet. */
export function podDisruptionBudgetName(unitSetName: string): string {
  return unitSetName;
}

/** The PersistentVolumeClaim of one volume of a Unit. */
export function claimName(unitName: string, volumeName: string): string {
  return `${unitName}-${volumeName}`;
}

/** The ConfigMap holding the rendered configuration files of a Unit. */
export function configMapName(unitName: string): string {
  return `${unitName}-config`;
}

/** The Secret generated for a credential the UnitSet does not name. */
export function generatedCredentialSecretName(unitSetName: string, credential: string): string {
  return `${unitSetName}-${credential}`;
}

/** Stable DNS name of a Unit (status.address). Without a UnitSet, the Pod has no subdomain. */
export function unitAddress(unitName: string, unitSetName: string | undefined, namespace: string): string {
  return unitSetName
    ? `${unitName}.${headlessServiceName(unitSetName)}.${namespace}.svc`
    : `${unitName}.${namespace}.svc`;
}

/** Directory a credential Secret is mounted at in every container. */
export function credentialMountPath(credential: string): string {
  return `/etc/upm/credentials/${credential}`;
}
