/**
 * The orphan sweeper against the emulator (moto; the fidelity proxy only forwards: listing,
 * tagging, detaching and deleting ENIs and describing instances behave in moto as on EC2 for
 * these paths). moto keeps an ENI attached to a terminated instance (EC2 would detach it), which
 * is exactly the "attached to a gone instance" case the sweeper must detach and delete.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import {
  AttachNetworkInterfaceCommand,
  CreateNetworkInterfaceCommand,
  CreateTagsCommand,
  DescribeNetworkInterfacesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { createClients, createSweeperApp, TAG_ORPHAN_SINCE, type CustomResourceResponse, type SweepSummary } from 'multus-core';
import { handler } from '../../functions/sweeper/handler';
import { emfSamples, isEmfDocument } from '../../scripts/lib/emf';
import { resetEmulator } from '../support/context';
import { startResponseServer, type ResponseServer } from '../support/nodegroup-world';
import { createOrphan, createVpc, EVENTS_DIR, launchNode, ourInterfaces, worldClients, type VpcLayout } from '../support/world';

const clients = worldClients();
let layout: VpcLayout;
let node: string;

beforeEach(async () => {
  await resetEmulator();
  layout = await createVpc(clients, ['us-east-1a']);
  node = await launchNode(clients, layout.azs[0].nodeSubnet);
});

const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000).toISOString();

async function markOrphanSince(eniId: string, since: string) {
  await clients.ec2.send(new CreateTagsCommand({ Resources: [eniId], Tags: [{ Key: TAG_ORPHAN_SINCE, Value: since }] }));
}

/** An ENI of ours, attached to the instance at the device index. */
async function attachedOrphan(instanceId: string, subnetId: string, deviceIndex: number): Promise<string> {
  const id = await createOrphan(clients, subnetId, instanceId, deviceIndex);
  await clients.ec2.send(new AttachNetworkInterfaceCommand({ NetworkInterfaceId: id, InstanceId: instanceId, DeviceIndex: deviceIndex }));
  return id;
}

/** Someone else's ENI: no ownership tag, available. */
async function foreignInterface(subnetId: string): Promise<string> {
  const out = await clients.ec2.send(
    new CreateNetworkInterfaceCommand({
      SubnetId: subnetId,
      TagSpecifications: [{ ResourceType: 'network-interface', Tags: [{ Key: 'owner', Value: 'someone-else' }] }],
    }),
  );
  return out.NetworkInterface!.NetworkInterfaceId!;
}

async function existing(): Promise<Set<string>> {
  const out = await clients.ec2.send(new DescribeNetworkInterfacesCommand({}));
  return new Set((out.NetworkInterfaces ?? []).map((e) => e.NetworkInterfaceId!));
}

const decisionOf = (summary: SweepSummary, id: string) => summary.interfaces.find((i) => i.networkInterfaceId === id);

test('deletes what is due and keeps the rest: past the grace period, within it, attached, not ours, instance terminated', async () => {
  const [s1, s2] = layout.azs[0].multusSubnets;
  const past = await createOrphan(clients, s1, node, 1);
  await markOrphanSince(past, minutesAgo(45));
  const within = await createOrphan(clients, s1, node, 2);
  await markOrphanSince(within, minutesAgo(10));
  const fresh = await createOrphan(clients, s2, node, 3);
  const attached = await attachedOrphan(node, s2, 1);
  const foreign = await foreignInterface(s1);
  // A second node, terminated: one ENI of ours left available (just created), one still attached.
  const gone = await launchNode(clients, layout.azs[0].nodeSubnet);
  const goneAvailable = await createOrphan(clients, s1, gone, 1);
  const goneAttached = await attachedOrphan(gone, s2, 2);
  await clients.ec2.send(new TerminateInstancesCommand({ InstanceIds: [gone] }));

  const summary = (await handler(JSON.parse(readFileSync(join(EVENTS_DIR, 'scheduled.json'), 'utf8')))) as SweepSummary;

  const left = await existing();
  for (const id of [within, fresh, attached, foreign]) expect({ id, kept: left.has(id) }).toEqual({ id, kept: true });
  for (const id of [past, goneAvailable, goneAttached]) expect({ id, kept: left.has(id) }).toEqual({ id, kept: false });
  expect(summary).toMatchObject({ dryRun: false, graceMinutes: 30, examined: 6, deleted: 3, failed: 0 });
  expect(summary.decisions).toEqual({ keep: 2, mark: 1, unmark: 0, delete: 2, release: 1 });
  expect(decisionOf(summary, past)).toMatchObject({ decision: 'delete', result: 'done', reason: expect.stringContaining('past the grace period') });
  expect(decisionOf(summary, within)).toMatchObject({ decision: 'keep', reason: expect.stringContaining('within the grace period') });
  expect(decisionOf(summary, goneAvailable)).toMatchObject({ decision: 'delete', reason: expect.stringContaining(`instance ${gone} is terminated`) });
  expect(decisionOf(summary, goneAttached)).toMatchObject({ decision: 'release', result: 'done' });
  expect(decisionOf(summary, foreign)).toBeUndefined(); // never even looked at
  // The fresh orphan now carries the mark that starts its grace period.
  const freshNow = (await ourInterfaces(clients)).find((e) => e.NetworkInterfaceId === fresh);
  expect(freshNow?.TagSet).toEqual(expect.arrayContaining([{ Key: TAG_ORPHAN_SINCE, Value: expect.any(String) }]));
});

test('dry-run deletes nothing and reports what it would do; one log line per ENI and a summary line', async () => {
  const [s1, s2] = layout.azs[0].multusSubnets;
  const past = await createOrphan(clients, s1, node, 1);
  await markOrphanSince(past, minutesAgo(120));
  const attached = await attachedOrphan(node, s2, 1);
  const foreign = await foreignInterface(s1);
  const before = await existing();
  const lines: string[] = [];
  const capture = (chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  };
  const spies = [jest.spyOn(process.stdout, 'write').mockImplementation(capture), jest.spyOn(process.stderr, 'write').mockImplementation(capture)];
  let summary: SweepSummary;
  try {
    const app = createSweeperApp({
      clients: createClients(),
      logger: new Logger({ serviceName: 'eks-multus-eni', logLevel: 'INFO' }),
      env: { SWEEP_DRY_RUN: 'true', SWEEP_GRACE_MINUTES: '60' },
    });
    summary = await app.handle();
  } finally {
    for (const spy of spies) spy.mockRestore();
  }

  expect(await existing()).toEqual(before);
  expect(summary).toMatchObject({ dryRun: true, graceMinutes: 60, examined: 2, deleted: 0, decisions: { delete: 1, keep: 1 } });
  expect(decisionOf(summary, past)).toMatchObject({ decision: 'delete', result: 'dry-run' });
  const written = lines.flatMap((l) => l.split('\n')).filter(Boolean).map((l) => JSON.parse(l));
  // The log lines, and after them the sweep's metrics (EMF, on stdout as in Lambda).
  const logged = written.filter((l) => !isEmfDocument(l));
  const emf = written.filter(isEmfDocument);
  expect(written.slice(-emf.length)).toEqual(emf);
  expect(emfSamples(emf).map((s) => [s.name, s.values])).toEqual([
    ['SweepCandidates', [1]],
    ['SweepDeletions', [0]],
    ['SweepFailures', [0]],
  ]);
  const perEni = logged.filter((l) => l.networkInterfaceId);
  expect(perEni.map((l) => l.networkInterfaceId).sort()).toEqual([attached, past].sort());
  expect(perEni.find((l) => l.networkInterfaceId === past)).toMatchObject({
    level: 'INFO',
    instanceId: node,
    subnetId: s1,
    decision: 'delete',
    result: 'dry-run',
    dryRun: true,
    reason: expect.stringContaining('past the grace period of 60 min'),
  });
  expect(logged.filter((l) => l.networkInterfaceId === foreign)).toEqual([]);
  expect(logged.at(-1)).toMatchObject({ message: expect.stringContaining('dry run: 1 would be'), examined: 2, deleted: 0 });
});

test('a second sweep after the grace period deletes an orphan the first one marked', async () => {
  const orphan = await createOrphan(clients, layout.azs[0].multusSubnets[0], node, 1);
  const logger = new Logger({ serviceName: 'eks-multus-eni', logLevel: 'SILENT' });
  let now = new Date();
  const app = createSweeperApp({ clients: createClients(), logger, env: { SWEEP_GRACE_MINUTES: '30' }, now: () => now });

  expect(decisionOf(await app.handle(), orphan)).toMatchObject({ decision: 'mark', result: 'done' });
  now = new Date(now.getTime() + 20 * 60_000);
  expect(decisionOf(await app.handle(), orphan)).toMatchObject({ decision: 'keep' });
  now = new Date(now.getTime() + 11 * 60_000);
  expect(decisionOf(await app.handle(), orphan)).toMatchObject({ decision: 'delete', result: 'done' });
  expect((await existing()).has(orphan)).toBe(false);
});

describe('the InfrastructureCleanup custom resource (stack delete: our ENIs out of the multus subnets before they go)', () => {
  let server: ResponseServer;
  beforeAll(async () => {
    server = await startResponseServer();
  });
  afterAll(async () => {
    await server.close();
  });

  function request(requestType: 'Create' | 'Delete', subnetIds: string[]) {
    return {
      RequestType: requestType,
      ResponseURL: server.url(),
      StackId: 'arn:aws:cloudformation:us-east-1:123456789012:stack/eks-multus-eni/1',
      RequestId: `r-${requestType}`,
      LogicalResourceId: 'InfrastructureCleanup',
      ResourceType: 'Custom::InfrastructureCleanup',
      ...(requestType === 'Delete' ? { PhysicalResourceId: 'arn:aws:cloudformation:us-east-1:123456789012:stack/eks-multus-eni/1/InfrastructureCleanup' } : {}),
      ResourceProperties: { ServiceToken: 'arn:aws:lambda:us-east-1:123456789012:function:sweeper', SubnetIds: subnetIds },
    };
  }

  test('Delete removes ours, unattached or on a terminated instance, from the listed subnets; keeps the rest; answers SUCCESS', async () => {
    const [s1, s2] = layout.azs[0].multusSubnets;
    const free = await createOrphan(clients, s1, node, 1);
    const gone = await launchNode(clients, layout.azs[0].nodeSubnet);
    // Attached without DeleteOnTermination (AttachNetworkInterface's default), so the termination does not
    // delete it; moto keeps it attached to the terminated instance (EC2 would detach it).
    const onGone = await attachedOrphan(gone, s2, 1);
    await clients.ec2.send(new TerminateInstancesCommand({ InstanceIds: [gone] }));
    const onRunning = await attachedOrphan(node, s1, 2);
    const foreign = await foreignInterface(s1);
    const elsewhere = await createOrphan(clients, layout.azs[0].nodeSubnet, node, 3);

    const event = request('Delete', [`${s1},${s2}`]);
    const body = (await handler(event)) as CustomResourceResponse;

    expect(body).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: event.PhysicalResourceId, Data: { Deleted: '2' } });
    expect(body.Reason).toContain('2 ENI(s) of ours removed from 2 multus subnet(s)');
    expect(body.Reason).toContain(`left attached to running instances: ${onRunning}`);
    expect(server.responses.map((r) => r.body)).toEqual([body]);
    const left = await existing();
    for (const id of [onRunning, foreign, elsewhere]) expect({ id, kept: left.has(id) }).toEqual({ id, kept: true });
    for (const id of [free, onGone]) expect({ id, kept: left.has(id) }).toEqual({ id, kept: false });
  });

  test('Create changes nothing and answers SUCCESS', async () => {
    const free = await createOrphan(clients, layout.azs[0].multusSubnets[0], node, 1);
    const body = (await handler(request('Create', layout.azs[0].multusSubnets))) as CustomResourceResponse;
    expect(body).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: 'arn:aws:cloudformation:us-east-1:123456789012:stack/eks-multus-eni/1/InfrastructureCleanup' });
    expect((await existing()).has(free)).toBe(true);
  });
});
