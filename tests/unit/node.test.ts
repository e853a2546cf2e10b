/**
 * Bringing one node to the settings (ensureNode, eni/node.ts) over the in-memory EC2 port: what
 * the report says when the instance is not found, the waits before planning, dry-run actions,
 * prune candidates, how a refused security group is explained, and the counts it records.
 */
import { ensureNode, interfaceGroups, METRICS, parseSettings, unwantedInterfaces, type InstanceView, type MetricDefinition } from 'multus-core';
import { eni } from '../support/fake-ec2';
import { A, B, depsFor, NODE, OLD, ownedBy, PATH, VPC, world } from '../support/fake-node';

describe('an instance EC2 does not show', () => {
  test.each([
    ['the event\'s region differs from the clients\'', { region: 'us-east-1' }, 'us-west-2', ` in us-east-1: the event comes from us-west-2, but the function talks to us-east-1 (AWS_REGION)`],
    ['the same region', { region: 'us-east-1' }, 'us-east-1', ' in us-east-1 (EC2 does not know it)'],
    ['no event region', { region: 'us-east-1' }, undefined, ' in us-east-1 (EC2 does not know it)'],
    ['no client region', {}, 'us-west-2', ' (EC2 does not know it)'],
  ])('with %s: the reason says where it was looked for', async (_what, extra, eventRegion, where) => {
    const report = await ensureNode(depsFor(world({ instances: [] }), {}, extra), NODE, { eventRegion });

    expect(report.reason).toBe(`NodeConfigurationError: instance ${NODE} does not exist${where}`);
  });

  test('is described again until the release bound is reached, no further', async () => {
    const waits: number[] = [];

    await ensureNode(depsFor(world({ instances: [] }), {}, { release: { sleep: async (ms) => void waits.push(ms), detachTimeoutMs: 1750 } }), NODE);

    expect(waits).toEqual([250, 500, 1000]);
  });
});

test('an ENI of ours detaching at the last multus device index is waited for', async () => {
  const leaving = eni('eni-leaving', B, { tags: ownedBy(NODE, 2), attachedTo: NODE, deviceIndex: 2, attachmentStatus: 'detaching', status: 'in-use' });
  const ec2 = world({ interfaces: [leaving] });
  const waits: number[] = [];
  const sleep = async (ms: number) => {
    waits.push(ms);
    ec2.interfaces = [];
  };

  const report = await ensureNode(depsFor(ec2, {}, { release: { sleep, detachTimeoutMs: 60_000 } }), NODE);

  expect(report.outcome).toBe('attached');
  expect(waits).toEqual([250]);
});

describe('dry run', () => {
  test('an ENI in place with nothing to fix is planned in-place, one with drift as a fix', async () => {
    const fine = eni('eni-fine', A, { tags: ownedBy(NODE, 1), attachedTo: NODE, deviceIndex: 1 });
    const drifted = eni('eni-drifted', B, { tags: ownedBy(NODE, 2), attachedTo: NODE, deviceIndex: 2, deleteOnTermination: false });
    const ec2 = world({ interfaces: [fine, drifted] });

    const report = await ensureNode(depsFor(ec2), NODE, { dryRun: true });

    expect(report.actions.map((a) => `${a.deviceIndex} ${a.action}`)).toEqual(['1 in-place', '2 fix']);
  });

  test('with prune, every stale ENI is planned for removal and its index for a new ENI', async () => {
    const stale = (id: string, deviceIndex: number) => eni(id, OLD, { tags: ownedBy(NODE, deviceIndex), attachedTo: NODE, deviceIndex, addresses: [`10.0.3.${3 + deviceIndex}`] });
    const ec2 = world({ interfaces: [stale('eni-old-1', 1), stale('eni-old-2', 2)] });

    const report = await ensureNode(depsFor(ec2), NODE, { dryRun: true, prune: true });

    expect(report.actions.map((a) => `${a.deviceIndex} ${a.action} ${a.networkInterfaceId}`)).toEqual(['1 remove eni-old-1', '2 remove eni-old-2', '1 create undefined', '2 create undefined']);
    expect(ec2.calls).toEqual([]);
  });
});

describe('unwantedInterfaces (pure)', () => {
  const instance = {
    instanceId: NODE,
    instanceType: 'm5.xlarge',
    availabilityZone: 'us-east-1a',
    vpcId: VPC,
    state: 'running',
    tags: {},
    interfaces: [
      { networkInterfaceId: 'eni-primary', subnetId: OLD, privateIpAddress: '10.0.3.10', sourceDestCheck: true, attachment: { attachmentId: 'att-0', deviceIndex: 0, deleteOnTermination: true, status: 'attached', instanceId: NODE } },
      { networkInterfaceId: 'eni-foreign', subnetId: OLD, privateIpAddress: '10.0.3.11', sourceDestCheck: true, attachment: { attachmentId: 'att-1', deviceIndex: 1, deleteOnTermination: true, status: 'attached', instanceId: NODE } },
      { networkInterfaceId: 'eni-stale', subnetId: OLD, privateIpAddress: '10.0.3.12', sourceDestCheck: true, attachment: { attachmentId: 'att-2', deviceIndex: 2, deleteOnTermination: true, status: 'attached', instanceId: NODE } },
    ],
  };

  test('only ENIs of ours at a multus index in the wrong subnet: not the primary (even tagged ours), not an ENI of someone else', () => {
    const known = [
      eni('eni-primary', OLD, { tags: ownedBy(NODE, 0), attachedTo: NODE, deviceIndex: 0 }),
      eni('eni-foreign', OLD, { attachedTo: NODE, deviceIndex: 1 }),
      eni('eni-stale', OLD, { tags: ownedBy(NODE, 2), attachedTo: NODE, deviceIndex: 2 }),
    ];

    expect(unwantedInterfaces(instance, [A, B], known).map((e) => e.networkInterfaceId)).toEqual(['eni-stale']);
  });
});

describe('a security group EC2 refused', () => {
  const SG1 = 'sg-0000000000000000a';
  const SG2 = 'sg-0000000000000000b';

  test('every problem of the setting is named, joined, the VPC named as the node\'s; it counts as a settings error', async () => {
    const ec2 = world({ securityGroups: [{ groupId: SG2, vpcId: 'vpc-22222222' }] });
    ec2.failures.set(`createInterface:${A}`, 'InvalidParameter');
    const counted: [string, number][] = [];
    const metrics = { add: (metric: MetricDefinition, value: number) => void counted.push([metric.name, value]) };

    const report = await ensureNode(depsFor(ec2, { 'security-groups': `${SG1},${SG2}` }, { metrics }), NODE);

    expect(report.reason).toBe(
      `NodeConfigurationError: ${PATH}/security-groups: security group ${SG1} does not exist; ${PATH}/security-groups: security group ${SG2} is in vpc-22222222, not in the node's VPC ${VPC} (CreateNetworkInterface refused it: InvalidParameter)`,
    );
    expect(counted).toContainEqual([METRICS.settingsErrors.name, 1]);
  });

  test('when the groups cannot be read, EC2\'s refusal is reported as it came', async () => {
    const ec2 = world();
    ec2.failures.set(`createInterface:${A}`, 'InvalidGroup.NotFound');
    ec2.describeSecurityGroups = async () => {
      throw Object.assign(new Error('denied'), { name: 'UnauthorizedOperation' });
    };

    const report = await ensureNode(depsFor(ec2, { 'security-groups': SG1 }), NODE);

    expect(report.reason).toMatch(/^EnsureError: InvalidGroup\.NotFound: /);
  });
});

describe('security-groups = primary-interface', () => {
  const NODE_GROUPS = ['sg-0000000000000000e', 'sg-0000000000000000f'];
  const node = (primaryGroups?: readonly string[]) => world({ instances: [{ instanceId: NODE, availabilityZone: 'us-east-1a', vpcId: VPC, tags: { 'multus-ng': 'true' }, primaryGroups }] });

  test('every new multus ENI gets the groups of the node\'s primary interface, as the launch described it', async () => {
    const ec2 = node(NODE_GROUPS);

    const report = await ensureNode(depsFor(ec2, { 'security-groups': 'primary-interface' }), NODE);

    expect(report.outcome).toBe('attached');
    expect(report.interfaces.map((i) => ec2.createdGroups.get(i.networkInterfaceId))).toEqual([NODE_GROUPS, NODE_GROUPS]);
  });

  test('the same EC2 writes as with the ids written out; no setting means no groups named (the VPC default)', async () => {
    const keyword = node(NODE_GROUPS);
    const ids = node(NODE_GROUPS);
    const none = node(NODE_GROUPS);

    await ensureNode(depsFor(keyword, { 'security-groups': 'primary-interface' }), NODE);
    await ensureNode(depsFor(ids, { 'security-groups': NODE_GROUPS.join(',') }), NODE);
    await ensureNode(depsFor(none), NODE);

    expect(keyword.calls).toEqual(ids.calls);
    expect([...keyword.createdGroups.values()]).toEqual([...ids.createdGroups.values()]);
    expect([...none.createdGroups.values()]).toEqual([undefined, undefined]);
  });

  test('a group refused by CreateNetworkInterface is reported as EC2 said: the node\'s own groups are not the setting\'s fault', async () => {
    const ec2 = node(NODE_GROUPS);
    ec2.failures.set(`createInterface:${A}`, 'InvalidGroup.NotFound');
    let described = 0;
    ec2.describeSecurityGroups = async () => {
      described++;
      return [];
    };

    const report = await ensureNode(depsFor(ec2, { 'security-groups': 'primary-interface' }), NODE);

    expect(report.reason).toMatch(/^EnsureError: InvalidGroup\.NotFound: /);
    expect(described).toBe(0);
  });

  test('the primary is device index 0 of network card 0, not the first interface of another card (pure)', () => {
    const at = (id: string, card: number, device: number, groups: string[]) => ({
      networkInterfaceId: id,
      subnetId: A,
      privateIpAddress: undefined,
      sourceDestCheck: true,
      groups,
      attachment: { attachmentId: `att-${id}`, deviceIndex: device, networkCardIndex: card, deleteOnTermination: true, status: 'attached', instanceId: NODE },
    });
    const instance: InstanceView = { instanceId: NODE, instanceType: 'p4d.24xlarge', availabilityZone: 'us-east-1a', vpcId: VPC, state: 'running', tags: {}, interfaces: [at('eni-card1', 1, 0, ['sg-efa']), at('eni-card0', 0, 0, NODE_GROUPS)] };
    const settings = (value?: string) => parseSettings({ 'subnets/us-east-1a': A, ...(value ? { 'security-groups': value } : {}) }, PATH);

    expect(interfaceGroups(settings('primary-interface'), instance, PATH)).toEqual(NODE_GROUPS);
    expect(interfaceGroups(settings('sg-0000000000000000a'), instance, PATH)).toEqual(['sg-0000000000000000a']);
    expect(interfaceGroups(settings(), instance, PATH)).toBeUndefined();
    expect(() => interfaceGroups(settings('primary-interface'), { ...instance, interfaces: [at('eni-card1', 1, 0, ['sg-efa'])] }, PATH)).toThrow(
      `${PATH}/security-groups: is primary-interface, but instance ${NODE} shows no primary interface (device index 0)`,
    );
  });

  test('a primary interface that shows no group: failed before anything is created, naming the setting', async () => {
    const ec2 = node(undefined);

    const report = await ensureNode(depsFor(ec2, { 'security-groups': 'primary-interface' }), NODE);

    expect(report).toMatchObject({ outcome: 'failed', errorName: 'NodeConfigurationError' });
    expect(report.reason).toBe(`NodeConfigurationError: ${PATH}/security-groups: is primary-interface, but instance ${NODE} shows no security group on its primary interface eni-primary-${NODE}`);
    expect(ec2.calls).toEqual([]);
  });
});

test('the counts of a launch: ENIs created and adopted', async () => {
  const orphan = eni('eni-orphan', A, { tags: ownedBy(NODE, 1), addresses: ['10.0.1.9'] });
  const ec2 = world({ interfaces: [orphan] });
  const counted = new Map<string, number>();
  const metrics = { add: (metric: MetricDefinition, value: number) => void counted.set(metric.name, (counted.get(metric.name) ?? 0) + value) };

  await ensureNode(depsFor(ec2, {}, { metrics }), NODE);

  expect(counted.get(METRICS.interfacesAdopted.name)).toBe(1);
  expect(counted.get(METRICS.interfacesCreated.name)).toBe(1);
});
