/**
 * What `npm test` builds is what `sam build` deploys: the artifacts are built as SAM's own workflows
 * build them (scripts/lib/sam-build.ts follows aws-lambda-builders step by step: scratch copies,
 * the same npm command in the scratch folder, esbuild looked for only in the scratch
 * `node_modules/.bin` and on PATH, esbuild's flags derived from Metadata.BuildProperties, the layer
 * through `make --makefile <ContentUri>/Makefile build-<LogicalId>` in a scratch copy), in a shell
 * whose PATH holds no `node_modules/.bin` and no esbuild, as on a fresh machine after `npm ci`.
 * Then each built handler runs in a fresh Node process with the built layer on NODE_PATH (as
 * Lambda mounts it at /opt/nodejs), against the emulator (the hook installer answers a loopback
 * stand-in for CloudFormation's ResponseURL).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildLikeSam, ESBUILD_NOT_FOUND, layerNodePath, ROOT, userShellEnv, which, type BuildOutput } from '../../scripts/lib/sam-build';
import { resetEmulator } from '../support/context';
import { run } from '../support/run';
import { createOrphan, createVpc, eventFor, launchNode, multusInterfaces, ourInterfaces, putSettings, worldClients } from '../support/world';
import { createNodegroup, customResourceEvent, hooksOn, startResponseServer } from '../support/nodegroup-world';
import { loadTemplate } from '../../scripts/lib/template';
import { emfSamples, parseEmfLines } from '../../scripts/lib/emf';

/** A fresh machine's shell after `npm ci`: no node_modules/.bin on PATH (npm test puts one there), no npm run-script variables. */
const shell = userShellEnv(process.env, true);
let output: BuildOutput;

beforeAll(async () => {
  output = await buildLikeSam(mkdtempSync(join(tmpdir(), 'eks-multus-eni-build-')), { env: shell });
}, 300_000);

test('the build shell has no esbuild on PATH: the workflow can only use the one npm installs in its scratch folder', () => {
  expect(which('esbuild', [], shell)).toBeUndefined();
  expect(shell.PATH).not.toMatch(/node_modules[\\/]\.bin/);
  for (const fn of Object.values(output.functions)) {
    expect(fn.esbuild).toMatch(/sam-scratch-[^/]+\/node_modules\/\.bin\/esbuild$/);
    expect(fn.esbuild.startsWith(ROOT)).toBe(false);
  }
});

test('a CodeUri whose package.json has esbuild only as a devDependency fails as sam build does (npm install --omit=dev)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'eks-multus-eni-devdep-'));
  mkdirSync(join(dir, 'fn'));
  writeFileSync(join(dir, 'fn', 'package.json'), JSON.stringify({ name: 'devdep', version: '1.0.0', private: true, devDependencies: { esbuild: '0.28.2' } }));
  writeFileSync(join(dir, 'fn', 'handler.ts'), 'export const handler = async () => 1;\n');
  writeFileSync(
    join(dir, 'template.yaml'),
    [
      'Transform: AWS::Serverless-2016-10-31',
      'Resources:',
      '  Fn:',
      '    Type: AWS::Serverless::Function',
      '    Properties: { CodeUri: fn/, Handler: handler.handler, Runtime: nodejs22.x }',
      '    Metadata: { BuildMethod: esbuild, BuildProperties: { EntryPoints: [handler.ts] } }',
      '',
    ].join('\n'),
  );
  await expect(buildLikeSam(join(dir, 'out'), { env: shell, templatePath: join(dir, 'template.yaml') })).rejects.toThrow(ESBUILD_NOT_FOUND);
}, 120_000);

test('esbuild ran with the flags SAM derives from BuildProperties, from the scratch copy of functions/', () => {
  const template = loadTemplate(join(ROOT, 'template.yaml'));
  for (const [id, fn] of Object.entries(output.functions)) {
    const entry = (template.Resources[id].Metadata?.BuildProperties as { EntryPoints: string[] }).EntryPoints[0];
    expect(fn.esbuildArgs).toEqual([
      entry,
      '--bundle',
      '--platform=node',
      `--outdir=${fn.dir}`,
      '--minify',
      '--target=es2022',
      '--format=cjs',
      '--main-fields=module,main',
      '--external:multus-core',
    ]);
  }
});

/**
 * Runs a built function's handler in a fresh Node process with its layers on NODE_PATH (as
 * Lambda mounts them at /opt/nodejs), asynchronously: the emulator's proxy lives in this process.
 * The handler must return, loading multus-core from the built layer; its result is returned.
 */
async function runBuilt(id: string, event: unknown, env: Record<string, string> = {}) {
  const fn = output.functions[id];
  const eventPath = join(output.outDir, `${id}-event.json`);
  writeFileSync(eventPath, JSON.stringify(event));
  const child = await run(process.execPath, [join(__dirname, '..', 'support', 'run-built-handler.cjs'), fn.dir, fn.handler, eventPath], {
    env: { ...process.env, NODE_PATH: layerNodePath(output, fn), ...env },
  });
  expect(child.stderr).not.toMatch(/Error/);
  expect(child.status).toBe(0);
  const { result, resolved } = JSON.parse(child.stdout.trim().split('\n').pop() ?? '{}');
  expect(resolved).toBe(join(output.layers.MultusCoreLayer, 'nodejs', 'node_modules', 'multus-core', 'index.js'));
  // The metrics, as Lambda gets them: EMF on stdout (the function's log), none on stderr.
  expect(parseEmfLines(child.stderr)).toEqual([]);
  return { result, emf: emfSamples(parseEmfLines(child.stdout)) };
}

test('the layer lands at nodejs/node_modules/multus-core with a package.json, and its hooks entry beside', () => {
  const pkgDir = join(output.layers.MultusCoreLayer, 'nodejs', 'node_modules', 'multus-core');
  expect(JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'))).toMatchObject({ name: 'multus-core', main: 'index.js' });
  expect(existsSync(join(pkgDir, 'index.js'))).toBe(true);
  expect(existsSync(join(pkgDir, 'hooks.js'))).toBe(true);
  // Only the hook installer's entry carries the EKS client.
  expect(readFileSync(join(pkgDir, 'index.js'), 'utf8')).not.toContain('DescribeNodegroup');
  expect(readFileSync(join(pkgDir, 'hooks.js'), 'utf8')).toContain('DescribeNodegroup');
});

test('every function of the template is built (esbuild) and every layer (make)', () => {
  const template = loadTemplate(join(ROOT, 'template.yaml'));
  const ids = (type: string) => Object.entries(template.Resources).filter(([, r]) => r.Type === type).map(([id]) => id).sort();
  expect(Object.keys(output.functions).sort()).toEqual(ids('AWS::Serverless::Function'));
  expect(Object.keys(output.layers).sort()).toEqual(ids('AWS::Serverless::LayerVersion'));
});

test.each(['LifecycleFunction', 'HookInstallerFunction', 'SweeperFunction'])('the %s bundle keeps multus-core external and carries no copy of the SDK', (id) => {
  const fn = output.functions[id];
  const code = readFileSync(join(fn.dir, 'handler.js'), 'utf8');
  expect(code).toMatch(/require\("multus-core(\/hooks)?"\)/);
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

  const { result, emf } = await runBuilt('LifecycleFunction', eventFor('launch.json', instanceId), { AWS_LAMBDA_FUNCTION_NAME: 'stack-LifecycleFunction-1', AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand' });

  expect(result).toMatchObject({ outcome: 'attached', lifecycleResult: 'CONTINUE', instanceId });
  const fn = { service: 'eks-multus-eni', function: 'stack-LifecycleFunction-1' };
  expect(emf.map((m) => [m.namespace, m.name, m.dimensions, m.values])).toEqual(
    expect.arrayContaining([
      ['EksMultusEni', 'ColdStart', fn, [1]],
      ['EksMultusEni', 'Launches', { ...fn, outcome: 'attached' }, [1]],
      ['EksMultusEni', 'InterfacesCreated', fn, [2]],
    ]),
  );
  expect(result.interfaces.map((i: { privateIpAddress: string }) => i.privateIpAddress)).toEqual(['10.0.1.4', '10.0.2.4']);
  expect((await multusInterfaces(clients, instanceId)).map((e) => e.NetworkInterfaceId)).toEqual(
    result.interfaces.map((i: { networkInterfaceId: string }) => i.networkInterfaceId),
  );
});

test('the built hook installer, loaded with the built layer, puts the hooks, fixes running nodes and answers CloudFormation', async () => {
  await resetEmulator();
  const clients = worldClients();
  const layout = await createVpc(clients, ['us-east-1a']);
  await putSettings(clients, layout);
  const world = await createNodegroup(clients, layout, { nodes: 1 });
  const server = await startResponseServer();
  try {
    // The ResponseURL server lives in this process too.
    const { result, emf } = await runBuilt('HookInstallerFunction', customResourceEvent('hook-installer-create.json', server.url(), world));

    expect(result).toMatchObject({ Status: 'SUCCESS', Data: { AutoScalingGroupNames: world.autoScalingGroupName, NodesAttached: '1' } });
    expect(server.responses.map((r) => r.body)).toEqual([result]);
    expect((await hooksOn(world.autoScalingGroupName)).map((h) => h.LifecycleHookName)).toEqual(['eks-multus-eni-launch', 'eks-multus-eni-terminate']);
    expect(await multusInterfaces(clients, world.instanceIds[0])).toHaveLength(2);
    // The running node's ENIs and the answer, counted by the hook installer.
    expect(emf.map((m) => [m.name, m.dimensions, m.values])).toEqual(
      expect.arrayContaining([
        ['InterfacesCreated', { service: 'eks-multus-eni', function: 'hook-installer' }, [2]],
        ['CustomResourceResponses', { service: 'eks-multus-eni', function: 'hook-installer', requestType: 'Create', status: 'SUCCESS' }, [1]],
      ]),
    );
  } finally {
    await server.close();
  }
});

test('the built sweeper, loaded with the built layer, deletes an orphan of ours whose instance is terminated', async () => {
  await resetEmulator();
  const clients = worldClients();
  const layout = await createVpc(clients, ['us-east-1a']);
  const gone = await launchNode(clients, layout.azs[0].nodeSubnet);
  const { TerminateInstancesCommand } = await import('@aws-sdk/client-ec2');
  await clients.ec2.send(new TerminateInstancesCommand({ InstanceIds: [gone] }));
  const orphan = await createOrphan(clients, layout.azs[0].multusSubnets[0], gone, 1);

  const scheduled = JSON.parse(readFileSync(join(ROOT, 'events', 'scheduled.json'), 'utf8'));
  const { result, emf } = await runBuilt('SweeperFunction', scheduled, { SWEEP_GRACE_MINUTES: '30', SWEEP_DRY_RUN: 'false' });

  expect(result).toMatchObject({ deleted: 1, failed: 0 });
  expect(emf.map((m) => [m.name, m.values])).toEqual([
    ['SweepCandidates', [1]],
    ['SweepDeletions', [1]],
    ['SweepFailures', [0]],
  ]);
  expect((await ourInterfaces(clients)).map((e) => e.NetworkInterfaceId)).not.toContain(orphan);
});
