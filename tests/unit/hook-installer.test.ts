/**
 * The hook installer's pure parts (request parsing, the response within CloudFormation's 4096
 * bytes) and, with aws-sdk-client-mock, the SDK adapter paths the emulator cannot show: Auto
 * Scaling's generic ValidationError on DeleteLifecycleHook (moto accepts deleting a missing hook),
 * told apart by re-reading the hooks rather than by the message.
 */
import {
  AutoScalingClient,
  DeleteLifecycleHookCommand,
  DescribeLifecycleHooksCommand,
} from '@aws-sdk/client-auto-scaling';
import { DescribeNodegroupCommand, DescribeUpdateCommand, EKSClient, ResourceNotFoundException, UpdateNodegroupConfigCommand } from '@aws-sdk/client-eks';
import { mockClient } from 'aws-sdk-client-mock';
import {
  buildResponse,
  MAX_RESPONSE_BYTES,
  parseEnvelope,
  parseHookTarget,
  scaleNodegroup,
  SdkHooks,
  type RequestEnvelope,
} from 'multus-core/hooks';

const properties = {
  ServiceToken: 'arn:aws:lambda:us-east-1:123456789012:function:f',
  ClusterName: 'multus-cluster',
  NodegroupName: 'multus-ng',
  LaunchHookName: 'eks-multus-eni-launch',
  TerminateHookName: 'eks-multus-eni-terminate',
  HeartbeatTimeout: '600',
  DefaultResult: 'ABANDON',
  NotificationMetadata: 'eks-multus-eni:s:multus-cluster/multus-ng',
};

const envelope: RequestEnvelope = {
  requestType: 'Create',
  responseUrl: 'https://example.com/response',
  stackId: 'arn:aws:cloudformation:us-east-1:123456789012:stack/s/1',
  requestId: 'r-1',
  logicalResourceId: 'NodegroupLifecycleHooks',
  resourceProperties: properties,
};

describe('parsing the request', () => {
  test('the envelope: every missing field named', () => {
    expect(() => parseEnvelope({ RequestType: 'Update', StackId: 's' })).toThrow(
      'custom resource request: ResponseURL is missing; custom resource request: RequestId is missing; custom resource request: LogicalResourceId is missing; custom resource request: PhysicalResourceId is missing',
    );
    expect(() => parseEnvelope('nope')).toThrow(/not an object/);
  });

  test('the properties, as CloudFormation sends them (strings)', () => {
    expect(parseHookTarget(properties)).toEqual({
      clusterName: 'multus-cluster',
      nodegroupName: 'multus-ng',
      launchHookName: 'eks-multus-eni-launch',
      terminateHookName: 'eks-multus-eni-terminate',
      heartbeatTimeout: 600,
      defaultResult: 'ABANDON',
      notificationMetadata: 'eks-multus-eni:s:multus-cluster/multus-ng',
    });
  });

  test.each([
    [{ HeartbeatTimeout: '29' }, 'HeartbeatTimeout must be a whole number of seconds from 30 to 7200, got "29"'],
    [{ HeartbeatTimeout: '7201' }, 'from 30 to 7200, got "7201"'],
    [{ HeartbeatTimeout: '60.5' }, 'got "60.5"'],
    [{ DefaultResult: 'RETRY' }, 'DefaultResult must be CONTINUE or ABANDON, got "RETRY"'],
    [{ ClusterName: '' }, 'ResourceProperties.ClusterName is missing'],
    [{ NodegroupName: 'bad name' }, 'NodegroupName "bad name" is not an EKS node group name'],
    [{ LaunchHookName: 'same', TerminateHookName: 'same' }, 'LaunchHookName and TerminateHookName are both "same"'],
    [{ NotificationMetadata: undefined }, 'NotificationMetadata is missing (the EventBridge rule matches it)'],
  ])('%j is refused: %s', (change, message) => {
    expect(() => parseHookTarget({ ...properties, ...change })).toThrow(message);
  });

  test('the bounds of the heartbeat are accepted', () => {
    expect(parseHookTarget({ ...properties, HeartbeatTimeout: '30' }).heartbeatTimeout).toBe(30);
    expect(parseHookTarget({ ...properties, HeartbeatTimeout: 7200 }).heartbeatTimeout).toBe(7200);
  });
});

describe('the response body', () => {
  test('copies the request ids and carries the outcome', () => {
    expect(buildResponse(envelope, { status: 'SUCCESS', reason: 'done', physicalResourceId: 'p', data: { A: 'b' } })).toEqual({
      Status: 'SUCCESS',
      Reason: 'done',
      PhysicalResourceId: 'p',
      StackId: envelope.stackId,
      RequestId: 'r-1',
      LogicalResourceId: 'NodegroupLifecycleHooks',
      NoEcho: false,
      Data: { A: 'b' },
    });
  });

  test('a long reason and long data are cut to fit 4096 bytes, marked, still JSON', () => {
    const body = buildResponse(envelope, {
      status: 'FAILED',
      reason: 'é'.repeat(5000),
      physicalResourceId: 'p',
      data: { AutoScalingGroupNames: 'eks-group,'.repeat(500), NodesFailed: '3' },
    });
    const text = JSON.stringify(body);
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(MAX_RESPONSE_BYTES);
    expect(body.Reason.endsWith(' [...]')).toBe(true);
    expect(body.Data.NodesFailed).toBe('3');
    expect(body.Data.AutoScalingGroupNames.endsWith(' [...]')).toBe(true);
  });
});

describe('the SDK adapter', () => {
  const autoscaling = mockClient(AutoScalingClient);
  const eks = mockClient(EKSClient);
  const hooks = new SdkHooks(new EKSClient({ region: 'us-east-1' }), new AutoScalingClient({ region: 'us-east-1' }));
  const validation = Object.assign(new Error('No Lifecycle Hook found'), { name: 'ValidationError' });

  beforeEach(() => {
    autoscaling.reset();
    eks.reset();
  });

  test('deleting a hook that is already gone (ValidationError, then not described) is not an error', async () => {
    autoscaling.on(DeleteLifecycleHookCommand).rejects(validation);
    autoscaling.on(DescribeLifecycleHooksCommand).resolves({ LifecycleHooks: [] });
    await expect(hooks.deleteHook('g', 'h')).resolves.toBeUndefined();
  });

  test('a ValidationError while the hook is still there is an error', async () => {
    autoscaling.on(DeleteLifecycleHookCommand).rejects(validation);
    autoscaling.on(DescribeLifecycleHooksCommand).resolves({ LifecycleHooks: [{ LifecycleHookName: 'h', AutoScalingGroupName: 'g' }] });
    await expect(hooks.deleteHook('g', 'h')).rejects.toBe(validation);
  });

  test('an unknown node group becomes NodegroupNotFoundError naming it; a node group without groups has none', async () => {
    eks.on(DescribeNodegroupCommand).rejectsOnce(new ResourceNotFoundException({ message: 'No node group found for name: ng.', $metadata: {} }));
    await expect(hooks.describeNodegroup('c', 'ng')).rejects.toMatchObject({
      name: 'NodegroupNotFoundError',
      message: 'EKS node group "ng" of cluster "c" not found (No node group found for name: ng.)',
    });
    eks.on(DescribeNodegroupCommand).resolves({ nodegroup: { status: 'CREATING', resources: {} } });
    await expect(hooks.describeNodegroup('c', 'ng')).resolves.toEqual({ status: 'CREATING', autoScalingGroupNames: [] });
  });
});

describe('setting the node group sizes (SDK mock: an update EKS ends Failed, which the emulator never does)', () => {
  const eks = mockClient(EKSClient);
  const hooks = new SdkHooks(new EKSClient({ region: 'us-east-1' }), new AutoScalingClient({ region: 'us-east-1' }));
  const log = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };
  const target = parseHookTarget({ ...properties, ScalingConfig: { MinSize: '1', DesiredSize: '2', MaxSize: '4' } });
  const deps = { hooks, log, sleep: async () => undefined, pollMs: 1 };

  beforeEach(() => eks.reset());

  test('polls DescribeUpdate until EKS ends the update; Failed is an error naming the update, the sizes and EKS\'s errors', async () => {
    eks.on(DescribeNodegroupCommand).resolves({ nodegroup: { scalingConfig: { minSize: 0, desiredSize: 0, maxSize: 1 }, resources: { autoScalingGroups: [{ name: 'g' }] } } });
    eks.on(UpdateNodegroupConfigCommand).resolves({ update: { id: 'u-1', status: 'InProgress' } });
    eks.on(DescribeUpdateCommand)
      .resolvesOnce({ update: { id: 'u-1', status: 'InProgress' } })
      .resolves({ update: { id: 'u-1', status: 'Failed', errors: [{ errorCode: 'AsgInstanceLaunchFailures' as never, errorMessage: 'Could not launch On-Demand Instances' }] } });

    await expect(scaleNodegroup(deps, target, target.scaling!)).rejects.toMatchObject({
      name: 'NodegroupScalingError',
      message: expect.stringContaining('EKS update u-1 of the sizes of EKS node group "multus-ng" of cluster "multus-cluster" to 1/2/4 (min/desired/max) ended Failed: AsgInstanceLaunchFailures: Could not launch On-Demand Instances'),
    });
    expect(eks.commandCalls(DescribeUpdateCommand)).toHaveLength(2);
    expect(eks.commandCalls(UpdateNodegroupConfigCommand)[0].args[0].input).toEqual({
      clusterName: 'multus-cluster',
      nodegroupName: 'multus-ng',
      scalingConfig: { minSize: 1, desiredSize: 2, maxSize: 4 },
    });
  });

  test('sizes already as wanted: no update is sent', async () => {
    eks.on(DescribeNodegroupCommand).resolves({ nodegroup: { scalingConfig: { minSize: 1, desiredSize: 2, maxSize: 4 }, resources: { autoScalingGroups: [{ name: 'g' }] } } });
    await expect(scaleNodegroup(deps, target, target.scaling!)).resolves.toEqual({ scaling: target.scaling });
    expect(eks.commandCalls(UpdateNodegroupConfigCommand)).toHaveLength(0);
  });

  test('an error other than ResourceInUseException is not retried', async () => {
    eks.on(DescribeNodegroupCommand).resolves({ nodegroup: { scalingConfig: { minSize: 0, desiredSize: 0, maxSize: 1 } } });
    eks.on(UpdateNodegroupConfigCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));
    await expect(scaleNodegroup(deps, target, target.scaling!)).rejects.toMatchObject({ name: 'AccessDeniedException' });
    expect(eks.commandCalls(UpdateNodegroupConfigCommand)).toHaveLength(1);
  });
});

test('ScalingConfig: whole numbers, MaxSize at least 1, MinSize <= DesiredSize <= MaxSize; absent means never touched', () => {
  expect(parseHookTarget(properties).scaling).toBeUndefined();
  expect(parseHookTarget({ ...properties, ScalingConfig: { MinSize: '0', DesiredSize: '0', MaxSize: '1' } }).scaling).toEqual({ minSize: 0, desiredSize: 0, maxSize: 1 });
  expect(() => parseHookTarget({ ...properties, ScalingConfig: { MinSize: '0', DesiredSize: '0', MaxSize: '0' } })).toThrow('ResourceProperties.ScalingConfig.MaxSize must be at least 1, got 0');
  expect(() => parseHookTarget({ ...properties, ScalingConfig: { MinSize: 'one', DesiredSize: '2', MaxSize: '4' } })).toThrow(
    'ResourceProperties.ScalingConfig.MinSize must be a whole number, got "one"',
  );
  expect(() => parseHookTarget({ ...properties, ScalingConfig: '1/2/4' })).toThrow('ResourceProperties.ScalingConfig must be an object');
});
