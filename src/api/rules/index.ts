// Validation rules of the upm.io kinds as pure functions returning kube field errors. The API
// server's strategies and the admission webhooks both call these; no rule is written twice.

export {
  checkParameterValue,
  parameterValueProblem,
  typedParameterValue,
  validateParameterDefinitions,
} from './parameters.js';
export { validatePodSpec } from './podspec.js';
export {
  mainContainerName,
  renderedFormatProblem,
  validateUnitTemplate,
  type DefaultsRenderer,
} from './unittemplate.js';
export { validateUnitSet, validateUnitSetTemplate, validateUnitSetUpdate, type TemplateLookup } from './unitset.js';
export { validateSidecarSet, validateSidecarSetAgainstTemplates, type NamedTemplate } from './sidecarset.js';
