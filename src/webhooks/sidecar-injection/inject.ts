// Sidecar injection as a pure function of a Pod and the SidecarSets: which SidecarSets apply,
// what they add, and the Pod afterwards.
//
// - Which Pods: a Unit's (label upm.io/unit), or any Pod annotated sidecarset.upm.io/inject:
//   "true"; never one annotated "false" (opt-out), nor one naming the SidecarSet in
//   sidecarset.upm.io/exclude.
// - Idempotent: a SidecarSet recorded in the Pod's sidecarset.upm.io/injected annotation is not
//   injected again, whatever its current revision, so a second pass (reinvocation, a re-sent
//   Pod) changes nothing, and a new SidecarSet revision reaches a Pod only when the Pod is
//   replaced: a sidecar bump never restarts a running database by itself.
// - A container whose name the Pod already has is not injected (warning); a volume whose name
//   the Pod already has is not added (the Pod's own wins).
// - Order: SidecarSets by spec.injection.priority, then name; BeforeAppContainer puts the
//   containers first, AfterAppContainer (default) last.

import type { SidecarSetSpec } from '../../api/generated/types.js';
import {
  excludeAnnotation,
  injectAnnotation,
  injectedAnnotation,
  injectionRecords,
  sidecarSetMatchesPod,
  sidecarSetRevision,
  type InjectionRecord,
} from '../../api/sidecarsets.js';
import { unitLabel, typeLabel } from '../../api/labels.js';
import type { KubeObject } from '../../machinery/object.js';

export interface SidecarSetInput {
  name: string;
  spec: SidecarSetSpec;
}

export type SkipReason = 'opted-out' | 'not-selected' | 'host-network';

export interface InjectionResult {
  /** The Pod after injection (the input object when nothing was injected). */
  pod: KubeObject;
  /** SidecarSets injected by this pass, in order. */
  injected: string[];
  warnings: string[];
  /** Why nothing was considered, when nothing was. */
  skipped?: SkipReason;
}

type Container = Record<string, unknown> & { name: string };

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function list(v: unknown): Record<string, unknown>[] {
  return Array.isArray(v) ? v.filter(isRecord) : [];
}

/** Whether a Pod takes part in injection at all, and why not. */
export function injectionWanted(pod: KubeObject): SkipReason | undefined {
  const annotations = pod.metadata?.annotations ?? {};
  const choice = annotations[injectAnnotation]?.toLowerCase();
  if (choice === 'false') return 'opted-out';
  const spec = isRecord(pod['spec']) ? pod['spec'] : {};
  if (spec['hostNetwork'] === true) return 'host-network';
  if (choice === 'true' || pod.metadata?.labels?.[unitLabel] !== undefined) return undefined;
  return 'not-selected';
}

/** The container the service runs in: the one named after the Unit's type, else the first. */
function mainContainer(pod: KubeObject, containers: Container[]): Container | undefined {
  const type = pod.metadata?.labels?.[typeLabel];
  return containers.find((c) => c.name === type) ?? containers[0];
}

export function injectSidecars(
  pod: KubeObject,
  sidecarSets: SidecarSetInput[],
  namespaceLabels: Record<string, string>,
): InjectionResult {
  const skipped = injectionWanted(pod);
  if (skipped) return { pod, injected: [], warnings: [], skipped };
  const labels = pod.metadata?.labels ?? {};
  const excluded = new Set(
    (pod.metadata?.annotations?.[excludeAnnotation] ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );
  const records = injectionRecords(pod.metadata?.annotations);
  const warnings: string[] = [];
  const candidates = sidecarSets
    .filter((s) => !excluded.has(s.name) && !Object.hasOwn(records, s.name))
    .filter((s) => {
      try {
        return sidecarSetMatchesPod(s.spec, labels, namespaceLabels);
      } catch (err) {
        warnings.push(`SidecarSet ${s.name} has an invalid selector and was not applied: ${(err as Error).message}`);
        return false;
      }
    })
    .sort(
      (a, b) => (a.spec.injection?.priority ?? 0) - (b.spec.injection?.priority ?? 0) || a.name.localeCompare(b.name),
    );
  if (candidates.length === 0) return { pod, injected: [], warnings };

  const out = structuredClone(pod);
  const spec: Record<string, unknown> = isRecord(out['spec']) ? out['spec'] : (out['spec'] = {});
  const containers = list(spec['containers']) as Container[];
  const initContainers = list(spec['initContainers']) as Container[];
  const volumes = list(spec['volumes']);
  const names = new Set([...containers, ...initContainers].map((c) => c.name));
  const volumeNames = new Set(volumes.map((v) => v['name']));
  const main = mainContainer(pod, containers);
  const injected: string[] = [];
  let before: Container[] = [];
  let after: Container[] = [];
  let initBefore: Container[] = [];
  let initAfter: Container[] = [];

  for (const s of candidates) {
    const record: InjectionRecord = { revision: sidecarSetRevision(s.spec), containers: [] };
    const position = s.spec.injection?.position ?? 'AfterAppContainer';
    const take = (source: unknown, kind: 'containers' | 'initContainers'): Container[] => {
      const taken: Container[] = [];
      for (const c of list(source) as Container[]) {
        if (names.has(c.name)) {
          warnings.push(`SidecarSet ${s.name}: the Pod already has a container named ${c.name}; it was not injected`);
          continue;
        }
        names.add(c.name);
        const copy = structuredClone(c);
        if (s.spec.injection?.shareVolumes && main && kind === 'containers') {
          const mounts = list(copy['volumeMounts']);
          const have = new Set(mounts.map((m) => m['name']));
          for (const m of list(main['volumeMounts'])) if (!have.has(m['name'])) mounts.push(structuredClone(m));
          copy['volumeMounts'] = mounts;
        }
        taken.push(copy);
        if (kind === 'containers') record.containers.push(c.name);
        else (record.initContainers ??= []).push(c.name);
      }
      return taken;
    };
    const cs = take(s.spec.containers, 'containers');
    const ics = take(s.spec.initContainers, 'initContainers');
    if (position === 'BeforeAppContainer') {
      before = [...before, ...cs];
      initBefore = [...initBefore, ...ics];
    } else {
      after = [...after, ...cs];
      initAfter = [...initAfter, ...ics];
    }
    for (const v of list(s.spec.volumes)) {
      if (volumeNames.has(v['name'])) continue;
      volumeNames.add(v['name']);
      volumes.push(structuredClone(v));
      (record.volumes ??= []).push(String(v['name']));
    }
    records[s.name] = record;
    injected.push(s.name);
  }

  spec['containers'] = [...before, ...containers, ...after];
  if (initBefore.length + initAfter.length > 0)
    spec['initContainers'] = [...initBefore, ...initContainers, ...initAfter];
  if (volumes.length > 0) spec['volumes'] = volumes;
  out.metadata = {
    ...out.metadata,
    annotations: { ...(out.metadata?.annotations ?? {}), [injectedAnnotation]: JSON.stringify(records) },
  };
  return { pod: out, injected, warnings };
}
