/**
 * Benchmark 2: AWS calls per launch, by operation, counted with SDK middleware
 * (tests/support/call-counter.ts) against the emulator. For 1, 2 and 4 multus subnets in the
 * node's AZ and both allocation modes: the first launch of a fresh app (cold container: settings,
 * subnets, security groups, reservations and instance-type limits not cached yet) and the next
 * launch of another node on the same app (warm).
 */
import type { Emulator } from '../../tests/support/emulator';
import { createVpc, putSettings, worldClients } from '../../tests/support/world';
import type { CallCounts } from '../../tests/support/call-counter';
import { total } from '../../tests/support/call-counter';
import { coldApp, launchEvent, launchNodes, sortedCounts } from './harness';

export type AllocationMode = 'ec2-picks' | 'lowest-free';

export interface CallsRow {
  readonly mode: AllocationMode;
  readonly subnets: number;
  readonly phase: 'cold' | 'warm';
  readonly total: number;
  readonly byOperation: CallCounts;
  readonly outcome: string;
  readonly interfaces: number;
}

export const SUBNET_COUNTS = [1, 2, 4];
export const MODES: AllocationMode[] = ['ec2-picks', 'lowest-free'];

export async function runCalls(emulator: Emulator, progress: (line: string) => void = () => {}): Promise<CallsRow[]> {
  const world = worldClients();
  const rows: CallsRow[] = [];
  for (const mode of MODES) {
    for (const subnets of SUBNET_COUNTS) {
      await emulator.reset();
      const layout = await createVpc(world, ['us-east-1a'], subnets);
      await putSettings(world, layout, {
        'use-ips-from-start-of-subnet': String(mode === 'lowest-free'),
        'security-groups': layout.securityGroupId,
      });
      // m5.4xlarge: 8 interfaces, room for 4 multus ENIs.
      const [first, second] = await launchNodes(world, layout.azs[0].nodeSubnet, 2, 'm5.4xlarge');
      const { app, counts } = coldApp();
      for (const [phase, node] of [['cold', first], ['warm', second]] as const) {
        for (const key of Object.keys(counts)) delete counts[key];
        const result = await app.handle(launchEvent(node));
        const byOperation = sortedCounts({ ...counts });
        rows.push({
          mode,
          subnets,
          phase,
          total: total(byOperation),
          byOperation,
          outcome: result.outcome === 'attached' ? 'attached' : `${result.outcome}: ${result.reason ?? ''}`,
          interfaces: result.interfaces.length,
        });
        progress(`calls ${mode} ${subnets} subnet(s) ${phase}: ${total(byOperation)} (${result.outcome})`);
      }
    }
  }
  return rows;
}
