/**
 * The tests that run shellcheck (tests/unit/nested-templates.test.ts on the user data,
 * tests/node-agent/agent.test.ts on the agent) find it through tests/support/shellcheck.ts: without
 * it they fail naming the command that installs it, as for moto and the CNI plugins; never skipped.
 */
import { findShellcheck, SHELLCHECK_MISSING } from '../support/shellcheck';

test('without shellcheck on PATH: an error naming the install command', () => {
  expect(() => findShellcheck('/nonexistent')).toThrow(SHELLCHECK_MISSING);
  expect(SHELLCHECK_MISSING).toContain('apt-get install -y shellcheck');
});

test('with it (as the README requires and .ci/run installs): its path', () => {
  expect(findShellcheck()).toMatch(/\/shellcheck$/);
});
