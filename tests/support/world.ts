/**
 * Building a small AWS world in the emulator: a VPC with node and multus subnets in several AZs,
 * the SSM settings, opted-in nodes, and the launch events that Auto Scaling would deliver.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CreateSubnetCidrReservationCommand,
  CreateSecurityGroupCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  DescribeInstancesCommand,
  DescribeNetworkInterfacesCommand,
  EC2Client,
  RunInstancesCommand,
  type NetworkInterface,
  type _InstanceType,
} from '@aws-sdk/client-ec2';
import { DeleteParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';

export const EVENTS_DIR = join(__dirname, '..', '..', 'events');
export const CONFIG_PATH = '/eks-multus-eni/test';
export const NODE_TAG_KEY = 'multus-ng';

export interface WorldClients {
  readonly ec2: EC2Client;
  readonly ssm: SSMClient;
}

export function worldClients(): WorldClients {
  return { ec2: new EC2Client({}), ssm: new SSMClient({}) };
}

export interface AzLayout {
  readonly az: string;
  /** Subnet where the nodes' primary interfaces live. */
  readonly nodeSubnet: string;
  readonly multusSubnets: string[];
}

export interface VpcLayout {
  readonly vpcId: string;
  readonly azs: AzLayout[];
  readonly securityGroupId: string;
}

/**
 * A VPC 10.0.0.0/16 with, per AZ, one node subnet and `multusPerAz` multus subnets (/24 each, or
 * `multusPrefix` bits).
 */
export async function createVpc(
  clients: WorldClients,
  azs: string[],
  multusPerAz = 2,
  multusPrefix = 24,
): Promise<VpcLayout> {
  const vpc = await clients.ec2.send(new CreateVpcCommand({ CidrBlock: '10.0.0.0/16' }));
  const vpcId = vpc.Vpc!.VpcId!;
  const layout: AzLayout[] = [];
  let third = 0;
  for (const az of azs) {
    const node = await clients.ec2.send(
      new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: `10.0.${third++}.0/24`, AvailabilityZone: az }),
    );
    const multus: string[] = [];
    for (let i = 0; i < multusPerAz; i++) {
      const s = await clients.ec2.send(
        new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: `10.0.${third++}.0/${multusPrefix}`, AvailabilityZone: az }),
      );
      multus.push(s.Subnet!.SubnetId!);
      if (multusPrefix < 24) third += 2 ** (24 - multusPrefix) - 1;
    }
    layout.push({ az, nodeSubnet: node.Subnet!.SubnetId!, multusSubnets: multus });
  }
  const sg = await clients.ec2.send(
    new CreateSecurityGroupCommand({ GroupName: 'multus', Description: 'multus ENIs', VpcId: vpcId }),
  );
  return { vpcId, azs: layout, securityGroupId: sg.GroupId! };
}

/**
 * A VPC for big multus subnets: 10.0.0.0/16 holds the node subnet (10.0.0.0/24) of one AZ, and each
 * multus subnet outside it (a /16, the largest a VPC subnet can be) takes a secondary CIDR block
 * of its own; one inside it (10.0.x.0/24) does not.
 */
export async function createWideVpc(clients: WorldClients, az: string, multusCidrs: readonly string[]): Promise<VpcLayout> {
  const { AssociateVpcCidrBlockCommand } = await import('@aws-sdk/client-ec2');
  const vpc = await clients.ec2.send(new CreateVpcCommand({ CidrBlock: '10.0.0.0/16' }));
  const vpcId = vpc.Vpc!.VpcId!;
  const node = await clients.ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: '10.0.0.0/24', AvailabilityZone: az }));
  const multus: string[] = [];
  for (const cidr of multusCidrs) {
    // Outside the VPC's first block: a secondary block of its own.
    if (!cidr.startsWith('10.0.')) await clients.ec2.send(new AssociateVpcCidrBlockCommand({ VpcId: vpcId, CidrBlock: cidr }));
    const s = await clients.ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: cidr, AvailabilityZone: az }));
    multus.push(s.Subnet!.SubnetId!);
  }
  const sg = await clients.ec2.send(new CreateSecurityGroupCommand({ GroupName: 'multus', Description: 'multus ENIs', VpcId: vpcId }));
  return { vpcId, azs: [{ az, nodeSubnet: node.Subnet!.SubnetId!, multusSubnets: multus }], securityGroupId: sg.GroupId! };
}

/** A VPC with IPv6: per AZ a node subnet (IPv4 only), a dual-stack multus subnet and an IPv6-only one. */
export interface Ipv6VpcLayout extends VpcLayout {
  /** The VPC's IPv6 CIDR block (Amazon-provided /56). */
  readonly ipv6CidrBlock: string;
  readonly azs: (AzLayout & { readonly dualStack: string; readonly ipv6Only: string })[];
}

/**
 * A VPC 10.0.0.0/16 with an Amazon-provided IPv6 /56 and, per AZ, a node subnet (IPv4 only), a
 * dual-stack multus subnet (an IPv4 /24 and an IPv6 /64) and an IPv6-only one (a /64, Ipv6Native);
 * `multusSubnets` lists them in that order (device index 1, 2).
 */
export async function createIpv6Vpc(clients: WorldClients, azs: string[]): Promise<Ipv6VpcLayout> {
  const vpc = await clients.ec2.send(new CreateVpcCommand({ CidrBlock: '10.0.0.0/16', AmazonProvidedIpv6CidrBlock: true }));
  const vpcId = vpc.Vpc!.VpcId!;
  const { DescribeVpcsCommand } = await import('@aws-sdk/client-ec2');
  const described = await clients.ec2.send(new DescribeVpcsCommand({ VpcIds: [vpcId] }));
  const ipv6CidrBlock = described.Vpcs![0].Ipv6CidrBlockAssociationSet![0].Ipv6CidrBlock!;
  // The n-th /64 of the /56.
  const { ipv6Cidr, ipv6CidrText } = await import('./ipv6-text');
  const first = ipv6Cidr(ipv6CidrBlock)!.first;
  const sixtyFour = (n: number) => ipv6CidrText(first + (BigInt(n) << 64n), 64);
  const layout: Ipv6VpcLayout['azs'] = [];
  let n = 0;
  for (const az of azs) {
    const node = await clients.ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: `10.0.${n}.0/24`, AvailabilityZone: az }));
    const dual = await clients.ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: `10.0.${n + 1}.0/24`, Ipv6CidrBlock: sixtyFour(n + 1), AvailabilityZone: az }));
    const only = await clients.ec2.send(new CreateSubnetCommand({ VpcId: vpcId, Ipv6Native: true, Ipv6CidrBlock: sixtyFour(n + 2), AvailabilityZone: az }));
    n += 3;
    const dualStack = dual.Subnet!.SubnetId!;
    const ipv6Only = only.Subnet!.SubnetId!;
    layout.push({ az, nodeSubnet: node.Subnet!.SubnetId!, multusSubnets: [dualStack, ipv6Only], dualStack, ipv6Only });
  }
  const sg = await clients.ec2.send(new CreateSecurityGroupCommand({ GroupName: 'multus', Description: 'multus ENIs', VpcId: vpcId }));
  return { vpcId, ipv6CidrBlock, azs: layout, securityGroupId: sg.GroupId! };
}

/** The settings path of the function under test: CONFIG_PATH from the environment, or the tests' own. */
export const settingsPath = (): string => process.env.CONFIG_PATH ?? CONFIG_PATH;

export async function putSetting(clients: WorldClients, name: string, value: string, type: 'String' | 'StringList' = 'String', path = settingsPath()) {
  await clients.ssm.send(new PutParameterCommand({ Name: `${path}/${name}`, Value: value, Type: type, Overwrite: true }));
}

export async function deleteSetting(clients: WorldClients, name: string, path = settingsPath()) {
  await clients.ssm.send(new DeleteParameterCommand({ Name: `${path}/${name}` }));
}

/** Writes subnets/<az> for every AZ of the layout, plus the given other settings. */
export async function putSettings(clients: WorldClients, layout: VpcLayout, others: Record<string, string> = {}) {
  for (const az of layout.azs) await putSetting(clients, `subnets/${az.az}`, az.multusSubnets.join(','), 'StringList');
  for (const [name, value] of Object.entries(others)) await putSetting(clients, name, value);
}

export async function launchNode(
  clients: WorldClients,
  subnetId: string,
  options: { optIn?: boolean; instanceType?: string } = {},
): Promise<string> {
  const tags = [{ Key: 'Name', Value: 'eks-node' }];
  if (options.optIn !== false) tags.push({ Key: NODE_TAG_KEY, Value: 'true' });
  const out = await clients.ec2.send(
    new RunInstancesCommand({
      ImageId: 'ami-12345678',
      InstanceType: (options.instanceType ?? 'm5.xlarge') as _InstanceType,
      MinCount: 1,
      MaxCount: 1,
      SubnetId: subnetId,
      TagSpecifications: [{ ResourceType: 'instance', Tags: tags }],
    }),
  );
  return out.Instances![0].InstanceId!;
}

export async function reserveCidr(clients: WorldClients, subnetId: string, cidr: string) {
  await clients.ec2.send(
    new CreateSubnetCidrReservationCommand({ SubnetId: subnetId, Cidr: cidr, ReservationType: 'explicit' }),
  );
}

/** A fixture from events/ with the instance id (and a fresh token) filled in. */
export function eventFor(file: string, instanceId: string, overrides: Record<string, unknown> = {}) {
  const event = JSON.parse(readFileSync(join(EVENTS_DIR, file), 'utf8'));
  event.detail = { ...event.detail, EC2InstanceId: instanceId, LifecycleActionToken: randomUUID(), ...overrides };
  return event;
}

/** The ENIs attached to the instance beyond its primary one, by device index. */
export async function multusInterfaces(clients: WorldClients, instanceId: string): Promise<NetworkInterface[]> {
  const out = await clients.ec2.send(
    new DescribeNetworkInterfacesCommand({ Filters: [{ Name: 'attachment.instance-id', Values: [instanceId] }] }),
  );
  return (out.NetworkInterfaces ?? [])
    .filter((n) => (n.Attachment?.DeviceIndex ?? 0) > 0)
    .sort((a, b) => (a.Attachment?.DeviceIndex ?? 0) - (b.Attachment?.DeviceIndex ?? 0));
}

/** Every ENI carrying our ownership tag (attached or not). */
export async function ourInterfaces(clients: WorldClients): Promise<NetworkInterface[]> {
  const out = await clients.ec2.send(
    new DescribeNetworkInterfacesCommand({ Filters: [{ Name: 'tag-key', Values: ['eks-multus-eni/instance-id'] }] }),
  );
  return out.NetworkInterfaces ?? [];
}

export async function instanceAz(clients: WorldClients, instanceId: string): Promise<string> {
  const out = await clients.ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
  return out.Reservations![0].Instances![0].Placement!.AvailabilityZone!;
}

/** An unattached ENI of ours, as a delivery that crashed between create and attach leaves it. */
export async function createOrphan(clients: WorldClients, subnetId: string, instanceId: string, deviceIndex: number): Promise<string> {
  const { CreateNetworkInterfaceCommand } = await import('@aws-sdk/client-ec2');
  const out = await clients.ec2.send(
    new CreateNetworkInterfaceCommand({
      SubnetId: subnetId,
      TagSpecifications: [
        {
          ResourceType: 'network-interface',
          Tags: [
            { Key: 'node.k8s.amazonaws.com/no_manage', Value: 'true' },
            { Key: 'eks-multus-eni/instance-id', Value: instanceId },
            { Key: 'eks-multus-eni/device-index', Value: String(deviceIndex) },
          ],
        },
      ],
    }),
  );
  return out.NetworkInterface!.NetworkInterfaceId!;
}
