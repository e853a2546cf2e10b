/**
 * The AWS call budget of a launch, counted with SDK middleware against the emulator: one node,
 * two multus subnets, lowest-free on, no prefixes. Warm (settings, subnets, reservations and the
 * instance-type limit from cache): 1 DescribeInstances, 1 DescribeNetworkInterfaces for both
 * subnets, 4 calls per ENI, 1 CompleteLifecycleAction: 11. Cold adds the reads the cache saves:
 * 16 in all (in a burst every launch is cold: Lambda starts one container per concurrent event).
 * The security groups are not read: CreateNetworkInterface refuses bad ones before anything exists,
 * and `primary-interface` takes the node's from the DescribeInstances the launch makes anyway.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { createClients, createLifecycleApp } from 'multus-core';
import { countCalls, reset, total } from '../support/call-counter';
import { resetEmulator } from '../support/context';
import { createVpc, eventFor, launchNode, putSetting, putSettings, worldClients, type VpcLayout } from '../support/world';

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

test('with IPv4 prefixes: lowest-free adds one AssignPrivateIpAddresses per ENI; EC2-picks none (the count goes with the create)', async () => {
  await resetEmulator();
  const world = worldClients();
  const layout = await createVpc(world, ['us-east-1a'], 2);
  await putSettings(world, layout, { 'use-ips-from-start-of-subnet': 'true', 'ipv4-prefixes-per-interface': '1' });
  await putSetting(world, 'security-groups', layout.securityGroupId, 'StringList');
  const nodes = [await launchNode(world, layout.azs[0].nodeSubnet), await launchNode(world, layout.azs[0].nodeSubnet), await launchNode(world, layout.azs[0].nodeSubnet)];
  const clients = createClients();
  const counts = countCalls(clients);
  const app = createLifecycleApp({ clients, logger: new Logger({ serviceName: 'eks-multus-eni', logLevel: 'SILENT' }) });

  expect((await app.handle(eventFor('launch.json', nodes[0]))).outcome).toBe('attached');
  reset(counts);
  expect((await app.handle(eventFor('launch.json', nodes[1]))).outcome).toBe('attached');
  expect(counts['EC2.AssignPrivateIpAddresses']).toBe(2);
  expect(total(counts)).toBe(13);

  await putSetting(world, 'use-ips-from-start-of-subnet', 'false');
  app.clearCaches();
  expect((await app.handle(eventFor('launch.json', nodes[2]))).interfaces.map((i) => i.ipv4Prefixes.length)).toEqual([1, 1]);
  reset(counts);
  const fourth = await launchNode(world, layout.azs[0].nodeSubnet);
  expect((await app.handle(eventFor('launch.json', fourth))).outcome).toBe('attached');
  expect(counts['EC2.AssignPrivateIpAddresses']).toBeUndefined();
  expect(total(counts)).toBe(11);
});
