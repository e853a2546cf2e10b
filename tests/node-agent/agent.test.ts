// The node agent (node-agent/eks-multus-eni-agent), run for real as root inside a network namespace
// of its own: veth interfaces carry the ENI MACs (ens5 the primary ENI at device index 0, ens6/ens7
// multus ENIs at 1/2, ens8 at 3, above MULTUS_INTERFACE_COUNT=2, ens9 at device index 1 of network
// card 1), a fake IMDSv2 answers on the namespace's loopback, networkd's `networkctl` is a stand-in
// that records its arguments, and every directory the agent writes is a temporary one. The real
// `ip`, `sysctl`, `flock` and `curl` do the work, and the real CNI host-local plugin allocates from
// the config the agent writes. The node's label goes to a fake Kubernetes API server (HTTPS, on the
// same loopback) through a kubeconfig laid out as nodeadm writes it.
//
// This sandbox's kernel has no ipvlan (nor dummy links; veth works), so the ipvlan plugin itself
// cannot run here: the ipvlan part of the config is checked by its fields only, and the routes it
// would install are installed by the reference host-device plugin, which applies the IPAM result
// with the same code (containernetworking/plugins pkg/ipam ConfigureIface) on a veth.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { installedText } from '../../scripts/embed-agent';
import { nodeScript } from '../../scripts/node-user-data';
import { findHostLocal, findPlugin, hostLocal, type IpamConfig } from './support/host-local';
import { startFakeImds, writeImdsState, type FakeEni, type FakeImds, type ImdsState } from './support/imds';
import { startFakeKubeApi, writeKubeconfig, writeTokenCommand, type FakeKubeApi, type KubeApiState } from './support/kube-api';
import { Netns, requireNetns, type RunResult } from './support/netns';
import { findShellcheck } from '../support/shellcheck';

const NODE_AGENT = path.resolve(__dirname, '../../node-agent');
const AGENT = path.join(NODE_AGENT, 'eks-multus-eni-agent');
/** The agent as the launch template installs it (the boot step's tests run this copy). */
const installedAgent = () => installedText('eks-multus-eni-agent', fs.readFileSync(AGENT, 'utf8'));

// The VPC's IPv4 CIDRs (a primary and two secondary ones), in the order IMDS lists them.
const VPC_CIDRS = ['10.1.0.0/16', '10.0.0.0/16', '10.2.0.0/16'];
const ENS5: FakeEni = { mac: '0a:00:00:00:00:05', deviceNumber: 0, subnet: '10.0.0.0/24', vpcCidrs: VPC_CIDRS };
// Listed out of order and across an octet boundary: the config sorts them; the gateway is 10.1.16.1.
const ENS6: FakeEni = {
  mac: '0a:00:00:00:00:06',
  deviceNumber: 1,
  subnet: '10.1.16.0/20',
  prefixes: ['10.1.18.0/28', '10.1.17.240/28'],
  vpcCidrs: VPC_CIDRS,
};
const ENS7: FakeEni = { mac: '0a:00:00:00:00:07', deviceNumber: 2, subnet: '10.2.0.0/24', prefixes: ['10.2.0.32/28'], vpcCidrs: VPC_CIDRS };
const ENS8: FakeEni = { mac: '0a:00:00:00:00:08', deviceNumber: 3, subnet: '10.3.0.0/24', prefixes: ['10.3.0.16/28'], vpcCidrs: VPC_CIDRS };
const ENS9: FakeEni = {
  mac: '0a:00:00:00:00:09',
  deviceNumber: 1,
  networkCard: 1,
  subnet: '10.4.0.0/24',
  prefixes: ['10.4.0.16/28'],
  vpcCidrs: VPC_CIDRS,
};
const ALWAYS_PRESENT = { ens5: ENS5, ens6: ENS6, ens8: ENS8, ens9: ENS9 };
const ENS6_RANGES = [
  { subnet: '10.1.16.0/20', rangeStart: '10.1.17.240', rangeEnd: '10.1.17.255', gateway: '10.1.16.1' },
  { subnet: '10.1.16.0/20', rangeStart: '10.1.18.0', rangeEnd: '10.1.18.15', gateway: '10.1.16.1' },
];
/** Every VPC IPv4 CIDR, sorted, via a subnet's router. */
// 10.0.0.0/16 holds the node's own address (local-ipv4, 10.0.0.10): no route there by vpc.
const vpcRoutes = (gw: string) => ['10.1.0.0/16', '10.2.0.0/16'].map((dst) => ({ dst, gw }));
const ENS6_ROUTES = vpcRoutes('10.1.16.1');
const INSTANCE_ID = 'i-0123456789abcdef0';
const NODE = 'ip-10-0-0-5.ec2.internal';
const TOKEN = 'k8s-aws-v1.aHR0cHM6Ly9zdHMuYW1hem9uYXdzLmNvbS8_QWN0aW9uPUdldENhbGxlcklkZW50aXR5';

let ns: Netns;
let imds: FakeImds;
let root: string; // per test file
let work: string; // per test
let stateFile: string;
let dirs: { networkd: string; sysctl: string; cni: string; run: string; ipam: string; nodeadm: string; bin: string };
let reloadLog: string;
let api: FakeKubeApi;
let kubeconfig: string; // kubelet's, written by kubeletStarted()
let tokenArgs: string; // what the credential command was given

function setState(state: ImdsState): void {
  writeImdsState(stateFile, state);
}

function defaultState(): ImdsState {
  return { interfaces: [ENS5, ENS6, ENS7, ENS8, ENS9] };
}

function env(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const vars: Record<string, string | undefined> = {
    PATH: process.env.PATH,
    MULTUS_INTERFACE_COUNT: '2',
    MULTUS_IMDS_ENDPOINT: imds.endpoint,
    MULTUS_NETWORKD_DIR: dirs.networkd,
    MULTUS_SYSCTL_DIR: dirs.sysctl,
    MULTUS_CNI_CONF_DIR: dirs.cni,
    MULTUS_RUN_DIR: dirs.run,
    MULTUS_CNI_STATE_DIR: dirs.ipam,
    MULTUS_NETWORKCTL: path.join(work, 'networkctl'),
    MULTUS_POLL_INTERVAL_SECONDS: '0.1',
    MULTUS_WAIT_TIMEOUT_SECONDS: '10',
    MULTUS_IMDS_RETRY_SECONDS: '2',
    MULTUS_NODEADM_NET_DIR: dirs.nodeadm,
    MULTUS_CNI_BIN_DIR: dirs.bin,
    MULTUS_KUBECONFIG: kubeconfig,
    ...extra,
  };
  return Object.fromEntries(Object.entries(vars).filter(([, v]) => v !== undefined));
}

function agent(args: string[], extra: Record<string, string | undefined> = {}): Promise<RunResult> {
  return ns.run(AGENT, args, env(extra));
}

/** Runs the agent and fails the test, with its output, unless it exits with `code`. */
async function agentOk(args: string[], extra: Record<string, string | undefined> = {}, code = 0): Promise<RunResult> {
  const res = await agent(args, extra);
  if (res.code !== code) {
    throw new Error(`agent ${args.join(' ')} exited ${res.code} (expected ${code})\n${res.stdout}${res.stderr}`);
  }
  return res;
}

function reloads(): string[] {
  return fs.existsSync(reloadLog) ? fs.readFileSync(reloadLog, 'utf8').split('\n').filter(Boolean) : [];
}

/** Every file the agent wrote (outside its run directory), relative path → content. */
function written(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, dir] of [
    ['networkd', dirs.networkd],
    ['sysctl', dirs.sysctl],
    ['cni', dirs.cni],
    ['nodeadm', dirs.nodeadm],
  ] as const) {
    if (!fs.existsSync(dir)) continue;
    for (const f of fs.readdirSync(dir, { recursive: true }) as string[]) {
      const file = path.join(dir, f);
      if (fs.statSync(file).isFile()) out[`${name}/${f}`] = fs.readFileSync(file, 'utf8');
    }
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

const DEVICE_1_FILES = [
  'cni/multus-eni-1.conflist',
  'networkd/10-eks-multus-eni-device-1.network',
  `nodeadm/${INSTANCE_ID}/ens6`,
  'sysctl/90-eks-multus-eni-device-1.conf',
];

/** The CNI plugins our conflists use, as the VPC CNI's init container leaves them in /opt/cni/bin. */
function installPlugins(...names: string[]): void {
  fs.mkdirSync(dirs.bin, { recursive: true });
  for (const name of names) fs.writeFileSync(path.join(dirs.bin, name), '#!/bin/sh\n', { mode: 0o755 });
}

/** What nodeadm-run leaves once kubelet runs: its kubeconfig; and the API server's view of the Node. */
function kubeletStarted(nodes: KubeApiState['nodes'] = { [NODE]: { labels: {} } }): void {
  const command = path.join(work, 'aws');
  writeTokenCommand(command, tokenArgs, TOKEN);
  writeKubeconfig(kubeconfig, api.server, api.ca, command);
  api.setState({ token: TOKEN, identity: NODE, nodes });
}

/** The API calls made since `from` (a count of api.requests()), as "METHOD path status". */
function callsSince(from: number): string[] {
  return api.requests().slice(from).map((r) => `${r.method} ${r.path} ${r.status}`);
}

/** The eks-multus-eni/ready values PATCHed since `from`. */
function labelsSince(from: number): string[] {
  return api
    .requests()
    .slice(from)
    .filter((r) => r.method === 'PATCH')
    .map((r) => (JSON.parse(r.body) as { metadata: { labels: Record<string, string> } }).metadata.labels['eks-multus-eni/ready']);
}

function networkdFile(i: number): string {
  return path.join(dirs.networkd, `10-eks-multus-eni-device-${i}.network`);
}
function sysctlFile(i: number): string {
  return path.join(dirs.sysctl, `90-eks-multus-eni-device-${i}.conf`);
}
function cniFile(i: number): string {
  return path.join(dirs.cni, `multus-eni-${i}.conflist`);
}

/** A systemd unit file as section → key → value (comments dropped). */
function parseUnit(text: string): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) out[(section = header[1])] ??= {};
    else {
      const eq = line.indexOf('=');
      out[section][line.slice(0, eq)] = line.slice(eq + 1);
    }
  }
  return out;
}

interface Conflist {
  cniVersion: string;
  name: string;
  plugins: {
    type: string;
    master: string;
    mode: string;
    ipam: { type: string; ranges: Record<string, string>[][]; routes?: { dst: string; gw: string }[]; dataDir: string };
  }[];
}

function readConflist(i: number): Conflist {
  return JSON.parse(fs.readFileSync(cniFile(i), 'utf8')) as Conflist;
}

/** What Multus hands the ipvlan plugin, and ipvlan hands host-local: the plugin's ipam with the list's name and version. */
function ipamOf(i: number): IpamConfig {
  const conf = readConflist(i);
  return { cniVersion: conf.cniVersion, name: conf.name, ipam: conf.plugins[0].ipam };
}

function expectedNetworkd(mac: string, i: number): Record<string, Record<string, string>> {
  return {
    Match: { PermanentMACAddress: mac },
    Link: { RequiredForOnline: 'no', MTUBytes: '9001' },
    Network: { DHCP: 'ipv4', LinkLocalAddressing: 'no', IPv6AcceptRA: 'no', DNSDefaultRoute: 'no' },
    DHCPv4: {
      UseRoutes: 'false',
      UseGateway: 'false',
      UseDNS: 'false',
      UseNTP: 'false',
      UseHostname: 'false',
      UseDomains: 'false',
      RouteMetric: String(2000 + i),
    },
  };
}

/** The interface as the agent leaves a multus one: MTU 9001, up, rp_filter 2. */
function expectConfiguredLink(ifname: string): void {
  const link = ns.link(ifname);
  expect(link.mtu).toBe(9001);
  expect(link.flags).toContain('UP');
  expect(ns.ipv4Conf(ifname, 'rp_filter')).toBe('2');
}

/** The interface as beforeEach leaves it. */
function expectUntouchedLink(ifname: string): void {
  const link = ns.link(ifname);
  expect(link.mtu).toBe(1500);
  expect(link.flags).not.toContain('UP');
  expect(ns.ipv4Conf(ifname, 'rp_filter')).toBe('0');
}

/**
 * A pod's net1 as ipvlan would set it up: the reference host-device plugin moves a veth (made in the
 * node's namespace) into `pod` and applies the IPAM result with the same ConfigureIface.
 */
function attachPod(pod: Netns, device: string, ipam: IpamConfig, containerId: string): void {
  ns.ip('link', 'add', device, 'type', 'veth', 'peer', 'name', `${device}-peer`);
  ns.ip('link', 'set', `${device}-peer`, 'up');
  const config = { cniVersion: ipam.cniVersion, name: ipam.name, type: 'host-device', device, ipam: ipam.ipam };
  execFileSync('ip', ['netns', 'exec', ns.name, findPlugin('host-device')], {
    input: JSON.stringify(config),
    env: { PATH: process.env.PATH, CNI_COMMAND: 'ADD', CNI_CONTAINERID: containerId, CNI_NETNS: pod.path, CNI_IFNAME: 'net1', CNI_PATH: path.dirname(findHostLocal()) },
    stdio: 'pipe',
  });
}

function addressesOf(cidr: string): string[] {
  const [base, len] = cidr.split('/');
  const start = base.split('.').reduce((n, o) => n * 256 + Number(o), 0);
  return Array.from({ length: 2 ** (32 - Number(len)) }, (_, k) => {
    const n = start + k;
    return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
  });
}

beforeAll(async () => {
  requireNetns();
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'multus-agent-'));
  stateFile = path.join(root, 'imds.json');
  writeImdsState(stateFile, defaultState());
  ns = Netns.create('multus-agent');
  for (const [ifname, eni] of Object.entries(ALWAYS_PRESENT)) ns.addVeth(ifname, eni.mac);
  imds = await startFakeImds(ns, stateFile);
  api = await startFakeKubeApi(ns, path.join(root, 'kube-api'), { token: TOKEN, identity: NODE, nodes: {} });
});

afterAll(async () => {
  await imds?.stop();
  await api?.stop();
  ns?.destroy();
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

beforeEach(() => {
  work = fs.mkdtempSync(path.join(root, 'test-'));
  dirs = {
    networkd: path.join(work, 'systemd-network'),
    sysctl: path.join(work, 'sysctl.d'),
    cni: path.join(work, 'cni-net.d'),
    run: path.join(work, 'run'),
    ipam: path.join(work, 'run', 'ipam'),
    nodeadm: path.join(work, 'nodeadm-udev-net-manager'),
    bin: path.join(work, 'cni-bin'),
  };
  kubeconfig = path.join(work, 'kubelet-kubeconfig');
  tokenArgs = path.join(work, 'token-command-args');
  reloadLog = path.join(work, 'networkctl.log');
  const standIn = path.join(work, 'networkctl');
  fs.writeFileSync(standIn, `#!/bin/sh\necho "$*" >> '${reloadLog}'\n`, { mode: 0o755 });
  setState(defaultState());
  ns.removeLink('ens7');
  for (const ifname of Object.keys(ALWAYS_PRESENT)) {
    ns.ip('link', 'set', 'dev', ifname, 'down', 'mtu', '1500');
    ns.setIpv4Conf(ifname, 'rp_filter', '0');
  }
});

describe('eks-multus-eni-agent configure <interface>', () => {
  it('writes the networkd and sysctl files, sets MTU 9001, link up and rp_filter 2 now, and reloads networkd', async () => {
    const res = await agentOk(['configure', 'ens6']);

    expect(res.stdout.trim().split('\n')).toEqual([expect.stringMatching(/^eks-multus-eni: ens6 .*device index 1/)]);
    const networkd = fs.readFileSync(networkdFile(1), 'utf8');
    expect(networkd).toMatch(/^# Written by eks-multus-eni-agent/);
    expect(parseUnit(networkd)).toEqual(expectedNetworkd(ENS6.mac, 1));
    const sysctl = fs.readFileSync(sysctlFile(1), 'utf8');
    expect(sysctl).toMatch(/^# Written by eks-multus-eni-agent/);
    expect(sysctl.split('\n').filter((l) => l && !l.startsWith('#'))).toEqual(['net.ipv4.conf.ens6.rp_filter = 2']);
    expectConfiguredLink('ens6');
    expect(reloads()).toEqual(['reload']);
    // Only device index 1's files, nothing left under a temporary name.
    expect(Object.keys(written())).toEqual(DEVICE_1_FILES);
  });

  it('writes a CNI config over exactly the delegated prefixes, sorted, with the subnet router as gateway', async () => {
    await agentOk(['configure', 'ens6']);

    const conf = readConflist(1);
    expect(conf.cniVersion).toBe('0.4.0');
    expect(conf.name).toBe('multus-eni-1');
    expect(conf.plugins).toHaveLength(1);
    const [plugin] = conf.plugins;
    expect({ type: plugin.type, master: plugin.master, mode: plugin.mode }).toEqual({
      type: 'ipvlan',
      master: 'ens6',
      mode: 'l2',
    });
    expect(plugin.ipam).toEqual({ type: 'host-local', ranges: [ENS6_RANGES], routes: ENS6_ROUTES, dataDir: dirs.ipam });
  });

  it('changes nothing on a second run: identical bytes, no second networkctl reload', async () => {
    await agentOk(['configure', 'ens6']);
    const first = written();

    const again = await agentOk(['configure', 'ens6']);
    await agentOk(['sync']);

    expect(again.stdout).toMatch(/ens6 .*unchanged/);
    expect(written()).toEqual(first);
    expect(reloads()).toEqual(['reload']);
    expectConfiguredLink('ens6');
  });

  it('never touches device index 0, an index above MULTUS_INTERFACE_COUNT, or another network card', async () => {
    for (const ifname of ['ens5', 'ens8', 'ens9']) {
      const res = await agentOk(['configure', ifname]);
      expect(res.stdout).toMatch(new RegExp(`^eks-multus-eni: ${ifname} .*not a multus interface, nothing to do\n$`));
    }
    await agentOk(['sync']);

    expect(Object.keys(written())).toEqual(DEVICE_1_FILES);
    expect(parseUnit(fs.readFileSync(networkdFile(1), 'utf8')).Match.PermanentMACAddress).toBe(ENS6.mac);
    for (const ifname of ['ens5', 'ens8', 'ens9']) expectUntouchedLink(ifname);
  });

  it('configures an interface that appears later', async () => {
    await agentOk(['configure', 'ens6']);
    ns.addVeth('ens7', ENS7.mac);

    await agentOk(['configure', 'ens7']);

    expect(parseUnit(fs.readFileSync(networkdFile(2), 'utf8'))).toEqual(expectedNetworkd(ENS7.mac, 2));
    expect(readConflist(2).plugins[0]).toMatchObject({
      master: 'ens7',
      ipam: { ranges: [[{ subnet: '10.2.0.0/24', rangeStart: '10.2.0.32', rangeEnd: '10.2.0.47', gateway: '10.2.0.1' }]] },
    });
    expectConfiguredLink('ens7');
    expectConfiguredLink('ens6');
  });

  it('writes no CNI config for an ENI without prefixes, and removes an old one', async () => {
    await agentOk(['configure', 'ens6']);
    expect(fs.existsSync(cniFile(1))).toBe(true);

    setState({ interfaces: [ENS5, { ...ENS6, prefixes: undefined }] });
    const res = await agentOk(['configure', 'ens6']);

    expect(res.stdout).toMatch(/ens6 .*no prefixes/);
    expect(fs.existsSync(cniFile(1))).toBe(false);
    expect(fs.existsSync(networkdFile(1))).toBe(true);
    expect(reloads()).toEqual(['reload']); // the networkd file did not change
    expectConfiguredLink('ens6');
  });

  it('skips, with a log line each, prefixes that are not aligned IPv4 CIDRs inside the subnet', async () => {
    // unaligned, outside the subnet, not a CIDR, not IPv4, and a duplicate
    const bad = ['10.1.17.241/28', '10.9.0.0/28', 'not-a-cidr', '10.1.18.0/33', '2600:1f18::/80'];
    setState({ interfaces: [{ ...ENS6, prefixes: ['10.1.17.240/28', ...bad, '10.1.17.240/28'] }] });

    const res = await agentOk(['configure', 'ens6']);

    for (const p of bad) expect(res.stderr).toContain(`skipping prefix '${p}'`);
    expect(res.stderr).toContain('skipping prefix 10.1.17.240/28: overlaps another');
    expect(res.stderr.trim().split('\n')).toHaveLength(bad.length + 1);
    expect(readConflist(1).plugins[0].ipam.ranges).toEqual([
      [{ subnet: '10.1.16.0/20', rangeStart: '10.1.17.240', rangeEnd: '10.1.17.255', gateway: '10.1.16.1' }],
    ]);
  });

  it('keeps the CNI config when instance metadata fails, and says so with a non-zero exit', async () => {
    await agentOk(['configure', 'ens6']);
    const before = written();
    setState({ ...defaultState(), fail: { [`network/interfaces/macs/${ENS6.mac}/ipv4-prefix`]: 403 } });

    const res = await agentOk(['configure', 'ens6'], {}, 1);

    expect(res.stderr).toMatch(/ens6: ipv4-prefix: instance metadata unavailable/);
    expect(written()).toEqual(before);
  });

  it('lets two runs at once both succeed and leave one correct set of files', async () => {
    for (let round = 0; round < 5; round++) {
      fs.rmSync(dirs.networkd, { recursive: true, force: true });
      fs.rmSync(dirs.sysctl, { recursive: true, force: true });
      fs.rmSync(dirs.cni, { recursive: true, force: true });
      fs.rmSync(reloadLog, { force: true });

      const results = await Promise.all([agent(['configure', 'ens6']), agent(['configure', 'ens6'])]);

      expect(results.map((r) => r.code)).toEqual([0, 0]);
      expect(Object.keys(written())).toEqual(DEVICE_1_FILES);
      expect(parseUnit(fs.readFileSync(networkdFile(1), 'utf8'))).toEqual(expectedNetworkd(ENS6.mac, 1));
      expect(readConflist(1).plugins[0].ipam.ranges).toEqual([ENS6_RANGES]);
      expect(reloads()).toEqual(['reload']); // one run wrote the file, the other found it done
    }
  });
});

describe('eks-multus-eni-agent sync', () => {
  it('picks up prefixes added to an ENI in place', async () => {
    setState({ interfaces: [ENS5, { ...ENS6, prefixes: [] }, ENS7] });
    const first = await agentOk(['sync']); // ens7 is in metadata but not attached yet: still exit 0
    expect(first.stdout).toMatch(/device index 2 \(0a:00:00:00:00:07\): no kernel interface yet/);
    expect(fs.existsSync(cniFile(1))).toBe(false);

    setState({ interfaces: [ENS5, { ...ENS6, prefixes: ['10.1.17.240/28'] }, ENS7] });
    await agentOk(['sync']);
    expect(readConflist(1).plugins[0].ipam.ranges).toEqual([[ENS6_RANGES[0]]]);

    setState({ interfaces: [ENS5, ENS6, ENS7] });
    await agentOk(['sync']);
    expect(readConflist(1).plugins[0].ipam.ranges).toEqual([ENS6_RANGES]);
    expect(reloads()).toEqual(['reload']);
    expectUntouchedLink('ens8');
  });
});

describe('eks-multus-eni-agent wait', () => {
  it('returns once the last interface appears, configuring each as it comes', async () => {
    const started = Date.now();
    const waiting = agent(['wait'], { MULTUS_WAIT_TIMEOUT_SECONDS: '20' });
    await new Promise((r) => setTimeout(r, 1000));
    ns.addVeth('ens7', ENS7.mac);

    const res = await waiting;

    expect(res.code).toBe(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(res.ms).toBeLessThan(10000);
    expect(res.stdout.trim().split('\n')).toEqual([
      expect.stringMatching(/^eks-multus-eni: ens6 .*device index 1/),
      expect.stringMatching(/^eks-multus-eni: ens7 .*device index 2/),
    ]);
    expectConfiguredLink('ens6');
    expectConfiguredLink('ens7');
    expect(readConflist(2).plugins[0].master).toBe('ens7');
  });

  it('times out with exit 1 and one line per missing device index, having configured the others', async () => {
    // 4 multus interfaces: 1 (ens6) and 3 (ens8) are here, 2 is in metadata but not in the kernel, 4 is nowhere.
    const res = await agentOk(['wait'], { MULTUS_INTERFACE_COUNT: '4', MULTUS_WAIT_TIMEOUT_SECONDS: '1' }, 1);

    expect(res.stderr.trim().split('\n')).toEqual([
      `eks-multus-eni: timed out after 1s: device index 2 (${ENS7.mac}): no kernel interface with that MAC`,
      'eks-multus-eni: timed out after 1s: device index 4: no interface in instance metadata',
    ]);
    expect(res.ms).toBeLessThan(5000);
    expectConfiguredLink('ens6');
    expectConfiguredLink('ens8');
    expect(fs.existsSync(networkdFile(3))).toBe(true);
    expect(fs.existsSync(networkdFile(2))).toBe(false);
    expectUntouchedLink('ens5');
    expectUntouchedLink('ens9');
  });
});

describe('eks-multus-eni-agent usage and settings', () => {
  it.each<[string, string[], Record<string, string | undefined>, RegExp]>([
    ['no command', [], {}, /usage: eks-multus-eni-agent wait \| sync \| plugins \| configure <interface>/],
    ['an unknown command', ['start'], {}, /usage:/],
    ['configure without an interface', ['configure'], {}, /usage:/],
    ['an extra argument', ['wait', 'extra'], {}, /usage:/],
    ['an interface name that is a path', ['configure', '../etc'], {}, /usage:/],
    [
      'MULTUS_INTERFACE_COUNT unset',
      ['sync'],
      { MULTUS_INTERFACE_COUNT: undefined },
      /MULTUS_INTERFACE_COUNT must be a number, got ''/,
    ],
    [
      'MULTUS_INTERFACE_COUNT not a number',
      ['sync'],
      { MULTUS_INTERFACE_COUNT: 'two' },
      /MULTUS_INTERFACE_COUNT must be a number, got 'two'/,
    ],
    [
      'a fractional timeout',
      ['wait'],
      { MULTUS_WAIT_TIMEOUT_SECONDS: '1.5' },
      /MULTUS_WAIT_TIMEOUT_SECONDS must be whole seconds, got '1.5'/,
    ],
    [
      'a poll interval that is not a number',
      ['wait'],
      { MULTUS_POLL_INTERVAL_SECONDS: 'soon' },
      /MULTUS_POLL_INTERVAL_SECONDS must be seconds, got 'soon'/,
    ],
    [
      'an IMDS retry bound that is not whole seconds',
      ['configure', 'ens6'],
      { MULTUS_IMDS_RETRY_SECONDS: '0.5' },
      /MULTUS_IMDS_RETRY_SECONDS must be whole seconds, got '0.5'/,
    ],
    [
      'a default route for the pods',
      ['configure', 'ens6'],
      { MULTUS_POD_ROUTES: 'vpc,0.0.0.0/0' },
      /^eks-multus-eni: MULTUS_POD_ROUTES: refusing '0.0.0.0\/0': a multus pod's default route stays on eth0 \(the VPC CNI\)$/m,
    ],
    [
      'a route that is not an aligned CIDR',
      ['sync'],
      { MULTUS_POD_ROUTES: 'vpc 192.168.0.1/16' },
      /MULTUS_POD_ROUTES: refusing '192.168.0.1\/16': not an aligned IPv4 or IPv6 CIDR, vpc or none/,
    ],
    ['an IPv6 default route for the pods', ['configure', 'ens6'], { MULTUS_POD_ROUTES: 'vpc,::/0' }, /refusing '::\/0': a multus pod's default route stays on eth0/],
    ['an IPv6 route that is not aligned', ['sync'], { MULTUS_POD_ROUTES: '2600:1f18::1/56' }, /refusing '2600:1f18::1\/56': not an aligned IPv4 or IPv6 CIDR/],
    ['an IPv6 route that is not an address', ['sync'], { MULTUS_POD_ROUTES: '2600:1f18::4f1::/56' }, /refusing '2600:1f18::4f1::\/56': not an aligned IPv4 or IPv6 CIDR/],
    ['a route that is not a CIDR', ['wait'], { MULTUS_POD_ROUTES: '10.0.0.0/33' }, /MULTUS_POD_ROUTES: refusing '10.0.0.0\/33'/],
    ['none with routes', ['sync'], { MULTUS_POD_ROUTES: 'none,vpc' }, /MULTUS_POD_ROUTES: refusing 'none': not an aligned/],
  ])('%s: exit 2 with one clear line, nothing written', async (_what, args, extra, message) => {
    const res = await agentOk(args, extra, 2);
    expect(res.stderr).toMatch(message);
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
    expect(written()).toEqual({});
  });

  it('does nothing with MULTUS_INTERFACE_COUNT=0', async () => {
    for (const args of [['wait'], ['sync'], ['configure', 'ens6']]) {
      const res = await agentOk(args, { MULTUS_INTERFACE_COUNT: '0' });
      expect(res.stdout).toMatch(/nothing to do/);
    }
    expect(written()).toEqual({});
    expectUntouchedLink('ens6');
  });

  it('fails an interface that does not exist', async () => {
    const res = await agentOk(['configure', 'ens42'], {}, 1);
    expect(res.stderr).toMatch(/ens42: no such interface/);
  });

  it('talks IMDSv2 only (the fake refuses a GET without a session token, as HttpTokens=required does)', () => {
    const url = `${imds.endpoint}/latest/meta-data/network/interfaces/macs/`;
    const code = ns.exec('curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', url);
    expect(code).toBe('401');
  });

  it('packs under 7 KiB as the node gets it: the launch template carries it gzipped in user data (16 KB for everything, held by tests/unit/nested-templates.test.ts)', () => {
    expect(gzipSync(installedAgent(), { level: 9 }).length).toBeLessThanOrEqual(7 * 1024);
  });

  it('goes to the node without its comment lines only: the same code, line for line, the text it writes intact, shellcheck clean', () => {
    const source = fs.readFileSync(AGENT, 'utf8');
    const installed = installedAgent();
    const code = (text: string) => text.split('\n').filter((l) => !/^\s*#/.test(l));
    expect(code(installed)).toEqual(code(source));
    expect(installed.split('\n').slice(0, 3)).toEqual(source.split('\n').slice(0, 3));
    // the networkd file's first line, inside a here-document
    expect(installed).toContain('\n# Written by eks-multus-eni-agent: multus ENI at device index $1.\n');
    expect(installed.length).toBeLessThan(source.length * 0.85);
    const copy = path.join(root, 'installed-agent');
    fs.writeFileSync(copy, installed);
    expect(execFileSync(findShellcheck(), [copy], { encoding: 'utf8' })).toBe('');
    // every function as bash parses it, strings and here-documents included (declare -f drops only comments)
    const functions = (file: string) =>
      execFileSync('bash', ['-c', 'eval "$(sed \'$d\' "$1")"; declare -f', 'functions', file], { encoding: 'utf8', env: { PATH: process.env.PATH } });
    expect(source.trimEnd().split('\n').at(-1)).toBe('main "$@"');
    const parsed = functions(AGENT);
    expect(parsed).toMatch(/^networkd_conf \(\)/m);
    expect(functions(copy)).toBe(parsed);
  });

  it('is shellcheck clean', () => {
    expect(execFileSync(findShellcheck(), [AGENT], { encoding: 'utf8' })).toBe('');
  });
});

describe('the real CNI host-local plugin on the generated config', () => {
  let plugin: string;
  let ipam: IpamConfig;
  const prefixAddresses = ENS6.prefixes!.flatMap(addressesOf);

  beforeAll(() => {
    plugin = findHostLocal();
  });

  beforeEach(async () => {
    await agentOk(['configure', 'ens6']);
    ipam = ipamOf(1);
  });

  const add = (id: string) => hostLocal(plugin, 'ADD', id, ipam, ns.path);
  const del = (id: string) => hostLocal(plugin, 'DEL', id, ipam, ns.path);

  it('gives two containers distinct addresses inside the prefixes, never the gateway', () => {
    const a = add('container-a');
    const b = add('container-b');

    for (const r of [a, b]) {
      expect(r).toMatchObject({ code: 0, gateway: '10.1.16.1' });
      expect(r.address).toMatch(/\/20$/);
      expect(prefixAddresses).toContain(r.address!.split('/')[0]);
      expect(r.address!.split('/')[0]).not.toBe(r.gateway);
    }
    expect(a.address).not.toBe(b.address);
    expect(a.address!.split('/')[0]).toBe('10.1.17.240');
  });

  it('hands out exactly the prefixes\' addresses; DEL releases one for the next ADD', () => {
    const got = prefixAddresses.map((_, k) => add(`c${k}`));
    expect(got.map((r) => r.code)).toEqual(prefixAddresses.map(() => 0));
    expect(got.map((r) => r.address!.split('/')[0]).sort()).toEqual([...prefixAddresses].sort());
    const full = add('one-too-many');
    expect(full.code).not.toBe(0);
    expect(full.error).toMatch(/no IP addresses available/);

    expect(del('c5').code).toBe(0);
    const reused = add('after-del');

    expect(reused).toMatchObject({ code: 0, address: got[5].address });
  });

  it('returns the routes to every VPC CIDR in its result, and none for 0.0.0.0/0', () => {
    const result = add('container-a');

    expect(result.routes).toEqual(ENS6_ROUTES);
    expect(result.routes!.map((r) => r.dst)).not.toContain('0.0.0.0/0');
  });

  it('gives the pod those routes via the subnet\'s router and no default route, as ipvlan applies them (host-device on a veth: the same ConfigureIface)', () => {
    const pod = Netns.create('multus-pod');
    try {
      attachPod(pod, 'mpod0', ipam, 'pod-1');

      const routes = JSON.parse(pod.ip('-j', 'route', 'show')) as { dst: string; gateway?: string; dev: string }[];
      expect(routes.map((r) => [r.dst, r.gateway ?? 'on-link', r.dev]).sort()).toEqual([
        ['10.1.0.0/16', '10.1.16.1', 'net1'],
        ['10.1.16.0/20', 'on-link', 'net1'],
        ['10.2.0.0/16', '10.1.16.1', 'net1'],
      ]);
      expect(JSON.parse(pod.ip('-j', 'route', 'show', 'default'))).toEqual([]);
    } finally {
      pod.destroy(); // takes the veth pair with it
    }
  });

  it('starts over at the first address from a clean state directory (state under /run: a reboot)', () => {
    expect(add('before-reboot-1').address).toBe('10.1.17.240/20');
    expect(add('before-reboot-2').address).toBe('10.1.17.241/20');

    fs.rmSync(dirs.ipam, { recursive: true, force: true });

    expect(add('after-reboot').address).toBe('10.1.17.240/20');
  });
});

describe('the units and the udev rule that run the agent', () => {
  const read = (f: string) => fs.readFileSync(path.join(NODE_AGENT, f), 'utf8');

  it('start configure <name> per interface, sync every minute, with the settings file', () => {
    const perInterface = parseUnit(read('eks-multus-eni-agent@.service'));
    expect(perInterface.Service).toEqual({
      Type: 'oneshot',
      EnvironmentFile: '-/etc/eks-multus-eni/agent.env',
      ExecStart: '/usr/local/bin/eks-multus-eni-agent configure %i',
    });
    const sync = parseUnit(read('eks-multus-eni-agent-sync.service'));
    expect(sync.Service).toEqual({
      Type: 'oneshot',
      EnvironmentFile: '-/etc/eks-multus-eni/agent.env',
      ExecStart: '/usr/local/bin/eks-multus-eni-agent sync',
    });
    const timer = parseUnit(read('eks-multus-eni-agent-sync.timer'));
    expect(timer.Timer).toEqual({ OnBootSec: '1min', OnUnitActiveSec: '1min' });
    expect(timer.Install).toEqual({ WantedBy: 'timers.target' });

    const rules = read('91-eks-multus-eni.rules').split('\n').filter((l) => l && !l.startsWith('#'));
    expect(rules).toEqual([
      'ACTION=="add", SUBSYSTEM=="net", ENV{ID_NET_DRIVER}=="vif|ena|ixgbevf", ' +
        'RUN+="/usr/bin/systemctl start --no-block eks-multus-eni-agent@$name.service"',
    ]);
  });

  it('pass systemd-analyze verify', () => {
    let analyze: string;
    try {
      analyze = execFileSync('sh', ['-c', 'command -v systemd-analyze'], { encoding: 'utf8' }).trim();
    } catch {
      throw new Error('systemd-analyze is needed to check the units: apt-get install -y systemd');
    }
    // systemd-analyze checks that ExecStart exists: point it at the agent in the repository.
    const dir = fs.mkdtempSync(path.join(root, 'units-'));
    const units: string[] = [];
    for (const [file, as] of [
      ['eks-multus-eni-agent@.service', 'eks-multus-eni-agent@ens6.service'],
      ['eks-multus-eni-agent-sync.service', 'eks-multus-eni-agent-sync.service'],
      ['eks-multus-eni-agent-sync.timer', 'eks-multus-eni-agent-sync.timer'],
    ]) {
      fs.writeFileSync(path.join(dir, as), read(file).replaceAll('/usr/local/bin/eks-multus-eni-agent', AGENT));
      units.push(path.join(dir, as));
    }
    const res = spawnSync(analyze, ['verify', ...units], { encoding: 'utf8' });
    expect(`${res.stdout}${res.stderr}`).toBe('');
    expect(res.status).toBe(0);
  });
});

describe('routes: a multus pod reaches the VPC beyond its own subnet', () => {
  const routesOf = async (extra: Record<string, string>) => {
    await agentOk(['configure', 'ens6'], extra);
    return readConflist(1).plugins[0].ipam.routes;
  };

  it('routes every IPv4 CIDR of the VPC via the ENI\'s subnet router, sorted, and never a default route, but the one that holds the node', async () => {
    const res = await agentOk(['configure', 'ens6']);
    // 10.0.0.0/16 holds local-ipv4 (10.0.0.10): the VPC CNI's nodes and pods, kubelet's probes come from there
    expect(readConflist(1).plugins[0].ipam.routes).toEqual([
      { dst: '10.1.0.0/16', gw: '10.1.16.1' },
      { dst: '10.2.0.0/16', gw: '10.1.16.1' },
    ]);
    expect(res.stderr).toBe('');
    // each ENI through its own subnet's router
    ns.addVeth('ens7', ENS7.mac);
    await agentOk(['configure', 'ens7']);
    expect(readConflist(2).plugins[0].ipam.routes).toEqual(vpcRoutes('10.2.0.1'));
  });

  it('a VPC of one CIDR, which holds the node too: no route by vpc, and a line saying what to set instead', async () => {
    const one = ['10.0.0.0/16'];
    setState({ interfaces: [{ ...ENS5, vpcCidrs: one }, { ...ENS6, subnet: '10.0.128.0/24', prefixes: ['10.0.128.16/28'], vpcCidrs: one }] });
    const res = await agentOk(['configure', 'ens6']);
    expect(readConflist(1).plugins[0].ipam.routes).toBeUndefined();
    expect(res.stderr).toBe("eks-multus-eni: ens6: no route to the VPC: its CIDR 10.0.0.0/16 holds this node's address 10.0.0.10 (the VPC CNI's); name the multus subnets' range in MULTUS_POD_ROUTES\n");
    // what the line says to do: the multus subnets' range (what the stack's own VPC passes, 10.0.128.0/21)
    await agentOk(['configure', 'ens6'], { MULTUS_POD_ROUTES: '10.0.128.0/21' });
    expect(readConflist(1).plugins[0].ipam.routes).toEqual([{ dst: '10.0.128.0/21', gw: '10.0.128.1' }]);
  });

  it.each<[string, string, { dst: string; gw: string }[] | undefined]>([
    ['extra destinations next to the VPC (on-premises ranges behind a transit gateway)', 'vpc,192.168.0.0/16,172.16.0.0/12', [...ENS6_ROUTES, { dst: '172.16.0.0/12', gw: '10.1.16.1' }, { dst: '192.168.0.0/16', gw: '10.1.16.1' }]],
    ['chosen CIDRs instead of the VPC\'s (the multus subnets\' range only), space separated', '10.1.0.0/16 10.9.8.0/24', [{ dst: '10.1.0.0/16', gw: '10.1.16.1' }, { dst: '10.9.8.0/24', gw: '10.1.16.1' }]],
    ['a destination given twice, once through vpc', 'vpc,10.1.0.0/16', ENS6_ROUTES],
    ['the CIDR that holds the node, named: the user\'s choice', 'vpc,10.0.0.0/16', [{ dst: '10.0.0.0/16', gw: '10.1.16.1' }, ...ENS6_ROUTES]],
    ['none: the pod\'s own subnet only', 'none', undefined],
  ])('MULTUS_POD_ROUTES: %s', async (_what, value, expected) => {
    expect(await routesOf({ MULTUS_POD_ROUTES: value })).toEqual(expected);
  });

  it('skips, with a line each, destinations inside the ENI\'s own subnet (on-link already: a route there would clash)', async () => {
    const res = await agentOk(['configure', 'ens6'], { MULTUS_POD_ROUTES: '10.1.16.0/20,10.1.17.0/24,vpc' });

    expect(res.stderr.trim().split('\n')).toEqual([
      'eks-multus-eni: ens6: no route to 10.1.16.0/20: inside 10.1.16.0/20, on-link',
      'eks-multus-eni: ens6: no route to 10.1.17.0/24: inside 10.1.16.0/20, on-link',
    ]);
    expect(readConflist(1).plugins[0].ipam.routes).toEqual(ENS6_ROUTES);
  });

  it('no VPC route, and no failure, when metadata lists no VPC CIDR (404), with a line; a CIDR of the other family in the list is skipped', async () => {
    setState({ interfaces: [ENS5, { ...ENS6, vpcCidrs: undefined }] });
    const res = await agentOk(['configure', 'ens6']);
    expect(res.stderr).toBe('eks-multus-eni: ens6: no route to the VPC: metadata lists no VPC IPv4 CIDR\n');
    expect(readConflist(1).plugins[0].ipam).toMatchObject({ ranges: [ENS6_RANGES] });
    expect(readConflist(1).plugins[0].ipam.routes).toBeUndefined();
    // a CIDR named besides vpc still goes in
    await agentOk(['configure', 'ens6'], { MULTUS_POD_ROUTES: 'vpc,192.168.0.0/16' });
    expect(readConflist(1).plugins[0].ipam.routes).toEqual([{ dst: '192.168.0.0/16', gw: '10.1.16.1' }]);

    setState({ interfaces: [ENS5, { ...ENS6, vpcCidrs: ['10.1.0.0/16', '2600:1f14::/56'] }] });
    const mixed = await agentOk(['configure', 'ens6']);
    expect(mixed.stderr).toBe("eks-multus-eni: ens6: skipping VPC CIDR '2600:1f14::/56': not an aligned IPv4 CIDR\n");
    expect(readConflist(1).plugins[0].ipam.routes).toEqual([{ dst: '10.1.0.0/16', gw: '10.1.16.1' }]);
  });

  it('keeps the CNI config as it is when the VPC CIDRs cannot be read, and says so', async () => {
    await agentOk(['configure', 'ens6']);
    const before = written();
    setState({ ...defaultState(), fail: { [`network/interfaces/macs/${ENS6.mac}/vpc-ipv4-cidr-blocks`]: 500 } });

    const res = await agentOk(['configure', 'ens6'], {}, 1);

    expect(res.stderr).toMatch(/ens6: vpc-ipv4-cidr-blocks: instance metadata unavailable/);
    expect(written()).toEqual(before);
  });
});

describe('an interface instance metadata does not list yet (a fresh attach)', () => {
  afterEach(() => ns.removeLink('ens10'));

  it('configure asks again until metadata lists its MAC, then configures it', async () => {
    setState({ interfaces: [ENS5, ENS6, { ...ENS7, listedAfter: 3 }] });
    ns.addVeth('ens7', ENS7.mac);

    const res = await agentOk(['configure', 'ens7'], { MULTUS_IMDS_RETRY_SECONDS: '30' });

    expect(res.stderr).toBe(`eks-multus-eni: ens7 (${ENS7.mac}): not in instance metadata yet, asking again for up to 30s\n`);
    expect(res.stdout).toMatch(/^eks-multus-eni: ens7 \(0a:00:00:00:00:07\) device index 2: updated/);
    expect(readConflist(2).plugins[0].master).toBe('ens7');
    expectConfiguredLink('ens7');
  });

  it('gives up after MULTUS_IMDS_RETRY_SECONDS on a MAC that never shows, with a line saying so, writing nothing', async () => {
    ns.addVeth('ens10', '0a:00:00:00:00:10');

    const res = await agentOk(['configure', 'ens10'], { MULTUS_IMDS_RETRY_SECONDS: '1' }, 1);

    expect(res.stderr.trim().split('\n')).toEqual([
      'eks-multus-eni: ens10 (0a:00:00:00:00:10): not in instance metadata yet, asking again for up to 1s',
      'eks-multus-eni: ens10 (0a:00:00:00:00:10): not in instance metadata after 1s, not configured (the timer\'s sync tries again)',
    ]);
    expect(written()).toEqual({});
    expect(ns.link('ens10')).toMatchObject({ mtu: 1500 });
    expect(ns.link('ens10').flags).not.toContain('UP');
  });
});

describe('eks-multus-eni-agent plugins', () => {
  it.each<[string, string[], string]>([
    ['none (the AL2023 AMI ships /opt/cni/bin empty)', [], ' ipvlan host-local'],
    ['host-local only (what VPC CNI v1.20.2 and v1.20.3 install)', ['host-local', 'bandwidth', 'loopback', 'portmap', 'sbr'], ' ipvlan'],
  ])('exit 1 naming what is missing, with %s', async (_what, present, missing) => {
    installPlugins(...present);

    const res = await agentOk(['plugins'], {}, 1);

    expect(res.stderr).toBe(`eks-multus-eni: ${dirs.bin} lacks${missing} (the VPC CNI installs them: v1.13.0 or later, not v1.20.2-v1.20.3)\n`);
  });

  it('counts a plugin that is not executable as missing, and exits 0 once both are there', async () => {
    installPlugins('host-local');
    fs.writeFileSync(path.join(dirs.bin, 'ipvlan'), '#!/bin/sh\n', { mode: 0o644 });
    expect((await agentOk(['plugins'], {}, 1)).stderr).toMatch(/lacks ipvlan \(/);

    fs.chmodSync(path.join(dirs.bin, 'ipvlan'), 0o755);
    const res = await agentOk(['plugins']);

    expect(res.stdout).toBe(`eks-multus-eni: CNI plugins ipvlan and host-local are in ${dirs.bin}\n`);
  });
});

describe('the eks-multus-eni/ready label, kept current by sync through the API (a fake Kubernetes API server)', () => {
  beforeEach(() => ns.addVeth('ens7', ENS7.mac));

  it('a new node: false while the VPC CNI has not installed the plugins, true once it has, one PATCH each', async () => {
    kubeletStarted();
    const from = api.requests().length;

    const first = await agentOk(['sync']);
    expect(first.stdout).toContain(
      `eks-multus-eni: node ${NODE} labelled eks-multus-eni/ready=false: ${dirs.bin} lacks ipvlan host-local (the VPC CNI installs them: v1.13.0 or later, not v1.20.2-v1.20.3)\n`,
    );
    await agentOk(['sync']); // the same value: no call
    installPlugins('ipvlan', 'host-local');
    const third = await agentOk(['sync']);
    await agentOk(['sync']);

    expect(third.stdout).toContain(`eks-multus-eni: node ${NODE} labelled eks-multus-eni/ready=true\n`);
    expect(labelsSince(from)).toEqual(['false', 'true']);
    expect(callsSince(from)).toEqual([
      'POST /apis/authentication.k8s.io/v1/selfsubjectreviews 201',
      `PATCH /api/v1/nodes/${NODE} 200`,
      'POST /apis/authentication.k8s.io/v1/selfsubjectreviews 201',
      `PATCH /api/v1/nodes/${NODE} 200`,
    ]);
  });

  it('calls as kubelet: the kubeconfig\'s server and CA, the token of its credential command, a merge patch of that one label', async () => {
    installPlugins('ipvlan', 'host-local');
    kubeletStarted();
    const from = api.requests().length;

    await agentOk(['sync']);

    const [review, patch] = api.requests().slice(from);
    expect(review).toMatchObject({ authorization: `Bearer ${TOKEN}`, contentType: 'application/json' });
    expect(patch).toMatchObject({ authorization: `Bearer ${TOKEN}`, contentType: 'application/merge-patch+json' });
    expect(JSON.parse(patch.body)).toEqual({ metadata: { labels: { 'eks-multus-eni/ready': 'true' } } });
    expect(fs.readFileSync(tokenArgs, 'utf8').trim().split('\n')).toEqual(['eks', 'get-token', '--cluster-name', 'demo-cluster', '--region', 'us-east-1']);
  });

  it('false while a multus interface is not configured, naming it; true once it is', async () => {
    installPlugins('ipvlan', 'host-local');
    kubeletStarted();
    ns.removeLink('ens7');
    const from = api.requests().length;

    const first = await agentOk(['sync']);
    ns.addVeth('ens7', ENS7.mac);
    await agentOk(['sync']);

    expect(first.stdout).toContain(`labelled eks-multus-eni/ready=false: device index 2 not configured\n`);
    expect(labelsSince(from)).toEqual(['false', 'true']);
  });

  it('waits, without a call, for kubelet\'s kubeconfig, then for the Node to register', async () => {
    installPlugins('ipvlan', 'host-local');
    const from = api.requests().length;

    const before = await agentOk(['sync']);
    expect(before.stdout).toContain(`eks-multus-eni: eks-multus-eni/ready=true waits for kubelet's ${kubeconfig}\n`);
    expect(callsSince(from)).toEqual([]);

    kubeletStarted({});
    const unregistered = await agentOk(['sync']);
    expect(unregistered.stdout).toContain(`eks-multus-eni: eks-multus-eni/ready=true waits for node ${NODE} to register\n`);

    kubeletStarted();
    await agentOk(['sync']);
    expect(callsSince(from).filter((c) => c.startsWith('PATCH'))).toEqual([`PATCH /api/v1/nodes/${NODE} 404`, `PATCH /api/v1/nodes/${NODE} 200`]);
    expect(labelsSince(from)).toEqual(['true', 'true']);
  });

  it('says why the API server refused, exits 1, and tries again on the next run', async () => {
    installPlugins('ipvlan', 'host-local');
    kubeletStarted();
    const from = api.requests().length;
    const other = 'ip-10-0-0-9.ec2.internal';

    const res = await agentOk(['sync'], { MULTUS_NODE_NAME: other }, 1);
    await agentOk(['sync'], { MULTUS_NODE_NAME: other }, 1);

    expect(res.stderr).toContain(
      `eks-multus-eni: eks-multus-eni/ready=true on node ${other} refused: HTTP 403: nodes "${other}" is forbidden: node "${NODE}" is not allowed to modify node "${other}"\n`,
    );
    expect(callsSince(from)).toEqual([`PATCH /api/v1/nodes/${other} 403`, `PATCH /api/v1/nodes/${other} 403`]);
  });

  it('fails, saying so, with credentials the API server does not take or a server its CA does not vouch for', async () => {
    installPlugins('ipvlan', 'host-local');
    kubeletStarted();
    api.setState({ token: 'another-token', identity: NODE, nodes: { [NODE]: { labels: {} } } });
    const refused = await agentOk(['sync'], {}, 1);
    expect(refused.stderr).toContain("eks-multus-eni: eks-multus-eni/ready: kubelet's credentials name no node (HTTP 401: Unauthorized)\n");

    kubeletStarted();
    writeKubeconfig(kubeconfig, api.server, '/etc/ssl/certs/ca-certificates.crt', path.join(work, 'aws'));
    const untrusted = await agentOk(['sync'], {}, 1);
    expect(untrusted.stderr).toContain(`eks-multus-eni: eks-multus-eni/ready: API server unreachable at ${api.server}\n`);
    expect(untrusted.stderr).toMatch(/curl: \(60\)/); // certificate problem
  });
});

describe('nodeadm\'s record of our interfaces (what its boot hook waits for at every later boot)', () => {
  const instanceDir = (id = INSTANCE_ID) => path.join(dirs.nodeadm, id);
  /** What nodeadm's boot hook makes of the directory: interfaces to wait for as configured, the rest must be unmanaged. */
  const bootHookWaitsFor = (id = INSTANCE_ID) =>
    fs
      .readdirSync(instanceDir(id))
      .filter((name) => fs.readFileSync(path.join(instanceDir(id), name), 'utf8').trim() === 'io.systemd.Network')
      .sort();

  it('records a late multus interface as networkd\'s over the "cni" nodeadm wrote, leaving the other records alone', async () => {
    fs.mkdirSync(instanceDir(), { recursive: true });
    fs.writeFileSync(path.join(instanceDir(), 'ens5'), 'io.systemd.Network');
    fs.writeFileSync(path.join(instanceDir(), 'ens6'), 'cni'); // attached after nodeadm ran
    fs.writeFileSync(path.join(instanceDir(), 'ens8'), 'cni'); // the VPC CNI's
    const untouched = written();

    await agentOk(['configure', 'ens6']);

    expect(fs.readdirSync(instanceDir()).sort()).toEqual(['ens5', 'ens6', 'ens8']); // no temporary file ever lands here
    expect(fs.readFileSync(path.join(instanceDir(), 'ens6'), 'utf8')).toBe('io.systemd.Network\n');
    expect(fs.readFileSync(path.join(instanceDir(), 'ens5'), 'utf8')).toBe(untouched[`nodeadm/${INSTANCE_ID}/ens5`]);
    expect(fs.readFileSync(path.join(instanceDir(), 'ens8'), 'utf8')).toBe('cni');
    expect(bootHookWaitsFor()).toEqual(['ens5', 'ens6']);
    // and networkd does configure ens6: our file matches its MAC and asks for DHCP
    expect(parseUnit(fs.readFileSync(networkdFile(1), 'utf8'))).toMatchObject({ Match: { PermanentMACAddress: ENS6.mac }, Network: { DHCP: 'ipv4' } });
  });

  it('records every multus interface that wait and sync configure, under the instance id metadata gives, the same bytes on a second run', async () => {
    const id = 'i-0abcdef1234567890';
    setState({ ...defaultState(), instanceId: id });
    ns.addVeth('ens7', ENS7.mac);

    await agentOk(['wait']);
    const first = written();
    await agentOk(['sync']);

    expect(bootHookWaitsFor(id)).toEqual(['ens6', 'ens7']);
    expect(written()).toEqual(first);
  });
});

describe('the boot step (the launch template\'s user data script), run for real in the namespace', () => {
  /** Runs the rendered script under a temporary root, systemctl and udevadm stood in by `true`. */
  const boot = async () => {
    const bootRoot = path.join(work, 'root');
    const script = path.join(work, 'user-data.sh');
    fs.writeFileSync(script, nodeScript({ interfaces: 2, waitSeconds: 10, cniConfDir: dirs.cni, podRoutes: 'vpc' }));
    const res = await ns.run('bash', [script], env({ MULTUS_ROOT: bootRoot, MULTUS_SYSTEMCTL: 'true', MULTUS_UDEVADM: 'true' }));
    const dropIn = fs.readFileSync(path.join(bootRoot, 'etc/eks/nodeadm.d/90-eks-multus-eni.yaml'), 'utf8');
    return { res, label: /--node-labels=(\S+)/.exec(dropIn)?.[1] };
  };

  beforeEach(() => ns.addVeth('ens7', ENS7.mac));

  it('registers a new node ready=false when the interfaces are there but the CNI plugins are not yet, and does not fail the boot', async () => {
    const { res, label } = await boot();

    expect(res.code).toBe(0);
    expect(label).toBe('eks-multus-eni/ready=false');
    expect(res.stderr).toContain(`${dirs.bin} lacks ipvlan host-local`);
    expect(res.stdout).toContain('eks-multus-eni: node labelled eks-multus-eni/ready=false at registration');
    expect(readConflist(1).plugins[0].ipam.routes).toEqual(ENS6_ROUTES);
  });

  it('registers it ready=true when the plugins are already there (a reused volume, an AMI that bakes them)', async () => {
    installPlugins('ipvlan', 'host-local');

    const { res, label } = await boot();

    expect(res.code).toBe(0);
    expect(label).toBe('eks-multus-eni/ready=true');
  });
});

describe('IPv6: dual-stack and IPv6-only multus subnets', () => {
  // The VPC's IPv6 CIDRs (Amazon-provided /56s), as IMDS lists them.
  const VPC6 = ['2600:1f18:4f1:ac00::/56', '2600:1f18:77:e100::/56'];
  // Dual-stack: ENS6's IPv4 side, and the subnet's /64 with two /80s, listed out of order.
  const DUAL: FakeEni = {
    ...ENS6,
    ipv6Subnet: '2600:1f18:4f1:ac01::/64',
    ipv6Prefixes: ['2600:1f18:4f1:ac01:b2c0::/80', '2600:1f18:4f1:ac01:8a3b::/80'],
    ipv6s: ['2600:1f18:4f1:ac01::4'],
    vpcIpv6Cidrs: VPC6,
  };
  // IPv6-only (no IPv4 CIDR block: subnet-ipv4-cidr-block answers 404), at device index 2.
  const V6ONLY: FakeEni = {
    mac: ENS7.mac,
    deviceNumber: 2,
    ipv6Subnet: '2600:1f18:4f1:ac02::/64',
    ipv6Prefixes: ['2600:1f18:4f1:ac02:1::/80'],
    ipv6s: ['2600:1f18:4f1:ac02::9'],
    vpcCidrs: VPC_CIDRS,
    vpcIpv6Cidrs: VPC6,
  };
  const DUAL_V6_RANGES = [
    { subnet: '2600:1f18:4f1:ac01::/64', rangeStart: '2600:1f18:4f1:ac01:8a3b::', rangeEnd: '2600:1f18:4f1:ac01:8a3b:ffff:ffff:ffff', gateway: '2600:1f18:4f1:ac01::1' },
    { subnet: '2600:1f18:4f1:ac01::/64', rangeStart: '2600:1f18:4f1:ac01:b2c0::', rangeEnd: '2600:1f18:4f1:ac01:b2c0:ffff:ffff:ffff', gateway: '2600:1f18:4f1:ac01::1' },
  ];
  // in address order (0077 before 04f1), as the agent sorts them
  const vpc6Routes = (gw: string) => [VPC6[1], VPC6[0]].map((dst) => ({ dst, gw }));
  const DUAL_ROUTES = [...ENS6_ROUTES, ...vpc6Routes('2600:1f18:4f1:ac01::1')];

  /** The networkd file of an ENI with IPv6: DHCPv6 and the router's advertisement, but no default route. */
  const ipv6Sections = (i: number) => ({
    DHCPv6: { WithoutRA: 'solicit', UseDNS: 'false', UseNTP: 'false', UseHostname: 'false', UseDomains: 'false' },
    IPv6AcceptRA: {
      UseGateway: 'false',
      UseRoutePrefix: 'false',
      UseAutonomousPrefix: 'false',
      UseDNS: 'false',
      UseDomains: 'false',
      RouteMetric: String(2000 + i),
    },
  });

  beforeEach(() => setState({ interfaces: [ENS5, DUAL, V6ONLY, ENS8, ENS9] }));

  it('a dual-stack ENI: DHCP for both families, link-local and router advertisements on, no default route from either; no accept_ra of ours', async () => {
    await agentOk(['configure', 'ens6']);

    const v4 = expectedNetworkd(DUAL.mac, 1);
    expect(parseUnit(fs.readFileSync(networkdFile(1), 'utf8'))).toEqual({
      ...v4,
      Network: { DHCP: 'yes', LinkLocalAddressing: 'ipv6', IPv6AcceptRA: 'yes', DNSDefaultRoute: 'no' },
      ...ipv6Sections(1),
    });
    // networkd sets the kernel's accept_ra to 0 on links it manages and answers RAs itself: a 2 of
    // ours would let the kernel add the RA's default route before it does.
    expect(fs.readFileSync(sysctlFile(1), 'utf8')).not.toMatch(/accept_ra|ipv6/);
    expectConfiguredLink('ens6');
  });

  it('a dual-stack ENI with /28s and /80s: one range set per family, the /80s sorted with the subnet\'s ::1 as gateway, routes to the VPC\'s CIDRs of both families', async () => {
    const res = await agentOk(['configure', 'ens6']);

    expect(res.stderr).toBe('');
    expect(readConflist(1).plugins[0].ipam).toEqual({ type: 'host-local', ranges: [ENS6_RANGES, DUAL_V6_RANGES], routes: DUAL_ROUTES, dataDir: dirs.ipam });
    // a redelivery, a timer run: the same bytes, no reload
    const before = written();
    await agentOk(['configure', 'ens6']);
    expect(written()).toEqual(before);
    expect(reloads()).toEqual(['reload']);
  });

  it('a dual-stack ENI with /80s only: the IPv6 range set alone', async () => {
    setState({ interfaces: [ENS5, { ...DUAL, prefixes: [] }] });
    await agentOk(['configure', 'ens6']);
    expect(readConflist(1).plugins[0].ipam).toMatchObject({ ranges: [DUAL_V6_RANGES], routes: vpc6Routes('2600:1f18:4f1:ac01::1') });
  });

  it('an IPv6-only ENI: DHCPv6 only, nothing IPv4 written, an IPv6 conflist; it counts as configured (wait returns, ready=true)', async () => {
    ns.addVeth('ens7', V6ONLY.mac);
    installPlugins('ipvlan', 'host-local');
    kubeletStarted();
    const from = api.requests().length;

    await agentOk(['wait']);
    await agentOk(['sync']);

    const unit = parseUnit(fs.readFileSync(networkdFile(2), 'utf8'));
    expect(unit).toEqual({
      Match: { PermanentMACAddress: V6ONLY.mac },
      Link: { RequiredForOnline: 'no', MTUBytes: '9001' },
      Network: { DHCP: 'ipv6', LinkLocalAddressing: 'ipv6', IPv6AcceptRA: 'yes', DNSDefaultRoute: 'no' },
      ...ipv6Sections(2),
    });
    expect(readConflist(2).plugins[0]).toMatchObject({
      master: 'ens7',
      ipam: {
        ranges: [[{ subnet: '2600:1f18:4f1:ac02::/64', rangeStart: '2600:1f18:4f1:ac02:1::', rangeEnd: '2600:1f18:4f1:ac02:1:ffff:ffff:ffff', gateway: '2600:1f18:4f1:ac02::1' }]],
        routes: vpc6Routes('2600:1f18:4f1:ac02::1'),
      },
    });
    expectConfiguredLink('ens7');
    expect(labelsSince(from)).toEqual(['true']);
  });

  it('an ENI of a dual-stack subnet without an IPv6 address (ipv6-addresses-per-interface 0): the IPv4 networkd file, byte for byte; its /80s still in the conflist', async () => {
    await agentOk(['configure', 'ens6']);
    const dual = fs.readFileSync(networkdFile(1), 'utf8');
    setState({ interfaces: [ENS5, ENS6] });
    await agentOk(['configure', 'ens6']);
    const ipv4 = fs.readFileSync(networkdFile(1), 'utf8');
    expect(dual).not.toBe(ipv4);

    setState({ interfaces: [ENS5, { ...DUAL, ipv6s: [] }] });
    await agentOk(['configure', 'ens6']);

    expect(fs.readFileSync(networkdFile(1), 'utf8')).toBe(ipv4);
    expect(readConflist(1).plugins[0].ipam.ranges).toEqual([ENS6_RANGES, DUAL_V6_RANGES]);
  });

  it('an ENI with IPv6 addresses and no /80: the networkd file for IPv6, no conflist', async () => {
    setState({ interfaces: [ENS5, { ...DUAL, prefixes: [], ipv6Prefixes: [] }] });
    const res = await agentOk(['configure', 'ens6']);
    expect(res.stdout).toMatch(/cni: no prefixes/);
    expect(parseUnit(fs.readFileSync(networkdFile(1), 'utf8')).Network.DHCP).toBe('yes');
    expect(fs.existsSync(cniFile(1))).toBe(false);
  });

  it('skips, with a line each, /80s that are not aligned IPv6 CIDRs inside the subnet\'s /64, and overlapping ones', async () => {
    const bad = ['2600:1f18:4f1:ac01:8a3b::1/80', '2600:1f18:4f1:ac09:1::/80', '2600:1f18:4f1:ac01:zz::/80', '10.1.18.0/28'];
    setState({ interfaces: [ENS5, { ...DUAL, ipv6Prefixes: [...DUAL.ipv6Prefixes!, ...bad, '2600:1f18:4f1:ac01:8a3b:8000::/81'] }] });

    const res = await agentOk(['configure', 'ens6']);

    expect(res.stderr.trim().split('\n')).toEqual([
      ...bad.map((p) => `eks-multus-eni: ens6: skipping prefix '${p}': not an aligned IPv6 CIDR inside 2600:1f18:4f1:ac01::/64`),
      'eks-multus-eni: ens6: skipping prefix 2600:1f18:4f1:ac01:8a3b:8000::/81: overlaps another',
    ]);
    expect(readConflist(1).plugins[0].ipam.ranges[1]).toEqual(DUAL_V6_RANGES);
  });

  it.each<[string, Partial<FakeEni>]>([
    ['an IPv6 cluster: the primary ENI has /80s of the VPC CNI', { ipv6Prefixes: ['2600:1f18:4f1:ac00:7f::/80'] }],
    ['a dual-stack node subnet: the node has an IPv6 address (kubelet\'s probes, before any /80)', { ipv6s: ['2600:1f18:4f1:ac00::a'] }],
  ])('%s: no IPv6 route to the VPC CIDR that holds them, a line when that leaves none', async (_what, node) => {
    const primary = { ...ENS5, ipv6Subnet: '2600:1f18:4f1:ac00::/64', vpcIpv6Cidrs: VPC6, ...node };
    setState({ interfaces: [primary, DUAL] });
    let res = await agentOk(['configure', 'ens6']);
    expect(res.stderr).toBe('');
    expect(readConflist(1).plugins[0].ipam.routes).toEqual([...ENS6_ROUTES, { dst: '2600:1f18:77:e100::/56', gw: '2600:1f18:4f1:ac01::1' }]);

    const one = [VPC6[0]];
    setState({ interfaces: [{ ...primary, vpcIpv6Cidrs: one }, { ...DUAL, vpcIpv6Cidrs: one }] });
    res = await agentOk(['configure', 'ens6']);
    expect(readConflist(1).plugins[0].ipam.routes).toEqual(ENS6_ROUTES);
    expect(res.stderr).toBe(
      "eks-multus-eni: ens6: no IPv6 route to the VPC: its CIDR 2600:1f18:4f1:ac00::/56 holds this node's IPv6 address or pod prefixes; name the multus subnets' IPv6 range in MULTUS_POD_ROUTES\n",
    );
    // what the line says to do
    await agentOk(['configure', 'ens6'], { MULTUS_POD_ROUTES: 'vpc,2600:1f18:4f1:ac02::/63' });
    expect(readConflist(1).plugins[0].ipam.routes).toEqual([...ENS6_ROUTES, { dst: '2600:1f18:4f1:ac02::/63', gw: '2600:1f18:4f1:ac01::1' }]);
  });

  it.each<[string, string, { dst: string; gw: string }[] | undefined]>([
    ['IPv6 destinations beside the VPC (an on-premises range), written as IMDS would not (upper case, zeros)', 'vpc,2001:DB8:0:0::/48', [...ENS6_ROUTES, { dst: '2001:db8::/48', gw: '2600:1f18:4f1:ac01::1' }, ...vpc6Routes('2600:1f18:4f1:ac01::1')]],
    ['IPv4 CIDRs only: no IPv6 route', '10.1.0.0/16', [{ dst: '10.1.0.0/16', gw: '10.1.16.1' }]],
    ['IPv6 CIDRs only: no IPv4 route', '2600:1f18:77:e100::/56', [{ dst: '2600:1f18:77:e100::/56', gw: '2600:1f18:4f1:ac01::1' }]],
    ['none', 'none', undefined],
  ])('MULTUS_POD_ROUTES: %s', async (_what, value, expected) => {
    await agentOk(['configure', 'ens6'], { MULTUS_POD_ROUTES: value });
    expect(readConflist(1).plugins[0].ipam.routes).toEqual(expected);
  });

  it('skips an IPv6 destination inside the ENI\'s own /64 (on-link), with a line', async () => {
    const res = await agentOk(['configure', 'ens6'], { MULTUS_POD_ROUTES: 'vpc,2600:1f18:4f1:ac01:8000::/65' });
    expect(res.stderr).toBe('eks-multus-eni: ens6: no route to 2600:1f18:4f1:ac01:8000::/65: inside 2600:1f18:4f1:ac01::/64, on-link\n');
    expect(readConflist(1).plugins[0].ipam.routes).toEqual(DUAL_ROUTES);
  });

  it('keeps the CNI config as it is when the /80s or the VPC\'s IPv6 CIDRs cannot be read, and says so', async () => {
    await agentOk(['configure', 'ens6']);
    const before = written();
    for (const key of ['ipv6-prefix', 'vpc-ipv6-cidr-blocks', 'subnet-ipv6-cidr-blocks', 'ipv6s']) {
      setState({ interfaces: [ENS5, DUAL], fail: { [`network/interfaces/macs/${DUAL.mac}/${key}`]: 500 } });
      const res = await agentOk(['configure', 'ens6'], {}, 1);
      expect(res.stderr).toContain(`ens6: ${key}: instance metadata unavailable`);
      expect(written()).toEqual(before);
    }
  });

  describe('the real host-local plugin, and the routes a pod gets', () => {
    let plugin: string;
    let ipam: IpamConfig;
    beforeAll(() => {
      plugin = findHostLocal();
    });
    beforeEach(async () => {
      await agentOk(['configure', 'ens6']);
      ipam = ipamOf(1);
    });

    it('gives a pod one address of each family: IPv4 in a /28, IPv6 at the start of the lowest /80 with a /64 mask and ::1 as gateway; a second pod the next', () => {
      const a = hostLocal(plugin, 'ADD', 'pod-a', ipam, ns.path);
      const b = hostLocal(plugin, 'ADD', 'pod-b', ipam, ns.path);

      expect(a.code).toBe(0);
      expect(a.ips).toEqual([
        { address: '10.1.17.240/20', gateway: '10.1.16.1' },
        { address: '2600:1f18:4f1:ac01:8a3b::/64', gateway: '2600:1f18:4f1:ac01::1' },
      ]);
      expect(b.ips).toEqual([
        { address: '10.1.17.241/20', gateway: '10.1.16.1' },
        { address: '2600:1f18:4f1:ac01:8a3b::1/64', gateway: '2600:1f18:4f1:ac01::1' },
      ]);
      expect(a.routes).toEqual(DUAL_ROUTES);
      expect(a.routes!.map((r) => r.dst)).not.toContain('::/0');
    });

    it('an IPv6-only ENI\'s pod: one IPv6 address and the IPv6 routes', async () => {
      ns.addVeth('ens7', V6ONLY.mac);
      await agentOk(['configure', 'ens7']);
      const r = hostLocal(plugin, 'ADD', 'pod-v6', ipamOf(2), ns.path);
      expect(r.ips).toEqual([{ address: '2600:1f18:4f1:ac02:1::/64', gateway: '2600:1f18:4f1:ac02::1' }]);
      expect(r.routes).toEqual(vpc6Routes('2600:1f18:4f1:ac02::1'));
    });

    it('the pod\'s interface, as ipvlan sets it (host-device on a veth: the same ConfigureIface): both addresses, the on-link /64, the VPC\'s /56s via ::1, no default route of either family', () => {
      const pod = Netns.create('multus-pod6');
      try {
        attachPod(pod, 'mpod6', ipam, 'pod-6');

        const addrs = (JSON.parse(pod.ip('-j', 'addr', 'show', 'dev', 'net1')) as { addr_info: { family: string; local: string; prefixlen: number; scope: string }[] }[])[0].addr_info
          .filter((a) => a.scope === 'global')
          .map((a) => `${a.local}/${a.prefixlen}`);
        expect(addrs.sort()).toEqual(['10.1.17.240/20', '2600:1f18:4f1:ac01:8a3b::/64']);
        const routes6 = JSON.parse(pod.ip('-j', '-6', 'route', 'show')) as { dst: string; gateway?: string; dev: string }[];
        expect(routes6.filter((r) => !r.dst.startsWith('fe80')).map((r) => [r.dst, r.gateway ?? 'on-link', r.dev]).sort()).toEqual([
          ['2600:1f18:4f1:ac00::/56', '2600:1f18:4f1:ac01::1', 'net1'],
          ['2600:1f18:4f1:ac01::/64', 'on-link', 'net1'],
          ['2600:1f18:77:e100::/56', '2600:1f18:4f1:ac01::1', 'net1'],
        ]);
        expect(JSON.parse(pod.ip('-j', '-6', 'route', 'show', 'default'))).toEqual([]);
        expect(JSON.parse(pod.ip('-j', 'route', 'show', 'default'))).toEqual([]);
      } finally {
        pod.destroy();
      }
    });
  });
});
