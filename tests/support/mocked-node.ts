/**
 * A node as the mocked SDK clients (aws-sdk-client-mock) describe it, for unit tests of paths moto
 * cannot show: the instance, its subnets and settings, ENIs of ours, and the lifecycle app over
 * those clients.
 */
import { AutoScalingClient, CompleteLifecycleActionCommand } from '@aws-sdk/client-auto-scaling';
import {
  AttachNetworkInterfaceCommand,
  CreateNetworkInterfaceCommand,
  DescribeInstancesCommand,
  DescribeInstanceTypesCommand,
  DescribeNetworkInterfacesCommand,
  DescribeSubnetsCommand,
  EC2Client,
  type DescribeInstancesCommandOutput,
  type Instance,
  type NetworkInterface,
} from '@aws-sdk/client-ec2';
import { GetParametersByPathCommand, SSMClient } from '@aws-sdk/client-ssm';
import { Logger } from '@aws-lambda-powertools/logger';
import { mockClient } from 'aws-sdk-client-mock';
import { createLifecycleApp, type LifecycleAppOptions } from 'multus-core';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const ec2 = mockClient(EC2Client);
const asg = mockClient(AutoScalingClient);
const ssm = mockClient(SSMClient);
/** The mocked clients (reset them in a beforeEach). */
export const mocks = { ec2, asg, ssm };
export const INSTANCE = 'i-0123456789abcdef0';
export const SUBNETS = ['subnet-0000000000000000a', 'subnet-0000000000000000b'];
export const env = { CONFIG_PATH: '/eks-multus-eni/test', NODE_TAG_KEY: 'multus-ng', POWERTOOLS_PARAMETERS_MAX_AGE: '0' };
export const fixture = (name: string) => JSON.parse(readFileSync(join(__dirname, '..', '..', 'events', name), 'utf8'));

/** The lifecycle app over the mocked clients, a silent logger and no waits; `options` override. */
export function app(options: Partial<LifecycleAppOptions> = {}) {
  return createLifecycleApp({
    clients: { ec2: new EC2Client({}), autoscaling: new AutoScalingClient({}), ssm: new SSMClient({}) },
    logger: new Logger({ serviceName: 'test', logLevel: 'SILENT' }),
    env,
    release: { sleep: async () => {}, detachTimeoutMs: 1000 },
    ...options,
  });
}

/** An ENI of ours for INSTANCE at the device index, attached when `attachment` is given. */
export function ours(id: string, deviceIndex: number, attachment?: { deleteOnTermination: boolean }): NetworkInterface {
  return {
    NetworkInterfaceId: id,
    SubnetId: SUBNETS[deviceIndex - 1],
    AvailabilityZone: 'us-east-1a',
    Status: attachment ? 'in-use' : 'available',
    PrivateIpAddress: `10.0.${deviceIndex}.10`,
    SourceDestCheck: false,
    TagSet: [
      { Key: 'eks-multus-eni/instance-id', Value: INSTANCE },
      { Key: 'eks-multus-eni/device-index', Value: String(deviceIndex) },
    ],
    Attachment: attachment
      ? { AttachmentId: `eni-attach-${id}`, DeviceIndex: deviceIndex, DeleteOnTermination: attachment.deleteOnTermination, InstanceId: INSTANCE, Status: 'attached' }
      : undefined,
  };
}

/**
 * INSTANCE (m5.xlarge, us-east-1a, opted in) with the settings for SUBNETS and `attached` ENIs; Auto Scaling
 * completes. `settings`: further parameters under CONFIG_PATH, by name.
 */
export function givenNode(attached: NetworkInterface[], settings: Record<string, string> = {}) {
  ssm.on(GetParametersByPathCommand).resolves({
    Parameters: [
      { Name: `${env.CONFIG_PATH}/subnets/us-east-1a`, Value: SUBNETS.join(','), Type: 'StringList' },
      ...Object.entries(settings).map(([name, Value]) => ({ Name: `${env.CONFIG_PATH}/${name}`, Value, Type: 'String' as const })),
    ],
  });
  const described: { Reservations: NonNullable<DescribeInstancesCommandOutput['Reservations']> & { Instances: Instance[] }[] } = {
    Reservations: [
      {
        Instances: [
          {
            InstanceId: INSTANCE,
            InstanceType: 'm5.xlarge',
            VpcId: 'vpc-1',
            Placement: { AvailabilityZone: 'us-east-1a' },
            Tags: [{ Key: 'multus-ng', Value: 'true' }],
            NetworkInterfaces: [
              { NetworkInterfaceId: 'eni-primary', SubnetId: 'subnet-node', Attachment: { AttachmentId: 'eni-attach-0', DeviceIndex: 0, DeleteOnTermination: true, Status: 'attached' } },
              ...attached.map((e) => ({ NetworkInterfaceId: e.NetworkInterfaceId, SubnetId: e.SubnetId, SourceDestCheck: e.SourceDestCheck, Attachment: e.Attachment })),
            ],
          },
        ],
      },
    ],
  };
  ec2.on(DescribeInstancesCommand).resolves(described);
  ec2.on(DescribeSubnetsCommand).resolves({
    Subnets: SUBNETS.map((id, i) => ({ SubnetId: id, VpcId: 'vpc-1', AvailabilityZone: 'us-east-1a', CidrBlock: `10.0.${i + 1}.0/24` })),
  });
  ec2.on(DescribeInstanceTypesCommand).resolves({ InstanceTypes: [{ NetworkInfo: { MaximumNetworkInterfaces: 4 } }] });
  ec2.on(DescribeNetworkInterfacesCommand).resolves({ NetworkInterfaces: attached });
  asg.on(CompleteLifecycleActionCommand).resolves({});
  return described;
}

/** EC2 creates each ENI as `eni-<last letter of its subnet>` (at 10.0.0.9), and attaches it (unless `attach` is false). */
export function ec2CreatesInterfaces(options: { attach?: boolean } = {}) {
  ec2.on(CreateNetworkInterfaceCommand).callsFake((input) => ({
    NetworkInterface: { NetworkInterfaceId: `eni-${input.SubnetId.slice(-1)}`, SubnetId: input.SubnetId, PrivateIpAddress: '10.0.0.9', SourceDestCheck: true },
  }));
  if (options.attach !== false) ec2.on(AttachNetworkInterfaceCommand).callsFake((input) => ({ AttachmentId: `att-${input.NetworkInterfaceId}` }));
}
