// The Units a UnitSet wants: `<name>-<ordinal>` for ordinals 0..units-1, each rendered from the
// UnitTemplate with the UnitSet's settings, and the revision (a hash of that rendering) they carry.

import type { OwnerReference } from '../../../machinery/meta.js';
import type { Unit, UnitSet, UnitSpec, UnitTemplate, UnitVolumeClaimTemplate } from '../../../api/generated/types.js';
import {
  ordinalLabel,
  revisionLabel,
  templateHashAnnotation,
  typeLabel,
  unitLabel,
  unitSetLabel,
  versionLabel,
} from '../../../api/labels.js';
import { upmGroup, upmVersion } from '../../../api/common.js';
import { hashOf } from './hash.js';
import { unitName } from './names.js';
import { resolveParameters, type ParameterProblem } from './parameters.js';
import { mainContainerName, unitPodTemplate } from './podtemplate.js';
import { mergeResources } from './resources.js';

const API_VERSION = `${upmGroup}/${upmVersion}`;

/** The controller owner reference of an object the UnitSet (or a Unit) makes. */
export function controllerReference(owner: {
  kind: string;
  metadata: { name?: string; uid?: string };
}): OwnerReference {
  return {
    apiVersion: API_VERSION,
    kind: owner.kind,
    name: owner.metadata.name!,
    uid: owner.metadata.uid!,
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** Hash of what a UnitTemplate says about configuration: file templates and parameter definitions. */
export function templateConfigHash(template: UnitTemplate): string {
  return hashOf({ configFiles: template.spec.configFiles ?? [], parameters: template.spec.parameters ?? [] });
}

export interface UnitTemplateRendering {
  /** The Unit spec shared by every Unit of the set (the per-Unit fields are added by unitsFor). */
  spec: UnitSpec;
  /** Hash of spec and of the template's configuration: status.updateRevision and each Unit's revision label. */
  revision: string;
  templateHash: string;
  /** Parameter overrides that are unknown or out of range; nothing should be created while there are any. */
  problems: ParameterProblem[];
}

/** The Unit spec `unitSet` gives every Unit, and its revision. */
export function renderUnitTemplate(unitSet: UnitSet, template: UnitTemplate): UnitTemplateRendering {
  const { values, problems } = resolveParameters(template, unitSet.spec.config?.parameters);
  const sizes = new Map((unitSet.spec.storage?.volumes ?? []).map((v) => [v.name, v]));
  const claims: UnitVolumeClaimTemplate[] = [];
  for (const volume of template.spec.volumes ?? []) {
    if ((volume.type ?? 'Persistent') !== 'Persistent') continue;
    const override = sizes.get(volume.name);
    const claim: UnitVolumeClaimTemplate = { name: volume.name, size: override?.size ?? volume.size ?? '1Gi' };
    if (override?.storageClassName) claim.storageClassName = override.storageClassName;
    if (override?.accessModes) claim.accessModes = override.accessModes;
    claims.push(claim);
  }
  const spec: UnitSpec = {
    unitTemplate: template.metadata.name!,
    mainContainer: mainContainerName(template),
    podTemplate: unitPodTemplate(unitSet, template),
    config: { parameters: values },
  };
  const resources = mergeResources(template.spec.resources, unitSet.spec.resources);
  if (resources) spec.resources = resources;
  if (claims.length > 0) spec.volumeClaimTemplates = claims;
  const templateHash = templateConfigHash(template);
  return { spec, templateHash, revision: hashOf({ spec, templateHash }), problems };
}

export interface DesiredUnits {
  /** The Units for ordinals 0..spec.units-1, in ordinal order. */
  units: Unit[];
  revision: string;
  problems: ParameterProblem[];
}

/** The Units `unitSet` wants, at its update revision. */
export function unitsFor(unitSet: UnitSet, template: UnitTemplate): DesiredUnits {
  const rendering = renderUnitTemplate(unitSet, template);
  const units: Unit[] = [];
  for (let ordinal = 0; ordinal < unitSet.spec.units; ordinal++) units.push(unitFor(unitSet, rendering, ordinal));
  return { units, revision: rendering.revision, problems: rendering.problems };
}

/** One Unit of `unitSet` from a rendering (see renderUnitTemplate). */
export function unitFor(unitSet: UnitSet, rendering: UnitTemplateRendering, ordinal: number): Unit {
  const setName = unitSet.metadata.name!;
  const name = unitName(setName, ordinal);
  const spec = structuredClone(rendering.spec);
  spec.podTemplate.metadata = {
    ...spec.podTemplate.metadata,
    labels: { ...spec.podTemplate.metadata?.labels, [unitLabel]: name, [ordinalLabel]: String(ordinal) },
  };
  // Claims follow the UnitSet's whenDeleted while the Unit lives; planScale changes it before a scale-down.
  spec.volumeClaimRetentionPolicy = unitSet.spec.storage?.persistentVolumeClaimRetentionPolicy?.whenDeleted ?? 'Retain';
  const userLabels = Object.fromEntries(
    Object.entries(unitSet.metadata.labels ?? {}).filter(([k]) => !k.startsWith('upm.io/')),
  );
  return {
    apiVersion: API_VERSION,
    kind: 'Unit',
    metadata: {
      name,
      namespace: unitSet.metadata.namespace,
      labels: {
        ...userLabels,
        [unitSetLabel]: setName,
        [unitLabel]: name,
        [ordinalLabel]: String(ordinal),
        [typeLabel]: unitSet.spec.type,
        [versionLabel]: unitSet.spec.version,
        [revisionLabel]: rendering.revision,
      },
      annotations: { [templateHashAnnotation]: rendering.templateHash },
      ownerReferences: [controllerReference({ kind: 'UnitSet', metadata: unitSet.metadata })],
    },
    spec,
  };
}
