/**
 * The AWS SDK's NodeVersionSupportWarning is held back to one line at the end of our local scripts
 * (scripts/lib/sdk-node-warning.ts); other warnings pass untouched. The child-process tests call the
 * SDK's own check (`emitWarningIfUnsupportedVersion` of @aws-sdk/core/client, what every client's
 * runtime config calls) with a Node 20 version string, so they show the real text on any Node;
 * the in-process test drives the hold-back with a stand-in process object. No AWS call is made.
 */
import { spawnSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deferSdkNodeWarning, oneLine } from '../../scripts/lib/sdk-node-warning';

const ROOT = join(__dirname, '..', '..');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'sdk-node-warning-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Runs a script that warns as an SDK client does on Node 20, then writes its own output. */
function runScript(deferred: boolean, env: Record<string, string> = {}) {
  const path = join(work, `script-${deferred}.ts`);
  writeFileSync(
    path,
    [
      deferred ? `import ${JSON.stringify(join(ROOT, 'scripts', 'lib', 'defer-sdk-node-warning'))};` : '',
      `import { emitWarningIfUnsupportedVersion } from ${JSON.stringify(require.resolve('@aws-sdk/core/client'))};`,
      "emitWarningIfUnsupportedVersion('v20.19.0');",
      "process.emitWarning('a warning of another kind', 'OtherWarning');",
      "setImmediate(() => process.stderr.write('our first line\\n'));",
    ].join('\n'),
  );
  const childEnv: Record<string, string | undefined> = { ...process.env, ...env };
  delete childEnv.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED; // the tests' own set-up sets it
  return spawnSync(TSX, [path], { encoding: 'utf8', env: childEnv });
}

test('the SDK warning leaves the first screen: one line at the end; another warning still shows', () => {
  const out = runScript(true);
  expect(out.status).toBe(0);
  const lines = out.stderr.trim().split('\n');
  expect(lines[0]).not.toContain('NodeVersionSupportWarning');
  expect(out.stderr).toContain('OtherWarning: a warning of another kind');
  expect(lines.filter((l) => l.includes('NodeVersionSupportWarning'))).toEqual([lines[lines.length - 1]]);
  expect(lines[lines.length - 1]).toMatch(/^\(node:\d+\) Warning: NodeVersionSupportWarning: The AWS SDK for JavaScript \(v3\) versions .* will require node >=22\. You are running node v20\.19\.0\. .*https:\/\/a\.co\/\S+$/);
  expect(out.stderr.indexOf('our first line')).toBeLessThan(out.stderr.indexOf('NodeVersionSupportWarning'));
});

test('without the hold-back (how the SDK prints it), the 8-line warning comes before our first line', () => {
  const out = runScript(false);
  expect(out.stderr.indexOf('NodeVersionSupportWarning')).toBeLessThan(out.stderr.indexOf('our first line'));
  expect(out.stderr.split('\n').length).toBeGreaterThan(8);
});

test('warnings turned off (NODE_NO_WARNINGS=1): nothing at the end either', () => {
  const out = runScript(true, { NODE_NO_WARNINGS: '1' });
  expect(out.stderr).toBe('our first line\n');
});

test('in process: only the first NodeVersionSupportWarning is held, other warnings reach emitWarning, the line is written at exit', () => {
  const original = jest.fn();
  const proc = Object.assign(new EventEmitter(), { emitWarning: original, env: {}, execArgv: [], pid: 42 }) as unknown as NodeJS.Process;
  const written: string[] = [];
  deferSdkNodeWarning(proc, (line) => written.push(line));
  deferSdkNodeWarning(proc, (line) => written.push(line)); // idempotent

  proc.emitWarning('NodeVersionSupportWarning: line one\n\nline two');
  proc.emitWarning('DeprecationWarning: x', 'DeprecationWarning');
  proc.emitWarning(new Error('an Error warning'));
  expect(original.mock.calls).toEqual([['DeprecationWarning: x', 'DeprecationWarning'], [new Error('an Error warning')]]);
  expect(written).toEqual([]);

  proc.emit('exit', 0);
  expect(written).toEqual(['(node:42) Warning: NodeVersionSupportWarning: line one line two\n']);
  expect(oneLine(' a\n  b \n\n c ')).toBe('a b c');
});
