// Jest runs TypeScript through @swc/jest as native ESM (node --experimental-vm-modules).
// Unit tests sit next to the code (src/**/*.test.ts); end-to-end tests drive the built
// CLI and the real kubectl binary (test/e2e/**/*.test.ts).
const swc = [
  '@swc/jest',
  {
    jsc: { target: 'es2022', parser: { syntax: 'typescript' } },
    module: { type: 'es6' },
    sourceMaps: 'inline',
  },
];
const common = {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': swc },
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
};
export default {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/src/**/*.test.ts'] },
    { ...common, displayName: 'e2e', testMatch: ['<rootDir>/test/e2e/**/*.test.ts'] },
    // Benchmarks written as jest files; each is skipped unless its environment variable is set.
    { ...common, displayName: 'bench', testMatch: ['<rootDir>/bench/**/*.test.ts'] },
  ],
  testTimeout: 60000,
};
