// UnitSet rules a schema cannot express: the computed template-name default, the scale
// selector, immutable identity fields and volumes that may grow but never shrink.

import type { FieldError } from '../../machinery/errors.js';
import type { KubeObject } from '../../machinery/object.js';
import { quantityValue } from '../../machinery/quantity.js';
import type { Strategy } from '../../apiserver/registry/strategy.js';
import type { UnitSetSpec } from '../generated/types.js';
import { unitSetLabel } from '../labels.js';
import { defaultUnitTemplateName } from '../unitset.js';

function specOf(obj: KubeObject): UnitSetSpec {
  return obj['spec'] as UnitSetSpec;
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
