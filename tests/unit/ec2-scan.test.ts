/**
 * The page scanner of the EC2 adapter (ec2/scan.ts) against the SDK's own deserialiser: the same
 * answers, written as EC2 writes them (and as moto does), read both ways must give the same ENIs,
 * addresses and prefixes, IPv6 ones included (dual-stack ENIs, and ENIs of IPv6-only subnets, which
 * have no IPv4 address at all).
 */
import { formatIpv4, interfaceView, parseCidr, parseIpv4, scanInterfacePage, SdkEc2, type InterfaceView } from 'multus-core';
import { DescribeNetworkInterfacesCommand } from '@aws-sdk/client-ec2';
import { random } from '../../scripts/bench/random';
import { describePageXml, interfaceXml, stubEc2Client, type InterfaceModel } from '../support/ec2-xml';

const rnd = random(7);
const pick = (n: number) => Math.floor(rnd() * n);
const subnet = parseCidr('10.1.0.0/16');

const hex = () => pick(0x10000).toString(16);

function randomInterface(i: number): InterfaceModel {
  // Every seventh ENI lies in an IPv6-only subnet: no IPv4 address; every third is dual-stack.
  const ipv6Only = i % 7 === 3;
  const addresses = ipv6Only ? [] : Array.from({ length: 1 + pick(3) }, () => formatIpv4(subnet.first + 4 + pick(60_000)));
  const ipv6Addresses = ipv6Only || i % 3 === 1 ? Array.from({ length: 1 + pick(2) }, () => `2600:1f18:4f1:ac01:${hex()}:${hex()}:${hex()}:${hex()}`) : [];
  const ipv6Prefixes = ipv6Addresses.length > 0 ? Array.from({ length: pick(3) }, () => `2600:1f18:4f1:ac01:${hex()}::/80`) : [];
  const prefixes = Array.from({ length: pick(3) }, () => `${formatIpv4(subnet.first + 16 * (1 + pick(4000)))}/28`);
  const tags: Record<string, string> = { 'node.k8s.amazonaws.com/no_manage': 'true', 'eks-multus-eni/instance-id': `i-${i % 7}`, cnf: 'a & <b> "c"' };
  if (i % 5 === 0) tags.empty = '';
  return {
    id: `eni-${i}`,
    subnetId: i % 3 === 0 ? 'subnet-b' : 'subnet-a',
    vpcId: 'vpc-1',
    availabilityZone: 'us-east-1a',
    addresses: [...new Set(addresses)],
    prefixes: ipv6Only ? [] : prefixes,
    ipv6Addresses,
    ipv6Prefixes,
    ...(ipv6Addresses.length > 0 ? { ipv6Native: ipv6Only } : {}),
    tags,
    attachment: i % 2 === 0 ? { id: `eni-attach-${i}`, instanceId: `i-${i % 7}`, deviceIndex: 1 + (i % 3), deleteOnTermination: i % 4 === 0 } : undefined,
    sourceDestCheck: i % 2 === 1,
  };
}

async function sdkViews(xml: string): Promise<InterfaceView[]> {
  const client = stubEc2Client(() => xml);
  const out = await client.send(new DescribeNetworkInterfacesCommand({}));
  return (out.NetworkInterfaces ?? []).map(interfaceView);
}

test('random ENIs: the scanner reads the same views, addresses, prefixes and tag values as the SDK', async () => {
  const models = Array.from({ length: 300 }, (_, i) => randomInterface(i));
  const xml = describePageXml(models.map(interfaceXml), 'next&page');
  const expected = await sdkViews(xml);
  const views: InterfaceView[] = [];
  const addresses: number[][] = [];
  const prefixes: string[][] = [];
  const owners: (string | undefined)[] = [];
  const summary = scanInterfacePage(
    xml,
    (eni) => {
      const held: number[] = [];
      eni.forEachAddress((a) => held.push(a));
      addresses.push([...new Set(held)]);
      const ranges: string[] = [];
      eni.forEachPrefix((r) => ranges.push(`${formatIpv4(r.first)}-${formatIpv4(r.last)}`));
      prefixes.push(ranges);
      owners.push(eni.tagValue());
      expect(eni.subnetId()).toBe(expected[views.length].subnetId);
      views.push(eni.view());
    },
    'eks-multus-eni/instance-id',
  );
  expect(summary).toEqual({ interfaces: 300, nextToken: 'next&page' });
  expect(views).toEqual(expected);
  // The answer did carry IPv6 both ways (not two empty lists agreeing).
  expect(expected.filter((e) => e.ipv6Addresses.length > 0 && e.ipv6Prefixes.length > 0).length).toBeGreaterThan(10);
  expect(expected.filter((e) => e.privateIpAddress === undefined && e.ipv6Addresses.length > 0).length).toBeGreaterThan(10);
  expect(addresses).toEqual(expected.map((e) => e.privateIpAddresses.map(parseIpv4)));
  expect(prefixes).toEqual(expected.map((e) => e.ipv4Prefixes.map((p) => { const c = parseCidr(p); return `${formatIpv4(c.first)}-${formatIpv4(c.last)}`; })));
  expect(owners).toEqual(expected.map((e) => e.tags['eks-multus-eni/instance-id']));
});

test("moto's layout (other field order, self-closing elements, entities in a tag value)", async () => {
  const xml =
    '<?xml version="1.0" encoding="utf-8"?>\n<DescribeNetworkInterfacesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15"><networkInterfaceSet><item><availabilityZone>us-east-1f</availabilityZone><description/><groupSet><item><groupId>sg-629e62fc6e3a86da4</groupId><groupName>default</groupName></item></groupSet><interfaceType>interface</interfaceType><ipv6AddressesSet/><macAddress>02:00:00:19:88:1c</macAddress><networkInterfaceId>eni-400fc46aad34eb6ca</networkInterfaceId><ownerId>123456789012</ownerId><privateIpAddress>10.0.1.10</privateIpAddress><privateIpAddressesSet><item><primary>true</primary><privateIpAddress>10.0.1.10</privateIpAddress></item><item><primary>false</primary><privateIpAddress>10.0.1.239</privateIpAddress></item></privateIpAddressesSet><requesterId>AIDAIT2UOQQY3AUEMOTO</requesterId><requesterManaged>false</requesterManaged><sourceDestCheck>true</sourceDestCheck><status>available</status><subnetId>subnet-e132236865604dfdc</subnetId><tagSet><item><key>eks-multus-eni/instance-id</key><value>i-1 &amp; &lt;x&gt;</value></item></tagSet><vpcId>vpc-e87fc233b49a6ff89</vpcId></item></networkInterfaceSet><requestId>request-id</requestId></DescribeNetworkInterfacesResponse>';
  const seen: InterfaceView[] = [];
  const owner: (string | undefined)[] = [];
  expect(scanInterfacePage(xml, (e) => { seen.push(e.view()); owner.push(e.tagValue()); }, 'eks-multus-eni/instance-id')).toEqual({ interfaces: 1, nextToken: undefined });
  expect(seen).toEqual(await sdkViews(xml));
  expect(owner).toEqual(['i-1 & <x>']);
});

test('an empty answer, and one that is cut short', () => {
  const empty = '<DescribeNetworkInterfacesResponse><requestId>r</requestId><networkInterfaceSet/></DescribeNetworkInterfacesResponse>';
  expect(scanInterfacePage(empty, () => { throw new Error('no ENI expected'); })).toEqual({ interfaces: 0, nextToken: undefined });
  const page = describePageXml([interfaceXml(randomInterface(1))]);
  expect(() => scanInterfacePage(page.slice(0, page.length - 200), () => undefined)).toThrow(expect.objectContaining({ name: 'MalformedAnswerError' }));
  expect(() => scanInterfacePage('<Response><Errors/></Response>', () => undefined)).toThrow('without networkInterfaceSet');
});

test('the adapter reads every page through the scanner: addresses of every ENI, the whole of those it keeps', async () => {
  const models = Array.from({ length: 25 }, (_, i) => randomInterface(i));
  const pages = [models.slice(0, 10), models.slice(10, 20), models.slice(20)];
  const sizes: string[] = [];
  const client = stubEc2Client((params) => {
    sizes.push(params.get('MaxResults') ?? '');
    const index = Number(params.get('NextToken') ?? 0);
    return describePageXml(pages[index].map(interfaceXml), index + 1 < pages.length ? String(index + 1) : undefined);
  });
  const ec2 = new SdkEc2(client, { cacheMaxAgeMs: () => 0, pageSize: 10 });
  const subnets = [{ subnetId: 'subnet-a', block: subnet }, { subnetId: 'subnet-b', block: subnet }];

  const scan = await ec2.scanSubnets({ subnets, ownerTag: 'eks-multus-eni/instance-id', keep: 'i-3', watch: new Set(['i-4', 'i-5']) });

  expect(sizes).toEqual(['10', '10', '10']);
  expect(scan.pages).toBe(3);
  const expected = await sdkViews(describePageXml(models.map(interfaceXml)));
  for (const s of ['subnet-a', 'subnet-b']) {
    const mine = expected.filter((e) => e.subnetId === s);
    const taken = new Set(mine.flatMap((e) => [...e.privateIpAddresses.map(parseIpv4), ...e.ipv4Prefixes.flatMap((p) => { const c = parseCidr(p); return Array.from({ length: 16 }, (_, k) => c.first + k); })]));
    expect([...scan.held.get(s)!.sorted()]).toEqual([...taken].sort((a, b) => a - b));
    expect([...(scan.owners.get(s) ?? [])].sort()).toEqual([...new Set(mine.map((e) => e.tags['eks-multus-eni/instance-id']).filter((o) => o === 'i-4' || o === 'i-5'))].sort());
  }
  expect(scan.kept).toEqual(expected.filter((e) => e.tags['eks-multus-eni/instance-id'] === 'i-3'));
});

test('a subnet read without an IPv4 block (IPv6-only): its ENIs are kept and watched, no address set is made for it', async () => {
  const models = Array.from({ length: 30 }, (_, i) => randomInterface(i));
  const client = stubEc2Client(() => describePageXml(models.map(interfaceXml)));
  const ec2 = new SdkEc2(client, { cacheMaxAgeMs: () => 0 });

  const scan = await ec2.scanSubnets({ subnets: [{ subnetId: 'subnet-a', block: subnet }, { subnetId: 'subnet-b' }], ownerTag: 'eks-multus-eni/instance-id', keep: 'i-3', watch: new Set(['i-4']) });

  expect([...scan.held.keys()]).toEqual(['subnet-a']);
  const expected = await sdkViews(describePageXml(models.map(interfaceXml)));
  expect(scan.kept).toEqual(expected.filter((e) => e.tags['eks-multus-eni/instance-id'] === 'i-3'));
  expect(scan.kept.some((e) => e.subnetId === 'subnet-b')).toBe(true);
  expect([...(scan.owners.get('subnet-b') ?? [])]).toEqual(expected.some((e) => e.subnetId === 'subnet-b' && e.tags['eks-multus-eni/instance-id'] === 'i-4') ? ['i-4'] : []);
});
