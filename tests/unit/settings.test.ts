import { GetParametersByPathCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { parseSettings, parseOnFailure, SettingsError, normaliseConfigPath, cacheMaxAgeSeconds, SsmSettingsSource, loadSettings, PRIMARY_INTERFACE_GROUPS } from 'multus-core';

const PATH = '/eks-multus-eni/test';
const valid = { 'subnets/us-east-1a': 'subnet-0123456789abcdef0,subnet-0123456789abcdef1' };

function problems(values: Record<string, string>): string[] {
  try {
    parseSettings(values, PATH);
  } catch (err) {
    expect(err).toBeInstanceOf(SettingsError);
    return (err as SettingsError).problems as string[];
  }
  throw new Error('expected a SettingsError');
}

describe('parseSettings', () => {
  test('defaults for every optional setting', () => {
    const s = parseSettings(valid, PATH);
    expect([...s.subnetsByAz.entries()]).toEqual([['us-east-1a', ['subnet-0123456789abcdef0', 'subnet-0123456789abcdef1']]]);
    expect(s).toMatchObject({
      securityGroups: undefined,
      useIpsFromStartOfSubnet: false,
      interfaceTags: {},
      sourceDestCheck: false,
      onFailure: 'ABANDON',
      ipv4PrefixesPerInterface: 0,
    });
    expect(parseSettings({ ...valid, 'ipv4-prefixes-per-interface': ' 3 ' }, PATH).ipv4PrefixesPerInterface).toBe(3);
  });

  test('IPv6: absent addresses mean "the default of each subnet" (undefined), absent prefixes 0; 0 is allowed, values are trimmed', () => {
    const absent = parseSettings(valid, PATH);
    expect(absent.ipv6AddressesPerInterface).toBeUndefined();
    expect(absent.ipv6PrefixesPerInterface).toBe(0);
    expect(parseSettings({ ...valid, 'ipv6-addresses-per-interface': '0', 'ipv6-prefixes-per-interface': '0' }, PATH)).toMatchObject({ ipv6AddressesPerInterface: 0, ipv6PrefixesPerInterface: 0 });
    expect(parseSettings({ ...valid, 'ipv6-addresses-per-interface': ' 2 ', 'ipv6-prefixes-per-interface': '007' }, PATH)).toMatchObject({ ipv6AddressesPerInterface: 2, ipv6PrefixesPerInterface: 7 });
    expect(parseSettings({ ...valid, 'ipv6-addresses-per-interface': '50', 'ipv6-prefixes-per-interface': '50' }, PATH)).toMatchObject({ ipv6AddressesPerInterface: 50, ipv6PrefixesPerInterface: 50 });
  });

  test('every setting, any number of AZs, values trimmed', () => {
    const s = parseSettings(
      {
        ...valid,
        'subnets/us-east-1b': ' subnet-aaaaaaaa ',
        'subnets/eu-west-3c': 'subnet-bbbbbbbb,subnet-cccccccc,subnet-dddddddd',
        'security-groups': 'sg-0123456789abcdef0,sg-01234567',
        'use-ips-from-start-of-subnet': 'true',
        'interface-tags': 'cnf=upf,url=a=b, owner = team ',
        'source-dest-check': 'true',
        'on-failure': 'CONTINUE',
      },
      PATH,
    );
    expect(s.subnetsByAz.size).toBe(3);
    expect(s.subnetsByAz.get('us-east-1b')).toEqual(['subnet-aaaaaaaa']);
    expect(s.securityGroups).toEqual(['sg-0123456789abcdef0', 'sg-01234567']);
    expect(s.interfaceTags).toEqual({ cnf: 'upf', url: 'a=b', owner: 'team' });
    expect(s).toMatchObject({ useIpsFromStartOfSubnet: true, sourceDestCheck: true, onFailure: 'CONTINUE' });
  });

  test('no parameter at all under the path', () => {
    expect(problems({})).toEqual([expect.stringContaining(`no parameter found under ${PATH}`)]);
  });

  test.each([
    ['subnets/us-east-1a', ' ', 'subnets/us-east-1a: is present but empty'],
    ['subnets/us-east-1a', 'subnet-0123456789abcdef0,,subnet-0123456789abcdef1', 'has an empty entry'],
    ['subnets/us-east-1a', 'subnet-xyz', '"subnet-xyz" is not a subnet id'],
    ['subnets/us-east-1a', 'subnet-aaaaaaaa,subnet-aaaaaaaa', 'lists subnet-aaaaaaaa twice'],
    ['subnets/use1-az1', 'subnet-aaaaaaaa', 'is an AZ id'],
    ['subnets/not an az', 'subnet-aaaaaaaa', 'is not an Availability Zone name'],
    ['security-groups', '', 'security-groups: is present but empty'],
    ['security-groups', 'sg-1', '"sg-1" is not a security group id'],
    ['use-ips-from-start-of-subnet', 'yes', 'use-ips-from-start-of-subnet: must be "true" or "false", not "yes"'],
    ['source-dest-check', 'TRUE', 'source-dest-check: must be "true" or "false", not "TRUE"'],
    ['on-failure', 'RETRY', 'on-failure: must be "ABANDON" or "CONTINUE", not "RETRY"'],
    ['interface-tags', 'novalue', 'entry "novalue" is not of the form key=value'],
    ['interface-tags', '=v', 'entry "=v" is not of the form key=value'],
    ['interface-tags', 'aws:cloudformation:stack=x', 'uses the reserved prefix aws:'],
    ['interface-tags', 'a=1,a=2', 'key "a" appears twice'],
    ['interface-tags', 'eks-multus-eni/instance-id=i-1', "is one of eks-multus-eni's own tags"],
    ['interface-tags', 'node.k8s.amazonaws.com/no_manage=false', "is one of eks-multus-eni's own tags"],
    ['subnet/us-east-1a', 'subnet-aaaaaaaa', 'subnet/us-east-1a: is not a setting of eks-multus-eni'],
    ['ipv4-prefixes-per-interface', 'two', 'ipv4-prefixes-per-interface: must be a whole number (0 for none), not "two"'],
    ['ipv4-prefixes-per-interface', '-1', 'must be a whole number (0 for none), not "-1"'],
    ['ipv4-prefixes-per-interface', '1.5', 'must be a whole number'],
    ['ipv4-prefixes-per-interface', '50', 'ipv4-prefixes-per-interface: is 50; no instance type takes more than 49 per interface'],
    ['ipv4-prefixes-per-interface', '', 'ipv4-prefixes-per-interface: is present but empty'],
    ['ipv6-addresses-per-interface', 'one', 'ipv6-addresses-per-interface: must be a whole number (0 for none), not "one"'],
    ['ipv6-addresses-per-interface', '-1', 'ipv6-addresses-per-interface: must be a whole number (0 for none), not "-1"'],
    ['ipv6-addresses-per-interface', '2.0', 'must be a whole number'],
    ['ipv6-addresses-per-interface', '1e1', 'must be a whole number'],
    ['ipv6-addresses-per-interface', '0x2', 'must be a whole number'],
    ['ipv6-addresses-per-interface', ' ', 'ipv6-addresses-per-interface: is present but empty'],
    ['ipv6-addresses-per-interface', '51', 'ipv6-addresses-per-interface: is 51; no instance type takes more than 50 per interface'],
    ['ipv6-prefixes-per-interface', 'two', 'ipv6-prefixes-per-interface: must be a whole number (0 for none), not "two"'],
    ['ipv6-prefixes-per-interface', '', 'ipv6-prefixes-per-interface: is present but empty'],
    ['ipv6-prefixes-per-interface', '51', 'ipv6-prefixes-per-interface: is 51; no instance type takes more than 50 per interface'],
    ['ipv6-address-per-interface', '1', 'ipv6-address-per-interface: is not a setting of eks-multus-eni'],
  ])('%s = %p is an error naming the parameter', (name, value, message) => {
    const found = problems({ ...valid, [name]: value });
    expect(found).toEqual([expect.stringContaining(message)]);
    expect(found[0].startsWith(`${PATH}/`)).toBe(true);
  });

  test('every problem is reported at once', () => {
    expect(problems({ ...valid, 'on-failure': 'x', 'source-dest-check': 'y' })).toHaveLength(2);
  });

  test('too many interface tags', () => {
    const tags = Array.from({ length: 48 }, (_, i) => `k${i}=v`).join(',');
    expect(problems({ ...valid, 'interface-tags': tags })).toEqual([expect.stringContaining('at most 47 fit')]);
  });
});

describe('security-groups = primary-interface (the groups of each node\'s primary interface)', () => {
  test.each(['primary-interface', ' primary-interface ', 'primary-interface '])('%p parses to the keyword, not to a list', (value) => {
    expect(parseSettings({ ...valid, 'security-groups': value }, PATH).securityGroups).toBe(PRIMARY_INTERFACE_GROUPS);
    expect(PRIMARY_INTERFACE_GROUPS).toBe('primary-interface');
  });

  test.each([
    ['primary-interface,sg-0123456789abcdef0', 2],
    ['sg-0123456789abcdef0, primary-interface', 2],
    ['primary-interface,primary-interface,', 3],
  ])('%p: it stands alone; one problem naming the parameter and the value', (value, entries) => {
    expect(problems({ ...valid, 'security-groups': value })).toEqual([
      `${PATH}/security-groups: "primary-interface" stands alone (the groups of each node's primary interface), not in a list: "${value}" has ${entries} entries`,
    ]);
  });

  test.each(['primary', 'PRIMARY-INTERFACE', 'primary_interface', 'node'])('%p is neither the keyword nor a group id', (value) => {
    expect(problems({ ...valid, 'security-groups': value })).toEqual([`${PATH}/security-groups: "${value}" is not a security group id`]);
  });
});

describe('CONFIG_PATH and cache age', () => {
  test('CONFIG_PATH is required and must be a path', () => {
    expect(() => normaliseConfigPath(undefined)).toThrow('CONFIG_PATH environment variable is not set');
    expect(() => normaliseConfigPath('no-slash')).toThrow('is not an SSM path');
    expect(normaliseConfigPath('/a/b/')).toBe('/a/b');
  });
  test('POWERTOOLS_PARAMETERS_MAX_AGE is read like Powertools does', () => {
    expect(cacheMaxAgeSeconds({ POWERTOOLS_PARAMETERS_MAX_AGE: '60' })).toBe(60);
    expect(cacheMaxAgeSeconds({})).toBe(5);
    expect(cacheMaxAgeSeconds({ POWERTOOLS_PARAMETERS_MAX_AGE: 'abc' })).toBe(5);
  });
});

describe('parseSettings: the edges', () => {
  test.each([
    ['subnets/us-east-1a', 'xsubnet-aaaaaaaa', '"xsubnet-aaaaaaaa" is not a subnet id'],
    ['subnets/us-east-1a', 'subnet-aaaaaaaaz', '"subnet-aaaaaaaaz" is not a subnet id'],
    ['subnets/us-east-1a', `subnet-${'a'.repeat(18)}`, 'is not a subnet id'],
    ['security-groups', 'xsg-aaaaaaaa', '"xsg-aaaaaaaa" is not a security group id'],
    ['security-groups', 'sg-aaaaaaaaz', '"sg-aaaaaaaaz" is not a security group id'],
    ['subnets/xus-east-1a', 'subnet-aaaaaaaa', '"xus-east-1a" is not an Availability Zone name'],
    ['subnets/us-east-1ab', 'subnet-aaaaaaaa', '"us-east-1ab" is not an Availability Zone name'],
    ['subnets/us-east-1', 'subnet-aaaaaaaa', '"us-east-1" is not an Availability Zone name'],
    ['subnets/xus-east-1-bos-1a', 'subnet-aaaaaaaa', 'is not an Availability Zone name'],
    ['subnets/us-east-1-bos-1a1', 'subnet-aaaaaaaa', 'is not an Availability Zone name'],
    ['subnets/u-east-1-bos-1a', 'subnet-aaaaaaaa', 'is not an Availability Zone name'],
    ['subnets/x-use1-az1', 'subnet-aaaaaaaa', '"x-use1-az1" is not an Availability Zone name'],
    ['subnets/use12-az1', 'subnet-aaaaaaaa', '"use12-az1" is an AZ id'],
    ['ipv4-prefixes-per-interface', '49x', 'must be a whole number'],
    ['interface-tags', ' =v', 'entry "=v" is not of the form key=value'],
    ['interface-tags', `${'k'.repeat(129)}=v`, `key "${'k'.repeat(20)}..." is longer than 128 characters`],
    ['interface-tags', `k=${'v'.repeat(257)}`, 'value of "k" is longer than 256 characters'],
  ])('%s = %p: %s', (name, value, message) => {
    expect(problems({ ...valid, [name]: value })).toEqual([expect.stringContaining(`${PATH}/${name}: `)]);
    expect(problems({ ...valid, [name]: value })[0]).toContain(message);
  });

  test.each([
    'us-gov-west-1a',
    'ap-northeast-12a',
    'us-east-1-bos-1a',
    'us-west-2-lax-1b',
    'us-east-12-mia-2a',
  ])('AZ name %p is one', (az) => {
    expect([...parseSettings({ [`subnets/${az}`]: 'subnet-aaaaaaaa' }, PATH).subnetsByAz.keys()]).toEqual([az]);
  });

  test('list entries are trimmed one by one; empty entries are one problem, not duplicates', () => {
    expect(parseSettings({ 'subnets/us-east-1a': 'subnet-aaaaaaaa , subnet-bbbbbbbb', 'security-groups': 'sg-aaaaaaaa, sg-bbbbbbbb' }, PATH)).toMatchObject({
      securityGroups: ['sg-aaaaaaaa', 'sg-bbbbbbbb'],
    });
    expect(parseSettings({ 'subnets/us-east-1a': 'subnet-aaaaaaaa , subnet-bbbbbbbb' }, PATH).subnetsByAz.get('us-east-1a')).toEqual(['subnet-aaaaaaaa', 'subnet-bbbbbbbb']);
    expect(problems({ 'subnets/us-east-1a': 'subnet-aaaaaaaa,,,subnet-bbbbbbbb' })).toEqual([`${PATH}/subnets/us-east-1a: has an empty entry in "subnet-aaaaaaaa,,,subnet-bbbbbbbb"`]);
  });

  test('"false" and "ABANDON" as given; tags trimmed around both sides of the first =', () => {
    expect(parseSettings({ ...valid, 'use-ips-from-start-of-subnet': 'false', 'source-dest-check': 'false', 'on-failure': 'ABANDON', 'interface-tags': ' a = b ' }, PATH)).toMatchObject({
      useIpsFromStartOfSubnet: false,
      sourceDestCheck: false,
      onFailure: 'ABANDON',
      interfaceTags: { a: 'b' },
    });
  });

  test('the limits themselves are allowed: 49 prefixes, 47 tags, a 128-character key, a 256-character value', () => {
    const tags = [...Array.from({ length: 46 }, (_, i) => `k${i}=v`), `${'k'.repeat(128)}=${'v'.repeat(256)}`].join(',');
    const s = parseSettings({ ...valid, 'ipv4-prefixes-per-interface': '49', 'interface-tags': tags }, PATH);
    expect(s.ipv4PrefixesPerInterface).toBe(49);
    expect(Object.keys(s.interfaceTags)).toHaveLength(47);
  });

  test('every known setting name is accepted; "subnets/" alone is not a setting', () => {
    expect(problems({ ...valid, 'subnets/': 'subnet-aaaaaaaa' })).toEqual([`${PATH}/subnets/: "" is not an Availability Zone name`]);
    expect(problems({ ...valid, 'subnets': 'subnet-aaaaaaaa' })).toEqual([`${PATH}/subnets: is not a setting of eks-multus-eni (check the spelling)`]);
  });

  test('parameter names are joined to CONFIG_PATH without doubled slashes', () => {
    try {
      parseSettings({ 'on-failure': 'x', ...valid }, '/eks-multus-eni/test//');
      throw new Error('expected a SettingsError');
    } catch (err) {
      expect((err as SettingsError).problems).toEqual(['/eks-multus-eni/test/on-failure: must be "ABANDON" or "CONTINUE", not "x"']);
    }
  });
});

describe('parseSettings: one problem per cause', () => {
  test('a tag entry after a comma is trimmed before it is judged', () => {
    expect(problems({ ...valid, 'interface-tags': 'a=1, =v, novalue ' })).toEqual([
      `${PATH}/interface-tags: entry "=v" is not of the form key=value`,
      `${PATH}/interface-tags: entry "novalue" is not of the form key=value`,
    ]);
    expect(parseSettings({ ...valid, 'interface-tags': 'a=1,  b=2' }, PATH).interfaceTags).toEqual({ a: '1', b: '2' });
  });

  test.each([
    ['subnets/use1-az1', `"use1-az1" is an AZ id; name the parameter after the AZ name (for example us-east-1a)`],
    ['subnets/moon-base-1', '"moon-base-1" is not an Availability Zone name'],
  ])('a parameter %s that names no AZ is that one problem; its value is not judged as well', (name, message) => {
    expect(problems({ ...valid, [name]: 'subnet-nothex,subnet-nothex' })).toEqual([`${PATH}/${name}: ${message}`]);
  });
});

describe('parseOnFailure: the on-failure setting alone', () => {
  test.each([
    [{ 'on-failure': 'ABANDON' }, 'ABANDON'],
    [{ 'on-failure': ' CONTINUE ' }, 'CONTINUE'],
    [{ 'on-failure': 'RETRY', 'subnets/us-east-1a': 'subnet-nothex' }, undefined],
    [{ 'on-failure': '' }, undefined],
    [{}, undefined],
  ])('%p: %p', (values, expected) => {
    expect(parseOnFailure(values, PATH)).toBe(expected);
  });
});

describe('CONFIG_PATH and cache age: the edges', () => {
  test('CONFIG_PATH: trimmed, trailing slashes dropped, anchored at both ends', () => {
    expect(normaliseConfigPath('  /a/b//  ')).toBe('/a/b');
    expect(() => normaliseConfigPath('   ')).toThrow('CONFIG_PATH environment variable is not set');
    expect(() => normaliseConfigPath('x/a/b')).toThrow('is not an SSM path');
    expect(() => normaliseConfigPath('/a/b c')).toThrow('"/a/b c" is not an SSM path such as /eks-multus-eni/my-stack');
  });

  test('POWERTOOLS_PARAMETERS_MAX_AGE: 0 is allowed; negative, blank or infinite is the default', () => {
    expect(cacheMaxAgeSeconds({ POWERTOOLS_PARAMETERS_MAX_AGE: '0' })).toBe(0);
    expect(cacheMaxAgeSeconds({ POWERTOOLS_PARAMETERS_MAX_AGE: '-1' })).toBe(5);
    expect(cacheMaxAgeSeconds({ POWERTOOLS_PARAMETERS_MAX_AGE: '  ' })).toBe(5);
    expect(cacheMaxAgeSeconds({ POWERTOOLS_PARAMETERS_MAX_AGE: 'Infinity' })).toBe(5);
  });
});

describe('reading the settings from SSM', () => {
  const ssm = mockClient(SSMClient);
  beforeEach(() => ssm.reset());

  test('one recursive read under the path, names relative to it, string values only; cached until cleared', async () => {
    ssm.on(GetParametersByPathCommand).resolves({
      Parameters: [
        { Name: `${PATH}/subnets/us-east-1a`, Value: 'subnet-aaaaaaaa', Type: 'StringList' },
        { Name: `${PATH}/on-failure`, Value: 'CONTINUE', Type: 'String' },
      ],
    });
    const source = new SsmSettingsSource(new SSMClient({ region: 'us-east-1' }));

    const { settings, raw } = await loadSettings(source, PATH);

    expect(raw).toEqual({ 'subnets/us-east-1a': 'subnet-aaaaaaaa', 'on-failure': 'CONTINUE' });
    expect(settings.onFailure).toBe('CONTINUE');
    expect(ssm).toHaveReceivedCommandWith(GetParametersByPathCommand, { Path: PATH, Recursive: true });
    await source.read(PATH);
    expect(ssm).toHaveReceivedCommandTimes(GetParametersByPathCommand, 1);
    source.clearCache();
    await source.read(PATH);
    expect(ssm).toHaveReceivedCommandTimes(GetParametersByPathCommand, 2);
  });

  test('reads through the client it is given (its region, endpoint and credentials)', async () => {
    ssm.on(GetParametersByPathCommand).rejects(new Error('not the client the source was given'));
    const client = new SSMClient({ region: 'eu-west-3' });
    mockClient(client).on(GetParametersByPathCommand).resolves({
      Parameters: [{ Name: `${PATH}/on-failure`, Value: 'CONTINUE', Type: 'String' }],
    });
    expect(await new SsmSettingsSource(client).read(PATH)).toEqual({ 'on-failure': 'CONTINUE' });
  });

  test('a parameter SSM lists without a value is left out: every value read is a string', async () => {
    ssm.on(GetParametersByPathCommand).resolves({
      Parameters: [{ Name: `${PATH}/on-failure`, Type: 'String' }, { Name: `${PATH}/subnets/us-east-1a`, Value: 'subnet-aaaaaaaa', Type: 'StringList' }],
    });
    const raw = await new SsmSettingsSource(new SSMClient({ region: 'us-east-1' })).read(PATH);
    expect(Object.entries(raw)).toEqual([['subnets/us-east-1a', 'subnet-aaaaaaaa']]);
  });
});

describe('`npm run settings -- show` (scripts/lib/settings-view.ts, pure)', () => {
  // Imported here: the view is what `show` prints, from the raw parameters alone (no EC2).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { viewSettings } = require('../../scripts/lib/settings-view') as typeof import('../../scripts/lib/settings-view');
  const meaning = (raw: Record<string, string>, name: string) => viewSettings(raw, PATH).entries.find((e) => e.name === `${PATH}/${name}`)?.meaning;

  test('the IPv6 settings are listed when absent, with their defaults; lowest-free says it is IPv4 only', () => {
    const view = viewSettings(valid, PATH);
    expect(view.entries.map((e) => e.name)).toEqual(expect.arrayContaining([`${PATH}/ipv6-addresses-per-interface`, `${PATH}/ipv6-prefixes-per-interface`]));
    expect(meaning(valid, 'ipv6-addresses-per-interface')).toBe('default: 1 IPv6 address (EC2 picks it) on each ENI of a subnet with an IPv6 CIDR block, none elsewhere');
    expect(meaning(valid, 'ipv6-prefixes-per-interface')).toBe('no IPv6 prefix delegated to the multus ENIs');
    expect(meaning({ ...valid, 'use-ips-from-start-of-subnet': 'true' }, 'use-ips-from-start-of-subnet')).toContain('IPv4 only: EC2 always picks the IPv6 addresses and prefixes, and every address in an IPv6-only subnet');
    expect(view.settings).toMatchObject({ ipv6AddressesPerInterface: null, ipv6PrefixesPerInterface: 0 });
  });

  test('set values, and a bad one named as a problem', () => {
    const raw = { ...valid, 'ipv6-addresses-per-interface': '2', 'ipv6-prefixes-per-interface': '3' };
    expect(meaning(raw, 'ipv6-addresses-per-interface')).toContain('2 IPv6 addresses (EC2 picks them) on each multus ENI');
    expect(meaning(raw, 'ipv6-prefixes-per-interface')).toContain('3 IPv6 /80 prefixes (EC2 picks them) delegated to each multus ENI');
    expect(viewSettings(raw, PATH).settings).toMatchObject({ ipv6AddressesPerInterface: 2, ipv6PrefixesPerInterface: 3 });
    expect(meaning({ ...valid, 'ipv6-prefixes-per-interface': 'x' }, 'ipv6-prefixes-per-interface')).toBe('PROBLEM: must be a whole number (0 for none), not "x"');
  });
});
