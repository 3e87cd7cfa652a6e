export { NodeRuntime, defaultPodCIDR, type NodeRuntimeOptions } from './node.js';
export { ImageTable, defaultImageEntries, parseImageReference, type ImageEntry } from './images.js';
export { detectSandboxSupport } from './sandbox.js';
export { startLocalNode, defaultNodeName, type LocalNode, type LocalNodeOptions } from './local.js';
