/**
 * `npm run node-user-data -- [--interfaces N] [--wait-seconds S] [--cni-conf-dir DIR] [--pod-routes R]`: the user
 * data part that installs the node agent and waits for the multus interfaces, for nodes this
 * stack's launch template does not launch (a Karpenter EC2NodeClass `userData`, a self-managed
 * launch template). It is the launch template's own shell script (nested/launch-template.yaml,
 * rendered with these values), as a MIME multi-part document: Karpenter and nodeadm merge their
 * own NodeConfig part with it. Printed on stdout.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './lib/sam-build';
import { parseTemplate, type Dict } from './lib/template';

export interface NodeUserDataOptions {
  readonly interfaces: number;
  readonly waitSeconds: number;
  readonly cniConfDir: string;
  /** MULTUS_POD_ROUTES: vpc, IPv4 CIDRs or none, comma separated (the launch template's MultusPodRoutes) */
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

/** The launch template's MultusPodRoutes pattern: what may go into agent.env unquoted (no spaces). */
export const POD_ROUTES = new RegExp(String((parseTemplate(readFileSync(join(ROOT, 'nested', 'launch-template.yaml'), 'utf8')).Parameters?.MultusPodRoutes as Dict).AllowedPattern));

export function nodeUserData(options: NodeUserDataOptions): string {
  return ['MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="==EKSMULTUSENI=="', '', '--==EKSMULTUSENI==', 'Content-Type: text/x-shellscript; charset="us-ascii"', '', nodeScript(options).trimEnd(), '', '--==EKSMULTUSENI==--', ''].join('\n');
}

function main() {
  const args = process.argv.slice(2);
  const value = (flag: string, fallback: string) => {
    const i = args.indexOf(flag);
    return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : fallback;
  };
  const interfaces = value('--interfaces', '2');
  const wait = value('--wait-seconds', '300');
  const podRoutes = value('--pod-routes', 'vpc');
  if (!/^\d+$/.test(interfaces) || !/^\d+$/.test(wait) || !POD_ROUTES.test(podRoutes)) {
    process.stderr.write('usage: npm run node-user-data -- [--interfaces N] [--wait-seconds S] [--cni-conf-dir DIR] [--pod-routes vpc|none|CIDR,...]\n');
    process.exit(2);
  }
  process.stdout.write(nodeUserData({ interfaces: Number(interfaces), waitSeconds: Number(wait), cniConfDir: value('--cni-conf-dir', '/etc/cni/multus/net.d'), podRoutes }));
}

if (require.main === module) main();
