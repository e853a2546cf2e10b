/**
 * Lowest-free allocation in big subnets (a /16 holding thousands of addresses), through the
 * fidelity proxy: its bulk ENIs stand in for the thousands of ENIs (moto would take minutes), it
 * pages DescribeNetworkInterfaces as EC2 does (moto ignores MaxResults) and its address filter
 * matches secondary addresses as EC2's does; it refuses an address in use, as EC2 does.
 * Each test builds its own app (a container): cold = its first launch, warm = the next ones.
 */
import { CreateNetworkInterfaceCommand } from '@aws-sdk/client-ec2';
import { createClients, createLifecycleApp, Logger, SERVICE_NAME, type LifecycleApp } from 'multus-core';
import { countCalls, reset, type CallCounts } from '../support/call-counter';
import { cleanEmulatorEachTest, control } from '../support/context';
import { createWideVpc, eventFor, launchNode, putSettings, worldClients, type VpcLayout } from '../support/world';

const clients = worldClients();
cleanEmulatorEachTest();

const BULK = 3000;
/** The n-th free address after `bulk` bulk ENIs in the /16 10.<base>.0.0 (they take .4 onwards). */
const after = (base: number, n = 0, bulk = BULK) => `10.${base}.${Math.floor((4 + bulk + n) / 256)}.${(4 + bulk + n) % 256}`;

async function world(bulk = BULK): Promise<VpcLayout> {
  const layout = await createWideVpc(clients, 'us-east-1a', ['10.1.0.0/16', '10.2.0.0/16']);
  for (const subnet of layout.azs[0].multusSubnets) await control().bulk(subnet, bulk);
  await putSettings(clients, layout, { 'use-ips-from-start-of-subnet': 'true' });
  return layout;
}

function app(maxAgeSeconds = 60): { app: LifecycleApp; counts: CallCounts } {
  const awsClients = createClients();
  const counts = countCalls(awsClients);
  const env = { ...process.env, POWERTOOLS_PARAMETERS_MAX_AGE: String(maxAgeSeconds) };
  return { app: createLifecycleApp({ clients: awsClients, logger: new Logger({ serviceName: SERVICE_NAME, logLevel: 'SILENT' }), env }), counts };
}

async function launch(a: LifecycleApp, instanceId: string): Promise<string[]> {
  const result = await a.handle(eventFor('launch.json', instanceId));
  expect(result).toMatchObject({ outcome: 'attached' });
  return result.interfaces.map((i) => i.privateIpAddress ?? '');
}

const dniBytes = async () => (await control().stats()).bytes['ec2:DescribeNetworkInterfaces'] ?? 0;

test('cold: both /16s read whole, page by page; warm: only the node\'s own ENIs, and the next lowest addresses from the map', async () => {
  const layout = await world();
  const [first, second] = [await launchNode(clients, layout.azs[0].nodeSubnet), await launchNode(clients, layout.azs[0].nodeSubnet)];
  const { app: container, counts } = app();
  await control().resetStats();

  expect(await launch(container, first)).toEqual([after(1), after(2)]);
  // 6,000 ENIs in pages of 1,000 (one request for both subnets), about 1.4 KiB each.
  expect(counts['EC2.DescribeNetworkInterfaces']).toBe(6);
  expect(await dniBytes()).toBeGreaterThan(6000 * 1000);
  reset(counts);
  await control().resetStats();

  expect(await launch(container, second)).toEqual([after(1, 1), after(2, 1)]);
  expect(counts['EC2.DescribeNetworkInterfaces']).toBe(1);
  expect(await dniBytes()).toBeLessThan(10_000);
  expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(11);
});

test('a warm launch misses an address freed after its map was read; once the map is older than the cache age, the hole is reused', async () => {
  const layout = await world();
  const subnet = layout.azs[0].multusSubnets[0];
  const nodes = [];
  for (let i = 0; i < 3; i++) nodes.push(await launchNode(clients, layout.azs[0].nodeSubnet));
  const { app: container } = app(3);

  await launch(container, nodes[0]);
  await control().freeBulk(subnet, ['10.1.0.100']); // a terminated node's ENI, deleted
  expect((await launch(container, nodes[1]))[0]).toBe(after(1, 1));
  await new Promise((r) => setTimeout(r, 3100));
  expect((await launch(container, nodes[2]))[0]).toBe('10.1.0.100');
});

test('a lost race reads one window of candidates, not the subnet, and takes the next free address', async () => {
  const layout = await world();
  const subnet = layout.azs[0].multusSubnets[0];
  const [first, second] = [await launchNode(clients, layout.azs[0].nodeSubnet), await launchNode(clients, layout.azs[0].nodeSubnet)];
  const { app: container, counts } = app();
  await launch(container, first);
  // Another container takes the next two addresses this one's map has as free.
  for (const n of [1, 2]) await clients.ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: subnet, PrivateIpAddress: after(1, n) }));
  reset(counts);
  await control().resetStats();

  expect((await launch(container, second))[0]).toBe(after(1, 3));

  const stats = await control().stats();
  expect(stats.rejectedCreates).toBe(1);
  // The node's own ENIs, one window; and the launching nodes, once (for the rank).
  expect(counts['EC2.DescribeNetworkInterfaces']).toBe(2);
  expect(counts['EC2.DescribeInstances']).toBe(2);
  expect(await dniBytes()).toBeLessThan(20_000);
});

test('an address inside a prefix delegated since the map was read: no window shows it, so the subnet is read whole once', async () => {
  // 3,003 bulk ENIs: the first launch takes 10.1.11.191, and the map's next candidate, .192, starts a /28.
  const layout = await world(3003);
  const subnet = layout.azs[0].multusSubnets[0];
  const [first, second] = [await launchNode(clients, layout.azs[0].nodeSubnet), await launchNode(clients, layout.azs[0].nodeSubnet)];
  const { app: container, counts } = app();
  expect((await launch(container, first))[0]).toBe('10.1.11.191');
  // Another container's ENI, elsewhere in the subnet, gets that /28 as a delegated prefix.
  const { AssignPrivateIpAddressesCommand } = await import('@aws-sdk/client-ec2');
  const other = await clients.ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: subnet, PrivateIpAddress: '10.1.200.4' }));
  await clients.ec2.send(new AssignPrivateIpAddressesCommand({ NetworkInterfaceId: other.NetworkInterface!.NetworkInterfaceId, Ipv4Prefixes: ['10.1.11.192/28'] }));
  reset(counts);

  // .192 is refused; the window shows no holder; the whole read (3,005 ENIs: 4 pages) shows the prefix.
  expect(await launch(container, second)).toEqual(['10.1.11.208', after(2, 1, 3003)]);
  expect(counts['EC2.DescribeNetworkInterfaces']).toBe(1 + 1 + 4);
  expect((await control().stats()).rejectedCreates).toBe(1);
});

test('a burst of 10 concurrent cold launches in the /16s: all attached, no address twice, the lowest ones, no subnet read twice', async () => {
  const layout = await world();
  const nodes = await Promise.all(Array.from({ length: 10 }, () => launchNode(clients, layout.azs[0].nodeSubnet)));
  const containers = nodes.map(() => app());
  await control().resetStats();

  const results = await Promise.all(containers.map(({ app: a }, i) => a.handle(eventFor('launch.json', nodes[i]))));

  expect(results.map((r) => r.outcome)).toEqual(nodes.map(() => 'attached'));
  for (const [k, base] of [[0, 1], [1, 2]]) {
    const addresses = results.map((r) => r.interfaces[k].privateIpAddress);
    expect([...addresses].sort()).toEqual(Array.from({ length: 10 }, (_, n) => after(base, n)).sort());
  }
  // Each container reads the subnets whole once (6 pages, 7 once ENIs of the burst are there too);
  // each lost race costs one window, none a whole read.
  for (const { counts } of containers) {
    const lost = counts['EC2.CreateNetworkInterface'] - 2;
    expect([6, 7]).toContain(counts['EC2.DescribeNetworkInterfaces'] - lost);
  }
});
