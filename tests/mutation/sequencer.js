// Test sequencer of `npm run mutate`: runs only the test files that hold a test Stryker asked for.
//
// For each mutant, Stryker's jest runner passes the covering tests as `testNamePattern` but lets
// jest load every related test file, and every test file here imports the layer's index, so each
// mutant would load all of them (about 100 ms each in Stryker's sandbox, with the SDK clients
// loaded lazily: lazy/lazy.js). The dry run (the one full run, without a
// pattern) records which file holds which test; later runs keep only the files with a test that
// matches the pattern, as jest itself would match it. Without the record (a plain `jest -c` run),
// every file runs.
const { existsSync, readFileSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

const recordFile = (rootDir) => join(rootDir, '.stryker-test-names.json');

class MutationSequencer {
  constructor({ globalConfig }) {
    this.globalConfig = globalConfig;
  }

  sort(tests) {
    // A new jest run: a new mutant (environment.js bails within one run only).
    globalThis.__MUTATION_BAILED__ = false;
    const sorted = [...tests].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    const { testNamePattern, rootDir } = this.globalConfig;
    const file = recordFile(rootDir);
    if (!testNamePattern || !existsSync(file)) return sorted;
    const names = JSON.parse(readFileSync(file, 'utf8'));
    const pattern = new RegExp(testNamePattern, 'i');
    // A file the record does not know (added since) is kept.
    return sorted.filter((t) => !(t.path in names) || names[t.path].some((name) => pattern.test(name)));
  }

  cacheResults(_tests, results) {
    const { testNamePattern, rootDir } = this.globalConfig;
    const file = recordFile(rootDir);
    // Only Stryker's workers record, once: the dry run, where every test ran and passed.
    if (!process.env.STRYKER_MUTATOR_WORKER || testNamePattern || existsSync(file)) return;
    if (results.numFailedTests > 0 || results.numRuntimeErrorTestSuites > 0) return;
    const names = {};
    for (const suite of results.testResults) names[suite.testFilePath] = suite.testResults.map((t) => t.fullName);
    writeFileSync(file, JSON.stringify(names));
  }
}

module.exports = MutationSequencer;
