/**
 * The lifecycle pieces below the handler: the Auto Scaling port (with aws-sdk-client-mock, which
 * answers what a test sets and records what was sent), the launch transition's completion and
 * heartbeat, the terminate transition over the in-memory EC2 port, and event parsing's edges.
 */
import {
  AutoScalingClient,
  CompleteLifecycleActionCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
  DescribeLifecycleHooksCommand,
  DescribeWarmPoolCommand,
  RecordLifecycleActionHeartbeatCommand,
} from '@aws-sdk/client-auto-scaling';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import {
  handleLaunch,
  handleTerminate,
  isWaiting,
  parseLifecycleEvent,
  parseUnsuccessfulLaunch,
  SdkLifecycle,
  silentLog,
  type LifecycleAction,
  type LifecyclePort,
} from 'multus-core';
import { eni, FakeEc2 } from '../support/fake-ec2';

const asg = mockClient(AutoScalingClient);
const NODE = 'i-0aaaaaaaaaaaaaaa1';
const SUBNET = 'subnet-0000000000000000a';
const action: LifecycleAction = {
  instanceId: NODE,
  autoScalingGroupName: 'asg-1',
  lifecycleHookName: 'hook-1',
  lifecycleActionToken: 'token-1',
  transition: 'autoscaling:EC2_INSTANCE_LAUNCHING',
};
const port = () => new SdkLifecycle(new AutoScalingClient({ region: 'us-east-1' }));

beforeEach(() => asg.reset());

describe('the Auto Scaling port', () => {
  test('isWaiting: only the states in which a hook holds the instance', () => {
    expect(['Pending:Wait', 'Warmed:Pending:Wait', 'Terminating:Wait'].map(isWaiting)).toEqual([true, true, true]);
    expect(['InService', 'Pending', 'Pending:Proceed', 'Waiting', undefined].map(isWaiting)).toEqual([false, false, false, false, false]);
  });

  test('complete sends the action and the result; a ValidationError is re-read, another error is thrown as is', async () => {
    asg.on(CompleteLifecycleActionCommand).resolvesOnce({}).rejectsOnce(Object.assign(new Error('down'), { name: 'ServiceUnavailable' }));

    expect(await port().complete(action, 'ABANDON')).toBe('completed');
    expect(asg).toHaveReceivedCommandWith(CompleteLifecycleActionCommand, {
      AutoScalingGroupName: 'asg-1',
      LifecycleHookName: 'hook-1',
      LifecycleActionToken: 'token-1',
      InstanceId: NODE,
      LifecycleActionResult: 'ABANDON',
    });
    await expect(port().complete(action, 'CONTINUE')).rejects.toMatchObject({ name: 'ServiceUnavailable' });
    expect(asg).not.toHaveReceivedCommand(DescribeAutoScalingInstancesCommand);
  });

  test('a ValidationError for an instance no longer waiting on a hook: already complete, whatever the message', async () => {
    const invalid = Object.assign(new Error('1 validation error detected: Value at lifecycleActionToken failed to satisfy constraint'), { name: 'ValidationError' });
    asg.on(CompleteLifecycleActionCommand).rejects(invalid);
    asg.on(DescribeAutoScalingInstancesCommand, { InstanceIds: [NODE] }).resolves({ AutoScalingInstances: [{ InstanceId: NODE, LifecycleState: 'InService' } as never] });

    expect(await port().complete(action, 'CONTINUE')).toBe('already-complete');

    // Still waiting: the same error is a real one.
    asg.on(DescribeAutoScalingInstancesCommand, { InstanceIds: [NODE] }).resolves({ AutoScalingInstances: [{ InstanceId: NODE, LifecycleState: 'Pending:Wait' } as never] });
    await expect(port().complete(action, 'CONTINUE')).rejects.toBe(invalid);
  });

  test('the instance state is that of the instance asked for', async () => {
    asg.on(DescribeAutoScalingInstancesCommand, { InstanceIds: [NODE] }).resolves({
      AutoScalingInstances: [{ InstanceId: 'i-0other', LifecycleState: 'Pending:Wait' } as never, { InstanceId: NODE, LifecycleState: 'InService' } as never],
    });

    expect(await port().lifecycleState(NODE)).toBe('InService');
    asg.on(DescribeAutoScalingInstancesCommand, { InstanceIds: [NODE] }).resolves({ AutoScalingInstances: [] });
    expect(await port().lifecycleState(NODE)).toBeUndefined();
  });

  test('a heartbeat names the action', async () => {
    asg.on(RecordLifecycleActionHeartbeatCommand).resolves({});

    await port().heartbeat(action);

    expect(asg).toHaveReceivedCommandWith(RecordLifecycleActionHeartbeatCommand, {
      AutoScalingGroupName: 'asg-1',
      LifecycleHookName: 'hook-1',
      LifecycleActionToken: 'token-1',
      InstanceId: NODE,
    });
  });

  test('the hook\'s heartbeat timeout: that hook\'s, read once per group and hook until the caches are cleared', async () => {
    asg.on(DescribeLifecycleHooksCommand, { AutoScalingGroupName: 'asg-1', LifecycleHookNames: ['hook-1'] }).resolves({
      LifecycleHooks: [{ LifecycleHookName: 'other', HeartbeatTimeout: 30 } as never, { LifecycleHookName: 'hook-1', HeartbeatTimeout: 600 } as never],
    });
    asg.on(DescribeLifecycleHooksCommand, { AutoScalingGroupName: 'asg-2', LifecycleHookNames: ['hook-1'] }).resolves({ LifecycleHooks: [] });
    const lifecycle = port();

    expect(await lifecycle.heartbeatTimeoutSeconds('asg-1', 'hook-1')).toBe(600);
    expect(await lifecycle.heartbeatTimeoutSeconds('asg-1', 'hook-1')).toBe(600);
    expect(await lifecycle.heartbeatTimeoutSeconds('asg-2', 'hook-1')).toBeUndefined();
    expect(asg).toHaveReceivedCommandTimes(DescribeLifecycleHooksCommand, 2);
    lifecycle.clearCaches();
    await lifecycle.heartbeatTimeoutSeconds('asg-1', 'hook-1');
    expect(asg).toHaveReceivedCommandTimes(DescribeLifecycleHooksCommand, 3);
  });

  test('the group\'s instances, warm pool included (every page); an unknown group is an error', async () => {
    asg.on(DescribeAutoScalingGroupsCommand, { AutoScalingGroupNames: ['asg-1'] }).resolves({
      AutoScalingGroups: [{ AutoScalingGroupName: 'asg-1', Instances: [{ InstanceId: 'i-1' } as never, {} as never], WarmPoolConfiguration: {} } as never],
    });
    asg.on(DescribeWarmPoolCommand, { AutoScalingGroupName: 'asg-1', NextToken: undefined }).resolves({ Instances: [{ InstanceId: 'i-2' } as never, {} as never], NextToken: 'page-2' });
    asg.on(DescribeWarmPoolCommand, { AutoScalingGroupName: 'asg-1', NextToken: 'page-2' }).resolves({ Instances: [{ InstanceId: 'i-3' } as never] });
    asg.on(DescribeAutoScalingGroupsCommand, { AutoScalingGroupNames: ['asg-plain'] }).resolves({
      AutoScalingGroups: [{ AutoScalingGroupName: 'asg-plain', Instances: [{ InstanceId: 'i-9' } as never] } as never],
    });
    asg.on(DescribeAutoScalingGroupsCommand, { AutoScalingGroupNames: ['gone'] }).resolves({ AutoScalingGroups: [] });

    expect(await port().groupInstances('asg-1')).toEqual(['i-1', 'i-2', 'i-3']);
    expect(await port().groupInstances('asg-plain')).toEqual(['i-9']);
    expect(asg).toHaveReceivedCommandTimes(DescribeWarmPoolCommand, 2);
    await expect(port().groupInstances('gone')).rejects.toThrow('Auto Scaling group gone does not exist');
  });
});

describe('the launch transition', () => {
  function fakeLifecycle(completion: 'completed' | 'already-complete' = 'completed') {
    const sent: string[] = [];
    const lifecycle: LifecyclePort = {
      complete: async (_a, result) => {
        sent.push(`complete ${result}`);
        return completion;
      },
      lifecycleState: async () => 'Pending:Wait',
      groupInstances: async () => [],
      autoScalingGroupOf: async () => undefined,
      heartbeat: async () => void sent.push('heartbeat'),
      heartbeatTimeoutSeconds: async () => 30,
    };
    return { lifecycle, sent };
  }
  const node = () =>
    new FakeEc2({
      subnets: [{ subnetId: SUBNET, vpcId: 'vpc-1', availabilityZone: 'us-east-1a', cidrBlock: '10.0.1.0/24', availableIpAddressCount: 251 }],
      limits: { 'm5.xlarge': 4 },
      instances: [{ instanceId: NODE, availabilityZone: 'us-east-1a', vpcId: 'vpc-1', tags: { 'multus-ng': 'true' } }],
    });
  const deps = (ec2: FakeEc2, lifecycle: LifecyclePort, settings: Record<string, string>, sleep = async () => {}) => ({
    ec2,
    lifecycle,
    log: silentLog,
    release: { sleep, detachTimeoutMs: 1000 },
    maxAddressRaces: 128,
    nodeTagKey: 'multus-ng',
    configPath: '/p',
    settings: { read: async () => settings },
  });

  test('attached: completes CONTINUE and says so in the result; a failure completes with on-failure and gives the reason', async () => {
    const { lifecycle, sent } = fakeLifecycle('already-complete');
    const ok = await handleLaunch(deps(node(), lifecycle, { [`subnets/us-east-1a`]: SUBNET }), action);
    // Strict: an attached node's result has no reason at all (not an undefined one).
    expect(ok).toStrictEqual({
      outcome: 'attached',
      lifecycleResult: 'CONTINUE',
      instanceId: NODE,
      interfaces: [{ deviceIndex: 1, subnetId: SUBNET, networkInterfaceId: 'eni-fake0001', privateIpAddress: '10.0.1.4', ipv4Prefixes: [], ipv6Addresses: [], ipv6Prefixes: [] }],
      availabilityZone: 'us-east-1a',
      completion: 'already-complete',
    });

    const failed = await handleLaunch(deps(node(), lifecycle, { [`subnets/us-east-1a`]: SUBNET, 'on-failure': 'CONTINUE', 'source-dest-check': 'x' }), action);
    expect(failed).toMatchObject({ outcome: 'failed', lifecycleResult: 'CONTINUE', reason: expect.stringContaining('source-dest-check') });
    expect(sent).toEqual(['complete CONTINUE', 'complete CONTINUE']);
  });

  test('an instance EC2 does not know, from an event of another region: the reason names both regions, the action gets on-failure', async () => {
    const { lifecycle, sent } = fakeLifecycle();
    const ec2 = new FakeEc2({ subnets: [{ subnetId: SUBNET, vpcId: 'vpc-1', availabilityZone: 'us-east-1a', cidrBlock: '10.0.1.0/24', availableIpAddressCount: 251 }] });

    const result = await handleLaunch({ ...deps(ec2, lifecycle, { [`subnets/us-east-1a`]: SUBNET }), region: 'us-east-1' }, { ...action, region: 'eu-west-1' });

    expect(result).toMatchObject({
      outcome: 'failed',
      lifecycleResult: 'ABANDON',
      reason: `NodeConfigurationError: instance ${NODE} does not exist in us-east-1: the event comes from eu-west-1, but the function talks to us-east-1 (AWS_REGION)`,
    });
    expect(sent).toEqual(['complete ABANDON']);
  });

  test('the heartbeat stops when the work ends: none after the completion', async () => {
    jest.useFakeTimers();
    try {
      const { lifecycle, sent } = fakeLifecycle();
      // The work takes 3 s (a slow attach); the hook is checked after 1 s and beaten every second.
      const ec2 = node();
      ec2.failures.set('attachInterface:eni-fake0001', ['IncorrectInstanceState']);
      const slow = () => new Promise<void>((resolve) => setTimeout(resolve, 3000));
      const launch = handleLaunch({ ...deps(ec2, lifecycle, { [`subnets/us-east-1a`]: SUBNET }, slow), heartbeat: { checkAfterMs: 1000, fraction: 1 / 30 } }, action);
      await jest.advanceTimersByTimeAsync(3500);
      await launch;
      const beats = sent.filter((s) => s === 'heartbeat').length;
      await jest.advanceTimersByTimeAsync(10_000);
      expect(beats).toBeGreaterThanOrEqual(2);
      expect(sent.filter((s) => s === 'heartbeat')).toHaveLength(beats);
      expect(sent[sent.length - 1]).toBe('complete CONTINUE');
    } finally {
      jest.useRealTimers();
    }
  });
});

describe('the terminate transition', () => {
  test('released ENIs are reported with their prefixes and IPv6; the AZ comes from the ENIs, or from the instance when there are none', async () => {
    const ec2 = new FakeEc2({
      interfaces: [{ ...eni('eni-1', SUBNET, { tags: { 'eks-multus-eni/instance-id': NODE }, addresses: ['10.0.1.4'], prefixes: ['10.0.1.16/28'], ipv6Addresses: ['2600:1f18::4'], ipv6Prefixes: ['2600:1f18:0:0:1::/80'] }), availabilityZone: 'us-east-1b' }],
      instances: [{ instanceId: NODE, availabilityZone: 'us-east-1c' }],
    });
    const lifecycle = { complete: async () => 'completed' as const } as unknown as LifecyclePort;
    const keys: Record<string, string>[] = [];
    const deps = { ec2, lifecycle, log: silentLog, release: { sleep: async () => {}, detachTimeoutMs: 1000 }, annotate: (k: Record<string, string>) => void keys.push(k) };

    const result = await handleTerminate(deps, { ...action, transition: 'autoscaling:EC2_INSTANCE_TERMINATING' });

    expect(result).toEqual({
      outcome: 'released',
      lifecycleResult: 'CONTINUE',
      instanceId: NODE,
      interfaces: [{ deviceIndex: -1, subnetId: SUBNET, networkInterfaceId: 'eni-1', privateIpAddress: '10.0.1.4', ipv4Prefixes: ['10.0.1.16/28'], ipv6Addresses: ['2600:1f18::4'], ipv6Prefixes: ['2600:1f18:0:0:1::/80'] }],
      completion: 'completed',
      availabilityZone: 'us-east-1b',
    });
    const again = await handleTerminate(deps, { ...action, transition: 'autoscaling:EC2_INSTANCE_TERMINATING' });
    expect(again).toMatchObject({ interfaces: [], availabilityZone: 'us-east-1c' });
    expect(keys).toEqual([{ availabilityZone: 'us-east-1b' }, { availabilityZone: 'us-east-1c' }]);
  });

  test('ENIs that cannot be released are all named in the reason', async () => {
    const ec2 = new FakeEc2({
      interfaces: [eni('eni-1', SUBNET, { tags: { 'eks-multus-eni/instance-id': NODE } }), eni('eni-2', SUBNET, { tags: { 'eks-multus-eni/instance-id': NODE } })],
    });
    ec2.failures.set('deleteInterface:eni-1', 'UnauthorizedOperation');
    ec2.failures.set('deleteInterface:eni-2', 'UnauthorizedOperation');
    const lifecycle = { complete: async () => 'completed' as const } as unknown as LifecyclePort;

    const result = await handleTerminate({ ec2, lifecycle, log: silentLog, release: { sleep: async () => {}, detachTimeoutMs: 1000 } }, action);

    expect(result).toMatchObject({ outcome: 'released', lifecycleResult: 'CONTINUE', interfaces: [], reason: 'could not release eni-1, eni-2' });
  });

  test('an ENI that cannot be released is logged as an error naming it', async () => {
    const ec2 = new FakeEc2({ interfaces: [eni('eni-1', SUBNET, { tags: { 'eks-multus-eni/instance-id': NODE } })] });
    ec2.failures.set('deleteInterface:eni-1', 'UnauthorizedOperation');
    const errors: unknown[][] = [];
    const log = { ...silentLog, error: (...args: unknown[]) => void errors.push(args) };
    const lifecycle = { complete: async () => 'completed' as const } as unknown as LifecyclePort;

    const result = await handleTerminate({ ec2, lifecycle, log, release: { sleep: async () => {}, detachTimeoutMs: 1000 } }, action);

    expect(result.reason).toBe('could not release eni-1');
    expect(errors).toEqual([
      ['could not release an ENI of ours; the orphan sweeper will retry', { networkInterfaceId: 'eni-1', error: expect.objectContaining({ name: 'UnauthorizedOperation' }) }],
    ]);
  });
});

describe('lifecycle events: the edges', () => {
  const base = {
    'detail-type': 'EC2 Instance-launch Lifecycle Action',
    source: 'aws.autoscaling',
    detail: { EC2InstanceId: NODE, AutoScalingGroupName: ' asg-1 ', LifecycleHookName: 'hook-1', LifecycleActionToken: 'token-1', Origin: '', Destination: 'WarmPool' },
  };

  test('values are trimmed, empty optional fields are absent, an event without source is taken', () => {
    const { source: _source, ...withoutSource } = base;
    expect(parseLifecycleEvent(withoutSource)).toEqual({
      kind: 'launch',
      action: { ...action, origin: undefined, destination: 'WarmPool' },
    });
  });

  test('the region of the event is kept; an empty one is absent', () => {
    expect(parseLifecycleEvent({ ...base, region: 'eu-west-1' })).toMatchObject({ action: { region: 'eu-west-1' } });
    expect(parseLifecycleEvent({ ...base, region: '' })).toMatchObject({ action: { region: undefined } });
  });

  test.each([`x${NODE}`, `${NODE}x`, 'i-0123456', `i-${'0'.repeat(18)}`])('instance id %p is not one', (id) => {
    expect(() => parseLifecycleEvent({ ...base, detail: { ...base.detail, EC2InstanceId: id } })).toThrow(`detail.EC2InstanceId "${id}" is not an instance id`);
  });

  test('the reasons for ignoring name what was seen', () => {
    expect(parseLifecycleEvent({ source: 'aws.autoscaling', detail: {} })).toEqual({ kind: 'ignored', reason: 'not a lifecycle action (detail-type null)' });
    expect(parseLifecycleEvent({ ...base, 'detail-type': 'Other' })).toEqual({ kind: 'ignored', reason: 'not a lifecycle action (detail-type "Other")' });
    expect(parseLifecycleEvent({ ...base, source: 'aws.ec2' })).toEqual({ kind: 'ignored', reason: 'not from Auto Scaling (source "aws.ec2")' });
  });

  test('a field that is not a string, or only blanks, is named', () => {
    expect(() => parseLifecycleEvent({ ...base, detail: { ...base.detail, LifecycleHookName: 7 } })).toThrow('detail.LifecycleHookName is empty or not a string');
    expect(() => parseLifecycleEvent({ ...base, detail: { ...base.detail, LifecycleHookName: '  ' } })).toThrow('detail.LifecycleHookName is empty or not a string');
  });
});

describe("Auto Scaling's unsuccessful launches", () => {
  const unsuccessful = (detail: unknown) => ({ source: 'aws.autoscaling', 'detail-type': 'EC2 Instance Launch Unsuccessful', detail });
  const timedOut = 'Instance failed to complete user\'s Lifecycle Action: Lifecycle Action with token token-1 was abandoned: Heartbeat Timeout';

  test('the instance, the group (trimmed) and the cause that the status message gives', () => {
    expect(parseUnsuccessfulLaunch(unsuccessful({ EC2InstanceId: ` ${NODE} `, AutoScalingGroupName: ' asg-1 ', StatusMessage: ` ${timedOut} ` }))).toEqual({
      instanceId: NODE,
      autoScalingGroupName: 'asg-1',
      cause: 'hook-timeout',
      statusMessage: timedOut,
    });
    expect(parseUnsuccessfulLaunch(unsuccessful({ StatusMessage: 'Lifecycle Action with token t was abandoned: Lifecycle Action Completed with ABANDON Result' }))?.cause).toBe('abandoned');
    expect(parseUnsuccessfulLaunch(unsuccessful({ StatusMessage: 'We currently do not have sufficient m5.xlarge capacity' }))?.cause).toBe('other');
  });

  test('missing, blank or non-string fields are null; no status message is an empty one, of cause other', () => {
    const empty = { instanceId: null, autoScalingGroupName: null, cause: 'other', statusMessage: '' };
    expect(parseUnsuccessfulLaunch(unsuccessful({ EC2InstanceId: '  ', AutoScalingGroupName: 42, StatusMessage: '' }))).toEqual(empty);
    for (const detail of [undefined, null, 'x', [NODE]]) expect(parseUnsuccessfulLaunch(unsuccessful(detail))).toEqual(empty);
  });

  test('any other event is not one, whatever it is (every event is asked first)', () => {
    const lifecycleAction = { source: 'aws.autoscaling', 'detail-type': 'EC2 Instance-launch Lifecycle Action', detail: { EC2InstanceId: NODE } };
    expect(parseUnsuccessfulLaunch(lifecycleAction)).toBeUndefined();
    expect(parseUnsuccessfulLaunch({ ...unsuccessful({}), source: 'aws.ec2' })).toBeUndefined();
    for (const notAnEvent of [null, undefined, 'EC2 Instance Launch Unsuccessful', 7, []]) expect(parseUnsuccessfulLaunch(notAnEvent)).toBeUndefined();
  });
});
