/**
 * Nodes without a lifecycle hook (Karpenter, self-managed): the EC2 state-change notification,
 * read (isStateChangeEvent, parseStateChange) and handled (handleStateChange) over the in-memory
 * EC2 port and a fake Auto Scaling port. What is pinned down: which instances are left alone, the
 * result of a node that gets its ENIs, the failures that are the result and those that are thrown
 * for Lambda's retries (after rollback, so nothing is left), and the error that names what is
 * wrong with a malformed event.
 */
import {
  handleStateChange,
  isStateChangeEvent,
  parseStateChange,
  silentLog,
  type LifecyclePort,
  type StateChange,
  type StateChangeDeps,
} from 'multus-core';
import { FakeEc2, type FakeEc2Data } from '../support/fake-ec2';

const NODE = 'i-0aaaaaaaaaaaaaaa1';
const VPC = 'vpc-11111111';
const A = 'subnet-0000000000000000a';
const HOOK = 'eks-multus-eni-launch';
/** AWS's name for the event (EventBridge detail-type). */
const STATE_CHANGE = 'EC2 Instance State-change Notification';

function world(data: FakeEc2Data = {}): FakeEc2 {
  return new FakeEc2({
    subnets: [{ subnetId: A, vpcId: VPC, availabilityZone: 'us-east-1a', cidrBlock: '10.0.1.0/24', availableIpAddressCount: 251 }],
    limits: { 'm5.xlarge': 4 },
    instances: [{ instanceId: NODE, availabilityZone: 'us-east-1a', vpcId: VPC, tags: { 'multus-ng': 'true' } }],
    ...data,
  });
}

/**
 * An Auto Scaling port that knows the group of some instances and the hooks of some groups
 * (`group/hook` → heartbeat timeout); completing or beating would be a bug here: no hook waits.
 */
function fakeLifecycle(groups: Record<string, string> = {}, hooks: Record<string, number> = {}): LifecyclePort {
  const noHook = async (): Promise<never> => {
    throw new Error('a state change has no lifecycle action to answer');
  };
  return {
    complete: noHook,
    heartbeat: noHook,
    lifecycleState: async () => undefined,
    groupInstances: async () => [],
    autoScalingGroupOf: async (instanceId) => groups[instanceId],
    heartbeatTimeoutSeconds: async (group, hook) => hooks[`${group}/${hook}`],
  };
}

function depsFor(ec2: FakeEc2, lifecycle: LifecyclePort = fakeLifecycle(), settings: Record<string, string> = {}, extra: Partial<StateChangeDeps> = {}): StateChangeDeps {
  return {
    ec2,
    lifecycle,
    launchHookName: HOOK,
    log: silentLog,
    release: { sleep: async () => {}, detachTimeoutMs: 1000 },
    maxAddressRaces: 128,
    nodeTagKey: 'multus-ng',
    configPath: '/eks-multus-eni/test',
    settings: { read: async () => ({ 'subnets/us-east-1a': A, ...settings }) },
    ...extra,
  };
}

const change = (state: string, extra: Partial<StateChange> = {}): StateChange => ({ instanceId: NODE, state, ...extra });
const attachedOne = { deviceIndex: 1, subnetId: A, networkInterfaceId: 'eni-fake0001', privateIpAddress: '10.0.1.4', ipv4Prefixes: [], ipv6Addresses: [], ipv6Prefixes: [] };

describe('which events are state changes', () => {
  const event = { source: 'aws.ec2', 'detail-type': STATE_CHANGE, detail: { 'instance-id': NODE, state: 'running' } };

  test('an EC2 state-change notification, whatever its state', () => {
    expect(isStateChangeEvent(event)).toBe(true);
    expect(isStateChangeEvent({ ...event, detail: { 'instance-id': NODE, state: 'terminated' } })).toBe(true);
  });

  test('not another source, another detail-type, nor what is not an event', () => {
    expect(isStateChangeEvent({ ...event, source: 'aws.autoscaling' })).toBe(false);
    expect(isStateChangeEvent({ ...event, 'detail-type': 'EC2 Instance-launch Lifecycle Action' })).toBe(false);
    expect(isStateChangeEvent({ source: 'aws.ec2' })).toBe(false);
    expect(isStateChangeEvent({ 'detail-type': STATE_CHANGE })).toBe(false);
    for (const notAnEvent of [null, undefined, 'aws.ec2', 7, []]) expect(isStateChangeEvent(notAnEvent)).toBe(false);
  });
});

describe('reading a state change', () => {
  const event = (detail: unknown, extra: Record<string, unknown> = {}) => ({ source: 'aws.ec2', 'detail-type': STATE_CHANGE, detail, ...extra });

  test('the instance, its state and the region of the event; no region when the event has none', () => {
    expect(parseStateChange(event({ 'instance-id': NODE, state: 'pending' }, { region: 'eu-west-1' }))).toStrictEqual({ instanceId: NODE, state: 'pending', region: 'eu-west-1' });
    expect(parseStateChange(event({ 'instance-id': NODE, state: 'running' }))).toStrictEqual({ instanceId: NODE, state: 'running' });
    expect(parseStateChange(event({ 'instance-id': NODE, state: 'running' }, { region: '' }))).toStrictEqual({ instanceId: NODE, state: 'running' });
  });

  test('instance ids of 8 to 17 hex digits are taken', () => {
    for (const id of ['i-01234567', 'i-0123456789abcdef0']) expect(parseStateChange(event({ 'instance-id': id, state: 'running' })).instanceId).toBe(id);
  });

  test.each([null, undefined, 'running', [NODE]])('a detail %p is named', (detail) => {
    expect(() => parseStateChange(event(detail))).toThrow(expect.objectContaining({ name: 'MalformedEventError', message: 'state-change event: detail is missing or not an object' }));
  });

  test('an event that is not an object has no detail', () => {
    expect(() => parseStateChange(null)).toThrow('state-change event: detail is missing or not an object');
  });

  test('a missing instance id is said to be missing', () => {
    expect(() => parseStateChange(event({ state: 'running' }))).toThrow(
      expect.objectContaining({ name: 'MalformedEventError', message: 'state-change event: detail.instance-id is missing' }),
    );
  });

  test.each([`x${NODE}`, `${NODE}x`, 'i-0123456', `i-${'0'.repeat(18)}`, 'i-0123456789ABCDEF0', 'i-0123456789abcdefg', 42])('instance id %p is named as not one', (id) => {
    expect(() => parseStateChange(event({ 'instance-id': id, state: 'running' }))).toThrow(
      expect.objectContaining({ name: 'MalformedEventError', message: `state-change event: detail.instance-id is "${String(id)}", not an instance id` }),
    );
  });

  test.each([undefined, '', 3])('a state %p is said to be missing', (state) => {
    expect(() => parseStateChange(event({ 'instance-id': NODE, state }))).toThrow(
      expect.objectContaining({ name: 'MalformedEventError', message: 'state-change event: detail.state is missing' }),
    );
  });
});

describe('handling a state change', () => {
  test.each(['pending', 'running'])('%s: an opted-in node that no hook of ours covers gets its ENIs, with no lifecycle result', async (state) => {
    const ec2 = world();

    const result = await handleStateChange(depsFor(ec2), change(state));

    expect(result).toStrictEqual({ outcome: 'attached', lifecycleResult: null, instanceId: NODE, interfaces: [attachedOne], availabilityZone: 'us-east-1a' });
    expect(ec2.interfaces.map((e) => [e.networkInterfaceId, e.attachment?.instanceId, e.attachment?.deviceIndex])).toEqual([['eni-fake0001', NODE, 1]]);
  });

  test.each(['stopping', 'stopped', 'shutting-down', 'terminated'])('%s: ignored, nothing is written', async (state) => {
    const ec2 = world();

    const result = await handleStateChange(depsFor(ec2), change(state));

    expect(result).toStrictEqual({ outcome: 'ignored', lifecycleResult: null, instanceId: NODE, interfaces: [], reason: `instance is ${state}: nothing to do` });
    expect(ec2.calls).toEqual([]);
  });

  test('a member of a group that carries our launch hook is left to the hook', async () => {
    const ec2 = world();
    const lifecycle = fakeLifecycle({ [NODE]: 'asg-nodes' }, { [`asg-nodes/${HOOK}`]: 300 });

    const result = await handleStateChange(depsFor(ec2, lifecycle), change('running'));

    expect(result).toStrictEqual({
      outcome: 'ignored',
      lifecycleResult: null,
      instanceId: NODE,
      interfaces: [],
      reason: `member of Auto Scaling group asg-nodes, which carries the launch hook ${HOOK}: the hook's event does the work`,
    });
    expect(ec2.calls).toEqual([]);
  });

  test('a member of a group without our launch hook (only another hook) gets its ENIs', async () => {
    const ec2 = world();
    const lifecycle = fakeLifecycle({ [NODE]: 'asg-other' }, { 'asg-other/someone-elses-hook': 300, [`asg-nodes/${HOOK}`]: 300 });

    const result = await handleStateChange(depsFor(ec2, lifecycle), change('running'));

    expect(result).toMatchObject({ outcome: 'attached', interfaces: [attachedOne] });
  });

  test('an instance without the opt-in tag is skipped, and the result says why', async () => {
    const ec2 = world({ instances: [{ instanceId: NODE, availabilityZone: 'us-east-1a', vpcId: VPC, tags: {} }] });

    const result = await handleStateChange(depsFor(ec2), change('running'));

    expect(result).toStrictEqual({
      outcome: 'skipped',
      lifecycleResult: null,
      instanceId: NODE,
      interfaces: [],
      reason: 'instance does not carry the opt-in tag multus-ng',
      availabilityZone: 'us-east-1a',
    });
    expect(ec2.interfaces).toEqual([]);
  });

  test('bad settings are the result (a retry would not help), naming the setting; nothing is created', async () => {
    const ec2 = world();

    const result = await handleStateChange(depsFor(ec2, fakeLifecycle(), { 'source-dest-check': 'maybe' }), change('running'));

    expect(result).toMatchObject({ outcome: 'failed', lifecycleResult: null, instanceId: NODE, interfaces: [], availabilityZone: 'us-east-1a' });
    expect(result.reason).toMatch(/^SettingsError: .*source-dest-check/);
    expect(ec2.interfaces).toEqual([]);
  });

  test('an instance EC2 does not know, from an event of another region, is the result and names both regions', async () => {
    const ec2 = world({ instances: [] });

    const result = await handleStateChange(depsFor(ec2, fakeLifecycle(), {}, { region: 'us-east-1' }), change('running', { region: 'eu-west-1' }));

    expect(result).toMatchObject({ outcome: 'failed', lifecycleResult: null, interfaces: [] });
    expect(result.reason).toBe(
      `NodeConfigurationError: instance ${NODE} does not exist in us-east-1: the event comes from eu-west-1, but the function talks to us-east-1 (AWS_REGION)`,
    );
  });

  test('a failure of AWS calls is thrown for Lambda to retry, named by the error, after the rollback left nothing', async () => {
    const ec2 = world();
    ec2.failures.set('attachInterface:eni-fake0001', 'UnauthorizedOperation');

    const handled = handleStateChange(depsFor(ec2), change('running'));

    await expect(handled).rejects.toMatchObject({ name: 'EnsureError', message: expect.stringContaining('UnauthorizedOperation') });
    expect(ec2.writes('createInterface')).toHaveLength(1);
    expect(ec2.interfaces).toEqual([]);
  });

  test('a retried event after such a failure finds nothing half-done and attaches', async () => {
    const ec2 = world();
    ec2.failures.set('attachInterface:eni-fake0001', ['UnauthorizedOperation']);
    const deps = depsFor(ec2);

    await expect(handleStateChange(deps, change('running'))).rejects.toMatchObject({ name: 'EnsureError' });
    const retried = await handleStateChange(deps, change('running'));

    expect(retried).toMatchObject({ outcome: 'attached', interfaces: [{ deviceIndex: 1, subnetId: A }] });
    expect(ec2.interfaces).toHaveLength(1);
  });
});
