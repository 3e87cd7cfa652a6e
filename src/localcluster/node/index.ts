export { NodeRuntime, defaultPodCIDR, type NodeRuntimeOptions } from './node.js';
export { ImageTable, defaultImageEntries, parseImageReference, type ImageEntry } from './images.js';
