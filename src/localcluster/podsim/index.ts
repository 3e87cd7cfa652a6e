export { PodSimulator, type PodSimulatorOptions } from './simulator.js';
