// Two jest projects: fast unit tests (pure logic, SDK mocks), and integration tests against the
// local emulator (moto + the fidelity proxy, started once by the global set-up). `npm test` runs
// them in band: one emulator, no parallel resets.
const shared = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.json' }] },
  moduleNameMapper: {
    '^multus-core$': '<rootDir>/layers/multus-core/src/index.ts',
    '^multus-core/hooks$': '<rootDir>/layers/multus-core/src/hooks/index.ts',
  },
  rootDir: __dirname,
  // The sandbox copies of `npm run mutate` (stryker.config.mjs) hold a second multus-core package.
  modulePathIgnorePatterns: ['<rootDir>/.stryker-tmp/'],
  setupFiles: ['<rootDir>/tests/support/quiet.ts'],
};

/** @type {import('jest').Config} */
module.exports = {
  testTimeout: 120000,
  // The default reporter, and progress lines for files that run long (tests/support/progress-reporter.cjs).
  reporters: ['default', ['<rootDir>/tests/support/progress-reporter.cjs', { afterSeconds: 30, heartbeatSeconds: 60 }]],
  projects: [
    { ...shared, displayName: 'unit', testMatch: ['<rootDir>/tests/unit/**/*.test.ts'] },
    {
      ...shared,
      displayName: 'integration',
      testMatch: ['<rootDir>/tests/integration/**/*.test.ts'],
      globalSetup: '<rootDir>/tests/support/global-setup.ts',
      globalTeardown: '<rootDir>/tests/support/global-teardown.ts',
      setupFiles: ['<rootDir>/tests/support/quiet.ts', '<rootDir>/tests/support/test-env.ts'],
    },
    // The node agent, run for real as root in network namespaces (no emulator).
    { ...shared, displayName: 'node-agent', testMatch: ['<rootDir>/tests/node-agent/**/*.test.ts'] },
  ],
};
