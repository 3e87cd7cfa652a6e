// SidecarSets as Pods see them: which Pods a SidecarSet injects into, the revision of what it
// injects, and the annotations that opt a Pod in or out and record what was injected. The
// injection webhook and a SidecarSet controller share these.

import { createHash } from 'node:crypto';
import { labelSelectorMatcher } from '../machinery/labels.js';
import type { SidecarSetSpec } from './generated/types.js';
import { unitLabel, unitSetLabel, typeLabel, versionLabel } from './labels.js';

/** On a Pod: "false" opts out of injection; "true" opts a Pod that is not a Unit's in. */
export const injectAnnotation = 'sidecarset.upm.io/inject';
/** On a Pod: comma-separated SidecarSet names that must not inject (UnitSet spec.sidecars.exclude). */
export const excludeAnnotation = 'sidecarset.upm.io/exclude';
/** On a Pod: JSON object, SidecarSet name → InjectionRecord, written by the injector. */
export const injectedAnnotation = 'sidecarset.upm.io/injected';

/** What one SidecarSet injected into a Pod. */
export interface InjectionRecord {
  revision: string;
  containers: string[];
  initContainers?: string[];
  volumes?: string[];
}

/** The revision of a SidecarSet: a hash of what it injects (containers, init containers, volumes). */
export function sidecarSetRevision(spec: Pick<SidecarSetSpec, 'containers' | 'initContainers' | 'volumes'>): string {
  const canonical = JSON.stringify(sortKeys([spec.containers ?? [], spec.initContainers ?? [], spec.volumes ?? []]));
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16);
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object')
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
    );
  return v;
}

/** The injection records of a Pod (empty when the annotation is absent or not a JSON object). */
export function injectionRecords(annotations: Record<string, string> | undefined): Record<string, InjectionRecord> {
  const raw = annotations?.[injectedAnnotation];
  if (!raw) return {};
  try {
    const parsed = JSON.parse(raw) as unknown;
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed)
      ? (parsed as Record<string, InjectionRecord>)
      : {};
  } catch {
    return {};
  }
}

/**
 * Whether a SidecarSet's selectors match a Pod with these labels in a namespace with these
 * labels. Throws when a selector is invalid (a SidecarSet that was stored invalid).
 */
export function sidecarSetMatchesPod(
  spec: Pick<SidecarSetSpec, 'selector' | 'namespaceSelector'>,
  podLabels: Record<string, string>,
  namespaceLabels: Record<string, string>,
): boolean {
  if (!labelSelectorMatcher(spec.selector ?? {})(podLabels)) return false;
  return spec.namespaceSelector === undefined || labelSelectorMatcher(spec.namespaceSelector)(namespaceLabels);
}

/** Labels every Pod built from a template carries (type, version and the template's own labels). */
function templatePodLabels(template: {
  type: string;
  version: string;
  podTemplate?: { metadata?: { labels?: Record<string, string> } };
}): Record<string, string> {
  return {
    ...(template.podTemplate?.metadata?.labels ?? {}),
    [typeLabel]: template.type,
    [versionLabel]: template.version,
  };
}

/**
 * Whether a SidecarSet may inject into Pods built from a UnitTemplate: its selector matches the
 * labels such Pods carry, ignoring requirements on the labels that name a particular UnitSet or
 * Unit (any UnitSet may use the template).
 */
export function sidecarSetMatchesTemplate(
  spec: Pick<SidecarSetSpec, 'selector'>,
  template: { type: string; version: string; podTemplate?: { metadata?: { labels?: Record<string, string> } } },
): boolean {
  const perUnit = new Set([unitSetLabel, unitLabel]);
  const selector = spec.selector ?? {};
  const general = {
    matchLabels: Object.fromEntries(Object.entries(selector.matchLabels ?? {}).filter(([k]) => !perUnit.has(k))),
    matchExpressions: (selector.matchExpressions ?? []).filter((e) => !perUnit.has(e.key)),
  };
  try {
    return labelSelectorMatcher(general)(templatePodLabels(template));
  } catch {
    return false;
  }
}
