/**
 * Failures of the launch: bad settings, limits, API errors. Against the emulator, through the
 * fidelity proxy, which also injects faults at the HTTP level so that the SDK's own retry
 * middleware really runs (an SDK mock replaces `send` and would bypass it). Whatever fails, nothing
 * is leaked and the node is not left waiting on its hook.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { createClients, createLifecycleApp, DEFAULT_MAX_ADDRESS_RACES, DEFAULT_MAX_ATTEMPTS } from 'multus-core';
import { handler } from '../../functions/lifecycle/handler';
import { control, freshVpcEachTest } from '../support/context';
import {
  CONFIG_PATH,
  createOrphan,
  createVpc,
  eventFor,
  launchNode,
  multusInterfaces,
  ourInterfaces,
  putSetting,
  putSettings,
} from '../support/world';

const world = freshVpcEachTest(['us-east-1a', 'us-east-1b']);
const { clients } = world;

async function completionsFor(instanceId: string) {
  return (await control().completions()).filter((c) => c.instanceId === instanceId);
}

async function expectNothingLeaked() {
  expect((await ourInterfaces(clients)).map((e) => e.NetworkInterfaceId)).toEqual([]);
}

describe('bad settings fail before anything is created', () => {
  test('a subnet id that does not exist: failed, ABANDON, no ENI, the reason names the parameter and the subnet', async () => {
    const az = world.layout.azs[0];
    await putSetting(clients, `subnets/${az.az}`, `${az.multusSubnets[0]},subnet-0123456789abcdef0`, 'StringList');
    const instanceId = await launchNode(clients, az.nodeSubnet);

    const result = await handler(eventFor('launch.json', instanceId));

    expect(result).toMatchObject({ outcome: 'failed', lifecycleResult: 'ABANDON' });
    expect(result.reason).toContain(`${CONFIG_PATH}/subnets/us-east-1a: subnet subnet-0123456789abcdef0 does not exist`);
    await expectNothingLeaked();
    expect(await completionsFor(instanceId)).toEqual([expect.objectContaining({ result: 'ABANDON', accepted: true })]);
  });

  test('a subnet of another AZ: failed with the on-failure result (CONTINUE here)', async () => {
    const az = world.layout.azs[0];
    await putSetting(clients, `subnets/${az.az}`, world.layout.azs[1].multusSubnets[0], 'StringList');
    await putSetting(clients, 'on-failure', 'CONTINUE');
    const instanceId = await launchNode(clients, az.nodeSubnet);

    const result = await handler(eventFor('launch.json', instanceId));

    expect(result).toMatchObject({ outcome: 'failed', lifecycleResult: 'CONTINUE' });
    expect(result.reason).toContain('is in us-east-1b, not us-east-1a');
    await expectNothingLeaked();
    expect(await completionsFor(instanceId)).toEqual([expect.objectContaining({ result: 'CONTINUE' })]);
  });

  test('a malformed setting names the parameter; a valid on-failure is still honoured', async () => {
    await putSettings(clients, world.layout, { 'use-ips-from-start-of-subnet': 'yes', 'on-failure': 'CONTINUE' });
    const instanceId = await launchNode(clients, world.layout.azs[0].nodeSubnet);

    const result = await handler(eventFor('launch.json', instanceId));

    expect(result).toMatchObject({ outcome: 'failed', lifecycleResult: 'CONTINUE' });
    expect(result.reason).toContain(`${CONFIG_PATH}/use-ips-from-start-of-subnet: must be "true" or "false", not "yes"`);
    await expectNothingLeaked();
  });

  test('no parameter at all under CONFIG_PATH: failed, ABANDON, naming the path', async () => {
    const instanceId = await launchNode(clients, world.layout.azs[0].nodeSubnet);

    const result = await handler(eventFor('launch.json', instanceId));

    expect(result).toMatchObject({ outcome: 'failed', lifecycleResult: 'ABANDON' });
    expect(result.reason).toContain(`no parameter found under ${CONFIG_PATH}`);
  });

  test('more interfaces than the instance type allows: a clear error before anything is created', async () => {
    await putSettings(clients, world.layout);
    const instanceId = await launchNode(clients, world.layout.azs[0].nodeSubnet, { instanceType: 't2.micro' });

    const result = await handler(eventFor('launch.json', instanceId));

    expect(result).toMatchObject({ outcome: 'failed', lifecycleResult: 'ABANDON' });
    expect(result.reason).toContain('instance type t2.micro allows 2 network interfaces');
    await expectNothingLeaked();
  });
});

describe('a bad security-groups setting is refused by CreateNetworkInterface before anything exists, and named', () => {
  // Through the fidelity proxy: moto accepts a missing group and one of another VPC; EC2 refuses both.
  test.each([
    ['does not exist', async () => 'sg-0123456789abcdef0', (g: string) => `${CONFIG_PATH}/security-groups: security group ${g} does not exist`],
    [
      'lies in another VPC',
      async () => {
        const other = await createVpc(clients, ['us-east-1a'], 1);
        return other.securityGroupId;
      },
      (g: string) => `${CONFIG_PATH}/security-groups: security group ${g} is in`,
    ],
  ])('a group that %s: failed, ABANDON, nothing left, the reason names the parameter', async (_what, group, message) => {
    const id = await group();
    await putSettings(clients, world.layout, { 'use-ips-from-start-of-subnet': 'true' });
    await putSetting(clients, 'security-groups', `${world.layout.securityGroupId},${id}`, 'StringList');
    const instanceId = await launchNode(clients, world.layout.azs[0].nodeSubnet);

    const result = await handler(eventFor('launch.json', instanceId));

    expect(result).toMatchObject({ outcome: 'failed', lifecycleResult: 'ABANDON' });
    expect(result.reason).toContain(message(id));
    expect(result.reason).toContain('NodeConfigurationError');
    await expectNothingLeaked();
    expect(await completionsFor(instanceId)).toEqual([expect.objectContaining({ result: 'ABANDON', accepted: true })]);
  });
});

describe('API failures roll back', () => {
  test('attach of the second ENI fails: both ENIs are removed and the action completes ABANDON', async () => {
    await putSettings(clients, world.layout);
    const instanceId = await launchNode(clients, world.layout.azs[0].nodeSubnet);
    await control().inject({ service: 'ec2', action: 'AttachNetworkInterface', code: 'UnauthorizedOperation', status: 403, skip: 1 });

    const result = await handler(eventFor('launch.json', instanceId));

    expect(result).toMatchObject({ outcome: 'failed', lifecycleResult: 'ABANDON' });
    expect(result.reason).toContain('UnauthorizedOperation');
    await expectNothingLeaked();
    expect(await multusInterfaces(clients, instanceId)).toEqual([]);
    expect(await completionsFor(instanceId)).toEqual([expect.objectContaining({ result: 'ABANDON' })]);
  });

  test('rollback also removes an unattached ENI of ours that no slot adopted (a stray of an interrupted delivery)', async () => {
    await putSettings(clients, world.layout);
    const az = world.layout.azs[0];
    const instanceId = await launchNode(clients, az.nodeSubnet);
    // Two interrupted deliveries each left an ENI for device index 1: one is adopted, the other is a stray.
    for (let i = 0; i < 2; i++) await createOrphan(clients, az.multusSubnets[0], instanceId, 1);
    await control().inject({ service: 'ec2', action: 'AttachNetworkInterface', code: 'UnauthorizedOperation', status: 403, skip: 1 });
    const creates = async () => (await control().stats()).calls['ec2:CreateNetworkInterface'] ?? 0;
    const before = await creates();

    const result = await handler(eventFor('launch.json', instanceId));

    expect(result).toMatchObject({ outcome: 'failed', lifecycleResult: 'ABANDON' });
    expect(result.reason).toContain('UnauthorizedOperation');
    expect((await creates()) - before).toBe(1); // device index 2's; index 1 adopted an orphan
    await expectNothingLeaked();
  });

  test('lowest-free, every create refused InvalidIPAddress.InUse: the launch gives up after exactly the bound of lost races, rolls back, ABANDON', async () => {
    await putSettings(clients, world.layout, { 'use-ips-from-start-of-subnet': 'true' });
    const instanceId = await launchNode(clients, world.layout.azs[0].nodeSubnet);
    // Refused by the proxy before moto sees them: no window can explain the refusals.
    await control().inject({ service: 'ec2', action: 'CreateNetworkInterface', code: 'InvalidIPAddress.InUse', message: 'The specified address is already in use.', count: 10_000 });

    const result = await handler(eventFor('launch.json', instanceId));

    expect(DEFAULT_MAX_ADDRESS_RACES).toBe(128);
    expect(result).toMatchObject({ outcome: 'failed', lifecycleResult: 'ABANDON' });
    expect(result.reason).toContain(`after ${DEFAULT_MAX_ADDRESS_RACES} addresses were taken by concurrent launches`);
    expect((await control().stats()).calls['ec2:CreateNetworkInterface']).toBe(DEFAULT_MAX_ADDRESS_RACES);
    expect(await completionsFor(instanceId)).toEqual([expect.objectContaining({ result: 'ABANDON' })]);
    await expectNothingLeaked();
  });

  test('throttling is retried by the SDK and the launch succeeds', async () => {
    await putSettings(clients, world.layout);
    const instanceId = await launchNode(clients, world.layout.azs[0].nodeSubnet);
    await control().inject({ service: 'ec2', action: 'CreateNetworkInterface', code: 'RequestLimitExceeded', status: 503, count: 2 });
    await control().inject({ service: 'ec2', action: 'AttachNetworkInterface', code: 'RequestLimitExceeded', status: 503, count: 1 });

    const result = await handler(eventFor('launch.json', instanceId));

    expect(result).toMatchObject({ outcome: 'attached' });
    const stats = await control().stats();
    expect(stats.injectedFaults).toBe(3);
    expect(stats.calls['ec2:CreateNetworkInterface']).toBe(4); // 2 ENIs + 2 throttled attempts
    expect(await ourInterfaces(clients)).toHaveLength(2);
  });

  test('CompleteLifecycleAction failing after the SDK retries: ENIs stay, the handler throws, the redelivery completes', async () => {
    await putSettings(clients, world.layout);
    const instanceId = await launchNode(clients, world.layout.azs[0].nodeSubnet);
    // Every attempt of the SDK fails (no Lambda context here: no time to try again beyond them).
    await control().inject({ service: 'autoscaling', action: 'CompleteLifecycleAction', code: 'ServiceUnavailable', status: 503, count: DEFAULT_MAX_ATTEMPTS });
    const event = eventFor('launch.json', instanceId);

    await expect(handler(event)).rejects.toMatchObject({ name: 'ServiceUnavailable' });
    const kept = await multusInterfaces(clients, instanceId);
    expect(kept).toHaveLength(2);

    const retry = await handler(event);
    expect(retry).toMatchObject({ outcome: 'attached', completion: 'completed' });
    expect((await multusInterfaces(clients, instanceId)).map((e) => e.NetworkInterfaceId)).toEqual(kept.map((e) => e.NetworkInterfaceId));
    expect(await completionsFor(instanceId)).toEqual([expect.objectContaining({ result: 'CONTINUE', accepted: true })]);
  });

  test('a failure logs one structured error with the node context and the cause', async () => {
    const az = world.layout.azs[0];
    await putSetting(clients, `subnets/${az.az}`, 'subnet-0123456789abcdef0', 'StringList');
    const instanceId = await launchNode(clients, az.nodeSubnet);
    const lines: string[] = [];
    const capture = (chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    };
    const spies = [jest.spyOn(process.stdout, 'write').mockImplementation(capture), jest.spyOn(process.stderr, 'write').mockImplementation(capture)];
    try {
      const app = createLifecycleApp({ clients: createClients(), logger: new Logger({ serviceName: 'eks-multus-eni', logLevel: 'INFO' }) });
      await app.handle(eventFor('launch.json', instanceId));
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
    const errors = lines.flatMap((l) => l.split('\n')).filter(Boolean).map((l) => JSON.parse(l)).filter((l) => l.level === 'ERROR');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({
      instanceId,
      autoScalingGroupName: 'eks-multus-ng-1ac9f0a2',
      lifecycleHookName: 'eks-multus-eni-launch',
      availabilityZone: 'us-east-1a',
      onFailure: 'ABANDON',
      error: expect.objectContaining({ name: 'NodeConfigurationError', message: expect.stringContaining('subnet-0123456789abcdef0 does not exist') }),
    });
  });
});
