/**
 * What `npm test` builds is what `sam build` deploys: the layer through its make target, the
 * function with the template's esbuild BuildProperties; then the built handler runs in a fresh
 * Node process with the built layer on NODE_PATH (as Lambda mounts it at /opt/nodejs), against
 * the emulator.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildLikeSam, layerNodePath, type BuildOutput } from '../../scripts/lib/sam-build';
import { resetEmulator } from '../support/context';
import { run } from '../support/run';
import { createVpc, eventFor, launchNode, multusInterfaces, putSettings, worldClients } from '../support/world';

let output: BuildOutput;

beforeAll(async () => {
  output = await buildLikeSam(mkdtempSync(join(tmpdir(), 'eks-multus-eni-build-')));
});

test('the layer lands at nodejs/node_modules/multus-core with a package.json', () => {
  const pkgDir = join(output.layers.MultusCoreLayer, 'nodejs', 'node_modules', 'multus-core');
  expect(JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'))).toMatchObject({ name: 'multus-core', main: 'index.js' });
  expect(existsSync(join(pkgDir, 'index.js'))).toBe(true);
});

test('the function bundle keeps multus-core external and carries no copy of the SDK', () => {
  const fn = output.functions.LifecycleFunction;
  const code = readFileSync(join(fn.dir, 'handler.js'), 'utf8');
  expect(code).toContain('require("multus-core")');
  expect(code).not.toMatch(/@aws-sdk|@smithy|powertools/i);
  expect(code.length).toBeLessThan(5_000);
  expect(fn.layers).toEqual(['MultusCoreLayer']);
});

test('the built handler, loaded with the built layer, attaches multus ENIs on a launch event', async () => {
  await resetEmulator();
  const clients = worldClients();
  const layout = await createVpc(clients, ['us-east-1a']);
  await putSettings(clients, layout, { 'use-ips-from-start-of-subnet': 'true' });
  const instanceId = await launchNode(clients, layout.azs[0].nodeSubnet);
  const eventPath = join(output.outDir, 'event.json');
  writeFileSync(eventPath, JSON.stringify(eventFor('launch.json', instanceId)));
  const fn = output.functions.LifecycleFunction;

  const child = await run(process.execPath, [join(__dirname, '..', 'support', 'run-built-handler.cjs'), fn.dir, fn.handler, eventPath], {
    env: { ...process.env, NODE_PATH: layerNodePath(output, fn) },
  });

  expect(child.stderr).not.toMatch(/Error/);
  expect(child.status).toBe(0);
  const { result, resolved } = JSON.parse(child.stdout.trim().split('\n').pop() ?? '{}');
  expect(resolved).toBe(join(output.layers.MultusCoreLayer, 'nodejs', 'node_modules', 'multus-core', 'index.js'));
  expect(result).toMatchObject({ outcome: 'attached', lifecycleResult: 'CONTINUE', instanceId });
  expect(result.interfaces.map((i: { privateIpAddress: string }) => i.privateIpAddress)).toEqual(['10.0.1.4', '10.0.2.4']);
  expect((await multusInterfaces(clients, instanceId)).map((e) => e.NetworkInterfaceId)).toEqual(
    result.interfaces.map((i: { networkInterfaceId: string }) => i.networkInterfaceId),
  );
});
