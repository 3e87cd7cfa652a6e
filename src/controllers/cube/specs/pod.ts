// The Pod of a Unit and its PersistentVolumeClaims.

import type {
  V1Container,
  V1EnvVar,
  V1PersistentVolumeClaim,
  V1Pod,
  V1PodSpec,
  V1ResourceRequirements,
  V1Volume,
} from '@kubernetes/client-node';
import type { OwnerReference } from '../../../machinery/meta.js';
import type { Unit, UnitTemplate } from '../../../api/generated/types.js';
import {
  configRevisionAnnotation,
  inServiceLabel,
  ordinalLabel,
  restartParametersAnnotation,
  restartRevisionAnnotation,
  unitLabel,
  unitSetLabel,
  volumeLabel,
} from '../../../api/labels.js';
import type { RenderedConfig } from './config.js';
import { canonicalJson, hashOf } from './hash.js';
import { claimName, configMapName, headlessServiceName } from './names.js';
import { mainContainerName } from './podtemplate.js';
import { controllerReference } from './units.js';

/** Environment every container of a Unit's Pod gets first, so later variables can use $(POD_IP) and the rest. */
export function downwardEnv(unit: Unit): V1EnvVar[] {
  const labels = unit.metadata.labels ?? {};
  const env: V1EnvVar[] = [
    { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
    { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
    { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
    { name: 'UNIT_NAME', value: unit.metadata.name! },
  ];
  if (labels[ordinalLabel] !== undefined) env.push({ name: 'UNIT_ORDINAL', value: labels[ordinalLabel] });
  if (labels[unitSetLabel] !== undefined) env.push({ name: 'UNITSET_NAME', value: labels[unitSetLabel] });
  return env;
}

/** Name of the Pod volume holding the config files written to the n-th distinct mount path. */
export function configVolumeName(index: number): string {
  return index === 0 ? 'upm-config' : `upm-config-${index}`;
}

/**
 * The Pod of `unit`: its Pod template with the main container's resources, the claims, the config
 * files (one ConfigMap volume per directory, so kubelet refreshes them in place), the downward-API
 * environment, identity labels and the revision annotations classifyPodChange compares.
 */
export function pod(unit: Unit, template: UnitTemplate, config: RenderedConfig): V1Pod {
  const name = unit.metadata.name!;
  const unitSet = unit.metadata.labels?.[unitSetLabel];
  const spec = structuredClone(unit.spec.podTemplate.spec) as unknown as V1PodSpec;
  const main = unit.spec.mainContainer ?? mainContainerName(template);
  const agent = template.spec.agent?.container ?? 'unit-agent';

  spec.hostname = name;
  if (unitSet) spec.subdomain = headlessServiceName(unitSet);

  const volumes: V1Volume[] = (spec.volumes ?? []).filter(
    (v) => !(unit.spec.volumeClaimTemplates ?? []).some((c) => c.name === v.name),
  );
  for (const claim of unit.spec.volumeClaimTemplates ?? []) {
    volumes.push({ name: claim.name, persistentVolumeClaim: { claimName: claimName(name, claim.name) } });
  }
  const dirs = [...new Set((template.spec.configFiles ?? []).map((f) => f.mountPath))];
  const configMounts = dirs.map((dir, i) => ({ name: configVolumeName(i), mountPath: dir, readOnly: true }));
  dirs.forEach((dir, i) => {
    const files = (template.spec.configFiles ?? []).filter((f) => f.mountPath === dir);
    volumes.push({
      name: configVolumeName(i),
      configMap: { name: configMapName(name), items: files.map((f) => ({ key: f.name, path: f.name })) },
    });
  });
  if (volumes.length > 0) spec.volumes = volumes;

  const env = downwardEnv(unit);
  const dress = (c: V1Container): V1Container => {
    const own = new Set((c.env ?? []).map((v) => v.name));
    const out: V1Container = { ...c, env: [...env.filter((v) => !own.has(v.name)), ...(c.env ?? [])] };
    if (c.name === main || c.name === agent) {
      out.volumeMounts = [
        ...(c.volumeMounts ?? []).filter((m) => !configMounts.some((x) => x.name === m.name)),
        ...configMounts,
      ];
    }
    if (c.name === main && unit.spec.resources)
      out.resources = structuredClone(unit.spec.resources) as V1ResourceRequirements;
    return out;
  };
  spec.containers = (spec.containers ?? []).map(dress);
  if (spec.initContainers) spec.initContainers = spec.initContainers.map(dress);

  const labels: Record<string, string> = { ...unit.spec.podTemplate.metadata?.labels, [unitLabel]: name };
  if (unitSet) labels[unitSetLabel] = unitSet;
  if (!unit.spec.unservice) labels[inServiceLabel] = 'true';
  else delete labels[inServiceLabel];

  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: unit.metadata.namespace,
      labels,
      annotations: {
        ...unit.spec.podTemplate.metadata?.annotations,
        [configRevisionAnnotation]: config.revision,
        [restartRevisionAnnotation]: `${hashOf(spec)}-${config.restartRevision}`,
        [restartParametersAnnotation]: canonicalJson(config.restartParameters),
      },
      ownerReferences: [controllerReference(unit)],
    },
    spec,
  };
}

/**
 * The claims of `unit`, `<unit>-<volume>`. They are owned by the Unit (and deleted with it) only
 * when its volumeClaimRetentionPolicy is Delete; otherwise they have no owner and outlive it.
 */
export function pvcs(unit: Unit): V1PersistentVolumeClaim[] {
  const name = unit.metadata.name!;
  const unitSet = unit.metadata.labels?.[unitSetLabel];
  return (unit.spec.volumeClaimTemplates ?? []).map((claim) => {
    const labels: Record<string, string> = { [unitLabel]: name, [volumeLabel]: claim.name };
    if (unitSet) labels[unitSetLabel] = unitSet;
    const pvc: V1PersistentVolumeClaim = {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name: claimName(name, claim.name), namespace: unit.metadata.namespace, labels },
      spec: {
        accessModes: claim.accessModes ?? ['ReadWriteOnce'],
        resources: { requests: { storage: String(claim.size) } },
      },
    };
    if (claim.storageClassName) pvc.spec!.storageClassName = claim.storageClassName;
    if (unit.spec.volumeClaimRetentionPolicy === 'Delete') pvc.metadata!.ownerReferences = [claimOwner(unit)];
    return pvc;
  });
}

function claimOwner(unit: Unit): OwnerReference {
  // Not a controller reference: the claim may also be owned by something else (a restore job).
  return { ...controllerReference(unit), controller: false };
}

/**
 * The owner references an existing claim of `unit` should have under its current retention
 * policy: the Unit's reference added (Delete) or removed (Retain); other owners are kept.
 */
export function claimOwnerReferences(unit: Unit, existing: readonly OwnerReference[] | undefined): OwnerReference[] {
  const others = (existing ?? []).filter((r) => r.uid !== unit.metadata.uid);
  return unit.spec.volumeClaimRetentionPolicy === 'Delete' ? [...others, claimOwner(unit)] : others;
}
