/**
 * The launch handler end to end against the emulator: moto for EC2 and SSM, through the fidelity
 * proxy for what moto lacks (lifecycle completion, in-use address and occupied device index
 * rejections). Each test starts from a clean emulator and uses the events/ fixtures.
 */
import { handler } from '../../functions/lifecycle/handler';
import { control, freshVpcEachTest, resetEmulator } from '../support/context';
import {
  CONFIG_PATH,
  createOrphan,
  createVpc,
  eventFor,
  launchNode,
  multusInterfaces,
  ourInterfaces,
  putSetting,
  putSettings,
  reserveCidr,
} from '../support/world';

const world = freshVpcEachTest(['us-east-1a', 'us-east-1b']);
const { clients } = world;

beforeEach(() => {
  process.env.POWERTOOLS_PARAMETERS_MAX_AGE = '60';
});

async function completionsFor(instanceId: string) {
  return (await control().completions()).filter((c) => c.instanceId === instanceId);
}

function tagsOf(eni: { TagSet?: { Key?: string; Value?: string }[] }) {
  return Object.fromEntries((eni.TagSet ?? []).map((t) => [t.Key, t.Value]));
}

describe('launch of an opted-in node', () => {
  test('attaches one ENI per multus subnet of its AZ, in order, tagged, and completes CONTINUE', async () => {
    await putSettings(clients, world.layout);
    const az = world.layout.azs[1];
    const instanceId = await launchNode(clients, az.nodeSubnet);

    const result = await handler(eventFor('launch.json', instanceId));

    expect(result).toMatchObject({ outcome: 'attached', lifecycleResult: 'CONTINUE', instanceId, availabilityZone: 'us-east-1b' });
    const enis = await multusInterfaces(clients, instanceId);
    expect(enis.map((e) => [e.Attachment?.DeviceIndex, e.SubnetId])).toEqual([
      [1, az.multusSubnets[0]],
      [2, az.multusSubnets[1]],
    ]);
    expect(result.interfaces.map((i) => i.networkInterfaceId)).toEqual(enis.map((e) => e.NetworkInterfaceId));
    expect(result.interfaces.map((i) => i.privateIpAddress)).toEqual(enis.map((e) => e.PrivateIpAddress));
    for (const [i, eni] of enis.entries()) {
      expect(tagsOf(eni)).toEqual({
        'node.k8s.amazonaws.com/no_manage': 'true',
        'eks-multus-eni/instance-id': instanceId,
        'eks-multus-eni/device-index': String(i + 1),
      });
      expect(eni.SourceDestCheck).toBe(false);
    }
    expect(await completionsFor(instanceId)).toEqual([
      expect.objectContaining({ result: 'CONTINUE', accepted: true, lifecycleHookName: 'eks-multus-eni-launch', autoScalingGroupName: 'eks-multus-ng-1ac9f0a2' }),
    ]);
  });

  test('interface-tags, security-groups and source-dest-check settings are applied', async () => {
    await putSettings(clients, world.layout, { 'interface-tags': 'cnf=upf, team=core=5g', 'source-dest-check': 'true' });
    await putSetting(clients, 'security-groups', world.layout.securityGroupId, 'StringList');
    const instanceId = await launchNode(clients, world.layout.azs[0].nodeSubnet);

    await handler(eventFor('launch.json', instanceId));

    const enis = await multusInterfaces(clients, instanceId);
    expect(enis).toHaveLength(2);
    for (const eni of enis) {
      expect(tagsOf(eni)).toMatchObject({ cnf: 'upf', team: 'core=5g' });
      expect(eni.Groups?.map((g) => g.GroupId)).toEqual([world.layout.securityGroupId]);
      expect(eni.SourceDestCheck).toBe(true);
    }
  });

  test('lowest-free mode takes the lowest free addresses, skipping AWS-reserved ones and CIDR reservations', async () => {
    await putSettings(clients, world.layout, { 'use-ips-from-start-of-subnet': 'true' });
    const az = world.layout.azs[0];
    await reserveCidr(clients, az.multusSubnets[1], '10.0.2.0/29'); // .0-.7 reserved in the second
    const first = await launchNode(clients, az.nodeSubnet);
    const second = await launchNode(clients, az.nodeSubnet);

    const a = await handler(eventFor('launch.json', first));
    const b = await handler(eventFor('launch.json', second));

    expect(a.interfaces.map((i) => i.privateIpAddress)).toEqual(['10.0.1.4', '10.0.2.8']);
    expect(b.interfaces.map((i) => i.privateIpAddress)).toEqual(['10.0.1.5', '10.0.2.9']);
  });

  test('any number of AZs: three AZs, each node gets the subnets of its own AZ', async () => {
    await resetEmulator();
    world.layout = await createVpc(clients, ['us-east-1a', 'us-east-1b', 'us-east-1c'], 3);
    await putSettings(clients, world.layout);
    const nodes = await Promise.all(world.layout.azs.map((az) => launchNode(clients, az.nodeSubnet)));

    const results = await Promise.all(nodes.map((id) => handler(eventFor('launch.json', id))));

    for (const [i, az] of world.layout.azs.entries()) {
      expect(results[i]).toMatchObject({ outcome: 'attached', availabilityZone: az.az });
      const enis = await multusInterfaces(clients, nodes[i]);
      expect(enis.map((e) => e.SubnetId)).toEqual(az.multusSubnets);
      expect(enis.map((e) => e.Attachment?.DeviceIndex)).toEqual([1, 2, 3]);
    }
  });
});

describe('nodes that get no multus ENI', () => {
  test('a node without the opt-in tag is skipped with CONTINUE', async () => {
    await putSettings(clients, world.layout);
    const instanceId = await launchNode(clients, world.layout.azs[0].nodeSubnet, { optIn: false });

    const result = await handler(eventFor('launch.json', instanceId));

    expect(result).toMatchObject({ outcome: 'skipped', lifecycleResult: 'CONTINUE', interfaces: [] });
    expect(result.reason).toContain('multus-ng');
    expect(await ourInterfaces(clients)).toHaveLength(0);
    expect(await completionsFor(instanceId)).toEqual([expect.objectContaining({ result: 'CONTINUE', accepted: true })]);
  });

  test('a node in an AZ without subnets is skipped with CONTINUE, naming the missing parameter', async () => {
    await putSetting(clients, `subnets/${world.layout.azs[0].az}`, world.layout.azs[0].multusSubnets.join(','), 'StringList');
    const instanceId = await launchNode(clients, world.layout.azs[1].nodeSubnet);

    const result = await handler(eventFor('launch.json', instanceId));

    expect(result).toMatchObject({ outcome: 'skipped', lifecycleResult: 'CONTINUE' });
    expect(result.reason).toContain(`${CONFIG_PATH}/subnets/us-east-1b`);
    expect(await ourInterfaces(clients)).toHaveLength(0);
    expect(await completionsFor(instanceId)).toEqual([expect.objectContaining({ result: 'CONTINUE' })]);
  });
});

describe('idempotency', () => {
  test('the same event delivered again creates nothing new and leaves the node as it was', async () => {
    await putSettings(clients, world.layout, { 'use-ips-from-start-of-subnet': 'true' });
    const instanceId = await launchNode(clients, world.layout.azs[0].nodeSubnet);
    const event = eventFor('launch.json', instanceId);

    const first = await handler(event);
    const before = await multusInterfaces(clients, instanceId);
    const second = await handler(event);
    const after = await multusInterfaces(clients, instanceId);

    expect(second).toMatchObject({ outcome: 'attached', lifecycleResult: 'CONTINUE', completion: 'already-complete' });
    expect(second.interfaces).toEqual(first.interfaces);
    expect(after.map((e) => [e.NetworkInterfaceId, e.PrivateIpAddress, e.Attachment?.DeviceIndex])).toEqual(
      before.map((e) => [e.NetworkInterfaceId, e.PrivateIpAddress, e.Attachment?.DeviceIndex]),
    );
    expect(await ourInterfaces(clients)).toHaveLength(2);
    const completions = await completionsFor(instanceId);
    expect(completions.filter((c) => c.accepted)).toHaveLength(1);
  });

  test('an unattached ENI of ours left by a crashed delivery is adopted, not duplicated', async () => {
    await putSettings(clients, world.layout);
    const az = world.layout.azs[0];
    const instanceId = await launchNode(clients, az.nodeSubnet);
    const orphan = await createOrphan(clients, az.multusSubnets[0], instanceId, 1);

    const result = await handler(eventFor('launch.json', instanceId));

    expect(result.outcome).toBe('attached');
    expect(result.interfaces[0].networkInterfaceId).toBe(orphan);
    expect(await ourInterfaces(clients)).toHaveLength(2);
  });
});

describe('settings changes without a redeploy', () => {
  test('an SSM overwrite is picked up once the cache age has passed', async () => {
    process.env.POWERTOOLS_PARAMETERS_MAX_AGE = '1';
    const az = world.layout.azs[0];
    await putSettings(clients, world.layout);
    const a = await launchNode(clients, az.nodeSubnet);
    const b = await launchNode(clients, az.nodeSubnet);
    const c = await launchNode(clients, az.nodeSubnet);

    await handler(eventFor('launch.json', a));
    await putSetting(clients, `subnets/${az.az}`, [...az.multusSubnets].reverse().join(','), 'StringList');
    await handler(eventFor('launch.json', b)); // within the cache age: still the old order
    await new Promise((r) => setTimeout(r, 1100));
    await handler(eventFor('launch.json', c));

    const subnetsOf = async (id: string) => (await multusInterfaces(clients, id)).map((e) => e.SubnetId);
    expect(await subnetsOf(a)).toEqual(az.multusSubnets);
    expect(await subnetsOf(b)).toEqual(az.multusSubnets);
    expect(await subnetsOf(c)).toEqual([...az.multusSubnets].reverse());
  });
});

/** The message Auto Scaling sends to a hook's notification target when the hook is put. */
const TEST_NOTIFICATION = {
  'detail-type': 'EC2 Instance-launch Lifecycle Action',
  source: 'aws.autoscaling',
  detail: { AccountId: '123456789012', AutoScalingGroupName: 'eks-multus-ng-1ac9f0a2', Event: 'autoscaling:TEST_NOTIFICATION', Service: 'AWS Auto Scaling' },
};

describe('events that are not ours or are malformed', () => {
  test('a test notification is ignored: no error, nothing done', async () => {
    // Auto Scaling sends it to a hook's SNS or SQS target, never through EventBridge: not in events/.
    const result = await handler(TEST_NOTIFICATION);
    expect(result).toMatchObject({ outcome: 'ignored', lifecycleResult: null });
    expect(await control().completions()).toEqual([]);
  });

  test('another detail-type is ignored', async () => {
    const result = await handler({ 'detail-type': 'EC2 Instance Launch Successful', source: 'aws.autoscaling', detail: {} });
    expect(result).toMatchObject({ outcome: 'ignored' });
  });

  test('a launch event without an instance id throws naming the field, and nothing is created', async () => {
    await putSettings(clients, world.layout);
    const { readFileSync } = await import('node:fs');
    const event = JSON.parse(readFileSync('events/malformed.json', 'utf8'));

    await expect(handler(event)).rejects.toThrow('detail.EC2InstanceId is missing');
    expect(await ourInterfaces(clients)).toHaveLength(0);
    expect(await control().completions()).toEqual([]);
  });

  test.each(['AutoScalingGroupName', 'LifecycleHookName', 'LifecycleActionToken'])('a launch event without %s throws naming it', async (field) => {
    const event = eventFor('launch.json', 'i-0123456789abcdef0');
    delete event.detail[field];
    await expect(handler(event)).rejects.toThrow(`detail.${field}`);
  });
});
