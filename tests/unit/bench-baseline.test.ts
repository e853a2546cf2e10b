/**
 * The allocation benchmark compares our allocator with a TypeScript rewrite of the old system's
 * search (scripts/bench/baseline-allocator.ts). The comparison is fair only if both answer the same
 * question: on random subnets and used sets (no prefixes or reservations, which the old system
 * ignored), both return the same 15 lowest free addresses.
 */
import { formatIpv4, lowestFree, parseCidr, parseIpv4 } from 'multus-core';
import { baselineFreeAddresses, BASELINE_FREE_COUNT } from '../../scripts/bench/baseline-allocator';
import { random } from '../../scripts/bench/random';


interface Case {
  readonly cidr: string;
  readonly used: string[];
}

/** Used addresses: a packed run from the start with random holes, a few scattered ones, duplicates and strays outside the subnet. */
function randomCase(seed: number): Case {
  const rnd = random(seed);
  const prefix = [24, 23, 22, 20][Math.floor(rnd() * 4)];
  const third = Math.floor(rnd() * 16) * 16;
  const cidr = `10.${Math.floor(rnd() * 256)}.${third}.0/${prefix}`;
  const subnet = parseCidr(cidr);
  const size = subnet.last - subnet.first + 1;
  const used = new Set<number>();
  const packed = Math.floor(rnd() * Math.min(size - 60, 600));
  const holeRate = rnd() * 0.1;
  for (let i = 0; i < packed; i++) if (rnd() >= holeRate) used.add(subnet.first + i);
  for (let i = 0; i < 30; i++) used.add(subnet.first + Math.floor(rnd() * size));
  const list = [...used].map(formatIpv4);
  list.push(...list.slice(0, 5)); // the same address on two lists (duplicates are allowed)
  list.push('192.168.0.4', formatIpv4(subnet.last + 1)); // addresses of other subnets
  for (let i = list.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [list[i], list[j]] = [list[j], list[i]];
  }
  return { cidr, used: list };
}

describe('baseline allocator (the old search) against ours', () => {
  test.each([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])('same 15 lowest free addresses, random case %i', (seed) => {
    const { cidr, used } = randomCase(seed);

    const baseline = baselineFreeAddresses(cidr, used);
    const ours = lowestFree(parseCidr(cidr), { addresses: used.map(parseIpv4) }, BASELINE_FREE_COUNT).map(formatIpv4);

    expect(ours).toHaveLength(BASELINE_FREE_COUNT);
    expect(ours).toEqual(baseline);
  });

  test('same answer on an empty subnet: the first free address is the fifth of the block', () => {
    expect(baselineFreeAddresses('10.1.0.0/16', [])[0]).toBe('10.1.0.4');
    expect(lowestFree(parseCidr('10.1.0.0/16'), { addresses: [] }, 15).map(formatIpv4)).toEqual(
      baselineFreeAddresses('10.1.0.0/16', []),
    );
  });

  test('same answer when fewer than 15 addresses are free (the broadcast address is never offered)', () => {
    const cidr = '10.2.3.0/24';
    const used = Array.from({ length: 245 }, (_, i) => `10.2.3.${i + 4}`); // .4-.248 taken
    const baseline = baselineFreeAddresses(cidr, used);
    expect(baseline).toEqual(['10.2.3.249', '10.2.3.250', '10.2.3.251', '10.2.3.252', '10.2.3.253', '10.2.3.254']);
    expect(lowestFree(parseCidr(cidr), { addresses: used.map(parseIpv4) }, 15).map(formatIpv4)).toEqual(baseline);
  });
});
