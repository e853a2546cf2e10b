/**
 * An in-memory Ec2Port for pure unit tests of the domain (settings check, sweeper): subnets,
 * security groups, CIDR reservations, ENIs, instance states and instance-type limits as plain data.
 * Writes are recorded; operations a test does not set up throw, so nothing passes by accident.
 */
import type { CidrReservation, Ec2Port, InstanceTypeView, InstanceView, InterfaceView, SecurityGroupView, SubnetScan, SubnetScanRequest, SubnetView, TaggedInstance } from 'multus-core';
import { AddressSet, parseCidr, parseIpv4 } from 'multus-core';

export interface FakeEc2Data {
  subnets?: SubnetView[];
  securityGroups?: SecurityGroupView[];
  /** CIDR reservations per subnet: explicit ones as `a.b.c.d/n`, prefix ones as `prefix:a.b.c.d/n`. */
  reservations?: Record<string, string[]>;
  interfaces?: InterfaceView[];
  instanceStates?: Record<string, string>;
  /** Network interfaces per instance type (Nitro, 15 IPv4 addresses per interface), or the whole view. */
  limits?: Record<string, number | Partial<InstanceTypeView>>;
}

export type FakeCall = [string, ...unknown[]];

export class FakeEc2 implements Ec2Port {
  readonly calls: FakeCall[] = [];
  interfaces: InterfaceView[];
  /** Make the named write fail with an error of this name (once per ENI id listed). */
  readonly failures = new Map<string, string>();

  constructor(private readonly data: FakeEc2Data = {}) {
    this.interfaces = [...(data.interfaces ?? [])];
  }

  private fail(method: string, id: string): void {
    const name = this.failures.get(`${method}:${id}`);
    if (name) {
      const err = new Error(`${method} failed for ${id}`);
      err.name = name;
      throw err;
    }
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
  async scanSubnets(request: SubnetScanRequest): Promise<SubnetScan> {
    const held = new Map(request.subnets.map((s) => [s.subnetId, new AddressSet(s.block)]));
    const owners = new Map<string, Set<string>>();
    const kept: InterfaceView[] = [];
    for (const eni of this.interfaces) {
      const set = held.get(eni.subnetId);
      if (!set) continue;
      for (const a of eni.privateIpAddresses) set.add(parseIpv4(a));
      for (const p of eni.ipv4Prefixes) set.addRange(parseCidr(p));
      const owner = request.ownerTag === undefined ? undefined : eni.tags[request.ownerTag];
      if (owner !== undefined && owner === request.keep) kept.push(eni);
      if (owner !== undefined && request.watch?.has(owner)) owners.set(eni.subnetId, (owners.get(eni.subnetId) ?? new Set()).add(owner));
    }
    return { held, kept, owners, pages: 1, bytes: 0 };
  }
  async describeInterfacesWithAddresses(subnetId: string, addresses: readonly string[]): Promise<InterfaceView[]> {
    return this.interfaces.filter((e) => e.subnetId === subnetId && e.privateIpAddresses.some((a) => addresses.includes(a)));
  }
  async describeInterfacesWithTagKey(tagKey: string): Promise<InterfaceView[]> {
    return this.interfaces.filter((e) => tagKey in e.tags);
  }
  async describeInterface(id: string): Promise<InterfaceView | undefined> {
    return this.interfaces.find((e) => e.networkInterfaceId === id);
  }
  async describeInstanceStates(ids: readonly string[]): Promise<Map<string, string>> {
    this.calls.push(['describeInstanceStates', [...ids]]);
    const states = this.data.instanceStates ?? {};
    return new Map(ids.filter((id) => id in states).map((id) => [id, states[id]]));
  }
  async describeInstanceType(instanceType: string): Promise<InstanceTypeView> {
    const limit = this.data.limits?.[instanceType];
    if (limit === undefined) {
      const err = new Error(`The following supplied instance types do not exist: [${instanceType}]`);
      err.name = 'InvalidInstanceType';
      throw err;
    }
    const base: InstanceTypeView = { maxNetworkInterfaces: 4, ipv4AddressesPerInterface: 15, prefixDelegation: true, hypervisor: 'nitro' };
    return typeof limit === 'number' ? { ...base, maxNetworkInterfaces: limit } : { ...base, ...limit };
  }
  async tagInterface(id: string, tags: Readonly<Record<string, string>>): Promise<void> {
    this.calls.push(['tagInterface', id, { ...tags }]);
    this.fail('tagInterface', id);
    this.interfaces = this.interfaces.map((e) => (e.networkInterfaceId === id ? { ...e, tags: { ...e.tags, ...tags } } : e));
  }
  async untagInterface(id: string, keys: readonly string[]): Promise<void> {
    this.calls.push(['untagInterface', id, [...keys]]);
    this.fail('untagInterface', id);
    this.interfaces = this.interfaces.map((e) =>
      e.networkInterfaceId === id ? { ...e, tags: Object.fromEntries(Object.entries(e.tags).filter(([k]) => !keys.includes(k))) } : e,
    );
  }
  async detachInterface(attachmentId: string): Promise<void> {
    this.calls.push(['detachInterface', attachmentId]);
    this.interfaces = this.interfaces.map((e) =>
      e.attachment?.attachmentId === attachmentId ? { ...e, status: 'available', attachment: undefined } : e,
    );
  }
  async deleteInterface(id: string): Promise<void> {
    this.calls.push(['deleteInterface', id]);
    this.fail('deleteInterface', id);
    const eni = this.interfaces.find((e) => e.networkInterfaceId === id);
    if (eni && eni.status !== 'available') {
      const err = new Error(`Network interface '${id}' is currently in use.`);
      err.name = 'InvalidNetworkInterface.InUse';
      throw err;
    }
    this.interfaces = this.interfaces.filter((e) => e.networkInterfaceId !== id);
  }

  // Not needed by the settings check or the sweeper.
  describeInstance(): Promise<InstanceView | undefined> {
    throw new Error('FakeEc2.describeInstance is not set up');
  }
  describeInterfacesByTag(): Promise<InterfaceView[]> {
    throw new Error('FakeEc2.describeInterfacesByTag is not set up');
  }
  describeTaggedInstances(): Promise<TaggedInstance[]> {
    throw new Error('FakeEc2.describeTaggedInstances is not set up');
  }
  createInterface(): Promise<InterfaceView> {
    throw new Error('FakeEc2.createInterface is not set up');
  }
  assignPrefixes(): Promise<string[]> {
    throw new Error('FakeEc2.assignPrefixes is not set up');
  }
  attachInterface(): Promise<string> {
    throw new Error('FakeEc2.attachInterface is not set up');
  }
  setDeleteOnTermination(): Promise<void> {
    throw new Error('FakeEc2.setDeleteOnTermination is not set up');
  }
  setSourceDestCheck(): Promise<void> {
    throw new Error('FakeEc2.setSourceDestCheck is not set up');
  }
}

/** An ENI as the port reports it. */
export function eni(
  id: string,
  subnetId: string,
  options: {
    status?: string;
    addresses?: string[];
    prefixes?: string[];
    tags?: Record<string, string>;
    attachedTo?: string;
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
    sourceDestCheck: false,
    attachment: options.attachedTo
      ? { attachmentId: `eni-attach-${id}`, deviceIndex: 1, deleteOnTermination: true, status: 'attached', instanceId: options.attachedTo }
      : undefined,
    tags: options.tags ?? {},
  };
}
