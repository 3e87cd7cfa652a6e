// Admission webhooks for the resources this server serves: configuration types and defaults,
// request matching, the HTTPS client and the mutating/validating chain, ValidatingAdmissionPolicy
// with CEL, and the plugins that load all of it from the cluster.

export * from './types.js';
export * from './matching.js';
export * from './client.js';
export * from './chain.js';
export * from './plugins.js';
export { ClusterAdmissionSource } from './cluster.js';
export { PolicyValidator, type ParamResolver, type PolicySource } from './policy/validator.js';
export type * from './policy/types.js';
