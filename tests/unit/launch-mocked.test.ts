/**
 * With aws-sdk-client-mock: the exact requests of the attachment flag (DeleteOnTermination), a
 * redelivery finding it already set, and the terminate transition's "goes with the instance" path,
 * against mocked EC2 answers (moto ignores DeleteOnTermination; the fidelity proxy now keeps it, see
 * tests/integration/attachments-fidelity.test.ts, but these pin the calls themselves). The
 * lifecycle completion's re-read of the state after a ValidationError is shown here too.
 */
import { AutoScalingClient, CompleteLifecycleActionCommand, DescribeAutoScalingInstancesCommand } from '@aws-sdk/client-auto-scaling';
import {
  AttachNetworkInterfaceCommand,
  CreateNetworkInterfaceCommand,
  DeleteNetworkInterfaceCommand,
  DescribeInstancesCommand,
  DescribeInstanceTypesCommand,
  DescribeNetworkInterfacesCommand,
  DetachNetworkInterfaceCommand,
  EC2Client,
  ModifyNetworkInterfaceAttributeCommand,
  type NetworkInterface,
} from '@aws-sdk/client-ec2';
import { SSMClient } from '@aws-sdk/client-ssm';
import { Logger } from '@aws-lambda-powertools/logger';
import 'aws-sdk-client-mock-jest';
import { createLifecycleApp } from 'multus-core';
import { app, ec2CreatesInterfaces, env, fixture, givenNode, INSTANCE, mocks, ours, SUBNETS } from '../support/mocked-node';

const { ec2, asg, ssm } = mocks;

beforeEach(() => {
  ec2.reset();
  asg.reset();
  ssm.reset();
});

describe('launch', () => {
  test('every new attachment gets DeleteOnTermination=true and the source/dest check off', async () => {
    givenNode([]);
    ec2CreatesInterfaces();

    const result = await app().handle(fixture('launch.json'));

    expect(result.outcome).toBe('attached');
    expect(ec2).toHaveReceivedCommandWith(AttachNetworkInterfaceCommand, { NetworkInterfaceId: 'eni-a', DeviceIndex: 1, InstanceId: INSTANCE });
    expect(ec2).toHaveReceivedCommandWith(AttachNetworkInterfaceCommand, { NetworkInterfaceId: 'eni-b', DeviceIndex: 2, InstanceId: INSTANCE });
    for (const id of ['eni-a', 'eni-b']) {
      expect(ec2).toHaveReceivedCommandWith(ModifyNetworkInterfaceAttributeCommand, {
        NetworkInterfaceId: id,
        Attachment: { AttachmentId: `att-${id}`, DeleteOnTermination: true },
      });
      expect(ec2).toHaveReceivedCommandWith(ModifyNetworkInterfaceAttributeCommand, { NetworkInterfaceId: id, SourceDestCheck: { Value: false } });
    }
    expect(ec2).toHaveReceivedCommandWith(CreateNetworkInterfaceCommand, {
      SubnetId: SUBNETS[0],
      TagSpecifications: [
        {
          ResourceType: 'network-interface',
          Tags: expect.arrayContaining([
            { Key: 'node.k8s.amazonaws.com/no_manage', Value: 'true' },
            { Key: 'eks-multus-eni/instance-id', Value: INSTANCE },
            { Key: 'eks-multus-eni/device-index', Value: '1' },
          ]),
        },
      ],
    });
  });

  test('a redelivery that finds both ENIs attached with DeleteOnTermination sends nothing that mutates', async () => {
    givenNode([ours('eni-a', 1, { deleteOnTermination: true }), ours('eni-b', 2, { deleteOnTermination: true })]);

    const result = await app().handle(fixture('launch.json'));

    expect(result.outcome).toBe('attached');
    expect(result.interfaces.map((i) => i.networkInterfaceId)).toEqual(['eni-a', 'eni-b']);
    expect(ec2).not.toHaveReceivedCommand(CreateNetworkInterfaceCommand);
    expect(ec2).not.toHaveReceivedCommand(AttachNetworkInterfaceCommand);
    expect(ec2).not.toHaveReceivedCommand(ModifyNetworkInterfaceAttributeCommand);
    expect(ec2).not.toHaveReceivedCommand(DeleteNetworkInterfaceCommand);
    expect(asg).toHaveReceivedCommandWith(CompleteLifecycleActionCommand, { LifecycleActionResult: 'CONTINUE', InstanceId: INSTANCE });
  });

  test('a redelivery that finds DeleteOnTermination unset (a crash after attach) sets it', async () => {
    givenNode([ours('eni-a', 1, { deleteOnTermination: false }), ours('eni-b', 2, { deleteOnTermination: true })]);

    await app().handle(fixture('launch.json'));

    expect(ec2).toHaveReceivedCommandTimes(ModifyNetworkInterfaceAttributeCommand, 1);
    expect(ec2).toHaveReceivedCommandWith(ModifyNetworkInterfaceAttributeCommand, {
      NetworkInterfaceId: 'eni-a',
      Attachment: { AttachmentId: 'eni-attach-eni-a', DeleteOnTermination: true },
    });
  });
});

describe('terminate', () => {
  /**
   * Every write that names an ENI is checked against the ENIs the test allows: any other is
   * recorded and refused. Terminate logs a refused release and goes on, so the test asserts the
   * record, not only the outcome.
   */
  function guardedEc2(enis: NetworkInterface[], allowed: readonly string[]) {
    const state = new Map(enis.map((e) => [e.NetworkInterfaceId!, e]));
    const forbidden: string[] = [];
    const touch = (id: string | undefined) => {
      if (id && allowed.includes(id)) return;
      forbidden.push(`${id}`);
      throw Object.assign(new Error(`the test allows no write to ${id}`), { name: 'UnauthorizedOperation' });
    };
    const byAttachment = (attachmentId: string | undefined) => enis.find((e) => e.Attachment?.AttachmentId === attachmentId)?.NetworkInterfaceId;
    // The tag filter is EC2's; each ENI it returns is still checked against every rule of ours.
    ec2.on(DescribeNetworkInterfacesCommand).callsFake((input) => ({
      NetworkInterfaces: input.NetworkInterfaceIds ? input.NetworkInterfaceIds.flatMap((id: string) => state.get(id) ?? []) : [...state.values()],
    }));
    ec2.on(DetachNetworkInterfaceCommand).callsFake((input) => {
      const id = byAttachment(input.AttachmentId);
      touch(id);
      state.set(id!, { ...state.get(id!)!, Status: 'available', Attachment: undefined });
      return {};
    });
    ec2.on(DeleteNetworkInterfaceCommand).callsFake((input) => {
      touch(input.NetworkInterfaceId);
      state.delete(input.NetworkInterfaceId);
      return {};
    });
    ec2.on(ModifyNetworkInterfaceAttributeCommand).callsFake((input) => touch(input.NetworkInterfaceId));
    asg.on(CompleteLifecycleActionCommand).resolves({});
    return { forbidden, left: () => [...state.keys()].sort() };
  }

  test('only ENIs that are ours by every rule are released: DeleteOnTermination ones go with the instance, foreign ones and ours on another instance are never touched', async () => {
    const OTHER = 'i-0fedcba9876543210';
    const goes = ours('eni-goes', 1, { deleteOnTermination: true });
    const stays = ours('eni-stays', 2, { deleteOnTermination: false });
    const loose = ours('eni-loose', 2);
    const foreign: NetworkInterface = { ...ours('eni-foreign', 1, { deleteOnTermination: false }), TagSet: [] };
    const otherOwner: NetworkInterface = { ...ours('eni-other-owner', 1), TagSet: [{ Key: 'eks-multus-eni/instance-id', Value: OTHER }] };
    const onOther = ours('eni-on-other', 1, { deleteOnTermination: false });
    const elsewhere: NetworkInterface = { ...onOther, Attachment: { ...onOther.Attachment!, InstanceId: OTHER } };
    const { forbidden, left } = guardedEc2([foreign, otherOwner, goes, elsewhere, stays, loose], ['eni-stays', 'eni-loose']);

    const result = await app().handle(fixture('terminate.json'));

    expect(forbidden).toEqual([]);
    expect(result).toMatchObject({ outcome: 'released', lifecycleResult: 'CONTINUE', availabilityZone: 'us-east-1a' });
    expect(result.reason).toBeUndefined();
    expect(result.interfaces.map((i) => [i.networkInterfaceId, i.deviceIndex])).toEqual([
      ['eni-stays', 2],
      ['eni-loose', -1],
    ]);
    expect(left()).toEqual(['eni-foreign', 'eni-goes', 'eni-on-other', 'eni-other-owner']);
    expect(ec2.commandCalls(DetachNetworkInterfaceCommand).map((c) => c.args[0].input.AttachmentId)).toEqual(['eni-attach-eni-stays']);
    expect(asg).toHaveReceivedCommandWith(CompleteLifecycleActionCommand, { LifecycleActionResult: 'CONTINUE', LifecycleHookName: 'eks-multus-eni-terminate' });
  });

  test('an ENI of ours that cannot be released is named in the reason; the action still completes CONTINUE', async () => {
    const { forbidden } = guardedEc2([ours('eni-stuck', 2), ours('eni-loose', 1)], ['eni-loose']);

    const result = await app().handle(fixture('terminate.json'));

    expect(forbidden).toEqual(['eni-stuck']);
    expect(result).toMatchObject({ outcome: 'released', lifecycleResult: 'CONTINUE', reason: 'could not release eni-stuck' });
    expect(result.interfaces.map((i) => i.networkInterfaceId)).toEqual(['eni-loose']);
  });
});

describe('lifecycle completion', () => {
  const validation = Object.assign(new Error('No active Lifecycle Action found with instance ID i-0123456789abcdef0'), { name: 'ValidationError' });

  test('ValidationError with the instance no longer waiting: already complete, not an error', async () => {
    givenNode([ours('eni-a', 1, { deleteOnTermination: true }), ours('eni-b', 2, { deleteOnTermination: true })]);
    asg.on(CompleteLifecycleActionCommand).rejects(validation);
    asg.on(DescribeAutoScalingInstancesCommand).resolves({ AutoScalingInstances: [{ InstanceId: INSTANCE, LifecycleState: 'InService' } as never] });

    const result = await app().handle(fixture('launch.json'));

    expect(result).toMatchObject({ outcome: 'attached', completion: 'already-complete' });
  });

  test('the instance still waiting (another hook may hold it): "No active Lifecycle Action" still means complete', async () => {
    givenNode([ours('eni-a', 1, { deleteOnTermination: true }), ours('eni-b', 2, { deleteOnTermination: true })]);
    asg.on(CompleteLifecycleActionCommand).rejects(validation);
    asg.on(DescribeAutoScalingInstancesCommand).resolves({ AutoScalingInstances: [{ InstanceId: INSTANCE, LifecycleState: 'Pending:Wait' } as never] });

    const result = await app().handle(fixture('launch.json'));

    expect(result).toMatchObject({ outcome: 'attached', completion: 'already-complete' });
  });

  test('another ValidationError while the instance still waits on its hook is a real error: the handler throws', async () => {
    givenNode([ours('eni-a', 1, { deleteOnTermination: true }), ours('eni-b', 2, { deleteOnTermination: true })]);
    const invalid = Object.assign(new Error('1 validation error detected: Value at lifecycleHookName failed to satisfy constraint'), { name: 'ValidationError' });
    asg.on(CompleteLifecycleActionCommand).rejects(invalid);
    asg.on(DescribeAutoScalingInstancesCommand).resolves({ AutoScalingInstances: [{ InstanceId: INSTANCE, LifecycleState: 'Pending:Wait' } as never] });

    await expect(app().handle(fixture('launch.json'))).rejects.toMatchObject({ name: 'ValidationError' });
  });
});

describe('what settles by itself', () => {
  test.each(['IncorrectInstanceState', 'InvalidNetworkInterfaceID.NotFound'])(
    'an attach answered with %s (instance still pending, ENI not visible yet) is retried until it works',
    async (code) => {
      givenNode([]);
      ec2CreatesInterfaces({ attach: false });
      const notYet = Object.assign(new Error('not yet'), { name: code });
      ec2
        .on(AttachNetworkInterfaceCommand)
        .rejectsOnce(notYet)
        .rejectsOnce(notYet)
        .callsFake((input) => ({ AttachmentId: `att-${input.NetworkInterfaceId}` }));

      const result = await app().handle(fixture('launch.json'));

      expect(result.outcome).toBe('attached');
      expect(ec2).toHaveReceivedCommandTimes(AttachNetworkInterfaceCommand, 4);
      expect(ec2).not.toHaveReceivedCommand(DeleteNetworkInterfaceCommand);
    },
  );

  test('an attach error that does not settle is not retried: rollback, ABANDON', async () => {
    givenNode([]);
    ec2.on(CreateNetworkInterfaceCommand).callsFake((input) => ({
      NetworkInterface: { NetworkInterfaceId: `eni-${input.SubnetId.slice(-1)}`, SubnetId: input.SubnetId, SourceDestCheck: true },
    }));
    ec2.on(AttachNetworkInterfaceCommand).rejects(Object.assign(new Error('no'), { name: 'UnauthorizedOperation' }));
    ec2.on(DescribeNetworkInterfacesCommand, { NetworkInterfaceIds: ['eni-a'] }).resolves({ NetworkInterfaces: [{ NetworkInterfaceId: 'eni-a', Status: 'available' }] });

    const result = await app().handle(fixture('launch.json'));

    expect(result).toMatchObject({ outcome: 'failed', lifecycleResult: 'ABANDON' });
    expect(ec2).toHaveReceivedCommandTimes(AttachNetworkInterfaceCommand, 1);
    expect(ec2).toHaveReceivedCommandWith(DeleteNetworkInterfaceCommand, { NetworkInterfaceId: 'eni-a' });
  });

  test('the interface limit of a multi-card instance type is network card 0\'s', async () => {
    givenNode([]);
    ec2.on(DescribeInstanceTypesCommand).resolves({
      InstanceTypes: [
        {
          NetworkInfo: {
            MaximumNetworkInterfaces: 4,
            DefaultNetworkCardIndex: 0,
            NetworkCards: [
              { NetworkCardIndex: 0, MaximumNetworkInterfaces: 2 },
              { NetworkCardIndex: 1, MaximumNetworkInterfaces: 2 },
            ],
          },
        },
      ],
    });

    const result = await app().handle(fixture('launch.json'));

    expect(result).toMatchObject({ outcome: 'failed' });
    expect(result.reason).toContain('allows 2 network interfaces');
    expect(ec2).not.toHaveReceivedCommand(CreateNetworkInterfaceCommand);
  });
});

describe('our hooks only', () => {
  test('with LAUNCH_HOOK_NAME/TERMINATE_HOOK_NAME set, an action of another hook is ignored and not completed', async () => {
    const other = { ...fixture('launch.json'), detail: { ...fixture('launch.json').detail, LifecycleHookName: 'someone-elses-hook' } };
    const scoped = createLifecycleApp({
      clients: { ec2: new EC2Client({}), autoscaling: new AutoScalingClient({}), ssm: new SSMClient({}) },
      logger: new Logger({ serviceName: 'test', logLevel: 'SILENT' }),
      env: { ...env, LAUNCH_HOOK_NAME: 'eks-multus-eni-launch', TERMINATE_HOOK_NAME: 'eks-multus-eni-terminate' },
    });

    const result = await scoped.handle(other);

    expect(result).toMatchObject({ outcome: 'ignored', lifecycleResult: null, reason: expect.stringContaining('someone-elses-hook is not one of ours') });
    expect(asg).not.toHaveReceivedCommand(CompleteLifecycleActionCommand);
    expect(ec2).not.toHaveReceivedCommand(DescribeInstancesCommand);
  });
});

describe('the function\'s time limit', () => {
  const almostOut = { getRemainingTimeInMillis: () => 19_000 }; // under the 20 s kept for rollback and the answer

  test('a launch with no time left for the work starts nothing, still answers the lifecycle action (on-failure)', async () => {
    givenNode([]);

    const result = await app().handle(fixture('launch.json'), almostOut);

    expect(result).toMatchObject({ outcome: 'failed', lifecycleResult: 'ABANDON', reason: expect.stringContaining('ran out of time') });
    expect(ec2).not.toHaveReceivedCommand(CreateNetworkInterfaceCommand);
    expect(asg).toHaveReceivedCommandWith(CompleteLifecycleActionCommand, { LifecycleActionResult: 'ABANDON' });
  });

  test('a reconcile out of time lists the nodes it did not reach', async () => {
    givenNode([]);
    const event = { source: 'eks-multus-eni', 'detail-type': 'Reconcile Multus Interfaces', detail: { instanceIds: [INSTANCE, 'i-0123456789abcdef1'] } };

    const result = await app().handle(event, almostOut);

    expect(result.reconcile).toMatchObject({ nodes: [], notReached: [INSTANCE, 'i-0123456789abcdef1'], summary: { notReached: 2 } });
    expect(ec2).not.toHaveReceivedCommand(CreateNetworkInterfaceCommand);
  });
});

describe('eventual consistency and transitions', () => {
  test('an instance EC2 does not show yet (NotFound right after launch) is described again', async () => {
    const described = givenNode([]);
    ec2
      .on(DescribeInstancesCommand)
      .rejectsOnce(Object.assign(new Error('not yet'), { name: 'InvalidInstanceID.NotFound' }))
      .resolves(described);
    ec2.on(CreateNetworkInterfaceCommand).callsFake((input) => ({ NetworkInterface: { NetworkInterfaceId: `eni-${input.SubnetId.slice(-1)}`, SubnetId: input.SubnetId } }));
    ec2.on(AttachNetworkInterfaceCommand).callsFake((input) => ({ AttachmentId: `att-${input.NetworkInterfaceId}` }));

    const result = await app().handle(fixture('launch.json'));

    expect(result).toMatchObject({ outcome: 'attached' });
    expect(ec2.commandCalls(DescribeInstancesCommand)).toHaveLength(2); // the NotFound, then the retry
  });

  test('an ENI of ours still detaching at a multus index is waited for, then the slot is filled anew', async () => {
    const leaving = ours('eni-old', 1, { deleteOnTermination: true });
    const described = givenNode([{ ...leaving, Attachment: { ...leaving.Attachment!, Status: 'detaching' } }]);
    const instance = described.Reservations[0].Instances[0];
    const settled = { Reservations: [{ Instances: [{ ...instance, NetworkInterfaces: instance.NetworkInterfaces!.slice(0, 1) }] }] };
    ec2.on(DescribeInstancesCommand).resolvesOnce({ Reservations: [{ Instances: [instance] }] }).resolves(settled);
    ec2.on(DescribeNetworkInterfacesCommand).resolves({ NetworkInterfaces: [] });
    ec2.on(CreateNetworkInterfaceCommand).callsFake((input) => ({ NetworkInterface: { NetworkInterfaceId: `eni-${input.SubnetId.slice(-1)}`, SubnetId: input.SubnetId } }));
    ec2.on(AttachNetworkInterfaceCommand).callsFake((input) => ({ AttachmentId: `att-${input.NetworkInterfaceId}` }));

    const result = await app().handle(fixture('launch.json'));

    expect(result.outcome).toBe('attached');
    expect(result.interfaces.map((i) => i.networkInterfaceId)).toEqual(['eni-a', 'eni-b']);
  });
});
