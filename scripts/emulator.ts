/**
 * `npm run emulator [-- --port N]`: the local AWS for trying events by hand. Starts moto with the
 * fidelity proxy in front (which answers CompleteLifecycleAction, lifecycle hooks, prefixes,
 * DeleteOnTermination and EKS updates as AWS does) on a fixed loopback port (4566, or --port /
 * EMULATOR_PORT; a port in use is a one-line error), provisions
 * the world the events of events/ need, writes those events with the ids moto picked to
 * .emulator/events/ (git-ignored), prints the `export AWS_...` lines and runs until interrupted.
 *
 * The world: a VPC with two multus subnets per AZ in us-east-1a/b, the SSM settings under the
 * CONFIG_PATH of env.json, the EKS cluster and node group the hook-installer events name, with its
 * Auto Scaling group, our two hooks (NotificationMetadata included) and two opted-in nodes, one more
 * opted-in node waiting on its launch hook, one for the warm-pool launch, one that already has its
 * multus ENIs (for the terminate event: attached with DeleteOnTermination, they go with the
 * instance), one outside any group (the state-change event, as of a Karpenter node). Provisioning
 * prints nothing but the start line. The hook-installer and size-guard events answer a loopback listener of
 * this process, which prints what CloudFormation would get; never an AWS address.
 */
import './lib/defer-sdk-node-warning'; // first: before any AWS SDK client exists
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { emulatorEnv, startEmulator, useEmulator, type Emulator } from '../tests/support/emulator';
import { onEmf } from './lib/emf';
import { ROOT } from './lib/sam-build';

export const DEFAULT_PORT = 4566;
export const EVENTS_OUT = join(ROOT, '.emulator', 'events');
/** Which function of template.yaml each event of events/ is for (what `--function` takes). */
export function functionFor(file: string): string {
  if (file.startsWith('hook-installer-') || file.startsWith('size-guard-')) return 'HookInstallerFunction';
  if (file === 'scheduled.json') return 'SweeperFunction';
  return 'LifecycleFunction';
}

type Dict = Record<string, unknown>;

/** What the user got wrong: one line on stderr, no stack. */
class UsageError extends Error {
  override readonly name = 'UsageError';
}

const USAGE = `usage: npm run emulator [-- --port N]   (default ${DEFAULT_PORT}, or EMULATOR_PORT)`;

function portFromArgs(args: readonly string[]): number {
  const unknown = args.find((a, i) => a !== '--port' && args[i - 1] !== '--port');
  if (unknown !== undefined) throw new UsageError(`unknown argument ${unknown}\n${USAGE}`);
  const i = args.indexOf('--port');
  const raw = i >= 0 ? args[i + 1] : process.env.EMULATOR_PORT;
  const source = i >= 0 ? '--port' : 'EMULATOR_PORT';
  if (raw === undefined) {
    if (i >= 0) throw new UsageError(`--port needs a value\n${USAGE}`);
    return DEFAULT_PORT;
  }
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > 65535) throw new UsageError(`${source} must be a TCP port number (1-65535), not "${raw}"`);
  return Number(raw);
}

/** Fails before moto starts when the port is taken (a second emulator, or anything else on it). */
async function ensurePortFree(port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (err: NodeJS.ErrnoException) => reject(err.code === 'EADDRINUSE' ? busy(port) : err));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve()));
  });
}

function busy(port: number): UsageError {
  return new UsageError(`127.0.0.1:${port} is already in use (another npm run emulator?): stop it, or pick another port with --port N (or EMULATOR_PORT=N)`);
}

async function provision(emulator: Emulator, responseUrl: () => string): Promise<Record<string, Dict>> {
  useEmulator(emulator.endpoint);
  const envFile = JSON.parse(readFileSync(join(ROOT, 'env.json'), 'utf8')) as Record<string, Dict>;
  process.env.CONFIG_PATH = String(envFile.LifecycleFunction.CONFIG_PATH);
  const world = await import('../tests/support/world');
  const nodegroups = await import('../tests/support/nodegroup-world');
  const clients = world.worldClients();
  const layout = await world.createVpc(clients, ['us-east-1a', 'us-east-1b'], 2);
  await world.putSettings(clients, layout, { 'use-ips-from-start-of-subnet': 'true' });
  const source = (file: string) => JSON.parse(readFileSync(join(ROOT, 'events', file), 'utf8')) as Dict;
  const create = source('hook-installer-create.json');
  const props = create.ResourceProperties as Dict;
  const group = await nodegroups.createNodegroup(clients, layout, { nodes: 2, clusterName: String(props.ClusterName), nodegroupName: String(props.NodegroupName) });

  // The hooks, put by the hook installer itself (it also gives the two running nodes their ENIs).
  // Its metrics and the lifecycle function's below (EMF on stdout) are no part of the emulator's output.
  const stopEmf = onEmf(() => {});
  const { createHookInstallerApp, createHookInstallerClients, createLogger } = await import('multus-core/hooks');
  const quiet = createLogger();
  quiet.setLogLevel('ERROR');
  const installer = createHookInstallerApp({ clients: createHookInstallerClients(), logger: quiet });
  const installed = await installer.handle({ ...create, ResponseURL: responseUrl(), ResourceProperties: { ...props } }, { getRemainingTimeInMillis: () => 600_000 });
  if (installed.Status !== 'SUCCESS') throw new Error(`putting the hooks failed: ${installed.Reason}`);

  const az = layout.azs[0];
  const [launching, warm, terminating, hookless] = [
    await world.launchNode(clients, az.nodeSubnet),
    await world.launchNode(clients, az.nodeSubnet),
    await world.launchNode(clients, az.nodeSubnet),
    // Outside any Auto Scaling group, as Karpenter launches it.
    await world.launchNode(clients, az.nodeSubnet),
  ];
  // The terminating node went through its launch already: it has multus ENIs to release.
  const { createClients, createLifecycleApp } = await import('multus-core');
  const app = createLifecycleApp({ clients: createClients(), logger: quiet });
  const launched = await app.handle(world.eventFor('launch.json', terminating, { AutoScalingGroupName: group.autoScalingGroupName }));
  if (launched.outcome !== 'attached') throw new Error(`preparing the terminating node failed: ${launched.reason}`);
  stopEmf();

  const lifecycle = (file: string, instanceId: string) => {
    const event = source(file);
    event.detail = { ...(event.detail as Dict), EC2InstanceId: instanceId, AutoScalingGroupName: group.autoScalingGroupName };
    event.resources = [];
    return event;
  };
  const custom = (file: string) => ({ ...source(file), ResponseURL: responseUrl() });
  const stateChange = source('state-change.json');
  stateChange.detail = { ...(stateChange.detail as Dict), 'instance-id': hookless };
  stateChange.resources = [`arn:aws:ec2:${String(stateChange.region)}:${String(stateChange.account)}:instance/${hookless}`];
  const reconcile = source('reconcile.json');
  reconcile.detail = { ...(reconcile.detail as Dict), autoScalingGroupName: group.autoScalingGroupName };
  return {
    'launch.json': lifecycle('launch.json', launching),
    'warm-pool-launch.json': lifecycle('warm-pool-launch.json', warm),
    'terminate.json': lifecycle('terminate.json', terminating),
    'state-change.json': stateChange,
    'reconcile.json': reconcile,
    'malformed.json': source('malformed.json'),
    'scheduled.json': source('scheduled.json'),
    'hook-installer-create.json': custom('hook-installer-create.json'),
    'hook-installer-update.json': custom('hook-installer-update.json'),
    'hook-installer-delete.json': custom('hook-installer-delete.json'),
    // The size guard on the same node group (live 0/2/2): a new launch template version passes,
    // a switch of NodegroupSizesOwner that would set it to 0/0/1 is refused.
    'size-guard-update.json': custom('size-guard-update.json'),
    'size-guard-refused.json': custom('size-guard-refused.json'),
  };
}

async function main(): Promise<void> {
  let port: number;
  try {
    port = portFromArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`emulator: ${(err as Error).message}\n`);
    process.exit(2);
  }
  let emulator: Emulator | undefined;
  const { startResponseServer } = await import('../tests/support/nodegroup-world');
  const responses = await startResponseServer();
  const stop = async (code: number) => {
    await emulator?.stop().catch(() => undefined);
    await responses.close().catch(() => undefined);
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  try {
    await ensurePortFree(port);
    process.stderr.write(`starting moto and the fidelity proxy on 127.0.0.1:${port}...\n`);
    emulator = await startEmulator(port).catch((err: NodeJS.ErrnoException) => {
      throw err.code === 'EADDRINUSE' ? busy(port) : err; // taken between the check and the start
    });
    const events = await provision(emulator, () => responses.url());
    const missing = readdirSync(join(ROOT, 'events')).filter((f) => f.endsWith('.json') && !(f in events));
    if (missing.length > 0) throw new Error(`events/ holds events the emulator does not provision for: ${missing.join(', ')}`);
    rmSync(EVENTS_OUT, { recursive: true, force: true });
    mkdirSync(EVENTS_OUT, { recursive: true });
    for (const [file, event] of Object.entries(events)) writeFileSync(join(EVENTS_OUT, file), `${JSON.stringify(event, null, 2)}\n`);
    const env = emulatorEnv(emulator.endpoint);
    console.log(`# the local AWS is up (moto behind the fidelity proxy); in another shell:`);
    // AWS_DEFAULT_REGION too: the AWS CLI v1 reads only that one.
    for (const name of ['AWS_ENDPOINT_URL', 'AWS_REGION', 'AWS_DEFAULT_REGION', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_EC2_METADATA_DISABLED']) {
      console.log(`export ${name}=${env[name]}`);
    }
    console.log(`# then, for each event written to .emulator/events/:`);
    for (const file of Object.keys(events)) {
      const fn = functionFor(file);
      console.log(`npm run -s invoke --${fn === 'LifecycleFunction' ? '' : ` --function ${fn}`} .emulator/events/${file} --env-vars env.json`);
    }
    console.log('# Ctrl-C stops it.');
    // The answers to the events invoked from now on; the one of the emulator's own set-up (the hook
    // installer putting the hooks) is no part of its output.
    let seen = responses.responses.length;
    setInterval(() => {
      for (const r of responses.responses.slice(seen)) process.stderr.write(`CloudFormation would get: ${JSON.stringify(r.body)}\n`);
      seen = responses.responses.length;
    }, 500);
  } catch (err) {
    if (err instanceof UsageError) process.stderr.write(`emulator: ${err.message}\n`);
    else process.stderr.write(`emulator failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    await stop(1);
  }
}

if (require.main === module) void main();
