// UnitSet rules a schema cannot express: the computed template-name default, the scale
// selector, and the rules of src/api/rules/unitset.ts (immutable identity fields, volumes that
// may grow but never shrink, resources).

import type { KubeObject } from '../../machinery/object.js';
import type { Strategy } from '../../apiserver/registry/strategy.js';
import type { UnitSetSpec } from '../generated/types.js';
import { unitSetLabel } from '../labels.js';
import { validateUnitSet, validateUnitSetUpdate } from '../rules/unitset.js';
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

  validate: validateUnitSet,
  validateUpdate: validateUnitSetUpdate,
};
