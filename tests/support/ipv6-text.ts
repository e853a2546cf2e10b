/**
 * IPv6 text and arithmetic for the test doubles (the fidelity proxy's IPv6 and the fake EC2 port):
 * an address as a bigint, a CIDR as its first and last address, and EC2's way of writing them
 * (RFC 5952: lower case, the longest run of zero groups shortened to `::`).
 */

export interface Ipv6Range {
  readonly first: bigint;
  readonly last: bigint;
  readonly bits: number;
}

/** `2600:1f18::1` as a bigint; throws on anything else. */
export function ipv6ToBigInt(text: string): bigint {
  const halves = text.trim().toLowerCase().split('::');
  if (halves.length > 2) throw new Error(`"${text}" is not an IPv6 address`);
  const groups = (part: string) => (part === '' ? [] : part.split(':'));
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  const missing = 8 - head.length - tail.length;
  if ((halves.length === 2 && missing < 1) || (halves.length === 1 && missing !== 0)) throw new Error(`"${text}" is not an IPv6 address`);
  const all = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  return all.reduce((acc, g) => {
    if (!/^[0-9a-f]{1,4}$/.test(g)) throw new Error(`"${text}" is not an IPv6 address`);
    return (acc << 16n) | BigInt(parseInt(g, 16));
  }, 0n);
}

/** A bigint as EC2 writes an IPv6 address. */
export function bigIntToIpv6(value: bigint): string {
  const groups = Array.from({ length: 8 }, (_, i) => Number((value >> BigInt(16 * (7 - i))) & 0xffffn));
  let best = { at: -1, length: 0 };
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best.length && j - i > 1) best = { at: i, length: j - i };
    i = j;
  }
  const text = groups.map((g) => g.toString(16));
  if (best.at < 0) return text.join(':');
  return `${text.slice(0, best.at).join(':')}::${text.slice(best.at + best.length).join(':')}`;
}

/** `2600:1f18:4f1:ac01::/64` as a range; undefined when it is not an aligned IPv6 CIDR. */
export function ipv6Cidr(text: string): Ipv6Range | undefined {
  const m = /^([0-9a-fA-F:]+)\/(\d{1,3})$/.exec(text.trim());
  if (!m || Number(m[2]) > 128) return undefined;
  let base: bigint;
  try {
    base = ipv6ToBigInt(m[1]);
  } catch {
    return undefined;
  }
  const bits = Number(m[2]);
  const size = 1n << BigInt(128 - bits);
  return base % size === 0n ? { first: base, last: base + size - 1n, bits } : undefined;
}

export const ipv6CidrText = (first: bigint, bits: number): string => `${bigIntToIpv6(first)}/${bits}`;

/** The IPv6 held in one subnet block: single addresses, and delegated prefixes. */
export interface Ipv6Held {
  readonly addresses: ReadonlySet<bigint>;
  readonly prefixes: readonly Ipv6Range[];
}

const PREFIX_BITS = 80;
const inside = (a: bigint, r: Ipv6Range) => r.first <= a && a <= r.last;

/**
 * The lowest `count` free addresses of the block, outside the first four and the last (AWS
 * reserves them, as in IPv4) and every held address and prefix; undefined when fewer are free.
 * (EC2 picks at random within the block; the lowest is as good for a test and easier to read.)
 */
export function freeIpv6Addresses(block: Ipv6Range, held: Ipv6Held, count: number): string[] | undefined {
  const out: string[] = [];
  for (let a = block.first + 4n; a < block.last && out.length < count; a++) {
    if (!held.addresses.has(a) && !held.prefixes.some((p) => inside(a, p))) out.push(bigIntToIpv6(a));
  }
  return out.length === count ? out : undefined;
}

/**
 * The lowest `count` free /80 prefixes of the block: none holding an address or prefix already held,
 * nor a reserved address (so never the first or last /80); undefined when fewer are free.
 */
export function freeIpv6Prefixes(block: Ipv6Range, held: Ipv6Held, count: number): string[] | undefined {
  if (block.bits > PREFIX_BITS) return undefined;
  const size = 1n << BigInt(128 - PREFIX_BITS);
  const out: string[] = [];
  for (let p = block.first + size; p + size - 1n < block.last && out.length < count; p += size) {
    const range = { first: p, last: p + size - 1n, bits: PREFIX_BITS };
    if ([...held.addresses].some((a) => inside(a, range))) continue;
    if (held.prefixes.some((q) => q.first <= range.last && range.first <= q.last)) continue;
    out.push(ipv6CidrText(p, PREFIX_BITS));
  }
  return out.length === count ? out : undefined;
}
