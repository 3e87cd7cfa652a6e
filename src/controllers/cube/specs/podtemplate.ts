// The Pod template of a UnitSet's Units: the UnitTemplate's, with the UnitSet settings merged in
// (never replacing what the template says): volumes and their mounts, credential Secrets, env,
// the exporter, scheduling and Pod metadata. Identical for every Unit of the set; what differs per
// Unit (claim names, hostname, downward-API env) is added when the Pod is built (pod.ts).

import type {
  V1Affinity,
  V1Container,
  V1EnvVar,
  V1NodeSelectorRequirement,
  V1PodAffinityTerm,
  V1PodSpec,
  V1Toleration,
  V1Volume,
  V1VolumeMount,
} from '@kubernetes/client-node';
import type { PodTemplate, UnitSet, UnitTemplate } from '../../../api/generated/types.js';
import { defaultContainerAnnotation, typeLabel, unitSetLabel, versionLabel } from '../../../api/labels.js';
import { canonicalJson } from './hash.js';
import { credentialMountPath, generatedCredentialSecretName } from './names.js';

/** The container running the service: spec.mainContainer, else the container named after the type. */
export function mainContainerName(template: UnitTemplate): string {
  return template.spec.mainContainer ?? template.spec.type;
}

/** Name of the Pod volume holding a credential Secret. */
export function credentialVolumeName(credential: string): string {
  return `credentials-${credential}`;
}

/** The Secret and keys a credential of the template is read from, for a UnitSet. */
export function credentialSecret(
  unitSet: UnitSet,
  credential: string,
): { name: string; usernameKey: string; passwordKey: string } {
  const ref = unitSet.spec.credentials?.find((c) => c.name === credential)?.secretRef;
  return {
    name: ref?.name ?? generatedCredentialSecretName(unitSet.metadata.name!, credential),
    usernameKey: ref?.usernameKey ?? 'username',
    passwordKey: ref?.passwordKey ?? 'password',
  };
}

/** The Pod template every Unit of `unitSet` gets. */
export function unitPodTemplate(unitSet: UnitSet, template: UnitTemplate): PodTemplate {
  const base = structuredClone(template.spec.podTemplate);
  const spec = base.spec as unknown as V1PodSpec;
  spec.containers = [...(spec.containers ?? [])];
  const main = mainContainerName(template);

  const exporter = template.spec.exporter;
  const exporterSettings = unitSet.spec.monitoring?.exporter;
  if (
    exporter &&
    exporterSettings?.enabled !== false &&
    !spec.containers.some((c) => c.name === exporter.container.name)
  ) {
    const container = structuredClone(exporter.container) as unknown as V1Container;
    if (exporterSettings?.resources)
      container.resources = structuredClone(exporterSettings.resources) as V1Container['resources'];
    spec.containers.push(container);
  }

  const volumes: V1Volume[] = [...(spec.volumes ?? [])];
  const mounts: V1VolumeMount[] = [];
  const env: V1EnvVar[] = [];
  for (const volume of template.spec.volumes ?? []) {
    // Persistent volumes are added per Unit (the claim name has the Unit's name).
    if (volume.type === 'EmptyDir') {
      volumes.push({
        name: volume.name,
        emptyDir: volume.size === undefined ? {} : { sizeLimit: String(volume.size) },
      });
    }
    mounts.push({ name: volume.name, mountPath: volume.mountPath });
    if (volume.mountPathEnv) env.push({ name: volume.mountPathEnv, value: volume.mountPath });
  }
  for (const credential of template.spec.credentials ?? []) {
    const secret = credentialSecret(unitSet, credential.name);
    volumes.push({
      name: credentialVolumeName(credential.name),
      secret: {
        secretName: secret.name,
        items: [
          { key: secret.usernameKey, path: 'username' },
          { key: secret.passwordKey, path: 'password' },
        ],
      },
    });
    mounts.push({
      name: credentialVolumeName(credential.name),
      mountPath: credentialMountPath(credential.name),
      readOnly: true,
    });
    if (credential.usernameEnv) {
      env.push({
        name: credential.usernameEnv,
        valueFrom: { secretKeyRef: { name: secret.name, key: secret.usernameKey } },
      });
    }
  }
  if (volumes.length > 0) spec.volumes = volumes;

  const unitSetEnv = (unitSet.spec.env ?? []) as V1EnvVar[];
  const dress = (c: V1Container): V1Container => ({
    ...c,
    env: mergeEnv(mergeEnv(c.env, env), unitSetEnv),
    volumeMounts: mergeMounts(c.volumeMounts, mounts),
  });
  spec.containers = spec.containers.map(dress);
  if (spec.initContainers) spec.initContainers = spec.initContainers.map(dress);

  applyScheduling(spec, unitSet);

  const name = unitSet.metadata.name!;
  base.metadata = {
    labels: {
      ...base.metadata?.labels,
      ...unitSet.spec.podMetadata?.labels,
      [unitSetLabel]: name,
      [typeLabel]: unitSet.spec.type,
      [versionLabel]: unitSet.spec.version,
    },
    annotations: {
      ...base.metadata?.annotations,
      ...unitSet.spec.podMetadata?.annotations,
      [defaultContainerAnnotation]: main,
    },
  };
  base.spec = spec as unknown as Record<string, unknown>;
  return base;
}

/** `extra` added to `env`: a variable of the same name is replaced in place, others appended. */
export function mergeEnv(env: V1EnvVar[] | undefined, extra: V1EnvVar[]): V1EnvVar[] | undefined {
  if (extra.length === 0) return env;
  const out = [...(env ?? [])];
  for (const v of extra) {
    const i = out.findIndex((e) => e.name === v.name);
    if (i >= 0) out[i] = v;
    else out.push(v);
  }
  return out;
}

/** `extra` mounts added unless the container already mounts a volume of that name. */
function mergeMounts(mounts: V1VolumeMount[] | undefined, extra: V1VolumeMount[]): V1VolumeMount[] | undefined {
  if (extra.length === 0) return mounts;
  const out = [...(mounts ?? [])];
  for (const m of extra) if (!out.some((x) => x.name === m.name)) out.push(m);
  return out;
}

function applyScheduling(spec: V1PodSpec, unitSet: UnitSet): void {
  const scheduling = unitSet.spec.scheduling ?? {};
  const affinity: V1Affinity = structuredClone(spec.affinity ?? {});
  const antiAffinity = scheduling.podAntiAffinity ?? 'Preferred';
  if (antiAffinity !== 'None') {
    const term: V1PodAffinityTerm = {
      labelSelector: { matchLabels: { [unitSetLabel]: unitSet.metadata.name! } },
      topologyKey: scheduling.topologyKey ?? 'kubernetes.io/hostname',
    };
    const pod = (affinity.podAntiAffinity ??= {});
    if (antiAffinity === 'Required') {
      pod.requiredDuringSchedulingIgnoredDuringExecution = [
        ...(pod.requiredDuringSchedulingIgnoredDuringExecution ?? []),
        term,
      ];
    } else {
      pod.preferredDuringSchedulingIgnoredDuringExecution = [
        ...(pod.preferredDuringSchedulingIgnoredDuringExecution ?? []),
        { weight: 100, podAffinityTerm: term },
      ];
    }
  }
  const requirements = (scheduling.nodeAffinity ?? []) as V1NodeSelectorRequirement[];
  if (requirements.length > 0) {
    // ANDed with the template's node affinity: added to each of its (ORed) terms.
    const node = (affinity.nodeAffinity ??= {});
    const required = (node.requiredDuringSchedulingIgnoredDuringExecution ??= { nodeSelectorTerms: [] });
    if (required.nodeSelectorTerms.length === 0) required.nodeSelectorTerms.push({});
    required.nodeSelectorTerms = required.nodeSelectorTerms.map((t) => ({
      ...t,
      matchExpressions: [...(t.matchExpressions ?? []), ...requirements],
    }));
  }
  if (Object.keys(affinity).length > 0) spec.affinity = affinity;
  const tolerations = (scheduling.tolerations ?? []) as V1Toleration[];
  if (tolerations.length > 0) {
    const seen = new Set((spec.tolerations ?? []).map(canonicalJson));
    spec.tolerations = [...(spec.tolerations ?? []), ...tolerations.filter((t) => !seen.has(canonicalJson(t)))];
  }
  if (scheduling.priorityClassName) spec.priorityClassName = scheduling.priorityClassName;
}
