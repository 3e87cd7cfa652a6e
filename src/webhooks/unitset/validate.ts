// Validating webhook for UnitSets: the rules of src/api/rules/unitset.ts, including those that
// read the UnitTemplate the UnitSet names.

import type { UnitTemplateSpec } from '../../api/generated/types.js';
import { validateUnitSet, validateUnitSetTemplate, validateUnitSetUpdate } from '../../api/rules/unitset.js';
import { defaultUnitTemplateName } from '../../api/unitset.js';
import type { AdmissionRequest, AdmissionResponse } from '../../machinery/admission.js';
import type { KubeObject } from '../../machinery/object.js';
import { allow, denyInvalid } from '../review.js';
import type { ClusterState } from '../state.js';
import { upmRule, type AdmissionWebhook } from '../webhook.js';

export function reviewUnitSet(
  req: AdmissionRequest,
  unitTemplate: (name: string) => UnitTemplateSpec | undefined,
): AdmissionResponse {
  if (req.operation !== 'CREATE' && req.operation !== 'UPDATE') return allow(req);
  const obj = req.object as KubeObject;
  const old = req.operation === 'UPDATE' ? req.oldObject : null;
  const errors = validateUnitSet(obj);
  if (old) errors.push(...validateUnitSetUpdate(obj, old));
  const spec = (obj['spec'] ?? {}) as { template?: string; type: string; edition?: string; version: string };
  const name = spec.template ?? defaultUnitTemplateName(spec);
  const checked = validateUnitSetTemplate(obj, old, { template: unitTemplate(name) });
  errors.push(...checked.errors);
  return errors.length > 0 ? denyInvalid(req, errors, checked.warnings) : allow(req, checked.warnings);
}

export function unitSetWebhook(state: ClusterState): AdmissionWebhook {
  return {
    name: 'unitsets.validate.upm.io',
    path: '/validate-unitset',
    type: 'validating',
    rules: [upmRule('unitsets', ['CREATE', 'UPDATE'])],
    failurePolicy: 'Fail',
    timeoutSeconds: 5,
    review: (req) => reviewUnitSet(req, (name) => state.unitTemplate(name)),
  };
}
