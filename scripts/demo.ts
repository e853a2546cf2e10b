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

function table(rows: Row[]): string {
  const head: Row = ['node', 'AZ', 'dev', 'subnet', 'ENI', 'IP', 'prefixes (pods)', 'lifecycle'];
  const all = [head, ...rows];
  const widths = head.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  const line = (r: Row) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

async function main(): Promise<void> {
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
      POWERTOOLS_LOG_LEVEL: process.env.DEMO_LOG_LEVEL ?? 'ERROR',
      // As Lambda sets it for a function invoked on demand: the first invocation counts as a cold start.
      AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    });
    const world = await import('../tests/support/world');
    const { handler } = await import('../functions/lifecycle/handler');
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
