// The jest config of `npm run mutate` (stryker.config.mjs). One flat project: Stryker's per-test
// coverage replaces the test environment of the top-level config only (the `unit` and
// `integration` projects of jest.config.js would keep their own and report no coverage).
//
// What it runs: the unit project, except the tests that exercise no layer code (templates, the SAM
// build, the benchmark baseline), and the integration files whose subject is a domain behaviour
// only the fidelity proxy shows (they set up with the SDK, not with a launch, so they cover little
// else). The other integration files cover the same code as the unit tests at 0.3-1 s a test, and
// Stryker runs every test that covers a mutant: with them the run would take hours.
const path = require('node:path');
const base = require('../../jest.config.js');

const unit = base.projects.find((p) => p.displayName === 'unit');
const integration = base.projects.find((p) => p.displayName === 'integration');
const { displayName: _name, testMatch: _match, ...shared } = unit;

/** @type {import('jest').Config} */
module.exports = {
  ...shared,
  rootDir: path.join(__dirname, '..', '..'),
  testTimeout: base.testTimeout,
  testMatch: ['<rootDir>/tests/unit/**/*.test.ts', '<rootDir>/tests/integration/release-fidelity.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', ...['template', 'nested-templates', 'sam-build', 'bench-baseline'].map((name) => `<rootDir>/tests/unit/${name}.test.ts`)],
  setupFiles: integration.setupFiles,
  globalSetup: '<rootDir>/tests/mutation/global-setup.ts',
  globalTeardown: '<rootDir>/tests/mutation/global-teardown.ts',
  testSequencer: '<rootDir>/tests/mutation/sequencer.js',
  // An absolute path: Stryker's coverage environment loads it without resolving <rootDir>.
  testEnvironment: path.join(__dirname, 'environment.js'),
};
