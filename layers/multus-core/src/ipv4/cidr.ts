/**
 * IPv4 arithmetic on unsigned 32-bit numbers. Pure: no AWS import, no I/O.
 */

/** An inclusive range of IPv4 addresses, as unsigned 32-bit numbers. */
export interface Ipv4Range {
  readonly first: number;
  readonly last: number;
}

/** A parsed IPv4 CIDR block. */
export interface Ipv4Cidr extends Ipv4Range {
  readonly text: string;
  readonly prefixLength: number;
}

export class InvalidIpv4Error extends Error {
  override readonly name = 'InvalidIpv4Error';
}

/**
 * Parses a dotted-quad IPv4 address into an unsigned 32-bit number. A character loop rather than
 * split and regexes: a subnet's ENI list can hold tens of thousands of addresses.
 */
export function parseIpv4(text: string): number {
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 46 /* . */) {
      if (digits === 0 || dots === 3) throw new InvalidIpv4Error(`"${text}" is not an IPv4 address`);
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      // No leading zeros ("01"), at most three digits, at most 255.
      if (digits > 0 && octet === 0) throw new InvalidIpv4Error(`"${text}" is not an IPv4 address`);
      octet = octet * 10 + (c - 48);
      digits++;
      if (octet > 255) throw new InvalidIpv4Error(`"${text}" is not an IPv4 address`);
    } else {
      throw new InvalidIpv4Error(`"${text}" is not an IPv4 address`);
    }
  }
  if (dots !== 3 || digits === 0) throw new InvalidIpv4Error(`"${text}" is not an IPv4 address`);
  return value * 256 + octet;
}

/** Formats an unsigned 32-bit number as a dotted-quad IPv4 address. */
export function formatIpv4(value: number): string {
  return `${value >>> 24}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`;
}

/** Parses `a.b.c.d/n`; the address must be the network address of the block. */
export function parseCidr(text: string): Ipv4Cidr {
  const slash = text.indexOf('/');
  const prefixText = slash < 0 ? '' : text.slice(slash + 1);
  if (!/^(3[0-2]|[12]?\d)$/.test(prefixText)) {
    throw new InvalidIpv4Error(`"${text}" is not an IPv4 CIDR block`);
  }
  const prefixLength = Number(prefixText);
  const base = parseIpv4(text.slice(0, slash));
  const size = 2 ** (32 - prefixLength);
  if (base % size !== 0) {
    throw new InvalidIpv4Error(`"${text}" is not the network address of its block`);
  }
  return { text, prefixLength, first: base, last: base + size - 1 };
}

/** Number of addresses in a range. */
export function rangeSize(range: Ipv4Range): number {
  return range.last - range.first + 1;
}

/**
 * The addresses of a VPC subnet that AWS never hands out: the network address, the next three
 * (VPC router, DNS, future use) and the broadcast address.
 */
export function awsReservedRanges(subnet: Ipv4Cidr): Ipv4Range[] {
  return [
    { first: subnet.first, last: Math.min(subnet.first + 3, subnet.last) },
    { first: subnet.last, last: subnet.last },
  ];
}
