/**
 * What `npm run settings -- show` prints: every parameter under CONFIG_PATH with its value and what
 * it means (device index order per AZ, defaults of the absent settings). Pure: the input is the raw
 * parameter map SSM returned.
 */
import { DEFAULT_ON_FAILURE, parameterName, parseWhatParses, PRIMARY_INTERFACE_GROUPS, SETTING_NAMES, type Settings } from 'multus-core';

export interface SettingEntry {
  /** Full SSM parameter name. */
  readonly name: string;
  /** The value, or null when the parameter is absent (its default applies). */
  readonly value: string | null;
  readonly meaning: string;
}

export interface SettingsView {
  readonly path: string;
  readonly entries: SettingEntry[];
  /** The parsed settings, or null when nothing usable parsed. */
  readonly settings: {
    readonly subnetsByAz: Record<string, string[]>;
    /** The ids, `primary-interface`, or null for the VPC default. */
    readonly securityGroups: string[] | typeof PRIMARY_INTERFACE_GROUPS | null;
    readonly useIpsFromStartOfSubnet: boolean;
    readonly interfaceTags: Record<string, string>;
    readonly sourceDestCheck: boolean;
    readonly onFailure: string;
    readonly ipv4PrefixesPerInterface: number;
    /** null: the default of each subnet (1 where it has an IPv6 CIDR block, 0 elsewhere). */
    readonly ipv6AddressesPerInterface: number | null;
    readonly ipv6PrefixesPerInterface: number;
  } | null;
  readonly problems: string[];
}

const OPTIONAL: readonly string[] = [
  SETTING_NAMES.securityGroups,
  SETTING_NAMES.useIpsFromStartOfSubnet,
  SETTING_NAMES.interfaceTags,
  SETTING_NAMES.sourceDestCheck,
  SETTING_NAMES.onFailure,
  SETTING_NAMES.ipv4PrefixesPerInterface,
  SETTING_NAMES.ipv6AddressesPerInterface,
  SETTING_NAMES.ipv6PrefixesPerInterface,
];

/** The settings of an empty tree: what an absent parameter means. */
const DEFAULTS: Settings = {
  subnetsByAz: new Map(),
  useIpsFromStartOfSubnet: false,
  interfaceTags: {},
  sourceDestCheck: false,
  onFailure: DEFAULT_ON_FAILURE,
  ipv4PrefixesPerInterface: 0,
  ipv6PrefixesPerInterface: 0,
};

function meaningOf(name: string, settings: Settings): string {
  if (name.startsWith(SETTING_NAMES.subnetsPrefix)) {
    const az = name.slice(SETTING_NAMES.subnetsPrefix.length);
    const ids = settings.subnetsByAz.get(az) ?? [];
    return `nodes in ${az} get ${ids.length} multus interface${ids.length === 1 ? '' : 's'}: ${ids.map((id, i) => `device index ${i + 1} -> ${id}`).join(', ')}`;
  }
  switch (name) {
    case SETTING_NAMES.securityGroups:
      if (settings.securityGroups === PRIMARY_INTERFACE_GROUPS) {
        return "every multus ENI gets the security groups of its node's primary interface (device index 0), as its launch reads them: the instance's groups stay those it launched with (Karpenter's drift check)";
      }
      return settings.securityGroups
        ? `security groups on every multus ENI: ${settings.securityGroups.join(', ')}`
        : "default: every multus ENI gets its VPC's default security group";
    case SETTING_NAMES.useIpsFromStartOfSubnet:
      return `${settings.useIpsFromStartOfSubnet ? 'each ENI takes the lowest free IPv4 address of its subnet' : "EC2 picks each ENI's IPv4 address"} (IPv4 only: EC2 always picks the IPv6 addresses and prefixes, and every address in an IPv6-only subnet, which has no IPv4)`;
    case SETTING_NAMES.interfaceTags: {
      const tags = Object.entries(settings.interfaceTags);
      return tags.length > 0 ? `extra tags on every multus ENI: ${tags.map(([k, v]) => `${k}=${v}`).join(', ')}` : 'no extra tags';
    }
    case SETTING_NAMES.sourceDestCheck:
      return `source/destination check ${settings.sourceDestCheck ? 'on' : 'off'} on the multus ENIs`;
    case SETTING_NAMES.onFailure:
      return settings.onFailure === 'ABANDON'
        ? 'a node that cannot be made multus-ready is abandoned (Auto Scaling replaces it)'
        : 'a node that cannot be made multus-ready continues without its multus interfaces';
    case SETTING_NAMES.ipv4PrefixesPerInterface: {
      const k = settings.ipv4PrefixesPerInterface;
      return k === 0
        ? 'no IPv4 prefix delegated to the multus ENIs (pods on them need addresses from elsewhere; host-device needs none)'
        : `${k} IPv4 /28 prefix${k === 1 ? '' : 'es'} delegated to each multus ENI: ${k * 16} pod addresses per interface the VPC routes to it (Nitro instance types only)`;
    }
    case SETTING_NAMES.ipv6AddressesPerInterface: {
      const n = settings.ipv6AddressesPerInterface;
      if (n === undefined) return 'default: 1 IPv6 address (EC2 picks it) on each ENI of a subnet with an IPv6 CIDR block, none elsewhere';
      return n === 0
        ? 'no IPv6 address on the multus ENIs (a subnet that assigns one on creation is overridden; an IPv6-only subnet needs at least 1)'
        : `${n} IPv6 address${n === 1 ? '' : 'es'} (EC2 picks them) on each multus ENI; every subnet must have an IPv6 CIDR block`;
    }
    case SETTING_NAMES.ipv6PrefixesPerInterface: {
      const k = settings.ipv6PrefixesPerInterface;
      return k === 0
        ? 'no IPv6 prefix delegated to the multus ENIs'
        : `${k} IPv6 /80 prefix${k === 1 ? '' : 'es'} (EC2 picks them) delegated to each multus ENI, for pod addresses the VPC routes to it; every subnet must have an IPv6 CIDR block (Nitro instance types only; each prefix takes one of the type's IPv6 addresses per interface)`;
    }
    default:
      return 'not a setting of eks-multus-eni';
  }
}

export function viewSettings(raw: Record<string, string>, configPath: string): SettingsView {
  const { settings, problems } = parseWhatParses(raw, configPath);
  const problemOf = (name: string) => {
    const prefix = `${parameterName(configPath, name)}:`;
    const own = problems.filter((p) => p.startsWith(prefix)).map((p) => p.slice(prefix.length).trim());
    return own.length > 0 ? `PROBLEM: ${own.join('; ')}` : undefined;
  };
  const entries: SettingEntry[] = [];
  const names = Object.keys(raw).sort((a, b) => {
    const sa = a.startsWith(SETTING_NAMES.subnetsPrefix) ? 0 : 1;
    const sb = b.startsWith(SETTING_NAMES.subnetsPrefix) ? 0 : 1;
    return sa - sb || a.localeCompare(b);
  });
  if (!names.some((n) => n.startsWith(SETTING_NAMES.subnetsPrefix))) {
    entries.push({
      name: parameterName(configPath, `${SETTING_NAMES.subnetsPrefix}<availability-zone>`),
      value: null,
      meaning: 'no subnets parameter: no node gets a multus interface',
    });
  }
  for (const name of [...names, ...OPTIONAL.filter((n) => !(n in raw))]) {
    const value = name in raw ? raw[name] : null;
    const usable = settings !== undefined || value === null;
    const meaning = problemOf(name) ?? (usable ? meaningOf(name, settings ?? DEFAULTS) : 'not read (see the problems)');
    entries.push({ name: parameterName(configPath, name), value, meaning });
  }
  return {
    path: configPath,
    entries,
    settings: settings
      ? {
          subnetsByAz: Object.fromEntries([...settings.subnetsByAz].map(([az, ids]) => [az, [...ids]])),
          securityGroups:
            settings.securityGroups === PRIMARY_INTERFACE_GROUPS ? PRIMARY_INTERFACE_GROUPS : settings.securityGroups ? [...settings.securityGroups] : null,
          useIpsFromStartOfSubnet: settings.useIpsFromStartOfSubnet,
          interfaceTags: { ...settings.interfaceTags },
          sourceDestCheck: settings.sourceDestCheck,
          onFailure: settings.onFailure,
          ipv4PrefixesPerInterface: settings.ipv4PrefixesPerInterface,
          ipv6AddressesPerInterface: settings.ipv6AddressesPerInterface ?? null,
          ipv6PrefixesPerInterface: settings.ipv6PrefixesPerInterface,
        }
      : null,
    problems,
  };
}

export function renderSettingsView(view: SettingsView): string {
  const lines = [`settings under ${view.path}:`];
  for (const entry of view.entries) {
    lines.push(`${entry.name} = ${entry.value === null ? '(absent)' : entry.value}`);
    lines.push(`    ${entry.meaning}`);
  }
  if (view.problems.length > 0) {
    lines.push(`${view.problems.length} problem${view.problems.length === 1 ? '' : 's'}:`);
    lines.push(...view.problems);
  }
  return lines.join('\n');
}
