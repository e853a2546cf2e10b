/**
 * ENIs written as EC2 writes them in a DescribeNetworkInterfaces answer (every field a multus ENI
 * of ours carries on EC2, in EC2's order), and an EC2 client whose HTTP handler answers from
 * memory. Used by the fidelity proxy's bulk ENIs, the scanner's tests and the benchmarks.
 */
import { EC2Client } from '@aws-sdk/client-ec2';

export interface InterfaceModel {
  readonly id: string;
  readonly subnetId: string;
  readonly vpcId: string;
  readonly availabilityZone: string;
  /** The primary first; none for an ENI of an IPv6-only subnet. */
  readonly addresses: readonly string[];
  readonly prefixes?: readonly string[];
  readonly ipv6Addresses?: readonly string[];
  /** Delegated IPv6 /80 prefixes. */
  readonly ipv6Prefixes?: readonly string[];
  /** An ENI of an IPv6-only subnet (EC2's `ipv6Native`). */
  readonly ipv6Native?: boolean;
  readonly tags: Readonly<Record<string, string>>;
  readonly attachment?: { readonly id: string; readonly instanceId: string; readonly deviceIndex: number; readonly deleteOnTermination: boolean };
  readonly description?: string;
  readonly mac?: string;
  readonly sourceDestCheck?: boolean;
}

const OWNER = '123456789012';

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

const dnsName = (address: string) => `ip-${address.replace(/\./g, '-')}.ec2.internal`;

/** One ENI as an `<item>` of `networkInterfaceSet`. */
export function interfaceXml(e: InterfaceModel): string {
  const a = e.attachment;
  const tags = Object.entries(e.tags)
    .map(([k, v]) => `<item><key>${escapeXml(k)}</key><value>${escapeXml(v)}</value></item>`)
    .join('');
  const ips = e.addresses
    .map((p, i) => `<item><privateIpAddress>${p}</privateIpAddress><privateDnsName>${dnsName(p)}</privateDnsName><primary>${i === 0}</primary></item>`)
    .join('');
  const prefixes = (e.prefixes ?? []).map((p) => `<item><ipv4Prefix>${p}</ipv4Prefix></item>`).join('');
  const ipv6 = (e.ipv6Addresses ?? []).map((a) => `<item><ipv6Address>${a}</ipv6Address><isPrimaryIpv6>false</isPrimaryIpv6></item>`).join('');
  const ipv6Prefixes = (e.ipv6Prefixes ?? []).map((p) => `<item><ipv6Prefix>${p}</ipv6Prefix></item>`).join('');
  const primary = e.addresses[0];
  return (
    `<item><networkInterfaceId>${e.id}</networkInterfaceId><subnetId>${e.subnetId}</subnetId>` +
    `<vpcId>${e.vpcId}</vpcId><availabilityZone>${e.availabilityZone}</availabilityZone>` +
    `<description>${escapeXml(e.description ?? '')}</description><ownerId>${OWNER}</ownerId><requesterManaged>false</requesterManaged>` +
    `<status>${a ? 'in-use' : 'available'}</status><macAddress>${e.mac ?? '02:00:00:00:00:01'}</macAddress>` +
    (primary ? `<privateIpAddress>${primary}</privateIpAddress><privateDnsName>${dnsName(primary)}</privateDnsName>` : '') +
    `<sourceDestCheck>${e.sourceDestCheck ?? false}</sourceDestCheck>` +
    `<groupSet><item><groupId>sg-0123456789abcdef0</groupId><groupName>multus</groupName></item></groupSet>` +
    (a
      ? `<attachment><attachmentId>${a.id}</attachmentId><instanceId>${a.instanceId}</instanceId>` +
        `<instanceOwnerId>${OWNER}</instanceOwnerId><deviceIndex>${a.deviceIndex}</deviceIndex>` +
        `<networkCardIndex>0</networkCardIndex><status>attached</status><attachTime>2026-01-01T00:00:00.000Z</attachTime>` +
        `<deleteOnTermination>${a.deleteOnTermination}</deleteOnTermination></attachment>`
      : '') +
    `<tagSet>${tags}</tagSet><privateIpAddressesSet>${ips}</privateIpAddressesSet>` +
    (ipv6 ? `<ipv6AddressesSet>${ipv6}</ipv6AddressesSet>` : '<ipv6AddressesSet/>') +
    (prefixes ? `<ipv4PrefixSet>${prefixes}</ipv4PrefixSet>` : '') +
    (ipv6Prefixes ? `<ipv6PrefixSet>${ipv6Prefixes}</ipv6PrefixSet>` : '') +
    (e.ipv6Native !== undefined ? `<ipv6Native>${e.ipv6Native}</ipv6Native>` : '') +
    `<interfaceType>interface</interfaceType></item>`
  );
}

/** A whole DescribeNetworkInterfaces answer holding these `<item>`s. */
export function describePageXml(items: readonly string[], nextToken?: string): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<DescribeNetworkInterfacesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">` +
    `<requestId>5f8a3c1e-0000-4000-8000-000000000000</requestId><networkInterfaceSet>${items.join('')}</networkInterfaceSet>` +
    (nextToken ? `<nextToken>${escapeXml(nextToken)}</nextToken>` : '') +
    `</DescribeNetworkInterfacesResponse>`
  );
}

/** An EC2 client whose HTTP handler answers every request from `answer` (the request's query parameters in, XML out). No network. */
export function stubEc2Client(answer: (params: URLSearchParams) => string | Buffer): EC2Client {
  const handler = {
    async handle(request: { body?: unknown }) {
      const body = answer(new URLSearchParams(String(request.body ?? '')));
      return {
        response: {
          statusCode: 200,
          reason: 'OK',
          headers: { 'content-type': 'text/xml;charset=UTF-8', 'x-amzn-requestid': '5f8a3c1e' },
          body: typeof body === 'string' ? Buffer.from(body) : body,
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
