/**
 * IPv6 on ENIs in the fidelity proxy, where moto 5.2 answers unlike EC2. What moto does (read in
 * moto/ec2/models/elastic_network_interfaces.py, responses/elastic_network_interfaces.py,
 * models/subnets.py of 5.2): Ipv6AddressCount takes random addresses of the subnet's first IPv6
 * block and is ignored, silently, on a subnet without one; Ipv6PrefixCount and Ipv6Prefixes are
 * ignored (no prefix is ever described); AssignIpv6Addresses takes random addresses, answers every
 * address of the ENI as "assigned" and ignores prefixes; nothing checks the instance type's
 * limits; an ENI of an IPv6-only subnet (Ipv6Native) gets a random IPv4 address; DescribeSubnets
 * writes an IPv6 block's state as the Python text `{'State': 'associated'}`.
 *
 * The proxy keeps the IPv6 of each ENI itself (moto is never sent an IPv6 parameter) and answers:
 *   - CreateNetworkInterface with Ipv6AddressCount or Ipv6PrefixCount: addresses and /80 prefixes
 *     of the subnet's first IPv6 block, never one held by another ENI (the lowest free here; EC2
 *     picks at random), none of the five AWS reserves (the first four and the last); more than one
 *     IPv6 kind in one request: InvalidParameterValue, with the message EC2 gives for it (quoted in
 *     aws/karpenter-provider-aws#2187 and #9201); IPv6 on a subnet without an IPv6 block:
 *     InvalidParameterValue; no count on a subnet that assigns IPv6 on creation (an IPv6-only one
 *     always does): one address, as EC2 does (0 overrides it);
 *   - an IPv6-only subnet: the ENI has no IPv4 address (created without one, and described
 *     without one), `ipv6Native` true; a PrivateIpAddress or IPv4 prefixes there: InvalidParameterValue;
 *   - AssignIpv6Addresses with Ipv6AddressCount or Ipv6PrefixCount: more of the same, only the new
 *     ones answered as assigned; on an attached ENI, more than the instance type's
 *     Ipv6AddressesPerInterface (each prefix takes one): PrivateIpAddressLimitExceeded;
 *   - AttachNetworkInterface of an ENI whose IPv6 does not fit the instance (a type without IPv6,
 *     more than its slots, an IPv6-only ENI on a type not built on Nitro): refused;
 *   - DescribeNetworkInterfaces (moto's ENIs, in every listing and page the proxy serves) and the
 *     create's answer carry `ipv6AddressesSet` and `ipv6PrefixSet` as EC2 writes them;
 *     DeleteNetworkInterface frees them; DescribeSubnets writes the block's state `associated`.
 * Which error codes EC2 gives for a subnet without IPv6 and for a full interface is not documented:
 * the codes here are the closest documented ones (README, "What only a real account shows").
 * Specific Ipv6Addresses / Ipv6Prefixes are not modelled (forwarded to moto as they are).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ProxyTools, Relayed } from './fidelity-hooks';
import type { Refusal } from './fidelity-prefixes';
import { topLevelItems } from './fidelity-interfaces';
import { freeIpv6Addresses, freeIpv6Prefixes, ipv6Cidr, ipv6ToBigInt, type Ipv6Range } from './ipv6-text';

const EC2_NS = 'http://ec2.amazonaws.com/doc/2016-11-15/';
const V = '2016-11-15';
/** What EC2 answers a request naming two IPv6 kinds (aws/karpenter-provider-aws#9201). */
export const ONE_IPV6_KIND = 'You can specify one and only one of ipv6Address or ipv6AddressCount or ipv6Prefix or ipv6PrefixCount in interfaces to create.';

interface Ipv6OfEni {
  readonly subnetId: string;
  readonly ipv6Only: boolean;
  addresses: string[];
  prefixes: string[];
}

interface SubnetFacts {
  readonly block: Ipv6Range | undefined;
  readonly ipv6Only: boolean;
  readonly assignOnCreation: boolean;
}

const count = (params: URLSearchParams, name: string) => (params.has(name) ? Number(params.get(name)) : undefined);
const has = (params: URLSearchParams, pattern: RegExp) => [...params.keys()].some((k) => pattern.test(k));

export class Ipv6Fidelity {
  private readonly byEni = new Map<string, Ipv6OfEni>();

  constructor(private readonly tools: ProxyTools) {}

  reset(): void {
    this.byEni.clear();
  }

  forget(eniId: string): void {
    this.byEni.delete(eniId);
  }

  /** The IPv6 the proxy holds for an ENI (for tests of the proxy itself). */
  of(eniId: string): { addresses: string[]; prefixes: string[] } | undefined {
    const entry = this.byEni.get(eniId);
    return entry && { addresses: [...entry.addresses], prefixes: [...entry.prefixes] };
  }

  private async subnet(req: IncomingMessage, subnetId: string): Promise<SubnetFacts | undefined> {
    const xml = await this.tools.query(req, { Action: 'DescribeSubnets', Version: V, 'SubnetId.1': subnetId });
    if (!xml.includes(`<subnetId>${subnetId}</subnetId>`)) return undefined;
    // moto's own state text is not EC2's (see above): any block it lists counts as associated.
    const cidr = /<ipv6CidrBlockAssociationSet>[\s\S]*?<ipv6CidrBlock>([^<]+)<\/ipv6CidrBlock>/.exec(xml)?.[1];
    return {
      block: cidr ? ipv6Cidr(cidr) : undefined,
      ipv6Only: /<ipv6Native>true<\/ipv6Native>/.test(xml),
      assignOnCreation: /<assignIpv6AddressOnCreation>true<\/assignIpv6AddressOnCreation>/.test(xml),
    };
  }

  /** What the ENIs of the subnet hold, as the proxy keeps it. */
  private held(subnetId: string) {
    const entries = [...this.byEni.values()].filter((e) => e.subnetId === subnetId);
    return {
      addresses: new Set(entries.flatMap((e) => e.addresses.map(ipv6ToBigInt))),
      prefixes: entries.flatMap((e) => e.prefixes.map((p) => ipv6Cidr(p) as Ipv6Range)),
    };
  }

  /** Free addresses and prefixes of the subnet's block, or the refusal EC2 would give. */
  private take(subnetId: string, facts: SubnetFacts, addresses: number, prefixes: number): { addresses: string[]; prefixes: string[] } | Refusal {
    if (!facts.block) return ['InvalidParameterValue', `The subnet ${subnetId} does not have an IPv6 CIDR block: it cannot assign IPv6 addresses or prefixes`];
    const held = this.held(subnetId);
    const gotAddresses = freeIpv6Addresses(facts.block, held, addresses);
    if (!gotAddresses) return ['InsufficientFreeAddressesInSubnet', `The specified subnet ${subnetId} does not have enough free IPv6 addresses to satisfy the request.`];
    const gotPrefixes = freeIpv6Prefixes(facts.block, held, prefixes);
    if (!gotPrefixes) return ['InsufficientCidrBlocks', 'There are not enough free cidr blocks in the specified subnet to satisfy the request.'];
    return { addresses: gotAddresses, prefixes: gotPrefixes };
  }

  /**
   * CreateNetworkInterface: the IPv6 checked and taken here, the rest forwarded through `next`
   * (the IPv4 prefix fidelity, then moto) without any IPv6 parameter; the answer carries the IPv6.
   */
  async create(req: IncomingMessage, params: URLSearchParams, next: (params: URLSearchParams) => Promise<Relayed | Refusal>): Promise<Relayed | Refusal> {
    const subnetId = params.get('SubnetId') ?? '';
    const addressCount = count(params, 'Ipv6AddressCount');
    const prefixCount = count(params, 'Ipv6PrefixCount');
    const kinds = [addressCount !== undefined, prefixCount !== undefined, has(params, /^Ipv6Addresses\./), has(params, /^Ipv6Prefix\./)].filter(Boolean).length;
    if (kinds > 1) return ['InvalidParameterValue', ONE_IPV6_KIND];
    if (has(params, /^Ipv6Addresses\./) || has(params, /^Ipv6Prefix\./)) return next(params);
    const facts = await this.subnet(req, subnetId);
    if (!facts) return next(params);
    if (facts.ipv6Only && (params.has('PrivateIpAddress') || has(params, /^PrivateIpAddresses\./) || has(params, /^Ipv4Prefix/) || params.has('SecondaryPrivateIpAddressCount'))) {
      return ['InvalidParameterValue', `The subnet ${subnetId} is IPv6-only: a network interface there takes no IPv4 address or prefix`];
    }
    const addresses = addressCount ?? (facts.assignOnCreation && !prefixCount && facts.block ? 1 : 0);
    const prefixes = prefixCount ?? 0;
    let taken: { addresses: string[]; prefixes: string[] } = { addresses: [], prefixes: [] };
    if (addresses > 0 || prefixes > 0) {
      const got = this.take(subnetId, facts, addresses, prefixes);
      if (Array.isArray(got)) return got as Refusal;
      taken = got as { addresses: string[]; prefixes: string[] };
    }
    const forwarded = new URLSearchParams(params);
    for (const key of [...forwarded.keys()]) if (key.startsWith('Ipv6')) forwarded.delete(key);
    const out = await next(forwarded);
    if (Array.isArray(out) || (out as Relayed).status !== 200) return out;
    const relayed = out as Relayed;
    const text = relayed.body.toString('utf8');
    const id = /<networkInterfaceId>([^<]+)<\/networkInterfaceId>/.exec(text)?.[1];
    if (!id) return out;
    const entry: Ipv6OfEni = { subnetId, ipv6Only: facts.ipv6Only, ...taken };
    if (entry.addresses.length > 0 || entry.prefixes.length > 0 || entry.ipv6Only) this.byEni.set(id, entry);
    return { ...relayed, body: Buffer.from(this.rewrite(text, entry), 'utf8') };
  }

  /** The instance type's IPv6 as moto knows it (DescribeInstances, then DescribeInstanceTypes). */
  private async typeOf(req: IncomingMessage, instanceId: string) {
    const instance = await this.tools.query(req, { Action: 'DescribeInstances', Version: V, 'InstanceId.1': instanceId });
    const name = /<instanceType>([^<]+)<\/instanceType>/.exec(instance)?.[1] ?? '';
    const type = await this.tools.query(req, { Action: 'DescribeInstanceTypes', Version: V, 'InstanceType.1': name });
    return {
      name,
      supported: /<ipv6Supported>true<\/ipv6Supported>/.test(type),
      slots: Number(/<ipv6AddressesPerInterface>(\d+)<\/ipv6AddressesPerInterface>/.exec(type)?.[1] ?? 0),
      nitro: /<hypervisor>nitro<\/hypervisor>/.test(type) || /<bareMetal>true<\/bareMetal>/.test(type),
    };
  }

  /** Why EC2 would refuse to attach this ENI to this instance for its IPv6, or undefined. */
  async refuseAttach(req: IncomingMessage, params: URLSearchParams): Promise<Refusal | undefined> {
    const eniId = params.get('NetworkInterfaceId') ?? '';
    const entry = this.byEni.get(eniId);
    if (!entry) return undefined;
    const type = await this.typeOf(req, params.get('InstanceId') ?? '');
    const total = entry.addresses.length + entry.prefixes.length;
    if (!type.supported) return ['InvalidParameterValue', `Instance type ${type.name} does not support IPv6: ${eniId} has IPv6 addresses or prefixes`];
    if (entry.ipv6Only && !type.nitro) return ['InvalidParameterValue', `Network interface ${eniId} is in an IPv6-only subnet, which instance type ${type.name} (not built on the Nitro System) does not support`];
    if (total > type.slots) return ['PrivateIpAddressLimitExceeded', `Network interface ${eniId} has ${total} IPv6 addresses and prefixes; instance type ${type.name} takes ${type.slots} per interface`];
    return undefined;
  }

  /** AssignIpv6Addresses with counts: answered here (moto would take random addresses and ignore prefixes). */
  async assign(req: IncomingMessage, res: ServerResponse, params: URLSearchParams): Promise<void> {
    const eniId = params.get('NetworkInterfaceId') ?? '';
    if (has(params, /^Ipv6Addresses\./) || has(params, /^Ipv6Prefixes\./)) return this.tools.relay(res, await this.tools.forward(req, Buffer.from(params.toString())));
    const eniXml = await this.tools.query(req, { Action: 'DescribeNetworkInterfaces', Version: V, 'NetworkInterfaceId.1': eniId });
    const subnetId = /<subnetId>([^<]+)<\/subnetId>/.exec(eniXml)?.[1];
    if (!subnetId) return this.tools.error(res, 400, 'InvalidNetworkInterfaceID.NotFound', `The networkInterface ID '${eniId}' does not exist`);
    const addresses = count(params, 'Ipv6AddressCount') ?? 0;
    const prefixes = count(params, 'Ipv6PrefixCount') ?? 0;
    if (addresses === 0 && prefixes === 0) return this.tools.error(res, 400, 'MissingParameter', 'Either Ipv6Addresses, Ipv6AddressCount, Ipv6Prefixes or Ipv6PrefixCount must be specified');
    const facts = await this.subnet(req, subnetId);
    const entry = this.byEni.get(eniId) ?? { subnetId, ipv6Only: facts?.ipv6Only ?? false, addresses: [], prefixes: [] };
    const instanceId = /<attachment>[\s\S]*?<instanceId>([^<]+)<\/instanceId>/.exec(eniXml)?.[1];
    if (instanceId) {
      const type = await this.typeOf(req, instanceId);
      const total = entry.addresses.length + entry.prefixes.length + addresses + prefixes;
      if (total > type.slots) return this.tools.error(res, 400, 'PrivateIpAddressLimitExceeded', `Number of IPv6 addresses and prefixes on ${eniId} would be ${total}; instance type ${type.name} takes ${type.slots} per interface`);
    }
    const got = facts ? this.take(subnetId, facts, addresses, prefixes) : (['InvalidSubnetID.NotFound', `The subnet ID '${subnetId}' does not exist`] as Refusal);
    if (Array.isArray(got)) return this.tools.error(res, 400, got[0], got[1]);
    const taken = got as { addresses: string[]; prefixes: string[] };
    entry.addresses.push(...taken.addresses);
    entry.prefixes.push(...taken.prefixes);
    this.byEni.set(eniId, entry);
    const list = (tag: string, values: readonly string[]) => (values.length > 0 ? `<${tag}>${values.map((v) => `<item>${v}</item>`).join('')}</${tag}>` : '');
    res.writeHead(200, { 'content-type': 'text/xml' });
    res.end(
      `<AssignIpv6AddressesResponse xmlns="${EC2_NS}"><requestId>${Date.now()}</requestId><networkInterfaceId>${eniId}</networkInterfaceId>` +
        `${list('assignedIpv6Addresses', taken.addresses)}${list('assignedIpv6PrefixSet', taken.prefixes)}</AssignIpv6AddressesResponse>`,
    );
  }

  /** One ENI's XML (an item of a listing, or a create's `networkInterface`) as EC2 would write it. */
  private rewrite(xml: string, entry: Ipv6OfEni): string {
    const addresses = entry.addresses.map((a) => `<item><ipv6Address>${a}</ipv6Address><isPrimaryIpv6>false</isPrimaryIpv6></item>`).join('');
    const prefixes = entry.prefixes.length > 0 ? `<ipv6PrefixSet>${entry.prefixes.map((p) => `<item><ipv6Prefix>${p}</ipv6Prefix></item>`).join('')}</ipv6PrefixSet>` : '';
    const ipv6 = `${addresses ? `<ipv6AddressesSet>${addresses}</ipv6AddressesSet>` : '<ipv6AddressesSet/>'}${prefixes}<ipv6Native>${entry.ipv6Only}</ipv6Native>`;
    let out = /<ipv6AddressesSet\/>|<ipv6AddressesSet>[\s\S]*?<\/ipv6AddressesSet>/.test(xml)
      ? xml.replace(/<ipv6AddressesSet\/>|<ipv6AddressesSet>[\s\S]*?<\/ipv6AddressesSet>/, ipv6)
      : xml.replace(/(<networkInterfaceId>[^<]+<\/networkInterfaceId>)/, `$1${ipv6}`);
    if (entry.ipv6Only) {
      // The IPv4 address moto made up: an ENI of an IPv6-only subnet has none.
      out = out
        .replace(/<privateIpAddressesSet>[\s\S]*?<\/privateIpAddressesSet>/, '<privateIpAddressesSet/>')
        .replace(/<privateIpAddress>[^<]*<\/privateIpAddress>/g, '')
        .replace(/<privateDnsName>[^<]*<\/privateDnsName>/g, '');
    }
    return out;
  }

  /** A DescribeNetworkInterfaces answer of moto's with the IPv6 the proxy keeps (every listing and page). */
  describe(xml: string): string {
    if (this.byEni.size === 0) return xml;
    const items = topLevelItems(xml);
    if (items.length === 0) return xml;
    const start = xml.indexOf('<networkInterfaceSet>') + '<networkInterfaceSet>'.length;
    const end = start + items.reduce((n, item) => n + item.length, 0);
    const rewritten = items.map((item) => {
      const entry = this.byEni.get(/<networkInterfaceId>([^<]+)<\/networkInterfaceId>/.exec(item)?.[1] ?? '');
      return entry ? this.rewrite(item, entry) : item;
    });
    return `${xml.slice(0, start)}${rewritten.join('')}${xml.slice(end)}`;
  }

  /** A DescribeSubnets answer of moto's with the IPv6 block's state as EC2 writes it. */
  subnets(out: Relayed): Relayed {
    const text = out.body.toString('utf8');
    if (!text.includes('{&#x27;State&#x27;') && !text.includes("{'State'")) return out;
    const fixed = text.replace(/<state>\{(?:'|&#x27;)State(?:'|&#x27;): (?:'|&#x27;)([a-z-]+)(?:'|&#x27;)\}<\/state>/g, '<state>$1</state>');
    return { ...out, body: Buffer.from(fixed, 'utf8') };
  }
}
