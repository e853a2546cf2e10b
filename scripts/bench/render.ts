/**
 * The benchmark results as Markdown, and the targets of issue 5 checked against them (each next to
 * the old system's figure measured on the same machine).
 */
import type { AllocationRow } from './allocation';
import type { BurstRow } from './burst';
import type { CallsRow, Ipv6Case } from './calls';

const IPV6_LABEL: Record<Ipv6Case, string> = { off: 'off (IPv4-only subnets)', addresses: '1 address per ENI', 'addresses+prefixes': '1 address + 1 /80 per ENI' };
import type { ColdStartResult } from './cold-start';
import type { LatencyRow } from './latency';
import type { MachineInfo } from './machine';
import type { ParseRow } from './parse';
import { int, kib, ms, ratio, table } from './report';
import { operation } from './harness';
import { BURST_NODES, BURST_USED, type BurstSample, type LaunchSample, type ScalingRow } from './scaling';
import { median } from './stats';

export interface BenchResults {
  allocation?: AllocationRow[];
  parse?: ParseRow[];
  calls?: CallsRow[];
  latency?: LatencyRow[];
  burst?: BurstRow[];
  coldStart?: ColdStartResult;
  scaling?: ScalingRow[];
  scalingBurst?: BurstSample[];
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

/** The medians of one figure of launch samples. */
export function med(samples: readonly LaunchSample[], figure: (s: LaunchSample) => number): number {
  return median(samples.map(figure));
}

const dni = (s: LaunchSample) => s.byOperation.DescribeNetworkInterfaces ?? 0;
const mib = (v: number) => (Number.isFinite(v) ? `${v.toFixed(0)} MiB` : '-');

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

  const warm2 = r.calls?.find((c) => c.mode === 'lowest-free' && c.ipv6 === 'off' && c.subnets === 2 && c.phase === 'warm');
  const cachedHit = warm2 ? CACHED_WHEN_WARM.filter((k) => (warm2.byOperation[k] ?? 0) > 0) : [];
  const cold2 = r.calls?.find((c) => c.mode === 'lowest-free' && c.ipv6 === 'off' && c.subnets === 2 && c.phase === 'cold');
  checks.push({
    figure: 'AWS calls per launch, 2 subnets, lowest-free, no prefixes: cold (a new container; every launch of a burst) and warm',
    old: `${OLD.callsPerLaunch} every launch, cold or warm (${OLD.callsBreakdown})`,
    now: cold2 && warm2 ? `cold ${cold2.total} (${breakdown(cold2.byOperation)}); warm ${warm2.total} (${breakdown(warm2.byOperation)})` : '-',
    target: '<= 16 cold, <= 11 warm; settings, subnets, reservations, instance-type limits cached',
    met: warm2 && cold2 ? warm2.total <= 11 && cold2.total <= 16 && cachedHit.length === 0 && warm2.outcome === 'attached' && cold2.outcome === 'attached' : undefined,
    note: cachedHit.length ? `not cached when warm: ${cachedHit.join(', ')}` : 'a cold launch makes as many calls as the seed did, one of them the CompleteLifecycleAction the seed never sent',
  });

  const lat = r.latency ?? [];
  const worstMedian = lat.length ? Math.max(...lat.map((l) => l.warm.median)) : undefined;
  const worstP95 = lat.length ? Math.max(...lat.map((l) => l.warm.p95)) : undefined;
  checks.push({
    figure: 'Handler time per warm launch on the emulator, 2 empty /24 subnets (worst mode)',
    old: `${ms(OLD.launchMs)}, of which ${ms(OLD.fixedSleepMs)} are two fixed sleeps: ${ms(OLD.launchMs - OLD.fixedSleepMs)} without them`,
    now: worstMedian !== undefined ? `median ${ms(worstMedian)}, p95 ${ms(worstP95)}` : '-',
    target: `<= ${ms(OLD.launchMs / 10)} (a tenth of the seed with its sleeps)`,
    met: worstMedian === undefined ? undefined : worstMedian <= OLD.launchMs / 10 && lat.every((l) => l.failures === 0),
    note:
      worstMedian !== undefined
        ? `against the seed without its sleeps: ${ratio((OLD.launchMs - OLD.fixedSleepMs) / worstMedian)}, not 10x; the first launch of a new app in this already warm process: ${lat.map((l) => `${l.mode} ${ms(l.coldMs)}`).join(', ')} (a really cold launch, a fresh process, is in section 7)`
        : undefined,
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
    figure: 'Peak RSS of one launch in empty /24 subnets (fresh process, built artifacts)',
    old: '-',
    now: rss ? `${rss.peakRssMiB.max.toFixed(0)} MiB (max of ${rss.peakRssMiB.runs})` : '-',
    target: '< 128 MiB',
    met: rss ? rss.peakRssMiB.max < 128 && rss.outcomes.every((o) => o.startsWith('attached')) : undefined,
    note: 'empty subnets say nothing of a big one: see the peak RSS at 30,000 used below',
  });
  checks.push(...scalingTargets(r));
  return checks;
}

/** Issue 10's targets, from the scaling benchmarks (this tree against main in the same run). */
function scalingTargets(r: BenchResults): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const at = (used: number, variant: string) => r.scaling?.find((x) => x.used === used && x.variant === variant);
  const main30 = at(30_000, 'main');
  const now30 = at(30_000, 'now');
  for (const [phase, limit] of [['cold', 3], ['warm', 10]] as const) {
    const m = main30 ? med(main30[phase], (s) => s.cpuMs) : undefined;
    const n = now30 ? med(now30[phase], (s) => s.cpuMs) : undefined;
    checks.push({
      figure: `CPU per ${phase} launch, /16 with 30,000 used (median, same run)`,
      old: m !== undefined ? `main: ${ms(m)}` : '-',
      now: n !== undefined && m !== undefined ? `${ms(n)} (${ratio(m / n)} less)` : '-',
      target: `<= 1/${limit} of main`,
      met: m !== undefined && n !== undefined ? n <= m / limit : undefined,
    });
  }
  if (main30 && now30) {
    const extra = (row: ScalingRow, which: 'race' | 'laterRace') => ({
      cpu: med(row[which], (s) => s.cpuMs) - med(row.warm, (s) => s.cpuMs),
      reads: med(row[which], dni) - med(row.warm, dni),
      calls: med(row[which], (s) => s.calls) - med(row.warm, (s) => s.calls),
    });
    const [mf, nf, nl] = [extra(main30, 'race'), extra(now30, 'race'), extra(now30, 'laterRace')];
    const ml = extra(main30, 'laterRace');
    checks.push({
      figure: 'A lost race, /16 with 30,000 used: what it adds to a warm launch (medians)',
      old: `main: ${mf.reads} DescribeNetworkInterfaces (the subnet again), ${mf.calls} calls, ${ms(mf.cpu)} CPU; later in the container ${ms(ml.cpu)}`,
      now:
        `first in a container: ${nf.reads} DescribeNetworkInterfaces (the window), ${nf.calls} calls in all, ${ms(nf.cpu)} CPU; ` +
        `later: ${nl.reads}, ${nl.calls}, ${ms(nl.cpu)}`,
      target: '<= 1 call and <= 10 ms CPU',
      met: nf.reads <= 1 && nf.calls <= 1 && nf.cpu <= 10 && nl.calls <= 1 && nl.cpu <= 10,
      note:
        'the calls beyond the window: the refused create itself and, on the first race of a launch, the launching nodes (DescribeInstances, for the rank; today\'s code reads them too); ' +
        'the first race in a process also runs that code for the first time',
    });
    const peak = Math.max(...[...now30.cold, ...now30.warm, ...now30.race, ...now30.laterRace].map((s) => s.peakMiB));
    const mainPeak = Math.max(...main30.cold.map((s) => s.peakMiB));
    checks.push({
      figure: 'Peak RSS, /16 with 30,000 used (max of every launch, fresh process, built artifacts)',
      old: `main: ${mib(mainPeak)} (cold)`,
      now: mib(peak),
      target: '< 154 MiB (60 % of 256 MB)',
      met: peak < 154,
    });
    const zero = at(0, 'now');
    if (zero) {
      const cold = med(zero.cold, (s) => s.calls);
      const warm = med(zero.warm, (s) => s.calls);
      checks.push({
        figure: 'Calls per launch in the scaling world at 0 used (2 subnets, no prefixes), counted by the proxy',
        old: `main: cold ${med(at(0, 'main')?.cold ?? [], (s) => s.calls)}, warm ${med(at(0, 'main')?.warm ?? [], (s) => s.calls)}`,
        now: `cold ${cold}, warm ${warm}`,
        target: '<= 16 cold, <= 11 warm',
        met: cold <= 16 && warm <= 11,
      });
    }
  }
  for (const variant of ['main', 'now']) {
    const bursts = (r.scalingBurst ?? []).filter((b) => b.variant === variant);
    if (bursts.length === 0) continue;
    checks.push({
      figure: `Burst of ${BURST_NODES} concurrent cold launches, /16 with ${int(BURST_USED)} used: ${variant}`,
      old: '-',
      now: bursts.map((b) => `${b.completed}/${b.nodes} complete, ${b.duplicateAddresses} duplicate, compact ${b.compact ? 'yes' : 'no'}, ${(b.reads.whole / b.nodes).toFixed(1)} whole reads per launch`).join('; '),
      target: 'all complete, 0 duplicates',
      met: bursts.every((b) => b.completed === b.nodes && b.duplicateAddresses === 0),
    });
  }
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
        ['mode', 'subnets', 'IPv6', 'container', 'calls', 'by operation', 'outcome'],
        r.calls.map((c) => [c.mode, c.ipv6 === 'off' ? c.subnets : `${c.subnets} (dual-stack, IPv6-only)`, IPV6_LABEL[c.ipv6], c.phase, c.total, breakdown(c.byOperation), `${c.outcome} (${c.interfaces} ENIs)`]),
      ),
    );
  }
  if (r.latency) {
    out.push('', '## 3. Handler time per launch (emulator, 2 empty /24 subnets, sequential; a fresh process is in section 7)', '');
    out.push(
      table(
        ['mode', 'first launch of a new app (in this warm process)', 'warm min', 'warm median', 'warm p95', 'warm max', 'launches', 'failures'],
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
  if (r.scaling) out.push(...renderScaling(r.scaling));
  if (r.scalingBurst) out.push(...renderScalingBurst(r.scalingBurst));
  if (errors.length) {
    out.push('', '## Errors', '', ...errors.map((e) => `- ${e}`));
  }
  return out.join('\n') + '\n';
}

function renderScaling(rows: readonly ScalingRow[]): string[] {
  const out: string[] = ['', '## 7. A lowest-free launch against how full its subnet is: main (today) and now, same run', ''];
  out.push(
    'Medians per launch. Two multus subnets: a /16 holding N used addresses and an empty /24; built artifacts, each container a fresh process. ' +
      'Calls and bytes as the proxy answered them; "DNI" = DescribeNetworkInterfaces; peak RSS of a cold launch since the process started, of the others during the launch.',
    '',
  );
  const phases = [
    ['cold', 'cold'],
    ['warm', 'warm'],
    ['race', 'first lost race'],
    ['laterRace', 'later lost race'],
  ] as const;
  const lines: (string | number)[][] = [];
  for (const used of [...new Set(rows.map((x) => x.used))]) {
    const m = rows.find((x) => x.used === used && x.variant === 'main');
    const n = rows.find((x) => x.used === used && x.variant === 'now');
    if (!m || !n) continue;
    for (const [key, label] of phases) {
      if (m[key].length === 0 || n[key].length === 0) continue;
      const f = (row: ScalingRow, figure: (s: LaunchSample) => number) => med(row[key], figure);
      lines.push([
        int(used),
        label,
        ms(f(m, (s) => s.cpuMs)),
        ms(f(n, (s) => s.cpuMs)),
        ratio(f(m, (s) => s.cpuMs) / f(n, (s) => s.cpuMs)),
        ms(f(m, (s) => s.wallMs)),
        ms(f(n, (s) => s.wallMs)),
        `${f(m, (s) => s.calls)} (${f(m, dni)} DNI)`,
        `${f(n, (s) => s.calls)} (${f(n, dni)} DNI)`,
        kib(f(m, (s) => s.bytes)),
        kib(f(n, (s) => s.bytes)),
        mib(f(m, (s) => s.peakMiB)),
        mib(f(n, (s) => s.peakMiB)),
        `${m[key].length} / ${n[key].length}`,
      ]);
    }
  }
  out.push(
    table(['N used', 'launch', 'CPU main', 'CPU now', 'main / now', 'wall main', 'wall now', 'calls main', 'calls now', 'read main', 'read now', 'peak RSS main', 'peak RSS now', 'samples'], lines),
  );
  const loads = ['main', 'now'].map((v) => {
    const all = rows.filter((x) => x.variant === v);
    return `${v} ${ms(median(all.flatMap((x) => x.loadMs)))} wall, ${ms(median(all.flatMap((x) => x.loadCpuMs)))} CPU`;
  });
  out.push('', `Loading the built handler in a fresh process, before its first launch (not in the CPU above; medians of every container): ${loads.join('; ')}.`);
  const outcomes = rows.flatMap((x) => [...x.cold, ...x.warm, ...x.race, ...x.laterRace].map((s) => s.outcome)).filter((o) => o !== 'attached');
  out.push('', outcomes.length ? `Launches not attached: ${outcomes.slice(0, 5).join('; ')}` : 'Every launch attached.');
  return out;
}

function renderScalingBurst(samples: readonly BurstSample[]): string[] {
  const out: string[] = ['', `## 8. Burst: ${BURST_NODES} concurrent cold launches, each in a fresh process, /16 with ${int(BURST_USED)} used`, ''];
  out.push(
    table(
      ['build', 'complete', 'duplicate IPs', 'compact', 'rejected creates', 'whole reads per launch', 'windows', 'CPU per launch median / max', 'wall per launch median / max', 'burst wall', 'calls per launch', 'read per launch', 'peak RSS max'],
      samples.map((b) => [
        b.variant,
        `${b.completed}/${b.nodes}`,
        b.duplicateAddresses,
        b.compact,
        b.rejectedCreates,
        (b.reads.whole / b.nodes).toFixed(1),
        b.reads.windows,
        `${ms(median(b.cpuMs))} / ${ms(Math.max(...b.cpuMs))}`,
        `${ms(median(b.wallMs))} / ${ms(Math.max(...b.wallMs))}`,
        ms(b.burstWallMs),
        (b.calls / b.nodes).toFixed(1),
        kib(b.bytes / b.nodes),
        mib(Math.max(...b.peakMiB)),
      ]),
    ),
  );
  for (const b of samples) if (b.failures.length) out.push('', `Failures (${b.variant}): ${b.failures.join('; ')}`);
  return out;
}
