/**
 * Benchmark 7 (issue 10): what a lowest-free launch costs against how full its subnet is, today's
 * algorithm (main at BASELINE_COMMIT) and this tree side by side in one run, both built as
 * `sam build` builds them, each launch in a container of its own kind (a fresh Node process,
 * launch-child.cjs).
 *
 * World: one AZ, the node's two multus subnets: a /16 holding N used addresses (the proxy's bulk
 * ENIs, one attached multus ENI of ours per address at the lowest addresses: the most ENIs and
 * bytes per address) and an empty /24; lowest-free on, no prefixes. EC2-like pages of 1,000 and
 * address filters come from the fidelity proxy (moto ignores MaxResults).
 *
 * Per N and build, per round, one container: its first launch (cold: nothing cached), then
 * WARM_LAUNCHES launches of other nodes (warm: within the cache age), then two launches that each
 * lose a race in the /16 (their first create refused as taken): the container's first lost race
 * (its code runs for the first time in the process) and a later one. Today's algorithm reads the subnet whole
 * before every create, so nothing can take an address behind its back between two launches: its
 * race is the refusal EC2 gives when another launch wins between its read and its create (injected
 * here, the same refusal). This tree's map is what another container beats: the parent takes the
 * address the map has as lowest free just before the launch (a real race).
 * Figures per launch: CPU of the invocation (user + system of the process during the handler
 * call, garbage collection included; loading the handler is reported apart), wall time, calls and
 * bytes answered (counted by the proxy), peak RSS (VmHWM: since the process started for a cold
 * launch, which is what Lambda reports for a first invocation; of the invocation alone otherwise).
 * Rounds alternate which build goes first, so that machine noise hits both alike.
 *
 * Then a burst: BURST_NODES launches at once, each in a container of its own (started and loaded
 * first, as Lambda would have them), in the /16 holding 10,000 addresses.
 */
import { CreateNetworkInterfaceCommand } from '@aws-sdk/client-ec2';
import { AddressSet, formatIpv4, lowestFree, parseCidr, parseIpv4 } from 'multus-core';
import { emulatorEnv, type Emulator } from '../../tests/support/emulator';
import type { InterfaceReads } from '../../tests/support/fidelity-interfaces';
import { createWideVpc, putSettings, worldClients, type VpcLayout, type WorldClients } from '../../tests/support/world';
import { FUNCTION_ENV, interfacesIn, launchEvent, launchNodes, sortedCounts } from './harness';
import { median, nowMs } from './stats';
import { Container, type BuiltVariant, type VariantName } from './variants';

export const SCALING_COUNTS = [0, 1_000, 10_000, 30_000];
/** The largest subnet supported (a /16 nearly full), measured once per build for the memory it takes. */
export const LARGEST = 65_000;
export const WARM_LAUNCHES = 3;
export const BURST_USED = 10_000;
export const BURST_NODES = 10;
const BIG = '10.1.0.0/16';
const SMALL = '10.0.1.0/24';

export interface LaunchSample {
  readonly cpuMs: number;
  readonly wallMs: number;
  readonly calls: number;
  readonly byOperation: Record<string, number>;
  readonly bytes: number;
  readonly peakMiB: number;
  readonly reads: InterfaceReads;
  readonly outcome: string;
}

export interface ScalingRow {
  readonly used: number;
  readonly variant: VariantName;
  /** Loading the built handler in the fresh process (before the first launch), per container. */
  readonly loadMs: number[];
  readonly loadCpuMs: number[];
  readonly cold: LaunchSample[];
  readonly warm: LaunchSample[];
  /** The first launch of the container that loses a race, and a later one. */
  readonly race: LaunchSample[];
  readonly laterRace: LaunchSample[];
}

export interface BurstSample {
  readonly variant: VariantName;
  readonly nodes: number;
  readonly used: number;
  readonly completed: number;
  readonly duplicateAddresses: number;
  readonly compact: boolean;
  readonly rejectedCreates: number;
  readonly cpuMs: number[];
  readonly wallMs: number[];
  readonly peakMiB: number[];
  readonly burstWallMs: number;
  readonly calls: number;
  readonly bytes: number;
  readonly reads: InterfaceReads;
  readonly failures: string[];
}

const childEnv = (emulator: Emulator): NodeJS.ProcessEnv => ({ PATH: process.env.PATH, HOME: process.env.HOME, ...emulatorEnv(emulator.endpoint), ...FUNCTION_ENV });

async function wideWorld(emulator: Emulator, world: WorldClients, used: number): Promise<{ layout: VpcLayout; big: string; small: string }> {
  await emulator.reset();
  const layout = await createWideVpc(world, 'us-east-1a', [BIG, SMALL]);
  const [big, small] = layout.azs[0].multusSubnets;
  if (used > 0) await emulator.control.bulk(big, used);
  await putSettings(world, layout, { 'use-ips-from-start-of-subnet': 'true', 'security-groups': layout.securityGroupId });
  return { layout, big, small };
}

async function measured(emulator: Emulator, container: Container, instanceId: string, resetPeak: boolean): Promise<LaunchSample & { addresses: string[] }> {
  await emulator.control.resetStats();
  const out = await container.launch(launchEvent(instanceId), resetPeak);
  const stats = await emulator.control.stats();
  const byOperation = sortedCounts(Object.fromEntries(Object.entries(stats.calls).map(([k, v]) => [k.replace(/^[^:]+:/, ''), v])));
  return {
    cpuMs: out.cpuMs,
    wallMs: out.wallMs,
    calls: Object.values(byOperation).reduce((a, b) => a + b, 0),
    byOperation,
    bytes: Object.values(stats.bytes).reduce((a, b) => a + b, 0),
    peakMiB: out.peakKb / 1024,
    reads: stats.interfaceReads,
    outcome: out.outcome === 'attached' ? 'attached' : `${out.outcome}: ${out.reason ?? ''}`,
    addresses: out.addresses,
  };
}

export async function runScaling(
  emulator: Emulator,
  variants: readonly BuiltVariant[],
  progress: (line: string) => void,
  plan: { counts?: readonly number[]; rounds?: number; largest?: boolean } = {},
): Promise<ScalingRow[]> {
  const world = worldClients();
  const rows: ScalingRow[] = [];
  const sizes = [...(plan.counts ?? SCALING_COUNTS), ...(plan.largest === false ? [] : [LARGEST])];
  for (const used of sizes) {
    const { layout, big } = await wideWorld(emulator, world, used);
    // What is held in the /16, as the parent knows it (bulk, then every address handed out).
    const cidr = parseCidr(BIG);
    const held = new AddressSet(cidr);
    for (let i = 0; i < used; i++) held.add(cidr.first + 4 + i);
    const byVariant = new Map(variants.map((v) => [v.name, { used, variant: v.name, loadMs: [] as number[], loadCpuMs: [] as number[], cold: [] as LaunchSample[], warm: [] as LaunchSample[], race: [] as LaunchSample[], laterRace: [] as LaunchSample[] }]));
    const rounds = used === LARGEST ? 1 : (plan.rounds ?? 3);
    for (let round = 0; round < rounds; round++) {
      for (const variant of round % 2 === 0 ? variants : [...variants].reverse()) {
        const row = byVariant.get(variant.name)!;
        const nodes = await launchNodes(world, layout.azs[0].nodeSubnet, 3 + WARM_LAUNCHES, 'm5.xlarge');
        const container = await Container.start(variant, childEnv(emulator));
        row.loadMs.push(container.load.loadMs);
        row.loadCpuMs.push(container.load.loadCpuMs);
        const keep = (sample: LaunchSample & { addresses: string[] }) => {
          for (const a of sample.addresses) held.add(parseIpv4(a));
          const { addresses: _, ...figures } = sample;
          return figures;
        };
        try {
          row.cold.push(keep(await measured(emulator, container, nodes[0], false)));
          for (let i = 1; i <= WARM_LAUNCHES; i++) row.warm.push(keep(await measured(emulator, container, nodes[i], true)));
          for (const [i, into] of [[1 + WARM_LAUNCHES, row.race], [2 + WARM_LAUNCHES, row.laterRace]] as const) {
            if (variant.name === 'main') {
              await emulator.control.inject({ service: 'ec2', action: 'CreateNetworkInterface', code: 'InvalidIPAddress.InUse', message: 'The specified address is already in use.', count: 1 });
            } else {
              const [next] = lowestFree(cidr, { addresses: held }, 1);
              await world.ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: big, PrivateIpAddress: formatIpv4(next) }));
              held.add(next);
            }
            into.push(keep(await measured(emulator, container, nodes[i], true)));
          }
        } finally {
          await container.stop();
        }
        const last = row.race[row.race.length - 1];
        progress(
          `scaling ${used} used, ${variant.name}: cold ${row.cold[row.cold.length - 1]?.cpuMs.toFixed(0)} ms CPU, warm ${median(row.warm.slice(-WARM_LAUNCHES).map((s) => s.cpuMs)).toFixed(0)} ms, lost race ${last?.cpuMs.toFixed(0)} ms (${last?.outcome})`,
        );
      }
    }
    rows.push(...byVariant.values());
  }
  return rows;
}

export async function runScalingBurst(emulator: Emulator, variants: readonly BuiltVariant[], progress: (line: string) => void, rounds = 2): Promise<BurstSample[]> {
  const world = worldClients();
  const samples: BurstSample[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const variant of round % 2 === 0 ? variants : [...variants].reverse()) {
      const { layout, big, small } = await wideWorld(emulator, world, BURST_USED);
      const containers = await Promise.all(Array.from({ length: BURST_NODES }, () => Container.start(variant, childEnv(emulator))));
      try {
        const nodes = await launchNodes(world, layout.azs[0].nodeSubnet, BURST_NODES, 'm5.xlarge');
        await emulator.control.resetStats();
        const t0 = nowMs();
        const results = await Promise.all(containers.map((c, i) => c.launch(launchEvent(nodes[i]), false)));
        const burstWallMs = nowMs() - t0;
        const stats = await emulator.control.stats();
        const completions = await emulator.control.completions();
        const continued = new Set(completions.filter((c) => c.accepted && c.result === 'CONTINUE').map((c) => c.instanceId));
        // Read back from EC2: every address of the two subnets (bulk ENIs included) held once.
        const enis = await interfacesIn(world, [big, small]);
        const seen = new Map<string, number>();
        for (const e of enis) for (const p of e.PrivateIpAddresses ?? []) seen.set(p.PrivateIpAddress!, (seen.get(p.PrivateIpAddress!) ?? 0) + 1);
        const handedOut = results.flatMap((r) => r.addresses);
        const lowest = [
          ...Array.from({ length: BURST_NODES }, (_, i) => formatIpv4(parseCidr(BIG).first + 4 + BURST_USED + i)),
          ...Array.from({ length: BURST_NODES }, (_, i) => formatIpv4(parseCidr(SMALL).first + 4 + i)),
        ];
        const sample: BurstSample = {
          variant: variant.name,
          nodes: BURST_NODES,
          used: BURST_USED,
          completed: nodes.filter((n, i) => continued.has(n) && results[i].outcome === 'attached' && results[i].addresses.length === 2).length,
          duplicateAddresses: [...seen.values()].filter((n) => n > 1).length,
          compact: [...handedOut].sort().join() === [...lowest].sort().join(),
          rejectedCreates: stats.rejectedCreates,
          cpuMs: results.map((r) => r.cpuMs),
          wallMs: results.map((r) => r.wallMs),
          peakMiB: results.map((r) => r.peakKb / 1024),
          burstWallMs,
          calls: Object.values(stats.calls).reduce((a, b) => a + b, 0),
          bytes: Object.values(stats.bytes).reduce((a, b) => a + b, 0),
          reads: stats.interfaceReads,
          failures: results.filter((r) => r.outcome !== 'attached').map((r) => `${r.outcome}: ${r.reason ?? ''}`).slice(0, 3),
        };
        samples.push(sample);
        progress(
          `burst of ${BURST_NODES} at ${BURST_USED} used, ${variant.name}: ${sample.completed}/${BURST_NODES} complete, ${sample.duplicateAddresses} duplicates, ` +
            `${(sample.reads.whole / BURST_NODES).toFixed(1)} whole reads per launch, CPU per launch ${median(sample.cpuMs).toFixed(0)} ms`,
        );
      } finally {
        await Promise.all(containers.map((c) => c.stop()));
      }
    }
  }
  return samples;
}
