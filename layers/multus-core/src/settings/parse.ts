/**
 * Parsing the runtime settings read from SSM under CONFIG_PATH into a typed value. Pure: the input
 * is the map of parameter names (relative to CONFIG_PATH) to values.
 */
import { SettingsError } from '../errors';
import { isOwnTagKey, OWN_TAG_KEYS } from '../tags';

export type LifecycleResult = 'CONTINUE' | 'ABANDON';

export interface Settings {
  /** Multus subnets per AZ name, in device-index order (first is device index 1). */
  readonly subnetsByAz: ReadonlyMap<string, readonly string[]>;
  /**
   * Security groups for every multus ENI: these ids; `primary-interface`, those of the node's own
   * primary interface (device index 0) as the launch reads it; undefined, the VPC default.
   */
  readonly securityGroups?: readonly string[] | typeof PRIMARY_INTERFACE_GROUPS;
  readonly useIpsFromStartOfSubnet: boolean;
  readonly interfaceTags: Readonly<Record<string, string>>;
  readonly sourceDestCheck: boolean;
  readonly onFailure: LifecycleResult;
  /** IPv4 /28 prefixes delegated to each multus ENI, for pod addresses (0: none). */
  readonly ipv4PrefixesPerInterface: number;
  /**
   * IPv6 addresses EC2 gives each multus ENI; undefined: the default of each subnet (1 where the
   * subnet has an IPv6 CIDR block, 0 elsewhere; see `ipv6ForSubnet`).
   */
  readonly ipv6AddressesPerInterface?: number;
  /** IPv6 /80 prefixes delegated to each multus ENI (EC2's `Ipv6PrefixCount`; 0: none). */
  readonly ipv6PrefixesPerInterface: number;
}

export const SETTING_NAMES = {
  subnetsPrefix: 'subnets/',
  securityGroups: 'security-groups',
  useIpsFromStartOfSubnet: 'use-ips-from-start-of-subnet',
  interfaceTags: 'interface-tags',
  sourceDestCheck: 'source-dest-check',
  onFailure: 'on-failure',
  ipv4PrefixesPerInterface: 'ipv4-prefixes-per-interface',
  ipv6AddressesPerInterface: 'ipv6-addresses-per-interface',
  ipv6PrefixesPerInterface: 'ipv6-prefixes-per-interface',
} as const;

/**
 * The `security-groups` value that gives every multus ENI the groups of the node's primary
 * interface: an instance's groups then stay those its launch gave it (what Karpenter's drift check
 * compares; docs/karpenter.md, "Security groups and Karpenter's drift").
 */
export const PRIMARY_INTERFACE_GROUPS = 'primary-interface';

/** No instance type takes more IPv4 addresses per interface than 50 (one slot is the primary). */
export const MAX_IPV4_PREFIXES_PER_INTERFACE = 49;
/** No instance type takes more IPv6 addresses per interface than 50 (each /80 prefix takes one). */
export const MAX_IPV6_PER_INTERFACE = 50;

export const DEFAULT_ON_FAILURE: LifecycleResult = 'ABANDON';

const SUBNET_ID = /^subnet-[0-9a-f]{8,17}$/;
const SECURITY_GROUP_ID = /^sg-[0-9a-f]{8,17}$/;
const AZ_NAME = /^[a-z]{2}(-[a-z0-9]+)+-\d+[a-z]$|^[a-z]{2}(-[a-z0-9]+)+-\d+-[a-z0-9-]+\d[a-z]$/;
const AZ_ID = /^[a-z]{2,5}\d+-(az|lz|wl)\d+/;
/** Tags per ENI: AWS allows 50, we use 3. */
const MAX_EXTRA_TAGS = 50 - OWN_TAG_KEYS.length;

/** Joins CONFIG_PATH and a relative setting name into the full SSM parameter name. */
export function parameterName(configPath: string, name: string): string {
  return `${configPath.replace(/\/+$/, '')}/${name}`;
}

class Problems {
  readonly list: string[] = [];
  constructor(private readonly configPath: string) {}
  add(name: string, message: string): void {
    this.list.push(`${parameterName(this.configPath, name)}: ${message}`);
  }
}

function nonEmpty(values: Record<string, string>, name: string, problems: Problems): string | undefined {
  const value = values[name];
  if (value === undefined) return undefined;
  if (value.trim() === '') {
    problems.add(name, 'is present but empty');
    return undefined;
  }
  return value.trim();
}

function parseList(value: string, name: string, pattern: RegExp, what: string, problems: Problems): string[] {
  const items = value.split(',').map((item) => item.trim());
  const bad = items.filter((item) => !pattern.test(item));
  if (items.some((item) => item === '')) problems.add(name, `has an empty entry in "${value}"`);
  for (const item of bad.filter((item) => item !== '')) problems.add(name, `"${item}" is not a ${what} id`);
  const seen = new Set<string>();
  for (const item of items) {
    if (item !== '' && seen.has(item)) problems.add(name, `lists ${item} twice`);
    seen.add(item);
  }
  return items;
}

function parseBoolean(values: Record<string, string>, name: string, fallback: boolean, problems: Problems): boolean {
  const value = nonEmpty(values, name, problems);
  if (value === undefined) return fallback;
  if (value === 'true') return true;
  if (value === 'false') return false;
  problems.add(name, `must be "true" or "false", not "${value}"`);
  return fallback;
}

/** `security-groups`: security group ids, or `primary-interface` alone. */
function parseSecurityGroups(value: string, name: string, problems: Problems): Settings['securityGroups'] {
  const items = value.split(',').map((item) => item.trim());
  if (!items.includes(PRIMARY_INTERFACE_GROUPS)) return parseList(value, name, SECURITY_GROUP_ID, 'security group', problems);
  if (items.length > 1) {
    problems.add(name, `"${PRIMARY_INTERFACE_GROUPS}" stands alone (the groups of each node's primary interface), not in a list: "${value}" has ${items.length} entries`);
  }
  return PRIMARY_INTERFACE_GROUPS;
}

/** Parses the on-failure setting alone, so that a failure elsewhere in the settings can still use it. */
export function parseOnFailure(values: Record<string, string>, configPath: string): LifecycleResult | undefined {
  const problems = new Problems(configPath);
  const value = nonEmpty(values, SETTING_NAMES.onFailure, problems);
  if (value === 'ABANDON' || value === 'CONTINUE') return value;
  return undefined;
}

function parseOnFailureInto(values: Record<string, string>, problems: Problems): LifecycleResult {
  const value = nonEmpty(values, SETTING_NAMES.onFailure, problems);
  if (value === undefined) return DEFAULT_ON_FAILURE;
  if (value === 'ABANDON' || value === 'CONTINUE') return value;
  problems.add(SETTING_NAMES.onFailure, `must be "ABANDON" or "CONTINUE", not "${value}"`);
  return DEFAULT_ON_FAILURE;
}

function parseCount(values: Record<string, string>, name: string, max: number, problems: Problems): number {
  return parseOptionalCount(values, name, max, problems) ?? 0;
}

/** A whole number from 0 to `max`, or undefined when the parameter is absent (or bad: named in `problems`). */
function parseOptionalCount(values: Record<string, string>, name: string, max: number, problems: Problems): number | undefined {
  const value = nonEmpty(values, name, problems);
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) {
    problems.add(name, `must be a whole number (0 for none), not "${value}"`);
    return undefined;
  }
  const n = Number(value);
  if (n > max) problems.add(name, `is ${n}; no instance type takes more than ${max} per interface`);
  return n;
}

/** Parses `k=v,k2=v2`: split on the first `=`; no `aws:` keys, no duplicates, none of our own keys. */
function parseInterfaceTags(value: string, name: string, problems: Problems): Record<string, string> {
  const tags: Record<string, string> = {};
  const entries = value.split(',');
  for (const raw of entries) {
    const entry = raw.trim();
    const eq = entry.indexOf('=');
    if (eq <= 0) {
      problems.add(name, `entry "${entry}" is not of the form key=value`);
      continue;
    }
    const key = entry.slice(0, eq).trim();
    const tagValue = entry.slice(eq + 1).trim();
    if (key === '') problems.add(name, `entry "${entry}" has an empty key`);
    else if (key.toLowerCase().startsWith('aws:')) problems.add(name, `key "${key}" uses the reserved prefix aws:`);
    else if (isOwnTagKey(key)) problems.add(name, `key "${key}" is one of eks-multus-eni's own tags (reserved: eks-multus-eni/*)`);
    else if (Object.prototype.hasOwnProperty.call(tags, key)) problems.add(name, `key "${key}" appears twice`);
    else if (key.length > 128) problems.add(name, `key "${key.slice(0, 20)}..." is longer than 128 characters`);
    else if (tagValue.length > 256) problems.add(name, `value of "${key}" is longer than 256 characters`);
    else tags[key] = tagValue;
  }
  if (Object.keys(tags).length > MAX_EXTRA_TAGS) {
    problems.add(name, `has ${Object.keys(tags).length} tags; at most ${MAX_EXTRA_TAGS} fit beside our own`);
  }
  return tags;
}

function parseAzName(az: string, name: string, problems: Problems): boolean {
  if (AZ_ID.test(az)) {
    problems.add(name, `"${az}" is an AZ id; name the parameter after the AZ name (for example us-east-1a)`);
    return false;
  }
  if (!AZ_NAME.test(az)) {
    problems.add(name, `"${az}" is not an Availability Zone name`);
    return false;
  }
  return true;
}

/**
 * Turns the parameters under CONFIG_PATH (names relative to it) into Settings. Every problem is
 * collected; if there is any, a SettingsError lists them all, each naming its parameter.
 */
export function parseSettings(values: Record<string, string>, configPath: string): Settings {
  const problems = new Problems(configPath);
  if (Object.keys(values).length === 0) {
    throw new SettingsError([`no parameter found under ${configPath} (CONFIG_PATH): create at least subnets/<availability-zone>`]);
  }
  const known = new Set<string>(Object.values(SETTING_NAMES).filter((n) => n !== SETTING_NAMES.subnetsPrefix));
  const subnetsByAz = new Map<string, string[]>();
  for (const name of Object.keys(values).sort()) {
    if (name.startsWith(SETTING_NAMES.subnetsPrefix)) {
      const az = name.slice(SETTING_NAMES.subnetsPrefix.length);
      const value = nonEmpty(values, name, problems);
      if (!parseAzName(az, name, problems) || value === undefined) continue;
      subnetsByAz.set(az, parseList(value, name, SUBNET_ID, 'subnet', problems));
    } else if (!known.has(name)) {
      problems.add(name, 'is not a setting of eks-multus-eni (check the spelling)');
    }
  }
  const groupsValue = nonEmpty(values, SETTING_NAMES.securityGroups, problems);
  const securityGroups = groupsValue === undefined ? undefined : parseSecurityGroups(groupsValue, SETTING_NAMES.securityGroups, problems);
  const tagsValue = nonEmpty(values, SETTING_NAMES.interfaceTags, problems);
  const tags = tagsValue === undefined ? {} : parseInterfaceTags(tagsValue, SETTING_NAMES.interfaceTags, problems);
  const settings: Settings = {
    subnetsByAz,
    securityGroups,
    useIpsFromStartOfSubnet: parseBoolean(values, SETTING_NAMES.useIpsFromStartOfSubnet, false, problems),
    interfaceTags: tags,
    sourceDestCheck: parseBoolean(values, SETTING_NAMES.sourceDestCheck, false, problems),
    onFailure: parseOnFailureInto(values, problems),
    ipv4PrefixesPerInterface: parseCount(values, SETTING_NAMES.ipv4PrefixesPerInterface, MAX_IPV4_PREFIXES_PER_INTERFACE, problems),
    ipv6AddressesPerInterface: parseOptionalCount(values, SETTING_NAMES.ipv6AddressesPerInterface, MAX_IPV6_PER_INTERFACE, problems),
    ipv6PrefixesPerInterface: parseCount(values, SETTING_NAMES.ipv6PrefixesPerInterface, MAX_IPV6_PER_INTERFACE, problems),
  };
  if (problems.list.length > 0) throw new SettingsError(problems.list);
  return settings;
}
