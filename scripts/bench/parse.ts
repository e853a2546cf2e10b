/**
 * Benchmark 1b: reading what is used in a subnet. Lowest-free allocation starts from every ENI of
 * the subnet (DescribeNetworkInterfaces, all pages); this times our parsing path for a result of
 * N used addresses:
 *   - objects: SDK-shaped `NetworkInterface` objects, pages of 1,000 -> `interfaceView` (the EC2
 *     adapter) -> the used set (addresses as numbers, prefixes as ranges), as the ENI code builds it;
 *   - XML: the same pages as EC2 XML, answered in memory by a stub HTTP handler, through the real
 *     SDK client (middleware, XML deserialiser) and our adapter's paginated
 *     `describeInterfacesInSubnets`, then the used set. No network is involved.
 * The old system's parse (collect `PrivateIpAddresses[].PrivateIpAddress` into a list of text) is
 * timed on the same objects for reference.
 *
 * Each ENI carries one address (multus ENIs have one): the most objects and bytes per address, so
 * an upper bound for a subnet of N addresses.
 */
import { EC2Client, type NetworkInterface } from '@aws-sdk/client-ec2';
import { formatIpv4, interfaceView, parseCidr, parseIpv4, SdkEc2, type InterfaceView, type Ipv4Range } from 'multus-core';
import { summarize, timeAsync, timeSync, type Summary } from './stats';

export interface ParseRow {
  readonly used: number;
  readonly pages: number;
  readonly xmlBytes: number;
  /** interfaceView over SDK objects + used set. */
  readonly objects: Summary;
  /** SDK deserialiser on XML pages + interfaceView + used set. */
  readonly xml: Summary;
  /** The old system's parse (a list of address text) over SDK objects. */
  readonly oldStyle: Summary;
  /** Both paths produced the same used set. */
  readonly consistent: boolean;
}

const PAGE_SIZE = 1000;
const SUBNET_ID = 'subnet-0123456789abcdef0';
const VPC_ID = 'vpc-0123456789abcdef0';
const OWNER = '123456789012';

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

/** One ENI as the SDK returns it: a multus ENI of ours, attached to a node. */
function eniObject(i: number, address: string): NetworkInterface {
  const id = `eni-0${hex(i, 16)}`;
  const instanceId = `i-0${hex(i >> 1, 16)}`;
  const dns = `ip-${address.replace(/\./g, '-')}.ec2.internal`;
  return {
    NetworkInterfaceId: id,
    SubnetId: SUBNET_ID,
    VpcId: VPC_ID,
    AvailabilityZone: 'us-east-1a',
    Description: `eks-multus-eni: ${instanceId} device 1`,
    OwnerId: OWNER,
    RequesterManaged: false,
    Status: 'in-use',
    MacAddress: `02:${hex((i >> 24) & 255, 2)}:${hex((i >> 16) & 255, 2)}:${hex((i >> 8) & 255, 2)}:${hex(i & 255, 2)}:01`,
    PrivateIpAddress: address,
    PrivateDnsName: dns,
    SourceDestCheck: false,
    InterfaceType: 'interface',
    Groups: [{ GroupId: 'sg-0123456789abcdef0', GroupName: 'multus' }],
    Attachment: {
      AttachmentId: `eni-attach-0${hex(i, 16)}`,
      InstanceId: instanceId,
      InstanceOwnerId: OWNER,
      DeviceIndex: 1,
      NetworkCardIndex: 0,
      Status: 'attached',
      AttachTime: new Date('2026-01-01T00:00:00.000Z'),
      DeleteOnTermination: true,
    },
    TagSet: [
      { Key: 'node.k8s.amazonaws.com/no_manage', Value: 'true' },
      { Key: 'eks-multus-eni/instance-id', Value: instanceId },
      { Key: 'eks-multus-eni/device-index', Value: '1' },
      { Key: 'cnf', Value: 'upf-1' },
    ],
    PrivateIpAddresses: [{ Primary: true, PrivateIpAddress: address, PrivateDnsName: dns }],
    Ipv6Addresses: [],
  };
}

/** The same ENI as EC2 writes it in a DescribeNetworkInterfaces response. */
function eniXml(e: NetworkInterface): string {
  const a = e.Attachment!;
  const tags = e.TagSet!.map((t) => `<item><key>${t.Key}</key><value>${t.Value}</value></item>`).join('');
  const ips = e.PrivateIpAddresses!.map(
    (p) => `<item><privateIpAddress>${p.PrivateIpAddress}</privateIpAddress><privateDnsName>${p.PrivateDnsName}</privateDnsName><primary>${p.Primary}</primary></item>`,
  ).join('');
  return (
    `<item><networkInterfaceId>${e.NetworkInterfaceId}</networkInterfaceId><subnetId>${e.SubnetId}</subnetId>` +
    `<vpcId>${e.VpcId}</vpcId><availabilityZone>${e.AvailabilityZone}</availabilityZone>` +
    `<description>${e.Description}</description><ownerId>${e.OwnerId}</ownerId><requesterManaged>false</requesterManaged>` +
    `<status>${e.Status}</status><macAddress>${e.MacAddress}</macAddress><privateIpAddress>${e.PrivateIpAddress}</privateIpAddress>` +
    `<privateDnsName>${e.PrivateDnsName}</privateDnsName><sourceDestCheck>false</sourceDestCheck>` +
    `<groupSet><item><groupId>${e.Groups![0].GroupId}</groupId><groupName>${e.Groups![0].GroupName}</groupName></item></groupSet>` +
    `<attachment><attachmentId>${a.AttachmentId}</attachmentId><instanceId>${a.InstanceId}</instanceId>` +
    `<instanceOwnerId>${a.InstanceOwnerId}</instanceOwnerId><deviceIndex>${a.DeviceIndex}</deviceIndex>` +
    `<networkCardIndex>0</networkCardIndex><status>attached</status><attachTime>2026-01-01T00:00:00.000Z</attachTime>` +
    `<deleteOnTermination>true</deleteOnTermination></attachment>` +
    `<tagSet>${tags}</tagSet><privateIpAddressesSet>${ips}</privateIpAddressesSet><ipv6AddressesSet/>` +
    `<interfaceType>interface</interfaceType></item>`
  );
}

function pageXml(enis: NetworkInterface[], nextToken: string | undefined): Buffer {
  return Buffer.from(
    `<?xml version="1.0" encoding="UTF-8"?>\n<DescribeNetworkInterfacesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">` +
      `<requestId>5f8a3c1e-0000-4000-8000-000000000000</requestId><networkInterfaceSet>${enis.map(eniXml).join('')}</networkInterfaceSet>` +
      (nextToken ? `<nextToken>${nextToken}</nextToken>` : '') +
      `</DescribeNetworkInterfacesResponse>`,
  );
}

/** The used set the ENI code derives from the views of a subnet (mirrors `takenIn` in eni/ensure.ts). */
export function usedSet(views: readonly InterfaceView[], subnetId: string): { addresses: number[]; ranges: Ipv4Range[] } {
  const addresses: number[] = [];
  const ranges: Ipv4Range[] = [];
  for (const eni of views) {
    if (eni.subnetId !== subnetId) continue;
    for (const a of eni.privateIpAddresses) addresses.push(parseIpv4(a));
    for (const p of eni.ipv4Prefixes) {
      const prefix = parseCidr(p);
      ranges.push({ first: prefix.first, last: prefix.last });
    }
  }
  return { addresses, ranges };
}

/** An EC2 client whose HTTP handler answers DescribeNetworkInterfaces from memory, page by NextToken. */
function stubClient(pages: Buffer[]): EC2Client {
  const handler = {
    async handle(request: { body?: unknown }) {
      const params = new URLSearchParams(String(request.body ?? ''));
      const token = params.get('NextToken');
      const index = token ? Number(token.replace('page-', '')) : 0;
      return {
        response: {
          statusCode: 200,
          reason: 'OK',
          headers: { 'content-type': 'text/xml;charset=UTF-8', 'x-amzn-requestid': '5f8a3c1e' },
          body: pages[index],
        },
      };
    },
    updateHttpClientConfig() {},
    httpHandlerConfigs() {
      return {};
    },
    destroy() {},
  };
  return new EC2Client({
    region: 'us-east-1',
    endpoint: 'http://127.0.0.1:9', // never contacted: the stub handler answers
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    requestHandler: handler as never,
    maxAttempts: 1,
  });
}

function same(a: { addresses: number[] }, b: { addresses: number[] }): boolean {
  if (a.addresses.length !== b.addresses.length) return false;
  const x = [...a.addresses].sort((p, q) => p - q);
  const y = [...b.addresses].sort((p, q) => p - q);
  return x.every((v, i) => v === y[i]);
}

export const PARSE_COUNTS = [1_000, 10_000, 30_000, 60_000];

export async function runParse(progress: (line: string) => void = () => {}): Promise<ParseRow[]> {
  const rows: ParseRow[] = [];
  const subnet = parseCidr('10.1.0.0/16');
  for (const used of PARSE_COUNTS) {
    const objects: NetworkInterface[][] = [];
    for (let i = 0; i < used; i += PAGE_SIZE) {
      const page: NetworkInterface[] = [];
      for (let j = i; j < Math.min(used, i + PAGE_SIZE); j++) page.push(eniObject(j, formatIpv4(subnet.first + 4 + j)));
      objects.push(page);
    }
    const xmlPages = objects.map((page, p) => pageXml(page, p + 1 < objects.length ? `page-${p + 1}` : undefined));
    const xmlBytes = xmlPages.reduce((n, b) => n + b.length, 0);
    const client = stubClient(xmlPages);
    const ec2 = new SdkEc2(client, { cacheMaxAgeMs: () => 0 });

    const fromObjects = () => {
      const views: InterfaceView[] = [];
      for (const page of objects) for (const eni of page) views.push(interfaceView(eni));
      return usedSet(views, SUBNET_ID);
    };
    const fromXml = async () => usedSet(await ec2.describeInterfacesInSubnets([SUBNET_ID]), SUBNET_ID);
    const oldStyle = () => {
      const list: string[] = [];
      for (const page of objects) for (const eni of page) for (const ip of eni.PrivateIpAddresses ?? []) list.push(ip.PrivateIpAddress!);
      return list;
    };

    const consistent = same(fromObjects(), await fromXml()) && fromObjects().addresses.length === used;
    // The consistency check above already ran both paths once (warm-up).
    const plan = { warmup: 1, minRuns: 3, maxRuns: 15, budgetMs: 4_000 };
    const objectSamples = timeSync(fromObjects, plan);
    const xmlSamples = await timeAsync(fromXml, { ...plan, warmup: 0 });
    const oldSamples = timeSync(oldStyle, { ...plan, warmup: 2 });
    client.destroy();
    const row: ParseRow = {
      used,
      pages: objects.length,
      xmlBytes,
      objects: summarize(objectSamples),
      xml: summarize(xmlSamples),
      oldStyle: summarize(oldSamples),
      consistent,
    };
    rows.push(row);
    progress(`parse ${used} addresses: objects ${row.objects.median.toFixed(1)} ms, XML ${row.xml.median.toFixed(1)} ms`);
  }
  return rows;
}
