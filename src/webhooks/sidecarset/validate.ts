// Validating webhook for SidecarSets: the rules of src/api/rules/sidecarset.ts, including the
// collisions with the UnitTemplates the SidecarSet matches.

import {
  validateSidecarSet,
  validateSidecarSetAgainstTemplates,
  type NamedTemplate,
} from '../../api/rules/sidecarset.js';
import type { AdmissionRequest, AdmissionResponse } from '../../machinery/admission.js';
import type { KubeObject } from '../../machinery/object.js';
import { allow, denyInvalid } from '../review.js';
import type { ClusterState } from '../state.js';
import { upmRule, type AdmissionWebhook } from '../webhook.js';

export function reviewSidecarSet(req: AdmissionRequest, templates: NamedTemplate[]): AdmissionResponse {
  if (req.operation !== 'CREATE' && req.operation !== 'UPDATE') return allow(req);
  const obj = req.object as KubeObject;
  const errors = [...validateSidecarSet(obj), ...validateSidecarSetAgainstTemplates(obj, templates)];
  return errors.length > 0 ? denyInvalid(req, errors) : allow(req);
}

export function sidecarSetWebhook(state: ClusterState): AdmissionWebhook {
  return {
    name: 'sidecarsets.validate.upm.io',
    path: '/validate-sidecarset',
    type: 'validating',
    rules: [upmRule('sidecarsets', ['CREATE', 'UPDATE'])],
    failurePolicy: 'Fail',
    timeoutSeconds: 5,
    review: (req) => reviewSidecarSet(req, state.unitTemplates()),
  };
}
