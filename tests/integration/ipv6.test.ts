/**
 * IPv6 multus addresses end to end against the emulator: the lifecycle handler on the events of
 * events/, moto behind the fidelity proxy, which answers IPv6 as EC2 does where moto does not
 * (tests/support/fidelity-ipv6.ts: addresses and /80 prefixes from the subnet's /64, one IPv6 kind
 * per request, no IPv4 address in an IPv6-only subnet, the instance type's limits). A VPC with an
 * IPv6 /56, a dual-stack multus subnet (device index 1) and an IPv6-only one (device index 2).
 * What is shown: launch, redelivery adding nothing, an ENI in place given what it lacks, rollback
 * on a failure of the second ENI leaving nothing, bad settings failing before anything is created
 * with on-failure, terminate, the sweeper and reconcile treating these ENIs as any other.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DescribeNetworkInterfacesCommand, TerminateInstancesCommand, type NetworkInterface } from '@aws-sdk/client-ec2';
import type { SweepSummary } from 'multus-core';
import { clearCaches, handler } from '../../functions/lifecycle/handler';
import { handler as sweep } from '../../functions/sweeper/handler';
import { cleanEmulatorEachTest, control } from '../support/context';
import { ipv6Cidr, ipv6ToBigInt } from '../support/ipv6-text';
import { CONFIG_PATH, createIpv6Vpc, createOrphan, EVENTS_DIR, eventFor, launchNode, ourInterfaces, putSetting, putSettings, worldClients, type Ipv6VpcLayout } from '../support/world';

const clients = worldClients();
let layout: Ipv6VpcLayout;

cleanEmulatorEachTest();
beforeEach(async () => {
  layout = await createIpv6Vpc(clients, ['us-east-1a']);
});

const az = () => layout.azs[0];
const calls = async () => (await control().stats()).calls;
const described = async (): Promise<NetworkInterface[]> => ourInterfaces(clients);
const ipv6Of = (e: NetworkInterface) => [(e.Ipv6Addresses ?? []).map((a) => a.Ipv6Address!), (e.Ipv6Prefixes ?? []).map((p) => p.Ipv6Prefix!)];
const subnetBlock = async (subnetId: string) => {
  const { DescribeSubnetsCommand } = await import('@aws-sdk/client-ec2');
  return ipv6Cidr((await clients.ec2.send(new DescribeSubnetsCommand({ SubnetIds: [subnetId] }))).Subnets![0].Ipv6CidrBlockAssociationSet![0].Ipv6CidrBlock!)!;
};

test('the defaults: each ENI gets one IPv6 address with its create; the IPv6-only one has no IPv4 address (privateIpAddress null); no call more than IPv4', async () => {
  await putSettings(clients, layout);
  const node = await launchNode(clients, az().nodeSubnet);

  const result = await handler(eventFor('launch.json', node));

  expect(result).toMatchObject({ outcome: 'attached', lifecycleResult: 'CONTINUE', completion: 'completed' });
  const [dual, only] = result.interfaces;
  expect(dual).toMatchObject({ deviceIndex: 1, subnetId: az().dualStack, privateIpAddress: expect.stringMatching(/^10\.0\.1\./), ipv4Prefixes: [], ipv6Prefixes: [] });
  expect(only).toMatchObject({ deviceIndex: 2, subnetId: az().ipv6Only, privateIpAddress: null, ipv4Prefixes: [], ipv6Prefixes: [] });
  for (const i of result.interfaces) {
    expect(i.ipv6Addresses).toHaveLength(1);
    const block = await subnetBlock(i.subnetId);
    const a = ipv6ToBigInt(i.ipv6Addresses[0]);
    expect(a >= block.first && a <= block.last).toBe(true);
  }
  // What EC2 (the proxy) describes is what the result says.
  const enis = new Map((await described()).map((e) => [e.NetworkInterfaceId!, e]));
  expect(ipv6Of(enis.get(dual.networkInterfaceId)!)).toEqual([dual.ipv6Addresses, []]);
  expect(enis.get(only.networkInterfaceId)!.PrivateIpAddress).toBeUndefined();
  expect((await calls())['ec2:AssignIpv6Addresses']).toBeUndefined();
  expect((await control().completions()).map((c) => c.result)).toEqual(['CONTINUE']);
});

test('lowest-free: the lowest IPv4 address in the dual-stack subnet, EC2 picks in the IPv6-only one', async () => {
  await putSettings(clients, layout, { 'use-ips-from-start-of-subnet': 'true' });
  const node = await launchNode(clients, az().nodeSubnet);

  const result = await handler(eventFor('launch.json', node));

  expect(result.outcome).toBe('attached');
  expect(result.interfaces.map((i) => [i.privateIpAddress, i.ipv6Addresses.length])).toEqual([['10.0.1.4', 1], [null, 1]]);
});

test('addresses and /80 prefixes: one AssignIpv6Addresses per ENI for the prefixes; redelivery creates and assigns nothing', async () => {
  await putSettings(clients, layout, { 'ipv6-addresses-per-interface': '2', 'ipv6-prefixes-per-interface': '2' });
  const node = await launchNode(clients, az().nodeSubnet);
  const event = eventFor('launch.json', node);

  const first = await handler(event);

  expect(first.outcome).toBe('attached');
  expect(first.interfaces.map((i) => [i.ipv6Addresses.length, i.ipv6Prefixes.length])).toEqual([[2, 2], [2, 2]]);
  for (const p of first.interfaces.flatMap((i) => i.ipv6Prefixes)) expect(p).toMatch(/\/80$/);
  expect((await calls())['ec2:AssignIpv6Addresses']).toBe(2);
  const before = await calls();

  const again = await handler(event);

  expect(again.interfaces).toEqual(first.interfaces);
  const after = await calls();
  expect([after['ec2:CreateNetworkInterface'], after['ec2:AssignIpv6Addresses']]).toEqual([before['ec2:CreateNetworkInterface'], before['ec2:AssignIpv6Addresses']]);
  expect((await described()).map(ipv6Of).sort()).toEqual(first.interfaces.map((i) => [i.ipv6Addresses, i.ipv6Prefixes]).sort());
});

test('an ENI in place without IPv6 prefixes (the setting raised after its launch) gets them on redelivery; nothing is created', async () => {
  await putSettings(clients, layout);
  const node = await launchNode(clients, az().nodeSubnet);
  const first = await handler(eventFor('launch.json', node));
  expect(first.interfaces.map((i) => i.ipv6Prefixes)).toEqual([[], []]);

  await putSetting(clients, 'ipv6-prefixes-per-interface', '1');
  clearCaches();
  const again = await handler(eventFor('launch.json', node));

  expect(again.interfaces.map((i) => [i.networkInterfaceId, i.ipv6Addresses, i.ipv6Prefixes.length])).toEqual(first.interfaces.map((i) => [i.networkInterfaceId, i.ipv6Addresses, 1]));
  expect((await calls())['ec2:CreateNetworkInterface']).toBe(2);
});

test('a failure on the second ENI (its /80 refused): both ENIs rolled back, nothing left, the action completed with on-failure', async () => {
  await putSettings(clients, layout, { 'ipv6-prefixes-per-interface': '1', 'ipv6-addresses-per-interface': '1' });
  await control().inject({ service: 'ec2', action: 'AssignIpv6Addresses', code: 'InsufficientCidrBlocks', skip: 1, count: 1 });
  const node = await launchNode(clients, az().nodeSubnet);

  const result = await handler(eventFor('launch.json', node));

  expect(result).toMatchObject({ outcome: 'failed', lifecycleResult: 'ABANDON', reason: expect.stringContaining('InsufficientCidrBlocks') });
  expect((await calls())['ec2:CreateNetworkInterface']).toBe(2);
  expect(await described()).toEqual([]);
  expect((await control().completions()).map((c) => c.result)).toEqual(['ABANDON']);
});

describe('bad settings fail before anything is created, with on-failure', () => {
  test.each<[string, () => Record<string, string>, () => string]>([
    ['IPv6 asked of a subnet without an IPv6 block', () => ({ 'subnets/us-east-1a': `${az().nodeSubnet},${az().dualStack}`, 'ipv6-addresses-per-interface': '1' }), () => `${CONFIG_PATH}/ipv6-addresses-per-interface: is 1, but subnet ${az().nodeSubnet} (${CONFIG_PATH}/subnets/us-east-1a) has no IPv6 CIDR block`],
    ['IPv4 prefixes on an IPv6-only subnet', () => ({ 'ipv4-prefixes-per-interface': '1' }), () => `${CONFIG_PATH}/ipv4-prefixes-per-interface: is 1, but subnet ${az().ipv6Only} (${CONFIG_PATH}/subnets/us-east-1a) is IPv6-only`],
    ['more IPv6 than m5.xlarge has slots for (15)', () => ({ 'ipv6-addresses-per-interface': '8', 'ipv6-prefixes-per-interface': '8' }), () => `${CONFIG_PATH}/ipv6-prefixes-per-interface: 8 IPv6 addresses and 8 /80 prefixes per ENI take 16 of the IPv6 slots of an interface (each prefix takes one), but instance type m5.xlarge has 15`],
  ])('%s', async (_what, settings, problem) => {
    await putSettings(clients, layout, { 'on-failure': 'CONTINUE' });
    for (const [name, value] of Object.entries(settings())) await putSetting(clients, name, value, name.startsWith('subnets/') ? 'StringList' : 'String');
    const node = await launchNode(clients, az().nodeSubnet);

    const result = await handler(eventFor('launch.json', node));

    expect(result).toMatchObject({ outcome: 'failed', lifecycleResult: 'CONTINUE' });
    expect(result.reason).toContain(problem());
    expect((await calls())['ec2:CreateNetworkInterface']).toBeUndefined();
    expect((await control().completions()).map((c) => c.result)).toEqual(['CONTINUE']);
  });

  test('an IPv6-only subnet on an instance type not built on Nitro (m4.large)', async () => {
    await putSettings(clients, layout);
    const node = await launchNode(clients, az().nodeSubnet, { instanceType: 'm4.large' });

    const result = await handler(eventFor('launch.json', node));

    expect(result).toMatchObject({ outcome: 'failed', lifecycleResult: 'ABANDON' });
    expect(result.reason).toContain(`${CONFIG_PATH}/subnets/us-east-1a: subnet ${az().ipv6Only} is IPv6-only, but instance type m4.large (hypervisor xen) is not built on the Nitro System`);
    expect(await described()).toEqual([]);
  });
});

test('terminate releases the dual-stack and IPv6-only ENIs like any other, reporting their IPv6', async () => {
  await putSettings(clients, layout, { 'ipv6-prefixes-per-interface': '1' });
  const node = await launchNode(clients, az().nodeSubnet);
  const launched = await handler(eventFor('launch.json', node));
  expect(launched.outcome).toBe('attached');

  const released = await handler(eventFor('terminate.json', node));

  expect(released).toMatchObject({ outcome: 'released', lifecycleResult: 'CONTINUE' });
  expect(released.interfaces.map((i) => [i.networkInterfaceId, i.privateIpAddress, i.ipv6Addresses, i.ipv6Prefixes]).sort()).toEqual(
    launched.interfaces.map((i) => [i.networkInterfaceId, i.privateIpAddress, i.ipv6Addresses, i.ipv6Prefixes]).sort(),
  );
  // moto ignores DeleteOnTermination (always false): the function detached and deleted them itself.
  expect(await described()).toEqual([]);
});

test('the sweeper deletes an orphan of an IPv6-only subnet whose instance is gone; reconcile attaches what is missing', async () => {
  await putSettings(clients, layout);
  const gone = await launchNode(clients, az().nodeSubnet);
  const orphan = await createOrphan(clients, az().ipv6Only, gone, 2);
  await clients.ec2.send(new TerminateInstancesCommand({ InstanceIds: [gone] }));

  const summary = (await sweep(JSON.parse(readFileSync(join(EVENTS_DIR, 'scheduled.json'), 'utf8')))) as SweepSummary;

  expect(summary.interfaces.find((i) => i.networkInterfaceId === orphan)).toMatchObject({ decision: 'delete', result: 'done' });
  const left = await clients.ec2.send(new DescribeNetworkInterfacesCommand({ Filters: [{ Name: 'subnet-id', Values: [az().ipv6Only] }] }));
  expect(left.NetworkInterfaces ?? []).toEqual([]);

  const node = await launchNode(clients, az().nodeSubnet);
  const reconcile = JSON.parse(readFileSync(join(EVENTS_DIR, 'reconcile.json'), 'utf8'));
  const result = await handler({ ...reconcile, detail: { instanceIds: [node] } });
  expect(result.reconcile?.nodes[0]).toMatchObject({ outcome: 'attached', actions: [{ action: 'create' }, { action: 'create' }] });
  expect(result.reconcile?.nodes[0].interfaces.map((i) => [i.privateIpAddress === null, i.ipv6Addresses.length])).toEqual([[false, 1], [true, 1]]);
});
