/**
 * Choosing free IPv4 addresses in a subnet. Pure: no AWS import, no I/O.
 *
 * The cost grows with the number of addresses in use (one sort), never with the size of the
 * subnet: a /16 is not enumerated.
 */
import { awsReservedRanges, type Ipv4Cidr, type Ipv4Range } from './cidr';

/** What is taken in a subnet: single addresses (ENI addresses) and ranges (prefixes, reservations). */
export interface UsedAddresses {
  /** Single addresses in use, in any order, duplicates allowed. */
  readonly addresses: ArrayLike<number>;
  /** Ranges in use or reserved (delegated prefixes, subnet CIDR reservations), in any order. */
  readonly ranges?: readonly Ipv4Range[];
}

function sortedSingles(addresses: ArrayLike<number>, subnet: Ipv4Cidr): Uint32Array {
  const inside = new Uint32Array(addresses.length);
  let n = 0;
  for (let i = 0; i < addresses.length; i++) {
    const a = addresses[i];
    if (a >= subnet.first && a <= subnet.last) inside[n++] = a;
  }
  return inside.subarray(0, n).sort();
}

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
    while (r < ranges.length && ranges[r].last < candidate) r++;
    if (r < ranges.length && ranges[r].first <= candidate) {
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
    while (r < ranges.length && ranges[r].last < a) r++;
    if (!(r < ranges.length && ranges[r].first <= a)) taken++;
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
