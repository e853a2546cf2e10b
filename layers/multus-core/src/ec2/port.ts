/**
 * The EC2 things the domain needs, as a small port. The adapter over @aws-sdk/client-ec2 is in
 * sdk.ts; tests use it against the emulator or replace it with fakes.
 */
import type { AddressSet, Ipv4Range } from '../ipv4';

export interface AttachmentView {
  readonly attachmentId: string;
  readonly deviceIndex: number;
  readonly deleteOnTermination: boolean | undefined;
  readonly status: string | undefined;
  readonly instanceId: string | undefined;
  /** The network card (0 unless the instance type has several); multus ENIs go on card 0. */
  readonly networkCardIndex?: number;
}

export interface InterfaceView {
  readonly networkInterfaceId: string;
  readonly subnetId: string;
  readonly availabilityZone?: string;
  readonly status: string | undefined;
  readonly privateIpAddress: string | undefined;
  /** Every IPv4 address of the ENI, primary and secondary. */
  readonly privateIpAddresses: readonly string[];
  /** Delegated IPv4 prefixes, as CIDR text. */
  readonly ipv4Prefixes: readonly string[];
  /** Its IPv6 addresses (EC2 picks them from the subnet's IPv6 CIDR block). */
  readonly ipv6Addresses: readonly string[];
  /** Delegated IPv6 prefixes (/80), as CIDR text. */
  readonly ipv6Prefixes: readonly string[];
  readonly sourceDestCheck: boolean | undefined;
  readonly attachment: AttachmentView | undefined;
  readonly tags: Readonly<Record<string, string>>;
}

export interface InstanceView {
  readonly instanceId: string;
  readonly instanceType: string;
  readonly availabilityZone: string;
  readonly vpcId: string | undefined;
  readonly state: string | undefined;
  readonly tags: Readonly<Record<string, string>>;
  /** The attached interfaces as the instance reports them (no ENI tags here). */
  readonly interfaces: readonly {
    readonly networkInterfaceId: string;
    readonly subnetId: string | undefined;
    readonly privateIpAddress: string | undefined;
    readonly sourceDestCheck: boolean | undefined;
    readonly attachment: AttachmentView;
    /** The interface's security group ids (DescribeInstances lists them per interface). */
    readonly groups?: readonly string[];
  }[];
}

export interface TaggedInstance {
  readonly instanceId: string;
  readonly availabilityZone: string;
  readonly state: string | undefined;
  readonly launchTime: Date | undefined;
  /** The subnets of the interfaces attached beyond the primary one (device index 1 and up). */
  readonly subnetIds: readonly string[];
}

/** A read of whole subnets that keeps of each ENI only what allocation needs. */
export interface SubnetScanRequest {
  /**
   * The subnets read; `block` (the IPv4 CIDR) for those whose held addresses are wanted. A subnet
   * without one (IPv6-only, where EC2 picks every address) is read for its kept and watched ENIs only.
   */
  readonly subnets: readonly { readonly subnetId: string; readonly block?: Ipv4Range }[];
  /** The tag that names an ENI's owner (our instance-id tag): needed with `keep` and `watch`. */
  readonly ownerTag?: string;
  /** The ENIs whose owner is this are kept whole (the node's own). */
  readonly keep?: string;
  /** Owners to look out for: which of them hold an ENI in each subnet. */
  readonly watch?: ReadonlySet<string>;
}

export interface SubnetScan {
  /** Per subnet, every address an ENI holds there: primary, secondary, and inside its delegated prefixes. */
  readonly held: ReadonlyMap<string, AddressSet>;
  /** The ENIs owned by `keep`, whole. */
  readonly kept: InterfaceView[];
  /** Per subnet, the owners of `watch` holding an ENI there. */
  readonly owners: ReadonlyMap<string, ReadonlySet<string>>;
  /** Pages read and bytes received. */
  readonly pages: number;
  readonly bytes: number;
}

export interface SubnetView {
  readonly subnetId: string;
  readonly vpcId: string;
  readonly availabilityZone: string;
  /** The IPv4 CIDR block; empty for an IPv6-only subnet. */
  readonly cidrBlock: string;
  readonly availableIpAddressCount: number | undefined;
  /** The IPv6 CIDR blocks associated with it (none: an IPv4-only subnet). */
  readonly ipv6CidrBlocks?: readonly string[];
  /** An IPv6-only subnet (EC2's `Ipv6Native`): its ENIs have no IPv4 address. */
  readonly ipv6Native?: boolean;
}

export interface SecurityGroupView {
  readonly groupId: string;
  readonly vpcId: string | undefined;
}

export interface CreateInterfaceRequest {
  readonly subnetId: string;
  readonly securityGroups?: readonly string[];
  readonly privateIpAddress?: string;
  /** IPv4 /28 prefixes EC2 picks and delegates with the create (not with a specific primary address). */
  readonly ipv4PrefixCount?: number;
  /**
   * IPv6 addresses EC2 picks from the subnet's IPv6 CIDR block (0 overrides the subnet's
   * auto-assign). EC2 takes one IPv6 kind per create: this or `ipv6PrefixCount`, never both.
   */
  readonly ipv6AddressCount?: number;
  /** IPv6 /80 prefixes EC2 picks and delegates with the create. */
  readonly ipv6PrefixCount?: number;
  readonly description: string;
  readonly tags: Readonly<Record<string, string>>;
}

/** A subnet CIDR reservation: `prefix` ones are where EC2 takes delegated prefixes from; `explicit` ones are left alone. */
export interface CidrReservation extends Ipv4Range {
  readonly kind: 'prefix' | 'explicit';
}

/** What the checks need of an instance type. */
export interface InstanceTypeView {
  /** Network interfaces on network card 0 (where multus ENIs go). */
  readonly maxNetworkInterfaces: number;
  /** IPv4 addresses per interface: the primary, secondaries and each delegated prefix take one. */
  readonly ipv4AddressesPerInterface: number;
  /** IPv4 prefix delegation: Nitro (`Hypervisor` nitro) or bare metal. */
  readonly prefixDelegation: boolean;
  /** As EC2 reports it (`nitro`, `xen`, or undefined on bare metal). */
  readonly hypervisor: string | undefined;
  /** Whether the type takes IPv6 at all (`Ipv6Supported`). */
  readonly ipv6Supported: boolean;
  /** IPv6 addresses per interface: each address and each delegated /80 prefix takes one. */
  readonly ipv6AddressesPerInterface: number;
}

/** IPv6 to give an ENI: this many more addresses and /80 prefixes, EC2 picking them. */
export interface Ipv6Request {
  readonly addresses: number;
  readonly prefixes: number;
}

/** Prefixes to delegate to an ENI: these (lowest-free mode), or `count` that EC2 picks. */
export type PrefixRequest = { readonly prefixes: readonly string[] } | { readonly count: number };

export interface Ec2Port {
  /** The instance, or undefined when EC2 does not know it. */
  describeInstance(instanceId: string): Promise<InstanceView | undefined>;
  /** The subnets among `subnetIds` that exist (unknown ids are simply absent). */
  describeSubnets(subnetIds: readonly string[]): Promise<SubnetView[]>;
  /** The security groups among `groupIds` that exist. */
  describeSecurityGroups(groupIds: readonly string[]): Promise<SecurityGroupView[]>;
  /** Subnet CIDR reservations (prefix and explicit) of a subnet. */
  describeCidrReservations(subnetId: string): Promise<CidrReservation[]>;
  /** Every ENI in any of the subnets (all pages). */
  describeInterfacesInSubnets(subnetIds: readonly string[]): Promise<InterfaceView[]>;
  /**
   * Every ENI of the subnets, page by page, reduced as it arrives to the addresses it holds (a bit
   * set per subnet): the subnets are never held in memory, except the ENIs `keep` owns.
   */
  scanSubnets(request: SubnetScanRequest): Promise<SubnetScan>;
  /** Every ENI carrying `tagKey=tagValue` (all pages). */
  describeInterfacesByTag(tagKey: string, tagValue: string): Promise<InterfaceView[]>;
  /** One ENI, or undefined when it no longer exists. */
  describeInterface(networkInterfaceId: string): Promise<InterfaceView | undefined>;
  /**
   * The ENIs of the subnet holding any of `addresses` as a primary or secondary address (EC2's
   * `addresses.private-ip-address` filter; no filter matches an address inside a delegated prefix).
   */
  describeInterfacesWithAddresses(subnetId: string, addresses: readonly string[]): Promise<InterfaceView[]>;
  /** Instances carrying `tagKey` (any value) in one of `states` (all pages). */
  describeTaggedInstances(tagKey: string, states: readonly string[]): Promise<TaggedInstance[]>;
  /** The instance type's interface limits and whether it takes delegated prefixes. */
  describeInstanceType(instanceType: string): Promise<InstanceTypeView>;
  createInterface(request: CreateInterfaceRequest): Promise<InterfaceView>;
  /** Delegates IPv4 prefixes to an ENI (AssignPrivateIpAddresses) and returns those assigned. */
  assignPrefixes(networkInterfaceId: string, request: PrefixRequest): Promise<string[]>;
  /**
   * Gives an ENI more IPv6 addresses and /80 prefixes (AssignIpv6Addresses with counts; one call
   * per kind, since EC2 takes one IPv6 kind per request) and returns those assigned.
   */
  assignIpv6(networkInterfaceId: string, request: Ipv6Request): Promise<{ addresses: string[]; prefixes: string[] }>;
  /** Attaches and returns the attachment id. */
  attachInterface(networkInterfaceId: string, instanceId: string, deviceIndex: number): Promise<string>;
  setDeleteOnTermination(networkInterfaceId: string, attachmentId: string, value: boolean): Promise<void>;
  setSourceDestCheck(networkInterfaceId: string, value: boolean): Promise<void>;
  detachInterface(attachmentId: string): Promise<void>;
  deleteInterface(networkInterfaceId: string): Promise<void>;
  /** Every ENI carrying the tag key `tagKey`, whatever its value (all pages). */
  describeInterfacesWithTagKey(tagKey: string): Promise<InterfaceView[]>;
  /**
   * The state name (`pending`, `running`, `shutting-down`, `terminated`, ...) of each of the
   * instances that EC2 still knows; an id EC2 does not know is absent from the map (no error).
   */
  describeInstanceStates(instanceIds: readonly string[]): Promise<Map<string, string>>;
  /** Adds or overwrites tags on an ENI. */
  tagInterface(networkInterfaceId: string, tags: Readonly<Record<string, string>>): Promise<void>;
  /** Removes tag keys from an ENI (whatever their values). */
  untagInterface(networkInterfaceId: string, tagKeys: readonly string[]): Promise<void>;
}
