/**
 * The benchmark results as Markdown, and the targets of issue 5 checked against them (each next to
 * the old system's figure measured on the same machine).
 */
import type { AllocationRow } from './allocation';
import type { BurstRow } from './burst';
import type { CallsRow } from './calls';
import type { ColdStartResult } from './cold-start';
import type { LatencyRow } from './latency';
import type { MachineInfo } from './machine';
import type { ParseRow } from './parse';
import { int, kib, ms, ratio, table } from './report';
import { operation } from './harness';

export interface BenchResults {
  allocation?: AllocationRow[];
  parse?: ParseRow[];
  calls?: CallsRow[];
  latency?: LatencyRow[];
  burst?: BurstRow[];
  coldStart?: ColdStartResult;
}

export interface TargetCheck {
  readonly figure: string;
  readonly old: string;
  readonly now: string;
  readonly target: string;
  /** undefined when the benchmark behind it did not run. */
  readonly met: boolean | undefined;
  readonly note?: string;
}

/** The old system's figures, measured on this machine (issue 5). */
export const OLD = {
  callsPerLaunch: 16,
  callsBreakdown: 'DescribeInstances 1, DescribeSubnets 5, DescribeNetworkInterfaces 2, CreateNetworkInterface 2, AttachNetworkInterface 2, ModifyNetworkInterfaceAttribute 4; no CompleteLifecycleAction',
  launchMs: 4300,
  fixedSleepMs: 4000,
  searchSlash16Ms: { 10000: 450, 30000: 3900, 60000: 15400 } as Record<number, number>,
  burst: '20 concurrent launches: 200-250 rejected creates, up to 5 of 20 nodes without ENIs',
};

const CACHED_WHEN_WARM = [
  'SSM.GetParametersByPath',
  'EC2.DescribeSubnets',
  'EC2.DescribeSecurityGroups',
  'EC2.DescribeInstanceTypes',
  'EC2.GetSubnetCidrReservations',
];

function breakdown(counts: Record<string, number>): string {
  return Object.entries(counts)
    .map(([k, v]) => `${operation(k)} ${v}`)
    .join(', ');
}

export function checkTargets(r: BenchResults): TargetCheck[] {
  const checks: TargetCheck[] = [];

  const alloc30k = r.allocation?.find((a) => a.cidr.endsWith('/16') && a.used === 30_000 && a.layout === 'packed');
  checks.push({
    figure: 'Allocator, /16 with 30,000 used: speed-up over the baseline',
    old: `${ms(OLD.searchSlash16Ms[30000])} (Python); TS baseline ${ms(alloc30k?.baseline?.median)}`,
    now: alloc30k ? `${ms(alloc30k.ours.median)} (${ratio(alloc30k.ratio)} faster)` : '-',
    target: '>= 100x and < 5 ms',
    met: alloc30k ? (alloc30k.ratio ?? 0) >= 100 && alloc30k.ours.median < 5 : undefined,
    note: alloc30k ? `from address text (parse included): ${ms(alloc30k.oursFromText.median)}, ${ratio(alloc30k.ratioFromText)}` : undefined,
  });
  const on16 = r.allocation?.find((a) => a.cidr.endsWith('/16') && a.used === 60_000 && a.layout === 'packed');
  const on8 = r.allocation?.find((a) => a.cidr.endsWith('/8') && a.used === 60_000);
  const enumerates = on16 && on8 ? on8.ours.median / on16.ours.median : undefined;
  checks.push({
    figure: 'Allocator never enumerates the subnet: /8 (256x the addresses) vs /16, 60,000 used',
    old: 'walks the hosts in order',
    now: on16 && on8 ? `${ms(on8.ours.median)} vs ${ms(on16.ours.median)} (${ratio(enumerates)})` : '-',
    target: 'same cost (< 2x)',
    met: enumerates === undefined ? undefined : enumerates < 2,
  });

  const warm2 = r.calls?.find((c) => c.mode === 'lowest-free' && c.subnets === 2 && c.phase === 'warm');
  const cachedHit = warm2 ? CACHED_WHEN_WARM.filter((k) => (warm2.byOperation[k] ?? 0) > 0) : [];
  checks.push({
    figure: 'AWS calls per warm launch, 2 subnets, lowest-free',
    old: `${OLD.callsPerLaunch} (${OLD.callsBreakdown})`,
    now: warm2 ? `${warm2.total} (${breakdown(warm2.byOperation)})` : '-',
    target: '<= 11; settings, subnets, instance-type limits cached',
    met: warm2 ? warm2.total <= 11 && cachedHit.length === 0 && warm2.outcome === 'attached' : undefined,
    note: cachedHit.length ? `not cached when warm: ${cachedHit.join(', ')}` : undefined,
  });

  const lat = r.latency ?? [];
  const worstMedian = lat.length ? Math.max(...lat.map((l) => l.warm.median)) : undefined;
  const worstP95 = lat.length ? Math.max(...lat.map((l) => l.warm.p95)) : undefined;
  checks.push({
    figure: 'Handler time per launch on the emulator, 2 subnets (worst mode)',
    old: `${ms(OLD.launchMs)} (${ms(OLD.fixedSleepMs)} fixed sleeps)`,
    now: worstMedian !== undefined ? `median ${ms(worstMedian)}, p95 ${ms(worstP95)}` : '-',
    target: `<= ${ms(OLD.launchMs / 10)} (a tenth)`,
    met: worstMedian === undefined ? undefined : worstMedian <= OLD.launchMs / 10 && lat.every((l) => l.failures === 0),
    note: lat.length ? `cold (first launch of a container): ${lat.map((l) => `${l.mode} ${ms(l.coldMs)}`).join(', ')}` : undefined,
  });

  for (const b of (r.burst ?? []).filter((x) => x.nodes === 50)) {
    checks.push({
      figure: `Burst: 50 concurrent launches, ${b.subnetsPerNode} subnet(s) per node, one /24 each`,
      old: OLD.burst,
      now:
        `${b.completed}/${b.nodes} complete, ${b.duplicateAddresses} duplicate, ${b.leakedEnis} leaked, ` +
        `${b.rejectedCreates} rejected creates (max ${b.rejectedPerNode.max}/node)`,
      target: '50/50, 0 duplicates, 0 leaked, rejected creates per node bounded',
      met: b.completed === b.nodes && b.duplicateAddresses === 0 && b.leakedEnis === 0,
    });
  }

  const cs = r.coldStart;
  const built = cs?.loads.find((l) => l.variant === 'built');
  const unbundled = cs?.loads.find((l) => l.variant === 'unbundled');
  checks.push({
    figure: 'Cold load of the built function with its layer (median of 10)',
    old: unbundled ? `unbundled from node_modules: ${ms(unbundled.load.median)}` : '-',
    now: built ? `${ms(built.load.median)}` : '-',
    target: '<= 150 ms',
    met: built ? built.load.median <= 150 : undefined,
    note: cs ? `artifacts: ${cs.artifacts.map((a) => `${a.name} ${kib(a.bytes)}`).join(', ')}` : undefined,
  });
  const rss = cs?.launches.find((l) => l.variant === 'built');
  checks.push({
    figure: 'Peak RSS of one launch (fresh process, built artifacts)',
    old: '-',
    now: rss ? `${rss.peakRssMiB.max.toFixed(0)} MiB (max of ${rss.peakRssMiB.runs})` : '-',
    target: '< 128 MiB',
    met: rss ? rss.peakRssMiB.max < 128 && rss.outcomes.every((o) => o.startsWith('attached')) : undefined,
  });
  return checks;
}

function metCell(met: boolean | undefined): string {
  return met === undefined ? 'not run' : met ? 'met' : '**missed**';
}

export function renderMarkdown(r: BenchResults, machine: MachineInfo, targets: TargetCheck[], errors: string[]): string {
  const out: string[] = [];
  out.push('# eks-multus-eni benchmarks');
  out.push('');
  out.push(`Machine: ${machine.nproc} CPUs (\`nproc\`), ${machine.cpu}, ${machine.memoryGiB} GiB, Node ${machine.node}, ${machine.platform}; run ${machine.date}.`);
  out.push('');
  out.push('## Targets');
  out.push('');
  out.push(
    table(
      ['figure', 'old system', 'now', 'target', 'result'],
      targets.map((t) => [t.figure, t.old, t.note ? `${t.now}; ${t.note}` : t.now, t.target, metCell(t.met)]),
    ),
  );

  if (r.allocation) {
    out.push('', '## 1. IP allocation: 15 lowest free addresses', '');
    out.push(
      table(
        ['subnet', 'used', 'layout', 'ours min', 'ours median', 'ours from text, median', 'baseline min', 'baseline median', 'ratio (median)', 'same answer', 'old system (Python)'],
        r.allocation.map((a) => [
          a.cidr,
          int(a.used),
          a.layout,
          ms(a.ours.min),
          ms(a.ours.median),
          ms(a.oursFromText.median),
          ms(a.baseline?.min),
          ms(a.baseline?.median),
          ratio(a.ratio),
          a.sameAnswer,
          a.cidr.endsWith('/16') && a.layout === 'packed' ? ms(OLD.searchSlash16Ms[a.used]) : undefined,
        ]),
      ),
    );
  }
  if (r.parse) {
    out.push('', '### Reading a subnet: DescribeNetworkInterfaces, pages of 1,000 ENIs (one address each), in process', '');
    out.push(
      table(
        ['addresses', 'pages', 'XML', 'SDK deserialiser + views (main), median', 'page scanner into a bit set (now), median', 'per ENI: SDK / scanner', 'SDK / scanner', 'consistent'],
        r.parse.map((p) => [
          int(p.used),
          p.pages,
          kib(p.xmlBytes),
          ms(p.sdk.median),
          ms(p.scanner.median),
          `${ms(p.sdk.median / p.used)} / ${ms(p.scanner.median / p.used)}`,
          ratio(p.sdk.median / p.scanner.median),
          p.consistent,
        ]),
      ),
    );
  }
  if (r.calls) {
    out.push('', '## 2. AWS calls per launch', '');
    out.push(
      table(
        ['mode', 'subnets', 'container', 'calls', 'by operation', 'outcome'],
        r.calls.map((c) => [c.mode, c.subnets, c.phase, c.total, breakdown(c.byOperation), `${c.outcome} (${c.interfaces} ENIs)`]),
      ),
    );
  }
  if (r.latency) {
    out.push('', '## 3. Handler time per launch (emulator, 2 subnets, sequential)', '');
    out.push(
      table(
        ['mode', 'first launch (cold)', 'warm min', 'warm median', 'warm p95', 'warm max', 'launches', 'failures'],
        r.latency.map((l) => [l.mode, ms(l.coldMs), ms(l.warm.min), ms(l.warm.median), ms(l.warm.p95), ms(l.warm.max), l.launches, l.failures]),
      ),
    );
  }
  if (r.burst) {
    out.push('', '## 4. Burst: concurrent launches, lowest-free, one /24 per subnet, in-use addresses rejected as EC2 does', '');
    out.push(
      table(
        ['nodes x subnets', 'complete', 'ENIs', 'distinct IPs', 'duplicate IPs', 'leaked ENIs', 'compact (lowest addresses)', 'rejected creates', 'per node mean / max', 'calls', 'calls per node', 'wall time'],
        r.burst.map((b) => [
          `${b.nodes} x ${b.subnetsPerNode}`,
          `${b.completed}/${b.nodes}`,
          b.enis,
          b.distinctAddresses,
          b.duplicateAddresses,
          b.leakedEnis,
          b.compact,
          b.rejectedCreates,
          `${b.rejectedPerNode.mean.toFixed(2)} / ${b.rejectedPerNode.max}`,
          b.totalCalls,
          b.callsPerNode.toFixed(1),
          ms(b.wallMs),
        ]),
      ),
    );
    for (const b of r.burst) {
      out.push('', `Calls of the ${b.nodes} x ${b.subnetsPerNode} burst: ${breakdown(b.byOperation)}.`);
      if (b.failures.length) out.push('', `Failures: ${b.failures.join('; ')}`);
    }
  }
  const cs = r.coldStart;
  if (cs) {
    out.push('', '## 5. Cold start', '');
    out.push(
      table(
        ['artifact', 'files', 'size', 'deflated (about the zip)'],
        cs.artifacts.map((a) => [a.name, a.files, kib(a.bytes), kib(a.deflatedBytes)]),
      ),
    );
    out.push('', `The function bundle holds a copy of the AWS SDK: ${cs.functionBundlesSdk ? '**yes**' : 'no'}.`, '');
    out.push(
      table(
        ['load of the handler in a fresh node', 'require min', 'require median', 'require max', 'whole process median', 'modules loaded', 'bytes read'],
        cs.loads.map((l) => [l.variant, ms(l.load.min), ms(l.load.median), ms(l.load.max), ms(l.process.median), l.modules, kib(l.moduleBytes)]),
      ),
    );
    out.push('');
    out.push(
      table(
        ['one launch in a fresh process', 'peak RSS median', 'peak RSS max', 'first invoke median', 'outcomes'],
        cs.launches.map((l) => [l.variant, `${l.peakRssMiB.median.toFixed(1)} MiB`, `${l.peakRssMiB.max.toFixed(1)} MiB`, ms(l.firstInvokeMs.median), l.outcomes.join(' ')]),
      ),
    );
  }
  if (errors.length) {
    out.push('', '## Errors', '', ...errors.map((e) => `- ${e}`));
  }
  return out.join('\n') + '\n';
}
