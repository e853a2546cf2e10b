/**
 * `npm run demo`: the main job on an embedded default, against a local AWS emulator.
 * Starts moto (and the fidelity proxy that completes lifecycle actions as Auto Scaling would) on a
 * free loopback port, provisions a VPC with multus subnets in two AZs, the SSM settings and
 * opted-in nodes, delivers the launch events to the lifecycle handler and prints each node's
 * multus interfaces. Then overwrites an SSM parameter and shows the next node follow it, without
 * a redeploy, and turns on IPv4 prefix delegation (pod addresses) for the next node of the other
 * AZ. Ends with one line summing up the metrics the handler emitted: the EMF documents it wrote to
 * stdout, taken off the demo's output and read back. Stops the emulator at the end; can run any
 * number of times.
 *
 * `npm run demo -- --ipv6`: the same with IPv6 (issue 20) instead: a VPC with an IPv6 /56, a
 * dual-stack multus subnet (device index 1) and an IPv6-only one (device index 2); a node with the
 * defaults (one IPv6 address per ENI, none IPv4 in the IPv6-only subnet), then /80 prefixes for
 * pods after a put-parameter, then a setting that asks for what a subnet cannot give, refused
 * before anything is created.
 */
import './lib/defer-sdk-node-warning'; // first: before any AWS SDK client exists
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateSubnetCommand } from '@aws-sdk/client-ec2';
import { startEmulator, useEmulator, type Emulator } from '../tests/support/emulator';
import { METRICS } from '../layers/multus-core/src/metrics/catalog';
import { onEmf, summariseEmf, type EmfDocument } from './lib/emf';

const CONFIG_PATH = '/eks-multus-eni/demo';
const CACHE_SECONDS = 2;

type Row = [string, string, string, string, string, string, string, string];
type Ipv6Row = [string, string, string, string, string, string, string, string, string];

function table(rows: Row[]): string {
  return tableOf(['node', 'AZ', 'dev', 'subnet', 'ENI', 'IP', 'prefixes (pods)', 'lifecycle'], rows);
}

function tableOf(head: string[], rows: string[][]): string {
  const all = [head, ...rows];
  const widths = head.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

const wait = () => new Promise((r) => setTimeout(r, CACHE_SECONDS * 1000 + 200));

/** The IPv6 demo (`--ipv6`): dual-stack and IPv6-only multus subnets, then /80 prefixes, then a refused setting. */
async function ipv6Demo(world: typeof import('../tests/support/world'), handler: typeof import('../functions/lifecycle/handler').handler): Promise<void> {
  const clients = world.worldClients();
  const layout = await world.createIpv6Vpc(clients, ['us-east-1a']);
  const az = layout.azs[0];
  await world.putSettings(clients, layout, { 'use-ips-from-start-of-subnet': 'true' });
  console.log(`  VPC ${layout.vpcId}: 10.0.0.0/16 and ${layout.ipv6CidrBlock}; nodes in ${az.nodeSubnet} (IPv4 only)`);
  console.log(`  ${CONFIG_PATH}/subnets/${az.az} = ${az.dualStack} (dual-stack: 10.0.1.0/24 and a /64),${az.ipv6Only} (IPv6-only: a /64, no IPv4)`);
  console.log(`  ${CONFIG_PATH}/use-ips-from-start-of-subnet = true (IPv4 only: EC2 picks every IPv6 address and prefix)`);
  const rows: Ipv6Row[] = [];
  const deliver = async (instanceId: string) => {
    const result = await handler(world.eventFor('launch.json', instanceId));
    const lifecycle = `${result.lifecycleResult ?? 'no hook'} (${result.outcome})`;
    if (result.interfaces.length === 0) rows.push([instanceId, result.availabilityZone ?? '?', '-', '-', '-', '-', '-', '-', `${lifecycle}: ${result.reason ?? ''}`]);
    for (const i of result.interfaces) {
      rows.push([
        instanceId,
        result.availabilityZone ?? '?',
        String(i.deviceIndex),
        i.subnetId,
        i.networkInterfaceId,
        i.privateIpAddress ?? 'none (IPv6-only)',
        i.ipv6Addresses.join(',') || '-',
        i.ipv6Prefixes.join(',') || '-',
        lifecycle,
      ]);
    }
    return result;
  };
  const show = () => console.log(tableOf(['node', 'AZ', 'dev', 'subnet', 'ENI', 'IPv4', 'IPv6', 'IPv6 /80 prefixes (pods)', 'lifecycle'], rows));

  /** A setting overwritten, then the next node launched and shown after the lines that say what to expect. */
  const next = async (lines: string[], setting?: [string, string]) => {
    if (setting) {
      console.log(`\naws ssm put-parameter --overwrite --name ${CONFIG_PATH}/${setting[0]} --type String --value ${setting[1]}`);
      await world.putSetting(clients, setting[0], setting[1]);
      await wait();
    }
    console.log(`\n${lines.join('\n')}\n`);
    rows.length = 0;
    await deliver(await world.launchNode(clients, az.nodeSubnet));
    show();
  };

  await next([
    'Launching an opted-in node with the defaults: one IPv6 address per ENI (EC2 picks it, with the create), the lowest',
    'free IPv4 address in the dual-stack subnet, no IPv4 address at all in the IPv6-only one (privateIpAddress null):',
  ]);
  await next(
    [
      'The next node gets two /80 prefixes per ENI beside its address (one AssignIpv6Addresses per ENI: EC2 takes one IPv6',
      'kind per create); the VPC routes every address of a /80 to that ENI, for pods on ipvlan:',
    ],
    ['ipv6-prefixes-per-interface', '2'],
  );
  await next(['IPv4 prefixes asked of an IPv6-only subnet: the next node fails before anything is created (on-failure: ABANDON):'], ['ipv4-prefixes-per-interface', '1']);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.some((a) => a !== '--ipv6')) {
    console.error(`usage: npm run demo [-- --ipv6] (unknown argument ${args.find((a) => a !== '--ipv6')})`);
    process.exit(2);
  }
  const ipv6 = args.includes('--ipv6');
  let emulator: Emulator | undefined;
  // The metrics (EMF) the handler writes to stdout, as in Lambda: kept for the summary, off the tables.
  const emf: EmfDocument[] = [];
  const stopEmf = onEmf((doc) => emf.push(doc));
  try {
    console.log('Starting the local AWS emulator (moto) on a free loopback port...');
    emulator = await startEmulator();
    useEmulator(emulator.endpoint);
    Object.assign(process.env, {
      CONFIG_PATH,
      NODE_TAG_KEY: 'multus-ng',
      POWERTOOLS_PARAMETERS_MAX_AGE: String(CACHE_SECONDS),
      // The IPv6 demo fails a launch on purpose: its reason is in the table, its error log would be noise.
      POWERTOOLS_LOG_LEVEL: process.env.DEMO_LOG_LEVEL ?? (ipv6 ? 'SILENT' : 'ERROR'),
      // As Lambda sets it for a function invoked on demand: the first invocation counts as a cold start.
      AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    });
    const world = await import('../tests/support/world');
    const { handler } = await import('../functions/lifecycle/handler');
    if (ipv6) {
      await ipv6Demo(world, handler);
      const completions = await emulator.control.completions();
      console.log(`\nLifecycle actions completed: ${completions.length} (${completions.map((c) => c.result).join(', ')})`);
      console.log(summariseEmf(emf, Object.values(METRICS).map((m) => m.name)));
      return;
    }
    const clients = world.worldClients();

    const layout = await world.createVpc(clients, ['us-east-1a', 'us-east-1b'], 2);
    await world.putSettings(clients, layout, { 'use-ips-from-start-of-subnet': 'true', 'interface-tags': 'cnf=demo-upf' });
    for (const az of layout.azs) {
      console.log(`  ${az.az}: nodes in ${az.nodeSubnet}; ${CONFIG_PATH}/subnets/${az.az} = ${az.multusSubnets.join(',')}`);
    }
    console.log(`  ${CONFIG_PATH}/use-ips-from-start-of-subnet = true, interface-tags = cnf=demo-upf`);

    const rows: Row[] = [];
    const deliver = async (instanceId: string) => {
      const result = await handler(world.eventFor('launch.json', instanceId));
      return show(instanceId, result);
    };
    /** A node without a lifecycle hook (Karpenter): its EC2 state-change notification. */
    const notify = async (instanceId: string) => {
      const event = JSON.parse(readFileSync(join(__dirname, '..', 'events', 'state-change.json'), 'utf8'));
      event.detail = { 'instance-id': instanceId, state: 'pending' };
      return show(instanceId, await handler(event));
    };
    const show = (instanceId: string, result: Awaited<ReturnType<typeof handler>>) => {
      const az = result.availabilityZone ?? '?';
      const lifecycle = result.lifecycleResult ?? 'no hook';
      if (result.interfaces.length === 0) {
        rows.push([instanceId, az, '-', '-', '-', '-', '-', `${lifecycle} (${result.outcome}: ${result.reason ?? ''})`]);
      }
      for (const i of result.interfaces) {
        const prefixes = i.ipv4Prefixes.length > 0 ? i.ipv4Prefixes.join(',') : '-';
        rows.push([instanceId, az, String(i.deviceIndex), i.subnetId, i.networkInterfaceId, i.privateIpAddress ?? '', prefixes, `${lifecycle} (${result.outcome})`]);
      }
      return result;
    };

    console.log('\nLaunching 4 opted-in nodes (2 per AZ) and 1 node without the multus-ng tag; delivering their launch events:\n');
    const nodes = [
      await world.launchNode(clients, layout.azs[0].nodeSubnet),
      await world.launchNode(clients, layout.azs[0].nodeSubnet),
      await world.launchNode(clients, layout.azs[1].nodeSubnet),
      await world.launchNode(clients, layout.azs[1].nodeSubnet),
      await world.launchNode(clients, layout.azs[1].nodeSubnet, { optIn: false }),
    ];
    for (const id of nodes) await deliver(id);
    console.log(table(rows));

    const az = layout.azs[0];
    const extra = await clients.ec2.send(
      new CreateSubnetCommand({ VpcId: layout.vpcId, CidrBlock: '10.0.100.0/24', AvailabilityZone: az.az }),
    );
    const newList = [az.multusSubnets[1], az.multusSubnets[0], extra.Subnet!.SubnetId!];
    console.log(`\naws ssm put-parameter --overwrite --name ${CONFIG_PATH}/subnets/${az.az} --type StringList --value ${newList.join(',')}`);
    await world.putSetting(clients, `subnets/${az.az}`, newList.join(','), 'StringList');
    console.log(`(the function caches settings for POWERTOOLS_PARAMETERS_MAX_AGE=${CACHE_SECONDS} s here; the template sets 60 s)`);
    await new Promise((r) => setTimeout(r, CACHE_SECONDS * 1000 + 200));

    console.log(`\nThe next node in ${az.az} follows the new list, without a redeploy:\n`);
    rows.length = 0;
    await deliver(await world.launchNode(clients, az.nodeSubnet));
    console.log(table(rows));

    const other = layout.azs[1];
    console.log(`\naws ssm put-parameter --overwrite --name ${CONFIG_PATH}/ipv4-prefixes-per-interface --type String --value 2`);
    await world.putSetting(clients, 'ipv4-prefixes-per-interface', '2');
    await new Promise((r) => setTimeout(r, CACHE_SECONDS * 1000 + 200));
    console.log(`\nThe next node (in ${other.az}) gets two /28 prefixes per multus ENI: 32 pod addresses per interface that the VPC routes`);
    console.log('to it; the node agent turns them into a node-local CNI config (ipvlan + host-local over exactly those addresses):\n');
    rows.length = 0;
    await deliver(await world.launchNode(clients, other.nodeSubnet));
    console.log(table(rows));

    console.log('\nA node without a lifecycle hook (as Karpenter launches it: no Auto Scaling group), opted in by its tag;');
    console.log('its EC2 state-change notification (pending) gives it the same multus ENIs, with no lifecycle action to complete:\n');
    rows.length = 0;
    await notify(await world.launchNode(clients, other.nodeSubnet));
    console.log(table(rows));

    const completions = await emulator.control.completions();
    console.log(`\nLifecycle actions completed: ${completions.filter((c) => c.accepted).length} (${completions.map((c) => c.result).join(', ')})`);
    console.log(summariseEmf(emf, Object.values(METRICS).map((m) => m.name)));
  } finally {
    stopEmf();
    await emulator?.stop();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(`demo failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
    process.exit(1);
  },
);
