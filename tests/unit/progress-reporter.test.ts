/**
 * The progress reporter of `npm test` (tests/support/progress-reporter.cjs), driven as jest drives
 * it (file start, each test case's result, file end) on a stand-in clock: files that run long print
 * one line per finished test case and a heartbeat when silent; short files print nothing; no line
 * can be mistaken for jest's `Tests:` summary, which .ci/run reads.
 */
import { join } from 'node:path';

const ProgressReporter = require('../support/progress-reporter.cjs');
const ROOT = join(__dirname, '..', '..');

function reporter() {
  let now = 0;
  const lines: string[] = [];
  const r = new ProgressReporter({ rootDir: ROOT }, { afterSeconds: 30, heartbeatSeconds: 60, now: () => now, write: (t: string) => lines.push(t), timers: false });
  return { r, lines, at: (seconds: number) => (now = seconds * 1000) };
}

const agent = { path: join(ROOT, 'tests', 'node-agent', 'agent.test.ts') };
const quick = { path: join(ROOT, 'tests', 'unit', 'ipv4.test.ts') };
const result = (title: string, status = 'passed', ancestorTitles: string[] = []) => ({ title, status, ancestorTitles, duration: 1500 });

test('a short file prints nothing', () => {
  const { r, lines, at } = reporter();
  r.onTestFileStart(quick);
  at(2);
  r.onTestCaseResult(quick, result('parses'));
  r.heartbeat();
  r.onTestFileResult(quick);
  expect(lines).toEqual([]);
});

test('a long file: one line per test case once past 30 s, with counts and failures; a heartbeat after 60 s of silence', () => {
  const { r, lines, at } = reporter();
  r.onTestFileStart(agent);
  at(10);
  r.onTestCaseResult(agent, result('first'));
  at(31);
  r.onTestCaseResult(agent, result('configures ens6', 'passed', ['configure']));
  at(45);
  r.onTestCaseResult(agent, result('times out', 'failed', ['wait']));
  at(100);
  r.heartbeat(); // 55 s since the last line: not yet
  at(106);
  r.heartbeat();
  r.heartbeat(); // once per silence
  at(107);
  r.onTestCaseResult(agent, result('skipped one', 'skipped'));
  r.onTestFileResult(agent);
  r.heartbeat();

  expect(lines).toEqual([
    'progress: tests/node-agent/agent.test.ts at 31 s, 2 done: ok configure > configures ens6 (1.5 s)\n',
    'progress: tests/node-agent/agent.test.ts at 45 s, 3 done, 1 failed: FAILED wait > times out (1.5 s)\n',
    'progress: tests/node-agent/agent.test.ts at 106 s, 3 done, 1 failed: still running\n',
    'progress: tests/node-agent/agent.test.ts at 107 s, 4 done, 1 failed: skipped skipped one (1.5 s)\n',
  ]);
  expect(lines.some((l) => l.startsWith('Tests:'))).toBe(false);
});

test('jest.config.js runs it next to the default reporter, with those thresholds', () => {
  const config = require('../../jest.config.js');
  expect(config.reporters).toEqual(['default', ['<rootDir>/tests/support/progress-reporter.cjs', { afterSeconds: 30, heartbeatSeconds: 60 }]]);
});
