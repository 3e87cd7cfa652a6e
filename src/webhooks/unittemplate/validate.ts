// Validating webhook for UnitTemplates: the rules of src/api/rules/unittemplate.ts, with the
// configuration files rendered by the controllers' engine (render.ts).

import { validateUnitTemplate } from '../../api/rules/unittemplate.js';
import type { AdmissionRequest, AdmissionResponse } from '../../machinery/admission.js';
import type { KubeObject } from '../../machinery/object.js';
import { allow, denyInvalid } from '../review.js';
import { renderWithDefaults } from './render.js';
import { upmRule, type AdmissionWebhook } from '../webhook.js';

export function reviewUnitTemplate(req: AdmissionRequest): AdmissionResponse {
  if (req.operation !== 'CREATE' && req.operation !== 'UPDATE') return allow(req);
  const errors = validateUnitTemplate(req.object as KubeObject, renderWithDefaults);
  return errors.length > 0 ? denyInvalid(req, errors) : allow(req);
}

export const unitTemplateWebhook: AdmissionWebhook = {
  name: 'unittemplates.validate.upm.io',
  path: '/validate-unittemplate',
  type: 'validating',
  rules: [upmRule('unittemplates', ['CREATE', 'UPDATE'])],
  failurePolicy: 'Fail',
  timeoutSeconds: 5,
  review: reviewUnitTemplate,
};
