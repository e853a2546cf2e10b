/**
 * Benchmark 2: AWS calls per launch, by operation, counted with SDK middleware
 * (tests/support/call-counter.ts) against the emulator. For 1, 2 and 4 multus subnets in the
 * node's AZ and both allocation modes: the first launch of a fresh app (cold container: settings,
 * subnets, security groups, reservations and instance-type limits not cached yet) and the next
 * launch of another node on the same app (warm). With IPv6 (issue 20), in the same run: 2 subnets,
 * a dual-stack one and an IPv6-only one, with the default one IPv6 address per ENI, and with one
 * /80 prefix per ENI beside it.
 */
import type { Emulator } from '../../tests/support/emulator';
import { createIpv6Vpc, createVpc, putSettings, worldClients, type VpcLayout } from '../../tests/support/world';
import type { CallCounts } from '../../tests/support/call-counter';
import { total } from '../../tests/support/call-counter';
import { coldApp, launchEvent, launchNodes, sortedCounts } from './harness';

export type AllocationMode = 'ec2-picks' | 'lowest-free';
/** IPv4-only subnets; or a dual-stack and an IPv6-only subnet with one IPv6 address per ENI, and one /80 prefix more. */
export type Ipv6Case = 'off' | 'addresses' | 'addresses+prefixes';

export interface CallsRow {
  readonly mode: AllocationMode;
  readonly ipv6: Ipv6Case;
  readonly subnets: number;
  readonly phase: 'cold' | 'warm';
  readonly total: number;
  readonly byOperation: CallCounts;
  readonly outcome: string;
  readonly interfaces: number;
}

export const SUBNET_COUNTS = [1, 2, 4];
export const MODES: AllocationMode[] = ['ec2-picks', 'lowest-free'];
const IPV6_CASES: { readonly ipv6: Ipv6Case; readonly settings: Record<string, string> }[] = [
  { ipv6: 'addresses', settings: {} },
  { ipv6: 'addresses+prefixes', settings: { 'ipv6-prefixes-per-interface': '1' } },
];

export async function runCalls(emulator: Emulator, progress: (line: string) => void = () => {}): Promise<CallsRow[]> {
  const world = worldClients();
  const rows: CallsRow[] = [];
  const cases = [
    ...SUBNET_COUNTS.map((subnets) => ({ ipv6: 'off' as Ipv6Case, subnets, settings: {}, vpc: () => createVpc(world, ['us-east-1a'], subnets) })),
    ...IPV6_CASES.map((c) => ({ ...c, subnets: 2, vpc: (): Promise<VpcLayout> => createIpv6Vpc(world, ['us-east-1a']) })),
  ];
  for (const mode of MODES) {
    for (const { ipv6, subnets, settings, vpc } of cases) {
      await emulator.reset();
      const layout = await vpc();
      await putSettings(world, layout, {
        'use-ips-from-start-of-subnet': String(mode === 'lowest-free'),
        'security-groups': layout.securityGroupId,
        ...settings,
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
          ipv6,
          subnets,
          phase,
          total: total(byOperation),
          byOperation,
          outcome: result.outcome === 'attached' ? 'attached' : `${result.outcome}: ${result.reason ?? ''}`,
          interfaces: result.interfaces.length,
        });
        progress(`calls ${mode} ${subnets} subnet(s) IPv6 ${ipv6} ${phase}: ${total(byOperation)} (${result.outcome})`);
      }
    }
  }
  return rows;
}
