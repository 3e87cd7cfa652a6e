// Validation rules of the upm.io kinds as pure functions returning kube field errors. The API
// server's strategies and the admission webhooks both call these; no rule is written twice.

export { checkParameterValue, typedParameterValue, validateParameterDefinitions } from './parameters.js';
export { validatePodSpec } from './podspec.js';
export {
  mainContainerName,
  sampleTemplateData,
  validateUnitTemplate,
  DEFAULT_AGENT_CONTAINER,
} from './unittemplate.js';
export { validateUnitSet, validateUnitSetTemplate, validateUnitSetUpdate, type TemplateLookup } from './unitset.js';
export { validateSidecarSet, validateSidecarSetAgainstTemplates, type NamedTemplate } from './sidecarset.js';
