/**
 * The Ec2Port over @aws-sdk/client-ec2. Subnets, security groups, CIDR reservations and instance
 * type limits change rarely and are cached for the settings' max age. Whole subnets and address
 * windows are read from EC2's XML with the page scanner (scan.ts) instead of the SDK's deserialiser.
 */
import {
  AssignIpv6AddressesCommand,
  AssignPrivateIpAddressesCommand,
  AttachNetworkInterfaceCommand,
  CreateNetworkInterfaceCommand,
  CreateTagsCommand,
  DeleteNetworkInterfaceCommand,
  DeleteTagsCommand,
  DescribeInstancesCommand,
  DescribeInstanceTypesCommand,
  DescribeNetworkInterfacesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DetachNetworkInterfaceCommand,
  GetSubnetCidrReservationsCommand,
  ModifyNetworkInterfaceAttributeCommand,
  type EC2Client,
  type Filter,
  type InstanceNetworkInterface,
  type NetworkInterface,
  type Tag,
  type _InstanceType,
} from '@aws-sdk/client-ec2';
import { TtlCache } from '../cache';
import { awsErrorCode } from '../errors';
import { AddressSet, parseCidr } from '../ipv4';
import { scanInterfacePage, type ScannedInterface } from './scan';
import type {
  AttachmentView,
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
} from './port';

function tagMap(tags: readonly Tag[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const tag of tags ?? []) if (tag.Key !== undefined) out[tag.Key] = tag.Value ?? '';
  return out;
}

function attachmentView(a: NetworkInterface['Attachment'] | InstanceNetworkInterface['Attachment']): AttachmentView | undefined {
  if (!a?.AttachmentId) return undefined;
  return {
    attachmentId: a.AttachmentId,
    deviceIndex: a.DeviceIndex ?? -1,
    deleteOnTermination: a.DeleteOnTermination,
    status: a.Status,
    instanceId: 'InstanceId' in a ? a.InstanceId : undefined,
    networkCardIndex: a.NetworkCardIndex,
  };
}

export function interfaceView(eni: NetworkInterface): InterfaceView {
  const addresses = (eni.PrivateIpAddresses ?? []).map((p) => p.PrivateIpAddress).filter((p): p is string => !!p);
  if (eni.PrivateIpAddress && !addresses.includes(eni.PrivateIpAddress)) addresses.unshift(eni.PrivateIpAddress);
  return {
    networkInterfaceId: eni.NetworkInterfaceId ?? '',
    subnetId: eni.SubnetId ?? '',
    availabilityZone: eni.AvailabilityZone,
    status: eni.Status,
    privateIpAddress: eni.PrivateIpAddress,
    privateIpAddresses: addresses,
    ipv4Prefixes: (eni.Ipv4Prefixes ?? []).map((p) => p.Ipv4Prefix).filter((p): p is string => !!p),
    ipv6Addresses: (eni.Ipv6Addresses ?? []).map((a) => a.Ipv6Address).filter((a): a is string => !!a),
    ipv6Prefixes: (eni.Ipv6Prefixes ?? []).map((p) => p.Ipv6Prefix).filter((p): p is string => !!p),
    sourceDestCheck: eni.SourceDestCheck,
    attachment: attachmentView(eni.Attachment),
    tags: tagMap(eni.TagSet),
  };
}

export interface SdkEc2Options {
  /** Milliseconds that subnets, groups, reservations and instance-type limits stay cached. */
  readonly cacheMaxAgeMs: () => number;
  /** ENIs per DescribeNetworkInterfaces page (EC2 takes 5 to 1,000); 1,000 unless a test wants many pages. */
  readonly pageSize?: number;
}

/** What the SDK is given to parse once the raw answer is taken: an empty page. */
const EMPTY_PAGE = Buffer.from('<DescribeNetworkInterfacesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><networkInterfaceSet/></DescribeNetworkInterfacesResponse>');

/**
 * Where a read keeps the answer it is scanning: one buffer for all its pages (grown when a page is
 * bigger), so that a read of many pages leaves no megabytes of garbage per page behind.
 */
class PageBuffer {
  bytes = Buffer.allocUnsafe(256 * 1024);
  length = 0;

  async fill(body: unknown): Promise<void> {
    this.length = 0;
    if (body === undefined || body === null) return;
    const chunks = typeof body === 'string' || body instanceof Uint8Array ? [body] : (body as AsyncIterable<Uint8Array | string>);
    for await (const chunk of chunks) {
      const piece = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      if (this.length + piece.length > this.bytes.length) {
        const grown = Buffer.allocUnsafe(Math.max(2 * this.bytes.length, this.length + piece.length));
        this.bytes.copy(grown, 0, 0, this.length);
        this.bytes = grown;
      }
      this.bytes.set(piece, this.length);
      this.length += piece.length;
    }
  }
}

/**
 * Sends a DescribeNetworkInterfaces and leaves its answer, as EC2 wrote it, in `into`. A middleware
 * innermost in the deserialize step takes the body of a successful answer (each attempt's: the
 * SDK's retries still run) and hands the SDK's deserialiser an empty page instead; error answers
 * go to the SDK untouched, so errors, codes and retries are the SDK's.
 */
async function sendForPage(ec2: EC2Client, command: DescribeNetworkInterfacesCommand, into: PageBuffer): Promise<void> {
  let answered = false;
  command.middlewareStack.add(
    (next) => async (args) => {
      const out = await next(args);
      const response = out.response as { statusCode?: number; body?: unknown };
      if (response.statusCode !== undefined && response.statusCode >= 200 && response.statusCode < 300) {
        await into.fill(response.body);
        answered = true;
        response.body = EMPTY_PAGE;
      }
      return out;
    },
    { step: 'deserialize', priority: 'low', name: 'eksMultusEniRawAnswer' },
  );
  await ec2.send(command);
  if (!answered) throw new Error('DescribeNetworkInterfaces returned no answer');
}

export class SdkEc2 implements Ec2Port {
  private readonly subnets: TtlCache<SubnetView[]>;
  private readonly groups: TtlCache<SecurityGroupView[]>;
  private readonly reservations: TtlCache<CidrReservation[]>;
  private readonly limits: TtlCache<InstanceTypeView>;

  private readonly pageSize: number;

  constructor(
    private readonly ec2: EC2Client,
    options: SdkEc2Options,
  ) {
    this.pageSize = options.pageSize ?? 1000;
    this.subnets = new TtlCache(options.cacheMaxAgeMs);
    this.groups = new TtlCache(options.cacheMaxAgeMs);
    this.reservations = new TtlCache(options.cacheMaxAgeMs);
    this.limits = new TtlCache(options.cacheMaxAgeMs);
  }

  clearCaches(): void {
    for (const cache of [this.subnets, this.groups, this.reservations, this.limits]) cache.clear();
  }

  async describeInstance(instanceId: string): Promise<InstanceView | undefined> {
    let out;
    try {
      out = await this.ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
    } catch (err) {
      if (awsErrorCode(err) === 'InvalidInstanceID.NotFound') return undefined;
      throw err;
    }
    const instance = out.Reservations?.flatMap((r) => r.Instances ?? []).find((i) => i.InstanceId === instanceId);
    if (!instance) return undefined;
    return {
      instanceId,
      instanceType: instance.InstanceType ?? '',
      availabilityZone: instance.Placement?.AvailabilityZone ?? '',
      vpcId: instance.VpcId,
      state: instance.State?.Name,
      tags: tagMap(instance.Tags),
      interfaces: (instance.NetworkInterfaces ?? []).flatMap((eni) => {
        const attachment = attachmentView(eni.Attachment);
        if (!eni.NetworkInterfaceId || !attachment) return [];
        return [
          {
            networkInterfaceId: eni.NetworkInterfaceId,
            subnetId: eni.SubnetId,
            privateIpAddress: eni.PrivateIpAddress,
            sourceDestCheck: eni.SourceDestCheck,
            attachment: { ...attachment, instanceId },
            groups: (eni.Groups ?? []).map((g) => g.GroupId).filter((g): g is string => !!g),
          },
        ];
      }),
    };
  }

  async describeTaggedInstances(tagKey: string, states: readonly string[]): Promise<TaggedInstance[]> {
    const found: TaggedInstance[] = [];
    let NextToken: string | undefined;
    do {
      const out = await this.ec2.send(
        new DescribeInstancesCommand({
          Filters: [
            { Name: 'tag-key', Values: [tagKey] },
            { Name: 'instance-state-name', Values: [...states] },
          ],
          NextToken,
          MaxResults: 1000,
        }),
      );
      for (const instance of out.Reservations?.flatMap((r) => r.Instances ?? []) ?? []) {
        if (!instance.InstanceId) continue;
        found.push({
          instanceId: instance.InstanceId,
          availabilityZone: instance.Placement?.AvailabilityZone ?? '',
          state: instance.State?.Name,
          launchTime: instance.LaunchTime,
          subnetIds: (instance.NetworkInterfaces ?? [])
            .filter((n) => (n.Attachment?.DeviceIndex ?? 0) > 0 && n.SubnetId)
            .map((n) => n.SubnetId as string),
        });
      }
      NextToken = out.NextToken;
    } while (NextToken);
    return found;
  }

  describeSubnets(subnetIds: readonly string[]): Promise<SubnetView[]> {
    const key = [...subnetIds].sort().join(',');
    return this.subnets.get(key, async () => {
      const out = await this.ec2.send(
        new DescribeSubnetsCommand({ Filters: [{ Name: 'subnet-id', Values: [...subnetIds] }] }),
      );
      return (out.Subnets ?? []).map((s) => ({
        subnetId: s.SubnetId ?? '',
        vpcId: s.VpcId ?? '',
        availabilityZone: s.AvailabilityZone ?? '',
        cidrBlock: s.CidrBlock ?? '',
        availableIpAddressCount: s.AvailableIpAddressCount,
        // Only an associated block gives addresses (one being associated or disassociated gives none).
        ipv6CidrBlocks: (s.Ipv6CidrBlockAssociationSet ?? [])
          .filter((a) => a.Ipv6CidrBlockState?.State === 'associated' && a.Ipv6CidrBlock)
          .map((a) => a.Ipv6CidrBlock as string),
        ipv6Native: s.Ipv6Native === true,
      }));
    });
  }

  describeSecurityGroups(groupIds: readonly string[]): Promise<SecurityGroupView[]> {
    const key = [...groupIds].sort().join(',');
    return this.groups.get(key, async () => {
      const out = await this.ec2.send(
        new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-id', Values: [...groupIds] }] }),
      );
      return (out.SecurityGroups ?? []).map((g) => ({ groupId: g.GroupId ?? '', vpcId: g.VpcId }));
    });
  }

  describeCidrReservations(subnetId: string): Promise<CidrReservation[]> {
    return this.reservations.get(subnetId, async () => {
      const ranges: CidrReservation[] = [];
      let NextToken: string | undefined;
      do {
        const out = await this.ec2.send(new GetSubnetCidrReservationsCommand({ SubnetId: subnetId, NextToken }));
        for (const r of out.SubnetIpv4CidrReservations ?? []) {
          if (r.Cidr) {
            const cidr = parseCidr(r.Cidr);
            ranges.push({ first: cidr.first, last: cidr.last, kind: r.ReservationType === 'prefix' ? 'prefix' : 'explicit' });
          }
        }
        NextToken = out.NextToken;
      } while (NextToken);
      return ranges;
    });
  }

  private async describeInterfaces(filters: Filter[]): Promise<InterfaceView[]> {
    const views: InterfaceView[] = [];
    let NextToken: string | undefined;
    do {
      const out = await this.ec2.send(
        new DescribeNetworkInterfacesCommand({ Filters: filters, NextToken, MaxResults: 1000 }),
      );
      for (const eni of out.NetworkInterfaces ?? []) views.push(interfaceView(eni));
      NextToken = out.NextToken;
    } while (NextToken);
    return views;
  }

  describeInterfacesInSubnets(subnetIds: readonly string[]): Promise<InterfaceView[]> {
    return this.describeInterfaces([{ Name: 'subnet-id', Values: [...subnetIds] }]);
  }

  describeInterfacesByTag(tagKey: string, tagValue: string): Promise<InterfaceView[]> {
    return this.describeInterfaces([{ Name: `tag:${tagKey}`, Values: [tagValue] }]);
  }

  /** Every page of DescribeNetworkInterfaces with these filters, each ENI handed to `visit` by the scanner; pages and bytes read. */
  private async scanPages(filters: Filter[], visit: (eni: ScannedInterface) => void, tagKey?: string): Promise<{ pages: number; bytes: number }> {
    let NextToken: string | undefined;
    let pages = 0;
    let bytes = 0;
    const page = new PageBuffer();
    do {
      await sendForPage(this.ec2, new DescribeNetworkInterfacesCommand({ Filters: filters, NextToken, MaxResults: this.pageSize }), page);
      pages++;
      bytes += page.length;
      NextToken = scanInterfacePage(page.bytes, visit, tagKey, page.length).nextToken;
    } while (NextToken);
    return { pages, bytes };
  }

  async scanSubnets(request: SubnetScanRequest): Promise<SubnetScan> {
    const held = new Map(request.subnets.flatMap((s) => (s.block ? [[s.subnetId, new AddressSet(s.block)] as const] : [])));
    const wanted = new Set(request.subnets.map((s) => s.subnetId));
    const owners = new Map<string, Set<string>>();
    const kept: InterfaceView[] = [];
    const look = request.keep !== undefined || (request.watch?.size ?? 0) > 0;
    const read = await this.scanPages(
      [{ Name: 'subnet-id', Values: request.subnets.map((s) => s.subnetId) }],
      (eni) => {
        const subnetId = eni.subnetId();
        if (!wanted.has(subnetId)) return;
        const set = held.get(subnetId);
        if (set) {
          eni.forEachAddress((a) => set.add(a));
          eni.forEachPrefix((p) => set.addRange(p));
        }
        if (!look) return;
        const owner = eni.tagValue();
        if (owner === undefined) return;
        if (owner === request.keep) kept.push(eni.view());
        if (request.watch?.has(owner)) owners.set(subnetId, (owners.get(subnetId) ?? new Set()).add(owner));
      },
      request.ownerTag,
    );
    return { held, kept, owners, ...read };
  }

  async describeInterfacesWithAddresses(subnetId: string, addresses: readonly string[]): Promise<InterfaceView[]> {
    const views: InterfaceView[] = [];
    // A filter takes at most 200 values.
    for (let i = 0; i < addresses.length; i += 200) {
      await this.scanPages(
        [
          { Name: 'subnet-id', Values: [subnetId] },
          { Name: 'addresses.private-ip-address', Values: addresses.slice(i, i + 200) },
        ],
        (eni) => views.push(eni.view()),
      );
    }
    return views;
  }

  async describeInterface(networkInterfaceId: string): Promise<InterfaceView | undefined> {
    try {
      const out = await this.ec2.send(
        new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [networkInterfaceId] }),
      );
      const eni = out.NetworkInterfaces?.[0];
      return eni ? interfaceView(eni) : undefined;
    } catch (err) {
      if (awsErrorCode(err) === 'InvalidNetworkInterfaceID.NotFound') return undefined;
      throw err;
    }
  }

  describeInstanceType(instanceType: string): Promise<InstanceTypeView> {
    return this.limits.get(instanceType, async () => {
      const out = await this.ec2.send(
        new DescribeInstanceTypesCommand({ InstanceTypes: [instanceType as _InstanceType] }),
      );
      const type = out.InstanceTypes?.[0];
      // Multus ENIs are attached on network card 0: its own limit counts (types with several
      // cards report the total of all cards in MaximumNetworkInterfaces).
      const info = type?.NetworkInfo;
      const card0 = info?.NetworkCards?.find((c) => (c.NetworkCardIndex ?? 0) === (info?.DefaultNetworkCardIndex ?? 0));
      const max = card0?.MaximumNetworkInterfaces ?? info?.MaximumNetworkInterfaces;
      if (max === undefined) throw new Error(`EC2 reports no network interface limit for instance type ${instanceType}`);
      return {
        maxNetworkInterfaces: max,
        ipv4AddressesPerInterface: info?.Ipv4AddressesPerInterface ?? 1,
        // The VPC CNI's rule: Nitro, or bare metal (which reports no hypervisor).
        prefixDelegation: type?.Hypervisor === 'nitro' || type?.BareMetal === true,
        hypervisor: type?.Hypervisor,
        ipv6Supported: info?.Ipv6Supported === true,
        ipv6AddressesPerInterface: info?.Ipv6AddressesPerInterface ?? 0,
      };
    });
  }

  async assignPrefixes(networkInterfaceId: string, request: PrefixRequest): Promise<string[]> {
    const out = await this.ec2.send(
      new AssignPrivateIpAddressesCommand({
        NetworkInterfaceId: networkInterfaceId,
        ...('prefixes' in request ? { Ipv4Prefixes: [...request.prefixes] } : { Ipv4PrefixCount: request.count }),
      }),
    );
    return (out.AssignedIpv4Prefixes ?? []).map((p) => p.Ipv4Prefix).filter((p): p is string => !!p);
  }

  async assignIpv6(networkInterfaceId: string, request: Ipv6Request): Promise<{ addresses: string[]; prefixes: string[] }> {
    const addresses: string[] = [];
    const prefixes: string[] = [];
    // One kind per call: EC2 refuses a create that names two IPv6 kinds, and documents no combination here either.
    if (request.addresses > 0) {
      const out = await this.ec2.send(new AssignIpv6AddressesCommand({ NetworkInterfaceId: networkInterfaceId, Ipv6AddressCount: request.addresses }));
      addresses.push(...(out.AssignedIpv6Addresses ?? []));
    }
    if (request.prefixes > 0) {
      const out = await this.ec2.send(new AssignIpv6AddressesCommand({ NetworkInterfaceId: networkInterfaceId, Ipv6PrefixCount: request.prefixes }));
      prefixes.push(...(out.AssignedIpv6Prefixes ?? []));
    }
    return { addresses, prefixes };
  }

  async createInterface(request: CreateInterfaceRequest): Promise<InterfaceView> {
    const out = await this.ec2.send(
      new CreateNetworkInterfaceCommand({
        SubnetId: request.subnetId,
        Groups: request.securityGroups ? [...request.securityGroups] : undefined,
        PrivateIpAddress: request.privateIpAddress,
        Ipv4PrefixCount: request.ipv4PrefixCount && request.ipv4PrefixCount > 0 ? request.ipv4PrefixCount : undefined,
        Ipv6AddressCount: request.ipv6AddressCount,
        Ipv6PrefixCount: request.ipv6PrefixCount && request.ipv6PrefixCount > 0 ? request.ipv6PrefixCount : undefined,
        Description: request.description,
        TagSpecifications: [
          {
            ResourceType: 'network-interface',
            Tags: Object.entries(request.tags).map(([Key, Value]) => ({ Key, Value })),
          },
        ],
      }),
    );
    if (!out.NetworkInterface?.NetworkInterfaceId) throw new Error('CreateNetworkInterface returned no interface');
    return interfaceView(out.NetworkInterface);
  }

  async attachInterface(networkInterfaceId: string, instanceId: string, deviceIndex: number): Promise<string> {
    const out = await this.ec2.send(
      new AttachNetworkInterfaceCommand({
        NetworkInterfaceId: networkInterfaceId,
        InstanceId: instanceId,
        DeviceIndex: deviceIndex,
        NetworkCardIndex: 0,
      }),
    );
    if (!out.AttachmentId) throw new Error('AttachNetworkInterface returned no attachment id');
    return out.AttachmentId;
  }

  async setDeleteOnTermination(networkInterfaceId: string, attachmentId: string, value: boolean): Promise<void> {
    await this.ec2.send(
      new ModifyNetworkInterfaceAttributeCommand({
        NetworkInterfaceId: networkInterfaceId,
        Attachment: { AttachmentId: attachmentId, DeleteOnTermination: value },
      }),
    );
  }

  async setSourceDestCheck(networkInterfaceId: string, value: boolean): Promise<void> {
    await this.ec2.send(
      new ModifyNetworkInterfaceAttributeCommand({
        NetworkInterfaceId: networkInterfaceId,
        SourceDestCheck: { Value: value },
      }),
    );
  }

  async detachInterface(attachmentId: string): Promise<void> {
    await this.ec2.send(new DetachNetworkInterfaceCommand({ AttachmentId: attachmentId }));
  }

  async deleteInterface(networkInterfaceId: string): Promise<void> {
    try {
      await this.ec2.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: networkInterfaceId }));
    } catch (err) {
      if (awsErrorCode(err) === 'InvalidNetworkInterfaceID.NotFound') return;
      throw err;
    }
  }

  describeInterfacesWithTagKey(tagKey: string): Promise<InterfaceView[]> {
    return this.describeInterfaces([{ Name: 'tag-key', Values: [tagKey] }]);
  }

  async describeInstanceStates(instanceIds: readonly string[]): Promise<Map<string, string>> {
    // An `instance-id` filter rather than InstanceIds: one unknown id in InstanceIds fails the whole
    // call with InvalidInstanceID.NotFound, while a filter simply leaves it out. Filters take at
    // most 200 values; chunks of 100 stay well inside.
    const states = new Map<string, string>();
    const ids = [...new Set(instanceIds)];
    for (let i = 0; i < ids.length; i += 100) {
      let NextToken: string | undefined;
      do {
        const out = await this.ec2.send(
          new DescribeInstancesCommand({
            Filters: [{ Name: 'instance-id', Values: ids.slice(i, i + 100) }],
            NextToken,
            MaxResults: 1000,
          }),
        );
        for (const instance of out.Reservations?.flatMap((r) => r.Instances ?? []) ?? []) {
          if (instance.InstanceId) states.set(instance.InstanceId, instance.State?.Name ?? 'unknown');
        }
        NextToken = out.NextToken;
      } while (NextToken);
    }
    return states;
  }

  async tagInterface(networkInterfaceId: string, tags: Readonly<Record<string, string>>): Promise<void> {
    await this.ec2.send(
      new CreateTagsCommand({
        Resources: [networkInterfaceId],
        Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
      }),
    );
  }

  async untagInterface(networkInterfaceId: string, tagKeys: readonly string[]): Promise<void> {
    await this.ec2.send(
      new DeleteTagsCommand({ Resources: [networkInterfaceId], Tags: tagKeys.map((Key) => ({ Key })) }),
    );
  }
}
