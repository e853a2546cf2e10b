/**
 * Benchmark 1a: free-address search. Our allocator (`lowestFree` of the layer) against the old
 * system's search rewritten in TypeScript (baseline-allocator.ts), same process, same inputs.
 *
 * Inputs: the used addresses of a subnet as EC2 lists them (text, in no particular order). The
 * main layout is "packed": the N lowest allocatable addresses are taken, which is what a subnet
 * allocated lowest-first looks like and what makes the old search scan past every used address.
 * A "scattered" layout (N addresses spread at random) is the old search's best case; it is shown
 * too, so that the ratio is not read as universal.
 */
import { random } from './random';
import { formatIpv4, lowestFree, parseCidr, parseIpv4, type Ipv4Cidr } from 'multus-core';
import { baselineFreeAddresses, BASELINE_FREE_COUNT } from './baseline-allocator';
import { summarize, timeSync, type Summary } from './stats';

export interface AllocationRow {
  readonly cidr: string;
  readonly used: number;
  readonly layout: 'packed' | 'scattered';
  /** Our allocator over the used addresses as numbers (what the launch path holds). */
  readonly ours: Summary;
  /** Ours including parsing the address text into numbers (same input as the baseline). */
  readonly oursFromText: Summary;
  /** The old search; absent where it is not run (ours-only rows). */
  readonly baseline?: Summary;
  /** baseline median / ours median. */
  readonly ratio?: number;
  /** baseline median / ours-from-text median. */
  readonly ratioFromText?: number;
  /** Both returned the same 15 addresses. */
  readonly sameAnswer?: boolean;
  readonly firstFree: string;
}


function shuffle<T>(items: T[], rnd: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

/** N used addresses of the subnet, as text in random order (how DescribeNetworkInterfaces lists them). */
export function usedAddresses(subnet: Ipv4Cidr, count: number, layout: 'packed' | 'scattered', seed = 42): string[] {
  const rnd = random(seed + count);
  const firstHost = subnet.first + 4;
  const hosts = subnet.last - 1 - firstHost + 1; // allocatable: after .0-.3, before broadcast
  if (count > hosts) throw new Error(`${count} addresses do not fit in ${subnet.text}`);
  const picked: number[] = [];
  if (layout === 'packed') {
    for (let i = 0; i < count; i++) picked.push(firstHost + i);
  } else {
    const set = new Set<number>();
    while (set.size < count) set.add(firstHost + Math.floor(rnd() * hosts));
    picked.push(...set);
  }
  return shuffle(picked.map(formatIpv4), rnd);
}

interface Case {
  readonly cidr: string;
  readonly used: number;
  readonly layout: 'packed' | 'scattered';
  readonly baseline: boolean;
}

export const USED_COUNTS = [0, 1_000, 10_000, 30_000, 60_000];

function cases(): Case[] {
  const out: Case[] = [];
  // /24: of 0, 1,000, ... only 0 fits; 100 and 236 (15 left free) show a busy and a nearly full /24.
  for (const used of [0, 100, 236]) out.push({ cidr: '10.0.1.0/24', used, layout: 'packed', baseline: true });
  for (const used of USED_COUNTS) out.push({ cidr: '10.1.0.0/16', used, layout: 'packed', baseline: true });
  for (const used of [30_000, 60_000]) out.push({ cidr: '10.1.0.0/16', used, layout: 'scattered', baseline: true });
  // A /8 (16.7 million addresses): ours costs the same as on the /16, so it never walks the subnet.
  for (const used of [0, 60_000]) out.push({ cidr: '10.0.0.0/8', used, layout: 'packed', baseline: false });
  return out;
}

export function runAllocation(progress: (line: string) => void = () => {}): AllocationRow[] {
  const rows: AllocationRow[] = [];
  let sink = 0;
  const keep = (v: readonly unknown[]) => {
    sink += v.length;
  };
  for (const c of cases()) {
    const subnet = parseCidr(c.cidr);
    const text = usedAddresses(subnet, c.used, c.layout);
    const numbers = text.map(parseIpv4);

    const oursSamples = timeSync(() => lowestFree(subnet, { addresses: numbers }, BASELINE_FREE_COUNT), {
      warmup: 5,
      minRuns: 15,
      maxRuns: 101,
      budgetMs: 1_500,
    }, keep);
    const fromTextSamples = timeSync(
      () => lowestFree(subnet, { addresses: text.map(parseIpv4) }, BASELINE_FREE_COUNT),
      { warmup: 3, minRuns: 15, maxRuns: 101, budgetMs: 1_500 },
      keep,
    );
    const answer = lowestFree(subnet, { addresses: numbers }, BASELINE_FREE_COUNT).map(formatIpv4);
    let baseline: Summary | undefined;
    let sameAnswer: boolean | undefined;
    if (c.baseline) {
      // The slow cases (seconds per run) get fewer runs: at least 3, within ~6 s per case.
      const old = baselineFreeAddresses(c.cidr, text);
      sameAnswer = old.length === answer.length && old.every((a, i) => a === answer[i]);
      baseline = summarize(
        timeSync(() => baselineFreeAddresses(c.cidr, text), { warmup: 0, minRuns: 3, maxRuns: 21, budgetMs: 6_000 }, keep),
      );
    }
    const ours = summarize(oursSamples);
    const oursFromText = summarize(fromTextSamples);
    const row: AllocationRow = {
      cidr: c.cidr,
      used: c.used,
      layout: c.layout,
      ours,
      oursFromText,
      baseline,
      ratio: baseline ? baseline.median / ours.median : undefined,
      ratioFromText: baseline ? baseline.median / oursFromText.median : undefined,
      sameAnswer,
      firstFree: answer[0] ?? '-',
    };
    rows.push(row);
    progress(
      `allocation ${c.cidr} ${c.layout} ${c.used} used: ours ${ours.median.toFixed(3)} ms` +
        (baseline ? `, baseline ${baseline.median.toFixed(1)} ms` : ''),
    );
  }
  if (sink < 0) progress(String(sink)); // keeps `sink` observable
  return rows;
}
