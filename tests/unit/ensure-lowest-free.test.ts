/**
 * Lowest-free allocation among concurrent launches (use-ips-from-start-of-subnet) over the
 * in-memory EC2 port: what a lost race costs (address windows, whole re-reads, as the launch's log
 * line reports them), which launching peers count for the rank, and the container's subnet maps
 * reused by a warm launch until their cache age (an injected clock).
 */
import { AddressSet, ensureNode, parseCidr, silentLog, SubnetMaps, DEFAULT_MAX_ADDRESS_RACES, type NodeDeps } from 'multus-core';
import { eni, FakeEc2, type FakeEc2Data, type FakeInstance } from '../support/fake-ec2';

const PATH = '/eks-multus-eni/test';
const NODE = 'i-0aaaaaaaaaaaaaaa1';
/** Sorts before NODE: ranks first among the waiting nodes. */
const PEER = 'i-00000000000000001';
const VPC = 'vpc-11111111';
const A = 'subnet-0000000000000000a';
const B = 'subnet-0000000000000000b';
const LOWEST_FREE = { 'use-ips-from-start-of-subnet': 'true', 'subnets/us-east-1a': A };

const ownedBy = (instanceId: string, deviceIndex: number) => ({
  'node.k8s.amazonaws.com/no_manage': 'true',
  'eks-multus-eni/instance-id': instanceId,
  'eks-multus-eni/device-index': String(deviceIndex),
});
const node = (instanceId = NODE): FakeInstance => ({ instanceId, availabilityZone: 'us-east-1a', vpcId: VPC, tags: { 'multus-ng': 'true' } });
const peer = (instanceId = PEER, extra: Partial<FakeInstance> = {}): FakeInstance => ({ instanceId, availabilityZone: 'us-east-1a', tags: { 'multus-ng': 'true' }, launchTime: new Date(), ...extra });

function world(data: FakeEc2Data = {}): FakeEc2 {
  return new FakeEc2({
    subnets: [
      { subnetId: A, vpcId: VPC, availabilityZone: 'us-east-1a', cidrBlock: '10.0.1.0/24', availableIpAddressCount: 251 },
      { subnetId: B, vpcId: VPC, availabilityZone: 'us-east-1a', cidrBlock: '10.0.2.0/24', availableIpAddressCount: 251 },
    ],
    limits: { 'm5.xlarge': 4 },
    instances: [node()],
    ...data,
  });
}

/** What the launch's log line says it cost: address windows read, subnets read whole again. */
interface Cost {
  addressWindows?: number;
  wholeRereads?: number;
  subnetsRead?: string;
}

function depsFor(ec2: FakeEc2, settings: Record<string, string> = {}, extra: Partial<NodeDeps> = {}): NodeDeps & { cost: Cost } {
  const cost: Cost = {};
  const log = {
    ...silentLog,
    info: (message: string, fields?: Record<string, unknown>) => {
      if (message === 'multus interfaces in place') Object.assign(cost, { addressWindows: fields?.addressWindows, wholeRereads: fields?.wholeRereads, subnetsRead: fields?.subnetsRead });
    },
  };
  return {
    ec2,
    log,
    release: { sleep: async () => {}, detachTimeoutMs: 1000 },
    maxAddressRaces: DEFAULT_MAX_ADDRESS_RACES,
    nodeTagKey: 'multus-ng',
    configPath: PATH,
    settings: { read: async () => ({ ...LOWEST_FREE, ...settings }) },
    cost,
    ...extra,
  };
}

const creates = (ec2: FakeEc2) => ec2.writes('createInterface').map(([, , address]) => address);
const foreign = (address: string) => eni(`eni-other-${address}`, A, { addresses: [address] });

describe('a lost race: the address window, and the subnet read whole again', () => {
  test('an InUse that a window explains (the address shows a holder) costs one window and no whole read', async () => {
    const ec2 = world();
    ec2.beforeWrite = (method, _subnet, address) => {
      if (method !== 'createInterface') return;
      ec2.beforeWrite = undefined;
      ec2.interfaces.push(foreign(String(address)));
    };
    const deps = depsFor(ec2);

    const report = await ensureNode(deps, NODE);

    expect(report).toMatchObject({ outcome: 'attached', racesLost: 1 });
    expect(creates(ec2)).toEqual(['10.0.1.4', '10.0.1.5']);
    expect(deps.cost).toEqual({ subnetsRead: 'whole', addressWindows: 1, wholeRereads: 0 });
  });

  test('an InUse no window explains (a prefix delegated since the read) reads the subnet whole once and moves past the whole prefix; the peer holding it counts as served', async () => {
    const held = eni('eni-held', A, { addresses: Array.from({ length: 12 }, (_, i) => `10.0.1.${4 + i}`) });
    const ec2 = world({ interfaces: [held], instances: [node(), peer()] });
    ec2.beforeWrite = (method) => {
      if (method !== 'createInterface') return;
      ec2.beforeWrite = undefined;
      ec2.interfaces.push(eni('eni-peer', A, { tags: ownedBy(PEER, 1), prefixes: ['10.0.1.16/28'] }));
    };
    const deps = depsFor(ec2);

    const report = await ensureNode(deps, NODE);

    // The peer is served (its ENI was seen in the re-read): this node ranks first, the lowest free.
    expect(report).toMatchObject({ outcome: 'attached', racesLost: 1 });
    expect(creates(ec2)).toEqual(['10.0.1.16', '10.0.1.32']);
    expect(deps.cost).toEqual({ subnetsRead: 'whole', addressWindows: 1, wholeRereads: 1 });
  });

  test('the window spans twice the nodes still waiting and a few more: the holders it shows are skipped without a create', async () => {
    // Six peers launching (all sorting after NODE, so NODE ranks first): a window of 2 * 7 + 4 = 18
    // candidates. Other ENIs took .4 to .30 meanwhile.
    const peers = Array.from({ length: 6 }, (_, i) => peer(`i-0bbbbbbbbbbbbbb0${i}`));
    const ec2 = world({ instances: [node(), ...peers] });
    ec2.beforeWrite = (method) => {
      if (method !== 'createInterface') return;
      ec2.beforeWrite = undefined;
      for (let a = 4; a <= 30; a++) ec2.interfaces.push(foreign(`10.0.1.${a}`));
    };
    const deps = depsFor(ec2);

    const report = await ensureNode(deps, NODE);

    // .4 refused: the window shows .5-.22 held; .23 refused: the next window shows up to .30.
    expect(creates(ec2)).toEqual(['10.0.1.4', '10.0.1.23', '10.0.1.31']);
    expect(report).toMatchObject({ outcome: 'attached', racesLost: 2 });
    expect(deps.cost).toMatchObject({ addressWindows: 2, wholeRereads: 0 });
  });

  test('a prefix refusal an address window explains costs no whole read; one it does not is read whole once', async () => {
    const cases: [{ addresses?: string[]; prefixes?: string[] }, number][] = [[{ addresses: ['10.0.1.17'] }, 0], [{ prefixes: ['10.0.1.16/28'] }, 1]];
    for (const [racer, rereads] of cases) {
      const ec2 = world();
      ec2.beforeWrite = (method) => {
        if (method !== 'assignPrefixes') return;
        ec2.beforeWrite = undefined;
        ec2.interfaces.push(eni('eni-racer', A, { tags: ownedBy('i-0bbbbbbbbbbbbbbb2', 1), ...racer }));
      };
      const deps = depsFor(ec2, { 'ipv4-prefixes-per-interface': '1' });

      const report = await ensureNode(deps, NODE);

      expect(report).toMatchObject({ outcome: 'attached', racesLost: 1 });
      expect(report.interfaces[0].ipv4Prefixes).toEqual(['10.0.1.32/28']);
      expect(deps.cost).toMatchObject({ addressWindows: 1, wholeRereads: rereads });
    }
  });

  test('every address lost to concurrent launches: the launch fails naming the subnet as full', async () => {
    const small = { subnetId: A, vpcId: VPC, availabilityZone: 'us-east-1a', cidrBlock: '10.0.1.0/29', availableIpAddressCount: 3 };
    const ec2 = world({ subnets: [small] });
    ec2.beforeWrite = (method, _subnet, address) => {
      if (method === 'createInterface') ec2.interfaces.push(foreign(String(address)));
    };

    const report = await ensureNode(depsFor(ec2), NODE);

    expect(report.reason).toBe(`EnsureError: AllocationError: subnet ${A} (10.0.1.0/29) has no free IPv4 address left`);
    expect(creates(ec2)).toEqual(['10.0.1.4', '10.0.1.5', '10.0.1.6']);
  });
});

describe('the launching peers that count for the rank', () => {
  /** The first create loses its address to an ENI a window shows (so no whole read marks peers served). */
  const loseFirst = (ec2: FakeEc2) => {
    ec2.beforeWrite = (method, _subnet, address) => {
      if (method !== 'createInterface') return;
      ec2.beforeWrite = undefined;
      ec2.interfaces.push(foreign(String(address)));
    };
  };
  const address = async (ec2: FakeEc2) => (await ensureNode(depsFor(ec2), NODE)).interfaces[0]?.privateIpAddress;

  test('a peer whose ENI a window shows holding the lost address is served: it no longer counts', async () => {
    const ec2 = world({ instances: [node(), peer()] });
    ec2.beforeWrite = (method, _subnet, address) => {
      if (method !== 'createInterface') return;
      ec2.beforeWrite = undefined;
      ec2.interfaces.push(eni('eni-peer', A, { tags: ownedBy(PEER, 1), addresses: [String(address)] }));
    };
    expect(await address(ec2)).toBe('10.0.1.5');
  });

  test('a peer attached in the subnet already does not count, however far its address; one attached only elsewhere does', async () => {
    const inA = world({ instances: [node(), peer()], interfaces: [eni('eni-peer', A, { tags: ownedBy(PEER, 1), attachedTo: PEER, addresses: ['10.0.1.200'] })] });
    loseFirst(inA);
    expect(await address(inA)).toBe('10.0.1.5');

    const inB = world({ instances: [node(), peer()], interfaces: [eni('eni-peer', B, { tags: ownedBy(PEER, 1), attachedTo: PEER, addresses: ['10.0.2.200'] })] });
    loseFirst(inB);
    expect(await address(inB)).toBe('10.0.1.6');
  });

  test('a peer still pending counts', async () => {
    const ec2 = world({ instances: [node(), peer(PEER, { state: 'pending' })] });
    loseFirst(ec2);
    expect(await address(ec2)).toBe('10.0.1.6');
  });

  test('a peer launched exactly 15 minutes ago still counts', async () => {
    const now = Date.now();
    const clock = jest.spyOn(Date, 'now').mockReturnValue(now);
    try {
      const ec2 = world({ instances: [node(), peer(PEER, { launchTime: new Date(now - 15 * 60_000) })] });
      loseFirst(ec2);
      expect(await address(ec2)).toBe('10.0.1.6');
    } finally {
      clock.mockRestore();
    }
  });

  test.each([
    ['holds all its prefixes (served)', ['10.0.1.128/28'], ['10.0.1.32/28']],
    ['holds none yet (still waiting: its blocks are skipped)', [], ['10.0.1.48/28']],
  ])('after a lost prefix race, a peer whose ENI the window shows %s', async (_what, prefixes, expected) => {
    const ec2 = world({ instances: [node(), peer()] });
    ec2.beforeWrite = (method) => {
      if (method !== 'assignPrefixes') return;
      ec2.beforeWrite = undefined;
      ec2.interfaces.push(eni('eni-peer', A, { tags: ownedBy(PEER, 1), addresses: ['10.0.1.17'], prefixes }));
    };

    const report = await ensureNode(depsFor(ec2, { 'ipv4-prefixes-per-interface': '1' }), NODE);

    expect(report.interfaces[0].ipv4Prefixes).toEqual(expected);
  });
});

describe('lowest-free prefixes: odd answers and the rank fallback', () => {
  test('a rank beyond the free blocks falls back to the lowest ones, prefix reservations still first', async () => {
    // A /25 with the prefix reservation .64/27: .64 is lost, five nodes rank before this one, and
    // only five blocks are left: the fallback takes the reserved .80 before the lower .16.
    const subnet = { subnetId: A, vpcId: VPC, availabilityZone: 'us-east-1a', cidrBlock: '10.0.1.0/25', availableIpAddressCount: 123 };
    const before = ['i-00000000000000001', 'i-00000000000000002', 'i-00000000000000003', 'i-00000000000000004', 'i-00000000000000005'].map((id) => peer(id));
    const ec2 = world({ subnets: [subnet], instances: [node(), ...before], reservations: { [A]: ['prefix:10.0.1.64/27'] } });
    ec2.beforeWrite = (method, _id, prefixes) => {
      if (method !== 'assignPrefixes') return;
      ec2.beforeWrite = undefined;
      ec2.interfaces.push(eni('eni-racer', A, { prefixes: prefixes as string[] }));
    };

    const report = await ensureNode(depsFor(ec2, { 'ipv4-prefixes-per-interface': '1' }), NODE);

    expect(ec2.writes('assignPrefixes').map(([, , p]) => p)).toEqual([['10.0.1.64/28'], ['10.0.1.80/28']]);
    expect(report.interfaces[0].ipv4Prefixes).toEqual(['10.0.1.80/28']);
  });

  test('an ENI the whole re-read does not list yet (just created): a refusal nobody explains is still no race', async () => {
    const ec2 = world();
    const scan = ec2.scanSubnets.bind(ec2);
    ec2.scanSubnets = async (request) => {
      const result = await scan(request);
      return { ...result, kept: result.kept.filter((e) => e.attachment !== undefined) };
    };
    ec2.failures.set('assignPrefixes:eni-fake0001', ['InvalidParameterValue']);

    const report = await ensureNode(depsFor(ec2, { 'ipv4-prefixes-per-interface': '1' }), NODE);

    expect(report.reason).toBe('EnsureError: InvalidParameterValue: assignPrefixes failed for eni-fake0001');
    expect(ec2.interfaces).toEqual([]);
  });
});

describe('the container\'s subnet maps: a warm launch reuses them until their cache age', () => {
  const NODE2 = 'i-0aaaaaaaaaaaaaaa2';
  const NODE3 = 'i-0aaaaaaaaaaaaaaa3';

  test('a warm launch takes the map (and what earlier launches took), not a whole read; after the cache age it reads whole again', async () => {
    let now = 1_700_000_000_000;
    const maps = new SubnetMaps(() => 60_000, () => now);
    const ec2 = world({ instances: [node(), node(NODE2), node(NODE3)], interfaces: [foreign('10.0.1.4')] });
    const launch = async (instanceId: string) => {
      const deps = depsFor(ec2, {}, { maps });
      const report = await ensureNode(deps, instanceId);
      return { address: report.interfaces[0]?.privateIpAddress, racesLost: report.racesLost, read: deps.cost.subnetsRead };
    };

    expect(await launch(NODE)).toEqual({ address: '10.0.1.5', racesLost: 0, read: 'whole' });
    // .4 is freed: the map does not know until its next whole read.
    ec2.interfaces = ec2.interfaces.filter((e) => e.networkInterfaceId !== 'eni-other-10.0.1.4');
    now += 59_999;
    expect(await launch(NODE2)).toEqual({ address: '10.0.1.6', racesLost: 0, read: 'map' });
    now += 1;
    expect(await launch(NODE3)).toEqual({ address: '10.0.1.4', racesLost: 0, read: 'whole' });
  });

  test('a map of only some of the subnets: all of them are read whole', async () => {
    const maps = new SubnetMaps(() => 60_000);
    maps.put(A, new AddressSet(parseCidr('10.0.1.0/24')));
    const ec2 = world({ interfaces: [foreign('10.0.1.4')] });
    const deps = depsFor(ec2, { 'subnets/us-east-1a': `${A},${B}` }, { maps });

    const report = await ensureNode(deps, NODE);

    expect(report.interfaces.map((i) => i.privateIpAddress)).toEqual(['10.0.1.5', '10.0.2.4']);
    expect(deps.cost.subnetsRead).toBe('whole');
  });
});
