/**
 * IPv6 on the multus ENIs of one node (ensureNode) over the in-memory EC2 port
 * (tests/support/fake-ec2.ts), which answers IPv6 as EC2 does: addresses and /80 prefixes from the
 * subnet's IPv6 block, one IPv6 kind per create, no IPv4 address in an IPv6-only subnet, nothing
 * IPv6 in a subnet without an IPv6 block. A fake port rather than the emulator: the calls each
 * setting costs, the failure of a chosen write and the ENIs left over are read exactly.
 * The same behaviour against moto behind the fidelity proxy: tests/integration/ipv6.test.ts.
 */
import { ensureNode, type SubnetView } from 'multus-core';
import { eni, type FakeEc2Data } from '../support/fake-ec2';
import { A, B, depsFor, NODE, ownedBy, PATH, VPC, world } from '../support/fake-node';

/** A dual-stack subnet (IPv4 and an IPv6 /64) and an IPv6-only one, in the node's AZ. */
const DUAL = 'subnet-0000000000000000d';
const V6 = 'subnet-0000000000000000e';
const SUBNETS: SubnetView[] = [
  { subnetId: A, vpcId: VPC, availabilityZone: 'us-east-1a', cidrBlock: '10.0.1.0/24', availableIpAddressCount: 251 },
  { subnetId: B, vpcId: VPC, availabilityZone: 'us-east-1a', cidrBlock: '10.0.2.0/24', availableIpAddressCount: 251 },
  { subnetId: DUAL, vpcId: VPC, availabilityZone: 'us-east-1a', cidrBlock: '10.0.4.0/24', availableIpAddressCount: 251, ipv6CidrBlocks: ['2600:1f18:4f1:ac04::/64'] },
  // EC2 gives an IPv6-only subnet no IPv4 count (the SDK leaves it undefined).
  { subnetId: V6, vpcId: VPC, availabilityZone: 'us-east-1a', cidrBlock: '', availableIpAddressCount: undefined, ipv6CidrBlocks: ['2600:1f18:4f1:ac05::/64'], ipv6Native: true },
];
const ipv6World = (data: FakeEc2Data = {}) => world({ subnets: SUBNETS, ...data });
const subnetsSetting = (...ids: string[]) => ({ 'subnets/us-east-1a': ids.join(',') });
const writes = (ec2: ReturnType<typeof world>) => ec2.calls.map(([method]) => method);

describe('dual-stack and IPv6-only subnets', () => {
  test('by default each ENI of a subnet with an IPv6 block gets one IPv6 address in its create, and no call more; IPv4-only subnets get none', async () => {
    const ec2 = ipv6World();

    const report = await ensureNode(depsFor(ec2, subnetsSetting(A, DUAL)), NODE);

    expect(report).toMatchObject({ outcome: 'attached', lifecycleResult: 'CONTINUE' });
    expect(report.interfaces).toEqual([
      { deviceIndex: 1, subnetId: A, networkInterfaceId: 'eni-fake0001', privateIpAddress: '10.0.1.4', ipv4Prefixes: [], ipv6Addresses: [], ipv6Prefixes: [] },
      { deviceIndex: 2, subnetId: DUAL, networkInterfaceId: 'eni-fake0002', privateIpAddress: '10.0.4.4', ipv4Prefixes: [], ipv6Addresses: ['2600:1f18:4f1:ac04::4'], ipv6Prefixes: [] },
    ]);
    expect(ec2.writes('createInterface')).toEqual([
      ['createInterface', A, undefined, undefined],
      ['createInterface', DUAL, undefined, undefined, { addresses: 1, prefixes: undefined }],
    ]);
    expect(ec2.writes('assignIpv6')).toEqual([]);
  });

  test('an IPv6-only subnet: the ENI has no IPv4 address (privateIpAddress null), EC2 picks its IPv6, and lowest-free reads no subnet for it', async () => {
    const ec2 = ipv6World();

    const report = await ensureNode(depsFor(ec2, { ...subnetsSetting(V6), 'use-ips-from-start-of-subnet': 'true' }), NODE);

    expect(report.outcome).toBe('attached');
    expect(report.interfaces).toEqual([
      { deviceIndex: 1, subnetId: V6, networkInterfaceId: 'eni-fake0001', privateIpAddress: null, ipv4Prefixes: [], ipv6Addresses: ['2600:1f18:4f1:ac05::4'], ipv6Prefixes: [] },
    ]);
    // No address of its own asked for (EC2 picks), and no subnet read: its ENIs came by tag.
    expect(ec2.writes('createInterface')).toEqual([['createInterface', V6, undefined, undefined, { addresses: 1, prefixes: undefined }]]);
  });

  test('lowest-free with a dual-stack and an IPv6-only subnet: the lowest IPv4 address in the first, EC2 picks in the second', async () => {
    const ec2 = ipv6World({ interfaces: [eni('eni-other', DUAL, { addresses: ['10.0.4.4'], ipv6Addresses: ['2600:1f18:4f1:ac04::4'] })] });

    const report = await ensureNode(depsFor(ec2, { ...subnetsSetting(DUAL, V6), 'use-ips-from-start-of-subnet': 'true' }), NODE);

    expect(report.outcome).toBe('attached');
    expect(report.interfaces.map((i) => [i.subnetId, i.privateIpAddress, i.ipv6Addresses])).toEqual([
      [DUAL, '10.0.4.5', ['2600:1f18:4f1:ac04::5']],
      [V6, null, ['2600:1f18:4f1:ac05::4']],
    ]);
    expect(ec2.writes('createInterface').map(([, subnet, address]) => [subnet, address])).toEqual([[DUAL, '10.0.4.5'], [V6, undefined]]);
  });

  test('addresses and /80 prefixes: the addresses come with the create, the prefixes with one AssignIpv6Addresses per ENI (EC2 takes one IPv6 kind per create)', async () => {
    const ec2 = ipv6World();

    const report = await ensureNode(depsFor(ec2, { ...subnetsSetting(DUAL, V6), 'ipv6-addresses-per-interface': '2', 'ipv6-prefixes-per-interface': '2' }), NODE);

    expect(report.outcome).toBe('attached');
    expect(report.interfaces.map((i) => [i.ipv6Addresses, i.ipv6Prefixes])).toEqual([
      [['2600:1f18:4f1:ac04::4', '2600:1f18:4f1:ac04::5'], ['2600:1f18:4f1:ac04:1::/80', '2600:1f18:4f1:ac04:2::/80']],
      [['2600:1f18:4f1:ac05::4', '2600:1f18:4f1:ac05::5'], ['2600:1f18:4f1:ac05:1::/80', '2600:1f18:4f1:ac05:2::/80']],
    ]);
    expect(ec2.writes('createInterface', 'assignIpv6').map(([method, id, ...rest]) => [method, id, rest.at(-1)])).toEqual([
      ['createInterface', DUAL, { addresses: 2, prefixes: undefined }],
      ['assignIpv6', 'eni-fake0001', { addresses: 0, prefixes: 2 }],
      ['createInterface', V6, { addresses: 2, prefixes: undefined }],
      ['assignIpv6', 'eni-fake0002', { addresses: 0, prefixes: 2 }],
    ]);
    // The prefixes are assigned before the attach: the ENI is complete when the node sees it.
    const order = writes(ec2).filter((m) => m === 'assignIpv6' || m === 'attachInterface');
    expect(order).toEqual(['assignIpv6', 'attachInterface', 'assignIpv6', 'attachInterface']);
  });

  test('prefixes only (ipv6-addresses-per-interface 0 on a dual-stack subnet): the prefixes come with the create, no call more', async () => {
    const ec2 = ipv6World();

    const report = await ensureNode(depsFor(ec2, { ...subnetsSetting(DUAL), 'ipv6-addresses-per-interface': '0', 'ipv6-prefixes-per-interface': '1' }), NODE);

    expect(report.interfaces.map((i) => [i.ipv6Addresses, i.ipv6Prefixes])).toEqual([[[], ['2600:1f18:4f1:ac04:1::/80']]]);
    expect(ec2.writes('createInterface')).toEqual([['createInterface', DUAL, undefined, undefined, { addresses: undefined, prefixes: 1 }]]);
    expect(ec2.writes('assignIpv6')).toEqual([]);
  });

  test('ipv6-addresses-per-interface 0 on a dual-stack subnet is sent as 0 (overriding a subnet that assigns an address on creation)', async () => {
    const ec2 = ipv6World();

    const report = await ensureNode(depsFor(ec2, { ...subnetsSetting(DUAL), 'ipv6-addresses-per-interface': '0' }), NODE);

    expect(report.interfaces[0].ipv6Addresses).toEqual([]);
    expect(ec2.writes('createInterface')).toEqual([['createInterface', DUAL, undefined, undefined, { addresses: 0, prefixes: undefined }]]);
  });

  test('IPv4 and IPv6 prefixes together on a dual-stack subnet, lowest-free: the IPv4 /28 after the create, then the /80', async () => {
    const ec2 = ipv6World();

    const report = await ensureNode(depsFor(ec2, { ...subnetsSetting(DUAL), 'use-ips-from-start-of-subnet': 'true', 'ipv4-prefixes-per-interface': '1', 'ipv6-prefixes-per-interface': '1' }), NODE);

    expect(report.interfaces).toEqual([
      { deviceIndex: 1, subnetId: DUAL, networkInterfaceId: 'eni-fake0001', privateIpAddress: '10.0.4.4', ipv4Prefixes: ['10.0.4.16/28'], ipv6Addresses: ['2600:1f18:4f1:ac04::4'], ipv6Prefixes: ['2600:1f18:4f1:ac04:1::/80'] },
    ]);
    expect(writes(ec2).filter((m) => m !== 'setDeleteOnTermination' && m !== 'setSourceDestCheck')).toEqual(['createInterface', 'assignPrefixes', 'assignIpv6', 'attachInterface']);
  });
});

describe('idempotence, adoption, rollback', () => {
  test('redelivery adds nothing: the ENIs in place with their IPv6 are reported, no write is made', async () => {
    const ec2 = ipv6World();
    const settings = { ...subnetsSetting(DUAL, V6), 'ipv6-prefixes-per-interface': '1' };
    const first = await ensureNode(depsFor(ec2, settings), NODE);
    const before = ec2.calls.length;

    const again = await ensureNode(depsFor(ec2, settings), NODE);

    expect(again.interfaces).toEqual(first.interfaces);
    expect(again.actions.map((a) => a.action)).toEqual(['in-place', 'in-place']);
    expect(ec2.calls.slice(before)).toEqual([]);
  });

  test('an ENI in place without its IPv6 (a settings change, or attached before IPv6 was on) gets what it lacks with AssignIpv6Addresses, and nothing else', async () => {
    const old = eni('eni-old', DUAL, { tags: ownedBy(NODE, 1), attachedTo: NODE, deviceIndex: 1, addresses: ['10.0.4.9'], ipv6Addresses: ['2600:1f18:4f1:ac04::9'] });
    const ec2 = ipv6World({ interfaces: [old] });

    const report = await ensureNode(depsFor(ec2, { ...subnetsSetting(DUAL), 'ipv6-addresses-per-interface': '2', 'ipv6-prefixes-per-interface': '1' }), NODE);

    expect(report.interfaces[0]).toMatchObject({ networkInterfaceId: 'eni-old', ipv6Addresses: ['2600:1f18:4f1:ac04::9', '2600:1f18:4f1:ac04::4'], ipv6Prefixes: ['2600:1f18:4f1:ac04:1::/80'] });
    expect(ec2.calls).toEqual([['assignIpv6', 'eni-old', { addresses: 1, prefixes: 1 }]]);
  });

  test('an unattached ENI of ours left by an interrupted delivery is adopted and given the IPv6 it lacks', async () => {
    const orphan = eni('eni-orphan', V6, { tags: ownedBy(NODE, 1), ipv6Addresses: ['2600:1f18:4f1:ac05::7'] });
    const ec2 = ipv6World({ interfaces: [orphan] });

    const report = await ensureNode(depsFor(ec2, { ...subnetsSetting(V6), 'ipv6-prefixes-per-interface': '1' }), NODE);

    expect(report.actions.map((a) => [a.networkInterfaceId, a.action])).toEqual([['eni-orphan', 'adopt']]);
    expect(report.interfaces[0]).toMatchObject({ privateIpAddress: null, ipv6Addresses: ['2600:1f18:4f1:ac05::7'], ipv6Prefixes: ['2600:1f18:4f1:ac05:1::/80'] });
    expect(ec2.writes('createInterface')).toEqual([]);
  });

  test('a failure on the second ENI (its /80 refused) rolls back both: nothing is left, IPv6 included', async () => {
    const ec2 = ipv6World();
    ec2.failures.set('assignIpv6:eni-fake0002', 'InsufficientCidrBlocks');

    const report = await ensureNode(depsFor(ec2, { ...subnetsSetting(DUAL, V6), 'ipv6-prefixes-per-interface': '1' }), NODE);

    expect(report).toMatchObject({ outcome: 'failed', lifecycleResult: 'ABANDON', reason: expect.stringContaining('InsufficientCidrBlocks') });
    expect(ec2.interfaces).toEqual([]);
    expect(ec2.writes('deleteInterface').map(([, id]) => id)).toEqual(['eni-fake0002', 'eni-fake0001']);
  });
});

describe('bad IPv6 settings fail before anything is created', () => {
  test.each([
    ['IPv6 addresses on a subnet without an IPv6 block', { ...subnetsSetting(A, DUAL), 'ipv6-addresses-per-interface': '1' }, `${PATH}/ipv6-addresses-per-interface: is 1, but subnet ${A} (${PATH}/subnets/us-east-1a) has no IPv6 CIDR block`],
    ['IPv6 prefixes on a subnet without an IPv6 block', { ...subnetsSetting(B), 'ipv6-prefixes-per-interface': '1' }, `${PATH}/ipv6-prefixes-per-interface: is 1, but subnet ${B} (${PATH}/subnets/us-east-1a) has no IPv6 CIDR block`],
    ['IPv4 prefixes on an IPv6-only subnet', { ...subnetsSetting(V6), 'ipv4-prefixes-per-interface': '1' }, `${PATH}/ipv4-prefixes-per-interface: is 1, but subnet ${V6} (${PATH}/subnets/us-east-1a) is IPv6-only`],
    ['no IPv6 address on an IPv6-only subnet', { ...subnetsSetting(V6), 'ipv6-addresses-per-interface': '0' }, `${PATH}/ipv6-addresses-per-interface: is 0, but subnet ${V6} (${PATH}/subnets/us-east-1a) is IPv6-only`],
    ['more IPv6 than the type has slots for', { ...subnetsSetting(DUAL), 'ipv6-addresses-per-interface': '10', 'ipv6-prefixes-per-interface': '6' }, `${PATH}/ipv6-prefixes-per-interface: 10 IPv6 addresses and 6 /80 prefixes per ENI take 16 of the IPv6 slots of an interface (each prefix takes one), but instance type m5.xlarge has 15`],
    ['a bad value', { ...subnetsSetting(DUAL), 'ipv6-addresses-per-interface': 'one' }, `${PATH}/ipv6-addresses-per-interface: must be a whole number (0 for none), not "one"`],
  ])('%s: the launch ends with on-failure, naming the setting and the subnet', async (_what, settings, problem) => {
    const ec2 = ipv6World();

    const report = await ensureNode(depsFor(ec2, { ...settings, 'on-failure': 'CONTINUE' }), NODE);

    expect(report).toMatchObject({ outcome: 'failed', lifecycleResult: 'CONTINUE' });
    expect(report.reason).toContain(problem);
    expect(ec2.calls).toEqual([]);
  });

  test.each([
    ['an IPv6-only subnet on a type that is not Nitro', { hypervisor: 'xen', prefixDelegation: false }, subnetsSetting(V6), `${PATH}/subnets/us-east-1a: subnet ${V6} is IPv6-only, but instance type m5.xlarge (hypervisor xen) is not built on the Nitro System`],
    ['an IPv6-only subnet on a type without IPv6', { ipv6Supported: false }, subnetsSetting(V6), `${PATH}/subnets/us-east-1a: subnet ${V6} is IPv6-only, but instance type m5.xlarge does not support IPv6`],
    ['IPv6 prefixes on a type that is not Nitro', { hypervisor: 'xen', prefixDelegation: false }, { ...subnetsSetting(DUAL), 'ipv6-prefixes-per-interface': '1' }, `${PATH}/ipv6-prefixes-per-interface: is 1, but instance type m5.xlarge (hypervisor xen) is neither Nitro nor bare metal: it takes no IPv6 prefixes`],
    ['an IPv6 address asked of a type without IPv6', { ipv6Supported: false }, { ...subnetsSetting(DUAL), 'ipv6-addresses-per-interface': '1' }, `${PATH}/ipv6-addresses-per-interface: is 1, but instance type m5.xlarge does not support IPv6`],
  ])('%s: a settings error before anything is created', async (_what, type, settings, problem) => {
    const ec2 = ipv6World({ limits: { 'm5.xlarge': { maxNetworkInterfaces: 4, ...type } } });

    const report = await ensureNode(depsFor(ec2, settings), NODE);

    expect(report).toMatchObject({ outcome: 'failed', errorName: 'NodeConfigurationError' });
    expect(report.reason).toContain(problem);
    expect(ec2.calls).toEqual([]);
  });

  test('the default on a type without IPv6 is no IPv6 address: a dual-stack subnet then works as an IPv4 one', async () => {
    const ec2 = ipv6World({ limits: { 'm5.xlarge': { maxNetworkInterfaces: 4, ipv6Supported: false, ipv6AddressesPerInterface: 0 } } });

    const report = await ensureNode(depsFor(ec2, subnetsSetting(DUAL)), NODE);

    expect(report.outcome).toBe('attached');
    expect(report.interfaces[0].ipv6Addresses).toEqual([]);
  });
});
