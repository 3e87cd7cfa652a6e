// UnitSet rules: on their own (resources, names), on update (immutable identity, storage that
// grows but never shrinks) and against the UnitTemplate they name (it exists and fits type,
// edition and version; parameter overrides satisfy the parameter definitions; storage and
// credentials name what the template declares).

import type { FieldError } from '../../machinery/errors.js';
import type { KubeObject } from '../../machinery/object.js';
import { quantityValue } from '../../machinery/quantity.js';
import type { UnitSetSpec, UnitTemplateSpec } from '../generated/types.js';
import { defaultUnitTemplateName, UNITSET_DEFAULT_EDITION } from '../unitset.js';
import {
  duplicate,
  forbidden,
  invalid,
  isPlainRecord,
  isQuantity,
  listOf,
  notFound,
  validateResources,
} from './fields.js';
import { parameterValueProblem } from './parameters.js';

function specOf(obj: KubeObject | null | undefined): UnitSetSpec | undefined {
  const spec = obj?.['spec'];
  return isPlainRecord(spec) ? (spec as unknown as UnitSetSpec) : undefined;
}

function uniqueNames(errs: FieldError[], list: unknown, field: string): void {
  const seen = new Set<string>();
  listOf(list).forEach((item, i) => {
    const name = isPlainRecord(item) ? item['name'] : undefined;
    if (typeof name !== 'string') return;
    if (seen.has(name)) errs.push(duplicate(`${field}[${i}].name`, name));
    seen.add(name);
  });
}

/** Field errors of a UnitSet on its own (create and update). */
export function validateUnitSet(obj: KubeObject): FieldError[] {
  const spec = specOf(obj);
  const errs: FieldError[] = [];
  if (!spec) return errs;
  errs.push(...validateResources('spec.resources', spec.resources));
  uniqueNames(errs, spec.storage?.volumes, 'spec.storage.volumes');
  listOf(spec.storage?.volumes).forEach((v, i) => {
    const size = isPlainRecord(v) ? v['size'] : undefined;
    if (size !== undefined && (!isQuantity(size) || quantityValue(size as string) <= 0))
      errs.push(invalid(`spec.storage.volumes[${i}].size`, size, 'must be a positive quantity, for example 20Gi'));
  });
  uniqueNames(errs, spec.credentials, 'spec.credentials');
  uniqueNames(errs, spec.env, 'spec.env');
  return errs;
}

/** Field errors of a change to a UnitSet: immutable identity, storage that may only grow. */
export function validateUnitSetUpdate(obj: KubeObject, old: KubeObject): FieldError[] {
  const errors: FieldError[] = [];
  const spec = specOf(obj);
  const oldSpec = specOf(old);
  if (!spec || !oldSpec) return errors;
  for (const field of ['type', 'edition'] as const) {
    if (spec[field] !== oldSpec[field]) errors.push(invalid(`spec.${field}`, spec[field], 'field is immutable'));
  }
  const before = new Map(
    listOf(oldSpec.storage?.volumes).map((v) => [(v as { name: string }).name, v as Record<string, unknown>]),
  );
  listOf(spec.storage?.volumes).forEach((raw, i) => {
    const volume = raw as { name: string; size?: string | number; storageClassName?: string };
    const prev = before.get(volume.name) as typeof volume | undefined;
    if (!prev) return;
    if ((volume.storageClassName ?? '') !== (prev.storageClassName ?? ''))
      errors.push(
        invalid(`spec.storage.volumes[${i}].storageClassName`, volume.storageClassName ?? '', 'field is immutable'),
      );
    if (quantityValue(volume.size) < quantityValue(prev.size))
      errors.push(
        forbidden(
          `spec.storage.volumes[${i}].size`,
          `volumes can grow but not shrink: ${String(prev.size)} → ${String(volume.size)}`,
        ),
      );
  });
  return errors;
}

export interface TemplateLookup {
  /** The template's spec, or undefined when there is no UnitTemplate of that name. */
  template: UnitTemplateSpec | undefined;
}

/**
 * Field errors and warnings of a UnitSet against the UnitTemplate it names (spec.template after
 * defaulting). A template named explicitly must exist; the conventional template
 * (<type>-<edition>-<version>) may be installed later, so its absence is a warning: the Units
 * wait for it.
 */
export function validateUnitSetTemplate(
  obj: KubeObject,
  old: KubeObject | null | undefined,
  lookup: TemplateLookup,
): { errors: FieldError[]; warnings: string[] } {
  const errors: FieldError[] = [];
  const warnings: string[] = [];
  const spec = specOf(obj);
  if (!spec) return { errors, warnings };
  const name = spec.template ?? defaultUnitTemplateName(spec);
  const template = lookup.template;
  if (!template) {
    if (name === defaultUnitTemplateName(spec))
      warnings.push(`spec.template: UnitTemplate "${name}" does not exist yet; no Unit is created until it does`);
    else errors.push(notFound('spec.template', name, `no UnitTemplate named ${JSON.stringify(name)}`));
    return { errors, warnings };
  }
  const edition = spec.edition ?? UNITSET_DEFAULT_EDITION;
  const templateEdition = template.edition ?? UNITSET_DEFAULT_EDITION;
  if (template.type !== spec.type)
    errors.push(
      invalid(
        'spec.template',
        name,
        `UnitTemplate is of type ${JSON.stringify(template.type)}, not ${JSON.stringify(spec.type)}`,
      ),
    );
  if (templateEdition !== edition)
    errors.push(
      invalid(
        'spec.template',
        name,
        `UnitTemplate is of edition ${JSON.stringify(templateEdition)}, not ${JSON.stringify(edition)}`,
      ),
    );
  if (template.version !== spec.version)
    errors.push(
      invalid(
        'spec.template',
        name,
        `UnitTemplate is of version ${JSON.stringify(template.version)}, not ${JSON.stringify(spec.version)}`,
      ),
    );

  const params = new Map((template.parameters ?? []).map((p) => [p.name, p]));
  const oldParams = specOf(old)?.config?.parameters ?? {};
  for (const [key, value] of Object.entries(spec.config?.parameters ?? {})) {
    const field = `spec.config.parameters[${key}]`;
    const p = params.get(key);
    if (!p) {
      errors.push(notFound(field, key, `UnitTemplate ${JSON.stringify(name)} declares no such parameter`));
      continue;
    }
    const why = parameterValueProblem(p, String(value));
    if (why) errors.push(invalid(field, value, why));
    if (old && p.immutable && oldParams[key] !== value)
      errors.push(forbidden(field, 'the parameter is immutable: it can only be chosen when the UnitSet is created'));
  }

  const volumes = new Map((template.volumes ?? []).map((v) => [v.name, v]));
  listOf(spec.storage?.volumes).forEach((v, i) => {
    const vname = isPlainRecord(v) ? v['name'] : undefined;
    if (typeof vname !== 'string') return;
    const tv = volumes.get(vname);
    if (!tv)
      errors.push(
        notFound(
          `spec.storage.volumes[${i}].name`,
          vname,
          `UnitTemplate ${JSON.stringify(name)} declares no such volume`,
        ),
      );
    else if ((tv.type ?? 'Persistent') !== 'Persistent')
      errors.push(
        invalid(
          `spec.storage.volumes[${i}].name`,
          vname,
          `volume ${JSON.stringify(vname)} is an EmptyDir, not persistent storage`,
        ),
      );
  });
  const credentials = new Set((template.credentials ?? []).map((c) => c.name));
  listOf(spec.credentials).forEach((c, i) => {
    const cname = isPlainRecord(c) ? c['name'] : undefined;
    if (typeof cname === 'string' && !credentials.has(cname))
      errors.push(
        notFound(`spec.credentials[${i}].name`, cname, `UnitTemplate ${JSON.stringify(name)} declares no such account`),
      );
  });
  return { errors, warnings };
}
