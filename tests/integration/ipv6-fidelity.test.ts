/**
 * The fidelity proxy's IPv6 (tests/support/fidelity-ipv6.ts), against moto behind it, called with
 * the AWS SDK as the function calls EC2: moto 5.2 takes random IPv6 addresses, ignores
 * Ipv6PrefixCount, checks no limit and gives ENIs of IPv6-only subnets an IPv4 address, so the
 * proxy answers IPv6 as EC2 does. These tests hold the proxy to what EC2 documents, so that the
 * tests of the function (ipv6.test.ts) run against EC2's behaviour and not moto's.
 */
import {
  AssignIpv6AddressesCommand,
  AttachNetworkInterfaceCommand,
  CreateNetworkInterfaceCommand,
  DeleteNetworkInterfaceCommand,
  DescribeNetworkInterfacesCommand,
  DescribeSubnetsCommand,
  type NetworkInterface,
} from '@aws-sdk/client-ec2';
import { SdkEc2 } from 'multus-core';
import { cleanEmulatorEachTest } from '../support/context';
import { ONE_IPV6_KIND } from '../support/fidelity-ipv6';
import { ipv6Cidr, ipv6ToBigInt } from '../support/ipv6-text';
import { createIpv6Vpc, createVpc, launchNode, worldClients, type Ipv6VpcLayout } from '../support/world';

const clients = worldClients();
let layout: Ipv6VpcLayout;
let dual: string;
let v6: string;

cleanEmulatorEachTest();
beforeEach(async () => {
  layout = await createIpv6Vpc(clients, ['us-east-1a']);
  ({ dualStack: dual, ipv6Only: v6 } = layout.azs[0]);
});

const create = (params: Partial<ConstructorParameters<typeof CreateNetworkInterfaceCommand>[0]> & { SubnetId: string }) =>
  clients.ec2.send(new CreateNetworkInterfaceCommand(params)).then((out) => out.NetworkInterface!);
const addresses = (e: NetworkInterface) => (e.Ipv6Addresses ?? []).map((a) => a.Ipv6Address!);
const prefixes = (e: NetworkInterface) => (e.Ipv6Prefixes ?? []).map((p) => p.Ipv6Prefix!);
async function describeAll(params: { MaxResults?: number } = {}): Promise<NetworkInterface[]> {
  const out: NetworkInterface[] = [];
  let NextToken: string | undefined;
  do {
    const page = await clients.ec2.send(new DescribeNetworkInterfacesCommand({ Filters: [{ Name: 'vpc-id', Values: [layout.vpcId] }], NextToken, ...params }));
    out.push(...(page.NetworkInterfaces ?? []));
    NextToken = page.NextToken;
  } while (NextToken);
  return out;
}
const blockOf = async (subnetId: string) => (await clients.ec2.send(new DescribeSubnetsCommand({ SubnetIds: [subnetId] }))).Subnets![0].Ipv6CidrBlockAssociationSet![0].Ipv6CidrBlock!;

test('addresses and /80 prefixes come from the subnet\'s /64, none reserved, none shared between ENIs, no address inside a prefix; the describes show them', async () => {
  const block = ipv6Cidr(await blockOf(dual))!;
  const a = await create({ SubnetId: dual, Ipv6AddressCount: 3 });
  const b = await create({ SubnetId: dual, Ipv6PrefixCount: 2 });
  const c = await create({ SubnetId: dual, Ipv6AddressCount: 2 });

  const all = await describeAll();
  const byId = new Map(all.map((e) => [e.NetworkInterfaceId!, e]));
  expect(addresses(byId.get(a.NetworkInterfaceId!)!)).toEqual(addresses(a));
  expect(prefixes(byId.get(b.NetworkInterfaceId!)!)).toEqual(prefixes(b));
  const singles = [...addresses(a), ...addresses(c)].map(ipv6ToBigInt);
  expect(singles).toHaveLength(5);
  expect(new Set(singles).size).toBe(5);
  for (const x of singles) {
    expect(x >= block.first + 4n && x < block.last).toBe(true);
  }
  const delegated = prefixes(b).map((p) => ipv6Cidr(p)!);
  expect(delegated.map((p) => p.bits)).toEqual([80, 80]);
  expect(delegated[0].first).not.toBe(delegated[1].first);
  for (const p of delegated) {
    expect(p.first >= block.first && p.last <= block.last).toBe(true);
    expect(singles.filter((x) => p.first <= x && x <= p.last)).toEqual([]);
  }
  // moto's own state text, `{'State': 'associated'}`, is written as EC2 writes it.
  const subnet = (await clients.ec2.send(new DescribeSubnetsCommand({ SubnetIds: [dual] }))).Subnets![0];
  expect(subnet.Ipv6CidrBlockAssociationSet![0].Ipv6CidrBlockState?.State).toBe('associated');
});

test('one IPv6 kind per create (EC2: InvalidParameterValue); IPv6 on a subnet without an IPv6 block is refused; nothing is created either way', async () => {
  await expect(create({ SubnetId: dual, Ipv6AddressCount: 1, Ipv6PrefixCount: 1 })).rejects.toMatchObject({ name: 'InvalidParameterValue', message: expect.stringContaining(ONE_IPV6_KIND) });
  const plain = await createVpc(clients, ['us-east-1b'], 1);
  await expect(create({ SubnetId: plain.azs[0].multusSubnets[0], Ipv6AddressCount: 1 })).rejects.toMatchObject({ name: 'InvalidParameterValue', message: expect.stringContaining('does not have an IPv6 CIDR block') });
  await expect(create({ SubnetId: plain.azs[0].multusSubnets[0], Ipv6PrefixCount: 1 })).rejects.toMatchObject({ name: 'InvalidParameterValue' });
  expect(await describeAll()).toEqual([]);
  // A specific primary IPv4 address with an IPv6 count is fine (the lowest-free create).
  const e = await create({ SubnetId: dual, PrivateIpAddress: '10.0.1.10', Ipv6AddressCount: 1 });
  expect([e.PrivateIpAddress, addresses(e).length]).toEqual(['10.0.1.10', 1]);
});

test('an IPv6-only subnet: the ENI has no IPv4 address and one IPv6 address unless told otherwise; a PrivateIpAddress there is refused', async () => {
  const e = await create({ SubnetId: v6 });

  expect(e.PrivateIpAddress).toBeUndefined();
  expect(e.PrivateIpAddresses ?? []).toEqual([]);
  expect(addresses(e)).toHaveLength(1);
  expect(e.Ipv6Native).toBe(true);
  const [described] = await describeAll();
  expect([described.PrivateIpAddress, described.PrivateIpAddresses ?? [], addresses(described)]).toEqual([undefined, [], addresses(e)]);
  await expect(create({ SubnetId: v6, PrivateIpAddress: '10.0.9.9' })).rejects.toMatchObject({ name: 'InvalidParameterValue' });
  // The adapter reads the subnet as IPv6-only with its block.
  const [view] = await new SdkEc2(clients.ec2, { cacheMaxAgeMs: () => 0 }).describeSubnets([v6]);
  expect(view).toMatchObject({ cidrBlock: '', ipv6Native: true, ipv6CidrBlocks: [await blockOf(v6)] });
});

test('AssignIpv6Addresses answers only what it assigned; on an attached ENI, more than the type\'s IPv6 slots (m5.large: 10) is PrivateIpAddressLimitExceeded', async () => {
  const node = await launchNode(clients, layout.azs[0].nodeSubnet, { instanceType: 'm5.large' });
  const e = await create({ SubnetId: dual, Ipv6AddressCount: 2 });
  const more = await clients.ec2.send(new AssignIpv6AddressesCommand({ NetworkInterfaceId: e.NetworkInterfaceId, Ipv6PrefixCount: 3 }));
  expect(more.AssignedIpv6Addresses ?? []).toEqual([]);
  expect(more.AssignedIpv6Prefixes).toHaveLength(3);
  await clients.ec2.send(new AttachNetworkInterfaceCommand({ NetworkInterfaceId: e.NetworkInterfaceId, InstanceId: node, DeviceIndex: 1 }));

  await expect(clients.ec2.send(new AssignIpv6AddressesCommand({ NetworkInterfaceId: e.NetworkInterfaceId, Ipv6AddressCount: 6 }))).rejects.toMatchObject({ name: 'PrivateIpAddressLimitExceeded' });
  const fits = await clients.ec2.send(new AssignIpv6AddressesCommand({ NetworkInterfaceId: e.NetworkInterfaceId, Ipv6AddressCount: 5 }));
  expect(fits.AssignedIpv6Addresses).toHaveLength(5);
  const described = (await describeAll()).find((d) => d.NetworkInterfaceId === e.NetworkInterfaceId)!;
  expect([addresses(described).length, prefixes(described).length]).toEqual([7, 3]);
});

test('attach refuses an ENI whose IPv6 the instance cannot take: a type without IPv6 (m3.medium), an IPv6-only ENI on a type not built on Nitro (m4.large), more than the slots', async () => {
  const old = await launchNode(clients, layout.azs[0].nodeSubnet, { instanceType: 'm3.medium' });
  const xen = await launchNode(clients, layout.azs[0].nodeSubnet, { instanceType: 'm4.large' });
  const small = await launchNode(clients, layout.azs[0].nodeSubnet, { instanceType: 't3.small' });
  const withIpv6 = await create({ SubnetId: dual, Ipv6AddressCount: 1 });
  const ipv6Only = await create({ SubnetId: v6 });
  const many = await create({ SubnetId: dual, Ipv6AddressCount: 5 });
  const attach = (eni: NetworkInterface, instanceId: string) => clients.ec2.send(new AttachNetworkInterfaceCommand({ NetworkInterfaceId: eni.NetworkInterfaceId, InstanceId: instanceId, DeviceIndex: 1 }));

  await expect(attach(withIpv6, old)).rejects.toMatchObject({ name: 'InvalidParameterValue', message: expect.stringContaining('does not support IPv6') });
  await expect(attach(ipv6Only, xen)).rejects.toMatchObject({ name: 'InvalidParameterValue', message: expect.stringContaining('Nitro') });
  await expect(attach(many, small)).rejects.toMatchObject({ name: 'PrivateIpAddressLimitExceeded' });
  await expect(attach(withIpv6, xen)).resolves.toMatchObject({ AttachmentId: expect.any(String) });
});

test('paged listings carry the IPv6 of every ENI; a deleted ENI\'s addresses and prefixes are free again', async () => {
  const made = [];
  for (let i = 0; i < 7; i++) made.push(await create({ SubnetId: i % 2 === 0 ? dual : v6, ...(i % 3 === 0 ? { Ipv6PrefixCount: 1 } : { Ipv6AddressCount: 1 }) }));

  const paged = await describeAll({ MaxResults: 5 });
  expect(new Map(paged.map((e) => [e.NetworkInterfaceId, [addresses(e), prefixes(e)]]))).toEqual(new Map(made.map((e) => [e.NetworkInterfaceId, [addresses(e), prefixes(e)]])));

  const first = made[0];
  await clients.ec2.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: first.NetworkInterfaceId }));
  const again = await create({ SubnetId: dual, Ipv6PrefixCount: 1 });
  expect(prefixes(again)).toEqual(prefixes(first));
});
