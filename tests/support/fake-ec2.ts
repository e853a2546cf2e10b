/**
 * An in-memory Ec2Port for pure unit tests of the domain (settings check, sweeper, the ENI work of
 * a launch, release, terminate): subnets, security groups, CIDR reservations, ENIs, instances,
 * instance states and instance-type limits as plain data. Writes change the data the way EC2 would
 * (a create takes the requested or the lowest free address and refuses one in use, an attach
 * refuses an occupied device index or an ENI attached elsewhere, a delete refuses an ENI that is
 * not `available`, a detach can stay `detaching` for a few describes) and are recorded in order.
 * IPv6 as EC2 gives it: addresses and /80 prefixes from the subnet's IPv6 CIDR block, one IPv6
 * kind per create, none in a subnet without an IPv6 block, no IPv4 address in an IPv6-only subnet,
 * the type's IPv6 slots per interface on an attached ENI.
 * Operations a test does not set up throw, so nothing passes by accident. The address arithmetic
 * here is the proxy's plain scan, independent of the allocator under test.
 */
import type {
  CidrReservation,
  CreateInterfaceRequest,
  Ec2Port,
  InstanceTypeView,
  InstanceView,
  InterfaceView,
  Ipv6Request,
  PrefixRequest,
  SecurityGroupView,
  SubnetScan,
  SubnetScanRequest,
  SubnetView,
  TaggedInstance,
} from 'multus-core';
import { AddressSet, currentCallSignal, parseCidr, parseIpv4 } from 'multus-core';
import { abortError, stalledCall } from './call-scope';
import { cidrRange, ipToNumber, numberToIp } from './fidelity-prefixes';
import { freeIpv6Addresses, freeIpv6Prefixes, ipv6Cidr, ipv6ToBigInt } from './ipv6-text';

/** An instance the fake knows: its attached ENIs are those of `interfaces` attached to it. */
export interface FakeInstance {
  readonly instanceId: string;
  readonly availabilityZone: string;
  readonly vpcId?: string;
  readonly instanceType?: string;
  readonly state?: string;
  readonly tags?: Record<string, string>;
  readonly launchTime?: Date;
  /** The security groups of its primary interface, as DescribeInstances lists them (none when absent). */
  readonly primaryGroups?: readonly string[];
}

export interface FakeEc2Data {
  subnets?: SubnetView[];
  securityGroups?: SecurityGroupView[];
  /** CIDR reservations per subnet: explicit ones as `a.b.c.d/n`, prefix ones as `prefix:a.b.c.d/n`. */
  reservations?: Record<string, string[]>;
  interfaces?: InterfaceView[];
  instanceStates?: Record<string, string>;
  /** Network interfaces per instance type (Nitro, 15 IPv4 and 15 IPv6 addresses per interface), or the whole view. */
  limits?: Record<string, number | Partial<InstanceTypeView>>;
  instances?: FakeInstance[];
  /** Describes of an ENI that still show it `detaching` after DetachNetworkInterface (EC2 takes a while); 0: at once. */
  detachingDescribes?: number;
}

export type FakeCall = [string, ...unknown[]];

function awsError(name: string, message: string): Error {
  const err = new Error(message);
  err.name = name;
  return err;
}

const BLOCK = 16;

export class FakeEc2 implements Ec2Port {
  readonly calls: FakeCall[] = [];
  interfaces: InterfaceView[];
  /**
   * Make the named write (`method:id`, the id being the ENI's, or the subnet's for
   * createInterface) fail with an error of this name: every time, or once per entry of a list.
   */
  readonly failures = new Map<string, string | string[]>();
  /** Called before each write with its arguments: a test can change the world or throw here. */
  beforeWrite?: (method: string, ...args: unknown[]) => void;
  /** The description each created ENI was given (EC2 keeps it; the port's view does not carry it). */
  readonly descriptions = new Map<string, string | undefined>();
  /** The security groups each created ENI was given (undefined: none named, the VPC default). */
  readonly createdGroups = new Map<string, readonly string[] | undefined>();
  private readonly detaching = new Map<string, number>();
  private nextEni = 1;
  private nextAttachment = 1;

  constructor(private readonly data: FakeEc2Data = {}) {
    this.interfaces = [...(data.interfaces ?? [])];
  }

  private write(method: string, id: string, ...args: unknown[]): void {
    this.calls.push([method, id, ...args]);
    this.beforeWrite?.(method, id, ...args);
    const name = this.failures.get(`${method}:${id}`);
    const once = Array.isArray(name) ? name.shift() : name;
    if (once) throw awsError(once, `${method} failed for ${id}`);
  }

  private update(id: string, change: (e: InterfaceView) => InterfaceView): void {
    this.interfaces = this.interfaces.map((e) => (e.networkInterfaceId === id ? change(e) : e));
  }

  private instance(id: string): FakeInstance {
    const instance = (this.data.instances ?? []).find((i) => i.instanceId === id);
    if (!instance) throw new Error(`FakeEc2: instance ${id} is not set up`);
    return instance;
  }

  async describeSubnets(ids: readonly string[]): Promise<SubnetView[]> {
    return (this.data.subnets ?? []).filter((s) => ids.includes(s.subnetId));
  }
  async describeSecurityGroups(ids: readonly string[]): Promise<SecurityGroupView[]> {
    return (this.data.securityGroups ?? []).filter((g) => ids.includes(g.groupId));
  }
  async describeCidrReservations(subnetId: string): Promise<CidrReservation[]> {
    return (this.data.reservations?.[subnetId] ?? []).map((c) => {
      const kind = c.startsWith('prefix:') ? 'prefix' : 'explicit';
      const { first, last } = parseCidr(c.replace(/^prefix:/, ''));
      return { first, last, kind };
    });
  }
  async describeInterfacesInSubnets(ids: readonly string[]): Promise<InterfaceView[]> {
    return this.interfaces.filter((e) => ids.includes(e.subnetId));
  }
  async describeInterfacesWithTagKey(tagKey: string): Promise<InterfaceView[]> {
    return this.interfaces.filter((e) => tagKey in e.tags);
  }
  async describeInterfacesByTag(tagKey: string, tagValue: string): Promise<InterfaceView[]> {
    return this.interfaces.filter((e) => e.tags[tagKey] === tagValue);
  }
  async scanSubnets(request: SubnetScanRequest): Promise<SubnetScan> {
    const held = new Map(request.subnets.flatMap((s) => (s.block ? [[s.subnetId, new AddressSet(s.block)] as const] : [])));
    const wanted = new Set(request.subnets.map((s) => s.subnetId));
    const owners = new Map<string, Set<string>>();
    const kept: InterfaceView[] = [];
    for (const eni of this.interfaces) {
      if (!wanted.has(eni.subnetId)) continue;
      const set = held.get(eni.subnetId);
      for (const a of set ? eni.privateIpAddresses : []) set?.add(parseIpv4(a));
      for (const p of set ? eni.ipv4Prefixes : []) set?.addRange(parseCidr(p));
      const owner = request.ownerTag === undefined ? undefined : eni.tags[request.ownerTag];
      if (owner !== undefined && owner === request.keep) kept.push(eni);
      if (owner !== undefined && request.watch?.has(owner)) owners.set(eni.subnetId, (owners.get(eni.subnetId) ?? new Set()).add(owner));
    }
    return { held, kept, owners, pages: 1, bytes: 0 };
  }
  async describeInterfacesWithAddresses(subnetId: string, addresses: readonly string[]): Promise<InterfaceView[]> {
    return this.interfaces.filter((e) => e.subnetId === subnetId && e.privateIpAddresses.some((a) => addresses.includes(a)));
  }
  async describeInterface(id: string): Promise<InterfaceView | undefined> {
    const left = this.detaching.get(id);
    if (left !== undefined) {
      if (left > 0) this.detaching.set(id, left - 1);
      else {
        this.detaching.delete(id);
        this.update(id, (e) => ({ ...e, status: 'available', attachment: undefined }));
      }
    }
    return this.interfaces.find((e) => e.networkInterfaceId === id);
  }
  async describeInstanceStates(ids: readonly string[]): Promise<Map<string, string>> {
    this.calls.push(['describeInstanceStates', [...ids]]);
    const states = this.data.instanceStates ?? {};
    return new Map(ids.filter((id) => id in states).map((id) => [id, states[id]]));
  }
  async describeInstanceType(instanceType: string): Promise<InstanceTypeView> {
    const limit = this.data.limits?.[instanceType];
    if (limit === undefined) throw awsError('InvalidInstanceType', `The following supplied instance types do not exist: [${instanceType}]`);
    const base: InstanceTypeView = { maxNetworkInterfaces: 4, ipv4AddressesPerInterface: 15, prefixDelegation: true, hypervisor: 'nitro', ipv6Supported: true, ipv6AddressesPerInterface: 15 };
    return typeof limit === 'number' ? { ...base, maxNetworkInterfaces: limit } : { ...base, ...limit };
  }
  async describeInstance(id: string): Promise<InstanceView | undefined> {
    const instance = (this.data.instances ?? []).find((i) => i.instanceId === id);
    if (!instance) return undefined;
    const primary = { attachmentId: `eni-attach-primary-${id}`, deviceIndex: 0, deleteOnTermination: true, status: 'attached', instanceId: id };
    return {
      instanceId: id,
      instanceType: instance.instanceType ?? 'm5.xlarge',
      availabilityZone: instance.availabilityZone,
      vpcId: instance.vpcId,
      state: instance.state ?? 'running',
      tags: instance.tags ?? {},
      interfaces: [
        { networkInterfaceId: `eni-primary-${id}`, subnetId: undefined, privateIpAddress: undefined, sourceDestCheck: true, attachment: primary, ...(instance.primaryGroups ? { groups: instance.primaryGroups } : {}) },
        ...this.interfaces
          .filter((e) => e.attachment?.instanceId === id)
          .map((e) => ({ networkInterfaceId: e.networkInterfaceId, subnetId: e.subnetId, privateIpAddress: e.privateIpAddress, sourceDestCheck: e.sourceDestCheck, attachment: e.attachment! })),
      ],
    };
  }
  async describeTaggedInstances(tagKey: string, states: readonly string[]): Promise<TaggedInstance[]> {
    return (this.data.instances ?? [])
      .filter((i) => tagKey in (i.tags ?? {}) && states.includes(i.state ?? 'running'))
      .map((i) => ({
        instanceId: i.instanceId,
        availabilityZone: i.availabilityZone,
        state: i.state ?? 'running',
        launchTime: i.launchTime,
        subnetIds: this.interfaces.filter((e) => e.attachment?.instanceId === i.instanceId && e.attachment.deviceIndex >= 1).map((e) => e.subnetId),
      }));
  }

  private subnet(subnetId: string): SubnetView {
    const subnet = (this.data.subnets ?? []).find((s) => s.subnetId === subnetId);
    if (!subnet) throw awsError('InvalidSubnetID.NotFound', `The subnet ID '${subnetId}' does not exist`);
    return subnet;
  }

  /** Addresses and prefixes held in the subnet, and its CIDR, as ranges (an IPv6-only subnet has none). */
  private held(subnetId: string): { cidr: { first: number; last: number }; blocked: { first: number; last: number }[] } {
    const subnet = this.subnet(subnetId);
    const cidr = cidrRange(subnet.cidrBlock) ?? { first: 1, last: 0 };
    const inSubnet = this.interfaces.filter((e) => e.subnetId === subnetId);
    return {
      cidr,
      blocked: [
        { first: cidr.first, last: cidr.first + 3 },
        { first: cidr.last, last: cidr.last },
        ...inSubnet.flatMap((e) => e.privateIpAddresses.map((a) => ({ first: ipToNumber(a), last: ipToNumber(a) }))),
        ...inSubnet.flatMap((e) => e.ipv4Prefixes.map((p) => cidrRange(p)!)),
      ],
    };
  }

  private freeBlocks(subnetId: string, count: number): string[] {
    const { cidr, blocked } = this.held(subnetId);
    const out: string[] = [];
    for (let b = cidr.first; b + BLOCK - 1 <= cidr.last && out.length < count; b += BLOCK) {
      if (!blocked.some((r) => r.first <= b + BLOCK - 1 && b <= r.last)) out.push(`${numberToIp(b)}/28`);
    }
    if (out.length < count) throw awsError('InsufficientCidrBlocks', `There are not enough free cidr blocks in ${subnetId}`);
    return out;
  }

  /** IPv6 addresses and /80 prefixes EC2 would pick in the subnet's first IPv6 block. */
  private freeIpv6(subnetId: string, request: Ipv6Request): { addresses: string[]; prefixes: string[] } {
    const block = ipv6Cidr(this.subnet(subnetId).ipv6CidrBlocks?.[0] ?? '');
    if (!block) throw awsError('InvalidParameterValue', `The subnet ${subnetId} has no IPv6 CIDR block`);
    const inSubnet = this.interfaces.filter((e) => e.subnetId === subnetId);
    const held = { addresses: new Set(inSubnet.flatMap((e) => e.ipv6Addresses.map(ipv6ToBigInt))), prefixes: inSubnet.flatMap((e) => e.ipv6Prefixes.map((p) => ipv6Cidr(p)!)) };
    const addresses = freeIpv6Addresses(block, held, request.addresses);
    const prefixes = freeIpv6Prefixes(block, held, request.prefixes);
    if (!addresses || !prefixes) throw awsError('InsufficientCidrBlocks', `There are not enough free IPv6 addresses or prefixes in ${subnetId}`);
    return { addresses, prefixes };
  }

  async createInterface(request: CreateInterfaceRequest): Promise<InterfaceView> {
    const ipv6Asked = request.ipv6AddressCount !== undefined || request.ipv6PrefixCount !== undefined;
    this.write('createInterface', request.subnetId, request.privateIpAddress, request.ipv4PrefixCount, ...(ipv6Asked ? [{ addresses: request.ipv6AddressCount, prefixes: request.ipv6PrefixCount }] : []));
    const subnet = this.subnet(request.subnetId);
    const ipv6Only = subnet.ipv6Native === true;
    if ((request.ipv6AddressCount ?? 0) > 0 && (request.ipv6PrefixCount ?? 0) > 0) {
      throw awsError('InvalidParameterValue', 'You can specify one and only one of ipv6Address or ipv6AddressCount or ipv6Prefix or ipv6PrefixCount');
    }
    if (ipv6Only && (request.privateIpAddress !== undefined || request.ipv4PrefixCount)) throw awsError('InvalidParameterValue', `The subnet ${request.subnetId} is IPv6-only`);
    const { cidr, blocked } = this.held(request.subnetId);
    const taken = (a: number) => blocked.some((r) => r.first <= a && a <= r.last);
    let address = request.privateIpAddress;
    if (address !== undefined && taken(ipToNumber(address))) throw awsError('InvalidIPAddress.InUse', `The specified address ${address} is already in use.`);
    for (let a = cidr.first; !ipv6Only && address === undefined && a <= cidr.last; a++) if (!taken(a)) address = numberToIp(a);
    if (address === undefined && !ipv6Only) throw awsError('InsufficientFreeAddressesInSubnet', `${request.subnetId} has no free address`);
    const prefixes = request.ipv4PrefixCount ? this.freeBlocks(request.subnetId, request.ipv4PrefixCount) : [];
    // An IPv6-only subnet assigns an IPv6 address on creation unless told otherwise.
    const ipv6Addresses = request.ipv6AddressCount ?? (ipv6Only && !request.ipv6PrefixCount ? 1 : 0);
    const ipv6 = ipv6Addresses > 0 || (request.ipv6PrefixCount ?? 0) > 0 ? this.freeIpv6(request.subnetId, { addresses: ipv6Addresses, prefixes: request.ipv6PrefixCount ?? 0 }) : { addresses: [], prefixes: [] };
    const created: InterfaceView = {
      networkInterfaceId: `eni-fake${String(this.nextEni++).padStart(4, '0')}`,
      subnetId: request.subnetId,
      status: 'available',
      privateIpAddress: address,
      privateIpAddresses: address === undefined ? [] : [address],
      ipv4Prefixes: prefixes,
      ipv6Addresses: ipv6.addresses,
      ipv6Prefixes: ipv6.prefixes,
      sourceDestCheck: true,
      attachment: undefined,
      tags: { ...request.tags },
    };
    this.interfaces.push(created);
    this.descriptions.set(created.networkInterfaceId, request.description);
    this.createdGroups.set(created.networkInterfaceId, request.securityGroups);
    return created;
  }
  async assignPrefixes(id: string, request: PrefixRequest): Promise<string[]> {
    this.write('assignPrefixes', id, 'prefixes' in request ? [...request.prefixes] : request.count);
    const eni = this.interfaces.find((e) => e.networkInterfaceId === id);
    if (!eni) throw awsError('InvalidNetworkInterfaceID.NotFound', `The networkInterface ID '${id}' does not exist`);
    let prefixes: string[];
    if ('prefixes' in request) {
      const { blocked } = this.held(eni.subnetId);
      const clash = request.prefixes.find((p) => blocked.some((r) => r.first <= cidrRange(p)!.last && cidrRange(p)!.first <= r.last));
      if (clash) throw awsError('InvalidParameterValue', `The prefix ${clash} is already in use or reserved in the subnet.`);
      prefixes = [...request.prefixes];
    } else {
      prefixes = this.freeBlocks(eni.subnetId, request.count);
    }
    this.update(id, (e) => ({ ...e, ipv4Prefixes: [...e.ipv4Prefixes, ...prefixes] }));
    return prefixes;
  }
  async assignIpv6(id: string, request: Ipv6Request): Promise<{ addresses: string[]; prefixes: string[] }> {
    this.write('assignIpv6', id, { ...request });
    const eni = this.interfaces.find((e) => e.networkInterfaceId === id);
    if (!eni) throw awsError('InvalidNetworkInterfaceID.NotFound', `The networkInterface ID '${id}' does not exist`);
    const instanceType = eni.attachment?.instanceId ? (this.instance(eni.attachment.instanceId).instanceType ?? 'm5.xlarge') : undefined;
    if (instanceType !== undefined && this.data.limits?.[instanceType] !== undefined) {
      const { ipv6AddressesPerInterface: slots } = await this.describeInstanceType(instanceType);
      const total = eni.ipv6Addresses.length + eni.ipv6Prefixes.length + request.addresses + request.prefixes;
      if (total > slots) throw awsError('PrivateIpAddressLimitExceeded', `Number of IPv6 addresses and prefixes on ${id} would be ${total}, more than ${slots}`);
    }
    const got = this.freeIpv6(eni.subnetId, request);
    this.update(id, (e) => ({ ...e, ipv6Addresses: [...e.ipv6Addresses, ...got.addresses], ipv6Prefixes: [...e.ipv6Prefixes, ...got.prefixes] }));
    return got;
  }
  async attachInterface(id: string, instanceId: string, deviceIndex: number): Promise<string> {
    this.write('attachInterface', id, instanceId, deviceIndex);
    const eni = this.interfaces.find((e) => e.networkInterfaceId === id);
    if (!eni) throw awsError('InvalidNetworkInterfaceID.NotFound', `The networkInterface ID '${id}' does not exist`);
    if (eni.attachment) throw awsError('InvalidNetworkInterface.InUse', `Interface: [${id}] in use.`);
    this.instance(instanceId);
    if (deviceIndex === 0 || this.interfaces.some((e) => e.attachment?.instanceId === instanceId && e.attachment.deviceIndex === deviceIndex && (e.attachment.networkCardIndex ?? 0) === 0)) {
      throw awsError('InvalidParameterValue', `Instance '${instanceId}' already has an interface attached at device index '${deviceIndex}'.`);
    }
    const attachmentId = `eni-attach-${String(this.nextAttachment++).padStart(4, '0')}`;
    this.update(id, (e) => ({ ...e, status: 'in-use', attachment: { attachmentId, deviceIndex, deleteOnTermination: false, status: 'attached', instanceId } }));
    return attachmentId;
  }
  async setDeleteOnTermination(id: string, attachmentId: string, value: boolean): Promise<void> {
    this.write('setDeleteOnTermination', id, attachmentId, value);
    this.update(id, (e) => (e.attachment?.attachmentId === attachmentId ? { ...e, attachment: { ...e.attachment, deleteOnTermination: value } } : e));
  }
  async setSourceDestCheck(id: string, value: boolean): Promise<void> {
    this.write('setSourceDestCheck', id, value);
    this.update(id, (e) => ({ ...e, sourceDestCheck: value }));
  }
  async tagInterface(id: string, tags: Readonly<Record<string, string>>): Promise<void> {
    this.write('tagInterface', id, { ...tags });
    this.update(id, (e) => ({ ...e, tags: { ...e.tags, ...tags } }));
  }
  async untagInterface(id: string, keys: readonly string[]): Promise<void> {
    this.write('untagInterface', id, [...keys]);
    this.update(id, (e) => ({ ...e, tags: Object.fromEntries(Object.entries(e.tags).filter(([k]) => !keys.includes(k))) }));
  }
  async detachInterface(attachmentId: string): Promise<void> {
    this.write('detachInterface', attachmentId);
    const eni = this.interfaces.find((e) => e.attachment?.attachmentId === attachmentId);
    if (!eni) throw awsError('InvalidAttachmentID.NotFound', `The attachment ID '${attachmentId}' does not exist`);
    if (eni.attachment?.status === 'attaching') throw awsError('IncorrectState', `The attachment ${attachmentId} is still attaching`);
    const left = this.data.detachingDescribes ?? 0;
    if (left > 0) {
      this.detaching.set(eni.networkInterfaceId, left);
      this.update(eni.networkInterfaceId, (e) => ({ ...e, status: 'in-use', attachment: { ...e.attachment!, status: 'detaching' } }));
    } else {
      this.update(eni.networkInterfaceId, (e) => ({ ...e, status: 'available', attachment: undefined }));
    }
  }
  async deleteInterface(id: string): Promise<void> {
    this.write('deleteInterface', id);
    const eni = this.interfaces.find((e) => e.networkInterfaceId === id);
    if (eni && eni.status !== 'available') throw awsError('InvalidNetworkInterface.InUse', `Network interface '${id}' is currently in use.`);
    this.interfaces = this.interfaces.filter((e) => e.networkInterfaceId !== id);
  }

  /** The ENIs carrying the ownership tag for `instanceId`. */
  oursFor(instanceId: string): InterfaceView[] {
    return this.interfaces.filter((e) => e.tags['eks-multus-eni/instance-id'] === instanceId);
  }
  /** The recorded calls of these methods, in order. */
  writes(...methods: string[]): FakeCall[] {
    return this.calls.filter(([m]) => methods.includes(m));
  }
}

/**
 * Makes the fake's EC2 calls end as the SDK's do under a call deadline (src/budget.ts, clients.ts):
 * a call made in a scope whose signal has aborted is refused at once with an AbortError, and the
 * methods named in `stalled` never answer (a stalled endpoint) until their scope's signal aborts
 * (outside any call scope, never: call them only under withCallDeadline).
 */
export function honourCallDeadlines(ec2: FakeEc2, stalled: readonly (keyof Ec2Port)[] = []): FakeEc2 {
  const port = ec2 as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  for (const name of Object.getOwnPropertyNames(FakeEc2.prototype)) {
    const method = port[name];
    // The port's methods are the async ones; the helpers (writes, oursFor, ...) stay as they are.
    if (typeof method !== 'function' || method.constructor.name !== 'AsyncFunction') continue;
    port[name] = async (...args: unknown[]) => {
      const signal = currentCallSignal();
      if (signal?.aborted) throw abortError(signal);
      if (!stalled.includes(name as keyof Ec2Port)) return method.apply(ec2, args);
      ec2.calls.push([name, ...args]);
      return stalledCall();
    };
  }
  return ec2;
}

/** An ENI as the port reports it. */
export function eni(
  id: string,
  subnetId: string,
  options: {
    status?: string;
    addresses?: string[];
    prefixes?: string[];
    ipv6Addresses?: string[];
    ipv6Prefixes?: string[];
    tags?: Record<string, string>;
    attachedTo?: string;
    deviceIndex?: number;
    deleteOnTermination?: boolean;
    attachmentStatus?: string;
    networkCardIndex?: number;
    sourceDestCheck?: boolean;
  } = {},
): InterfaceView {
  const addresses = options.addresses ?? [];
  return {
    networkInterfaceId: id,
    subnetId,
    status: options.status ?? (options.attachedTo ? 'in-use' : 'available'),
    privateIpAddress: addresses[0],
    privateIpAddresses: addresses,
    ipv4Prefixes: options.prefixes ?? [],
    ipv6Addresses: options.ipv6Addresses ?? [],
    ipv6Prefixes: options.ipv6Prefixes ?? [],
    sourceDestCheck: options.sourceDestCheck ?? false,
    attachment: options.attachedTo
      ? {
          attachmentId: `eni-attach-${id}`,
          deviceIndex: options.deviceIndex ?? 1,
          deleteOnTermination: options.deleteOnTermination ?? true,
          status: options.attachmentStatus ?? 'attached',
          instanceId: options.attachedTo,
          ...(options.networkCardIndex !== undefined ? { networkCardIndex: options.networkCardIndex } : {}),
        }
      : undefined,
    tags: options.tags ?? {},
  };
}
