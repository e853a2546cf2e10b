/**
 * Fault tests: failures injected at the HTTP level by the fidelity proxy (so the SDK's retry
 * middleware really runs) and a real crash (a process killed between create and attach). Whatever
 * happens, every node ends complete or cleanly failed, no address is handed out twice, and no ENI
 * is leaked.
 */
import { join } from 'node:path';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawn } from 'node:child_process';
import { Logger } from '@aws-lambda-powertools/logger';
import { createClients, createLifecycleApp, DEFAULT_MAX_ATTEMPTS } from 'multus-core';
import { handler } from '../../functions/lifecycle/handler';
import { cleanEmulatorEachTest, control } from '../support/context';
import {
  createVpc,
  eventFor,
  launchNode,
  multusInterfaces,
  ourInterfaces,
  putSettings,
  worldClients,
  type VpcLayout,
} from '../support/world';

const ROOT = join(__dirname, '..', '..');
const clients = worldClients();
let layout: VpcLayout;

cleanEmulatorEachTest();

async function leaked(nodes: string[]): Promise<string[]> {
  // Ours and not attached to one of the nodes at a multus device index: leaked.
  const attached = new Set<string>();
  for (const id of nodes) for (const eni of await multusInterfaces(clients, id)) attached.add(eni.NetworkInterfaceId!);
  return (await ourInterfaces(clients)).map((e) => e.NetworkInterfaceId!).filter((id) => !attached.has(id));
}

test('a throttling storm on create and attach within the SDK retries: the launch succeeds', async () => {
  layout = await createVpc(clients, ['us-east-1a'], 3);
  await putSettings(clients, layout, { 'use-ips-from-start-of-subnet': 'true' });
  const node = await launchNode(clients, layout.azs[0].nodeSubnet);
  for (const action of ['CreateNetworkInterface', 'AttachNetworkInterface', 'ModifyNetworkInterfaceAttribute']) {
    await control().inject({ service: 'ec2', action, code: 'RequestLimitExceeded', status: 503, count: 2 });
  }

  const result = await handler(eventFor('launch.json', node));

  expect(result.outcome).toBe('attached');
  expect((await control().stats()).injectedFaults).toBe(6);
  expect(await multusInterfaces(clients, node)).toHaveLength(3);
  expect(await leaked([node])).toEqual([]);
});

test('a throttling storm longer than the retries: the node fails cleanly, ABANDON, nothing leaked', async () => {
  layout = await createVpc(clients, ['us-east-1a'], 3);
  await putSettings(clients, layout);
  const node = await launchNode(clients, layout.azs[0].nodeSubnet);
  // One more throttled answer than the SDK's attempts (DEFAULT_MAX_ATTEMPTS).
  await control().inject({ service: 'ec2', action: 'AttachNetworkInterface', code: 'RequestLimitExceeded', status: 503, count: DEFAULT_MAX_ATTEMPTS, skip: 1 });

  const result = await handler(eventFor('launch.json', node));

  expect(result).toMatchObject({ outcome: 'failed', lifecycleResult: 'ABANDON' });
  expect(result.reason).toContain('RequestLimitExceeded');
  expect(await ourInterfaces(clients)).toEqual([]);
});

test.each([1, 2, 3])('a failure on ENI %i of 3 rolls back every ENI this delivery made', async (k) => {
  layout = await createVpc(clients, ['us-east-1a'], 3);
  await putSettings(clients, layout);
  const node = await launchNode(clients, layout.azs[0].nodeSubnet);
  await control().inject({ service: 'ec2', action: 'CreateNetworkInterface', code: 'InsufficientFreeAddressesInSubnet', skip: k - 1 });

  const result = await handler(eventFor('launch.json', node));

  expect(result).toMatchObject({ outcome: 'failed', lifecycleResult: 'ABANDON' });
  expect(result.reason).toContain('InsufficientFreeAddressesInSubnet');
  expect(await ourInterfaces(clients)).toEqual([]);
  expect(await multusInterfaces(clients, node)).toEqual([]);
});

test('a crash between create and attach, then redelivery: the half-made ENIs are adopted, none duplicated', async () => {
  layout = await createVpc(clients, ['us-east-1a'], 2);
  await putSettings(clients, layout, { 'use-ips-from-start-of-subnet': 'true' });
  const node = await launchNode(clients, layout.azs[0].nodeSubnet);
  const event = eventFor('launch.json', node);
  const eventPath = join(mkdtempSync(join(tmpdir(), 'crash-')), 'event.json');
  writeFileSync(eventPath, JSON.stringify(event));
  // The first delivery's attach hangs; the process is killed while it waits (a Lambda timeout or crash).
  await control().inject({ service: 'ec2', action: 'AttachNetworkInterface', code: 'hang', delayMs: 30_000 });
  const child = spawn(join(ROOT, 'node_modules', '.bin', 'tsx'), [join(ROOT, 'scripts', 'invoke.ts'), eventPath], {
    cwd: ROOT,
    env: { ...process.env },
    stdio: 'ignore',
  });
  const deadline = Date.now() + 30_000;
  while (((await control().stats()).calls['ec2:AttachNetworkInterface'] ?? 0) < 1) {
    if (Date.now() > deadline) throw new Error('the first delivery never reached AttachNetworkInterface');
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  const halfMade = await ourInterfaces(clients);
  expect(halfMade).toHaveLength(1);
  expect(halfMade[0].Status).toBe('available');

  const result = await handler(event);

  expect(result.outcome).toBe('attached');
  expect(result.interfaces[0].networkInterfaceId).toBe(halfMade[0].NetworkInterfaceId);
  expect(await ourInterfaces(clients)).toHaveLength(2);
  expect(await leaked([node])).toEqual([]);
  expect((await control().completions()).filter((c) => c.accepted)).toHaveLength(1);
}, 90_000);

test('50 concurrent launches, lowest-free on, with throttling injected: all complete, distinct addresses, none leaked', async () => {
  layout = await createVpc(clients, ['us-east-1a'], 1);
  await putSettings(clients, layout, { 'use-ips-from-start-of-subnet': 'true' });
  const nodes = await Promise.all(Array.from({ length: 50 }, () => launchNode(clients, layout.azs[0].nodeSubnet)));
  // 8 throttles per operation, spread over the burst as the calls come; with 10 attempts per call
  // no node can run out of retries, so every node must complete.
  await control().inject({ service: 'ec2', action: 'CreateNetworkInterface', code: 'RequestLimitExceeded', status: 503, count: 8, skip: 20 });
  await control().inject({ service: 'ec2', action: 'AttachNetworkInterface', code: 'RequestLimitExceeded', status: 503, count: 8, skip: 5 });
  const app = createLifecycleApp({
    clients: createClients({ ...process.env, AWS_MAX_ATTEMPTS: '10' }),
    logger: new Logger({ serviceName: 'eks-multus-eni', logLevel: 'SILENT' }),
  });

  const results = await Promise.all(nodes.map((id) => app.handle(eventFor('launch.json', id))));

  expect(results.filter((r) => r.outcome === 'attached')).toHaveLength(50);
  const addresses = results.map((r) => r.interfaces[0].privateIpAddress);
  expect(new Set(addresses).size).toBe(50);
  expect(await leaked(nodes)).toEqual([]);
  const stats = await control().stats();
  expect(stats.injectedFaults).toBe(16);
  // Bounded: about one lost race per node (the first try), not one per node pair.
  expect(stats.rejectedCreates).toBeLessThan(2 * nodes.length);
  expect((await control().completions()).filter((c) => c.accepted && c.result === 'CONTINUE')).toHaveLength(50);
}, 120_000);
