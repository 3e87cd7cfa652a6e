export * from './certs.js';
export * from './bundle.js';
export * from './kubeconfig.js';
