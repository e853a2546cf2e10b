/**
 * Benchmark 4: a burst of concurrent launches in one AZ with lowest-free allocation, through the
 * fidelity proxy that rejects a CreateNetworkInterface whose address is in use, as EC2 does (moto
 * alone accepts it), and serialises creates so that launches race as on EC2.
 *
 * Each launch gets its own app (own SDK clients and caches), as concurrent Lambda invocations run
 * in separate containers. All launches start together; the figures are read back from the
 * emulator afterwards: completions recorded by the proxy, the ENIs in the multus subnets.
 */
import { DescribeSubnetsCommand } from '@aws-sdk/client-ec2';
import { parseCidr, parseIpv4, TAG_INSTANCE_ID } from 'multus-core';
import type { Emulator } from '../../tests/support/emulator';
import { total, type CallCounts } from '../../tests/support/call-counter';
import { createVpc, putSettings, worldClients } from '../../tests/support/world';
import { addCounts, coldApp, interfacesIn, launchEvent, launchNodes, sortedCounts } from './harness';
import { nowMs, withTimeout } from './stats';

export interface BurstRow {
  readonly nodes: number;
  readonly subnetsPerNode: number;
  /** Nodes whose lifecycle action was completed with CONTINUE and that hold all their ENIs. */
  readonly completed: number;
  readonly failed: number;
  /** Handler results other than `attached`, with their reasons (first few). */
  readonly failures: string[];
  readonly enis: number;
  readonly distinctAddresses: number;
  /** Addresses held by more than one ENI in the multus subnets. */
  readonly duplicateAddresses: number;
  /** ENIs of ours not attached to the node they were made for. */
  readonly leakedEnis: number;
  /** The addresses handed out are the lowest of each subnet (no gaps). */
  readonly compact: boolean;
  /** Highest host offset used in a subnet (4 = the first allocatable address). */
  readonly highestOffset: number;
  readonly rejectedCreates: number;
  readonly rejectedPerNode: { readonly mean: number; readonly max: number };
  readonly totalCalls: number;
  readonly callsPerNode: number;
  readonly byOperation: CallCounts;
  readonly wallMs: number;
}

export async function runBurst(
  emulator: Emulator,
  nodes: number,
  subnetsPerNode: number,
  timeoutMs: number,
  progress: (line: string) => void = () => {},
): Promise<BurstRow> {
  const world = worldClients();
  await emulator.reset();
  const layout = await createVpc(world, ['us-east-1a'], subnetsPerNode);
  const subnetIds = layout.azs[0].multusSubnets;
  await putSettings(world, layout, { 'use-ips-from-start-of-subnet': 'true', 'security-groups': layout.securityGroupId });
  const instances = await launchNodes(world, layout.azs[0].nodeSubnet, nodes, 'm5.xlarge');
  await emulator.control.reset(); // count only the burst's calls and rejections

  const apps = instances.map(() => coldApp());
  const events = instances.map(launchEvent);
  const t0 = nowMs();
  const settled = await withTimeout(
    Promise.allSettled(apps.map(({ app }, i) => app.handle(events[i]))),
    timeoutMs,
    `burst of ${nodes} launches`,
  );
  const wallMs = nowMs() - t0;

  const failures: string[] = [];
  settled.forEach((s, i) => {
    if (s.status === 'rejected') failures.push(`${instances[i]} threw: ${String(s.reason)}`);
    else if (s.value.outcome !== 'attached' || s.value.interfaces.length !== subnetsPerNode) {
      failures.push(`${instances[i]} ${s.value.outcome}: ${s.value.reason ?? ''}`);
    }
  });

  const completions = await emulator.control.completions();
  const stats = await emulator.control.stats();
  const enis = await interfacesIn(world, subnetIds);

  // Per node: CONTINUE recorded, and one ENI of ours per subnet at device index 1..n.
  const continued = new Set(completions.filter((c) => c.accepted && c.result === 'CONTINUE').map((c) => c.instanceId));
  const ours = enis.filter((e) => (e.TagSet ?? []).some((t) => t.Key === TAG_INSTANCE_ID));
  const owner = (e: (typeof enis)[number]) => (e.TagSet ?? []).find((t) => t.Key === TAG_INSTANCE_ID)?.Value;
  const attachedToOwner = ours.filter((e) => e.Attachment?.InstanceId && e.Attachment.InstanceId === owner(e));
  let completed = 0;
  for (const instanceId of instances) {
    const held = attachedToOwner.filter((e) => e.Attachment?.InstanceId === instanceId);
    const indexes = new Set(held.map((e) => `${e.SubnetId}@${e.Attachment?.DeviceIndex}`));
    const complete = subnetIds.every((s, i) => indexes.has(`${s}@${i + 1}`)) && held.length === subnetsPerNode;
    if (continued.has(instanceId) && complete) completed++;
  }

  const addresses = enis.flatMap((e) => (e.PrivateIpAddresses ?? []).map((p) => `${e.SubnetId}/${p.PrivateIpAddress}`));
  const seen = new Map<string, number>();
  for (const a of addresses) seen.set(a, (seen.get(a) ?? 0) + 1);
  const duplicateAddresses = [...seen.values()].filter((n) => n > 1).length;

  // Compact: in each subnet, the addresses are exactly offsets 4..4+k-1 (the lowest allocatable ones).
  const cidrs = await world.ec2.send(new DescribeSubnetsCommand({ SubnetIds: [...subnetIds] }));
  let compact = true;
  let highestOffset = 0;
  for (const subnetId of subnetIds) {
    const inSubnet = enis.filter((e) => e.SubnetId === subnetId);
    const base = parseCidr(cidrs.Subnets!.find((s) => s.SubnetId === subnetId)!.CidrBlock!).first;
    const offsets = inSubnet
      .flatMap((e) => (e.PrivateIpAddresses ?? []).map((p) => parseIpv4(p.PrivateIpAddress!) - base))
      .sort((a, b) => a - b);
    offsets.forEach((o, i) => {
      if (o !== 4 + i) compact = false;
    });
    highestOffset = Math.max(highestOffset, offsets[offsets.length - 1] ?? 0);
  }

  const creates = apps.map(({ counts }) => counts['EC2.CreateNetworkInterface'] ?? 0);
  const held = instances.map((id) => attachedToOwner.filter((e) => e.Attachment?.InstanceId === id).length);
  const rejectedByNode = creates.map((c, i) => Math.max(0, c - held[i]));
  const byOperation: CallCounts = {};
  for (const { counts } of apps) addCounts(byOperation, counts);
  const totalCalls = total(byOperation);

  const row: BurstRow = {
    nodes,
    subnetsPerNode,
    completed,
    failed: nodes - completed,
    failures: failures.slice(0, 5),
    enis: enis.length,
    distinctAddresses: seen.size,
    duplicateAddresses,
    leakedEnis: ours.length - attachedToOwner.length,
    compact,
    highestOffset,
    rejectedCreates: stats.rejectedCreates,
    rejectedPerNode: {
      mean: rejectedByNode.reduce((a, b) => a + b, 0) / nodes,
      max: Math.max(...rejectedByNode),
    },
    totalCalls,
    callsPerNode: totalCalls / nodes,
    byOperation: sortedCounts(byOperation),
    wallMs,
  };
  progress(
    `burst ${nodes} nodes x ${subnetsPerNode} subnet(s): ${completed}/${nodes} complete, ${row.rejectedCreates} rejected creates ` +
      `(max ${row.rejectedPerNode.max}/node), ${totalCalls} calls, ${(wallMs / 1000).toFixed(1)} s`,
  );
  return row;
}

