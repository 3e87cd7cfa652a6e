// Whether a change reaches a running instance without a restart. One classification for the
// UnitSet controller (old Unit → new Unit: does updating this Unit disrupt it?) and for the Unit
// controller (running Pod → desired Pod: update in place or replace?).
//
// Non-disruptive: labels and annotations, dynamic parameters (the ConfigMap changes, the agent or
// the config-revision annotation tells the instance), volume growth, startup/unservice.
// Disruptive: images, resources, the rest of the Pod spec, parameters that need a restart, config
// file templates.

import type { V1Container, V1Pod, V1PodSpec } from '@kubernetes/client-node';
import { jsonEqual } from '../../../machinery/object.js';
import { quantityValue } from '../../../machinery/quantity.js';
import type { Unit, UnitTemplate } from '../../../api/generated/types.js';
import {
  configRevisionAnnotation,
  restartParametersAnnotation,
  restartRevisionAnnotation,
  revisionLabel,
  templateHashAnnotation,
} from '../../../api/labels.js';
import { parameterDefinitions } from './parameters.js';

export type ChangeReason =
  | 'ImageChanged'
  | 'ResourcesChanged'
  | 'PodSpecChanged'
  | 'RestartParameterChanged'
  | 'ConfigTemplateChanged'
  | 'ConfigChanged'
  | 'DynamicParameterChanged'
  | 'MetadataChanged'
  | 'VolumeExpanded'
  | 'VolumeClaimChanged'
  | 'LifecycleChanged';

export interface Change {
  reason: ChangeReason;
  message: string;
  disruptive: boolean;
}

export interface ChangeClassification {
  /** None: nothing to do. NonDisruptive: update in place. Disruptive: the Pod must be replaced. */
  kind: 'None' | 'NonDisruptive' | 'Disruptive';
  changes: Change[];
  /** Parameters changed that apply online. */
  dynamicParameters: string[];
  /** Parameters changed that need a restart. */
  restartParameters: string[];
  /** Parameters changed that may only be chosen at creation: the change must be refused. */
  immutableParameters: string[];
}

function classification(changes: Change[], extra: Partial<ChangeClassification> = {}): ChangeClassification {
  return {
    kind: changes.length === 0 ? 'None' : changes.some((c) => c.disruptive) ? 'Disruptive' : 'NonDisruptive',
    changes,
    dynamicParameters: [],
    restartParameters: [],
    immutableParameters: [],
    ...extra,
  };
}

function containersOf(spec: unknown): Map<string, V1Container> {
  const s = (spec ?? {}) as V1PodSpec;
  return new Map([...(s.initContainers ?? []), ...(s.containers ?? [])].map((c) => [c.name, c]));
}

function imageChanges(before: unknown, after: unknown): Change[] {
  const old = containersOf(before);
  const out: Change[] = [];
  for (const [name, c] of containersOf(after)) {
    const prev = old.get(name);
    if (prev && prev.image !== c.image) {
      out.push({ reason: 'ImageChanged', message: `${name}: ${prev.image} → ${c.image}`, disruptive: true });
    }
  }
  return out;
}

function sameResources(a: unknown, b: unknown): boolean {
  const norm = (r: unknown) => {
    const x = (r ?? {}) as { limits?: Record<string, unknown>; requests?: Record<string, unknown> };
    const q = (m: Record<string, unknown> | undefined) =>
      Object.fromEntries(Object.entries(m ?? {}).map(([k, v]) => [k, quantityValue(v as string)]));
    return { limits: q(x.limits), requests: q(x.requests) };
  };
  return jsonEqual(norm(a), norm(b));
}

/** The Pod spec without what is reported separately (images, resources). */
function specRest(spec: unknown): unknown {
  const s = structuredClone((spec ?? {}) as V1PodSpec);
  for (const c of [...(s.initContainers ?? []), ...(s.containers ?? [])]) {
    delete c.image;
    delete c.resources;
  }
  return s;
}

/** What changing a Unit from `before` to `after` does to its running instance. */
export function classifyChange(before: Unit, after: Unit, template: UnitTemplate): ChangeClassification {
  const changes: Change[] = [];
  const b = before.spec;
  const a = after.spec;

  changes.push(...imageChanges(b.podTemplate.spec, a.podTemplate.spec));
  const mainName = a.mainContainer ?? template.spec.mainContainer ?? template.spec.type;
  const bMain = containersOf(b.podTemplate.spec).get(mainName);
  const aMain = containersOf(a.podTemplate.spec).get(mainName);
  if (!sameResources(b.resources ?? bMain?.resources, a.resources ?? aMain?.resources)) {
    changes.push({ reason: 'ResourcesChanged', message: `resources of ${mainName}`, disruptive: true });
  }
  if (!jsonEqual(specRest(b.podTemplate.spec), specRest(a.podTemplate.spec)) || b.mainContainer !== a.mainContainer) {
    changes.push({ reason: 'PodSpecChanged', message: 'Pod template spec', disruptive: true });
  }
  // The revision label moves with every change; it is bookkeeping, not a change of its own.
  const unitLabels = (u: Unit) => {
    const labels = { ...u.metadata.labels };
    delete labels[revisionLabel];
    return labels;
  };
  if (
    !jsonEqual(b.podTemplate.metadata ?? {}, a.podTemplate.metadata ?? {}) ||
    !jsonEqual(unitLabels(before), unitLabels(after))
  ) {
    changes.push({ reason: 'MetadataChanged', message: 'labels or annotations', disruptive: false });
  }
  if (before.metadata.annotations?.[templateHashAnnotation] !== after.metadata.annotations?.[templateHashAnnotation]) {
    changes.push({
      reason: 'ConfigTemplateChanged',
      message: 'configuration file templates or parameter definitions',
      disruptive: true,
    });
  }

  const defs = parameterDefinitions(template);
  const oldValues = b.config?.parameters ?? {};
  const newValues = a.config?.parameters ?? {};
  const dynamicParameters: string[] = [];
  const restartParameters: string[] = [];
  const immutableParameters: string[] = [];
  for (const name of [...new Set([...Object.keys(oldValues), ...Object.keys(newValues)])].sort()) {
    if (oldValues[name] === newValues[name]) continue;
    const def = defs.get(name);
    if (def?.immutable) immutableParameters.push(name);
    if (def?.dynamic) dynamicParameters.push(name);
    else restartParameters.push(name);
  }
  if (dynamicParameters.length > 0) {
    changes.push({ reason: 'DynamicParameterChanged', message: dynamicParameters.join(', '), disruptive: false });
  }
  if (restartParameters.length > 0) {
    changes.push({ reason: 'RestartParameterChanged', message: restartParameters.join(', '), disruptive: true });
  }

  const oldClaims = new Map((b.volumeClaimTemplates ?? []).map((c) => [c.name, c]));
  for (const claim of a.volumeClaimTemplates ?? []) {
    const prev = oldClaims.get(claim.name);
    if (!prev) {
      changes.push({ reason: 'VolumeClaimChanged', message: `volume ${claim.name} added`, disruptive: true });
      continue;
    }
    if (quantityValue(claim.size) > quantityValue(prev.size)) {
      changes.push({
        reason: 'VolumeExpanded',
        message: `${claim.name}: ${prev.size} → ${claim.size}`,
        disruptive: false,
      });
    } else if (
      !jsonEqual({ ...prev, size: 0 }, { ...claim, size: 0 }) ||
      quantityValue(claim.size) < quantityValue(prev.size)
    ) {
      // Claims cannot shrink or change class: reported, the claim itself stays as it is.
      changes.push({
        reason: 'VolumeClaimChanged',
        message: `volume ${claim.name} cannot change this way`,
        disruptive: false,
      });
    }
  }
  if (
    b.startup !== a.startup ||
    b.unservice !== a.unservice ||
    b.volumeClaimRetentionPolicy !== a.volumeClaimRetentionPolicy
  ) {
    changes.push({ reason: 'LifecycleChanged', message: 'startup, unservice or claim retention', disruptive: false });
  }
  return classification(changes, { dynamicParameters, restartParameters, immutableParameters });
}

function parseParameters(text: string | undefined): Record<string, string> {
  if (!text) return {};
  try {
    const v = JSON.parse(text) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, string>) : {};
  } catch {
    return {};
  }
}

/**
 * What it takes to turn the running `current` Pod into `desired` (both from pod()): replace it
 * when its restart revision differs (spec, images, resources, restart parameters, config
 * templates), else update labels, annotations and the config revision in place.
 */
export function classifyPodChange(current: V1Pod, desired: V1Pod): ChangeClassification {
  const changes: Change[] = [];
  const cur = current.metadata?.annotations ?? {};
  const des = desired.metadata?.annotations ?? {};
  const restartParameters: string[] = [];
  if (cur[restartRevisionAnnotation] !== des[restartRevisionAnnotation]) {
    const images = imageChanges(current.spec, desired.spec);
    changes.push(...images);
    const curC = containersOf(current.spec);
    for (const [name, c] of containersOf(desired.spec)) {
      if (curC.has(name) && !sameResources(curC.get(name)!.resources, c.resources)) {
        changes.push({ reason: 'ResourcesChanged', message: `resources of ${name}`, disruptive: true });
      }
    }
    const before = parseParameters(cur[restartParametersAnnotation]);
    const after = parseParameters(des[restartParametersAnnotation]);
    for (const name of [...new Set([...Object.keys(before), ...Object.keys(after)])].sort()) {
      if (before[name] !== after[name]) restartParameters.push(name);
    }
    if (restartParameters.length > 0) {
      changes.push({ reason: 'RestartParameterChanged', message: restartParameters.join(', '), disruptive: true });
    }
    const [curSpec, curConfig] = (cur[restartRevisionAnnotation] ?? '-').split('-');
    const [desSpec, desConfig] = (des[restartRevisionAnnotation] ?? '-').split('-');
    if (curSpec !== desSpec && images.length === 0 && !changes.some((c) => c.reason === 'ResourcesChanged')) {
      changes.push({ reason: 'PodSpecChanged', message: 'Pod spec', disruptive: true });
    }
    if (curConfig !== desConfig && restartParameters.length === 0) {
      changes.push({
        reason: 'ConfigTemplateChanged',
        message: 'configuration that needs a restart',
        disruptive: true,
      });
    }
    if (!changes.some((c) => c.disruptive)) {
      changes.push({ reason: 'PodSpecChanged', message: 'restart revision', disruptive: true });
    }
  }
  if (cur[configRevisionAnnotation] !== des[configRevisionAnnotation]) {
    changes.push({ reason: 'ConfigChanged', message: 'configuration files', disruptive: false });
  }
  const meta = (p: V1Pod) => {
    const annotations = { ...p.metadata?.annotations };
    for (const k of [configRevisionAnnotation, restartRevisionAnnotation, restartParametersAnnotation])
      delete annotations[k];
    return { labels: p.metadata?.labels ?? {}, annotations };
  };
  const desiredMeta = meta(desired);
  const currentMeta = meta(current);
  // Only what the controller sets counts: others (the role label, kubectl annotations) may add more.
  const subset = (want: Record<string, string>, have: Record<string, string>) =>
    Object.entries(want).every(([k, v]) => have[k] === v);
  if (!subset(desiredMeta.labels, currentMeta.labels) || !subset(desiredMeta.annotations, currentMeta.annotations)) {
    changes.push({ reason: 'MetadataChanged', message: 'labels or annotations', disruptive: false });
  }
  return classification(changes, { restartParameters });
}
