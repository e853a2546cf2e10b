/**
 * IPv6 on the multus ENIs: what each ENI of a subnet gets, and the problems of the settings against
 * the subnets and instance types, found before anything is created. Pure: no AWS import.
 *
 * EC2 picks every IPv6 address and /80 prefix (lowest-free is IPv4 only). What EC2 documents and
 * this relies on:
 *   - each /80 prefix counts as one IPv6 address of the interface: addresses + prefixes must fit the
 *     type's `Ipv6AddressesPerInterface` (EC2 User Guide, "Prefix delegation", considerations);
 *   - prefix delegation, and IPv6-only subnets, need instances built on the Nitro System (the same
 *     page; "Introducing IPv6-only subnets and EC2 instances", AWS Networking blog, 2021);
 *   - an ENI of an IPv6-only subnet has no IPv4 address (VPC User Guide, "Subnet IP address range").
 */
import type { InstanceTypeView, Ipv6Request, SubnetView } from '../ec2/port';
import { parameterName, SETTING_NAMES, type Settings } from './parse';

/** The subnet has an IPv4 CIDR block (not IPv6-only): IPv4 addresses, lowest-free and IPv4 prefixes apply. */
export const hasIpv4 = (subnet: SubnetView): boolean => subnet.cidrBlock !== '' && subnet.ipv6Native !== true;

/** The subnet has an associated IPv6 CIDR block. */
export const hasIpv6 = (subnet: SubnetView): boolean => (subnet.ipv6CidrBlocks?.length ?? 0) > 0;

/**
 * The IPv6 each ENI of the subnet gets: `ipv6-addresses-per-interface` addresses (by default 1 where
 * the subnet has an IPv6 CIDR block and the instance type takes IPv6, 0 elsewhere) and
 * `ipv6-prefixes-per-interface` /80 prefixes. `type` absent: the type is not known (the tree check).
 */
export function ipv6ForSubnet(settings: Settings, subnet: SubnetView, type?: InstanceTypeView): Ipv6Request {
  const byDefault = hasIpv6(subnet) && type?.ipv6Supported !== false ? 1 : 0;
  return { addresses: settings.ipv6AddressesPerInterface ?? byDefault, prefixes: settings.ipv6PrefixesPerInterface };
}

/** A configured subnet and the `subnets/<az>` parameter (full name) that lists it. */
export interface ListedSubnet {
  readonly parameter: string;
  readonly subnet: SubnetView;
}

const names = (configPath: string) => ({
  addresses: parameterName(configPath, SETTING_NAMES.ipv6AddressesPerInterface),
  prefixes: parameterName(configPath, SETTING_NAMES.ipv6PrefixesPerInterface),
  ipv4Prefixes: parameterName(configPath, SETTING_NAMES.ipv4PrefixesPerInterface),
});

/**
 * What the settings ask of each subnet that it cannot give: IPv6 on a subnet without an IPv6 CIDR
 * block, IPv4 prefixes or no address at all on an IPv6-only one. One line per problem, naming the
 * setting, the subnet and the parameter that lists it.
 */
export function ipv6SubnetProblems(configPath: string, settings: Settings, subnets: readonly ListedSubnet[]): string[] {
  const n = names(configPath);
  const explicit = settings.ipv6AddressesPerInterface;
  const prefixes = settings.ipv6PrefixesPerInterface;
  const problems: string[] = [];
  for (const { parameter, subnet } of subnets) {
    const which = `subnet ${subnet.subnetId} (${parameter})`;
    if (!hasIpv6(subnet)) {
      if (explicit !== undefined && explicit > 0) problems.push(`${n.addresses}: is ${explicit}, but ${which} has no IPv6 CIDR block`);
      if (prefixes > 0) problems.push(`${n.prefixes}: is ${prefixes}, but ${which} has no IPv6 CIDR block`);
    }
    if (!hasIpv4(subnet)) {
      if (settings.ipv4PrefixesPerInterface > 0) {
        problems.push(`${n.ipv4Prefixes}: is ${settings.ipv4PrefixesPerInterface}, but ${which} is IPv6-only: it has no IPv4 CIDR block to delegate IPv4 prefixes from`);
      }
      if (explicit === 0) problems.push(`${n.addresses}: is 0, but ${which} is IPv6-only: its ENIs get no IPv4 address, so each needs at least one IPv6 address`);
    }
  }
  return problems;
}

/**
 * What an instance type cannot take of the settings on these subnets: IPv6 at all, an ENI of an
 * IPv6-only subnet (Nitro only), IPv6 prefixes (Nitro only), or more IPv6 addresses and prefixes
 * per interface than it allows.
 */
export function ipv6TypeProblems(configPath: string, settings: Settings, subnets: readonly ListedSubnet[], instanceType: string, type: InstanceTypeView): string[] {
  const n = names(configPath);
  const problems: string[] = [];
  const nitro = type.prefixDelegation;
  for (const { parameter, subnet } of subnets) {
    if (hasIpv4(subnet) || !hasIpv6(subnet)) continue;
    if (!type.ipv6Supported) problems.push(`${parameter}: subnet ${subnet.subnetId} is IPv6-only, but instance type ${instanceType} does not support IPv6`);
    else if (!nitro) problems.push(`${parameter}: subnet ${subnet.subnetId} is IPv6-only, but instance type ${instanceType} (hypervisor ${type.hypervisor ?? 'unknown'}) is not built on the Nitro System`);
  }
  const wants = subnets.filter(({ subnet }) => hasIpv6(subnet)).map(({ subnet }) => ipv6ForSubnet(settings, subnet, type));
  const most = wants.reduce((m, w) => (w.addresses + w.prefixes > m.addresses + m.prefixes ? w : m), { addresses: 0, prefixes: 0 });
  if (most.addresses + most.prefixes === 0) return problems;
  const named = settings.ipv6PrefixesPerInterface > 0 ? n.prefixes : n.addresses;
  if (!type.ipv6Supported) {
    // The default already gives such a type no IPv6 address: only an explicit setting gets here.
    return [...problems, `${named}: is ${settings.ipv6PrefixesPerInterface > 0 ? settings.ipv6PrefixesPerInterface : most.addresses}, but instance type ${instanceType} does not support IPv6`];
  }
  if (settings.ipv6PrefixesPerInterface > 0 && !nitro) {
    problems.push(`${n.prefixes}: is ${settings.ipv6PrefixesPerInterface}, but instance type ${instanceType} (hypervisor ${type.hypervisor ?? 'unknown'}) is neither Nitro nor bare metal: it takes no IPv6 prefixes`);
  }
  const total = most.addresses + most.prefixes;
  if (total > type.ipv6AddressesPerInterface) {
    problems.push(
      `${named}: ${most.addresses} IPv6 address${most.addresses === 1 ? '' : 'es'} and ${most.prefixes} /80 prefix${most.prefixes === 1 ? '' : 'es'} per ENI take ${total} of the IPv6 slots of an interface (each prefix takes one), but instance type ${instanceType} has ${type.ipv6AddressesPerInterface}`,
    );
  }
  return problems;
}
