// UnitSet rules a schema cannot express: the computed template-name default, the scale
// selector, immutable identity fields and volumes that may grow but never shrink.

import type { FieldError } from '../../machinery/errors.js';
import type { KubeObject } from '../../machinery/object.js';
import type { Strategy } from '../../apiserver/registry/strategy.js';
import type { UnitSetSpec } from '../generated/types.js';
import { unitSetLabel } from '../labels.js';
import { defaultUnitTemplateName } from '../unitset.js';

function specOf(obj: KubeObject): UnitSetSpec {
  return obj['spec'] as UnitSetSpec;
}

/** Parses a Kubernetes quantity into bytes-or-units for comparison; NaN when unparseable. */
export function quantityValue(q: string | number | undefined): number {
  if (q === undefined) return NaN;
  if (typeof q === 'number') return q;
  const m = /^([+-]?\d+(?:\.\d+)?|[+-]?\.\d+)([KMGTPE]i|[numkMGTPE]|[eE][+-]?\d+)?$/.exec(q.trim());
  if (!m) return NaN;
  const n = Number(m[1]);
  const suffix = m[2] ?? '';
  const binary: Record<string, number> = {
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
    Pi: 2 ** 50,
    Ei: 2 ** 60,
  };
  const decimal: Record<string, number> = {
    n: 1e-9,
    u: 1e-6,
    m: 1e-3,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
    P: 1e15,
    E: 1e18,
  };
  if (suffix in binary) return n * binary[suffix];
  if (suffix in decimal) return n * decimal[suffix];
  if (/^[eE]/.test(suffix)) return n * 10 ** Number(suffix.slice(1));
  return n;
}

export const unitSetStrategy: Strategy = {
  prepareForCreate(obj) {
    const spec = specOf(obj);
    if (spec && !spec.template) spec.template = defaultUnitTemplateName(spec);
    // The scale subresource publishes this selector; HPA and `kubectl scale` read it.
    obj['status'] = { selector: `${unitSetLabel}=${obj.metadata.name}` };
  },

  prepareForUpdate(obj, old) {
    const spec = specOf(obj);
    const oldSpec = specOf(old);
    if (!spec) return;
    // A template that was defaulted follows type/edition/version; an explicit one stays.
    if (!spec.template || (oldSpec && oldSpec.template === defaultUnitTemplateName(oldSpec))) {
      spec.template = defaultUnitTemplateName(spec);
    }
  },

  validateUpdate(obj, old) {
    const errors: FieldError[] = [];
    const spec = specOf(obj);
    const oldSpec = specOf(old);
    if (!spec || !oldSpec) return errors;
    for (const field of ['type', 'edition'] as const) {
      if (spec[field] !== oldSpec[field]) {
        errors.push({
          type: 'FieldValueInvalid',
          field: `spec.${field}`,
          value: spec[field],
          detail: 'field is immutable',
        });
      }
    }
    const before = new Map((oldSpec.storage?.volumes ?? []).map((v) => [v.name, v]));
    (spec.storage?.volumes ?? []).forEach((volume, i) => {
      const prev = before.get(volume.name);
      if (!prev) return;
      if ((volume.storageClassName ?? '') !== (prev.storageClassName ?? '')) {
        errors.push({
          type: 'FieldValueInvalid',
          field: `spec.storage.volumes[${i}].storageClassName`,
          value: volume.storageClassName ?? '',
          detail: 'field is immutable',
        });
      }
      if (quantityValue(volume.size) < quantityValue(prev.size)) {
        errors.push({
          type: 'FieldValueForbidden',
          field: `spec.storage.volumes[${i}].size`,
          detail: `volumes can grow but not shrink: ${String(prev.size)} → ${String(volume.size)}`,
        });
      }
    });
    return errors;
  },
};
