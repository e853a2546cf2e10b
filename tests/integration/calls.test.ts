/**
 * The AWS call budget of a launch, counted with SDK middleware against the emulator: one node,
 * two multus subnets, lowest-free on, no prefixes. Warm (settings, subnets, reservations and the
 * instance-type limit from cache): 1 DescribeInstances, 1 DescribeNetworkInterfaces for both
 * subnets, 4 calls per ENI, 1 CompleteLifecycleAction: 11. Cold adds the reads the cache saves:
 * 16 in all (in a burst every launch is cold: Lambda starts one container per concurrent event).
 * The security groups are not read: CreateNetworkInterface refuses bad ones before anything exists,
 * and `primary-interface` takes the node's from the DescribeInstances the launch makes anyway.
 * With IPv6 (a dual-stack and an IPv6-only subnet): 11 warm and 15 cold (no CIDR reservations read
 * for the IPv6-only subnet) with the default one IPv6 address per ENI (the count goes with the
 * create), one AssignIpv6Addresses more per ENI with /80 prefixes beside the addresses (EC2 takes
 * one IPv6 kind per create).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { createClients, createLifecycleApp } from 'multus-core';
import { countCalls, reset, total } from '../support/call-counter';
import { resetEmulator } from '../support/context';
import { createIpv6Vpc, createVpc, eventFor, launchNode, putSetting, putSettings, worldClients, type VpcLayout } from '../support/world';

test.each([
  ['the multus group', (layout: VpcLayout) => layout.securityGroupId],
  // The groups of the node's primary interface come with the DescribeInstances the launch makes anyway.
  ['primary-interface', () => 'primary-interface'],
])('security-groups = %s: a warm launch costs 11 calls; a cold one 16', async (_what, groups) => {
  await resetEmulator();
  const world = worldClients();
  const layout = await createVpc(world, ['us-east-1a'], 2);
  await putSettings(world, layout, { 'use-ips-from-start-of-subnet': 'true' });
  await putSetting(world, 'security-groups', groups(layout), 'StringList');
  const [cold, warm] = [await launchNode(world, layout.azs[0].nodeSubnet), await launchNode(world, layout.azs[0].nodeSubnet)];
  const clients = createClients();
  const counts = countCalls(clients);
  const app = createLifecycleApp({ clients, logger: new Logger({ serviceName: 'eks-multus-eni', logLevel: 'SILENT' }) });

  expect((await app.handle(eventFor('launch.json', cold))).outcome).toBe('attached');
  expect(counts).toEqual({
    'SSM.GetParametersByPath': 1,
    'EC2.DescribeInstances': 1,
    'EC2.DescribeSubnets': 1,
    'EC2.DescribeInstanceTypes': 1,
    'EC2.DescribeNetworkInterfaces': 1,
    'EC2.GetSubnetCidrReservations': 2,
    'EC2.CreateNetworkInterface': 2,
    'EC2.AttachNetworkInterface': 2,
    'EC2.ModifyNetworkInterfaceAttribute': 4,
    'AutoScaling.CompleteLifecycleAction': 1,
  });
  expect(total(counts)).toBe(16);
  reset(counts);

  expect((await app.handle(eventFor('launch.json', warm))).outcome).toBe('attached');
  expect(counts).toEqual({
    'EC2.DescribeInstances': 1,
    'EC2.DescribeNetworkInterfaces': 1,
    'EC2.CreateNetworkInterface': 2,
    'EC2.AttachNetworkInterface': 2,
    'EC2.ModifyNetworkInterfaceAttribute': 4,
    'AutoScaling.CompleteLifecycleAction': 1,
  });
  expect(total(counts)).toBe(11);
});

/**
 * The world of a budget test, made after a reset: the layout, lowest-free and the security groups
 * set with `settings`, three nodes, and a fresh app (a cold container) whose calls are counted.
 */
async function budgetWorld(layoutMade: Promise<VpcLayout>, settings: Record<string, string> = {}) {
  const world = worldClients();
  const layout = await layoutMade;
  await putSettings(world, layout, { 'use-ips-from-start-of-subnet': 'true', ...settings });
  await putSetting(world, 'security-groups', layout.securityGroupId, 'StringList');
  const nodes = [await launchNode(world, layout.azs[0].nodeSubnet), await launchNode(world, layout.azs[0].nodeSubnet), await launchNode(world, layout.azs[0].nodeSubnet)];
  const clients = createClients();
  const counts = countCalls(clients);
  const app = createLifecycleApp({ clients, logger: new Logger({ serviceName: 'eks-multus-eni', logLevel: 'SILENT' }) });
  /** A setting overwritten and the caches dropped: the third node's launch (cold again), then the counted launch of a fourth (warm). */
  const afterSetting = async (name: string, value: string) => {
    await putSetting(world, name, value);
    app.clearCaches();
    const third = await app.handle(eventFor('launch.json', nodes[2]));
    reset(counts);
    const fourth = await app.handle(eventFor('launch.json', await launchNode(world, layout.azs[0].nodeSubnet)));
    return { third, fourth };
  };
  return { nodes, counts, app, afterSetting };
}

test('with IPv4 prefixes: lowest-free adds one AssignPrivateIpAddresses per ENI; EC2-picks none (the count goes with the create)', async () => {
  await resetEmulator();
  const { nodes, counts, app, afterSetting } = await budgetWorld(createVpc(worldClients(), ['us-east-1a'], 2), { 'ipv4-prefixes-per-interface': '1' });

  expect((await app.handle(eventFor('launch.json', nodes[0]))).outcome).toBe('attached');
  reset(counts);
  expect((await app.handle(eventFor('launch.json', nodes[1]))).outcome).toBe('attached');
  expect(counts['EC2.AssignPrivateIpAddresses']).toBe(2);
  expect(total(counts)).toBe(13);

  const { third, fourth } = await afterSetting('use-ips-from-start-of-subnet', 'false');
  expect(third.interfaces.map((i) => i.ipv4Prefixes.length)).toEqual([1, 1]);
  expect(fourth.outcome).toBe('attached');
  expect(counts['EC2.AssignPrivateIpAddresses']).toBeUndefined();
  expect(total(counts)).toBe(11);
});

test('with IPv6 on (a dual-stack and an IPv6-only subnet, lowest-free): 15 cold and 11 warm with one address per ENI; /80 prefixes add one AssignIpv6Addresses per ENI', async () => {
  await resetEmulator();
  const { nodes, counts, app, afterSetting } = await budgetWorld(createIpv6Vpc(worldClients(), ['us-east-1a']));

  const cold = await app.handle(eventFor('launch.json', nodes[0]));
  expect(cold.interfaces.map((i) => [i.privateIpAddress === null, i.ipv6Addresses.length])).toEqual([[false, 1], [true, 1]]);
  // Cold: one CIDR-reservation read, for the dual-stack subnet only (lowest-free is IPv4 only).
  expect(counts['EC2.GetSubnetCidrReservations']).toBe(1);
  expect(total(counts)).toBe(15);
  reset(counts);
  expect((await app.handle(eventFor('launch.json', nodes[1]))).outcome).toBe('attached');
  expect(total(counts)).toBe(11);

  const { third, fourth } = await afterSetting('ipv6-prefixes-per-interface', '1');
  expect(third.interfaces.map((i) => i.ipv6Prefixes.length)).toEqual([1, 1]);
  expect(fourth.outcome).toBe('attached');
  expect(counts['EC2.AssignIpv6Addresses']).toBe(2);
  expect(total(counts)).toBe(13);
});
