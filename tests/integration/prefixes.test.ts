/**
 * IPv4 prefix delegation (ipv4-prefixes-per-interface) against the emulator, through the fidelity
 * proxy: moto ignores Ipv4PrefixCount and Ipv4Prefixes and never describes a prefix, so the proxy
 * keeps the prefixes per ENI and answers as EC2 does (tests/support/fidelity-prefixes.ts: overlaps
 * and taken addresses refused, InsufficientCidrBlocks, prefixes refused beside a specific primary
 * address). What is shown: which prefixes each ENI gets in both IP modes, that concurrent launches
 * never share a prefix or put an address inside another's prefix, that an ENI found in place gets
 * the prefixes it lacks, the checks before anything is created, and redelivery creating nothing.
 */
import { CreateSubnetCidrReservationCommand, DescribeNetworkInterfacesCommand } from '@aws-sdk/client-ec2';
import { handler } from '../../functions/lifecycle/handler';
import { cleanEmulatorEachTest, control } from '../support/context';
import {
  CONFIG_PATH,
  createVpc,
  eventFor,
  launchNode,
  ourInterfaces,
  putSetting,
  putSettings,
  worldClients,
  type VpcLayout,
} from '../support/world';

const clients = worldClients();
let layout: VpcLayout;

cleanEmulatorEachTest();

const toNumber = (ip: string) => ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
function range(cidr: string): [number, number] {
  const [ip, bits] = cidr.split('/');
  const first = toNumber(ip);
  return [first, first + 2 ** (32 - Number(bits)) - 1];
}

/** Every ENI of ours with its addresses and prefixes, as EC2 (the proxy) describes them. */
async function described() {
  return (await ourInterfaces(clients)).map((e) => ({
    id: e.NetworkInterfaceId!,
    subnetId: e.SubnetId!,
    addresses: (e.PrivateIpAddresses ?? []).map((p) => p.PrivateIpAddress!),
    prefixes: (e.Ipv4Prefixes ?? []).map((p) => p.Ipv4Prefix!),
  }));
}

/** No prefix shared, none overlapping another, no ENI address inside any prefix; every prefix an aligned /28. */
function expectDisjoint(enis: Awaited<ReturnType<typeof described>>) {
  const prefixes = enis.flatMap((e) => e.prefixes.map((p) => ({ eni: e.id, p, r: range(p) })));
  for (const { p, r } of prefixes) {
    expect(p).toMatch(/\/28$/);
    expect(r[0] % 16).toBe(0);
  }
  for (let i = 0; i < prefixes.length; i++) {
    for (let j = i + 1; j < prefixes.length; j++) {
      const [a, b] = [prefixes[i].r, prefixes[j].r];
      expect({ pair: `${prefixes[i].p} ${prefixes[j].p}`, overlap: a[0] <= b[1] && b[0] <= a[1] }).toEqual({ pair: `${prefixes[i].p} ${prefixes[j].p}`, overlap: false });
    }
  }
  for (const e of enis) {
    for (const a of e.addresses) {
      const n = toNumber(a);
      const inside = prefixes.filter(({ r }) => r[0] <= n && n <= r[1]).map(({ p }) => p);
      expect({ address: a, inside }).toEqual({ address: a, inside: [] });
    }
  }
}

test('lowest-free, 2 prefixes per ENI: the primary is the lowest address, the prefixes the lowest free /28 blocks, in the result too', async () => {
  layout = await createVpc(clients, ['us-east-1a'], 2);
  await putSettings(clients, layout, { 'use-ips-from-start-of-subnet': 'true', 'ipv4-prefixes-per-interface': '2' });
  const instanceId = await launchNode(clients, layout.azs[0].nodeSubnet);

  const result = await handler(eventFor('launch.json', instanceId));

  expect(result).toMatchObject({ outcome: 'attached', lifecycleResult: 'CONTINUE' });
  // 10.0.1.0/28 holds AWS's reserved .0-.3 and the primary .4: the prefixes start at .16.
  expect(result.interfaces.map((i) => [i.privateIpAddress, i.ipv4Prefixes])).toEqual([
    ['10.0.1.4', ['10.0.1.16/28', '10.0.1.32/28']],
    ['10.0.2.4', ['10.0.2.16/28', '10.0.2.32/28']],
  ]);
  expect((await described()).map((e) => e.prefixes).sort()).toEqual([
    ['10.0.1.16/28', '10.0.1.32/28'],
    ['10.0.2.16/28', '10.0.2.32/28'],
  ]);
});

test('lowest-free: prefixes come from the subnet\'s prefix reservation first, never from an explicit one; the primary from neither', async () => {
  layout = await createVpc(clients, ['us-east-1a'], 1);
  const subnet = layout.azs[0].multusSubnets[0];
  await clients.ec2.send(new CreateSubnetCidrReservationCommand({ SubnetId: subnet, Cidr: '10.0.1.0/27', ReservationType: 'explicit' }));
  await clients.ec2.send(new CreateSubnetCidrReservationCommand({ SubnetId: subnet, Cidr: '10.0.1.128/26', ReservationType: 'prefix' }));
  await putSettings(clients, layout, { 'use-ips-from-start-of-subnet': 'true', 'ipv4-prefixes-per-interface': '1' });
  const instanceId = await launchNode(clients, layout.azs[0].nodeSubnet);

  const result = await handler(eventFor('launch.json', instanceId));

  expect(result.interfaces.map((i) => [i.privateIpAddress, i.ipv4Prefixes])).toEqual([['10.0.1.32', ['10.0.1.128/28']]]);
});

test('EC2 picks (lowest-free off): Ipv4PrefixCount with the create, no extra call; distinct prefixes', async () => {
  layout = await createVpc(clients, ['us-east-1a'], 2);
  await putSettings(clients, layout, { 'ipv4-prefixes-per-interface': '3' });
  const instanceId = await launchNode(clients, layout.azs[0].nodeSubnet);

  const result = await handler(eventFor('launch.json', instanceId));

  expect(result.outcome).toBe('attached');
  expect(result.interfaces.map((i) => i.ipv4Prefixes.length)).toEqual([3, 3]);
  expect((await control().stats()).calls['ec2:AssignPrivateIpAddresses']).toBeUndefined();
  const enis = await described();
  expect(enis.map((e) => e.prefixes.length)).toEqual([3, 3]);
  expectDisjoint(enis);
});

test('a burst of 6 concurrent launches, lowest-free, 2 prefixes per ENI: all succeed, no prefix shared, no address inside a prefix, compact', async () => {
  layout = await createVpc(clients, ['us-east-1a'], 1);
  await putSettings(clients, layout, { 'use-ips-from-start-of-subnet': 'true', 'ipv4-prefixes-per-interface': '2' });
  const nodes = await Promise.all(Array.from({ length: 6 }, () => launchNode(clients, layout.azs[0].nodeSubnet)));

  const results = await Promise.all(nodes.map((id) => handler(eventFor('launch.json', id))));

  expect(results.map((r) => `${r.outcome} ${r.reason ?? ''}`)).toEqual(nodes.map(() => 'attached '));
  const enis = await described();
  expect(enis).toHaveLength(6);
  expect(enis.every((e) => e.prefixes.length === 2)).toBe(true);
  expectDisjoint(enis);
  // Compact: the primaries are .4-.9 (in the first block, with AWS's reserved .0-.3), the 12
  // prefixes the 12 lowest blocks after it: 10.0.1.16/28 ... 10.0.1.192/28.
  expect(enis.flatMap((e) => e.addresses).sort()).toEqual(['10.0.1.4', '10.0.1.5', '10.0.1.6', '10.0.1.7', '10.0.1.8', '10.0.1.9']);
  const blocks = enis.flatMap((e) => e.prefixes).sort((a, b) => range(a)[0] - range(b)[0]);
  expect(blocks).toEqual(Array.from({ length: 12 }, (_, i) => `10.0.1.${16 * (i + 1)}/28`));
}, 60_000);

test('an ENI found in place without prefixes (the setting raised after its launch) gets them on redelivery; nothing else is created', async () => {
  layout = await createVpc(clients, ['us-east-1a'], 1);
  await putSettings(clients, layout, { 'use-ips-from-start-of-subnet': 'true' });
  const instanceId = await launchNode(clients, layout.azs[0].nodeSubnet);
  const first = await handler(eventFor('launch.json', instanceId));
  expect(first.interfaces[0].ipv4Prefixes).toEqual([]);

  await putSetting(clients, 'ipv4-prefixes-per-interface', '1');
  const { clearCaches } = await import('../../functions/lifecycle/handler');
  clearCaches();
  const again = await handler(eventFor('launch.json', instanceId));

  expect(again.interfaces).toEqual([{ ...first.interfaces[0], ipv4Prefixes: ['10.0.1.16/28'] }]);
  expect((await described()).map((e) => e.id)).toEqual([first.interfaces[0].networkInterfaceId]);
});

test('redelivery of the same event creates and assigns nothing', async () => {
  layout = await createVpc(clients, ['us-east-1a'], 2);
  await putSettings(clients, layout, { 'use-ips-from-start-of-subnet': 'true', 'ipv4-prefixes-per-interface': '1' });
  const instanceId = await launchNode(clients, layout.azs[0].nodeSubnet);
  const event = eventFor('launch.json', instanceId);
  const first = await handler(event);
  const before = (await control().stats()).calls;

  const second = await handler(event);

  const after = (await control().stats()).calls;
  expect(second.interfaces).toEqual(first.interfaces);
  expect(after['ec2:CreateNetworkInterface']).toBe(before['ec2:CreateNetworkInterface']);
  expect(after['ec2:AssignPrivateIpAddresses']).toBe(before['ec2:AssignPrivateIpAddresses']);
});

describe('checked before anything is created', () => {
  beforeEach(async () => {
    layout = await createVpc(clients, ['us-east-1a'], 1);
  });

  test('an instance type that is not Nitro (m4.large, Xen): failed, ABANDON, nothing created, naming the setting and the type', async () => {
    await putSettings(clients, layout, { 'ipv4-prefixes-per-interface': '1' });
    const instanceId = await launchNode(clients, layout.azs[0].nodeSubnet, { instanceType: 'm4.large' });

    const result = await handler(eventFor('launch.json', instanceId));

    expect(result).toMatchObject({ outcome: 'failed', lifecycleResult: 'ABANDON' });
    expect(result.reason).toContain(`${CONFIG_PATH}/ipv4-prefixes-per-interface: is 1, but instance type m4.large (hypervisor xen) is neither Nitro nor bare metal`);
    expect(await ourInterfaces(clients)).toEqual([]);
    expect((await control().stats()).calls['ec2:CreateNetworkInterface']).toBeUndefined();
  });

  test('more prefixes than the type has IPv4 slots beside the primary (m5.large: 10): failed, nothing created', async () => {
    await putSettings(clients, layout, { 'ipv4-prefixes-per-interface': '10' });
    const instanceId = await launchNode(clients, layout.azs[0].nodeSubnet, { instanceType: 'm5.large' });

    const result = await handler(eventFor('launch.json', instanceId));

    expect(result.outcome).toBe('failed');
    expect(result.reason).toContain('instance type m5.large takes 10 IPv4 addresses per interface: at most 9 prefixes beside the primary address');
    expect(await ourInterfaces(clients)).toEqual([]);
  });

  test('lowest-free: a subnet without enough free /28 blocks fails before the first create', async () => {
    // A /26 has 4 blocks: the first holds AWS's reserved addresses, the last the broadcast address.
    layout = await createVpc(clients, ['us-east-1a'], 1, 26);
    await putSettings(clients, layout, { 'use-ips-from-start-of-subnet': 'true', 'ipv4-prefixes-per-interface': '3' });
    const instanceId = await launchNode(clients, layout.azs[0].nodeSubnet);

    const result = await handler(eventFor('launch.json', instanceId));

    expect(result.outcome).toBe('failed');
    expect(result.reason).toMatch(/has 2 free aligned \/28 blocks for IPv4 prefixes, 3 needed/);
    expect((await control().stats()).calls['ec2:CreateNetworkInterface']).toBeUndefined();
  });

  test('EC2 picks: InsufficientCidrBlocks on the create is a failure with nothing left', async () => {
    layout = await createVpc(clients, ['us-east-1a'], 1, 26);
    await putSettings(clients, layout, { 'ipv4-prefixes-per-interface': '3' });
    const instanceId = await launchNode(clients, layout.azs[0].nodeSubnet);

    const result = await handler(eventFor('launch.json', instanceId));

    expect(result.outcome).toBe('failed');
    expect(result.reason).toContain('InsufficientCidrBlocks');
    expect(await ourInterfaces(clients)).toEqual([]);
  });
});

test('fidelity proxy: a specific primary address with prefixes in one create is refused, as EC2 does', async () => {
  layout = await createVpc(clients, ['us-east-1a'], 1);
  const { CreateNetworkInterfaceCommand } = await import('@aws-sdk/client-ec2');
  await expect(
    clients.ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: layout.azs[0].multusSubnets[0], PrivateIpAddress: '10.0.1.10', Ipv4PrefixCount: 1 })),
  ).rejects.toMatchObject({ name: 'InvalidParameterCombination' });
  const out = await clients.ec2.send(new DescribeNetworkInterfacesCommand({}));
  expect(out.NetworkInterfaces ?? []).toEqual([]);
});
