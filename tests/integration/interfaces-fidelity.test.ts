/**
 * The fidelity proxy's DescribeNetworkInterfaces (tests/support/fidelity-interfaces.ts), which the
 * launch's reads of big subnets and its address windows depend on: moto ignores MaxResults and its
 * address filter matches only primary addresses; EC2 pages and matches secondary addresses too.
 * Bulk ENIs stand in for the thousands of ENIs of a big subnet, which moto takes minutes to create.
 */
import { CreateNetworkInterfaceCommand, DescribeNetworkInterfacesCommand, type NetworkInterface } from '@aws-sdk/client-ec2';
import { cleanEmulatorEachTest, control } from '../support/context';
import { createVpc, createWideVpc, worldClients } from '../support/world';

const clients = worldClients();
cleanEmulatorEachTest();

async function pages(filters: { Name: string; Values: string[] }[], maxResults: number): Promise<NetworkInterface[][]> {
  const out: NetworkInterface[][] = [];
  let NextToken: string | undefined;
  do {
    const page = await clients.ec2.send(new DescribeNetworkInterfacesCommand({ Filters: filters, MaxResults: maxResults, NextToken }));
    out.push(page.NetworkInterfaces ?? []);
    NextToken = page.NextToken;
  } while (NextToken);
  return out;
}

test('MaxResults pages the answer with NextToken, as EC2 does (moto answers everything at once)', async () => {
  const layout = await createVpc(clients, ['us-east-1a'], 1);
  const subnet = layout.azs[0].multusSubnets[0];
  for (let i = 0; i < 12; i++) await clients.ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: subnet, PrivateIpAddress: `10.0.1.${10 + i}` }));

  const got = await pages([{ Name: 'subnet-id', Values: [subnet] }], 5);

  expect(got.map((p) => p.length)).toEqual([5, 5, 2]);
  expect(new Set(got.flat().map((e) => e.PrivateIpAddress)).size).toBe(12);
  await expect(clients.ec2.send(new DescribeNetworkInterfacesCommand({ MaxResults: 2 }))).rejects.toMatchObject({ name: 'InvalidParameterValue' });
});

test('addresses.private-ip-address matches a secondary address too (moto: only the primary)', async () => {
  const layout = await createVpc(clients, ['us-east-1a'], 1);
  const subnet = layout.azs[0].multusSubnets[0];
  const created = await clients.ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: subnet, PrivateIpAddress: '10.0.1.20', SecondaryPrivateIpAddressCount: 1 }));
  const secondary = created.NetworkInterface!.PrivateIpAddresses!.find((p) => !p.Primary)!.PrivateIpAddress!;

  const [found] = await pages([{ Name: 'subnet-id', Values: [subnet] }, { Name: 'addresses.private-ip-address', Values: ['10.0.1.99', secondary] }], 1000);

  expect(found.map((e) => e.NetworkInterfaceId)).toEqual([created.NetworkInterface!.NetworkInterfaceId]);
});

test('bulk ENIs: listed in pages with moto\'s, found by address, in use for a create until freed', async () => {
  const layout = await createWideVpc(clients, 'us-east-1a', ['10.1.0.0/16']);
  const subnet = layout.azs[0].multusSubnets[0];
  await clients.ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: subnet, PrivateIpAddress: '10.1.0.4' }));

  expect(await control().bulk(subnet, 2500)).toEqual({ first: '10.1.0.5', last: '10.1.9.200' });

  const got = await pages([{ Name: 'subnet-id', Values: [subnet] }], 1000);
  expect(got.map((p) => p.length)).toEqual([1000, 1000, 501]);
  const all = got.flat();
  expect(new Set(all.map((e) => e.PrivateIpAddress)).size).toBe(2501);
  expect(all[1]).toMatchObject({ SubnetId: subnet, Status: 'in-use', Attachment: expect.objectContaining({ DeviceIndex: 1 }) });
  const [byAddress] = await pages([{ Name: 'subnet-id', Values: [subnet] }, { Name: 'addresses.private-ip-address', Values: ['10.1.5.5'] }], 1000);
  expect(byAddress.map((e) => e.PrivateIpAddress)).toEqual(['10.1.5.5']);

  await expect(clients.ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: subnet, PrivateIpAddress: '10.1.5.5' }))).rejects.toMatchObject({ name: 'InvalidIPAddress.InUse' });
  await control().freeBulk(subnet, ['10.1.5.5']);
  await expect(clients.ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: subnet, PrivateIpAddress: '10.1.5.5' }))).resolves.toBeDefined();
  expect((await control().stats()).bytes['ec2:DescribeNetworkInterfaces']).toBeGreaterThan(2500 * 1000);
});
