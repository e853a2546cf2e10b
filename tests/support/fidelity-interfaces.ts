/**
 * DescribeNetworkInterfaces in the fidelity proxy, where moto 5.2 answers unlike EC2:
 *   - `MaxResults` / `NextToken`: EC2 answers at most MaxResults ENIs (5 to 1,000) and a token for
 *     the rest; moto ignores MaxResults and answers everything at once. The proxy pages moto's
 *     answer (the rest kept under the token for a minute, as a snapshot);
 *   - `addresses.private-ip-address` (and `private-ip-address`): EC2 matches an ENI holding any of
 *     the values as its primary or a secondary address; moto matches only the primary. The proxy
 *     asks moto without the filter and applies it itself. No filter matches an address inside a
 *     delegated prefix, on EC2 as here;
 *   - bulk ENIs: a subnet can be given thousands of ENIs that only the proxy holds (moto takes
 *     minutes to create 30,000 and seconds to list them), each an attached multus ENI of ours with
 *     one address, written as EC2 writes it (ec2-xml.ts). They are listed with moto's (filters
 *     `subnet-id`, the address filters, `tag:<key>`, `tag-key`, `attachment.instance-id`, `vpc-id`,
 *     `status`, and NetworkInterfaceId; any other filter matches none of them), their addresses are
 *     in use for CreateNetworkInterface and prefixes, and one can be freed (a terminated node's
 *     hole). DescribeSubnets' free-address count does not subtract them: use them with lowest-free.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { describePageXml, interfaceXml } from './ec2-xml';
import type { ProxyTools } from './fidelity-hooks';
import { ipToNumber, numberToIp } from './fidelity-prefixes';

const ADDRESS_FILTERS = new Set(['addresses.private-ip-address', 'private-ip-address']);
/** Filters a bulk ENI is tested against; with any other, it does not match. */
const BULK_FILTERS = new Set([...ADDRESS_FILTERS, 'subnet-id', 'tag-key', 'attachment.instance-id', 'vpc-id', 'status']);
const TOKEN_LIFETIME_MS = 60_000;

interface Range {
  first: number;
  last: number;
}

interface BulkSubnet {
  readonly subnetId: string;
  readonly vpcId: string;
  readonly availabilityZone: string;
  readonly serial: number;
  /** Address to the ENI's number. */
  readonly enis: Map<number, number>;
}

/** One ENI of a listing: moto's item text, or a bulk ENI rendered when its page is written. */
type Entry = string | { readonly subnet: BulkSubnet; readonly address: number };

type Filters = Map<string, string[]>;

function filtersOf(params: URLSearchParams): Filters {
  const filters: Filters = new Map();
  for (let i = 1; params.has(`Filter.${i}.Name`); i++) {
    const values: string[] = [];
    for (let j = 1; params.has(`Filter.${i}.Value.${j}`); j++) values.push(params.get(`Filter.${i}.Value.${j}`) ?? '');
    filters.set(params.get(`Filter.${i}.Name`) ?? '', values);
  }
  return filters;
}

/** The top-level `<item>`s of moto's networkInterfaceSet (nested items counted), contiguous from its opening tag. */
export function topLevelItems(xml: string): string[] {
  const open = xml.indexOf('<networkInterfaceSet>');
  if (open < 0) return [];
  const items: string[] = [];
  let p = open + '<networkInterfaceSet>'.length;
  while (xml.startsWith('<item>', p)) {
    let depth = 0;
    let q = p;
    do {
      const o = xml.indexOf('<item>', q);
      const c = xml.indexOf('</item>', q);
      if (o >= 0 && o < c) {
        depth++;
        q = o + 6;
      } else {
        depth--;
        q = c + 7;
      }
    } while (depth > 0);
    items.push(xml.slice(p, q));
    p = q;
  }
  return items;
}

const addressesOf = (item: string) => [...item.matchAll(/<privateIpAddress>([^<]+)<\/privateIpAddress>/g)].map((m) => m[1]);

/** DescribeNetworkInterfaces answered, by kind: reads of whole subnets (and their pages), address windows, others. */
export interface InterfaceReads {
  whole: number;
  wholePages: number;
  windows: number;
  other: number;
}

export class InterfaceListing {
  private readonly bulk = new Map<string, BulkSubnet>();
  private readonly listings = new Map<string, { entries: Entry[]; offset: number; expires: number; kind: 'whole' | 'window' | 'other' }>();
  private serial = 0;
  reads: InterfaceReads = { whole: 0, wholePages: 0, windows: 0, other: 0 };

  constructor(
    private readonly tools: ProxyTools,
    /** Injects the delegated prefixes the proxy keeps into moto's items. */
    private readonly withPrefixes: (xml: string) => string,
  ) {}

  reset(): void {
    this.bulk.clear();
    this.listings.clear();
    this.resetReads();
  }

  resetReads(): void {
    this.reads = { whole: 0, wholePages: 0, windows: 0, other: 0 };
  }

  /** Gives the subnet `count` bulk ENIs at its lowest allocatable addresses, after the addresses moto holds there. */
  async addBulk(req: IncomingMessage, subnetId: string, count: number): Promise<{ first: string; last: string }> {
    const subnetXml = await this.tools.query(req, { Action: 'DescribeSubnets', Version: '2016-11-15', 'SubnetId.1': subnetId });
    const cidr = /<cidrBlock>([^<]+)<\/cidrBlock>/.exec(subnetXml)?.[1];
    if (!cidr) throw new Error(`bulk ENIs: subnet ${subnetId} does not exist`);
    const [base, bits] = cidr.split('/');
    const first = ipToNumber(base);
    const last = first + 2 ** (32 - Number(bits)) - 1;
    const motoXml = await this.tools.query(req, { Action: 'DescribeNetworkInterfaces', Version: '2016-11-15', 'Filter.1.Name': 'subnet-id', 'Filter.1.Value.1': subnetId });
    const taken = new Set(addressesOf(motoXml).map(ipToNumber));
    const subnet = this.bulk.get(subnetId) ?? {
      subnetId,
      vpcId: /<vpcId>([^<]+)<\/vpcId>/.exec(subnetXml)?.[1] ?? '',
      availabilityZone: /<availabilityZone>([^<]+)<\/availabilityZone>/.exec(subnetXml)?.[1] ?? '',
      serial: ++this.serial,
      enis: new Map<number, number>(),
    };
    this.bulk.set(subnetId, subnet);
    let added = 0;
    let lowest = 0;
    let highest = 0;
    for (let a = first + 4; a < last && added < count; a++) {
      if (taken.has(a) || subnet.enis.has(a)) continue;
      subnet.enis.set(a, subnet.enis.size);
      if (added === 0) lowest = a;
      highest = a;
      added++;
    }
    if (added < count) throw new Error(`bulk ENIs: ${subnetId} (${cidr}) has room for ${added} of ${count}`);
    return { first: numberToIp(lowest), last: numberToIp(highest) };
  }

  /** Removes the bulk ENIs holding these addresses (their nodes terminated). */
  freeBulk(subnetId: string, addresses: readonly string[]): void {
    const subnet = this.bulk.get(subnetId);
    for (const a of addresses) subnet?.enis.delete(ipToNumber(a));
  }

  /** Whether a bulk ENI holds the address. */
  holds(subnetId: string, address: string): boolean {
    return this.bulk.get(subnetId)?.enis.has(ipToNumber(address)) ?? false;
  }

  /** The addresses bulk ENIs hold in the subnet, as merged ranges. */
  heldRanges(subnetId: string): Range[] {
    const addresses = [...(this.bulk.get(subnetId)?.enis.keys() ?? [])].sort((a, b) => a - b);
    const ranges: Range[] = [];
    for (const a of addresses) {
      const top = ranges[ranges.length - 1];
      if (top && top.last + 1 === a) top.last = a;
      else ranges.push({ first: a, last: a });
    }
    return ranges;
  }

  private bulkModel(subnet: BulkSubnet, address: number) {
    const n = subnet.enis.get(address) ?? 0;
    const hex = `${subnet.serial.toString(16).padStart(2, '0')}${n.toString(16).padStart(15, '0')}`;
    const instanceId = `i-0${hex}`;
    return {
      id: `eni-0${hex}`,
      subnetId: subnet.subnetId,
      vpcId: subnet.vpcId,
      availabilityZone: subnet.availabilityZone,
      addresses: [numberToIp(address)],
      tags: { 'node.k8s.amazonaws.com/no_manage': 'true', 'eks-multus-eni/instance-id': instanceId, 'eks-multus-eni/device-index': '1', cnf: 'upf' },
      attachment: { id: `eni-attach-0${hex}`, instanceId, deviceIndex: 1, deleteOnTermination: true },
      description: `eks-multus-eni: ${instanceId} device 1`,
      mac: `02:${[24, 16, 8, 0].map((shift) => ((n >>> shift) & 255).toString(16).padStart(2, '0')).join(':')}:${subnet.serial.toString(16).padStart(2, '0')}`,
    };
  }

  /** Whether a bulk ENI matches every filter and id of the request. */
  private bulkMatches(subnet: BulkSubnet, address: number, filters: Filters, ids: string[]): boolean {
    // The launch's read of whole subnets: nothing to test beyond the subnet, already matched.
    if (ids.length === 0 && [...filters.keys()].every((name) => name === 'subnet-id')) return true;
    const model = this.bulkModel(subnet, address);
    if (ids.length > 0 && !ids.includes(model.id)) return false;
    for (const [name, values] of filters) {
      const any = (candidates: readonly string[]) => candidates.some((c) => values.includes(c));
      if (name === 'subnet-id' && !any([model.subnetId])) return false;
      if (ADDRESS_FILTERS.has(name) && !any(model.addresses)) return false;
      if (name === 'vpc-id' && !any([model.vpcId])) return false;
      if (name === 'status' && !any(['in-use'])) return false;
      if (name === 'attachment.instance-id' && !any([model.attachment.instanceId])) return false;
      if (name === 'tag-key' && !any(Object.keys(model.tags))) return false;
      if (name.startsWith('tag:') && !values.includes((model.tags as Record<string, string>)[name.slice(4)] ?? '\u0000')) return false;
      if (!BULK_FILTERS.has(name) && !name.startsWith('tag:')) return false;
    }
    return true;
  }

  private bulkEntries(filters: Filters, ids: string[]): Entry[] {
    const entries: Entry[] = [];
    const subnets = filters.get('subnet-id');
    const wanted = filters.get('addresses.private-ip-address') ?? filters.get('private-ip-address');
    for (const subnet of this.bulk.values()) {
      if (subnets && !subnets.includes(subnet.subnetId)) continue;
      // An address filter names few addresses: look them up rather than walk the subnet.
      const addresses = wanted ? wanted.map(ipToNumber).filter((a) => subnet.enis.has(a)) : [...subnet.enis.keys()];
      for (const address of addresses) if (this.bulkMatches(subnet, address, filters, ids)) entries.push({ subnet, address });
    }
    return entries;
  }

  /** A DescribeNetworkInterfaces call: answered here, from moto's answer and the bulk ENIs. */
  async describe(req: IncomingMessage, res: ServerResponse, params: URLSearchParams): Promise<void> {
    const now = Date.now();
    for (const [token, listing] of this.listings) if (listing.expires < now) this.listings.delete(token);
    const maxResults = params.has('MaxResults') ? Number(params.get('MaxResults')) : undefined;
    if (maxResults !== undefined && (!Number.isInteger(maxResults) || maxResults < 5 || maxResults > 1000)) {
      return this.tools.error(res, 400, 'InvalidParameterValue', `Value ( ${params.get('MaxResults')} ) for parameter maxResults is invalid. Expecting a value between 5 and 1000.`);
    }
    const token = params.get('NextToken');
    let listing = token ? this.listings.get(token) : undefined;
    if (token && !listing) return this.tools.error(res, 400, 'InvalidParameterValue', `The token '${token}' is invalid or expired.`);
    if (!listing) {
      const filters = filtersOf(params);
      const ids = [...params.keys()].filter((k) => /^NetworkInterfaceId\.\d+$/.test(k)).map((k) => params.get(k) ?? '');
      if (maxResults !== undefined && ids.length > 0) {
        return this.tools.error(res, 400, 'InvalidParameterCombination', 'The parameter NetworkInterfaceIds cannot be used with the parameter MaxResults');
      }
      // moto without what it gets wrong: the address filters (applied below) and paging.
      const forwarded: Record<string, string> = { Action: 'DescribeNetworkInterfaces', Version: params.get('Version') ?? '2016-11-15' };
      ids.forEach((id, i) => (forwarded[`NetworkInterfaceId.${i + 1}`] = id));
      let n = 0;
      for (const [name, values] of filters) {
        if (ADDRESS_FILTERS.has(name)) continue;
        n++;
        forwarded[`Filter.${n}.Name`] = name;
        values.forEach((v, j) => (forwarded[`Filter.${n}.Value.${j + 1}`] = v));
      }
      const motoXml = await this.tools.query(req, forwarded);
      if (!motoXml.includes('<DescribeNetworkInterfacesResponse')) {
        // An error (an unknown id...): moto's answer as it is.
        return this.tools.relay(res, { status: 400, headers: { 'content-type': 'text/xml' }, body: Buffer.from(motoXml) });
      }
      const wanted = [...filters].filter(([name]) => ADDRESS_FILTERS.has(name)).map(([, values]) => values);
      const moto = topLevelItems(this.withPrefixes(motoXml)).filter((item) => wanted.every((values) => addressesOf(item).some((a) => values.includes(a))));
      const kind = wanted.length > 0 ? 'window' : ids.length === 0 && [...filters.keys()].every((n) => n === 'subnet-id') ? 'whole' : 'other';
      listing = { entries: [...moto, ...this.bulkEntries(filters, ids)], offset: 0, expires: now + TOKEN_LIFETIME_MS, kind };
      if (kind === 'whole') this.reads.whole++;
      else if (kind === 'window') this.reads.windows++;
      else this.reads.other++;
    }
    if (listing.kind === 'whole') this.reads.wholePages++;
    const size = maxResults ?? listing.entries.length;
    const page = listing.entries.slice(listing.offset, listing.offset + size);
    listing.offset += page.length;
    if (token) this.listings.delete(token);
    let next: string | undefined;
    if (listing.offset < listing.entries.length) {
      next = randomUUID();
      this.listings.set(next, listing);
    }
    const items = page.map((e) => (typeof e === 'string' ? e : interfaceXml(this.bulkModel(e.subnet, e.address))));
    res.writeHead(200, { 'content-type': 'text/xml', 'x-amzn-requestid': randomUUID() });
    res.end(describePageXml(items, next));
  }
}
