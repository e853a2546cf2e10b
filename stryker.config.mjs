// @ts-check
import { fileURLToPath } from 'node:url';
// `npm run mutate`: StrykerJS over the layer's domain folders (README, "Tests", mutation run).
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  // The domain: ENI work, lifecycle, IPv4 arithmetic, settings. Not the SDK adapters (ec2/sdk.ts,
  // covered against the emulator), the wiring (app.ts, clients.ts), the sweeper and hook installer
  // (their own folders), nor the index files that only re-export.
  mutate: ['layers/multus-core/src/{eni,lifecycle,ipv4,settings}/**/*.ts', '!**/index.ts'],
  testRunner: 'jest',
  // A flat jest config of the unit tests (see its header for why no integration test).
  jest: { projectType: 'custom', configFile: 'tests/mutation/jest.config.js', enableFindRelatedTests: true },
  // Mutants that do not compile are CompileError, not run. Concurrency 2 is one checker and one
  // test runner until the checker is done, and the runner only gets mutants the checker passed:
  // the checker must keep ahead. Its tsconfig holds the four domain folders, re-checks direct
  // importers only, and checker-preload.cjs drops the watch builder's 250 ms wait and makes its
  // compiler host keep what it parsed (TypeScript re-parsed every declaration file on each check):
  // 0.87 CPU-seconds a check before, 0.22 after (81 checks of ensure.ts, side by side), with the
  // same mutants found not to compile.
  checkers: ['typescript'],
  tsconfigFile: 'tests/mutation/tsconfig.json',
  checkerNodeArgs: ['--require', fileURLToPath(new URL('./tests/mutation/checker-preload.cjs', import.meta.url))],
  // No mutants inside informational log calls (see the plugin for why).
  appendPlugins: ['./tests/mutation/ignore-log-lines.mjs'],
  ignorers: ['log-lines'],
  coverageAnalysis: 'perTest',
  // Static mutants (module-level code: constants, tables, regular expressions built at load) are
  // not tested: each needs every test file reloaded, and they were 7 % of the mutants but 44 % of
  // the run (Stryker's own estimate on this tree). They are reported as Ignored, with their count.
  ignoreStatic: true,
  concurrency: 2,
  // A rerun tests only the mutants whose code or covering tests changed. The file is git-ignored
  // (reports/): it is regenerated output of about a megabyte that every branch would rewrite.
  incremental: true,
  incrementalFile: 'reports/mutation/stryker-incremental.json',
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  // Not copied into the sandbox: build output and local state.
  ignorePatterns: ['build', '.aws-sam', 'coverage', 'reports', 'bench/results.json'],
};
