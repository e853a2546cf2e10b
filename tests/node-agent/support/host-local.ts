// Runs the real CNI reference plugins (Debian package containernetworking-plugins) the way a CNI
// runtime does: the network config on stdin, CNI_* in the environment.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const DIRS = ['/usr/lib/cni', '/opt/cni/bin'];

/** A reference plugin's binary (host-local, host-device); fails loudly when it is not installed. */
export function findPlugin(name: string): string {
  const candidates = DIRS.map((d) => path.join(d, name));
  const found = candidates.find((p) => fs.existsSync(p));
  if (!found) {
    throw new Error(
      `the CNI ${name} plugin is needed (looked in ${candidates.join(', ')}): ` +
        'apt-get install -y containernetworking-plugins',
    );
  }
  return found;
}

export function findHostLocal(): string {
  return findPlugin('host-local');
}

export interface IpamConfig {
  cniVersion: string;
  name: string;
  ipam: Record<string, unknown>;
}

export interface IpamResult {
  code: number | null;
  /** the (first) allocated address with its prefix length, e.g. 10.1.17.240/20 (ADD only) */
  address?: string;
  gateway?: string;
  /** every allocated address, one per range set, with its gateway (ADD only) */
  ips?: { address: string; gateway?: string }[];
  /** the result's routes, as host-local returns them (ADD only) */
  routes?: { dst: string; gw?: string }[];
  /** the plugin's error message on failure */
  error?: string;
}

export function hostLocal(
  plugin: string,
  command: 'ADD' | 'DEL',
  containerId: string,
  config: IpamConfig,
  netnsPath: string,
): IpamResult {
  const res = spawnSync(plugin, [], {
    input: JSON.stringify(config),
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH,
      CNI_COMMAND: command,
      CNI_CONTAINERID: containerId,
      CNI_NETNS: netnsPath,
      CNI_IFNAME: 'net1',
      CNI_PATH: path.dirname(plugin),
    },
  });
  if (res.status !== 0) {
    let error = res.stdout || res.stderr;
    try {
      error = (JSON.parse(res.stdout) as { msg: string }).msg;
    } catch {
      // not JSON: keep the raw output
    }
    return { code: res.status, error };
  }
  if (command === 'DEL') return { code: 0 };
  const out = JSON.parse(res.stdout) as { ips: { address: string; gateway?: string }[]; routes?: { dst: string; gw?: string }[] };
  return { code: 0, address: out.ips[0].address, gateway: out.ips[0].gateway, ips: out.ips.map(({ address, gateway }) => ({ address, gateway })), routes: out.routes };
}
