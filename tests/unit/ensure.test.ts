/**
 * Making one node multus-ready (ensureNode) over an in-memory EC2 port (tests/support/fake-ec2.ts)
 * that answers as EC2 does: the failure paths, where the promises are "nothing leaked" and "never
 * take what is not ours", told by the ENIs left in the fake and the writes it recorded, not by
 * what was logged. A fake port rather than the emulator: every write can be failed exactly where a
 * test needs it, and the mutation run (`npm run mutate`) can afford these tests for every mutant.
 */
import { EnsureError, ensureInterfaces, ensureNode, parseCidr, parseSettings, planInterfaces, silentLog, strayInterfaces, withCallDeadline, type InterfaceView, type Log } from 'multus-core';
import { eni, FakeEc2, honourCallDeadlines } from '../support/fake-ec2';

import { A, B, depsFor, NODE, OLD, ownedBy, PATH, VPC, world } from '../support/fake-node';

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
    expect(created).toEqual(['createInterface', B, undefined, undefined]);
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
    expect(ec2.writes('createInterface')).toEqual([['createInterface', A, '10.0.1.4', undefined]]);
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

    expect(report.reason).toContain(`AllocationError: subnet ${A} (10.0.1.0/29) has 0 free IPv4 addresses, 1 needed`);
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

describe('attach', () => {
  const refused = (name: string) => Object.assign(new Error(`attach refused: ${name}`), { name });

  test('every new ENI is attached at its device index with DeleteOnTermination; the source/dest check is set only when it differs from EC2\'s default', async () => {
    for (const [sdc, calls] of [['false', 2], ['true', 0]] as const) {
      const ec2 = world();

      const report = await ensureNode(depsFor(ec2, { 'source-dest-check': sdc }), NODE);

      expect(report.interfaces.map((i) => [i.deviceIndex, i.subnetId, i.privateIpAddress, i.ipv4Prefixes])).toEqual([[1, A, '10.0.1.4', []], [2, B, '10.0.2.4', []]]);
      expect(ec2.oursFor(NODE).map((e) => [e.attachment?.deviceIndex, e.attachment?.deleteOnTermination, e.sourceDestCheck])).toEqual([[1, true, sdc === 'true'], [2, true, sdc === 'true']]);
      expect(ec2.writes('setSourceDestCheck')).toHaveLength(calls);
      expect(ec2.oursFor(NODE)[0]).toMatchObject({
        tags: { 'node.k8s.amazonaws.com/no_manage': 'true', 'eks-multus-eni/instance-id': NODE, 'eks-multus-eni/device-index': '1' },
      });
    }
  });

  test('an ENI in place is kept; only what differs (DeleteOnTermination, source/dest check) is fixed', async () => {
    const drifted = eni('eni-drifted', A, { tags: ownedBy(NODE, 1), attachedTo: NODE, deviceIndex: 1, deleteOnTermination: false, sourceDestCheck: true });
    const fine = eni('eni-fine', B, { tags: ownedBy(NODE, 2), attachedTo: NODE, deviceIndex: 2 });
    const ec2 = world({ interfaces: [drifted, fine] });

    const report = await ensureNode(depsFor(ec2), NODE);

    expect(report.actions.map((a) => `${a.action} ${a.networkInterfaceId}`)).toEqual(['in-place eni-drifted', 'in-place eni-fine']);
    expect(ec2.writes('setDeleteOnTermination', 'setSourceDestCheck', 'createInterface', 'attachInterface')).toEqual([
      ['setDeleteOnTermination', 'eni-drifted', 'eni-attach-eni-drifted', true],
      ['setSourceDestCheck', 'eni-drifted', false],
    ]);
  });

  test('an adopted ENI gets the source/dest check only when its own differs', async () => {
    const orphan = eni('eni-orphan', A, { tags: ownedBy(NODE, 1), sourceDestCheck: true });
    const ec2 = world({ interfaces: [orphan] });

    await ensureNode(depsFor(ec2, { 'subnets/us-east-1a': A, 'source-dest-check': 'true' }), NODE);

    expect(ec2.writes('setSourceDestCheck')).toEqual([]);
    expect(ec2.writes('setDeleteOnTermination')).toHaveLength(1);
  });

  test.each(['IncorrectInstanceState', 'InvalidNetworkInterfaceID.NotFound'])('an attach answered %s settles: retried with backoff until it works', async (code) => {
    const ec2 = world();
    ec2.failures.set('attachInterface:eni-fake0001', [code, code, code]);
    const waits: number[] = [];

    const report = await ensureNode(depsFor(ec2, { 'subnets/us-east-1a': A }, { release: { sleep: async (ms) => void waits.push(ms), detachTimeoutMs: 10_000 } }), NODE);

    expect(report.outcome).toBe('attached');
    expect(waits).toEqual([250, 500, 1000]);
    expect(ec2.writes('attachInterface')).toHaveLength(4);
  });

  test('a settling attach is given up after the release bound, then rolled back', async () => {
    const ec2 = world();
    ec2.failures.set('attachInterface:eni-fake0001', 'IncorrectInstanceState');
    const waits: number[] = [];

    const report = await ensureNode(depsFor(ec2, { 'subnets/us-east-1a': A }, { release: { sleep: async (ms) => void waits.push(ms), detachTimeoutMs: 1750 } }), NODE);

    expect(report).toMatchObject({ outcome: 'failed', reason: expect.stringContaining('IncorrectInstanceState') });
    expect(waits).toEqual([250, 500, 1000]);
    expect(ec2.interfaces).toEqual([]);
  });

  test('the backoff of a settling attach is capped at 5 s', async () => {
    const ec2 = world();
    ec2.failures.set('attachInterface:eni-fake0001', Array.from({ length: 7 }, () => 'IncorrectInstanceState'));
    const waits: number[] = [];

    await ensureNode(depsFor(ec2, { 'subnets/us-east-1a': A }, { release: { sleep: async (ms) => void waits.push(ms), detachTimeoutMs: 60_000 } }), NODE);

    expect(waits).toEqual([250, 500, 1000, 2000, 4000, 5000, 5000]);
  });

  test('a concurrent delivery attached another ENI of ours at the index first: it wins, ours is deleted, the winner is completed and never rolled back', async () => {
    const ec2 = world();
    ec2.beforeWrite = (method, _id, _instance, deviceIndex) => {
      if (method !== 'attachInterface' || deviceIndex !== 1) return;
      ec2.interfaces.push(eni('eni-winner', A, { tags: ownedBy(NODE, 1), attachedTo: NODE, deviceIndex: 1, deleteOnTermination: false, sourceDestCheck: true, addresses: ['10.0.1.9'] }));
      throw refused('InvalidParameterValue');
    };
    ec2.failures.set(`createInterface:${B}`, 'InsufficientFreeAddressesInSubnet');

    const report = await ensureNode(depsFor(ec2), NODE);

    // Slot 2 failed: the rollback removes nothing of the other delivery.
    expect(report.outcome).toBe('failed');
    expect(ids(ec2.interfaces)).toEqual(['eni-winner']);
    expect(ec2.writes('setDeleteOnTermination', 'setSourceDestCheck', 'deleteInterface')).toEqual([
      ['deleteInterface', 'eni-fake0001'],
      ['setDeleteOnTermination', 'eni-winner', 'eni-attach-eni-winner', true],
      ['setSourceDestCheck', 'eni-winner', false],
    ]);
  });

  test('a concurrent delivery won with a complete ENI: it is reported in place and nothing is fixed', async () => {
    const ec2 = world();
    ec2.beforeWrite = (method) => {
      if (method !== 'attachInterface') return;
      ec2.beforeWrite = undefined;
      ec2.interfaces.push(eni('eni-winner', A, { tags: ownedBy(NODE, 1), attachedTo: NODE, deviceIndex: 1, addresses: ['10.0.1.9'] }));
      throw refused('InvalidParameterValue');
    };

    const report = await ensureNode(depsFor(ec2, { 'subnets/us-east-1a': A }), NODE);

    expect(report.actions).toEqual([{ deviceIndex: 1, subnetId: A, networkInterfaceId: 'eni-winner', action: 'in-place' }]);
    expect(report.interfaces[0].privateIpAddress).toBe('10.0.1.9');
    expect(ec2.writes('setDeleteOnTermination', 'setSourceDestCheck')).toEqual([]);
  });

  test('our attach went through but its answer was lost: our ENI holds the index, it is kept and completed', async () => {
    const ec2 = world();
    ec2.beforeWrite = (method, id) => {
      if (method !== 'attachInterface') return;
      ec2.beforeWrite = undefined;
      ec2.interfaces = ec2.interfaces.map((e) =>
        e.networkInterfaceId === id ? { ...e, status: 'in-use', attachment: { attachmentId: 'eni-attach-lost', deviceIndex: 1, deleteOnTermination: false, status: 'attached', instanceId: NODE } } : e,
      );
      throw refused('RequestTimeout');
    };

    const report = await ensureNode(depsFor(ec2, { 'subnets/us-east-1a': A }), NODE);

    expect(report.actions.map((a) => `${a.action} ${a.networkInterfaceId}`)).toEqual(['create eni-fake0001']);
    expect(ec2.writes('deleteInterface')).toEqual([]);
    expect(ec2.writes('setDeleteOnTermination')).toEqual([['setDeleteOnTermination', 'eni-fake0001', 'eni-attach-lost', true]]);
  });

  test.each([
    ['an ENI that is not ours', {}, A],
    ['an ENI of ours in another subnet', ownedBy(NODE, 1), OLD],
  ])('the index held by %s after a refused attach: the refusal stands, rolled back', async (_what, tags, subnet) => {
    const ec2 = world();
    ec2.beforeWrite = (method) => {
      if (method !== 'attachInterface') return;
      ec2.interfaces.push(eni('eni-holder', subnet, { tags, attachedTo: NODE, deviceIndex: 1 }));
      throw refused('InvalidParameterValue');
    };

    const report = await ensureNode(depsFor(ec2, { 'subnets/us-east-1a': A }), NODE);

    expect(report).toMatchObject({ outcome: 'failed', reason: expect.stringContaining('InvalidParameterValue') });
    expect(ids(ec2.interfaces)).toEqual(['eni-holder']);
  });

  test('an attachment on another network card does not hold the index', async () => {
    const ec2 = world({ interfaces: [eni('eni-card1', OLD, { attachedTo: NODE, deviceIndex: 1, networkCardIndex: 1 })] });

    const report = await ensureNode(depsFor(ec2, { 'subnets/us-east-1a': A }), NODE);

    expect(report.actions.map((a) => a.action)).toEqual(['create']);
  });
});

describe('the function\'s time limit', () => {
  test('no slot starts past the deadline: nothing is created', async () => {
    const ec2 = world();

    const report = await ensureNode(depsFor(ec2, {}, { deadline: Date.now() - 1 }), NODE);

    expect(report.reason).toContain('AllocationError: ran out of time before device index 1');
    expect(ec2.writes('createInterface', 'attachInterface')).toEqual([]);
  });

  test('a lost race past the deadline ends the allocation', async () => {
    const ec2 = world();
    let late = false;
    ec2.beforeWrite = (method) => {
      if (method !== 'createInterface') return;
      late = true;
      throw Object.assign(new Error('in use'), { name: 'InvalidIPAddress.InUse' });
    };
    const deps = depsFor(ec2, LOWEST_FREE);
    Object.defineProperty(deps, 'deadline', { get: () => (late ? Date.now() - 1 : undefined) });

    const report = await ensureNode(deps, NODE);

    expect(report.reason).toContain(`AllocationError: ran out of time in subnet ${A} after 1 addresses were taken by concurrent launches`);
    expect(ec2.writes('createInterface')).toHaveLength(1);
  });

  // The work's calls run in a scope that aborts them at its deadline (as lifecycle/launch.ts sets
  // it); the fake refuses a call in an aborted scope as the SDK does, and its attach never answers.
  const theWork = <T>(fn: () => Promise<T>) => withCallDeadline({ deadline: Date.now() + 30, what: 'the ENI work' }, fn);

  test('the rollback has time of its own: once the work was cut off at its deadline, the ENI it created is still deleted', async () => {
    const ec2 = honourCallDeadlines(world(), ['attachInterface']);

    const report = await theWork(() => ensureNode(depsFor(ec2, {}, { release: { sleep: async () => {}, detachTimeoutMs: 1000, deadline: Date.now() + 60_000 } }), NODE));

    expect(report).toMatchObject({ outcome: 'failed', lifecycleResult: 'ABANDON' });
    expect(report.reason).toContain('AbortError: no answer in time: the ENI work stops its AWS calls');
    expect(ec2.writes('attachInterface')).toHaveLength(1);
    expect(ec2.writes('deleteInterface')).toEqual([['deleteInterface', 'eni-fake0001']]);
    expect(ec2.interfaces).toEqual([]);
  });

  test('a rollback that runs out of its own time says so, and leaves the ENI for the sweeper', async () => {
    const ec2 = honourCallDeadlines(world(), ['attachInterface', 'deleteInterface']);
    const errors: unknown[] = [];
    const log: Log = { ...silentLog, error: (_message: string, extra?: Record<string, unknown>) => void errors.push(extra?.error) };

    const report = await theWork(() => ensureNode(depsFor(ec2, {}, { log, release: { sleep: async () => {}, detachTimeoutMs: 1000, deadline: Date.now() + 60 } }), NODE));

    expect(report.outcome).toBe('failed');
    expect(ec2.writes('deleteInterface')).toEqual([['deleteInterface', 'eni-fake0001']]);
    expect(ec2.interfaces.map((e) => e.networkInterfaceId)).toEqual(['eni-fake0001']);
    expect(errors).toContainEqual(expect.objectContaining({ name: 'AbortError', message: expect.stringContaining('no answer in time: the rollback stops its AWS calls') }));
  });
});

describe('lowest-free allocation among concurrent launches', () => {
  const PEER = 'i-00000000000000001'; // sorts before NODE
  const peer = (extra: Partial<{ availabilityZone: string; launchTime: Date }> = {}) => ({
    instanceId: PEER,
    availabilityZone: 'us-east-1a',
    tags: { 'multus-ng': 'true' },
    launchTime: new Date(),
    ...extra,
  });
  const node = { instanceId: NODE, availabilityZone: 'us-east-1a', vpcId: VPC, tags: { 'multus-ng': 'true' } };
  const loseFirst = (ec2: FakeEc2) => ec2.failures.set(`createInterface:${A}`, ['InvalidIPAddress.InUse']);
  const address = async (ec2: FakeEc2) => (await ensureNode(depsFor(ec2, { ...LOWEST_FREE, 'subnets/us-east-1a': A }), NODE)).interfaces[0]?.privateIpAddress;

  test('after a lost race a node takes the free address of its rank among the nodes still waiting', async () => {
    const ec2 = world({ instances: [node, peer()] });
    loseFirst(ec2);
    expect(await address(ec2)).toBe('10.0.1.6'); // rank 1: the second lowest free (.4 was lost)
  });

  test.each([
    ['launched more than 15 minutes ago', peer({ launchTime: new Date(Date.now() - 16 * 60_000) })],
    ['in another AZ', peer({ availabilityZone: 'us-east-1b' })],
  ])('a peer %s does not count', async (_what, other) => {
    const ec2 = world({ instances: [node, other] });
    loseFirst(ec2);
    expect(await address(ec2)).toBe('10.0.1.5');
  });

  test('a peer that has its ENI in the subnet already does not count', async () => {
    const ec2 = world({ instances: [node, peer()], interfaces: [eni('eni-peer', A, { tags: ownedBy(PEER, 1), attachedTo: PEER, addresses: ['10.0.1.20'] })] });
    loseFirst(ec2);
    expect(await address(ec2)).toBe('10.0.1.5');
  });

  test('when the peers cannot be listed, the next free address is taken', async () => {
    const ec2 = world({ instances: [node, peer()] });
    ec2.describeTaggedInstances = async () => {
      throw Object.assign(new Error('denied'), { name: 'UnauthorizedOperation' });
    };
    loseFirst(ec2);
    expect(await address(ec2)).toBe('10.0.1.5');
  });

  test('a rank beyond the free addresses takes the highest free one', async () => {
    const small = { subnetId: A, vpcId: VPC, availabilityZone: 'us-east-1a', cidrBlock: '10.0.1.0/29', availableIpAddressCount: 3 };
    const peers = ['i-00000000000000001', 'i-00000000000000002', 'i-00000000000000003'].map((instanceId) => ({ ...peer(), instanceId }));
    const ec2 = world({ subnets: [small], instances: [node, ...peers] });
    loseFirst(ec2);
    expect(await address(ec2)).toBe('10.0.1.6'); // .5 and .6 free, rank 3
  });
});

describe('IPv4 prefixes', () => {
  const PREFIXES = (k: number, lowest = false) => ({ 'ipv4-prefixes-per-interface': String(k), ...(lowest ? LOWEST_FREE : {}) });

  test('EC2 picks: the count goes with the create, no further call', async () => {
    const ec2 = world();

    const report = await ensureNode(depsFor(ec2, PREFIXES(2)), NODE);

    expect(ec2.writes('createInterface').map(([, , address, count]) => [address, count])).toEqual([[undefined, 2], [undefined, 2]]);
    expect(ec2.writes('assignPrefixes')).toEqual([]);
    expect(report.interfaces.map((i) => i.ipv4Prefixes)).toEqual([['10.0.1.16/28', '10.0.1.32/28'], ['10.0.2.16/28', '10.0.2.32/28']]);
  });

  test('lowest-free: the lowest free aligned blocks are assigned right after the create (not with it)', async () => {
    const ec2 = world({ reservations: { [A]: ['prefix:10.0.1.128/27', '10.0.1.16/28'] } });

    const report = await ensureNode(depsFor(ec2, PREFIXES(3, true)), NODE);

    expect(ec2.writes('createInterface').map(([, subnet, address, count]) => [subnet, address, count])).toEqual([[A, '10.0.1.4', undefined], [B, '10.0.2.4', undefined]]);
    // A: the prefix reservation first, then the lowest outside the explicit one.
    expect(report.interfaces.map((i) => i.ipv4Prefixes)).toEqual([
      ['10.0.1.128/28', '10.0.1.144/28', '10.0.1.32/28'],
      ['10.0.2.16/28', '10.0.2.32/28', '10.0.2.48/28'],
    ]);
    expect(ec2.oursFor(NODE).map((e) => e.ipv4Prefixes.length)).toEqual([3, 3]);
  });

  test.each([false, true])('an ENI in place gets only the prefixes it lacks (lowest-free %p)', async (lowest) => {
    const placed = eni('eni-placed', A, { tags: ownedBy(NODE, 1), attachedTo: NODE, deviceIndex: 1, addresses: ['10.0.1.4'], prefixes: ['10.0.1.64/28'] });
    const ec2 = world({ interfaces: [placed] });

    const report = await ensureNode(depsFor(ec2, { ...PREFIXES(2, lowest), 'subnets/us-east-1a': A }), NODE);

    expect(ec2.writes('assignPrefixes')).toEqual([['assignPrefixes', 'eni-placed', lowest ? ['10.0.1.16/28'] : 1]]);
    expect(report.interfaces[0].ipv4Prefixes).toEqual(['10.0.1.64/28', '10.0.1.16/28']);
  });

  test('an ENI in place with its prefixes gets none', async () => {
    const placed = eni('eni-placed', A, { tags: ownedBy(NODE, 1), attachedTo: NODE, deviceIndex: 1, addresses: ['10.0.1.4'], prefixes: ['10.0.1.64/28', '10.0.1.80/28'] });
    const ec2 = world({ interfaces: [placed] });

    await ensureNode(depsFor(ec2, { ...PREFIXES(2, true), 'subnets/us-east-1a': A }), NODE);

    expect(ec2.writes('assignPrefixes', 'createInterface')).toEqual([]);
  });

  test.each([
    ['10.0.1.0/26', [], '2 free aligned /28 blocks for IPv4 prefixes, 3 needed'],
    ['10.0.1.0/26', ['10.0.1.20'], '1 free aligned /28 block for IPv4 prefixes, 3 needed'],
  ])('lowest-free: a subnet (%s) without the blocks the node needs fails before anything is created', async (cidrBlock, used, message) => {
    const ec2 = world({
      subnets: [{ subnetId: A, vpcId: VPC, availabilityZone: 'us-east-1a', cidrBlock, availableIpAddressCount: 59 }],
      interfaces: used.length ? [eni('eni-used', A, { addresses: used })] : [],
    });

    const report = await ensureNode(depsFor(ec2, { ...PREFIXES(3, true), 'subnets/us-east-1a': A }), NODE);

    expect(report.reason).toContain(`AllocationError: subnet ${A} (${cidrBlock}) has ${message}`);
    expect(ec2.writes('createInterface')).toEqual([]);
  });

  test('lowest-free: blocks taken meanwhile by a concurrent launch move on to the next free ones', async () => {
    const ec2 = world();
    ec2.beforeWrite = (method, id, prefixes) => {
      if (method !== 'assignPrefixes' || id !== 'eni-fake0001') return;
      ec2.beforeWrite = undefined;
      ec2.interfaces.push(eni('eni-racer', A, { tags: ownedBy('i-0bbbbbbbbbbbbbbb2', 1), prefixes: prefixes as string[] }));
      throw Object.assign(new Error('taken'), { name: 'InvalidParameterValue' });
    };

    const report = await ensureNode(depsFor(ec2, { ...PREFIXES(2, true), 'subnets/us-east-1a': A }), NODE);

    expect(report).toMatchObject({ outcome: 'attached', racesLost: 1 });
    expect(report.interfaces[0].ipv4Prefixes).toEqual(['10.0.1.48/28', '10.0.1.64/28']);
  });

  test('lowest-free: an address of another ENI inside the blocks is a race lost too', async () => {
    const ec2 = world();
    ec2.beforeWrite = (method, id) => {
      if (method !== 'assignPrefixes' || id !== 'eni-fake0001') return;
      ec2.beforeWrite = undefined;
      ec2.interfaces.push(eni('eni-racer', A, { tags: ownedBy('i-0bbbbbbbbbbbbbbb2', 1), addresses: ['10.0.1.33'] }));
      throw Object.assign(new Error('taken'), { name: 'InsufficientCidrBlocks' });
    };

    const report = await ensureNode(depsFor(ec2, { ...PREFIXES(2, true), 'subnets/us-east-1a': A }), NODE);

    expect(report.interfaces[0].ipv4Prefixes).toEqual(['10.0.1.16/28', '10.0.1.48/28']);
  });

  test.each([
    ['InvalidParameterValue with nobody holding the blocks', 'InvalidParameterValue'],
    ['a code that is no race at all', 'UnauthorizedOperation'],
  ])('lowest-free: a prefix refusal that is %s fails the launch', async (_what, code) => {
    const ec2 = world();
    ec2.failures.set('assignPrefixes:eni-fake0001', [code]);

    const report = await ensureNode(depsFor(ec2, { ...PREFIXES(1, true), 'subnets/us-east-1a': A }), NODE);

    expect(report.reason).toContain(code);
    expect(ec2.writes('assignPrefixes')).toHaveLength(1);
    expect(ec2.interfaces).toEqual([]);
  });

  test('lowest-free: prefix races are bounded like address races', async () => {
    const ec2 = world();
    ec2.beforeWrite = (method, _id, prefixes) => {
      if (method !== 'assignPrefixes') return;
      ec2.interfaces.push(eni(`eni-racer-${ec2.interfaces.length}`, A, { tags: ownedBy('i-0bbbbbbbbbbbbbbb2', 1), prefixes: prefixes as string[] }));
      throw Object.assign(new Error('taken'), { name: 'InvalidParameterValue' });
    };

    const report = await ensureNode(depsFor(ec2, { ...PREFIXES(1, true), 'subnets/us-east-1a': A }, { maxAddressRaces: 3 }), NODE);

    expect(report.reason).toContain(`AllocationError: gave up on IPv4 prefixes in subnet ${A} after 3 were taken by concurrent launches`);
    expect(ec2.writes('assignPrefixes')).toHaveLength(3);
  });

  test('lowest-free: after a lost prefix race a node skips the blocks of the nodes ranked before it, or takes the lowest when too few are left', async () => {
    const PEER = 'i-00000000000000001';
    const instances = [
      { instanceId: NODE, availabilityZone: 'us-east-1a', vpcId: VPC, tags: { 'multus-ng': 'true' } },
      { instanceId: PEER, availabilityZone: 'us-east-1a', tags: { 'multus-ng': 'true' }, launchTime: new Date() },
    ];
    for (const [cidrBlock, expected] of [['10.0.1.0/24', ['10.0.1.64/28', '10.0.1.80/28']], ['10.0.1.0/26', []]] as const) {
      const ec2 = world({ instances, subnets: [{ subnetId: A, vpcId: VPC, availabilityZone: 'us-east-1a', cidrBlock, availableIpAddressCount: 59 }] });
      ec2.beforeWrite = (method, _id, prefixes) => {
        if (method !== 'assignPrefixes') return;
        ec2.beforeWrite = undefined;
        ec2.interfaces.push(eni('eni-racer', A, { tags: ownedBy('i-0bbbbbbbbbbbbbbb2', 1), prefixes: [(prefixes as string[])[0]] }));
        throw Object.assign(new Error('taken'), { name: 'InvalidParameterValue' });
      };

      const report = await ensureNode(depsFor(ec2, { ...PREFIXES(2, true), 'subnets/us-east-1a': A }), NODE);

      if (expected.length) expect(report.interfaces[0].ipv4Prefixes).toEqual(expected);
      else expect(report.reason).toContain('has 1 free aligned /28 block for IPv4 prefixes, 2 needed');
    }
  });
});

describe('the node before anything is created', () => {
  test.each([
    ['unknown to EC2', { instances: [] }, `NodeConfigurationError: instance ${NODE} does not exist (EC2 does not know it)`],
    ['terminated', { instances: [{ instanceId: NODE, availabilityZone: 'us-east-1a', tags: { 'multus-ng': 'true' }, state: 'terminated' }] }, `NodeConfigurationError: instance ${NODE} is terminated`],
    ['shutting down', { instances: [{ instanceId: NODE, availabilityZone: 'us-east-1a', tags: { 'multus-ng': 'true' }, state: 'shutting-down' }] }, `instance ${NODE} is shutting-down`],
  ])('an instance %s: failed, nothing created', async (_what, data, reason) => {
    const ec2 = world(data);

    const report = await ensureNode(depsFor(ec2), NODE);

    expect(report).toMatchObject({ outcome: 'failed', lifecycleResult: 'ABANDON', reason: expect.stringContaining(reason) });
    expect(ec2.calls).toEqual([]);
  });

  test('an instance EC2 does not show yet is described again, with backoff', async () => {
    const ec2 = world();
    const describe = ec2.describeInstance.bind(ec2);
    let hidden = 2;
    ec2.describeInstance = async (id) => (hidden-- > 0 ? undefined : describe(id));
    const waits: number[] = [];

    const report = await ensureNode(depsFor(ec2, {}, { release: { sleep: async (ms) => void waits.push(ms), detachTimeoutMs: 60_000 } }), NODE);

    expect(report.outcome).toBe('attached');
    expect(waits).toEqual([250, 500]);
  });

  test('an instance that never shows is given up within 10 s of waiting (the backoff capped at 2 s)', async () => {
    const ec2 = world({ instances: [] });
    const waits: number[] = [];

    const report = await ensureNode(depsFor(ec2, {}, { release: { sleep: async (ms) => void waits.push(ms), detachTimeoutMs: 60_000 } }), NODE);

    expect(report.reason).toContain('does not exist');
    expect(waits).toEqual([250, 500, 1000, 2000, 2000, 2000, 2000, 2000]);
  });

  test('not opted in, or no subnets for its AZ: skipped with CONTINUE, naming why; the AZ is annotated', async () => {
    const optedOut = world({ instances: [{ instanceId: NODE, availabilityZone: 'us-east-1a', tags: { Name: 'x' } }] });
    const keys: Record<string, string>[] = [];
    expect(await ensureNode(depsFor(optedOut, {}, { annotate: (k) => void keys.push(k) }), NODE)).toEqual({
      instanceId: NODE,
      outcome: 'skipped',
      availabilityZone: 'us-east-1a',
      interfaces: [],
      reason: 'instance does not carry the opt-in tag multus-ng',
      lifecycleResult: 'CONTINUE',
      actions: [],
    });
    expect(keys).toEqual([{ availabilityZone: 'us-east-1a' }]);

    const elsewhere = world();
    const report = await ensureNode(depsFor(elsewhere, { 'subnets/us-east-1a': undefined as never, 'subnets/us-east-1b': B }), NODE);
    expect(report).toMatchObject({ outcome: 'skipped', lifecycleResult: 'CONTINUE', reason: `no multus subnets configured for us-east-1a (${PATH}/subnets/us-east-1a does not exist)` });
    expect(elsewhere.calls).toEqual([]);
  });

  test('bad settings fail with the on-failure result, parsed on its own', async () => {
    const report = await ensureNode(depsFor(world(), { 'on-failure': 'CONTINUE', 'source-dest-check': 'maybe' }), NODE);

    expect(report).toMatchObject({ outcome: 'failed', lifecycleResult: 'CONTINUE', errorName: 'SettingsError' });
    expect(report.reason).toBe(`SettingsError: ${PATH}/source-dest-check: must be "true" or "false", not "maybe"`);
  });

  test('a failure is logged once, as an error naming the node, the cause and the lifecycle result', async () => {
    const errors: unknown[][] = [];
    const log = { ...silentLog, error: (...args: unknown[]) => void errors.push(args) };

    await ensureNode(depsFor(world({ instances: [] }), {}, { log }), NODE);

    expect(errors).toEqual([
      ['node could not be made multus-ready', { instanceId: NODE, error: expect.objectContaining({ name: 'NodeConfigurationError' }), onFailure: 'ABANDON' }],
    ]);
  });

  test('an ENI of ours still detaching at a multus device index is waited for; one that stays is a failure', async () => {
    const leaving = eni('eni-leaving', A, { tags: ownedBy(NODE, 1), attachedTo: NODE, deviceIndex: 1, attachmentStatus: 'detaching', status: 'in-use' });
    const beyond = eni('eni-beyond', OLD, { tags: ownedBy(NODE, 3), attachedTo: NODE, deviceIndex: 3, attachmentStatus: 'detaching', status: 'in-use' });
    const ec2 = world({ interfaces: [leaving, beyond] });
    const waits: number[] = [];
    const sleep = async (ms: number) => {
      waits.push(ms);
      ec2.interfaces = ec2.interfaces.filter((e) => e.networkInterfaceId !== 'eni-leaving');
    };

    const report = await ensureNode(depsFor(ec2, {}, { release: { sleep, detachTimeoutMs: 60_000 } }), NODE);

    expect(report.outcome).toBe('attached');
    expect(waits).toEqual([250]); // index 3 is not a multus index here: not waited for

    const stuck = world({ interfaces: [leaving] });
    const failed = await ensureNode(depsFor(stuck, {}, { release: { sleep: async () => {}, detachTimeoutMs: 60_000 } }), NODE);
    expect(failed.reason).toBe(`NodeConfigurationError: instance ${NODE}: an ENI at a multus device index is still detaching`);
  });

  test('a security group the setting names but EC2 refuses: the reason is the setting\'s problem, as the settings check names it', async () => {
    const SG = 'sg-0000000000000000a';
    const ec2 = world({ securityGroups: [] });
    ec2.failures.set(`createInterface:${A}`, 'InvalidGroup.NotFound');

    const report = await ensureNode(depsFor(ec2, { 'security-groups': SG }), NODE);

    expect(report.reason).toBe(`NodeConfigurationError: ${PATH}/security-groups: security group ${SG} does not exist (CreateNetworkInterface refused it: InvalidGroup.NotFound)`);
    expect(report.errorName).toBe('NodeConfigurationError');
  });

  test('the same refusal with groups that are fine (or no setting) is reported as EC2 said it', async () => {
    const SG = 'sg-0000000000000000a';
    for (const settings of [{ 'security-groups': SG }, {}] as Record<string, string>[]) {
      const ec2 = world({ securityGroups: [{ groupId: SG, vpcId: VPC }] });
      ec2.failures.set(`createInterface:${A}`, 'InvalidParameterValue');

      const report = await ensureNode(depsFor(ec2, settings), NODE);

      expect(report.reason).toMatch(/^EnsureError: InvalidParameterValue: createInterface failed/);
    }
  });
});

describe('reconcile: dry run and prune', () => {
  const onOld = () => eni('eni-old', OLD, { tags: ownedBy(NODE, 2), attachedTo: NODE, deviceIndex: 2, addresses: ['10.0.3.4'] });
  const onA = () => eni('eni-a', A, { tags: ownedBy(NODE, 1), attachedTo: NODE, deviceIndex: 1, addresses: ['10.0.1.4'], deleteOnTermination: false });

  test('dry run: what would be done, nothing written', async () => {
    const ec2 = world({ interfaces: [onA()] });

    const report = await ensureNode(depsFor(ec2), NODE, { dryRun: true });

    expect(report).toEqual({
      instanceId: NODE,
      outcome: 'planned',
      availabilityZone: 'us-east-1a',
      interfaces: [],
      lifecycleResult: 'CONTINUE',
      actions: [
        { deviceIndex: 1, subnetId: A, networkInterfaceId: 'eni-a', action: 'fix' },
        { deviceIndex: 2, subnetId: B, networkInterfaceId: undefined, action: 'create' },
      ],
    });
    expect(ec2.calls).toEqual([]);
  });

  test('without prune, an ENI of ours the settings no longer call for stays, and its index cannot be filled', async () => {
    const ec2 = world({ interfaces: [onA(), onOld()] });

    const report = await ensureNode(depsFor(ec2), NODE);

    expect(report).toMatchObject({ outcome: 'failed', errorName: 'DeviceIndexConflictError' });
    expect(report.reason).toContain(`device index 2 of ${NODE} holds our eni-old in ${OLD}, but the settings now name ${B} (reconcile with prune replaces it)`);
    expect(ids(ec2.interfaces)).toEqual(['eni-a', 'eni-old']);
  });

  test('prune removes it and fills the index; a dry run with prune says so and writes nothing', async () => {
    const dry = world({ interfaces: [onA(), onOld()] });
    const planned = await ensureNode(depsFor(dry), NODE, { dryRun: true, prune: true });
    expect(planned.actions.map((a) => `${a.deviceIndex} ${a.action} ${a.networkInterfaceId}`)).toEqual(['2 remove eni-old', '1 fix eni-a', '2 create undefined']);
    expect(dry.calls).toEqual([]);

    const ec2 = world({ interfaces: [onA(), onOld()] });
    const report = await ensureNode(depsFor(ec2), NODE, { prune: true });

    expect(report.outcome).toBe('attached');
    expect(report.actions.map((a) => `${a.deviceIndex} ${a.action} ${a.networkInterfaceId}`)).toEqual(['2 remove eni-old', '1 in-place eni-a', '2 create eni-fake0001']);
    expect(ids(ec2.interfaces)).toEqual(['eni-a', 'eni-fake0001']);
  });

  test('prune leaves the primary interface, ENIs that are not ours and ours in their right subnet', async () => {
    const foreign = eni('eni-foreign', OLD, { attachedTo: NODE, deviceIndex: 3 });
    const ec2 = world({ interfaces: [onA(), eni('eni-b', B, { tags: ownedBy(NODE, 2), attachedTo: NODE, deviceIndex: 2 }), foreign] });

    const report = await ensureNode(depsFor(ec2), NODE, { prune: true });

    expect(report.actions.map((a) => a.action)).toEqual(['in-place', 'in-place']);
    expect(ec2.writes('detachInterface', 'deleteInterface')).toEqual([]);
  });
});

describe('planning', () => {
  test('an unattached ENI of ours that is not available (attaching elsewhere) is neither adopted nor a stray', async () => {
    const busy = eni('eni-busy', A, { tags: ownedBy(NODE, 1), status: 'in-use' });
    const ec2 = world({ interfaces: [busy] });
    ec2.failures.set(`createInterface:${B}`, 'InsufficientFreeAddressesInSubnet');

    const report = await ensureNode(depsFor(ec2), NODE);

    expect(report.outcome).toBe('failed');
    expect(ec2.interfaces).toEqual([busy]); // not adopted at index 1, not removed by the rollback
  });

  test('a device index held by an ENI that is not ours is a conflict before anything is created', async () => {
    const ec2 = world({ interfaces: [eni('eni-cni', A, { attachedTo: NODE, deviceIndex: 1 })] });

    const report = await ensureNode(depsFor(ec2), NODE);

    expect(report.reason).toBe(`DeviceIndexConflictError: device index 1 of ${NODE} already holds eni-cni, which eks-multus-eni did not create`);
    expect(ec2.writes('createInterface')).toEqual([]);
  });
});

describe('planInterfaces (pure)', () => {
  const instance = (sourceDestCheck: boolean | undefined) => ({
    instanceId: NODE,
    instanceType: 'm5.xlarge',
    availabilityZone: 'us-east-1a',
    vpcId: VPC,
    state: 'running',
    tags: {},
    interfaces: [{ networkInterfaceId: 'eni-a', subnetId: A, privateIpAddress: '10.0.1.4', sourceDestCheck, attachment: { attachmentId: 'att-a', deviceIndex: 1, deleteOnTermination: true, status: 'attached', instanceId: NODE } }],
  });
  const known = [eni('eni-a', A, { tags: ownedBy(NODE, 1), sourceDestCheck: true })];

  test('the source/dest check the instance reports for the attachment decides a fix; the ENI\'s own only when it reports none', () => {
    expect(planInterfaces(instance(false), [A], known, false)[0]).toMatchObject({ kind: 'in-place', fixSourceDestCheck: false, fixDeleteOnTermination: false });
    expect(planInterfaces(instance(true), [A], known, true)[0]).toMatchObject({ fixSourceDestCheck: false });
    expect(planInterfaces(instance(undefined), [A], known, false)[0]).toMatchObject({ fixSourceDestCheck: true });
    expect(strayInterfaces(NODE, known, planInterfaces(instance(false), [A], known, false))).toEqual([]);
  });

  test('the check the instance reports for the attachment wins over the ENI\'s own, whichever way they differ', () => {
    const own = [eni('eni-a', A, { tags: ownedBy(NODE, 1), sourceDestCheck: false })];
    expect(planInterfaces(instance(true), [A], own, true)[0]).toMatchObject({ fixSourceDestCheck: false });
  });

  test('an ENI that is not ours at a device index is a conflict, even when EC2 listed it with ours', () => {
    const foreign = [eni('eni-a', A, { attachedTo: NODE, deviceIndex: 1 })];
    expect(() => planInterfaces(instance(true), [A], foreign, true)).toThrow(`device index 1 of ${NODE} already holds eni-a, which eks-multus-eni did not create`);
  });

  test('strays: only unattached, available ENIs of ours that no slot adopts', () => {
    const none = { ...instance(true), interfaces: [] };
    const known = [
      eni('eni-foreign', A, { addresses: ['10.0.1.5'] }),
      eni('eni-attaching', A, { tags: ownedBy(NODE, 1), status: 'in-use' }),
      eni('eni-elsewhere', B, { tags: ownedBy(NODE, 1), attachedTo: 'i-0ccccccccccccccc3', status: 'available' }),
      eni('eni-adopted', A, { tags: ownedBy(NODE, 1) }),
      eni('eni-stray', OLD, { tags: ownedBy(NODE, 2) }),
    ];
    const plans = planInterfaces(none, [A, B], known, true);

    expect(plans.map((p) => p.kind)).toEqual(['adopt', 'create']);
    expect(strayInterfaces(NODE, known, plans).map((e) => e.networkInterfaceId)).toEqual(['eni-stray']);
  });
});

describe('room for every slot, checked before anything is created', () => {
  const subnetA = (availableIpAddressCount: number) => [{ subnetId: A, vpcId: VPC, availabilityZone: 'us-east-1a', cidrBlock: '10.0.1.0/24', availableIpAddressCount }];
  const ONLY_A = { 'subnets/us-east-1a': A };

  test('EC2 picks: a new ENI needs its address and 16 per prefix; exactly that many free is enough, one fewer fails naming both counts', async () => {
    const enough = world({ subnets: subnetA(33) });
    expect((await ensureNode(depsFor(enough, { ...ONLY_A, 'ipv4-prefixes-per-interface': '2' }), NODE)).outcome).toBe('attached');

    const short = world({ subnets: subnetA(32) });
    const report = await ensureNode(depsFor(short, { ...ONLY_A, 'ipv4-prefixes-per-interface': '2' }), NODE);

    expect(report.reason).toBe(`EnsureError: AllocationError: subnet ${A} (10.0.1.0/24) has 32 free IPv4 addresses, 33 needed`);
    expect(short.writes('createInterface')).toEqual([]);
  });

  test('EC2 picks: an ENI in place needs room only for the prefixes it lacks', async () => {
    const placed = () => eni('eni-placed', A, { tags: ownedBy(NODE, 1), attachedTo: NODE, deviceIndex: 1, addresses: ['10.0.1.4'], prefixes: ['10.0.1.64/28'] });
    const enough = world({ subnets: subnetA(16), interfaces: [placed()] });
    const fine = await ensureNode(depsFor(enough, { ...ONLY_A, 'ipv4-prefixes-per-interface': '2' }), NODE);
    expect(fine.interfaces[0].ipv4Prefixes).toHaveLength(2);

    const short = world({ subnets: subnetA(15), interfaces: [placed()] });
    const report = await ensureNode(depsFor(short, { ...ONLY_A, 'ipv4-prefixes-per-interface': '2' }), NODE);

    expect(report.reason).toBe(`EnsureError: AllocationError: subnet ${A} (10.0.1.0/24) has 15 free IPv4 addresses, 16 needed`);
    expect(short.writes('assignPrefixes')).toEqual([]);
  });

  test('an ENI to adopt needs no free address: a full subnet still gets its slot', async () => {
    const orphan = eni('eni-orphan', A, { tags: ownedBy(NODE, 1), addresses: ['10.0.1.9'] });
    const ec2 = world({ subnets: subnetA(0), interfaces: [orphan] });

    const report = await ensureNode(depsFor(ec2, ONLY_A), NODE);

    expect(report.actions).toEqual([{ deviceIndex: 1, subnetId: A, networkInterfaceId: 'eni-orphan', action: 'adopt' }]);
  });

  test('lowest-free: no address is taken from a CIDR reservation, explicit or prefix', async () => {
    const ec2 = world({ reservations: { [A]: ['10.0.1.0/28'], [B]: ['prefix:10.0.2.0/28'] } });

    const report = await ensureNode(depsFor(ec2, LOWEST_FREE), NODE);

    expect(report.interfaces.map((i) => i.privateIpAddress)).toEqual(['10.0.1.16', '10.0.2.16']);
  });
});

describe('ensure: edges of attach and rollback', () => {
  const refused = (name: string) => Object.assign(new Error(`refused: ${name}`), { name });

  test('each new ENI is described after its node and device index', async () => {
    const ec2 = world();

    await ensureNode(depsFor(ec2), NODE);

    expect([...ec2.descriptions.values()]).toEqual([`eks-multus-eni: ${NODE} device 1`, `eks-multus-eni: ${NODE} device 2`]);
  });

  test('an adopted ENI whose attach went through but whose answer was lost is reported adopted', async () => {
    const orphan = eni('eni-orphan', A, { tags: ownedBy(NODE, 1), addresses: ['10.0.1.9'] });
    const ec2 = world({ interfaces: [orphan] });
    ec2.beforeWrite = (method, id) => {
      if (method !== 'attachInterface') return;
      ec2.beforeWrite = undefined;
      ec2.interfaces = ec2.interfaces.map((e) =>
        e.networkInterfaceId === id ? { ...e, status: 'in-use', attachment: { attachmentId: 'eni-attach-lost', deviceIndex: 1, deleteOnTermination: true, status: 'attached', instanceId: NODE } } : e,
      );
      throw refused('RequestTimeout');
    };

    const report = await ensureNode(depsFor(ec2, { 'subnets/us-east-1a': A }), NODE);

    expect(report.actions).toEqual([{ deviceIndex: 1, subnetId: A, networkInterfaceId: 'eni-orphan', action: 'adopt' }]);
  });

  test.each([
    [false, false, []],
    [false, true, [['setSourceDestCheck', 'eni-orphan', true]]],
  ])('an adopted ENI with the check %p and the setting %p: the check is set only when they differ', async (own, wanted, writes) => {
    const ec2 = world({ interfaces: [eni('eni-orphan', A, { tags: ownedBy(NODE, 1), sourceDestCheck: own })] });

    await ensureNode(depsFor(ec2, { 'subnets/us-east-1a': A, 'source-dest-check': String(wanted) }), NODE);

    expect(ec2.writes('setSourceDestCheck')).toEqual(writes);
    expect(ec2.oursFor(NODE)[0].sourceDestCheck).toBe(wanted);
  });

  test('an ENI of ours at the same device index on another network card is no winner: the refusal stands', async () => {
    const ec2 = world();
    ec2.beforeWrite = (method) => {
      if (method !== 'attachInterface') return;
      ec2.interfaces.push(eni('eni-card1', A, { tags: ownedBy(NODE, 1), attachedTo: NODE, deviceIndex: 1, networkCardIndex: 1 }));
      throw refused('InvalidParameterValue');
    };

    const report = await ensureNode(depsFor(ec2, { 'subnets/us-east-1a': A }), NODE);

    expect(report).toMatchObject({ outcome: 'failed', reason: expect.stringContaining('InvalidParameterValue') });
    expect(ids(ec2.interfaces)).toEqual(['eni-card1']);
  });

  test('a cause that is a plain Error (no AWS code) is named by its message alone', async () => {
    const ec2 = world();
    ec2.beforeWrite = (method) => {
      if (method === 'attachInterface') throw new Error('socket hang up');
    };

    const report = await ensureNode(depsFor(ec2, { 'subnets/us-east-1a': A }), NODE);

    expect(report.reason).toBe('EnsureError: socket hang up');
    expect(ec2.interfaces).toEqual([]);
  });

  test('the rollback reports what it removed and what it leaked, logging each ENI it could not delete', async () => {
    const errors: unknown[][] = [];
    const log = { ...silentLog, error: (...args: unknown[]) => void errors.push(args) };
    for (const deletable of [true, false]) {
      errors.length = 0;
      const ec2 = world();
      ec2.failures.set('attachInterface:eni-fake0001', 'UnauthorizedOperation');
      if (!deletable) ec2.failures.set('deleteInterface:eni-fake0001', 'UnauthorizedOperation');
      const instance = (await ec2.describeInstance(NODE))!;
      const settings = parseSettings({ 'subnets/us-east-1a': A }, PATH);
      const subnets = new Map((await ec2.describeSubnets([A])).map((s) => [s.subnetId, s]));
      const plans = planInterfaces(instance, [A], [], settings.sourceDestCheck);

      const failure = await ensureInterfaces({ ...depsFor(ec2, {}, { log }) }, { instance, plans, subnets, known: [], strays: [], settings }).catch((err: unknown) => err);

      expect(failure).toBeInstanceOf(EnsureError);
      const { rolledBack, leaked, racesLost } = failure as EnsureError;
      expect({ rolledBack, leaked, racesLost }).toEqual(deletable ? { rolledBack: ['eni-fake0001'], leaked: [], racesLost: 0 } : { rolledBack: [], leaked: ['eni-fake0001'], racesLost: 0 });
      expect(errors).toEqual(
        deletable ? [] : [['rollback could not delete an ENI; the orphan sweeper will retry', { networkInterfaceId: 'eni-fake0001', error: expect.objectContaining({ name: 'UnauthorizedOperation' }) }]],
      );
    }
  });
});

describe('lowest-free: refusals that are not races', () => {
  const racer = (addresses: string[]) => eni('eni-racer', A, { tags: ownedBy('i-0bbbbbbbbbbbbbbb2', 1), addresses });

  test('a create refused with a code that is no race is not retried, even when someone holds the address now', async () => {
    const ec2 = world();
    ec2.beforeWrite = (method, subnet, address) => {
      if (method !== 'createInterface' || subnet !== A) return;
      ec2.interfaces.push(racer([String(address)]));
      throw Object.assign(new Error('denied'), { name: 'UnauthorizedOperation' });
    };

    const report = await ensureNode(depsFor(ec2, { ...LOWEST_FREE, 'subnets/us-east-1a': A }), NODE);

    expect(report.reason).toContain('UnauthorizedOperation');
    expect(ec2.writes('createInterface')).toHaveLength(1);
  });

  test('a prefix assignment refused with a code that is no race is not retried, even when someone holds an address in the blocks', async () => {
    const ec2 = world();
    ec2.beforeWrite = (method) => {
      if (method !== 'assignPrefixes') return;
      ec2.interfaces.push(racer(['10.0.1.17']));
      throw Object.assign(new Error('denied'), { name: 'UnauthorizedOperation' });
    };

    const report = await ensureNode(depsFor(ec2, { ...LOWEST_FREE, 'ipv4-prefixes-per-interface': '1', 'subnets/us-east-1a': A }), NODE);

    expect(report.reason).toContain('UnauthorizedOperation');
    expect(ec2.writes('assignPrefixes')).toHaveLength(1);
  });

  test('an assignment carried out whose answer was lost is no race: the ENI\'s own prefixes do not count as taken', async () => {
    const ec2 = world();
    ec2.beforeWrite = (method, id, prefixes) => {
      if (method !== 'assignPrefixes') return;
      ec2.interfaces = ec2.interfaces.map((e) => (e.networkInterfaceId === id ? { ...e, ipv4Prefixes: [...(prefixes as string[])] } : e));
      throw Object.assign(new Error('invalid'), { name: 'InvalidParameterValue' });
    };

    const report = await ensureNode(depsFor(ec2, { ...LOWEST_FREE, 'ipv4-prefixes-per-interface': '1', 'subnets/us-east-1a': A }), NODE);

    expect(report).toMatchObject({ outcome: 'failed', reason: expect.stringContaining('InvalidParameterValue') });
    expect(ec2.writes('assignPrefixes')).toHaveLength(1);
    expect(ec2.interfaces).toEqual([]);
  });

  test('an address held right after the blocks is no race for them', async () => {
    const ec2 = world({ interfaces: [eni('eni-next', A, { addresses: ['10.0.1.32'] })] });
    ec2.failures.set('assignPrefixes:eni-fake0001', ['InvalidParameterValue']);

    const report = await ensureNode(depsFor(ec2, { ...LOWEST_FREE, 'ipv4-prefixes-per-interface': '1', 'subnets/us-east-1a': A }), NODE);

    expect(ec2.writes('assignPrefixes')).toEqual([['assignPrefixes', 'eni-fake0001', ['10.0.1.16/28']]]);
    expect(report).toMatchObject({ outcome: 'failed', reason: expect.stringContaining('InvalidParameterValue') });
  });
});

describe('lowest-free IPv4 prefixes: more edges', () => {
  const PREFIXES = (k: number) => ({ ...LOWEST_FREE, 'ipv4-prefixes-per-interface': String(k), 'subnets/us-east-1a': A });
  const takeAll = (ec2: FakeEc2) => {
    ec2.beforeWrite = (method, _id, prefixes) => {
      if (method !== 'assignPrefixes') return;
      ec2.beforeWrite = undefined;
      ec2.interfaces.push(eni('eni-racer', A, { tags: ownedBy('i-0bbbbbbbbbbbbbbb2', 1), prefixes: prefixes as string[] }));
      throw Object.assign(new Error('taken'), { name: 'InvalidParameterValue' });
    };
  };

  test('an answer that lists no prefixes: the ENI is reported with those it asked for', async () => {
    const ec2 = world();
    const assign = ec2.assignPrefixes.bind(ec2);
    ec2.assignPrefixes = async (id, request) => (await assign(id, request), []);

    const report = await ensureNode(depsFor(ec2, PREFIXES(2)), NODE);

    expect(report.interfaces[0].ipv4Prefixes).toEqual(['10.0.1.16/28', '10.0.1.32/28']);
  });

  test('every free block taken by a concurrent launch: the launch fails naming none left', async () => {
    const ec2 = world({ subnets: [{ subnetId: A, vpcId: VPC, availabilityZone: 'us-east-1a', cidrBlock: '10.0.1.0/26', availableIpAddressCount: 59 }] });
    takeAll(ec2);

    const report = await ensureNode(depsFor(ec2, PREFIXES(2)), NODE);

    expect(report.reason).toContain(`AllocationError: subnet ${A} (10.0.1.0/26) has 0 free aligned /28 blocks for IPv4 prefixes, 2 needed`);
  });

  test('a lost prefix race past the deadline ends the allocation', async () => {
    const ec2 = world();
    let late = false;
    takeAll(ec2);
    const hook = ec2.beforeWrite!;
    ec2.beforeWrite = (method, ...args) => {
      if (method === 'assignPrefixes') late = true;
      hook(method, ...args);
    };
    const deps = depsFor(ec2, PREFIXES(1));
    Object.defineProperty(deps, 'deadline', { get: () => (late ? Date.now() - 1 : undefined) });

    const report = await ensureNode(deps, NODE);

    expect(report.reason).toContain(`AllocationError: ran out of time in subnet ${A} after 1 prefixes were taken by concurrent launches`);
    expect(ec2.writes('assignPrefixes')).toHaveLength(1);
  });
});

describe('ensureInterfaces: a request that lacks what it needs fails naming the subnet, before anything is created', () => {
  test.each([
    ['a subnet it did not describe', false, true, `subnet ${A} was not described`],
    ['lowest-free: a subnet it did not read', true, false, `subnet ${A} was not read`],
  ])('%s', async (_what, described, read, message) => {
    const ec2 = world();
    const instance = (await ec2.describeInstance(NODE))!;
    const settings = parseSettings({ 'subnets/us-east-1a': A, ...LOWEST_FREE }, PATH);
    const subnets = new Map(described ? (await ec2.describeSubnets([A])).map((s) => [s.subnetId, s]) : []);
    const held = new Map(read ? [[A, (await ec2.scanSubnets({ subnets: [{ subnetId: A, block: parseCidr('10.0.1.0/24') }] })).held.get(A)!]] : []);
    const plans = planInterfaces(instance, [A], [], settings.sourceDestCheck);

    await expect(ensureInterfaces(depsFor(ec2), { instance, plans, subnets, known: [], strays: [], settings, held })).rejects.toMatchObject({ message: message });
    expect(ec2.writes('createInterface')).toEqual([]);
  });
});
