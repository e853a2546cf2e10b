/**
 * `npm run settings -- check|show` as a user runs it: a separate process (tsx) against the emulator
 * through the standard AWS SDK environment. moto serves everything the check reads (subnets,
 * security groups, ENIs, CIDR reservations, instance types, SSM); the fidelity proxy only forwards,
 * except that it writes a subnet's IPv6 block state as EC2 does (moto writes a Python dict there).
 * The child runs with run() (non-blocking): the proxy lives in this jest process.
 */
import { join } from 'node:path';
import { CreateNetworkInterfaceCommand, CreateSecurityGroupCommand, CreateSubnetCommand, CreateVpcCommand } from '@aws-sdk/client-ec2';
import { resetEmulator } from '../support/context';
import { run } from '../support/run';
import { createIpv6Vpc, createVpc, putSetting, reserveCidr, worldClients, type VpcLayout } from '../support/world';

const ROOT = join(__dirname, '..', '..');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');
const PATH = '/eks-multus-eni/settings-cli';
const clients = worldClients();

function settings(args: string[]) {
  return run(TSX, [join(ROOT, 'scripts', 'settings.ts'), ...args], { cwd: ROOT, env: { ...process.env } });
}

async function subnet(vpcId: string, cidr: string, az: string): Promise<string> {
  const out = await clients.ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: cidr, AvailabilityZone: az }));
  return out.Subnet!.SubnetId!;
}

let layout: VpcLayout;

beforeEach(async () => {
  await resetEmulator();
  layout = await createVpc(clients, ['us-east-1a', 'us-east-1b']);
});

test('a clean setup: an ok summary, exit 0', async () => {
  for (const az of layout.azs) await putSetting(clients, `subnets/${az.az}`, az.multusSubnets.join(','), 'StringList', PATH);
  await putSetting(clients, 'security-groups', layout.securityGroupId, 'StringList', PATH);

  const out = await settings(['check', '--path', PATH, '--az', 'us-east-1a', '--az', 'us-east-1b', '--instance-type', 'm5.xlarge']);

  expect(out.stderr).toBe('');
  expect(out.status).toBe(0);
  expect(out.stdout).toMatch(new RegExp(`^ok: ${PATH}: 2 AZs \\(us-east-1a: 2 subnets, us-east-1b: 2 subnets\\) in ${layout.vpcId}; .*fits m5\\.xlarge \\(4 interfaces\\).*; security groups ${layout.securityGroupId}$`, 'm'));
  expect(out.stdout.trim().split('\n')).toHaveLength(1);
});

test('security-groups = primary-interface: check says so in its summary (nothing to look up), show explains it; in a list it is a problem', async () => {
  for (const az of layout.azs) await putSetting(clients, `subnets/${az.az}`, az.multusSubnets.join(','), 'StringList', PATH);
  await putSetting(clients, 'security-groups', 'primary-interface', 'StringList', PATH);

  const check = await settings(['check', '--path', PATH]);
  const show = await settings(['show', '--path', PATH, '--json']);
  await putSetting(clients, 'security-groups', `primary-interface,${layout.securityGroupId}`, 'StringList', PATH);
  const mixed = await settings(['check', '--path', PATH]);

  expect(check.status).toBe(0);
  expect(check.stdout).toMatch(/; security groups of each node's primary interface\n$/);
  expect(JSON.parse(show.stdout)).toMatchObject({
    settings: { securityGroups: 'primary-interface' },
    entries: expect.arrayContaining([{ name: `${PATH}/security-groups`, value: 'primary-interface', meaning: expect.stringContaining("security groups of its node's primary interface (device index 0)") }]),
  });
  expect(mixed.status).toBe(1);
  expect(mixed.stdout).toBe(`${PATH}/security-groups: "primary-interface" stands alone (the groups of each node's primary interface), not in a list: "primary-interface,${layout.securityGroupId}" has 2 entries\n`);
});

test('every kind of problem: one line each naming the parameter, exit 1', async () => {
  const [a, b] = layout.azs;
  // A subnet of another VPC, in the right AZ, and a security group of that VPC.
  const other = (await clients.ec2.send(new CreateVpcCommand({ CidrBlock: '10.1.0.0/16' }))).Vpc!.VpcId!;
  const otherSubnet = await subnet(other, '10.1.0.0/24', 'us-east-1a');
  const otherGroup = (await clients.ec2.send(new CreateSecurityGroupCommand({ GroupName: 'other', Description: 'other', VpcId: other }))).GroupId!;
  // A /28 whose 11 usable addresses are all held by ENIs, and a /28 covered by a CIDR reservation.
  const full = await subnet(layout.vpcId, '10.0.200.0/28', 'us-east-1b');
  for (let host = 4; host <= 14; host++) {
    await clients.ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: full, PrivateIpAddress: `10.0.200.${host}` }));
  }
  const reserved = await subnet(layout.vpcId, '10.0.201.0/28', 'us-east-1b');
  await reserveCidr(clients, reserved, '10.0.201.0/28');
  await putSetting(clients, 'subnets/us-east-1a', [a.multusSubnets[0], b.multusSubnets[0], otherSubnet].join(','), 'StringList', PATH);
  await putSetting(clients, 'subnets/us-east-1b', [b.multusSubnets[1], full, reserved].join(','), 'StringList', PATH);
  await putSetting(clients, 'security-groups', `${layout.securityGroupId},${otherGroup},sg-0123456789abcdef0`, 'StringList', PATH);
  await putSetting(clients, 'use-ips-from-start-of-subnet', 'yes', 'String', PATH);

  const out = await settings(['check', '--path', PATH, '--az', 'us-east-1a,us-east-1c', '--instance-type', 't2.micro']);

  expect(out.status).toBe(1);
  expect(out.stdout.trim().split('\n')).toEqual([
    `${PATH}/use-ips-from-start-of-subnet: must be "true" or "false", not "yes"`,
    `${PATH}/subnets/us-east-1a: subnet ${b.multusSubnets[0]} is in us-east-1b, not us-east-1a`,
    `${PATH}/subnets/us-east-1a: subnet ${otherSubnet} is in ${other}, but the other multus subnets are in ${layout.vpcId}`,
    `${PATH}/subnets/us-east-1b: subnet ${full} (10.0.200.0/28) has 0 free IPv4 addresses, fewer than 1`,
    `${PATH}/subnets/us-east-1b: subnet ${reserved} (10.0.201.0/28) has 0 free IPv4 addresses, fewer than 1`,
    `${PATH}/security-groups: security group ${otherGroup} is in ${other}, not in ${layout.vpcId} (the VPC of the multus subnets)`,
    `${PATH}/security-groups: security group sg-0123456789abcdef0 does not exist`,
    `${PATH}/subnets/us-east-1c: no such parameter; nodes in us-east-1c would get no multus interface`,
    `${PATH}/subnets/us-east-1a: lists 3 subnets, but instance type t2.micro allows 2 network interfaces (1 primary + 1 multus)`,
    `${PATH}/subnets/us-east-1b: lists 3 subnets, but instance type t2.micro allows 2 network interfaces (1 primary + 1 multus)`,
  ]);
  expect(out.stderr).toContain(`10 problems in ${PATH}`);
});

test('a subnet that does not exist, and --json for machines', async () => {
  await putSetting(clients, 'subnets/us-east-1a', `${layout.azs[0].multusSubnets[0]},subnet-0123456789abcdef0`, 'StringList', PATH);

  const out = await settings(['check', '--path', PATH, '--json']);

  expect(out.status).toBe(1);
  const report = JSON.parse(out.stdout);
  expect(report).toMatchObject({
    ok: false,
    path: PATH,
    vpcId: layout.vpcId,
    problems: [`${PATH}/subnets/us-east-1a: subnet subnet-0123456789abcdef0 does not exist`],
  });
});

test('no parameter under the path: one line naming it, exit 1', async () => {
  const out = await settings(['check', '--path', '/eks-multus-eni/nothing-here']);
  expect(out.status).toBe(1);
  expect(out.stdout.trim()).toBe('no parameter found under /eks-multus-eni/nothing-here (CONFIG_PATH): create at least subnets/<availability-zone>');
});

test('show: every parameter, its value and what it means; --json', async () => {
  const [a, b] = layout.azs;
  await putSetting(clients, 'subnets/us-east-1a', a.multusSubnets.join(','), 'StringList', PATH);
  await putSetting(clients, 'subnets/us-east-1b', b.multusSubnets[1], 'StringList', PATH);
  await putSetting(clients, 'interface-tags', 'cnf=upf,team=core', 'String', PATH);
  await putSetting(clients, 'on-failure', 'CONTINUE', 'String', PATH);

  const out = await settings(['show', '--path', PATH]);

  expect(out.status).toBe(0);
  expect(out.stdout).toContain(`${PATH}/subnets/us-east-1a = ${a.multusSubnets.join(',')}\n`);
  expect(out.stdout).toContain(`device index 1 -> ${a.multusSubnets[0]}, device index 2 -> ${a.multusSubnets[1]}`);
  expect(out.stdout).toContain(`${PATH}/subnets/us-east-1b = ${b.multusSubnets[1]}\n    nodes in us-east-1b get 1 multus interface: device index 1 -> ${b.multusSubnets[1]}`);
  expect(out.stdout).toContain(`${PATH}/interface-tags = cnf=upf,team=core\n    extra tags on every multus ENI: cnf=upf, team=core`);
  expect(out.stdout).toContain(`${PATH}/on-failure = CONTINUE\n    a node that cannot be made multus-ready continues without its multus interfaces`);
  expect(out.stdout).toContain(`${PATH}/security-groups = (absent)\n    default: every multus ENI gets its VPC's default security group`);
  expect(out.stdout).toContain(`${PATH}/source-dest-check = (absent)\n    source/destination check off on the multus ENIs`);

  const json = await settings(['show', '--path', PATH, '--json']);
  expect(json.status).toBe(0);
  expect(JSON.parse(json.stdout)).toMatchObject({
    path: PATH,
    settings: {
      subnetsByAz: { 'us-east-1a': a.multusSubnets, 'us-east-1b': [b.multusSubnets[1]] },
      securityGroups: null,
      interfaceTags: { cnf: 'upf', team: 'core' },
      onFailure: 'CONTINUE',
    },
    problems: [],
  });
});

test('show of a malformed tree: the values, the problem beside its parameter, exit 1', async () => {
  await putSetting(clients, 'subnets/us-east-1a', layout.azs[0].multusSubnets[0], 'StringList', PATH);
  await putSetting(clients, 'source-dest-check', 'maybe', 'String', PATH);

  const out = await settings(['show', '--path', PATH]);

  expect(out.status).toBe(1);
  expect(out.stdout).toContain(`${PATH}/source-dest-check = maybe\n    PROBLEM: must be "true" or "false", not "maybe"`);
  expect(out.stdout).toContain(`1 problem:\n${PATH}/source-dest-check: must be "true" or "false", not "maybe"`);
});

test('usage errors exit 2 with a usage line', async () => {
  for (const args of [[], ['check'], ['lint', '--path', PATH], ['check', '--path', PATH, '--min-free', 'many'], ['show', '--path', PATH, '--az', 'us-east-1a']]) {
    const out = await settings(args);
    expect({ args, status: out.status }).toEqual({ args, status: 2 });
    expect(out.stderr).toContain('usage: npm run settings -- check --path <CONFIG_PATH>');
    expect(out.stdout).toBe('');
  }
});

test('IPv6: check names the subnet without an IPv6 block and the type that cannot take an IPv6-only subnet; a clean dual-stack setup is ok; show lists the IPv6 settings', async () => {
  await resetEmulator();
  const v6 = await createIpv6Vpc(clients, ['us-east-1a']);
  const az = v6.azs[0];
  await putSetting(clients, 'subnets/us-east-1a', [az.dualStack, az.ipv6Only].join(','), 'StringList', PATH);

  const clean = await settings(['check', '--path', PATH, '--instance-type', 'm5.xlarge']);
  expect([clean.status, clean.stderr]).toEqual([0, '']);
  expect(clean.stdout).toMatch(/^ok: /);

  // The node subnet has no IPv6 block; m4.large (Xen) cannot take the IPv6-only subnet.
  await putSetting(clients, 'subnets/us-east-1a', [az.dualStack, az.ipv6Only, az.nodeSubnet].join(','), 'StringList', PATH);
  await putSetting(clients, 'ipv6-addresses-per-interface', '1', 'String', PATH);
  const bad = await settings(['check', '--path', PATH, '--instance-type', 'm4.large']);
  expect(bad.status).toBe(1);
  expect(bad.stdout.trim().split('\n')).toEqual([
    `${PATH}/ipv6-addresses-per-interface: is 1, but subnet ${az.nodeSubnet} (${PATH}/subnets/us-east-1a) has no IPv6 CIDR block`,
    `${PATH}/subnets/us-east-1a: lists 3 subnets, but instance type m4.large allows 2 network interfaces (1 primary + 1 multus)`,
    `${PATH}/subnets/us-east-1a: subnet ${az.ipv6Only} is IPv6-only, but instance type m4.large (hypervisor xen) is not built on the Nitro System`,
  ]);

  const show = await settings(['show', '--path', PATH]);
  expect(show.stdout).toContain(`${PATH}/ipv6-addresses-per-interface = 1`);
  expect(show.stdout).toContain(`${PATH}/ipv6-prefixes-per-interface = (absent)`);
  expect(show.stdout).toContain('IPv4 only: EC2 always picks the IPv6 addresses and prefixes');
});
