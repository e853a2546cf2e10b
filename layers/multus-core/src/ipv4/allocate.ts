/**
 * Choosing free IPv4 addresses in a subnet. Pure: no AWS import, no I/O.
 *
 * The cost grows with the number of addresses in use (one sort), never with the size of the
 * subnet: a /16 is not enumerated.
 */
import { AddressSet } from './bitmap';
import { awsReservedRanges, type Ipv4Cidr, type Ipv4Range } from './cidr';

/** What is taken in a subnet: single addresses (ENI addresses) and ranges (prefixes, reservations). */
export interface UsedAddresses {
  /** Single addresses in use: in any order, duplicates allowed, or a bit set of the subnet. */
  readonly addresses: ArrayLike<number> | AddressSet;
  /** Ranges in use or reserved (delegated prefixes, subnet CIDR reservations), in any order. */
  readonly ranges?: readonly Ipv4Range[];
}

function sortedSingles(addresses: ArrayLike<number> | AddressSet, subnet: Ipv4Cidr): Uint32Array {
  // A bit set is sorted and free of duplicates already: no sort, and no cost per address of the subnet beyond a word.
  if (addresses instanceof AddressSet) {
    const all = addresses.sorted();
    if (addresses.block.first >= subnet.first && addresses.block.last <= subnet.last) return all;
    addresses = all;
  }
  const inside = new Uint32Array(addresses.length);
  let n = 0;
  for (let i = 0; i < addresses.length; i++) {
    const a = addresses[i];
    if (a >= subnet.first && a <= subnet.last) inside[n++] = a;
  }
  return inside.subarray(0, n).sort();
}

/**
 * The ranges that touch the subnet, AWS's reservations included, by first address. The last one
 * holds the subnet's last address (AWS reserves it, and no range starts later), so a scan of the
 * subnet in ascending order always finds a range that ends at or after its position: the scans
 * below need no bound on their range index. The same holds after mergeRanges.
 */
function sortedRanges(ranges: readonly Ipv4Range[], subnet: Ipv4Cidr): Ipv4Range[] {
  return [...awsReservedRanges(subnet), ...ranges]
    .filter((r) => r.last >= subnet.first && r.first <= subnet.last && r.first <= r.last)
    .sort((a, b) => a.first - b.first);
}

/**
 * The free addresses of the subnet in ascending order, lazily: the caller takes as many as it needs
 * (the lowest free one, then the next after a race lost to a concurrent launch, ...).
 */
export function* freeAddresses(subnet: Ipv4Cidr, used: UsedAddresses): Generator<number, void, undefined> {
  const singles = sortedSingles(used.addresses, subnet);
  const ranges = sortedRanges(used.ranges ?? [], subnet);
  let s = 0;
  let r = 0;
  let candidate = subnet.first;
  while (candidate <= subnet.last) {
    while (ranges[r].last < candidate) r++;
    if (ranges[r].first <= candidate) {
      candidate = ranges[r].last + 1;
      continue;
    }
    while (s < singles.length && singles[s] < candidate) s++;
    if (s < singles.length && singles[s] === candidate) {
      candidate++;
      continue;
    }
    yield candidate;
    candidate++;
  }
}

/** The `count` lowest free addresses of the subnet (fewer when the subnet has fewer free). */
export function lowestFree(subnet: Ipv4Cidr, used: UsedAddresses, count: number): number[] {
  const out: number[] = [];
  if (count <= 0) return out;
  for (const address of freeAddresses(subnet, used)) {
    out.push(address);
    if (out.length >= count) break;
  }
  return out;
}

/** How many addresses of the subnet are free (AWS reservations and everything in `used` excluded). */
export function countFree(subnet: Ipv4Cidr, used: UsedAddresses): number {
  const singles = sortedSingles(used.addresses, subnet);
  const ranges = mergeRanges(sortedRanges(used.ranges ?? [], subnet), subnet);
  let taken = 0;
  for (const range of ranges) taken += range.last - range.first + 1;
  let r = 0;
  let previous = -1;
  for (const a of singles) {
    if (a === previous) continue;
    previous = a;
    while (ranges[r].last < a) r++;
    if (ranges[r].first > a) taken++;
  }
  return subnet.last - subnet.first + 1 - taken;
}

function mergeRanges(sorted: Ipv4Range[], subnet: Ipv4Cidr): Ipv4Range[] {
  const merged: { first: number; last: number }[] = [];
  for (const range of sorted) {
    const first = Math.max(range.first, subnet.first);
    const last = Math.min(range.last, subnet.last);
    const top = merged[merged.length - 1];
    if (top && first <= top.last + 1) top.last = Math.max(top.last, last);
    else merged.push({ first, last });
  }
  return merged;
}

/** The size of an IPv4 prefix EC2 delegates to an ENI (a /28). */
export const PREFIX_BLOCK_SIZE = 16;

/**
 * The free aligned blocks of `size` addresses (a power of two) in ascending order, lazily, as the
 * first address of each: blocks wholly free of every used address and range and of AWS's reserved
 * addresses (so never the subnet's first or last block). Cost grows with what is used and the
 * blocks yielded, never with the subnet's size.
 */
export function* freeBlocks(subnet: Ipv4Cidr, used: UsedAddresses, size = PREFIX_BLOCK_SIZE): Generator<number, void, undefined> {
  const singles = sortedSingles(used.addresses, subnet);
  const ranges = mergeRanges(sortedRanges(used.ranges ?? [], subnet), subnet);
  const align = (a: number) => Math.ceil((a - subnet.first) / size) * size + subnet.first;
  let s = 0;
  let r = 0;
  let block = align(subnet.first);
  while (block + size - 1 <= subnet.last) {
    const end = block + size - 1;
    while (ranges[r].last < block) r++;
    if (ranges[r].first <= end) {
      block = align(ranges[r].last + 1);
      continue;
    }
    while (s < singles.length && singles[s] < block) s++;
    if (s < singles.length && singles[s] <= end) {
      block = align(singles[s] + 1);
      continue;
    }
    yield block;
    block += size;
  }
}

function inside(block: number, size: number, ranges: readonly Ipv4Range[]): boolean {
  return ranges.some((r) => r.first <= block && block + size - 1 <= r.last);
}

/**
 * The `count` lowest free aligned blocks, those wholly inside `preferred` (the subnet's prefix-type
 * CIDR reservations, where EC2 takes prefixes from) first, then the lowest elsewhere; `skip` free
 * blocks are passed over first (a node's rank among concurrent launches). Fewer when the subnet
 * has fewer.
 */
export function lowestFreeBlocks(
  subnet: Ipv4Cidr,
  used: UsedAddresses,
  count: number,
  options: { preferred?: readonly Ipv4Range[]; skip?: number; size?: number } = {},
): number[] {
  const size = options.size ?? PREFIX_BLOCK_SIZE;
  const preferred = options.preferred ?? [];
  const ordered = function* (): Generator<number> {
    if (preferred.length > 0) for (const b of freeBlocks(subnet, used, size)) if (inside(b, size, preferred)) yield b;
    for (const b of freeBlocks(subnet, used, size)) if (!inside(b, size, preferred)) yield b;
  };
  const out: number[] = [];
  let skip = options.skip ?? 0;
  if (count <= 0) return out;
  for (const b of ordered()) {
    if (skip > 0) {
      skip--;
      continue;
    }
    out.push(b);
    if (out.length >= count) break;
  }
  return out;
}

/** How many free aligned blocks the subnet has, counting at most `cap`. */
export function countFreeBlocks(subnet: Ipv4Cidr, used: UsedAddresses, cap: number, size = PREFIX_BLOCK_SIZE): number {
  let n = 0;
  for (const _ of freeBlocks(subnet, used, size)) if (++n >= cap) break;
  return n;
}
