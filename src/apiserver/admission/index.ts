// Admission webhooks for the resources this server serves: configuration types and defaults,
// request matching, the HTTPS client and the mutating/validating chain.

export * from './types.js';
export * from './matching.js';
export * from './client.js';
export * from './chain.js';
