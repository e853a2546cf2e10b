/**
 * `npm run node-user-data -- [--interfaces N] [--wait-seconds S] [--cni-conf-dir DIR] [--pod-routes R]`: the user
 * data part that installs the node agent and waits for the multus interfaces, for nodes this
 * stack's launch template does not launch (a Karpenter EC2NodeClass `userData`, a self-managed
 * launch template). It is the launch template's own shell script (nested/launch-template.yaml,
 * rendered with these values), as a MIME multi-part document: Karpenter and nodeadm merge their
 * own NodeConfig part with it. Printed on stdout. `--help` lists the options with their defaults;
 * a bad option or value is one line on stderr and exit 2. The options are a table (OPTIONS), each
 * bound to the launch template parameter it fills, whose Default and bounds it takes.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './lib/sam-build';
import { parseTemplate, type Dict, type Template } from './lib/template';

export interface NodeUserDataOptions {
  readonly interfaces: number;
  readonly waitSeconds: number;
  readonly cniConfDir: string;
  /** MULTUS_POD_ROUTES: vpc, IPv4 and IPv6 CIDRs or none, comma separated (the launch template's MultusPodRoutes) */
  readonly podRoutes?: string;
}

/** The launch template's shell script, rendered: the node agent's install and the boot step. */
export function nodeScript(options: NodeUserDataOptions, source = readFileSync(join(ROOT, 'nested', 'launch-template.yaml'), 'utf8')): string {
  const template = parseTemplate(source);
  const data = template.Resources.NodeLaunchTemplate.Properties?.LaunchTemplateData as Dict;
  const pieces = ((data.UserData as Dict)['Fn::Base64'] as Dict)['Fn::Join'] as [string, unknown[]];
  const head = ((pieces[1][0] as Dict)['Fn::Sub'] as [string, Dict])[0];
  const script = head.slice(head.indexOf('#!/bin/bash'));
  const values: Record<string, string> = {
    MultusInterfaceCount: String(options.interfaces),
    WaitTimeoutSeconds: String(options.waitSeconds),
    MultusCniConfDir: options.cniConfDir,
    MultusPodRoutes: options.podRoutes ?? 'vpc',
  };
  const rendered = script.replace(/\$\{(!?)([A-Za-z0-9_:-]+)\}/g, (_whole, literal: string, name: string) => {
    if (literal) return `\${${name}}`;
    if (!(name in values)) throw new Error(`the launch template's script names \${${name}}, which node-user-data does not know`);
    return values[name];
  });
  const rest = pieces[1].slice(1).map(String).join('').replace(/\n?--==EKSMULTUSENI==--\s*$/, '\n');
  return rendered + rest;
}

export function nodeUserData(options: NodeUserDataOptions): string {
  return ['MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="==EKSMULTUSENI=="', '', '--==EKSMULTUSENI==', 'Content-Type: text/x-shellscript; charset="us-ascii"', '', nodeScript(options).trimEnd(), '', '--==EKSMULTUSENI==--', ''].join('\n');
}

/** One command-line option: its flag, the template parameter it sets, and how its value is read. */
interface OptionSpec {
  readonly flag: string;
  readonly key: keyof NodeUserDataOptions;
  /** The launch template parameter it fills (its Default, MinValue/MaxValue, AllowedPattern apply). */
  readonly parameter: string;
  readonly metavar: string;
  readonly help: string;
  /** A tighter lower bound than the template's, with the reason. */
  readonly min?: { readonly value: number; readonly why: string };
  /** What a String value may be, in words (default: its AllowedValues or AllowedPattern). */
  readonly takes?: string;
}

/** The options, one line each (a new flag is one more line here, and one more key in NodeUserDataOptions). */
export const OPTIONS: readonly OptionSpec[] = [
  { flag: '--interfaces', key: 'interfaces', parameter: 'MultusInterfaceCount', metavar: 'N', help: 'multus ENIs per node, device indexes 1..N: the longest subnets/<az> list', min: { value: 1, why: 'with 0 the agent has nothing to wait for' } },
  { flag: '--wait-seconds', key: 'waitSeconds', parameter: 'WaitTimeoutSeconds', metavar: 'S', help: 'how long the boot step waits for them before kubelet starts without the ready label' },
  { flag: '--cni-conf-dir', key: 'cniConfDir', parameter: 'MultusCniConfDir', metavar: 'DIR', help: "Multus's node-local config directory, where the agent writes multus-eni-<i>.conflist", takes: 'an absolute path of letters, digits and _ . / -' },
  { flag: '--pod-routes', key: 'podRoutes', parameter: 'MultusPodRoutes', metavar: 'R', help: "where a multus pod's traffic goes through its interface: vpc, IPv4 and IPv6 CIDRs or none, comma separated", takes: 'vpc, none, or IPv4 and IPv6 CIDRs (prefix length 1 to 32, 1 to 128), comma separated' },
];

type Parameter = { Type: string; Default?: unknown; MinValue?: number; MaxValue?: number; AllowedPattern?: string; AllowedValues?: unknown[] };

function parameterOf(template: Template, spec: OptionSpec): Parameter {
  const parameter = template.Parameters?.[spec.parameter] as Parameter | undefined;
  if (!parameter) throw new Error(`nested/launch-template.yaml has no parameter ${spec.parameter} (for ${spec.flag})`);
  return parameter;
}

/** What the value may be, in words: "1-15", "10-3600", "an absolute path". */
function rangeOf(parameter: Parameter, spec: OptionSpec): string {
  if (parameter.Type !== 'Number') {
    if (spec.takes) return spec.takes;
    if (parameter.AllowedValues) return `one of ${parameter.AllowedValues.map(String).join(', ')}`;
    return parameter.AllowedPattern ? `text matching ${parameter.AllowedPattern}` : 'any text';
  }
  return `a whole number from ${spec.min?.value ?? parameter.MinValue ?? 0} to ${parameter.MaxValue ?? 'any'}`;
}

/** Reads one value, or says in one line why it cannot be used. */
function readValue(spec: OptionSpec, parameter: Parameter, raw: string): string | number {
  if (parameter.Type === 'Number') {
    const min = spec.min?.value ?? parameter.MinValue ?? 0;
    const max = parameter.MaxValue ?? Number.MAX_SAFE_INTEGER;
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      const why = spec.min && /^\d+$/.test(raw) && Number(raw) < spec.min.value ? ` (${spec.min.why})` : '';
      throw new UsageError(`${spec.flag} must be ${rangeOf(parameter, spec)}, not "${raw}"${why}`);
    }
    return Number(raw);
  }
  const allowed = parameter.AllowedValues ? parameter.AllowedValues.map(String).includes(raw) : !parameter.AllowedPattern || new RegExp(parameter.AllowedPattern).test(raw);
  if (!allowed) throw new UsageError(`${spec.flag} must be ${rangeOf(parameter, spec)}, not "${raw}"`);
  return raw;
}

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** --help: every option with what it takes and its default (from the launch template). */
export function usage(template: Template = launchTemplate()): string {
  const rows = OPTIONS.map((spec) => {
    const parameter = parameterOf(template, spec);
    return [`  ${spec.flag} ${spec.metavar}`, `${spec.help} (${rangeOf(parameter, spec)}; default ${String(parameter.Default)})`];
  });
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  return [
    `usage: npm run -s node-user-data -- ${OPTIONS.map((o) => `[${o.flag} ${o.metavar}]`).join(' ')} > user-data.mime`,
    'Prints, on stdout, the user data (MIME, one shell-script part) that installs the node agent and waits for the',
    "multus interfaces, for nodes this stack's launch template does not launch (Karpenter, self-managed).",
    ...rows.map(([left, right]) => `${left.padEnd(width)}${right}`),
    `${'  -h, --help'.padEnd(width)}this text`,
    '',
  ].join('\n');
}

/** The command line, read against the table: the options, or `help`; a UsageError names what is wrong. */
export function parseArgs(args: readonly string[], template: Template = launchTemplate()): NodeUserDataOptions | 'help' {
  const given = new Map<OptionSpec, string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--help' || arg === '-h') return 'help';
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const spec = OPTIONS.find((o) => o.flag === flag);
    if (!spec) throw new UsageError(`unknown ${arg.startsWith('-') ? 'option' : 'argument'} ${arg} (options: ${OPTIONS.map((o) => o.flag).join(', ')}, --help)`);
    if (given.has(spec)) throw new UsageError(`${spec.flag} is given twice`);
    const raw = inline ?? args[++i];
    if (raw === undefined || (inline === undefined && raw.startsWith('--'))) throw new UsageError(`${spec.flag} needs a value (${spec.metavar})`);
    given.set(spec, raw);
  }
  const options: Record<string, string | number> = {};
  for (const spec of OPTIONS) {
    const parameter = parameterOf(template, spec);
    options[spec.key] = readValue(spec, parameter, given.get(spec) ?? String(parameter.Default));
  }
  return options as unknown as NodeUserDataOptions;
}

function launchTemplate(): Template {
  return parseTemplate(readFileSync(join(ROOT, 'nested', 'launch-template.yaml'), 'utf8'));
}

function main() {
  let parsed: NodeUserDataOptions | 'help';
  try {
    parsed = parseArgs(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`node-user-data: ${err.message}\n`);
    process.exit(2);
  }
  if (parsed === 'help') process.stdout.write(usage());
  else process.stdout.write(nodeUserData(parsed));
}

if (require.main === module) main();
