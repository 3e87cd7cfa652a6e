// Kubernetes-compatible authorization: RBAC, the authorizer chain, 403 messages and
// SubjectAccessReview conversions.

export * from './types.js';
export * from './attributes.js';
export * from './rbac.js';
export * from './authorizer.js';
export { labelSelectorMatcher, type LabelMatcher } from '../../machinery/labels.js';
export { goQuote, aggregateErrors } from '../../machinery/goformat.js';
