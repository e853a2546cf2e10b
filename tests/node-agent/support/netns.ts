// A network namespace for running the node agent for real (as root): veth interfaces that carry the
// ENI MACs, commands run inside it with `ip netns exec` (which also mounts that namespace's /sys, so
// /sys/class/net shows its interfaces), and the fake instance metadata service on its loopback.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** wall-clock milliseconds */
  ms: number;
}

export interface Link {
  ifname: string;
  address: string;
  mtu: number;
  flags: string[];
}

/** Fails loudly (never skips) unless this process can create network namespaces. */
export function requireNetns(): void {
  const need =
    'the node-agent tests run the agent for real in a network namespace: they need root (uid 0), ' +
    'iproute2 with `ip netns`, and a kernel with veth';
  if (process.getuid?.() !== 0) {
    throw new Error(`${need}; this process runs as uid ${process.getuid?.()}. Run them as root.`);
  }
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'pipe' });
  } catch (err) {
    throw new Error(`${need}; \`ip netns list\` failed: ${(err as Error).message}`);
  }
}

export class Netns {
  private constructor(readonly name: string) {}

  /** Creates a namespace named `<prefix>-<pid>` with its loopback up. */
  static create(prefix: string): Netns {
    const ns = new Netns(`${prefix}-${process.pid}`);
    ns.destroy(); // a leftover of an interrupted run with the same pid
    execFileSync('ip', ['netns', 'add', ns.name], { stdio: 'pipe' });
    ns.ip('link', 'set', 'lo', 'up');
    return ns;
  }

  /** The namespace's path, as CNI_NETNS wants it. */
  get path(): string {
    return path.join('/run/netns', this.name);
  }

  ip(...args: string[]): string {
    return execFileSync('ip', ['-n', this.name, ...args], { encoding: 'utf8', stdio: 'pipe' });
  }

  /** A veth pair inside the namespace: `ifname` carries `mac`, its peer is `<ifname>-peer`. */
  addVeth(ifname: string, mac: string): void {
    this.ip('link', 'add', ifname, 'address', mac, 'type', 'veth', 'peer', 'name', `${ifname}-peer`);
  }

  removeLink(ifname: string): void {
    if (this.hasLink(ifname)) this.ip('link', 'del', ifname);
  }

  hasLink(ifname: string): boolean {
    return this.links().some((l) => l.ifname === ifname);
  }

  links(): Link[] {
    return JSON.parse(this.ip('-j', 'link', 'show')) as Link[];
  }

  link(ifname: string): Link {
    const [link] = JSON.parse(this.ip('-j', 'link', 'show', 'dev', ifname)) as Link[];
    return link;
  }

  /** Runs a command inside the namespace and returns its output (throws on a non-zero exit). */
  exec(cmd: string, ...args: string[]): string {
    return execFileSync('ip', ['netns', 'exec', this.name, cmd, ...args], { encoding: 'utf8', stdio: 'pipe' });
  }

  /** The value of an IPv4 per-interface sysctl, read from /proc inside the namespace. */
  ipv4Conf(ifname: string, key: string): string {
    return this.exec('cat', `/proc/sys/net/ipv4/conf/${ifname}/${key}`).trim();
  }

  setIpv4Conf(ifname: string, key: string, value: string): void {
    this.exec('sysctl', '-q', '-w', `net.ipv4.conf.${ifname.replace(/\./g, '/')}.${key}=${value}`);
  }

  /** Starts a command inside the namespace (the caller owns the child). */
  spawn(cmd: string, args: string[], env: NodeJS.ProcessEnv): ChildProcess {
    return spawn('ip', ['netns', 'exec', this.name, cmd, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  }

  /** Runs a command inside the namespace to completion, capturing its output. */
  run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<RunResult> {
    const started = Date.now();
    const child = this.spawn(cmd, args, env);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    return new Promise((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr, ms: Date.now() - started }));
    });
  }

  destroy(): void {
    try {
      execFileSync('ip', ['netns', 'del', this.name], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  }
}
