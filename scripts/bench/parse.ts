/**
 * Benchmark 1b: reading what is used in a subnet, in process, no network. Lowest-free allocation
 * reads every ENI of the subnet (DescribeNetworkInterfaces, pages of 1,000) when it has no map of it;
 * this times that read for a subnet of N used addresses, the pages written as EC2 writes them and
 * answered from memory by a stub HTTP handler through a real `EC2Client` (middleware, signing):
 *   - "SDK": the SDK's XML deserialiser, the adapter's `describeInterfacesInSubnets` and the used
 *     set as the main branch's ENI code builds it (every ENI's view kept, addresses parsed into a list);
 *   - "scanner": the adapter's `scanSubnets`, as the launch reads a subnet now: each page's text
 *     read by the page scanner into a bit set of the subnet, nothing kept of an ENI but its addresses.
 * Each ENI carries one address (multus ENIs have one): the most ENIs and bytes per address, so an
 * upper bound for a subnet of N addresses.
 */
import { formatIpv4, parseCidr, parseIpv4, SdkEc2, type InterfaceView, type Ipv4Range } from 'multus-core';
import { describePageXml, interfaceXml, stubEc2Client, type InterfaceModel } from '../../tests/support/ec2-xml';
import { summarize, timeAsync, type Summary } from './stats';

export interface ParseRow {
  readonly used: number;
  readonly pages: number;
  readonly xmlBytes: number;
  /** The SDK's deserialiser + interfaceView + the used list (the main branch's read). */
  readonly sdk: Summary;
  /** The page scanner into a bit set (scanSubnets). */
  readonly scanner: Summary;
  /** Both paths found the same used addresses. */
  readonly consistent: boolean;
}

const PAGE_SIZE = 1000;
const SUBNET_ID = 'subnet-0123456789abcdef0';
const VPC_ID = 'vpc-0123456789abcdef0';

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

/** One ENI of ours, attached to a node, as EC2 writes it. */
function eni(i: number, address: string): { xml: string } {
  const instanceId = `i-0${hex(i >> 1, 16)}`;
  const model: InterfaceModel = {
    id: `eni-0${hex(i, 16)}`,
    subnetId: SUBNET_ID,
    vpcId: VPC_ID,
    availabilityZone: 'us-east-1a',
    addresses: [address],
    tags: { 'node.k8s.amazonaws.com/no_manage': 'true', 'eks-multus-eni/instance-id': instanceId, 'eks-multus-eni/device-index': '1', cnf: 'upf-1' },
    attachment: { id: `eni-attach-0${hex(i, 16)}`, instanceId, deviceIndex: 1, deleteOnTermination: true },
    description: `eks-multus-eni: ${instanceId} device 1`,
    mac: `02:${hex((i >> 24) & 255, 2)}:${hex((i >> 16) & 255, 2)}:${hex((i >> 8) & 255, 2)}:${hex(i & 255, 2)}:01`,
  };
  return { xml: interfaceXml(model) };
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

export const PARSE_COUNTS = [1_000, 10_000, 30_000, 60_000];

export async function runParse(progress: (line: string) => void = () => {}): Promise<ParseRow[]> {
  const rows: ParseRow[] = [];
  const subnet = parseCidr('10.1.0.0/16');
  for (const used of PARSE_COUNTS) {
    const pages: string[] = [];
    for (let i = 0; i < used; i += PAGE_SIZE) {
      const items: string[] = [];
      for (let j = i; j < Math.min(used, i + PAGE_SIZE); j++) items.push(eni(j, formatIpv4(subnet.first + 4 + j)).xml);
      pages.push(describePageXml(items, i + PAGE_SIZE < used ? `page-${pages.length + 1}` : undefined));
    }
    const bodies = pages.map((p) => Buffer.from(p));
    const xmlBytes = bodies.reduce((n, b) => n + b.length, 0);
    const client = stubEc2Client((params) => bodies[Number((params.get('NextToken') ?? 'page-0').replace('page-', ''))]);
    const ec2 = new SdkEc2(client, { cacheMaxAgeMs: () => 0 });

    const sdk = async () => usedSet(await ec2.describeInterfacesInSubnets([SUBNET_ID]), SUBNET_ID);
    const scanner = async () => (await ec2.scanSubnets({ subnets: [{ subnetId: SUBNET_ID, block: subnet }], ownerTag: 'eks-multus-eni/instance-id', keep: 'i-none' })).held.get(SUBNET_ID)!;

    const fromSdk = [...new Set((await sdk()).addresses)].sort((a, b) => a - b);
    const fromScanner = [...(await scanner()).sorted()];
    const consistent = fromSdk.length === used && fromSdk.every((a, i) => a === fromScanner[i]) && fromScanner.length === used;
    // The check above ran both once (warm-up); alternate the two so that machine noise hits both alike.
    const plan = { warmup: 0, minRuns: 1, maxRuns: 1, budgetMs: 0 };
    const sdkSamples: number[] = [];
    const scannerSamples: number[] = [];
    for (let round = 0; round < (used >= 30_000 ? 3 : 7); round++) {
      sdkSamples.push(...(await timeAsync(sdk, plan)));
      scannerSamples.push(...(await timeAsync(scanner, plan)));
    }
    client.destroy();
    const row: ParseRow = { used, pages: pages.length, xmlBytes, sdk: summarize(sdkSamples), scanner: summarize(scannerSamples), consistent };
    rows.push(row);
    progress(`parse ${used} addresses: SDK ${row.sdk.median.toFixed(1)} ms, scanner ${row.scanner.median.toFixed(1)} ms`);
  }
  return rows;
}
