// Test environment of `npm run mutate`: jest's node environment that stops a mutant's run at its
// first failing test. Jest cannot bail programmatically (Stryker's jest runner says so), so every
// test covering a mutant would run even after one has killed it. During a mutant run (Stryker sets
// __STRYKER_ACTIVE_MUTANT__; never in the dry run, which needs every test for coverage) the tests
// after the first failure are skipped. The flag lives in the worker process and the sequencer
// clears it at the start of each jest run.
const { TestEnvironment } = require('jest-environment-node');

class BailingEnvironment extends TestEnvironment {
  async handleTestEvent(event, state) {
    await super.handleTestEvent?.(event, state);
    if (!process.env.__STRYKER_ACTIVE_MUTANT__) return;
    if (event.name === 'test_done' && event.test.errors.length > 0) globalThis.__MUTATION_BAILED__ = true;
    if (event.name === 'test_start' && globalThis.__MUTATION_BAILED__) event.test.mode = 'skip';
  }
}

module.exports = BailingEnvironment;
