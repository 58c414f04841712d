/**
 * jest runs the TypeScript tests as ES modules (package.json is "type": "module"; npm test sets
 * NODE_OPTIONS=--experimental-vm-modules), transformed by @swc/jest: types stripped, nothing else.
 */
export default {
  testEnvironment: 'node',
  testMatch: ['<rootDir>/test/unit/**/*.test.ts', '<rootDir>/test/integration/**/*.test.ts'],
  extensionsToTreatAsEsm: ['.ts'],
  // Sources import their TypeScript siblings as './x.js', as Node's ESM resolution wants.
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['@swc/jest', {
      jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
      module: { type: 'es6' },
      sourceMaps: 'inline',
    }],
  },
  // node:test had no per-test timeout; integration tests start servers, processes and a browser.
  testTimeout: 120_000,
  maxWorkers: 2,
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
};
