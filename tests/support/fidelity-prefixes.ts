/**
 * IPv4 prefix delegation in the fidelity proxy, which moto 5.2 ignores (it drops Ipv4PrefixCount
 * and Ipv4Prefixes and never describes a prefix). The proxy keeps the prefixes per ENI and answers
 * as EC2 does:
 *   - CreateNetworkInterface with Ipv4PrefixCount: the lowest free aligned /28 blocks of the
 *     subnet (prefix-type CIDR reservations first) are delegated, InsufficientCidrBlocks when there
 *     are too few; prefixes together with a specific PrivateIpAddress: InvalidParameterCombination;
 *   - AssignPrivateIpAddresses with Ipv4Prefix.N or Ipv4PrefixCount: a prefix that is not an
 *     aligned /28 inside the subnet, that holds an address AWS reserves, lies in an explicit
 *     reservation, or overlaps an address or prefix of any ENI: InvalidParameterValue (EC2 documents
 *     no code of its own for "prefix taken"; the Lambda re-reads the subnet to tell a race);
 *   - a PrivateIpAddress inside another ENI's prefix: InvalidIPAddress.InUse (see the proxy);
 *   - DescribeNetworkInterfaces and CreateNetworkInterface answers list each ENI's prefixes
 *     (`ipv4PrefixSet`), DeleteNetworkInterface forgets them.
 * When the subnet holds prefixes, a create without PrivateIpAddress gets the lowest free address
 * outside them from the proxy (moto picks a random one, which could fall inside a prefix).
 * The free-block search here is a plain scan, independent of the allocator under test.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ProxyTools, Relayed } from './fidelity-hooks';

/** An EC2 error answer: code and message. */
export type Refusal = readonly [code: string, message: string];

const EC2_NS = 'http://ec2.amazonaws.com/doc/2016-11-15/';
const BLOCK = 16;

interface Range {
  first: number;
  last: number;
}

export function ipToNumber(text: string): number {
  return text.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0);
}

export function numberToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function cidrRange(cidr: string): Range | undefined {
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(cidr.trim());
  if (!m) return undefined;
  const size = 2 ** (32 - Number(m[2]));
  const first = ipToNumber(m[1]);
  return first % size === 0 ? { first, last: first + size - 1 } : undefined;
}

const overlaps = (a: Range, b: Range) => a.first <= b.last && b.first <= a.last;

interface SubnetFacts {
  cidr: Range;
  /** AWS's reserved addresses, explicit reservations, every ENI address and prefix. */
  blocked: Range[];
  prefixReserved: Range[];
}

export class PrefixFidelity {
  /** ENI id to its subnet and delegated prefixes. */
  private readonly byEni = new Map<string, { subnetId: string; prefixes: string[] }>();

  constructor(
    private readonly tools: ProxyTools,
    /** Addresses held in a subnet by ENIs moto does not know (the proxy's bulk ENIs), as ranges. */
    private readonly heldElsewhere: (subnetId: string) => Range[] = () => [],
  ) {}

  reset(): void {
    this.byEni.clear();
  }

  /** Prefix ranges held in the subnet (for the proxy's address-in-use check). */
  prefixesIn(subnetId: string): Range[] {
    return [...this.byEni.values()].filter((e) => e.subnetId === subnetId).flatMap((e) => e.prefixes.map((p) => cidrRange(p)!));
  }

  private async facts(req: IncomingMessage, subnetId: string): Promise<SubnetFacts | undefined> {
    const subnetXml = await this.tools.query(req, { Action: 'DescribeSubnets', Version: '2016-11-15', 'SubnetId.1': subnetId });
    const cidrText = /<cidrBlock>([^<]+)<\/cidrBlock>/.exec(subnetXml)?.[1];
    const cidr = cidrText ? cidrRange(cidrText) : undefined;
    if (!cidr) return undefined;
    const enis = await this.tools.query(req, { Action: 'DescribeNetworkInterfaces', Version: '2016-11-15', 'Filter.1.Name': 'subnet-id', 'Filter.1.Value.1': subnetId });
    const addresses = [...enis.matchAll(/<privateIpAddress>([^<]+)<\/privateIpAddress>/g)].map((m) => ipToNumber(m[1]));
    const reservations = await this.tools.query(req, { Action: 'GetSubnetCidrReservations', Version: '2016-11-15', SubnetId: subnetId });
    const explicit: Range[] = [];
    const prefixReserved: Range[] = [];
    for (const item of reservations.matchAll(/<item>([\s\S]*?)<\/item>/g)) {
      const range = cidrRange(/<cidr>([^<]+)<\/cidr>/.exec(item[1])?.[1] ?? '');
      if (!range) continue;
      (/<reservationType>prefix<\/reservationType>/.test(item[1]) ? prefixReserved : explicit).push(range);
    }
    return {
      cidr,
      blocked: [
        { first: cidr.first, last: cidr.first + 3 },
        { first: cidr.last, last: cidr.last },
        ...explicit,
        ...addresses.map((a) => ({ first: a, last: a })),
        ...this.heldElsewhere(subnetId),
        ...this.prefixesIn(subnetId),
      ],
      prefixReserved,
    };
  }

  /** The lowest free aligned blocks, prefix reservations first, or undefined when fewer than `count`. */
  private pick(facts: SubnetFacts, count: number, also: Range[] = []): string[] | undefined {
    const free: Range[] = [];
    for (let b = facts.cidr.first; b + BLOCK - 1 <= facts.cidr.last; b += BLOCK) {
      const block = { first: b, last: b + BLOCK - 1 };
      if (![...facts.blocked, ...also].some((r) => overlaps(r, block))) free.push(block);
    }
    const inReserved = (r: Range) => facts.prefixReserved.some((p) => p.first <= r.first && r.last <= p.last);
    const ordered = [...free.filter(inReserved), ...free.filter((r) => !inReserved(r))];
    if (ordered.length < count) return undefined;
    return ordered.slice(0, count).map((r) => `${numberToIp(r.first)}/28`);
  }

  /** The lowest free address outside every block and address (EC2 would pick any). */
  private pickAddress(facts: SubnetFacts): string | undefined {
    for (let a = facts.cidr.first; a <= facts.cidr.last; a++) if (!facts.blocked.some((r) => r.first <= a && a <= r.last)) return numberToIp(a);
    return undefined;
  }

  private prefixSet(prefixes: readonly string[], tag = 'ipv4PrefixSet'): string {
    return `<${tag}>${prefixes.map((p) => `<item><ipv4Prefix>${p}</ipv4Prefix></item>`).join('')}</${tag}>`;
  }

  /** CreateNetworkInterface: checks, picks, forwards (without the prefix parameters moto ignores) and records. */
  async create(req: IncomingMessage, params: URLSearchParams): Promise<Relayed | Refusal> {
    const count = Number(params.get('Ipv4PrefixCount') ?? 0);
    const specific = [...params.keys()].filter((k) => /^Ipv4Prefix\.\d+\.Ipv4Prefix$/.test(k)).map((k) => params.get(k) ?? '');
    const subnetId = params.get('SubnetId') ?? '';
    const inSubnet = this.prefixesIn(subnetId).length > 0;
    if ((count > 0 || specific.length > 0) && params.get('PrivateIpAddress')) {
      return ['InvalidParameterCombination', 'IPv4 prefixes cannot be combined with a specific private IP address'];
    }
    let prefixes: string[] = [];
    const forwarded = new URLSearchParams(params);
    for (const key of [...forwarded.keys()]) if (key.startsWith('Ipv4Prefix')) forwarded.delete(key);
    if (count > 0 || specific.length > 0 || inSubnet) {
      const facts = await this.facts(req, subnetId);
      if (facts) {
        if (specific.length > 0) {
          const problem = this.refusal(facts, specific);
          if (problem) return ['InvalidParameterValue', problem];
          prefixes = specific;
        } else if (count > 0) {
          const picked = this.pick(facts, count);
          if (!picked) return ['InsufficientCidrBlocks', 'There are not enough free cidr blocks in the specified subnet to satisfy the request.'];
          prefixes = picked;
        }
        if (!params.get('PrivateIpAddress')) {
          const address = this.pickAddress({ ...facts, blocked: [...facts.blocked, ...prefixes.map((p) => cidrRange(p)!)] });
          if (address) forwarded.set('PrivateIpAddress', address);
        }
      }
    }
    const out = await this.tools.forward(req, Buffer.from(forwarded.toString()));
    if (out.status !== 200 || prefixes.length === 0) return out;
    const text = out.body.toString('utf8');
    const id = /<networkInterfaceId>([^<]+)<\/networkInterfaceId>/.exec(text)?.[1];
    if (id) this.byEni.set(id, { subnetId, prefixes });
    const body = text.replace(/(<networkInterfaceId>[^<]+<\/networkInterfaceId>)/, `$1${this.prefixSet(prefixes)}`);
    return { ...out, body: Buffer.from(body, 'utf8') };
  }

  /** Why EC2 would refuse these prefixes in the subnet, or undefined. */
  private refusal(facts: SubnetFacts, prefixes: readonly string[], also: Range[] = []): string | undefined {
    for (const p of prefixes) {
      const r = cidrRange(p);
      if (!r || r.last - r.first + 1 !== BLOCK) return `The prefix ${p} is not a valid /28 IPv4 prefix.`;
      if (r.first < facts.cidr.first || r.last > facts.cidr.last) return `The prefix ${p} is not within the subnet's CIDR block.`;
      if ([...facts.blocked, ...also].some((b) => overlaps(b, r))) return `The prefix ${p} is already in use or reserved in the subnet.`;
    }
    return undefined;
  }

  /** AssignPrivateIpAddresses with prefixes: answered here (moto would assign random secondary addresses). */
  async assign(req: IncomingMessage, res: ServerResponse, params: URLSearchParams): Promise<void> {
    const eniId = params.get('NetworkInterfaceId') ?? '';
    const count = Number(params.get('Ipv4PrefixCount') ?? 0);
    const specific = [...params.keys()].filter((k) => /^Ipv4Prefix\.\d+$/.test(k)).map((k) => params.get(k) ?? '');
    const eniXml = await this.tools.query(req, { Action: 'DescribeNetworkInterfaces', Version: '2016-11-15', 'NetworkInterfaceId.1': eniId });
    const subnetId = /<subnetId>([^<]+)<\/subnetId>/.exec(eniXml)?.[1];
    if (!subnetId) return this.tools.error(res, 400, 'InvalidNetworkInterfaceID.NotFound', `The networkInterface ID '${eniId}' does not exist`);
    if (count > 0 && specific.length > 0) return this.tools.error(res, 400, 'InvalidParameterCombination', 'Ipv4Prefixes and Ipv4PrefixCount cannot be combined');
    const facts = await this.facts(req, subnetId);
    if (!facts) return this.tools.error(res, 400, 'InvalidSubnetID.NotFound', `The subnet ID '${subnetId}' does not exist`);
    let prefixes: string[];
    if (specific.length > 0) {
      const problem = this.refusal(facts, specific);
      if (problem) return this.tools.error(res, 400, 'InvalidParameterValue', problem);
      prefixes = specific;
    } else {
      const picked = this.pick(facts, Math.max(count, 1));
      if (!picked) return this.tools.error(res, 400, 'InsufficientCidrBlocks', 'There are not enough free cidr blocks in the specified subnet to satisfy the request.');
      prefixes = picked;
    }
    const entry = this.byEni.get(eniId) ?? { subnetId, prefixes: [] };
    entry.prefixes.push(...prefixes);
    this.byEni.set(eniId, entry);
    res.writeHead(200, { 'content-type': 'text/xml' });
    res.end(
      `<AssignPrivateIpAddressesResponse xmlns="${EC2_NS}"><requestId>${Date.now()}</requestId><networkInterfaceId>${eniId}</networkInterfaceId><assignedPrivateIpAddressesSet/>${this.prefixSet(prefixes, 'assignedIpv4PrefixSet')}</AssignPrivateIpAddressesResponse>`,
    );
  }

  /** Puts each ENI's prefixes into a DescribeNetworkInterfaces answer. */
  describe(text: string): string {
    return text.replace(/<networkInterfaceId>([^<]+)<\/networkInterfaceId>/g, (whole, id: string) => {
      const entry = this.byEni.get(id);
      return entry && entry.prefixes.length > 0 ? `${whole}${this.prefixSet(entry.prefixes)}` : whole;
    });
  }

  forget(eniId: string): void {
    this.byEni.delete(eniId);
  }
}
