/**
 * `npm run invoke` as a user runs it: a separate process on an events/ fixture with --env-vars,
 * against the emulator through the standard AWS SDK environment. stdout holds only the result
 * JSON line; logs and the metrics (EMF, which Powertools writes to stdout) go to stderr; exit 0
 * when the handler returns, non-zero when it throws.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emfSamples, parseEmfLines } from '../../scripts/lib/emf';
import { resetEmulator } from '../support/context';
import { run } from '../support/run';
import { createVpc, launchNode, multusInterfaces, worldClients } from '../support/world';

const ROOT = join(__dirname, '..', '..');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');

function invoke(args: string[]) {
  return run(TSX, [join(ROOT, 'scripts', 'invoke.ts'), ...args], { cwd: ROOT, env: { ...process.env, POWERTOOLS_LOG_LEVEL: 'INFO' } });
}

beforeEach(resetEmulator);

test('a launch event with --env-vars env.json: one JSON line on stdout, logs on stderr, exit 0', async () => {
  const clients = worldClients();
  const layout = await createVpc(clients, ['us-east-1a']);
  // env.json names the settings path of a stack deployed with the default name; put them there.
  const { PutParameterCommand } = await import('@aws-sdk/client-ssm');
  await clients.ssm.send(
    new PutParameterCommand({ Name: '/eks-multus-eni/eks-multus-eni/subnets/us-east-1a', Value: layout.azs[0].multusSubnets.join(','), Type: 'StringList' }),
  );
  const instanceId = await launchNode(clients, layout.azs[0].nodeSubnet);
  const event = JSON.parse(readFileSync(join(ROOT, 'events', 'launch.json'), 'utf8'));
  event.detail.EC2InstanceId = instanceId;
  const eventPath = join(mkdtempSync(join(tmpdir(), 'invoke-')), 'event.json');
  writeFileSync(eventPath, JSON.stringify(event));

  const out = await invoke([eventPath, '--env-vars', 'env.json']);

  expect(out.status).toBe(0);
  const lines = out.stdout.trim().split('\n');
  expect(lines).toHaveLength(1);
  const result = JSON.parse(lines[0]);
  expect(result).toMatchObject({ outcome: 'attached', lifecycleResult: 'CONTINUE', instanceId });
  expect(out.stderr).toContain('"message":"multus interfaces in place"');
  // The metrics went to stderr with the logs, named after the function as sam local invoke names it.
  expect(parseEmfLines(out.stdout)).toEqual([]);
  const launches = emfSamples(parseEmfLines(out.stderr)).filter((m) => m.name === 'Launches');
  expect(launches.map((m) => [m.dimensions, m.values])).toContainEqual([
    { service: 'eks-multus-eni', function: 'LifecycleFunction', outcome: 'attached' },
    [1],
  ]);
  expect((await multusInterfaces(clients, instanceId)).map((e) => e.NetworkInterfaceId)).toEqual(result.interfaces.map((i: { networkInterfaceId: string }) => i.networkInterfaceId));
});

test('an event of another hook than the template\'s: ignored (LAUNCH_HOOK_NAME comes from the template, as SAM sets it), exit 0', async () => {
  const event = JSON.parse(readFileSync(join(ROOT, 'events', 'launch.json'), 'utf8'));
  event.detail.LifecycleHookName = 'someone-elses-hook';
  const eventPath = join(mkdtempSync(join(tmpdir(), 'invoke-')), 'event.json');
  writeFileSync(eventPath, JSON.stringify(event));
  const out = await invoke([eventPath, '--env-vars', 'env.json']);
  expect(out.status).toBe(0);
  expect(JSON.parse(out.stdout)).toMatchObject({ outcome: 'ignored', lifecycleResult: null, reason: expect.stringContaining('someone-elses-hook is not one of ours (eks-multus-eni-launch, eks-multus-eni-terminate)') });
});

test('the malformed event: the handler throws, exit non-zero, nothing on stdout', async () => {
  const out = await invoke(['events/malformed.json', '--env-vars', 'env.json']);
  expect(out.status).not.toBe(0);
  expect(out.stdout).toBe('');
  expect(out.stderr).toContain('detail.EC2InstanceId is missing');
  expect(parseEmfLines(out.stderr)).toEqual([]); // nothing was done, nothing counted
});

test('stderr starts with the handler\'s own output, not the AWS SDK\'s NodeVersionSupportWarning (held to one line at the end on Node < 22)', async () => {
  // As a user's shell has it: without the switch the tests' set-up turns on (tests/support/quiet.ts).
  const env: Record<string, string | undefined> = { ...process.env, POWERTOOLS_LOG_LEVEL: 'INFO' };
  delete env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED;
  const out = await run(TSX, [join(ROOT, 'scripts', 'invoke.ts'), 'events/malformed.json', '--env-vars', 'env.json'], { cwd: ROOT, env });

  const lines = out.stderr.trim().split('\n');
  expect(lines[0]).toMatch(/^\{"level":"ERROR","message":"malformed lifecycle event/);
  const warned = lines.filter((l) => l.includes('NodeVersionSupportWarning'));
  if (Number(process.versions.node.split('.')[0]) < 22) expect(warned).toEqual([lines[lines.length - 1]]);
  else expect(warned).toEqual([]);
});
