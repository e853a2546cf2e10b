/**
 * Bounded under a stalled or unreachable AWS, strict about its environment, checked before it
 * creates: fault tests through the fidelity proxy (an endpoint that never answers, an answer lost
 * after EC2 carried the call out, an outage of N seconds; moto alone has none of these), each with
 * a Lambda context of 60 s. The handler returns or throws before the time is up, nothing is
 * leaked (where EC2 carried out a call whose answer was lost, the retry finds it and keeps it),
 * and the lifecycle action is answered whenever the endpoint comes back at least 20 s before the
 * function's time is up.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { CreateNetworkInterfaceCommand } from '@aws-sdk/client-ec2';
import { createClients, createLifecycleApp, createSweeperApp } from 'multus-core';
import { createHookInstallerApp, createHookInstallerClients } from 'multus-core/hooks';
import { handler } from '../../functions/lifecycle/handler';
import { control, freshVpcEachTest } from '../support/context';
import { createNodegroup, customResourceEvent, hooksOn, startResponseServer } from '../support/nodegroup-world';
import { CONFIG_PATH, eventFor, launchNode, multusInterfaces, ourInterfaces, putSettings } from '../support/world';

const world = freshVpcEachTest(['us-east-1a']);
const { clients } = world;
const quiet = () => new Logger({ serviceName: 'eks-multus-eni', logLevel: 'SILENT' });

/** A Lambda context whose time runs out `ms` from now. */
function lambdaContext(ms = 60_000) {
  const end = Date.now() + ms;
  return { getRemainingTimeInMillis: () => end - Date.now(), awsRequestId: 'test', functionName: 'LifecycleFunction' } as never;
}

async function completionsFor(instanceId: string) {
  return (await control().completions()).filter((c) => c.instanceId === instanceId && c.accepted);
}

describe('faults of the endpoint', () => {
  beforeEach(async () => {
    await putSettings(clients, world.layout, { 'use-ips-from-start-of-subnet': 'true' });
  });

  test('AttachNetworkInterface never answers: the call is given up at the work\'s deadline, the ENI rolled back, ABANDON answered in time', async () => {
    const instanceId = await launchNode(clients, world.layout.azs[0].nodeSubnet);
    await control().inject({ service: 'ec2', action: 'AttachNetworkInterface', code: 'stall', stall: true, count: 100 });
    const started = Date.now();

    const result = await handler(eventFor('launch.json', instanceId), lambdaContext());

    const took = Date.now() - started;
    expect(took).toBeLessThan(60_000);
    expect(result).toMatchObject({ outcome: 'failed', lifecycleResult: 'ABANDON', completion: 'completed' });
    // The reason says which call was cut short, and why.
    expect(result.reason).toMatch(/AbortError: [A-Za-z]+ failed: no answer in time: the ENI work stops its AWS calls 40 s after it started/);
    expect(await ourInterfaces(clients)).toEqual([]);
    expect(await completionsFor(instanceId)).toEqual([expect.objectContaining({ result: 'ABANDON' })]);
  }, 70_000);

  test('an outage of 5 s: the SDK\'s retries ride it out, the node gets its ENIs', async () => {
    const instanceId = await launchNode(clients, world.layout.azs[0].nodeSubnet);
    await control().outage(5_000);

    const result = await handler(eventFor('launch.json', instanceId), lambdaContext());

    expect(result).toMatchObject({ outcome: 'attached', lifecycleResult: 'CONTINUE' });
    expect(await multusInterfaces(clients, instanceId)).toHaveLength(2);
  }, 70_000);

  test('an outage that ends 20 s before the function\'s time is up: the node fails cleanly and the answer still goes out', async () => {
    const instanceId = await launchNode(clients, world.layout.azs[0].nodeSubnet);
    await control().outage(40_000);
    const started = Date.now();

    const result = await handler(eventFor('launch.json', instanceId), lambdaContext());

    expect(Date.now() - started).toBeLessThan(60_000);
    expect(result).toMatchObject({ outcome: 'failed', lifecycleResult: 'ABANDON', completion: 'completed' });
    expect(await ourInterfaces(clients)).toEqual([]);
    expect(await completionsFor(instanceId)).toEqual([expect.objectContaining({ result: 'ABANDON' })]);
  }, 70_000);

  test('an attach carried out whose answer was lost: the SDK\'s retry finds the ENI attached and keeps it', async () => {
    const instanceId = await launchNode(clients, world.layout.azs[0].nodeSubnet);
    await control().inject({ service: 'ec2', action: 'AttachNetworkInterface', code: 'drop', dropAnswer: true, count: 1 });

    const result = await handler(eventFor('launch.json', instanceId), lambdaContext());

    expect(result).toMatchObject({ outcome: 'attached', lifecycleResult: 'CONTINUE' });
    const enis = await multusInterfaces(clients, instanceId);
    expect(enis.map((e) => e.Attachment?.DeviceIndex)).toEqual([1, 2]);
    expect((await ourInterfaces(clients)).map((e) => e.NetworkInterfaceId).sort()).toEqual(enis.map((e) => e.NetworkInterfaceId).sort());
  }, 70_000);

  test('a create carried out whose answer was lost: the retry carries the same client token, EC2 answers with the same ENI, none is left over', async () => {
    const instanceId = await launchNode(clients, world.layout.azs[0].nodeSubnet);
    await control().inject({ service: 'ec2', action: 'CreateNetworkInterface', code: 'drop', dropAnswer: true, count: 1 });

    const result = await handler(eventFor('launch.json', instanceId), lambdaContext());

    expect(result).toMatchObject({ outcome: 'attached', lifecycleResult: 'CONTINUE' });
    expect(await ourInterfaces(clients)).toHaveLength(2);
    expect((await control().stats()).calls['ec2:CreateNetworkInterface']).toBe(3); // 2 ENIs + the retry of the first
  }, 70_000);
});

describe('a bad function environment: named, nothing created, the lifecycle action still answered', () => {
  test.each([
    [{ AWS_MAX_ATTEMPTS: '0' }, 'AWS_MAX_ATTEMPTS environment variable must be a whole number from 1 to 20, not "0"'],
    [{ AWS_MAX_ATTEMPTS: 'abc' }, 'AWS_MAX_ATTEMPTS environment variable must be a whole number from 1 to 20, not "abc"'],
    [{ NODE_TAG_KEY: '' }, 'NODE_TAG_KEY environment variable must be an EC2 tag key'],
    [{ POWERTOOLS_PARAMETERS_MAX_AGE: '-1' }, 'POWERTOOLS_PARAMETERS_MAX_AGE environment variable must be whole seconds from 0 to 86400, not "-1"'],
  ])('%j: failed, ABANDON, the reason names the variable', async (bad, message) => {
    await putSettings(clients, world.layout);
    const instanceId = await launchNode(clients, world.layout.azs[0].nodeSubnet);
    const app = createLifecycleApp({ clients: createClients(), logger: quiet(), env: { ...process.env, ...bad } });

    const result = await app.handle(eventFor('launch.json', instanceId), lambdaContext());

    expect(result).toMatchObject({ outcome: 'failed', lifecycleResult: 'ABANDON' });
    expect(result.reason).toContain(message);
    expect(await ourInterfaces(clients)).toEqual([]);
    expect(await completionsFor(instanceId)).toEqual([expect.objectContaining({ result: 'ABANDON' })]);
  });

  test('the hook installer answers FAILED naming the variable before any hook is put; the sweeper refuses to sweep, its clean-up still answers', async () => {
    const server = await startResponseServer();
    try {
      const nodegroup = await createNodegroup(clients, world.layout, { nodes: 0 });
      const installer = createHookInstallerApp({ clients: createHookInstallerClients(), logger: quiet(), env: { ...process.env, NODE_TAG_KEY: 'bad key!' } });
      const body = await installer.handle(customResourceEvent('hook-installer-create.json', server.url(), nodegroup), lambdaContext());
      expect(body.Status).toBe('FAILED');
      expect(body.Reason).toContain('NODE_TAG_KEY environment variable must be an EC2 tag key');
      expect(await hooksOn(nodegroup.autoScalingGroupName)).toEqual([]);

      const sweeper = createSweeperApp({ clients: createClients(), logger: quiet(), env: { SWEEP_GRACE_MINUTES: 'soon' } });
      await expect(sweeper.handle()).rejects.toThrow('SWEEP_GRACE_MINUTES environment variable must be a number of minutes >= 0, not "soon"');
      const cleanup = await sweeper.handleCleanup(
        { RequestType: 'Delete', ResponseURL: server.url(), StackId: 's', RequestId: 'r', LogicalResourceId: 'InfrastructureCleanup', PhysicalResourceId: 'p', ResourceProperties: { SubnetIds: [] } },
        lambdaContext(),
      );
      expect(cleanup.Status).toBe('SUCCESS');
    } finally {
      await server.close();
    }
  });
});

describe('checked before the first ENI is created', () => {
  /** Fills the first multus subnet's 251 usable addresses but `left`. */
  async function fill(subnetId: string, left: number) {
    for (let i = 4; i < 255 - left; i++) {
      await clients.ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: subnetId, PrivateIpAddress: `10.0.1.${i}` }));
    }
  }

  test.each([
    ['lowest-free (from the subnet read)', 'true', /subnet subnet-\S+ \(10\.0\.1\.0\/24\) has 0 free IPv4 addresses, 1 needed/],
    ['EC2 picks (from DescribeSubnets\' free-address count)', 'false', /subnet subnet-\S+ \(10\.0\.1\.0\/24\) has 0 free IPv4 addresses, 1 needed/],
  ])('%s: a full subnet fails the launch with no create at all', async (_mode, lowestFree, message) => {
    await fill(world.layout.azs[0].multusSubnets[0], 0);
    await putSettings(clients, world.layout, { 'use-ips-from-start-of-subnet': lowestFree });
    const instanceId = await launchNode(clients, world.layout.azs[0].nodeSubnet);
    const before = (await control().stats()).calls['ec2:CreateNetworkInterface'] ?? 0;

    const result = await handler(eventFor('launch.json', instanceId), lambdaContext());

    expect(result).toMatchObject({ outcome: 'failed', lifecycleResult: 'ABANDON' });
    expect(result.reason).toMatch(message);
    expect((await control().stats()).calls['ec2:CreateNetworkInterface'] ?? 0).toBe(before);
    expect(await ourInterfaces(clients)).toEqual([]);
  }, 120_000);
});

test('an event of another region than the function\'s: the reason says so, not just "does not exist"', async () => {
  await putSettings(clients, world.layout);
  const event = eventFor('launch.json', 'i-0123456789abcdef0');
  event.region = 'eu-west-3';

  const result = await handler(event, lambdaContext());

  expect(result.outcome).toBe('failed');
  expect(result.reason).toContain('instance i-0123456789abcdef0 does not exist in us-east-1: the event comes from eu-west-3, but the function talks to us-east-1 (AWS_REGION)');
  expect(CONFIG_PATH).toBeDefined();
});
