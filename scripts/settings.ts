/**
 * `npm run settings -- check --path <CONFIG_PATH> [--az AZ]... [--instance-type T]... [--min-free N] [--json]`
 * `npm run settings -- show --path <CONFIG_PATH> [--json]`
 *
 * check: reads the SSM tree fresh (no cache) and checks it against EC2: every subnet exists and lies
 * in the AZ its parameter names, subnets and security groups are in one VPC, every subnet has free
 * addresses; with --az, each listed AZ has subnets; with --instance-type, the interfaces fit. One
 * line per problem on stdout and exit 1 when there is any; otherwise an `ok:` summary and exit 0.
 * show: prints every parameter, its value and what it means; exit 1 when the tree does not parse.
 * Usage errors exit 2. Uses the standard AWS SDK environment (AWS_ENDPOINT_URL, AWS_REGION,
 * credentials), like the functions.
 */
import './lib/defer-sdk-node-warning'; // first: before any AWS SDK client exists
import {
  checkSettingsTree,
  createClients,
  DEFAULT_MIN_FREE_ADDRESSES,
  normaliseConfigPath,
  PRIMARY_INTERFACE_GROUPS,
  SdkEc2,
  SsmSettingsSource,
  type CheckReport,
} from 'multus-core';
import { renderSettingsView, viewSettings } from './lib/settings-view';

const USAGE = [
  'usage: npm run settings -- check --path <CONFIG_PATH> [--az AZ]... [--instance-type T]... [--min-free N] [--json]',
  '       npm run settings -- show --path <CONFIG_PATH> [--json]',
].join('\n');

interface Args {
  readonly command: 'check' | 'show';
  readonly path: string;
  readonly azs: string[];
  readonly instanceTypes: string[];
  readonly minFree: number;
  readonly json: boolean;
}

function usage(message?: string): never {
  process.stderr.write(`${message ? `${message}\n` : ''}${USAGE}\n`);
  process.exit(2);
}

/** Splits `--opt=value` and `--opt value`; list options may repeat and take comma-separated values. */
function parseArgs(argv: readonly string[]): Args {
  let command: Args['command'] | undefined;
  let path: string | undefined;
  let minFree: number | undefined;
  let json = false;
  const azs: string[] = [];
  const instanceTypes: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i];
    let inline: string | undefined;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0) {
      inline = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '' || (inline === undefined && v.startsWith('--'))) usage(`${arg} needs a value`);
      return v;
    };
    const list = () => value().split(',').map((v) => v.trim()).filter((v) => v !== '');
    if (arg === '--help' || arg === '-h') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else if (arg === '--path') path = value();
    else if (arg === '--az') azs.push(...list());
    else if (arg === '--instance-type') instanceTypes.push(...list());
    else if (arg === '--min-free') {
      const text = value();
      minFree = Number(text);
      if (!/^\d+$/.test(text)) usage(`--min-free must be a whole number, not "${text}"`);
    } else if (arg === '--json') json = true;
    else if (arg.startsWith('-')) usage(`unknown option ${arg}`);
    else if (command === undefined && (arg === 'check' || arg === 'show')) command = arg;
    else usage(command === undefined ? `unknown command "${arg}"` : `unexpected argument "${arg}"`);
  }
  if (command === undefined) usage('missing command: check or show');
  if (command === 'show' && (azs.length > 0 || instanceTypes.length > 0 || minFree !== undefined)) {
    usage('--az, --instance-type and --min-free belong to check');
  }
  if (path === undefined) usage('missing --path <CONFIG_PATH>');
  let configPath: string;
  try {
    configPath = normaliseConfigPath(path);
  } catch (err) {
    usage((err as Error).message);
  }
  return { command, path: configPath, azs, instanceTypes, minFree: minFree ?? DEFAULT_MIN_FREE_ADDRESSES, json };
}

function summary(args: Args, report: CheckReport): string {
  const byAz = new Map<string, number>();
  for (const s of report.subnets) byAz.set(s.parameter, (byAz.get(s.parameter) ?? 0) + 1);
  const azText = [...byAz].map(([parameter, n]) => `${parameter.slice(parameter.lastIndexOf('/') + 1)}: ${n} subnet${n === 1 ? '' : 's'}`);
  const fewest = report.subnets
    .filter((s) => s.freeAddresses !== undefined)
    .sort((a, b) => (a.freeAddresses ?? 0) - (b.freeAddresses ?? 0))[0];
  const parts = [`${args.path}: ${byAz.size} AZ${byAz.size === 1 ? '' : 's'} (${azText.join(', ')}) in ${report.vpcId ?? 'no VPC'}`];
  if (fewest) parts.push(`fewest free addresses ${fewest.freeAddresses} (${fewest.subnetId})`);
  const types = Object.entries(report.instanceTypes);
  if (types.length > 0) parts.push(`fits ${types.map(([t, max]) => `${t} (${max} interfaces)`).join(', ')}`);
  if (args.azs.length > 0) parts.push(`subnets for ${args.azs.join(', ')}`);
  const groups = report.securityGroups;
  parts.push(
    groups === PRIMARY_INTERFACE_GROUPS
      ? "security groups of each node's primary interface"
      : groups
        ? `security groups ${groups.join(', ')}`
        : "the VPC's default security group",
  );
  return `ok: ${parts.join('; ')}`;
}

/** Writes and waits until stdout has taken it, so that exit() loses nothing when piped. */
function write(text: string): Promise<void> {
  return new Promise((resolve) => process.stdout.write(text, () => resolve()));
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (!process.env.AWS_REGION && !process.env.AWS_DEFAULT_REGION) {
    usage('AWS_REGION is not set: point the AWS SDK environment (AWS_ENDPOINT_URL, AWS_REGION, credentials) at the account to check');
  }
  const clients = createClients();
  const source = new SsmSettingsSource(clients.ssm);
  let code = 0;
  try {
    source.clearCache();
    const raw = await source.read(args.path);
    if (args.command === 'show') {
      const view = viewSettings(raw, args.path);
      await write(`${args.json ? JSON.stringify(view) : renderSettingsView(view)}\n`);
      code = view.problems.length > 0 ? 1 : 0;
    } else {
      // Nothing cached: the check sees EC2 as it is now.
      const ec2 = new SdkEc2(clients.ec2, { cacheMaxAgeMs: () => 0 });
      const report = await checkSettingsTree(ec2, raw, args.path, {
        azs: args.azs,
        instanceTypes: args.instanceTypes,
        minFreeAddresses: args.minFree,
      });
      const ok = report.problems.length === 0;
      if (args.json) await write(`${JSON.stringify({ ok, path: args.path, ...report })}\n`);
      else await write(ok ? `${summary(args, report)}\n` : report.problems.map((p) => `${p}\n`).join(''));
      if (!ok) process.stderr.write(`${report.problems.length} problem${report.problems.length === 1 ? '' : 's'} in ${args.path}\n`);
      code = ok ? 0 : 1;
    }
  } catch (err) {
    const error = err instanceof Error ? err : new Error(String(err));
    process.stderr.write(`settings ${args.command} could not read ${args.path}: ${error.name}: ${error.message}\n`);
    code = 1;
  }
  process.exit(code);
}

void main();
