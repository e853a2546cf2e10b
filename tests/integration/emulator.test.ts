/**
 * `npm run emulator` and docs/commands.md's "Try an event by hand", as a user runs them: the emulator in
 * one process (its own moto and fidelity proxy on a fixed port, provisioned for the events), and
 * every event it wrote run through `npm run invoke` in another, each doing what its name says.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseEmfLines } from '../../scripts/lib/emf';
import { freePort } from '../support/moto';
import { run } from '../support/run';

const ROOT = join(__dirname, '..', '..');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');

let emulator: ChildProcess;
let port: number;
let output = '';
let env: Record<string, string> = {};
let commands: string[][] = [];

beforeAll(async () => {
  port = await freePort();
  emulator = spawn(TSX, [join(ROOT, 'scripts', 'emulator.ts'), '--port', String(port)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  emulator.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  emulator.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  const deadline = Date.now() + 90_000;
  while (!output.includes('Ctrl-C stops it')) {
    if (emulator.exitCode !== null || Date.now() > deadline) throw new Error(`the emulator did not come up:\n${output}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  for (const [, name, value] of output.matchAll(/^export (AWS_[A-Z_]+)=(\S+)$/gm)) env[name] = value;
  commands = [...output.matchAll(/^npm run -s invoke -- (.+)$/gm)].map((m) => m[1].split(' '));
}, 120_000);

afterAll(async () => {
  if (emulator.exitCode === null) {
    const exited = new Promise((r) => emulator.once('exit', r));
    emulator.kill('SIGINT');
    await exited;
  }
});

test('it prints the SDK environment on its fixed port and one invoke command per event of events/', () => {
  expect(env.AWS_ENDPOINT_URL).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  // AWS_DEFAULT_REGION as well: the AWS CLI v1 reads only that one.
  expect(env).toMatchObject({ AWS_REGION: 'us-east-1', AWS_DEFAULT_REGION: 'us-east-1' });
  const files = commands.map((c) => c.find((a) => a.startsWith('.emulator/events/'))!.replace('.emulator/events/', '')).sort();
  expect(files).toEqual(readdirSync(join(ROOT, 'events')).filter((f) => f.endsWith('.json')).sort());
});

/** What each event must do, by file name. */
const EXPECTED: Record<string, (out: { status: number | null; stdout: string; stderr: string }) => void> = {
  'launch.json': (o) => expect(JSON.parse(o.stdout)).toMatchObject({ outcome: 'attached', lifecycleResult: 'CONTINUE', completion: 'completed' }),
  'warm-pool-launch.json': (o) => expect(JSON.parse(o.stdout)).toMatchObject({ outcome: 'attached', lifecycleResult: 'CONTINUE' }),
  'state-change.json': (o) => expect(JSON.parse(o.stdout)).toMatchObject({ outcome: 'attached', lifecycleResult: null, interfaces: [expect.anything(), expect.anything()] }),
  // Its node's ENIs were attached with DeleteOnTermination=true (the fidelity proxy keeps it): they
  // go with the instance, nothing is released.
  'terminate.json': (o) => {
    expect(JSON.parse(o.stdout)).toMatchObject({ outcome: 'released', lifecycleResult: 'CONTINUE', interfaces: [] });
    expect(o.stderr).toContain('"goingWithInstance":2');
  },
  // The group's nodes got their ENIs at set-up (hook installer): a dry run finds nothing to do.
  'reconcile.json': (o) => {
    const result = JSON.parse(o.stdout);
    expect(result).toMatchObject({ outcome: 'reconciled', reconcile: { dryRun: true, summary: { failed: 0 } } });
    expect(result.reconcile.summary.actions).toEqual({ 'in-place': 4 });
  },
  'malformed.json': (o) => {
    expect(o.status).toBe(1);
    expect(o.stderr).toContain('detail.EC2InstanceId is missing');
  },
  'scheduled.json': (o) => expect(JSON.parse(o.stdout)).toMatchObject({ dryRun: true, failed: 0, examined: expect.any(Number) }),
  'hook-installer-create.json': (o) => expect(JSON.parse(o.stdout)).toMatchObject({ Status: 'SUCCESS', Reason: expect.stringContaining('hooks on eks-') }),
  'hook-installer-update.json': (o) => expect(JSON.parse(o.stdout)).toMatchObject({ Status: 'SUCCESS' }),
  'hook-installer-delete.json': (o) => expect(JSON.parse(o.stdout)).toMatchObject({ Status: 'SUCCESS', Reason: expect.stringContaining('removed eks-multus-eni-launch') }),
  'size-guard-update.json': (o) => expect(JSON.parse(o.stdout)).toMatchObject({ Status: 'SUCCESS', Reason: expect.stringContaining('launch template version 1 to 2 is one EKS version update') }),
  'size-guard-refused.json': (o) =>
    expect(JSON.parse(o.stdout)).toMatchObject({ Status: 'FAILED', Reason: expect.stringContaining('from the live 0/2/2 (min/desired/max) to 0/0/1 (min/desired/max), terminating its nodes') }),
};

test('every event it wrote does what its file name says through npm run invoke', async () => {
  for (const args of commands) {
    const file = args.find((a) => a.startsWith('.emulator/events/'))!.replace('.emulator/events/', '');
    const out = await run(TSX, [join(ROOT, 'scripts', 'invoke.ts'), ...args], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', ...env } });
    if (file !== 'malformed.json') expect({ file, status: out.status, stdoutLines: out.stdout.trim().split('\n').length }).toEqual({ file, status: 0, stdoutLines: 1 });
    EXPECTED[file](out);
    // Its metrics went to stderr (EMF), under the name sam local invoke gives the function; a
    // malformed event and a dry-run reconcile change nothing and count nothing.
    const fn = args.includes('--function') ? args[args.indexOf('--function') + 1] : 'LifecycleFunction';
    const functions = [...new Set(parseEmfLines(out.stderr).map((d) => d.function))];
    expect({ file, functions }).toEqual({ file, functions: ['malformed.json', 'reconcile.json'].includes(file) ? [] : [fn] });
    // stderr starts with the function's own output, not the AWS SDK's NodeVersionSupportWarning.
    expect({ file, first: out.stderr.split('\n')[0] }).not.toEqual({ file, first: expect.stringContaining('NodeVersionSupportWarning') });
  }
  // What CloudFormation would get, printed by the emulator: one line per hook-installer event
  // invoked (the last is the delete's), none for its own set-up, which put the hooks the same way.
  const deadline = Date.now() + 30_000;
  while (!/^CloudFormation would get: .*removed eks-multus-eni-launch/m.test(output) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  const answers = output.split('\n').filter((l) => l.startsWith('CloudFormation would get: '));
  expect(answers.map((l) => JSON.parse(l.replace('CloudFormation would get: ', '')).Status)).toEqual(['SUCCESS', 'SUCCESS', 'SUCCESS']);
}, 120_000);

test('its set-up prints nothing but the start line before the exports', () => {
  const beforeExports = output.slice(0, output.indexOf('# the local AWS is up'));
  expect(beforeExports.trim().split('\n')).toEqual([`starting moto and the fidelity proxy on 127.0.0.1:${port}...`]);
});

test('a second emulator on the same port: one line naming --port and EMULATOR_PORT, exit non-zero, no stack', async () => {
  const out = await run(TSX, [join(ROOT, 'scripts', 'emulator.ts'), '--port', String(port)], { cwd: ROOT, env: { ...process.env } });
  expect(out.status).not.toBe(0);
  expect(out.stdout).toBe('');
  const lines = out.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(new RegExp(`^emulator: 127\\.0\\.0\\.1:${port} is already in use .*--port N \\(or EMULATOR_PORT=N\\)$`));
});

test('a --port that is not a port, and an unknown argument: one line each, exit 2', async () => {
  const bad = await run(TSX, [join(ROOT, 'scripts', 'emulator.ts'), '--port', 'abc'], { cwd: ROOT, env: { ...process.env } });
  expect({ status: bad.status, stderr: bad.stderr }).toEqual({ status: 2, stderr: 'emulator: --port must be a TCP port number (1-65535), not "abc"\n' });
  const unknown = await run(TSX, [join(ROOT, 'scripts', 'emulator.ts'), '--prot', '4566'], { cwd: ROOT, env: { ...process.env } });
  expect(unknown.status).toBe(2);
  expect(unknown.stderr).toMatch(/^emulator: unknown argument --prot\nusage: npm run emulator/);
});
