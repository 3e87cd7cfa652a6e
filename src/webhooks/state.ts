// What the webhooks read of the cluster: UnitTemplates, SidecarSets and namespace labels. The
// cache (cache.ts) implements it from watches; tests pass plain objects.

import type { SidecarSetSpec, UnitTemplateSpec } from '../api/generated/types.js';

export interface ClusterState {
  unitTemplate(name: string): UnitTemplateSpec | undefined;
  unitTemplates(): { name: string; spec: UnitTemplateSpec }[];
  sidecarSets(): { name: string; spec: SidecarSetSpec }[];
  /** Labels of a namespace; undefined when it is not known. */
  namespaceLabels(name: string): Record<string, string> | undefined;
}

/** Thrown when the state cannot be read (not synced): the call fails and failurePolicy decides. */
export class StateUnavailableError extends Error {}
