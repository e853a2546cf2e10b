/**
 * Making one node multus-ready (ensureNode) over an in-memory EC2 port (tests/support/fake-ec2.ts)
 * that answers as EC2 does: the failure paths, where the promises are "nothing leaked" and "never
 * take what is not ours", told by the ENIs left in the fake and the writes it recorded, not by
 * what was logged. A fake port rather than the emulator: every write can be failed exactly where a
 * test needs it, and the mutation run (`npm run mutate`) can afford these tests for every mutant.
 */
import { DEFAULT_MAX_ADDRESS_RACES, ensureNode, silentLog, type InterfaceView, type NodeDeps } from 'multus-core';
import { eni, FakeEc2, type FakeEc2Data } from '../support/fake-ec2';

const PATH = '/eks-multus-eni/test';
const NODE = 'i-0aaaaaaaaaaaaaaa1';
const VPC = 'vpc-11111111';
const A = 'subnet-0000000000000000a';
const B = 'subnet-0000000000000000b';
/** A multus subnet of the AZ that the settings named before (a settings change). */
const OLD = 'subnet-0000000000000000c';

const ownedBy = (instanceId: string, deviceIndex: number) => ({
  'node.k8s.amazonaws.com/no_manage': 'true',
  'eks-multus-eni/instance-id': instanceId,
  'eks-multus-eni/device-index': String(deviceIndex),
});

function world(data: FakeEc2Data = {}): FakeEc2 {
  return new FakeEc2({
    subnets: [
      { subnetId: A, vpcId: VPC, availabilityZone: 'us-east-1a', cidrBlock: '10.0.1.0/24', availableIpAddressCount: 251 },
      { subnetId: B, vpcId: VPC, availabilityZone: 'us-east-1a', cidrBlock: '10.0.2.0/24', availableIpAddressCount: 251 },
      { subnetId: OLD, vpcId: VPC, availabilityZone: 'us-east-1a', cidrBlock: '10.0.3.0/24', availableIpAddressCount: 251 },
    ],
    limits: { 'm5.xlarge': 4 },
    instances: [{ instanceId: NODE, availabilityZone: 'us-east-1a', vpcId: VPC, tags: { 'multus-ng': 'true' } }],
    ...data,
  });
}

function depsFor(ec2: FakeEc2, settings: Record<string, string> = {}, extra: Partial<NodeDeps> = {}): NodeDeps {
  return {
    ec2,
    log: silentLog,
    release: { sleep: async () => {}, detachTimeoutMs: 1000 },
    maxAddressRaces: DEFAULT_MAX_ADDRESS_RACES,
    nodeTagKey: 'multus-ng',
    configPath: PATH,
    settings: { read: async () => ({ 'subnets/us-east-1a': `${A},${B}`, ...settings }) },
    ...extra,
  };
}

const ids = (enis: readonly InterfaceView[]) => enis.map((e) => e.networkInterfaceId).sort();
const LOWEST_FREE = { 'use-ips-from-start-of-subnet': 'true' };

describe('rollback', () => {
  test('removes the ENIs this call created and the unattached ENIs of ours no slot adopted; an ENI attached by an earlier delivery stays', async () => {
    const earlier = eni('eni-earlier', A, { tags: ownedBy(NODE, 1), attachedTo: NODE, deviceIndex: 1, addresses: ['10.0.1.4'] });
    // Left by interrupted deliveries: one in a subnet the settings no longer name, one more for
    // device index 1 (which is in place already). Neither fits a slot: strays.
    const strayOld = eni('eni-stray-old', OLD, { tags: ownedBy(NODE, 2), addresses: ['10.0.3.4'] });
    const strayA = eni('eni-stray-a', A, { tags: ownedBy(NODE, 1), addresses: ['10.0.1.5'] });
    const foreign = eni('eni-foreign', B, { addresses: ['10.0.2.4'] });
    const ec2 = world({ interfaces: [earlier, strayOld, strayA, foreign] });
    ec2.beforeWrite = (method) => {
      if (method === 'attachInterface') throw Object.assign(new Error('not allowed'), { name: 'UnauthorizedOperation' });
    };

    const report = await ensureNode(depsFor(ec2), NODE);

    expect(report).toMatchObject({ outcome: 'failed', lifecycleResult: 'ABANDON', errorName: 'EnsureError' });
    expect(report.reason).toContain('UnauthorizedOperation');
    const [created] = ec2.writes('createInterface');
    expect(created).toEqual(['createInterface', B, undefined]);
    expect(ids(ec2.interfaces)).toEqual(['eni-earlier', 'eni-foreign']);
    expect(ec2.interfaces.find((e) => e.networkInterfaceId === 'eni-earlier')?.attachment?.instanceId).toBe(NODE);
    expect(ec2.writes('deleteInterface').map(([, id]) => id).sort()).toEqual(['eni-fake0001', 'eni-stray-a', 'eni-stray-old']);
  });

  test('an adopted ENI is removed again when the launch fails after adopting it', async () => {
    const orphan = eni('eni-orphan', A, { tags: ownedBy(NODE, 1), addresses: ['10.0.1.9'] });
    const ec2 = world({ interfaces: [orphan] });
    ec2.failures.set(`createInterface:${B}`, 'InsufficientFreeAddressesInSubnet');

    const report = await ensureNode(depsFor(ec2), NODE);

    expect(report).toMatchObject({ outcome: 'failed', reason: expect.stringContaining('InsufficientFreeAddressesInSubnet') });
    expect(ec2.interfaces).toEqual([]);
  });

  test('an ENI that cannot be deleted is left (for the sweeper); the others are still removed', async () => {
    const ec2 = world();
    ec2.beforeWrite = (method, id) => {
      if (method === 'attachInterface' && id === 'eni-fake0002') throw Object.assign(new Error('not allowed'), { name: 'UnauthorizedOperation' });
    };
    ec2.failures.set('deleteInterface:eni-fake0002', 'UnauthorizedOperation');

    const report = await ensureNode(depsFor(ec2), NODE);

    expect(report.outcome).toBe('failed');
    expect(ids(ec2.interfaces)).toEqual(['eni-fake0002']);
    expect(ec2.writes('deleteInterface').map(([, id]) => id)).toEqual(['eni-fake0002', 'eni-fake0001']);
  });
});

describe('lowest-free allocation: a lost race is retried, nothing else is', () => {
  test('a create refused for another reason (InsufficientFreeAddressesInSubnet) fails the launch after that one create', async () => {
    const ec2 = world();
    ec2.failures.set(`createInterface:${A}`, ['InsufficientFreeAddressesInSubnet']);

    const report = await ensureNode(depsFor(ec2, LOWEST_FREE), NODE);

    expect(report).toMatchObject({ outcome: 'failed', lifecycleResult: 'ABANDON' });
    expect(report.reason).toContain('InsufficientFreeAddressesInSubnet');
    expect(ec2.writes('createInterface')).toEqual([['createInterface', A, '10.0.1.4']]);
    expect(ec2.interfaces).toEqual([]);
  });

  test('InvalidIPAddress.InUse moves on to the next free address', async () => {
    const ec2 = world();
    ec2.failures.set(`createInterface:${A}`, ['InvalidIPAddress.InUse']);

    const report = await ensureNode(depsFor(ec2, LOWEST_FREE), NODE);

    expect(report).toMatchObject({ outcome: 'attached', racesLost: 1 });
    expect(report.interfaces.map((i) => i.privateIpAddress)).toEqual(['10.0.1.5', '10.0.2.4']);
    expect(ec2.writes('createInterface').map(([, subnet, address]) => `${subnet} ${address}`)).toEqual([`${A} 10.0.1.4`, `${A} 10.0.1.5`, `${B} 10.0.2.4`]);
  });

  test.each([
    ['someone holds the address now: a race, the next address is tried', true, 'attached'],
    ['nobody holds it: not a race, the launch fails after that create', false, 'failed'],
  ])('a generic InvalidParameterValue, re-read: %s', async (_what, held, outcome) => {
    const ec2 = world();
    let first = true;
    ec2.beforeWrite = (method, subnet, address) => {
      if (method !== 'createInterface' || subnet !== A || !first) return;
      first = false;
      if (held) ec2.interfaces.push(eni('eni-racer', A, { tags: ownedBy('i-0bbbbbbbbbbbbbbb2', 1), addresses: [String(address)] }));
      throw Object.assign(new Error('invalid value'), { name: 'InvalidParameterValue' });
    };

    const report = await ensureNode(depsFor(ec2, LOWEST_FREE), NODE);

    expect(report.outcome).toBe(outcome);
    expect(ec2.writes('createInterface').filter(([, subnet]) => subnet === A)).toHaveLength(held ? 2 : 1);
    if (held) expect(report.interfaces[0].privateIpAddress).toBe('10.0.1.5');
    else expect(report.reason).toContain('InvalidParameterValue');
  });

  test('with every create answered InvalidIPAddress.InUse, the launch gives up after exactly the bound of lost races', async () => {
    const ec2 = world();
    ec2.failures.set(`createInterface:${A}`, 'InvalidIPAddress.InUse');

    const report = await ensureNode(depsFor(ec2, LOWEST_FREE, { maxAddressRaces: 5 }), NODE);

    expect(report).toMatchObject({ outcome: 'failed', lifecycleResult: 'ABANDON', errorName: 'EnsureError' });
    expect(report.reason).toContain(`AllocationError: gave up on subnet ${A} after 5 addresses were taken by concurrent launches`);
    expect(ec2.writes('createInterface')).toHaveLength(5);
    expect(ec2.interfaces).toEqual([]);
  });

  test('a full subnet: no free IPv4 address left, nothing created', async () => {
    const ec2 = world({
      subnets: [{ subnetId: A, vpcId: VPC, availabilityZone: 'us-east-1a', cidrBlock: '10.0.1.0/29', availableIpAddressCount: 0 }, { subnetId: B, vpcId: VPC, availabilityZone: 'us-east-1a', cidrBlock: '10.0.2.0/24', availableIpAddressCount: 251 }],
      interfaces: [eni('eni-full', A, { addresses: ['10.0.1.4', '10.0.1.5', '10.0.1.6'] })],
    });

    const report = await ensureNode(depsFor(ec2, LOWEST_FREE), NODE);

    expect(report.reason).toContain(`AllocationError: subnet ${A} (10.0.1.0/29) has no free IPv4 address left`);
    expect(ec2.writes('createInterface')).toEqual([]);
  });
});

describe('adoption', () => {
  test('an unattached ENI of ours in a subnet the settings no longer name is never adopted: the slot gets a new ENI in its own subnet', async () => {
    const leftOver = eni('eni-left-over', OLD, { tags: ownedBy(NODE, 1), addresses: ['10.0.3.4'] });
    const ec2 = world({ interfaces: [leftOver] });

    const report = await ensureNode(depsFor(ec2), NODE);

    expect(report.outcome).toBe('attached');
    expect(report.actions.map((a) => `${a.deviceIndex} ${a.action} ${a.subnetId}`)).toEqual([`1 create ${A}`, `2 create ${B}`]);
    const attached = ec2.oursFor(NODE).filter((e) => e.attachment?.instanceId === NODE);
    expect(attached.map((e) => [e.attachment?.deviceIndex, e.subnetId])).toEqual([[1, A], [2, B]]);
    // Left for the sweeper, untouched.
    expect(ec2.interfaces.find((e) => e.networkInterfaceId === 'eni-left-over')).toEqual(leftOver);
  });

  test('an unattached ENI of ours in the slot\'s subnet is adopted, the one made for that device index first', async () => {
    const forTwo = eni('eni-for-two', A, { tags: ownedBy(NODE, 2), addresses: ['10.0.1.7'] });
    const forOne = eni('eni-for-one', A, { tags: ownedBy(NODE, 1), addresses: ['10.0.1.8'] });
    const inB = eni('eni-in-b', B, { tags: ownedBy(NODE, 2), addresses: ['10.0.2.8'] });
    const ec2 = world({ interfaces: [forTwo, forOne, inB] });

    const report = await ensureNode(depsFor(ec2), NODE);

    expect(report.actions.map((a) => `${a.deviceIndex} ${a.action} ${a.networkInterfaceId}`)).toEqual(['1 adopt eni-for-one', '2 adopt eni-in-b']);
    expect(ec2.writes('createInterface')).toEqual([]);
    expect(ec2.oursFor(NODE).map((e) => [e.networkInterfaceId, e.attachment?.deviceIndex, e.attachment?.deleteOnTermination, e.sourceDestCheck])).toEqual([
      ['eni-for-two', undefined, undefined, false],
      ['eni-for-one', 1, true, false],
      ['eni-in-b', 2, true, false],
    ]);
  });
});
