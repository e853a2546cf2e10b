/**
 * Against the emulator, through the fidelity proxy: heartbeats on a slow launch, warm pools, and
 * reconcile of a mixed fleet.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { StopInstancesCommand } from '@aws-sdk/client-ec2';
import { createClients, createLifecycleApp } from 'multus-core';
import { handler, clearCaches } from '../../functions/lifecycle/handler';
import { control, freshVpcEachTest } from '../support/context';
import {
  eventFor,
  launchNode,
  multusInterfaces,
  ourInterfaces,
  putSetting,
  putSettings,
} from '../support/world';

const world = freshVpcEachTest(['us-east-1a']);
const { clients } = world;

const quietLogger = () => new Logger({ serviceName: 'eks-multus-eni', logLevel: 'SILENT' });

describe('terminate', () => {
  test('our ENIs go with the instance when DeleteOnTermination says so, the others are released; a foreign ENI is untouched; a redelivery is a no-op', async () => {
    await putSettings(clients, world.layout);
    const node = await launchNode(clients, world.layout.azs[0].nodeSubnet);
    await handler(eventFor('launch.json', node));
    const [goes, kept] = await multusInterfaces(clients, node);
    // The launch set DeleteOnTermination=true on both (the proxy keeps it, moto would not); one is
    // then turned off by hand, as an operator keeping an ENI would: that one is ours to release.
    const { CreateNetworkInterfaceCommand, DescribeNetworkInterfacesCommand, ModifyNetworkInterfaceAttributeCommand } = await import('@aws-sdk/client-ec2');
    await clients.ec2.send(
      new ModifyNetworkInterfaceAttributeCommand({ NetworkInterfaceId: kept.NetworkInterfaceId, Attachment: { AttachmentId: kept.Attachment!.AttachmentId, DeleteOnTermination: false } }),
    );
    const foreign = (await clients.ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: world.layout.azs[0].multusSubnets[0] }))).NetworkInterface!.NetworkInterfaceId!;
    const event = eventFor('terminate.json', node);

    const result = await handler(event);

    expect(result).toMatchObject({ outcome: 'released', lifecycleResult: 'CONTINUE', completion: 'completed' });
    expect(result.interfaces.map((i) => i.networkInterfaceId)).toEqual([kept.NetworkInterfaceId]);
    // The one that goes with the instance is left attached for EC2 to delete at termination.
    expect((await ourInterfaces(clients)).map((e) => [e.NetworkInterfaceId, e.Attachment?.InstanceId])).toEqual([[goes.NetworkInterfaceId, node]]);
    const left = await clients.ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [foreign] }));
    expect(left.NetworkInterfaces?.[0]?.NetworkInterfaceId).toBe(foreign);

    const again = await handler(event);
    expect(again).toMatchObject({ outcome: 'released', interfaces: [], completion: 'already-complete' });
    expect((await control().completions()).filter((c) => c.accepted && c.lifecycleHookName === 'eks-multus-eni-terminate')).toHaveLength(1);
  });
});

describe('heartbeats', () => {
  test('a slow launch sends RecordLifecycleActionHeartbeat before completing', async () => {
    await putSettings(clients, world.layout);
    const instanceId = await launchNode(clients, world.layout.azs[0].nodeSubnet);
    // Each create takes 700 ms; the hook is unknown to the emulator, so the shortest timeout (30 s)
    // is assumed, and the test beats every 1% of it (300 ms) after 100 ms.
    await control().inject({ service: 'ec2', action: 'CreateNetworkInterface', code: 'slow', delayMs: 700, count: 2 });
    const app = createLifecycleApp({ clients: createClients(), logger: quietLogger(), heartbeat: { checkAfterMs: 100, fraction: 0.01 } });

    const result = await app.handle(eventFor('launch.json', instanceId));

    expect(result.outcome).toBe('attached');
    const beats = (await control().heartbeats()).filter((h) => h.instanceId === instanceId);
    const [completion] = (await control().completions()).filter((c) => c.instanceId === instanceId);
    expect(beats.length).toBeGreaterThanOrEqual(2);
    expect(beats.every((b) => b.lifecycleHookName === 'eks-multus-eni-launch' && b.at <= completion.at)).toBe(true);
  });

  test('a fast launch sends no heartbeat', async () => {
    await putSettings(clients, world.layout);
    const instanceId = await launchNode(clients, world.layout.azs[0].nodeSubnet);
    await handler(eventFor('launch.json', instanceId));
    expect(await control().heartbeats()).toEqual([]);
    expect((await control().stats()).calls['autoscaling:DescribeLifecycleHooks']).toBeUndefined();
  });
});

describe('warm pools', () => {
  test('a stopped warm-pool instance gets its ENIs in the pool; entering service finds them and only completes', async () => {
    await putSettings(clients, world.layout);
    const instanceId = await launchNode(clients, world.layout.azs[0].nodeSubnet);
    await clients.ec2.send(new StopInstancesCommand({ InstanceIds: [instanceId] }));

    const intoPool = await handler(eventFor('warm-pool-launch.json', instanceId));
    expect(intoPool).toMatchObject({ outcome: 'attached', lifecycleResult: 'CONTINUE' });
    const before = await control().stats();

    const intoService = await handler(eventFor('warm-pool-launch.json', instanceId, { Origin: 'WarmPool', Destination: 'AutoScalingGroup' }));

    expect(intoService).toMatchObject({ outcome: 'attached', lifecycleResult: 'CONTINUE', completion: 'completed' });
    expect(intoService.interfaces).toEqual(intoPool.interfaces);
    const after = await control().stats();
    expect(after.calls['ec2:CreateNetworkInterface']).toBe(before.calls['ec2:CreateNetworkInterface']);
    expect(after.calls['ec2:AttachNetworkInterface']).toBe(before.calls['ec2:AttachNetworkInterface']);
    expect(await ourInterfaces(clients)).toHaveLength(2);
    expect((await control().completions()).filter((c) => c.accepted)).toHaveLength(2);
  });
});

describe('reconcile', () => {
  async function mixedFleet() {
    await putSettings(clients, world.layout);
    const complete = await launchNode(clients, world.layout.azs[0].nodeSubnet);
    const partial = await launchNode(clients, world.layout.azs[0].nodeSubnet);
    const bare = await launchNode(clients, world.layout.azs[0].nodeSubnet);
    const untagged = await launchNode(clients, world.layout.azs[0].nodeSubnet, { optIn: false });
    await handler(eventFor('launch.json', complete));
    // `partial` launched when the AZ had only its first subnet.
    await putSetting(clients, `subnets/${world.layout.azs[0].az}`, world.layout.azs[0].multusSubnets[0], 'StringList');
    clearCaches();
    await handler(eventFor('launch.json', partial));
    await putSettings(clients, world.layout);
    clearCaches();
    return { complete, partial, bare, untagged };
  }

  const reconcileEvent = (detail: Record<string, unknown>) => ({ source: 'eks-multus-eni', 'detail-type': 'Reconcile Multus Interfaces', detail });

  test('dry-run reports what it would do and changes nothing', async () => {
    const { complete, partial, bare, untagged } = await mixedFleet();
    // `partial`'s ENI drifted: DeleteOnTermination turned off by hand (the launch set it true).
    const [drifted] = await multusInterfaces(clients, partial);
    const { ModifyNetworkInterfaceAttributeCommand } = await import('@aws-sdk/client-ec2');
    await clients.ec2.send(
      new ModifyNetworkInterfaceAttributeCommand({ NetworkInterfaceId: drifted.NetworkInterfaceId, Attachment: { AttachmentId: drifted.Attachment!.AttachmentId, DeleteOnTermination: false } }),
    );
    const before = (await ourInterfaces(clients)).map((e) => e.NetworkInterfaceId).sort();

    const result = await handler(reconcileEvent({ all: true, dryRun: true }));

    expect(result.outcome).toBe('reconciled');
    const byNode = Object.fromEntries(result.reconcile!.nodes.map((n) => [n.instanceId, n]));
    // A node the launch completed needs nothing (its attachments say DeleteOnTermination=true through the proxy).
    expect(byNode[complete].actions.map((a) => a.action)).toEqual(['in-place', 'in-place']);
    expect(byNode[partial].actions.map((a) => a.action)).toEqual(['fix', 'create']);
    expect(byNode[bare].actions.map((a) => a.action)).toEqual(['create', 'create']);
    expect(byNode[untagged]).toBeUndefined(); // only opted-in nodes are listed
    expect((await ourInterfaces(clients)).map((e) => e.NetworkInterfaceId).sort()).toEqual(before);
  });

  test('a mixed fleet: missing ENIs attached, complete nodes untouched, untagged node left alone', async () => {
    const { complete, partial, bare, untagged } = await mixedFleet();
    const completeBefore = (await multusInterfaces(clients, complete)).map((e) => e.NetworkInterfaceId);

    const result = await handler(reconcileEvent({ instanceIds: [complete, partial, bare, untagged] }));

    expect(result.reconcile!.summary).toMatchObject({ nodes: 4, attached: 3, skipped: 1, failed: 0 });
    expect((await multusInterfaces(clients, complete)).map((e) => e.NetworkInterfaceId)).toEqual(completeBefore);
    for (const id of [partial, bare]) {
      expect((await multusInterfaces(clients, id)).map((e) => e.SubnetId)).toEqual(world.layout.azs[0].multusSubnets);
    }
    expect(await multusInterfaces(clients, untagged)).toEqual([]);
    expect(await control().completions()).toHaveLength(2); // reconcile completes no lifecycle action
  });

  test('nothing is removed unless prune is asked', async () => {
    await putSettings(clients, world.layout);
    const node = await launchNode(clients, world.layout.azs[0].nodeSubnet);
    await handler(eventFor('launch.json', node));
    await putSetting(clients, `subnets/${world.layout.azs[0].az}`, world.layout.azs[0].multusSubnets[0], 'StringList');
    clearCaches();

    const kept = await handler(reconcileEvent({ instanceIds: [node] }));
    expect(kept.reconcile!.nodes[0].outcome).toBe('attached');
    expect(await multusInterfaces(clients, node)).toHaveLength(2);

    const pruned = await handler(reconcileEvent({ instanceIds: [node], prune: true }));
    expect(pruned.reconcile!.nodes[0].actions.map((a) => a.action)).toEqual(['remove', 'in-place']);
    expect((await multusInterfaces(clients, node)).map((e) => e.SubnetId)).toEqual([world.layout.azs[0].multusSubnets[0]]);
    expect(await ourInterfaces(clients)).toHaveLength(1);
  });

  test('a malformed reconcile request names the field', async () => {
    await expect(handler(reconcileEvent({ all: true, dryRun: 'yes' }))).rejects.toThrow('detail.dryRun must be true or false');
  });

  test.each([
    [{ autoScalingGroup: 'g', prune: true }, 'detail.autoScalingGroup is not a reconcile field'],
    [null, 'detail must be an object naming autoScalingGroupName, instanceIds or all: true (got null)'],
    [{}, 'detail names no nodes'],
    [{ prune: true }, 'detail names no nodes'],
    [{ all: true, instanceIds: ['i-0123456789abcdef0'] }, 'detail names nodes twice (instanceIds and all)'],
    [{ all: 'yes' }, 'detail.all must be true'],
    [{ instanceIds: [] }, 'detail.instanceIds must be a non-empty list'],
  ])('reconcile detail %j never widens to every node: an error naming it, nothing done', async (detail, message) => {
    await putSettings(clients, world.layout);
    const node = await launchNode(clients, world.layout.azs[0].nodeSubnet);
    const event = { source: 'eks-multus-eni', 'detail-type': 'Reconcile Multus Interfaces', detail };

    await expect(handler(event)).rejects.toThrow(message);

    expect(await multusInterfaces(clients, node)).toEqual([]);
    expect(await ourInterfaces(clients)).toEqual([]);
  });
});
