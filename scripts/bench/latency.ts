/**
 * Benchmark 3: handler time per launch against the emulator, 2 multus subnets. One app (a warm
 * container): its first launch is reported as cold, then 20 launches of other nodes, one after the
 * other, each timed from `handle(event)` to its result. Both allocation modes.
 */
import type { Emulator } from '../../tests/support/emulator';
import { createVpc, putSettings, worldClients } from '../../tests/support/world';
import type { AllocationMode } from './calls';
import { MODES } from './calls';
import { coldApp, launchEvent, launchNodes } from './harness';
import { nowMs, summarize, type Summary } from './stats';

export interface LatencyRow {
  readonly mode: AllocationMode;
  readonly subnets: number;
  /** The first launch of the app: settings and EC2 descriptions not cached, SDK clients not warmed. */
  readonly coldMs: number;
  /** The next `launches` launches. */
  readonly warm: Summary;
  readonly launches: number;
  readonly failures: number;
}

export const LAUNCHES = 20;
const SUBNETS = 2;

export async function runLatency(emulator: Emulator, progress: (line: string) => void = () => {}): Promise<LatencyRow[]> {
  const world = worldClients();
  const rows: LatencyRow[] = [];
  for (const mode of MODES) {
    await emulator.reset();
    const layout = await createVpc(world, ['us-east-1a'], SUBNETS);
    await putSettings(world, layout, {
      'use-ips-from-start-of-subnet': String(mode === 'lowest-free'),
      'security-groups': layout.securityGroupId,
    });
    const nodes = await launchNodes(world, layout.azs[0].nodeSubnet, LAUNCHES + 1, 'm5.xlarge');
    const { app } = coldApp();
    const samples: number[] = [];
    let failures = 0;
    for (const node of nodes) {
      const event = launchEvent(node);
      const t0 = nowMs();
      const result = await app.handle(event);
      samples.push(nowMs() - t0);
      if (result.outcome !== 'attached' || result.interfaces.length !== SUBNETS) failures++;
    }
    const [coldMs, ...warm] = samples;
    const row: LatencyRow = { mode, subnets: SUBNETS, coldMs, warm: summarize(warm), launches: warm.length, failures };
    rows.push(row);
    progress(`latency ${mode}: cold ${coldMs.toFixed(0)} ms, warm median ${row.warm.median.toFixed(0)} ms, p95 ${row.warm.p95.toFixed(0)} ms`);
  }
  return rows;
}
