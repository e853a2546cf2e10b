/** The container's maps of its lowest-free subnets (eni/maps.ts): copies, the cache age, what launches learn. */
import { AddressSet, parseCidr, parseIpv4, SubnetMaps } from 'multus-core';

const cidr = parseCidr('10.1.0.0/16');

test('a map is handed out as a copy, for the cache age from its whole read; learning adds to it without making it younger', () => {
  let now = 1_000;
  const maps = new SubnetMaps(() => 60_000, () => now);
  const read = new AddressSet(cidr);
  read.add(parseIpv4('10.1.0.4'));
  maps.put('subnet-a', read);
  read.add(parseIpv4('10.1.0.5')); // the launch's own copy: not the container's

  const copy = maps.get('subnet-a')!;
  expect([...copy.sorted()]).toEqual([parseIpv4('10.1.0.4')]);
  copy.add(parseIpv4('10.1.0.6'));
  expect(maps.get('subnet-a')!.size).toBe(1);

  now += 30_000;
  maps.learn('subnet-a', [parseIpv4('10.1.0.7')], [parseCidr('10.1.1.0/28')]);
  maps.learn('subnet-b', [parseIpv4('10.2.0.7')]); // never read: nothing to learn into
  expect(maps.get('subnet-a')!.size).toBe(18);
  expect(maps.get('subnet-b')).toBeUndefined();

  now += 30_000;
  expect(maps.get('subnet-a')).toBeUndefined();
});

test('with caching off (a max age of 0) nothing is kept', () => {
  const maps = new SubnetMaps(() => 0);
  maps.put('subnet-a', new AddressSet(cidr));
  expect(maps.get('subnet-a')).toBeUndefined();
});

test('a map read while caching was off is not kept, even when caching is turned on later', () => {
  let maxAge = 0;
  const maps = new SubnetMaps(() => maxAge, () => 1_000);
  maps.put('subnet-a', new AddressSet(cidr));
  maxAge = 60_000;
  expect(maps.get('subnet-a')).toBeUndefined();
  maps.put('subnet-a', new AddressSet(cidr));
  expect(maps.get('subnet-a')).toBeDefined();
});

test('the cache age counts from the read at a real epoch clock; clear() drops every map', () => {
  let now = 1_700_000_000_000;
  const maps = new SubnetMaps(() => 60_000, () => now);
  maps.put('subnet-a', new AddressSet(cidr));
  now += 59_999;
  expect(maps.get('subnet-a')).toBeDefined();

  maps.clear();

  expect(maps.get('subnet-a')).toBeUndefined();
});
