// SidecarSet rules: what it injects is well-formed (container names, images, ports, volumes,
// selectors), and nothing it injects collides with the Pods of the UnitTemplates it matches
// (container names, ports, volume names), which would make those Pods invalid.

import type { FieldError } from '../../machinery/errors.js';
import { labelSelectorMatcher } from '../../machinery/labels.js';
import type { KubeObject } from '../../machinery/object.js';
import type { SidecarSetSpec, UnitTemplateSpec } from '../generated/types.js';
import { sidecarSetMatchesTemplate } from '../sidecarsets.js';
import { duplicate, invalid, isPlainRecord, listOf } from './fields.js';
import { containersOf, portsOf, validatePodSpec } from './podspec.js';

function specOf(obj: KubeObject): SidecarSetSpec | undefined {
  const spec = obj['spec'];
  return isPlainRecord(spec) ? (spec as unknown as SidecarSetSpec) : undefined;
}

/** Field errors of a SidecarSet on its own. */
export function validateSidecarSet(obj: KubeObject): FieldError[] {
  const spec = specOf(obj);
  if (!spec) return [];
  const errs: FieldError[] = [];
  // Injected containers may mount the Pod's own volumes (the data volume, ...): mounts are not checked.
  const mounted = new Set<string>();
  for (const c of containersOf(spec as unknown as Record<string, unknown>, 'spec'))
    for (const m of listOf(c.container['volumeMounts']))
      if (isPlainRecord(m) && typeof m['name'] === 'string') mounted.add(m['name']);
  errs.push(
    ...validatePodSpec(spec, 'spec', { requireContainers: false, extraVolumes: mounted }).filter(
      (e) => e.type !== 'FieldValueNotFound',
    ),
  );
  for (const key of ['selector', 'namespaceSelector'] as const) {
    if (spec[key] === undefined) continue;
    try {
      labelSelectorMatcher(spec[key]);
    } catch (err) {
      errs.push(invalid(`spec.${key}`, spec[key], (err as Error).message));
    }
  }
  return errs;
}

export interface NamedTemplate {
  name: string;
  spec: UnitTemplateSpec;
}

/**
 * Field errors of a SidecarSet against the UnitTemplates whose Pods it would inject into: an
 * injected container, port or volume must not collide with one of the template's Pod (its
 * containers, the agent, the exporter, spec.volumes).
 */
export function validateSidecarSetAgainstTemplates(obj: KubeObject, templates: NamedTemplate[]): FieldError[] {
  const spec = specOf(obj);
  if (!spec) return [];
  const errs: FieldError[] = [];
  const injected = containersOf(spec as unknown as Record<string, unknown>, 'spec');
  const injectedPorts = portsOf(injected);
  for (const t of [...templates].sort((a, b) => a.name.localeCompare(b.name))) {
    if (!t.spec?.podTemplate || !sidecarSetMatchesTemplate(spec, t.spec)) continue;
    const podSpec = isPlainRecord(t.spec.podTemplate.spec) ? t.spec.podTemplate.spec : {};
    const names = new Set(containersOf(podSpec, '').map((c) => c.name));
    if (t.spec.exporter?.container?.name) names.add(t.spec.exporter.container.name);
    const of = `UnitTemplate ${JSON.stringify(t.name)}`;
    for (const c of injected)
      if (names.has(c.name)) errs.push(duplicate(`${c.field}.name`, c.name, `${of} has a container of that name`));
    const ports = new Set(portsOf(containersOf(podSpec, '')).map((p) => `${p.port}/${p.protocol}`));
    if (t.spec.exporter?.port) ports.add(`${t.spec.exporter.port}/TCP`);
    for (const p of injectedPorts)
      if (ports.has(`${p.port}/${p.protocol}`))
        errs.push(duplicate(`${p.field}.containerPort`, p.port, `a container of ${of} uses this port`));
    const volumes = new Set([
      ...listOf(podSpec['volumes']).map((v) => (isPlainRecord(v) ? v['name'] : undefined)),
      ...(t.spec.volumes ?? []).map((v) => v.name),
    ]);
    listOf(spec.volumes).forEach((v, i) => {
      const name = isPlainRecord(v) ? v['name'] : undefined;
      if (typeof name === 'string' && volumes.has(name))
        errs.push(duplicate(`spec.volumes[${i}].name`, name, `${of} has a volume of that name`));
    });
  }
  return errs;
}
