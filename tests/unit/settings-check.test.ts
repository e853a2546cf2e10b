/**
 * The settings check against a fake EC2 port (pure, no emulator): each problem is one line that
 * names its full SSM parameter and the cause; a clean tree has none.
 */
import { assertNodeSettings, checkNode, checkSettings, checkSettingsTree, isSettingsProblem, parseSettings } from 'multus-core';
import { eni, FakeEc2 } from '../support/fake-ec2';

const PATH = '/eks-multus-eni/test';
const VPC = 'vpc-11111111';
const A1 = 'subnet-0000000000000000a';
const A2 = 'subnet-0000000000000000b';
const B1 = 'subnet-0000000000000000c';
const OTHER_VPC_SUBNET = 'subnet-0000000000000000d';
const SMALL = 'subnet-0000000000000000e';
const SG = 'sg-0000000000000000a';
const SG_OTHER_VPC = 'sg-0000000000000000b';

function world() {
  return new FakeEc2({
    subnets: [
      { subnetId: A1, vpcId: VPC, availabilityZone: 'us-east-1a', cidrBlock: '10.0.1.0/24', availableIpAddressCount: 251 },
      { subnetId: A2, vpcId: VPC, availabilityZone: 'us-east-1a', cidrBlock: '10.0.2.0/24', availableIpAddressCount: 251 },
      { subnetId: B1, vpcId: VPC, availabilityZone: 'us-east-1b', cidrBlock: '10.0.3.0/24', availableIpAddressCount: 251 },
      { subnetId: OTHER_VPC_SUBNET, vpcId: 'vpc-22222222', availabilityZone: 'us-east-1b', cidrBlock: '10.1.0.0/24', availableIpAddressCount: 251 },
      { subnetId: SMALL, vpcId: VPC, availabilityZone: 'us-east-1b', cidrBlock: '10.0.4.0/28', availableIpAddressCount: 11 },
    ],
    securityGroups: [
      { groupId: SG, vpcId: VPC },
      { groupId: SG_OTHER_VPC, vpcId: 'vpc-22222222' },
    ],
    limits: { 'm5.xlarge': 4, 't2.micro': 2, 't3.nano': 2, 'm4.large': { maxNetworkInterfaces: 2, ipv4AddressesPerInterface: 10, prefixDelegation: false, hypervisor: 'xen' }, 'm5.large': { maxNetworkInterfaces: 3, ipv4AddressesPerInterface: 10 } },
  });
}

const clean = { 'subnets/us-east-1a': `${A1},${A2}`, 'subnets/us-east-1b': B1, 'security-groups': SG };

test('a clean tree: no problem; the report names the VPC and every subnet with its free addresses', async () => {
  const report = await checkSettingsTree(world(), clean, PATH, { azs: ['us-east-1a', 'us-east-1b'], instanceTypes: ['m5.xlarge'] });
  expect(report.problems).toEqual([]);
  expect(report.vpcId).toBe(VPC);
  expect(report.subnets).toEqual([
    expect.objectContaining({ parameter: `${PATH}/subnets/us-east-1a`, subnetId: A1, deviceIndex: 1, freeAddresses: 251 }),
    expect.objectContaining({ parameter: `${PATH}/subnets/us-east-1a`, subnetId: A2, deviceIndex: 2, freeAddresses: 251 }),
    expect.objectContaining({ parameter: `${PATH}/subnets/us-east-1b`, subnetId: B1, deviceIndex: 1 }),
  ]);
  expect(report.instanceTypes).toEqual({ 'm5.xlarge': 4 });
});

test('security-groups = primary-interface: no group is looked up (each node has its own); the report says which groups apply', async () => {
  const ec2 = world();
  let described = 0;
  ec2.describeSecurityGroups = async () => {
    described++;
    return [];
  };

  const report = await checkSettingsTree(ec2, { ...clean, 'security-groups': 'primary-interface' }, PATH);

  expect(report.problems).toEqual([]);
  expect(report.securityGroups).toBe('primary-interface');
  expect(described).toBe(0);
  expect((await checkSettingsTree(world(), clean, PATH)).securityGroups).toEqual([SG]);
  expect((await checkSettingsTree(world(), { 'subnets/us-east-1a': A1 }, PATH)).securityGroups).toBeUndefined();
});

test('a subnet that does not exist, one of another AZ, one of another VPC: one line each, naming the parameter', async () => {
  const report = await checkSettingsTree(
    world(),
    { 'subnets/us-east-1a': `${A1},subnet-0123456789abcdef0,${B1}`, 'subnets/us-east-1b': OTHER_VPC_SUBNET },
    PATH,
  );
  expect(report.problems).toEqual([
    `${PATH}/subnets/us-east-1a: subnet subnet-0123456789abcdef0 does not exist`,
    `${PATH}/subnets/us-east-1a: subnet ${B1} is in us-east-1b, not us-east-1a`,
    `${PATH}/subnets/us-east-1b: subnet ${OTHER_VPC_SUBNET} is in vpc-22222222, but the other multus subnets are in ${VPC}`,
  ]);
});

test('security groups: missing, or in another VPC than the subnets', async () => {
  const report = await checkSettingsTree(world(), { ...clean, 'security-groups': `${SG},${SG_OTHER_VPC},sg-0123456789abcdef0` }, PATH);
  expect(report.problems).toEqual([
    `${PATH}/security-groups: security group ${SG_OTHER_VPC} is in vpc-22222222, not in ${VPC} (the VPC of the multus subnets)`,
    `${PATH}/security-groups: security group sg-0123456789abcdef0 does not exist`,
  ]);
});

describe('free addresses', () => {
  test('a /28 whose 11 usable addresses are held by ENI addresses and a prefix is full', async () => {
    const ec2 = world();
    // 10.0.4.4..10.0.4.14 are usable; a /30 prefix takes 4..7, single addresses take 8..14.
    ec2.interfaces = [
      eni('eni-1', SMALL, { addresses: ['10.0.4.8', '10.0.4.9', '10.0.4.10', '10.0.4.11'], prefixes: ['10.0.4.4/30'] }),
      eni('eni-2', SMALL, { addresses: ['10.0.4.12', '10.0.4.13', '10.0.4.14'] }),
    ];
    const report = await checkSettingsTree(ec2, { 'subnets/us-east-1b': SMALL }, PATH);
    expect(report.problems).toEqual([`${PATH}/subnets/us-east-1b: subnet ${SMALL} (10.0.4.0/28) has 0 free IPv4 addresses, fewer than 1`]);
  });

  test('a subnet CIDR reservation counts as used; --min-free raises the bar', async () => {
    const ec2 = new FakeEc2({
      subnets: [{ subnetId: SMALL, vpcId: VPC, availabilityZone: 'us-east-1b', cidrBlock: '10.0.4.0/28', availableIpAddressCount: 11 }],
      reservations: { [SMALL]: ['10.0.4.0/29'] },
    });
    const ok = await checkSettingsTree(ec2, { 'subnets/us-east-1b': SMALL }, PATH);
    expect(ok.problems).toEqual([]);
    expect(ok.subnets[0].freeAddresses).toBe(7); // 8..14
    const strict = await checkSettingsTree(ec2, { 'subnets/us-east-1b': SMALL }, PATH, { minFreeAddresses: 8 });
    expect(strict.problems).toEqual([`${PATH}/subnets/us-east-1b: subnet ${SMALL} (10.0.4.0/28) has 7 free IPv4 addresses, fewer than 8`]);
  });
});

test('--az: an AZ without a parameter is a problem naming the parameter to create', async () => {
  const report = await checkSettingsTree(world(), clean, PATH, { azs: ['us-east-1a', 'us-east-1c'] });
  expect(report.problems).toEqual([`${PATH}/subnets/us-east-1c: no such parameter; nodes in us-east-1c would get no multus interface`]);
});

test('--instance-type: every AZ list that does not fit, and an unknown type, are problems', async () => {
  const report = await checkSettingsTree(world(), clean, PATH, { instanceTypes: ['t2.micro', 'm5.xlarge', 'x9.huge'] });
  expect(report.problems).toEqual([
    `${PATH}/subnets/us-east-1a: lists 2 subnets, but instance type t2.micro allows 2 network interfaces (1 primary + 1 multus)`,
    expect.stringMatching(/^--instance-type x9\.huge: its network interface limit is unknown \(InvalidInstanceType: /),
  ]);
});

test('a malformed parameter is reported beside the EC2 problems of the parameters that parsed', async () => {
  const report = await checkSettingsTree(
    world(),
    { 'subnets/us-east-1a': `${A1},${B1}`, 'subnets/us-east-1b': 'subnet-nothex', 'on-failure': 'RETRY', 'sorce-dest-check': 'true' },
    PATH,
  );
  expect(report.problems).toEqual([
    `${PATH}/sorce-dest-check: is not a setting of eks-multus-eni (check the spelling)`,
    `${PATH}/subnets/us-east-1b: "subnet-nothex" is not a subnet id`,
    `${PATH}/on-failure: must be "ABANDON" or "CONTINUE", not "RETRY"`,
    `${PATH}/subnets/us-east-1a: subnet ${B1} is in us-east-1b, not us-east-1a`,
  ]);
});

test('only malformed subnets parameters: no extra "no such parameter" line', async () => {
  const report = await checkSettingsTree(world(), { 'subnets/us-east-1a': 'subnet-nothex', 'on-failure': 'CONTINUE' }, PATH);
  expect(report.problems).toEqual([`${PATH}/subnets/us-east-1a: "subnet-nothex" is not a subnet id`]);
});

test('no parameter at all, or no subnets parameter', async () => {
  expect((await checkSettingsTree(world(), {}, PATH)).problems).toEqual([
    `no parameter found under ${PATH} (CONFIG_PATH): create at least subnets/<availability-zone>`,
  ]);
  expect((await checkSettingsTree(world(), { 'on-failure': 'CONTINUE' }, PATH)).problems).toEqual([
    `${PATH}/subnets/<availability-zone>: no such parameter; no node would get a multus interface`,
  ]);
});

describe('checkNode: the per-node validation of the launch handler', () => {
  const node = { availabilityZone: 'us-east-1a', vpcId: VPC, instanceType: 'm5.xlarge' };

  test('a node whose subnets and groups are fine: no problem, the subnets by id', async () => {
    const settings = parseSettings(clean, PATH);
    const result = await checkNode(world(), node, [A1, A2], settings, PATH);
    expect(result.problems).toEqual([]);
    expect([...result.subnets.keys()].sort()).toEqual([A1, A2]);
  });

  test("the messages the launch handler reports: missing, wrong AZ, not the node's VPC, limit (groups are left to CreateNetworkInterface)", async () => {
    const settings = parseSettings({ ...clean, 'security-groups': `${SG_OTHER_VPC},sg-0123456789abcdef0` }, PATH);
    const subnets = ['subnet-0123456789abcdef0', B1, A1];
    const result = await checkNode(world(), { availabilityZone: 'us-east-1a', vpcId: 'vpc-22222222', instanceType: 't2.micro' }, subnets, settings, PATH);
    expect(result.problems).toEqual([
      `${PATH}/subnets/us-east-1a: subnet subnet-0123456789abcdef0 does not exist`,
      `${PATH}/subnets/us-east-1a: subnet ${B1} is in us-east-1b, not us-east-1a`,
      `${PATH}/subnets/us-east-1a: subnet ${A1} is in ${VPC}, not in the node's VPC vpc-22222222`,
      `${PATH}/subnets/us-east-1a: lists 3 subnets, but instance type t2.micro allows 2 network interfaces (1 primary + 1 multus)`,
    ]);
  });

  test('assertNodeSettings throws a NodeConfigurationError listing the problems', async () => {
    const settings = parseSettings(clean, PATH);
    await expect(assertNodeSettings(world(), { ...node, instanceType: 't2.micro' }, [A1, A2], settings, PATH)).rejects.toMatchObject({
      name: 'NodeConfigurationError',
      message: expect.stringContaining('instance type t2.micro allows 2 network interfaces'),
    });
    await expect(assertNodeSettings(world(), node, [A1, A2], settings, PATH)).resolves.toMatchObject({ subnets: expect.any(Map) });
  });
});

describe('ipv4-prefixes-per-interface', () => {
  test('the tree check: free aligned /28 blocks per subnet, Nitro and the per-interface slots per instance type', async () => {
    const report = await checkSettingsTree(world(), { 'subnets/us-east-1b': SMALL, 'ipv4-prefixes-per-interface': '10' }, PATH, {
      instanceTypes: ['m4.large', 'm5.large', 'm5.xlarge'],
    });
    expect(report.problems).toEqual([
      `${PATH}/subnets/us-east-1b: subnet ${SMALL} (10.0.4.0/28) has 0 free aligned /28 blocks, fewer than the 10 ${PATH}/ipv4-prefixes-per-interface asks for each ENI`,
      `${PATH}/ipv4-prefixes-per-interface: is 10, but instance type m4.large (hypervisor xen) is neither Nitro nor bare metal: it takes no IPv4 prefixes`,
      `${PATH}/ipv4-prefixes-per-interface: is 10, but instance type m5.large takes 10 IPv4 addresses per interface: at most 9 prefixes beside the primary address`,
    ]);
    expect(report.subnets[0]).toMatchObject({ subnetId: SMALL, freePrefixBlocks: 0 });
  });

  test('free blocks count those in prefix reservations, not those in explicit ones', async () => {
    const fake = new FakeEc2({
      subnets: [{ subnetId: A1, vpcId: VPC, availabilityZone: 'us-east-1a', cidrBlock: '10.0.1.0/26', availableIpAddressCount: 59 }],
      reservations: { [A1]: ['10.0.1.16/28', 'prefix:10.0.1.32/28'] },
    });
    const report = await checkSettingsTree(fake, { 'subnets/us-east-1a': A1, 'ipv4-prefixes-per-interface': '2' }, PATH);
    expect(report.subnets[0]).toMatchObject({ freePrefixBlocks: 1 });
    expect(report.problems).toEqual([expect.stringContaining('has 1 free aligned /28 block, fewer than the 2')]);
  });

  test('the per-node check names the setting and the type', async () => {
    const settings = parseSettings({ ...clean, 'ipv4-prefixes-per-interface': '1' }, PATH);
    const result = await checkNode(world(), { availabilityZone: 'us-east-1a', vpcId: VPC, instanceType: 'm4.large' }, [A1], settings, PATH);
    expect(result.problems).toEqual([`${PATH}/ipv4-prefixes-per-interface: is 1, but instance type m4.large (hypervisor xen) is neither Nitro nor bare metal: it takes no IPv4 prefixes`]);
  });
});

describe('the edges of the tree check', () => {
  test('prefixes up to the per-interface slots are fine; the hypervisor is named when known', async () => {
    const types = { 'm5.large': { maxNetworkInterfaces: 3, ipv4AddressesPerInterface: 10 }, 'x1.metal': { prefixDelegation: false, hypervisor: undefined } };
    const ec2 = new FakeEc2({ subnets: [{ subnetId: A1, vpcId: VPC, availabilityZone: 'us-east-1a', cidrBlock: '10.0.1.0/24', availableIpAddressCount: 251 }], limits: types });
    const fine = await checkSettingsTree(ec2, { 'ipv4-prefixes-per-interface': '9', 'subnets/us-east-1a': A1 }, PATH, { instanceTypes: ['m5.large'] });
    expect(fine.problems.filter((p) => p.includes('ipv4-prefixes'))).toEqual([]);
    const metal = await checkSettingsTree(ec2, { 'ipv4-prefixes-per-interface': '1', 'subnets/us-east-1a': A1 }, PATH, { instanceTypes: ['x1.metal'] });
    expect(metal.problems).toContain(`${PATH}/ipv4-prefixes-per-interface: is 1, but instance type x1.metal (hypervisor unknown) is neither Nitro nor bare metal: it takes no IPv4 prefixes`);
  });

  test('the reference VPC is the one most subnets are in; a tie goes to the first seen', async () => {
    const ec2 = new FakeEc2({
      subnets: [
        { subnetId: A1, vpcId: 'vpc-b', availabilityZone: 'us-east-1a', cidrBlock: '10.0.1.0/24', availableIpAddressCount: 251 },
        { subnetId: A2, vpcId: 'vpc-a', availabilityZone: 'us-east-1a', cidrBlock: '10.0.2.0/24', availableIpAddressCount: 251 },
        { subnetId: B1, vpcId: 'vpc-a', availabilityZone: 'us-east-1b', cidrBlock: '10.0.3.0/24', availableIpAddressCount: 251 },
      ],
    });
    expect((await checkSettingsTree(ec2, { 'subnets/us-east-1a': `${A1},${A2}`, 'subnets/us-east-1b': B1 }, PATH)).vpcId).toBe('vpc-a');
    expect((await checkSettingsTree(ec2, { 'subnets/us-east-1a': `${A1},${A2}` }, PATH)).vpcId).toBe('vpc-b');
  });

  test('a security group EC2 reports without a VPC is not said to be in another one', async () => {
    const ec2 = world();
    const groups = ec2.describeSecurityGroups.bind(ec2);
    ec2.describeSecurityGroups = async (ids) => (await groups(ids)).map((g) => ({ ...g, vpcId: undefined }));
    expect((await checkSettingsTree(ec2, { ...clean, 'security-groups': SG_OTHER_VPC }, PATH)).problems).toEqual([]);
  });

  test('AZs are reported in order, device indexes counted from 1 even for a missing subnet; nothing is described for nothing', async () => {
    const ec2 = world();
    const report = await checkSettingsTree(ec2, { 'subnets/us-east-1b': `subnet-0123456789abcdef0,${B1}`, 'subnets/us-east-1a': A1 }, PATH);
    expect(report.subnets.map((s) => `${s.parameter.slice(PATH.length)} ${s.deviceIndex} ${s.subnetId}`)).toEqual([
      `/subnets/us-east-1a 1 ${A1}`,
      '/subnets/us-east-1b 1 subnet-0123456789abcdef0',
      `/subnets/us-east-1b 2 ${B1}`,
    ]);
    const none = new FakeEc2();
    none.describeSubnets = async () => {
      throw new Error('must not be called');
    };
    none.describeInterfacesInSubnets = none.describeSubnets as never;
    expect((await checkSettingsTree(none, { 'on-failure': 'CONTINUE' }, PATH)).problems).toHaveLength(1);
  });

  test('exactly the minimum free is enough; one free address is named in the singular', async () => {
    const ec2 = new FakeEc2({
      subnets: [{ subnetId: SMALL, vpcId: VPC, availabilityZone: 'us-east-1b', cidrBlock: '10.0.4.0/28', availableIpAddressCount: 11 }],
      interfaces: [eni('eni-1', SMALL, { addresses: Array.from({ length: 10 }, (_, i) => `10.0.4.${i + 4}`) })],
    });
    expect((await checkSettingsTree(ec2, { 'subnets/us-east-1b': SMALL }, PATH)).problems).toEqual([]);
    expect((await checkSettingsTree(ec2, { 'subnets/us-east-1b': SMALL }, PATH, { minFreeAddresses: 2 })).problems).toEqual([
      `${PATH}/subnets/us-east-1b: subnet ${SMALL} (10.0.4.0/28) has 1 free IPv4 address, fewer than 2`,
    ]);
  });

  test('blocks: exactly enough is fine, no count without prefixes; a CIDR EC2 reports that cannot be read is a problem', async () => {
    const ec2 = new FakeEc2({
      subnets: [
        { subnetId: A1, vpcId: VPC, availabilityZone: 'us-east-1a', cidrBlock: '10.0.1.0/26', availableIpAddressCount: 59 },
        { subnetId: A2, vpcId: VPC, availabilityZone: 'us-east-1a', cidrBlock: 'bogus', availableIpAddressCount: 0 },
      ],
    });
    const two = await checkSettingsTree(ec2, { 'subnets/us-east-1a': A1, 'ipv4-prefixes-per-interface': '2' }, PATH);
    expect(two.problems).toEqual([]);
    expect(two.subnets[0]).toMatchObject({ freePrefixBlocks: 2 });
    const none = await checkSettingsTree(ec2, { 'subnets/us-east-1a': A1 }, PATH);
    expect(none.subnets[0]).not.toHaveProperty('freePrefixBlocks');
    const bad = await checkSettingsTree(ec2, { 'subnets/us-east-1a': A2 }, PATH);
    expect(bad.problems).toEqual([`${PATH}/subnets/us-east-1a: free addresses of subnet ${A2} could not be counted: "bogus" is not an IPv4 CIDR block`]);
  });

  test('what parses is checked: nothing when nothing else is left; an error that is not about settings is thrown', async () => {
    // Only the bad parameter: nothing left to check against EC2.
    expect((await checkSettingsTree(world(), { 'subnets/us-east-1a': 'subnet-nothex' }, PATH)).problems).toEqual([`${PATH}/subnets/us-east-1a: "subnet-nothex" is not a subnet id`]);
    const throwing = new Proxy({}, { ownKeys: () => { throw new TypeError('unreadable'); } }) as Record<string, string>;
    await expect(checkSettingsTree(world(), throwing, PATH)).rejects.toThrow('unreadable');
  });

  test('assertNodeSettings joins every problem with "; "', async () => {
    const settings = parseSettings(clean, PATH);
    await expect(assertNodeSettings(world(), { availabilityZone: 'us-east-1a', vpcId: VPC, instanceType: 't2.micro' }, ['subnet-0123456789abcdef0', A1, A2], settings, PATH)).rejects.toMatchObject({
      message: `${PATH}/subnets/us-east-1a: subnet subnet-0123456789abcdef0 does not exist; ${PATH}/subnets/us-east-1a: lists 3 subnets, but instance type t2.micro allows 2 network interfaces (1 primary + 1 multus)`,
    });
  });
});

describe('checkSettings on settings given directly', () => {
  test('AZs are checked and reported in name order whatever the order of the map', async () => {
    const parsed = parseSettings(clean, PATH);
    const settings = { ...parsed, subnetsByAz: new Map([...parsed.subnetsByAz].reverse()) };
    const report = await checkSettings(world(), settings, PATH);
    expect(report.problems).toEqual([]); // subnets are there: no "no such parameter" line
    expect(report.subnets.map((s) => `${s.parameter.slice(PATH.length)} ${s.deviceIndex} ${s.subnetId}`)).toEqual([
      `/subnets/us-east-1a 1 ${A1}`,
      `/subnets/us-east-1a 2 ${A2}`,
      `/subnets/us-east-1b 1 ${B1}`,
    ]);
  });

  test('free blocks leave out explicit reservations only: prefix reservations are where EC2 takes prefixes from', async () => {
    // A /25: the aligned /28 blocks .16 to .96 are usable (six); an explicit reservation takes one,
    // a prefix-type reservation of a /27 holds two that stay free.
    const fake = new FakeEc2({
      subnets: [{ subnetId: A1, vpcId: VPC, availabilityZone: 'us-east-1a', cidrBlock: '10.0.1.0/25', availableIpAddressCount: 123 }],
      reservations: { [A1]: ['10.0.1.16/28', 'prefix:10.0.1.64/27'] },
    });
    const report = await checkSettingsTree(fake, { 'subnets/us-east-1a': A1, 'ipv4-prefixes-per-interface': '6' }, PATH);
    expect(report.subnets[0]).toMatchObject({ freeAddresses: 128 - 5 - 16 - 32, freePrefixBlocks: 5 });
    expect(report.problems).toEqual([expect.stringContaining('has 5 free aligned /28 blocks, fewer than the 6')]);
  });

  test('no subnet that exists: the check says so without scanning the subnets for addresses', async () => {
    const ec2 = world();
    ec2.scanSubnets = async (request) => {
      // A port that refuses a scan of nothing: with no subnet there is nothing to read.
      if (request.subnets.length === 0) throw Object.assign(new Error('The filter subnet-id has no values'), { name: 'InvalidParameterValue' });
      return FakeEc2.prototype.scanSubnets.call(ec2, request);
    };
    const report = await checkSettingsTree(ec2, { 'subnets/us-east-1a': 'subnet-0123456789abcdef0' }, PATH);
    expect(report.problems).toEqual([`${PATH}/subnets/us-east-1a: subnet subnet-0123456789abcdef0 does not exist`]);
    expect((await checkSettingsTree(ec2, { 'subnets/us-east-1a': A1 }, PATH)).subnets[0]).toMatchObject({ freeAddresses: 251 });
  });

  test('assertNodeSettings: the error says the settings are the cause', async () => {
    const settings = parseSettings(clean, PATH);
    const failure = await assertNodeSettings(world(), { availabilityZone: 'us-east-1a', vpcId: VPC, instanceType: 't2.micro' }, [A1, A2], settings, PATH).catch((err: unknown) => err);
    expect(failure).toMatchObject({ name: 'NodeConfigurationError', fromSettings: true });
    expect(isSettingsProblem(failure)).toBe(true);
  });
});

describe('IPv6 in the tree check (what `npm run settings -- check` reports)', () => {
  const DUAL = 'subnet-0000000000000000f';
  const V6 = 'subnet-00000000000000010';
  const ipv6World = () =>
    new FakeEc2({
      subnets: [
        { subnetId: A1, vpcId: VPC, availabilityZone: 'us-east-1a', cidrBlock: '10.0.1.0/24', availableIpAddressCount: 251 },
        { subnetId: DUAL, vpcId: VPC, availabilityZone: 'us-east-1a', cidrBlock: '10.0.5.0/24', availableIpAddressCount: 251, ipv6CidrBlocks: ['2600:1f18:4f1:ac05::/64'] },
        { subnetId: V6, vpcId: VPC, availabilityZone: 'us-east-1b', cidrBlock: '', availableIpAddressCount: undefined, ipv6CidrBlocks: ['2600:1f18:4f1:ac06::/64'], ipv6Native: true },
      ],
      limits: { 'm5.large': { maxNetworkInterfaces: 3, ipv6AddressesPerInterface: 10 }, 'm4.large': { maxNetworkInterfaces: 2, prefixDelegation: false, hypervisor: 'xen' }, 'm3.medium': { maxNetworkInterfaces: 2, prefixDelegation: false, hypervisor: 'xen', ipv6Supported: false, ipv6AddressesPerInterface: 0 } },
    });

  test('dual-stack and IPv6-only subnets with the defaults: no problem; an IPv6-only subnet is reported as such, with no IPv4 count', async () => {
    const report = await checkSettingsTree(ipv6World(), { 'subnets/us-east-1a': `${A1},${DUAL}`, 'subnets/us-east-1b': V6 }, PATH, { instanceTypes: ['m5.large'] });
    expect(report.problems).toEqual([]);
    expect(report.subnets).toEqual([
      expect.objectContaining({ subnetId: A1, cidrBlock: '10.0.1.0/24', freeAddresses: 251 }),
      expect.objectContaining({ subnetId: DUAL, cidrBlock: '10.0.5.0/24', ipv6CidrBlocks: ['2600:1f18:4f1:ac05::/64'] }),
      { parameter: `${PATH}/subnets/us-east-1b`, subnetId: V6, deviceIndex: 1, ipv6CidrBlocks: ['2600:1f18:4f1:ac06::/64'], ipv6Only: true, vpcId: VPC },
    ]);
  });

  test('IPv6 asked of a subnet without an IPv6 block, IPv4 prefixes or no IPv6 address on an IPv6-only one: one line each, naming the setting and the subnet', async () => {
    const addresses = await checkSettingsTree(ipv6World(), { 'subnets/us-east-1a': `${A1},${DUAL}`, 'ipv6-addresses-per-interface': '1', 'ipv6-prefixes-per-interface': '1' }, PATH);
    expect(addresses.problems).toEqual([
      `${PATH}/ipv6-addresses-per-interface: is 1, but subnet ${A1} (${PATH}/subnets/us-east-1a) has no IPv6 CIDR block`,
      `${PATH}/ipv6-prefixes-per-interface: is 1, but subnet ${A1} (${PATH}/subnets/us-east-1a) has no IPv6 CIDR block`,
    ]);
    const ipv6Only = await checkSettingsTree(ipv6World(), { 'subnets/us-east-1b': V6, 'ipv6-addresses-per-interface': '0', 'ipv4-prefixes-per-interface': '1' }, PATH);
    expect(ipv6Only.problems).toEqual([
      `${PATH}/ipv4-prefixes-per-interface: is 1, but subnet ${V6} (${PATH}/subnets/us-east-1b) is IPv6-only: it has no IPv4 CIDR block to delegate IPv4 prefixes from`,
      `${PATH}/ipv6-addresses-per-interface: is 0, but subnet ${V6} (${PATH}/subnets/us-east-1b) is IPv6-only: its ENIs get no IPv4 address, so each needs at least one IPv6 address`,
    ]);
  });

  test('--instance-type: an IPv6-only subnet needs Nitro and IPv6; prefixes need Nitro; addresses + prefixes must fit the IPv6 slots', async () => {
    const ipv6Only = await checkSettingsTree(ipv6World(), { 'subnets/us-east-1b': V6 }, PATH, { instanceTypes: ['m4.large', 'm3.medium'] });
    expect(ipv6Only.problems).toEqual([
      `${PATH}/subnets/us-east-1b: subnet ${V6} is IPv6-only, but instance type m4.large (hypervisor xen) is not built on the Nitro System`,
      `${PATH}/subnets/us-east-1b: subnet ${V6} is IPv6-only, but instance type m3.medium does not support IPv6`,
    ]);
    const dual = await checkSettingsTree(ipv6World(), { 'subnets/us-east-1a': DUAL, 'ipv6-addresses-per-interface': '4', 'ipv6-prefixes-per-interface': '7' }, PATH, { instanceTypes: ['m5.large', 'm4.large', 'm3.medium'] });
    expect(dual.problems).toEqual([
      `${PATH}/ipv6-prefixes-per-interface: 4 IPv6 addresses and 7 /80 prefixes per ENI take 11 of the IPv6 slots of an interface (each prefix takes one), but instance type m5.large has 10`,
      `${PATH}/ipv6-prefixes-per-interface: is 7, but instance type m4.large (hypervisor xen) is neither Nitro nor bare metal: it takes no IPv6 prefixes`,
      `${PATH}/ipv6-prefixes-per-interface: is 7, but instance type m3.medium does not support IPv6`,
    ]);
    const fits = await checkSettingsTree(ipv6World(), { 'subnets/us-east-1a': DUAL, 'ipv6-addresses-per-interface': '3', 'ipv6-prefixes-per-interface': '7' }, PATH, { instanceTypes: ['m5.large'] });
    expect(fits.problems).toEqual([]);
  });

  test('the default on a type without IPv6 (m3.medium): no address is asked, so a dual-stack subnet is no problem', async () => {
    const report = await checkSettingsTree(ipv6World(), { 'subnets/us-east-1a': DUAL }, PATH, { instanceTypes: ['m3.medium'] });
    expect(report.problems).toEqual([]);
  });
});
