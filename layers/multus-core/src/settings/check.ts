/**
 * Checking the runtime settings against EC2: every subnet exists and lies in the AZ its parameter
 * names, all subnets and security groups are in one VPC, every subnet has free addresses, and the
 * device indexes fit the instance types. Each problem is one line that starts with the full SSM
 * name of the parameter it is about.
 *
 * `checkSettingsTree` is what `npm run settings -- check` runs on the whole tree; `checkNode` is the
 * same validation for one node, run by the launch handler before anything is created.
 */
import type { Ec2Port, InstanceTypeView, SubnetView } from '../ec2/port';
import { asError, NodeConfigurationError } from '../errors';
import { countFree, countFreeBlocks, parseCidr } from '../ipv4';
import { hasIpv4, ipv6SubnetProblems, ipv6TypeProblems, type ListedSubnet } from './ipv6';
import { parameterName, parseSettings, PRIMARY_INTERFACE_GROUPS, SETTING_NAMES, type Settings } from './parse';

export interface CheckOptions {
  /** AZs where the node group runs: each must have a `subnets/<az>` parameter. */
  readonly azs?: readonly string[];
  /** The node group's instance types: 1 primary + the longest AZ list must fit each. */
  readonly instanceTypes?: readonly string[];
  /** Free IPv4 addresses each subnet must have at least (default 1). */
  readonly minFreeAddresses?: number;
  /** Set by checkSettingsTree: some subnets/<az> parameter exists, perhaps malformed (reported on its own). */
  readonly subnetParametersPresent?: boolean;
}

export const DEFAULT_MIN_FREE_ADDRESSES = 1;

/** What the check found out about one configured subnet (for the `ok:` summary). */
export interface SubnetReport {
  readonly parameter: string;
  readonly subnetId: string;
  readonly deviceIndex: number;
  readonly cidrBlock?: string;
  /** Its IPv6 CIDR blocks, when it has any. */
  readonly ipv6CidrBlocks?: readonly string[];
  /** An IPv6-only subnet: no IPv4 address is counted (EC2 picks every address there). */
  readonly ipv6Only?: boolean;
  readonly vpcId?: string;
  readonly freeAddresses?: number;
  /** With ipv4-prefixes-per-interface > 0: free aligned /28 blocks (counted up to what one node needs). */
  readonly freePrefixBlocks?: number;
}

export interface CheckReport {
  /** One line per problem, each naming its parameter; empty when the settings are fine. */
  readonly problems: string[];
  /** The VPC of the multus subnets (the majority one when they disagree). */
  readonly vpcId?: string;
  readonly subnets: SubnetReport[];
  /** Interfaces each instance type allows (only for types EC2 knows). */
  readonly instanceTypes: Record<string, number>;
  /** What the multus ENIs' security groups are, as the setting says (absent: the VPC default). */
  readonly securityGroups?: Settings['securityGroups'];
}

/** The interface-limit problem, shared by the tree check and the per-node check. */
function limitProblem(parameter: string, subnetCount: number, instanceType: string, max: number): string {
  return `${parameter}: lists ${subnetCount} subnets, but instance type ${instanceType} allows ${max} network interfaces (1 primary + ${max - 1} multus)`;
}

/**
 * The prefix problems of an instance type (shared by the tree check and the per-node check): prefix
 * delegation needs Nitro or bare metal, and each prefix takes one of the interface's IPv4 slots
 * (the primary address takes another).
 */
export function prefixProblems(configPath: string, prefixes: number, instanceType: string, type: InstanceTypeView): string[] {
  if (prefixes === 0) return [];
  const parameter = parameterName(configPath, SETTING_NAMES.ipv4PrefixesPerInterface);
  if (!type.prefixDelegation) {
    return [`${parameter}: is ${prefixes}, but instance type ${instanceType} (hypervisor ${type.hypervisor ?? 'unknown'}) is neither Nitro nor bare metal: it takes no IPv4 prefixes`];
  }
  const room = type.ipv4AddressesPerInterface - 1;
  if (prefixes > room) {
    return [`${parameter}: is ${prefixes}, but instance type ${instanceType} takes ${type.ipv4AddressesPerInterface} IPv4 addresses per interface: at most ${room} prefixes beside the primary address`];
  }
  return [];
}

const subnetParameter = (configPath: string, az: string) => parameterName(configPath, SETTING_NAMES.subnetsPrefix + az);

/** An IPv6-only subnet in the free-address count: nothing to count, and no problem. */
class Ipv6OnlySubnet extends Error {}

/** The VPC most subnets are in; a tie goes to the one seen first. */
function majorityVpc(subnets: readonly SubnetView[]): string | undefined {
  const counts = new Map<string, number>();
  for (const s of subnets) counts.set(s.vpcId, (counts.get(s.vpcId) ?? 0) + 1);
  let best: string | undefined;
  for (const [vpc, n] of counts) if (best === undefined || n > (counts.get(best) ?? 0)) best = vpc;
  return best;
}

/** The security groups setting against EC2: each exists and lies in `vpcId` (named `vpcLabel` in messages). */
export async function securityGroupProblems(
  ec2: Ec2Port,
  settings: Settings,
  configPath: string,
  vpcId: string | undefined,
  vpcLabel: string,
): Promise<string[]> {
  const ids = settings.securityGroups;
  // `primary-interface`: each node's own groups, which EC2 gave it; nothing to look up here.
  if (ids === undefined || ids === PRIMARY_INTERFACE_GROUPS) return [];
  const parameter = parameterName(configPath, SETTING_NAMES.securityGroups);
  const groups = new Map((await ec2.describeSecurityGroups(ids)).map((g) => [g.groupId, g]));
  return ids.flatMap((id) => {
    const group = groups.get(id);
    if (!group) return [`${parameter}: security group ${id} does not exist`];
    if (vpcId && group.vpcId && group.vpcId !== vpcId) return [`${parameter}: security group ${id} is in ${group.vpcId}, not in ${vpcLabel}`];
    return [];
  });
}

/**
 * Checks parsed settings against EC2. Reads subnets, security groups, ENIs and CIDR reservations of
 * the configured subnets and, with `instanceTypes`, their interface limits. Never throws for a
 * problem of the settings; throws only when EC2 cannot be read.
 */
export async function checkSettings(
  ec2: Ec2Port,
  settings: Settings,
  configPath: string,
  options: CheckOptions = {},
): Promise<CheckReport> {
  const problems: string[] = [];
  const minFree = options.minFreeAddresses ?? DEFAULT_MIN_FREE_ADDRESSES;
  const reports: SubnetReport[] = [];
  const azs = [...settings.subnetsByAz.keys()].sort();
  const allIds = [...new Set(azs.flatMap((az) => settings.subnetsByAz.get(az) ?? []))];

  // (A subnets parameter that did not parse has its own problem already.)
  if (azs.length === 0 && !options.subnetParametersPresent) {
    problems.push(
      `${subnetParameter(configPath, '<availability-zone>')}: no such parameter; no node would get a multus interface`,
    );
  }

  const found = new Map(allIds.length > 0 ? (await ec2.describeSubnets(allIds)).map((s) => [s.subnetId, s]) : []);
  const vpcId = majorityVpc([...found.values()]);
  // Every address held in the subnets (ENI addresses and delegated prefixes), read page by page into a bit set each.
  const blocks = [...found.values()].filter(hasIpv4).flatMap((s) => {
    try {
      return [{ subnetId: s.subnetId, block: parseCidr(s.cidrBlock) }];
    } catch {
      return []; // named below, where its free addresses cannot be counted
    }
  });
  const [scan, reservations] = await Promise.all([
    blocks.length > 0 ? ec2.scanSubnets({ subnets: blocks }) : Promise.resolve(undefined),
    Promise.all([...found.keys()].map(async (id) => [id, await ec2.describeCidrReservations(id)] as const)),
  ]);
  const reserved = new Map(reservations);

  for (const az of azs) {
    const parameter = subnetParameter(configPath, az);
    (settings.subnetsByAz.get(az) ?? []).forEach((id, i) => {
      const subnet = found.get(id);
      if (!subnet) {
        problems.push(`${parameter}: subnet ${id} does not exist`);
        reports.push({ parameter, subnetId: id, deviceIndex: i + 1 });
        return;
      }
      if (subnet.availabilityZone !== az) problems.push(`${parameter}: subnet ${id} is in ${subnet.availabilityZone}, not ${az}`);
      if (vpcId && subnet.vpcId !== vpcId) {
        problems.push(`${parameter}: subnet ${id} is in ${subnet.vpcId}, but the other multus subnets are in ${vpcId}`);
      }
      let free: number | undefined;
      let freeBlocks: number | undefined;
      try {
        if (!hasIpv4(subnet)) throw new Ipv6OnlySubnet();
        const cidr = parseCidr(subnet.cidrBlock);
        const held = scan?.held.get(id) ?? [];
        const reservations = reserved.get(id) ?? [];
        const taken = { addresses: held, ranges: reservations };
        free = countFree(cidr, taken);
        if (free < minFree) {
          problems.push(
            `${parameter}: subnet ${id} (${subnet.cidrBlock}) has ${free} free IPv4 address${free === 1 ? '' : 'es'}, fewer than ${minFree}`,
          );
        }
        const k = settings.ipv4PrefixesPerInterface;
        if (k > 0) {
          // Blocks may lie in prefix-type reservations (that is where EC2 takes them), not in explicit ones.
          const blocksTaken = { addresses: held, ranges: reservations.filter((r) => r.kind !== 'prefix') };
          freeBlocks = countFreeBlocks(cidr, blocksTaken, k);
          if (freeBlocks < k) {
            problems.push(
              `${parameter}: subnet ${id} (${subnet.cidrBlock}) has ${freeBlocks} free aligned /28 block${freeBlocks === 1 ? '' : 's'}, fewer than the ${k} ${parameterName(configPath, SETTING_NAMES.ipv4PrefixesPerInterface)} asks for each ENI`,
            );
          }
        }
      } catch (err) {
        if (!(err instanceof Ipv6OnlySubnet)) problems.push(`${parameter}: free addresses of subnet ${id} could not be counted: ${asError(err).message}`);
      }
      reports.push({
        parameter,
        subnetId: id,
        deviceIndex: i + 1,
        ...(subnet.cidrBlock ? { cidrBlock: subnet.cidrBlock } : {}),
        ...(subnet.ipv6CidrBlocks?.length ? { ipv6CidrBlocks: [...subnet.ipv6CidrBlocks] } : {}),
        ...(!hasIpv4(subnet) ? { ipv6Only: true } : {}),
        vpcId: subnet.vpcId,
        freeAddresses: free,
        ...(freeBlocks !== undefined ? { freePrefixBlocks: freeBlocks } : {}),
      });
    });
  }

  const listed: ListedSubnet[] = azs.flatMap((az) =>
    (settings.subnetsByAz.get(az) ?? []).flatMap((id) => {
      const subnet = found.get(id);
      return subnet ? [{ parameter: subnetParameter(configPath, az), subnet }] : [];
    }),
  );
  problems.push(...ipv6SubnetProblems(configPath, settings, listed));
  problems.push(...(await securityGroupProblems(ec2, settings, configPath, vpcId, `${vpcId} (the VPC of the multus subnets)`)));

  for (const az of options.azs ?? []) {
    if ((settings.subnetsByAz.get(az) ?? []).length === 0) {
      problems.push(`${subnetParameter(configPath, az)}: no such parameter; nodes in ${az} would get no multus interface`);
    }
  }

  const limits: Record<string, number> = {};
  for (const instanceType of options.instanceTypes ?? []) {
    let type: InstanceTypeView;
    try {
      type = await ec2.describeInstanceType(instanceType);
    } catch (err) {
      // An unknown type (InvalidInstanceType) or any other failure: the fit cannot be checked.
      const error = asError(err);
      problems.push(`--instance-type ${instanceType}: its network interface limit is unknown (${error.name}: ${error.message})`);
      continue;
    }
    const max = type.maxNetworkInterfaces;
    limits[instanceType] = max;
    for (const az of azs) {
      const count = settings.subnetsByAz.get(az)?.length ?? 0;
      if (count + 1 > max) problems.push(limitProblem(subnetParameter(configPath, az), count, instanceType, max));
    }
    problems.push(...prefixProblems(configPath, settings.ipv4PrefixesPerInterface, instanceType, type));
    problems.push(...ipv6TypeProblems(configPath, settings, listed, instanceType, type));
  }

  return { problems, vpcId, subnets: reports, instanceTypes: limits, ...(settings.securityGroups ? { securityGroups: settings.securityGroups } : {}) };
}

/**
 * Parses as much of the raw parameters as parses: the problems of the whole tree, and the settings
 * of the parameters that have none (undefined when nothing usable is left). So one run of the check
 * reports a malformed parameter and, say, a subnet of the wrong AZ together.
 */
export function parseWhatParses(
  raw: Record<string, string>,
  configPath: string,
): { settings: Settings | undefined; problems: string[] } {
  try {
    return { settings: parseSettings(raw, configPath), problems: [] };
  } catch (err) {
    if (asError(err).name !== 'SettingsError') throw err;
    const problems = [...(err as { problems: readonly string[] }).problems];
    const good = Object.fromEntries(
      Object.entries(raw).filter(([name]) => !problems.some((p) => p.startsWith(`${parameterName(configPath, name)}:`))),
    );
    if (Object.keys(good).length === 0 || Object.keys(good).length === Object.keys(raw).length) return { settings: undefined, problems };
    try {
      return { settings: parseSettings(good, configPath), problems };
    } catch {
      return { settings: undefined, problems };
    }
  }
}

/**
 * Checks the raw parameters under `configPath` (names relative to it, as SSM returned them): the
 * parsing problems first, then the checks against EC2 of every parameter that parsed.
 */
export async function checkSettingsTree(
  ec2: Ec2Port,
  raw: Record<string, string>,
  configPath: string,
  options: CheckOptions = {},
): Promise<CheckReport> {
  const { settings, problems } = parseWhatParses(raw, configPath);
  if (!settings) return { problems, subnets: [], instanceTypes: {} };
  const subnetParametersPresent = Object.keys(raw).some((name) => name.startsWith(SETTING_NAMES.subnetsPrefix));
  const report = await checkSettings(ec2, settings, configPath, { ...options, subnetParametersPresent });
  return { ...report, problems: [...problems, ...report.problems] };
}

/** What the per-node check needs of the instance. */
export interface NodeFacts {
  readonly availabilityZone: string;
  readonly vpcId: string | undefined;
  readonly instanceType: string;
}

export interface NodeCheck {
  /** One entry per problem, each naming its parameter; empty when the node can be given its ENIs. */
  readonly problems: string[];
  /** The node's subnets that exist, by id. */
  readonly subnets: Map<string, SubnetView>;
  /** The node's instance type, as EC2 describes it (its IPv6 default and limits). */
  readonly instanceType: InstanceTypeView;
}

/**
 * The per-node validation the launch handler runs before creating anything: the AZ's subnets exist,
 * lie in the node's AZ and VPC; 1 primary + the subnets fit the instance type. Same messages as
 * `checkSettings`, with the node's VPC as the reference. The security groups are not read here:
 * CreateNetworkInterface refuses a missing group or one of another VPC before anything exists,
 * and the launch then explains that refusal with `securityGroupProblems` (one call on the failure
 * path instead of one on every cold launch).
 */
export async function checkNode(
  ec2: Ec2Port,
  node: NodeFacts,
  subnetIds: readonly string[],
  settings: Settings,
  configPath: string,
): Promise<NodeCheck> {
  const parameter = subnetParameter(configPath, node.availabilityZone);
  const subnets = new Map((await ec2.describeSubnets(subnetIds)).map((s) => [s.subnetId, s]));
  const problems: string[] = [];
  for (const id of subnetIds) {
    const subnet = subnets.get(id);
    if (!subnet) problems.push(`${parameter}: subnet ${id} does not exist`);
    else if (subnet.availabilityZone !== node.availabilityZone) {
      problems.push(`${parameter}: subnet ${id} is in ${subnet.availabilityZone}, not ${node.availabilityZone}`);
    } else if (node.vpcId && subnet.vpcId !== node.vpcId) {
      problems.push(`${parameter}: subnet ${id} is in ${subnet.vpcId}, not in the node's VPC ${node.vpcId}`);
    }
  }
  const type = await ec2.describeInstanceType(node.instanceType);
  if (subnetIds.length + 1 > type.maxNetworkInterfaces) problems.push(limitProblem(parameter, subnetIds.length, node.instanceType, type.maxNetworkInterfaces));
  problems.push(...prefixProblems(configPath, settings.ipv4PrefixesPerInterface, node.instanceType, type));
  const listed = subnetIds.flatMap((id) => {
    const subnet = subnets.get(id);
    return subnet ? [{ parameter, subnet }] : [];
  });
  problems.push(...ipv6SubnetProblems(configPath, settings, listed), ...ipv6TypeProblems(configPath, settings, listed, node.instanceType, type));
  return { problems, subnets, instanceType: type };
}

/**
 * `checkNode` that throws a NodeConfigurationError listing every problem (joined by "; "), and
 * otherwise returns the node's subnets and instance type: a drop-in body for the launch handler's validateForNode.
 */
export async function assertNodeSettings(
  ec2: Ec2Port,
  node: NodeFacts,
  subnetIds: readonly string[],
  settings: Settings,
  configPath: string,
): Promise<Omit<NodeCheck, 'problems'>> {
  const { problems, ...checked } = await checkNode(ec2, node, subnetIds, settings, configPath);
  if (problems.length > 0) throw new NodeConfigurationError(problems.join('; '), true);
  return checked;
}
