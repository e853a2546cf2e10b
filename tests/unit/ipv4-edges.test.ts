import {
  AddressSet,
  countFree,
  countFreeBlocks,
  formatIpv4,
  lowestFree,
  lowestFreeBlocks,
  parseCidr,
  parseIpv4,
  type Ipv4Cidr,
  type Ipv4Range,
  type UsedAddresses,
} from 'multus-core';
import { random } from '../../scripts/bench/random';

const ip = parseIpv4;
const range = (first: string, last: string): Ipv4Range => ({ first: ip(first), last: ip(last) });
const sortedOf = (set: AddressSet) => [...set.sorted()].map(formatIpv4);

describe('AddressSet at the edges of its block and of its 32-bit words', () => {
  test('the first and the last address of the block are members like any other', () => {
    const set = new AddressSet(parseCidr('10.0.1.0/24'));
    set.add(ip('10.0.1.0'));
    set.add(ip('10.0.1.255'));
    expect(set.has(ip('10.0.1.0'))).toBe(true);
    expect(set.has(ip('10.0.1.255'))).toBe(true);
    expect(set.size).toBe(2);
    expect(sortedOf(set)).toEqual(['10.0.1.0', '10.0.1.255']);
    set.delete(ip('10.0.1.0'));
    expect(sortedOf(set)).toEqual(['10.0.1.255']);
  });

  test('addresses just outside the block are neither added nor members', () => {
    const set = new AddressSet(parseCidr('10.0.1.0/24'));
    set.add(ip('10.0.0.255'));
    set.add(ip('10.0.2.0'));
    expect(set.size).toBe(0);
    set.addRange(parseCidr('10.0.1.0/24'));
    expect(set.size).toBe(256);
    expect(set.has(ip('10.0.0.255'))).toBe(false);
    expect(set.has(ip('10.0.2.0'))).toBe(false);
    expect(set.has(ip('10.0.1.0'))).toBe(true);
  });

  test('deleting an address that is not in the set changes nothing', () => {
    const set = new AddressSet(parseCidr('10.0.1.0/28'));
    set.add(ip('10.0.1.5'));
    set.delete(ip('10.0.1.6'));
    set.delete(ip('10.0.1.5'));
    set.delete(ip('10.0.1.5'));
    set.delete(ip('10.0.2.5'));
    expect(set.size).toBe(0);
    set.add(ip('10.0.1.7'));
    expect(set.size).toBe(1);
    expect(sortedOf(set)).toEqual(['10.0.1.7']);
  });

  test('deleteRange removes that range only, clipped to the block', () => {
    const set = new AddressSet(parseCidr('10.0.1.0/26'));
    set.addRange(parseCidr('10.0.1.0/26'));
    set.deleteRange(range('10.0.1.30', '10.0.1.33'));
    expect(set.size).toBe(60);
    expect(set.has(ip('10.0.1.29')) && set.has(ip('10.0.1.34'))).toBe(true);
    expect([30, 31, 32, 33].some((i) => set.has(ip(`10.0.1.${i}`)))).toBe(false);
    set.deleteRange(range('10.0.0.0', '10.0.1.1')); // starts below the block
    set.deleteRange(range('10.0.1.62', '10.0.2.9')); // ends beyond it
    expect(set.size).toBe(56);
    expect(sortedOf(set).slice(0, 2)).toEqual(['10.0.1.2', '10.0.1.3']);
    expect(sortedOf(set).slice(-2)).toEqual(['10.0.1.60', '10.0.1.61']);
  });

  test('intersects sees an address at either end of the range, and nothing outside it', () => {
    const set = new AddressSet(parseCidr('10.0.1.0/24'));
    set.add(ip('10.0.1.47'));
    expect(set.intersects(parseCidr('10.0.1.32/28'))).toBe(true); // .47 is its last address
    expect(set.intersects(range('10.0.1.47', '10.0.1.60'))).toBe(true); // its first
    expect(set.intersects(range('10.0.1.32', '10.0.1.46'))).toBe(false);
    expect(set.intersects(range('10.0.1.48', '10.0.2.255'))).toBe(false);
  });

  test('a range crossing a 32-bit word is added, listed and removed address by address', () => {
    const set = new AddressSet(parseCidr('10.0.1.0/24'));
    set.addRange(range('10.0.1.30', '10.0.1.65')); // words 0, 1 and 2
    expect(set.size).toBe(36);
    expect(sortedOf(set)).toEqual(Array.from({ length: 36 }, (_, i) => `10.0.1.${30 + i}`));
    set.deleteRange(range('10.0.1.31', '10.0.1.64'));
    expect(sortedOf(set)).toEqual(['10.0.1.30', '10.0.1.65']);
  });

  test.each([
    ['a /32', parseCidr('10.0.1.7/32'), ['10.0.1.7']],
    ['a /31', parseCidr('10.0.1.6/31'), ['10.0.1.6', '10.0.1.7']],
    ['33 addresses: one bit in a second word', range('10.0.1.0', '10.0.1.32'), ['10.0.1.0', '10.0.1.31', '10.0.1.32']],
    ['34 addresses', range('10.0.1.0', '10.0.1.33'), ['10.0.1.32', '10.0.1.33']],
  ])('a block of %s holds every one of its addresses', (_name, block, members) => {
    const set = new AddressSet(block);
    for (const a of members) set.add(ip(a));
    expect(members.every((a) => set.has(ip(a)))).toBe(true);
    expect(sortedOf(set)).toEqual(members);
    expect(set.clone().has(ip(members[members.length - 1]))).toBe(true);
  });
});

describe('a bit set over a block wider than the subnet counts only the subnet', () => {
  // The set may cover the VPC's block, say, while the question is about one subnet in it.
  const set = new AddressSet(parseCidr('10.0.0.0/23'));
  for (const a of ['10.0.0.9', '10.0.0.200', '10.0.1.9', '10.0.1.10', '10.0.1.200']) set.add(ip(a));

  test('a subnet at the top of the block: addresses below it are not counted', () => {
    const subnet = parseCidr('10.0.1.0/24');
    expect(countFree(subnet, { addresses: set })).toBe(256 - 5 - 3);
    expect(lowestFree(subnet, { addresses: set }, 7).map(formatIpv4)).toEqual(['10.0.1.4', '10.0.1.5', '10.0.1.6', '10.0.1.7', '10.0.1.8', '10.0.1.11', '10.0.1.12']);
  });

  test('a subnet at the bottom of the block: addresses above it are not counted', () => {
    const subnet = parseCidr('10.0.0.0/24');
    expect(countFree(subnet, { addresses: set })).toBe(256 - 5 - 2);
    expect(countFreeBlocks(subnet, { addresses: set }, 100)).toBe(14 - 1); // .9 is in the first block, AWS's already
  });

  test('a set inside the subnet is taken as it is', () => {
    const inner = new AddressSet(parseCidr('10.0.1.0/25'));
    inner.addRange(range('10.0.1.0', '10.0.1.20'));
    expect(countFree(parseCidr('10.0.1.0/24'), { addresses: inner })).toBe(256 - 21 - 1);
  });
});

describe('ranges that lie wholly outside the subnet are ignored', () => {
  const subnet = parseCidr('10.0.1.0/24');

  test('a range ending well below the subnet, or starting well above it', () => {
    const used = { addresses: [], ranges: [range('10.0.0.0', '10.0.0.100'), range('10.0.2.50', '10.0.2.100')] };
    expect(countFree(subnet, used)).toBe(251);
    expect(lowestFree(subnet, used, 1).map(formatIpv4)).toEqual(['10.0.1.4']);
    expect(countFreeBlocks(subnet, used, 100)).toBe(14);
  });

  test('a range ending at the subnet\'s first address or starting at its last takes only those (AWS\'s already)', () => {
    const used = { addresses: [], ranges: [range('10.0.0.0', '10.0.1.0'), range('10.0.1.255', '10.0.2.100')] };
    expect(countFree(subnet, used)).toBe(251);
  });
});

describe('CIDR text without an address', () => {
  test('a bare prefix length is not a CIDR block', () => {
    for (const text of ['24', '8']) expect(() => parseCidr(text)).toThrow(`"${text}" is not an IPv4 CIDR block`);
  });
});

describe('tiny subnets and one-address blocks', () => {
  test('a /32 or a /31 has no address to hand out', () => {
    for (const text of ['10.0.1.7/32', '10.0.1.6/31']) {
      const cidr = parseCidr(text);
      expect(lowestFree(cidr, { addresses: [] }, 3)).toEqual([]);
      expect(countFree(cidr, { addresses: [] })).toBe(0);
    }
  });

  test('blocks of one address are the free addresses, up to the last usable one', () => {
    const cidr = parseCidr('10.0.1.0/28');
    const used = { addresses: [ip('10.0.1.5')] };
    const expected = [4, 6, 7, 8, 9, 10, 11, 12, 13, 14].map((i) => `10.0.1.${i}`);
    expect(lowestFreeBlocks(cidr, used, 20, { size: 1 }).map(formatIpv4)).toEqual(expected);
    expect(countFreeBlocks(cidr, used, 100, 1)).toBe(10);
    expect(lowestFree(cidr, used, 20).map(formatIpv4)).toEqual(expected);
  });
});

describe('the allocator against a plain scan of every address (seeded random cases)', () => {
  const rnd = random(14);
  const pick = (n: number) => Math.floor(rnd() * n);

  /** The reference: every address of the subnet, one by one. */
  function reference(subnet: Ipv4Cidr, singles: ReadonlySet<number>, ranges: readonly Ipv4Range[]) {
    const taken = (a: number) =>
      a <= subnet.first + 3 || a === subnet.last || singles.has(a) || ranges.some((r) => r.first <= a && a <= r.last);
    const free: number[] = [];
    for (let a = subnet.first; a <= subnet.last; a++) if (!taken(a)) free.push(a);
    const blocks = (size: number) => {
      const out: number[] = [];
      for (let b = subnet.first; b + size - 1 <= subnet.last; b += size) {
        let ok = true;
        for (let a = b; a < b + size && ok; a++) ok = !taken(a);
        if (ok) out.push(b);
      }
      return out;
    };
    return { free, blocks };
  }

  const randomRange = (lo: number, hi: number): Ipv4Range => {
    const first = lo + pick(hi - lo + 1);
    const last = rnd() < 0.15 ? first - 1 - pick(8) : first + pick(40); // some inverted ones
    return { first, last };
  };

  test.each(['10.0.1.0/24', '10.0.1.64/26', '10.0.1.32/27', '10.0.1.16/28', '10.0.16.0/22'])('%s', (text) => {
    const subnet = parseCidr(text);
    const n = subnet.last - subnet.first + 1;
    for (let round = 0; round < 40; round++) {
      // Around the subnet, so that some addresses and ranges fall outside it, and some straddle its ends.
      const lo = subnet.first - n;
      const hi = subnet.last + n;
      const addresses = Array.from({ length: pick(n / 2) }, () => lo + pick(3 * n));
      const ranges = Array.from({ length: pick(6) }, () => randomRange(lo, hi));
      const inSubnet = new Set(addresses.filter((a) => a >= subnet.first && a <= subnet.last));
      const ref = reference(subnet, inSubnet, ranges.filter((r) => r.first <= r.last));

      // The same addresses as a bit set over a block wider than the subnet.
      const wide = new AddressSet({ first: lo, last: hi });
      for (const a of addresses) wide.add(a);

      for (const used of [{ addresses, ranges }, { addresses: wide, ranges }] as UsedAddresses[]) {
        expect(lowestFree(subnet, used, 3 * n)).toEqual(ref.free);
        expect(countFree(subnet, used)).toBe(ref.free.length);
        for (const size of [1, 2, 4, 16]) {
          const blocks = ref.blocks(size);
          expect(lowestFreeBlocks(subnet, used, 3 * n, { size })).toEqual(blocks);
          expect(countFreeBlocks(subnet, used, 3 * n, size)).toBe(blocks.length);
        }
        const preferred = [randomRange(subnet.first, subnet.last)];
        const inside = (b: number) => preferred.some((p) => p.first <= b && b + 15 <= p.last);
        const blocks = ref.blocks(16);
        const ordered = [...blocks.filter(inside), ...blocks.filter((b) => !inside(b))];
        const skip = pick(3);
        expect(lowestFreeBlocks(subnet, used, 2, { preferred, skip })).toEqual(ordered.slice(skip, skip + 2));
      }
    }
  });
});
