import { parseSettings, SettingsError, normaliseConfigPath, cacheMaxAgeSeconds } from 'multus-core';

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
