// The jest config of `npm run mutate` (stryker.config.mjs). One flat project: Stryker's per-test
// coverage replaces the test environment of the top-level config only (the `unit` project of
// jest.config.js would keep its own and report no coverage).
//
// What it runs: the unit tests, except those that exercise no layer code (templates, the docs, the SAM build,
// the benchmark baseline, this run's own set-up). No integration test: they cover the same code
// as the unit tests at 0.3-1 s a test against the emulator, and Stryker runs every test that
// covers a mutant that survives. The one integration file whose subject is a domain behaviour
// only the fidelity proxy shows (release-fidelity.test.ts: an ENI kept `detaching`) was part of
// the run at first: in a full run it covered 252 mutants and was the first to kill none of them
// (the fake EC2 port's release tests, tests/unit/release.test.ts, pin the same behaviour), while
// it needed a moto per test runner, started again after every timed-out mutant.
const path = require('node:path');
const base = require('../../jest.config.js');

const unit = base.projects.find((p) => p.displayName === 'unit');
const { displayName: _name, testMatch: _match, ...shared } = unit;

/** @type {import('jest').Config} */
module.exports = {
  ...shared,
  rootDir: path.join(__dirname, '..', '..'),
  testTimeout: base.testTimeout,
  // The SDK clients load when first used, not with every test file (tests/mutation/lazy/lazy.js).
  moduleNameMapper: {
    ...shared.moduleNameMapper,
    '^@aws-sdk/(client-ec2|client-auto-scaling|client-ssm|client-eks)$': '<rootDir>/tests/mutation/lazy/$1.js',
  },
  testMatch: ['<rootDir>/tests/unit/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', ...['template', 'nested-templates', 'sam-build', 'bench-baseline', 'mutation-setup', 'docs'].map((name) => `<rootDir>/tests/unit/${name}.test.ts`)],
  testSequencer: '<rootDir>/tests/mutation/sequencer.js',
  // An absolute path: Stryker's coverage environment loads it without resolving <rootDir>.
  testEnvironment: path.join(__dirname, 'environment.js'),
};
