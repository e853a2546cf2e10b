import { AddressSet, countFree, countFreeBlocks, formatIpv4, freeAddresses, lowestFree, lowestFreeBlocks, parseCidr, parseIpv4, rangeSize, type UsedAddresses } from 'multus-core';
import { random } from '../../scripts/bench/random';

const ip = parseIpv4;
const take = (cidr: string, used: UsedAddresses, k: number) => lowestFree(parseCidr(cidr), used, k).map(formatIpv4);

describe('IPv4 parsing', () => {
  test('round-trips addresses', () => {
    for (const a of ['0.0.0.0', '10.0.1.4', '255.255.255.255', '192.168.0.1']) expect(formatIpv4(parseIpv4(a))).toBe(a);
  });
  test.each(['10.0.1', '10.0.1.256', '10.0.01.4', 'a.b.c.d', '', '1.2.3.4.5'])('rejects %p', (text) => {
    expect(() => parseIpv4(text)).toThrow('is not an IPv4 address');
  });
  test('parses CIDR blocks and rejects bad ones', () => {
    expect(parseCidr('10.0.0.0/16')).toMatchObject({ first: ip('10.0.0.0'), last: ip('10.0.255.255'), prefixLength: 16 });
    expect(parseCidr('10.0.1.16/28')).toMatchObject({ first: ip('10.0.1.16'), last: ip('10.0.1.31') });
    expect(() => parseCidr('10.0.1.5/24')).toThrow('not the network address');
    expect(() => parseCidr('10.0.1.0/33')).toThrow('not an IPv4 CIDR');
    expect(() => parseCidr('10.0.1.0')).toThrow('not an IPv4 CIDR');
  });
});

describe('lowest free addresses', () => {
  test('a /28 skips the four AWS addresses at the start and the last one', () => {
    expect(take('10.0.1.0/28', { addresses: [] }, 20)).toEqual(
      Array.from({ length: 11 }, (_, i) => `10.0.1.${i + 4}`),
    );
  });

  test('used addresses are skipped, in any order and with duplicates', () => {
    const used = ['10.0.1.6', '10.0.1.4', '10.0.1.6', '10.0.1.5', '10.0.1.9'].map(ip);
    expect(take('10.0.1.0/24', { addresses: used }, 3)).toEqual(['10.0.1.7', '10.0.1.8', '10.0.1.10']);
  });

  test('addresses outside the subnet are ignored', () => {
    const used = ['10.0.2.4', '10.0.0.255'].map(ip);
    expect(take('10.0.1.0/24', { addresses: used }, 1)).toEqual(['10.0.1.4']);
  });

  test('subnet CIDR reservations and delegated prefixes are skipped, overlapping or not', () => {
    const ranges = [parseCidr('10.0.1.16/28'), parseCidr('10.0.1.4/30'), parseCidr('10.0.1.8/29'), parseCidr('10.0.1.20/30')];
    expect(take('10.0.1.0/24', { addresses: [ip('10.0.1.32')], ranges }, 3)).toEqual(['10.0.1.33', '10.0.1.34', '10.0.1.35']);
  });

  test('a full subnet yields nothing', () => {
    const cidr = parseCidr('10.0.1.0/28');
    const used = Array.from({ length: 11 }, (_, i) => cidr.first + 4 + i);
    expect(lowestFree(cidr, { addresses: used }, 1)).toEqual([]);
    expect(countFree(cidr, { addresses: used })).toBe(0);
  });

  test('a /16 with 60,000 addresses in use is answered without enumerating the subnet', () => {
    const cidr = parseCidr('10.0.0.0/16');
    const used = new Uint32Array(60_000);
    for (let i = 0; i < used.length; i++) used[i] = cidr.first + 4 + i; // the lowest 60,000 usable
    used.reverse();
    const gen = freeAddresses(cidr, { addresses: used });
    expect(formatIpv4(gen.next().value as number)).toBe(formatIpv4(cidr.first + 4 + 60_000));
    expect(countFree(cidr, { addresses: used })).toBe(65_536 - 5 - 60_000);
  });

  test('the last usable address of a /16 is found', () => {
    const cidr = parseCidr('10.0.0.0/16');
    const reserved = [{ first: cidr.first, last: cidr.last - 2 }];
    expect(lowestFree(cidr, { addresses: [], ranges: reserved }, 5).map(formatIpv4)).toEqual(['10.0.255.254']);
  });

  test('count of zero or less returns nothing', () => {
    expect(take('10.0.1.0/24', { addresses: [] }, 0)).toEqual([]);
  });

  test('countFree counts addresses inside ranges once', () => {
    const cidr = parseCidr('10.0.1.0/24');
    const used = { addresses: [ip('10.0.1.17'), ip('10.0.1.40'), ip('10.0.1.40')], ranges: [parseCidr('10.0.1.16/28')] };
    expect(countFree(cidr, used)).toBe(256 - 5 - 16 - 1);
  });
});

describe('free aligned /28 blocks (IPv4 prefixes)', () => {
  const blocks = (cidr: string, used: UsedAddresses, k: number, options: Parameters<typeof lowestFreeBlocks>[3] = {}) =>
    lowestFreeBlocks(parseCidr(cidr), used, k, options).map((b) => `${formatIpv4(b)}/28`);
  const r = (cidr: string) => {
    const c = parseCidr(cidr);
    return { first: c.first, last: c.last };
  };

  test('never the first block (AWS\'s .0-.3) or the last (the broadcast address); aligned on 16', () => {
    expect(blocks('10.0.1.0/26', { addresses: [] }, 10)).toEqual(['10.0.1.16/28', '10.0.1.32/28']);
    expect(blocks('10.0.1.0/24', { addresses: [] }, 3)).toEqual(['10.0.1.16/28', '10.0.1.32/28', '10.0.1.48/28']);
  });

  test('a block holding one used address or touching a used range is skipped', () => {
    const used = { addresses: [ip('10.0.1.20'), ip('10.0.1.63')], ranges: [r('10.0.1.64/28'), { first: ip('10.0.1.95'), last: ip('10.0.1.96') }] };
    // .16-.31 holds .20, .48-.63 holds .63, .64/28 is a prefix, .95-.96 straddles .80/28 and .96/28.
    expect(blocks('10.0.1.0/24', used, 3)).toEqual(['10.0.1.32/28', '10.0.1.112/28', '10.0.1.128/28']);
  });

  test('preferred ranges (prefix reservations) first, then the lowest elsewhere; skip passes over free blocks', () => {
    const preferred = [r('10.0.1.192/27')];
    expect(blocks('10.0.1.0/24', { addresses: [] }, 3, { preferred })).toEqual(['10.0.1.192/28', '10.0.1.208/28', '10.0.1.16/28']);
    expect(blocks('10.0.1.0/24', { addresses: [] }, 2, { skip: 2 })).toEqual(['10.0.1.48/28', '10.0.1.64/28']);
    expect(blocks('10.0.1.0/26', { addresses: [] }, 2, { skip: 1 })).toEqual(['10.0.1.32/28']);
  });

  test('cost follows what is used, not the subnet: a /8 with 60,000 used addresses', () => {
    const used = { addresses: Array.from({ length: 60_000 }, (_, i) => ip('10.0.0.4') + i) };
    expect(blocks('10.0.0.0/8', used, 1)).toEqual(['10.0.234.112/28']);
    expect(countFreeBlocks(parseCidr('10.0.1.0/26'), { addresses: [] }, 100)).toBe(2);
    expect(countFreeBlocks(parseCidr('10.0.0.0/8'), { addresses: [] }, 5)).toBe(5);
  });
});

describe('IPv4 parsing: the edges', () => {
  test.each(['1..2.3', '.1.2.3', '1.2.3.', '1a.2.3.4', '1.2.3.-4', '1.2.3.4 ', '1.2.3.+4'])('rejects %p', (text) => {
    expect(() => parseIpv4(text)).toThrow(expect.objectContaining({ name: 'InvalidIpv4Error', message: `"${text}" is not an IPv4 address` }));
  });
  test('a CIDR block without an address names the address', () => {
    expect(() => parseCidr('/24')).toThrow('"" is not an IPv4 address');
    expect(rangeSize(parseCidr('10.0.1.16/28'))).toBe(16);
    expect(rangeSize({ first: 7, last: 7 })).toBe(1);
  });
});

describe('free addresses: the edges', () => {
  const cidr = parseCidr('10.0.1.0/24');

  test('countFree ignores addresses and ranges outside the subnet, and inverted ranges', () => {
    const used = {
      addresses: [ip('10.0.0.200'), ip('10.0.2.7')],
      ranges: [{ first: ip('10.0.0.0'), last: ip('10.0.0.255') }, { first: ip('10.0.2.0'), last: ip('10.0.2.255') }, { first: ip('10.0.1.50'), last: ip('10.0.1.40') }],
    };
    expect(countFree(cidr, used)).toBe(251);
  });

  test('countFree: an address at either end of a range is inside it; ranges that overlap by one address are merged', () => {
    const prefix = parseCidr('10.0.1.16/28');
    expect(countFree(cidr, { addresses: [ip('10.0.1.16'), ip('10.0.1.31')], ranges: [prefix] })).toBe(251 - 16);
    expect(countFree(cidr, { addresses: [], ranges: [prefix, { first: ip('10.0.1.31'), last: ip('10.0.1.40') }] })).toBe(251 - 25);
  });
});

describe('free aligned blocks: the edges', () => {
  const blocks = (cidr: string, used: UsedAddresses, k: number, options: Parameters<typeof lowestFreeBlocks>[3] = {}) =>
    lowestFreeBlocks(parseCidr(cidr), used, k, options).map((b) => `${formatIpv4(b)}/28`);

  test('an address or a range touching the first or the last address of a block takes it', () => {
    expect(blocks('10.0.1.0/24', { addresses: [ip('10.0.1.16')] }, 1)).toEqual(['10.0.1.32/28']);
    expect(blocks('10.0.1.0/24', { addresses: [ip('10.0.1.31')] }, 1)).toEqual(['10.0.1.32/28']);
    expect(blocks('10.0.1.0/24', { addresses: [ip('10.0.1.32')] }, 1)).toEqual(['10.0.1.16/28']);
    expect(blocks('10.0.1.0/24', { addresses: [], ranges: [{ first: ip('10.0.1.10'), last: ip('10.0.1.16') }] }, 1)).toEqual(['10.0.1.32/28']);
  });

  test('a preferred block is given once; zero or fewer blocks asked: none', () => {
    expect(blocks('10.0.1.0/26', { addresses: [] }, 3, { preferred: [parseCidr('10.0.1.32/28')] })).toEqual(['10.0.1.32/28', '10.0.1.16/28']);
    expect(blocks('10.0.1.0/26', { addresses: [] }, 0)).toEqual([]);
    expect(blocks('10.0.1.0/26', { addresses: [] }, -1)).toEqual([]);
  });
});

describe('a bit set of the taken addresses answers exactly as the list it replaces', () => {
  const rnd = random(2026);
  const pick = (n: number) => Math.floor(rnd() * n);

  test('AddressSet: add, ranges, delete, clone and the sorted addresses', () => {
    const cidr = parseCidr('10.0.1.0/24');
    const set = new AddressSet(cidr);
    set.add(ip('10.0.1.9'));
    set.add(ip('10.0.1.9'));
    set.add(ip('10.0.2.1')); // outside: ignored
    set.addRange(parseCidr('10.0.1.32/28'));
    expect(set.size).toBe(17);
    const copy = set.clone();
    set.deleteRange(parseCidr('10.0.1.32/29'));
    set.delete(ip('10.0.1.9'));
    expect([...set.sorted()].map(formatIpv4)).toEqual(Array.from({ length: 8 }, (_, i) => `10.0.1.${40 + i}`));
    expect(copy.size).toBe(17);
    expect(copy.has(ip('10.0.1.9')) && copy.intersects(parseCidr('10.0.1.32/30')) && !copy.intersects(parseCidr('10.0.1.16/28'))).toBe(true);
  });

  test.each(['10.0.1.0/24', '10.0.16.0/20', '10.1.0.0/16'])('%s, random addresses and prefixes: the same free addresses, counts and blocks', (text) => {
    const cidr = parseCidr(text);
    const size = cidr.last - cidr.first + 1;
    for (let round = 0; round < 20; round++) {
      const addresses = Array.from({ length: pick(size / 2) }, () => cidr.first + pick(size));
      const prefixes = Array.from({ length: pick(8) }, () => {
        const first = cidr.first + pick(size / 16) * 16;
        return { first, last: first + 15 };
      });
      const reservations = [{ first: cidr.first + pick(size), last: cidr.first + pick(size) }].filter((r) => r.first <= r.last);
      const set = new AddressSet(cidr);
      for (const a of addresses) set.add(a);
      for (const p of prefixes) set.addRange(p);
      const asList = { addresses, ranges: [...prefixes, ...reservations] };
      const asSet = { addresses: set, ranges: reservations };
      expect(lowestFree(cidr, asSet, 40)).toEqual(lowestFree(cidr, asList, 40));
      expect(countFree(cidr, asSet)).toBe(countFree(cidr, asList));
      expect(lowestFreeBlocks(cidr, asSet, 5, { preferred: reservations, skip: round % 3 })).toEqual(lowestFreeBlocks(cidr, asList, 5, { preferred: reservations, skip: round % 3 }));
      expect(countFreeBlocks(cidr, asSet, 50)).toBe(countFreeBlocks(cidr, asList, 50));
    }
  });
});
