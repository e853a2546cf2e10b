/**
 * The hook installer (custom resource) against the emulator: moto's EKS (DescribeNodegroup), Auto
 * Scaling hooks and EC2, through the fidelity proxy, which rejects a hook on an Auto Scaling group
 * that does not exist and keeps the hooks' NotificationMetadata (moto 5.2 accepts the first and
 * drops the second; tests/support/fidelity-hooks.ts). A loopback HTTP server stands in for
 * CloudFormation's presigned ResponseURL, so every test checks the response CloudFormation gets.
 * Fixtures: events/hook-installer-{create,update,delete}.json.
 */
import { PutLifecycleHookCommand } from '@aws-sdk/client-auto-scaling';
import type { ReconcileReport } from 'multus-core';
import { createHookInstallerApp, createHookInstallerClients, createLogger, type CustomResourceResponse, type HookInstallerApp } from 'multus-core/hooks';
import { handler } from '../../functions/hook-installer/handler';
import { control, resetEmulator } from '../support/context';
import {
  asgClient,
  createNodegroup,
  customResourceEvent,
  hooksOn,
  LAUNCH_HOOK,
  optOut,
  startResponseServer,
  TERMINATE_HOOK,
  type NodegroupWorld,
  type ResponseServer,
} from '../support/nodegroup-world';
import { createVpc, multusInterfaces, ourInterfaces, putSetting, putSettings, worldClients, type VpcLayout } from '../support/world';

const clients = worldClients();
let server: ResponseServer;
let layout: VpcLayout;
let world: NodegroupWorld;
let app: HookInstallerApp;

const context = (remainingMs = 600_000) => ({ getRemainingTimeInMillis: () => remainingMs });
const metadataOf = (w: Pick<NodegroupWorld, 'clusterName' | 'nodegroupName'>) => `eks-multus-eni:eks-multus-eni:${w.clusterName}/${w.nodegroupName}`;

beforeAll(async () => {
  server = await startResponseServer();
});

afterAll(async () => {
  await server.close();
});

beforeEach(async () => {
  await resetEmulator();
  server.responses.length = 0;
  layout = await createVpc(clients, ['us-east-1a', 'us-east-1b']);
  await putSettings(clients, layout, { 'use-ips-from-start-of-subnet': 'true' });
  world = await createNodegroup(clients, layout, { nodes: 2 });
  // A fresh app per test: no settings cached from another test's VPC.
  app = createHookInstallerApp({ clients: createHookInstallerClients(), logger: createLogger() });
});

/** The one response the server received for `url`. */
function responseFor(url: string) {
  const path = new URL(url).pathname + new URL(url).search;
  const matching = server.responses.filter((r) => r.path === path);
  expect(matching).toHaveLength(1);
  return matching[0];
}

async function send(event: Record<string, unknown>, remainingMs?: number): Promise<CustomResourceResponse> {
  const body = await app.handle(event, context(remainingMs));
  expect(responseFor(event.ResponseURL as string).body).toEqual(body);
  return body;
}

describe('Create', () => {
  test('puts the launch and terminate hooks, gives running opted-in nodes their ENIs, answers SUCCESS', async () => {
    const url = server.url();
    const event = customResourceEvent('hook-installer-create.json', url, world);

    // The deployed handler module, as Lambda loads it.
    const body = await handler(event, { getRemainingTimeInMillis: () => 600_000 } as never);

    const response = responseFor(url);
    expect(response.method).toBe('PUT');
    expect(response.headers['content-type']).toBe('');
    expect(response.body).toEqual(body);
    expect(body).toMatchObject({
      Status: 'SUCCESS',
      PhysicalResourceId: `${event.StackId}/NodegroupLifecycleHooks`,
      StackId: event.StackId,
      RequestId: event.RequestId,
      LogicalResourceId: 'NodegroupLifecycleHooks',
      Data: { AutoScalingGroupNames: world.autoScalingGroupName, NodesChecked: '2', NodesAttached: '2', NodesFailed: '0', NodesRunningBeforeHooks: '2' },
    });
    // An existing node group: its nodes ran before the hooks, and the reason says what to do about them.
    expect(body.Reason).toContain('2 opted-in node(s) were running before the hooks: their multus ENIs were attached after boot');
    expect(body.Reason).toContain('kubelet registered without the eks-multus-eni/ready=true label): replace them once');
    expect(body.Data.ScalingConfig).toBeUndefined();
    expect(Buffer.byteLength(JSON.stringify(body))).toBeLessThanOrEqual(4096);

    const hooks = await hooksOn(world.autoScalingGroupName);
    expect(hooks.map((h) => [h.LifecycleHookName, h.LifecycleTransition, h.HeartbeatTimeout, h.DefaultResult, h.NotificationMetadata])).toEqual([
      [LAUNCH_HOOK, 'autoscaling:EC2_INSTANCE_LAUNCHING', 600, 'ABANDON', metadataOf(world)],
      [TERMINATE_HOOK, 'autoscaling:EC2_INSTANCE_TERMINATING', 600, 'CONTINUE', metadataOf(world)],
    ]);
    for (const instanceId of world.instanceIds) {
      const enis = await multusInterfaces(clients, instanceId);
      expect(enis.map((e) => [e.Attachment?.DeviceIndex, e.SubnetId])).toEqual([
        [1, layout.azs[0].multusSubnets[0]],
        [2, layout.azs[0].multusSubnets[1]],
      ]);
    }
    // Lowest-free allocation across the running nodes.
    const addresses = (await ourInterfaces(clients)).map((e) => e.PrivateIpAddress).sort();
    expect(addresses).toEqual(['10.0.1.4', '10.0.1.5', '10.0.2.4', '10.0.2.5']);
  });

  test('a node without the opt-in tag is left alone; a repeated Create changes nothing', async () => {
    await optOut(clients, world.instanceIds[1]);
    const first = await send(customResourceEvent('hook-installer-create.json', server.url(), world));
    expect(first.Data).toMatchObject({ NodesChecked: '2', NodesAttached: '1', NodesFailed: '0' });
    expect(await multusInterfaces(clients, world.instanceIds[1])).toEqual([]);
    const before = (await ourInterfaces(clients)).map((e) => e.NetworkInterfaceId).sort();

    const again = await send(customResourceEvent('hook-installer-create.json', server.url(), world));

    expect(again.Status).toBe('SUCCESS');
    expect((await ourInterfaces(clients)).map((e) => e.NetworkInterfaceId).sort()).toEqual(before);
    expect(await hooksOn(world.autoScalingGroupName)).toHaveLength(2);
  });

  test('a missing node group fails with a reason naming it, answered to CloudFormation; nothing is put', async () => {
    const url = server.url();
    const body = await send(customResourceEvent('hook-installer-create.json', url, { clusterName: world.clusterName, nodegroupName: 'no-such-ng' }));

    expect(body.Status).toBe('FAILED');
    expect(body.Reason).toMatch(/^NodegroupNotFoundError: EKS node group "no-such-ng" of cluster "multus-cluster" not found/);
    expect(body.PhysicalResourceId).toBe(`${customResourceEvent('hook-installer-create.json', url, world).StackId}/NodegroupLifecycleHooks`);
    expect(await hooksOn(world.autoScalingGroupName)).toEqual([]);
    expect(await ourInterfaces(clients)).toEqual([]);
  });

  test('a missing cluster fails the same way', async () => {
    const body = await send(customResourceEvent('hook-installer-create.json', server.url(), { clusterName: 'no-such-cluster', nodegroupName: world.nodegroupName }));
    expect(body.Status).toBe('FAILED');
    expect(body.Reason).toContain('cluster "no-such-cluster" not found');
  });

  test('bad properties fail with every problem named; the rollback Delete with them succeeds', async () => {
    const body = await send(
      customResourceEvent('hook-installer-create.json', server.url(), world, { HeartbeatTimeout: '5', DefaultResult: 'MAYBE', TerminateHookName: LAUNCH_HOOK }),
    );
    expect(body.Status).toBe('FAILED');
    expect(body.Reason).toContain('ResourceProperties.HeartbeatTimeout must be a whole number of seconds from 30 to 7200, got "5"');
    expect(body.Reason).toContain('ResourceProperties.DefaultResult must be CONTINUE or ABANDON');
    expect(body.Reason).toContain('LaunchHookName and TerminateHookName are both');

    const rollback = await send(
      customResourceEvent('hook-installer-delete.json', server.url(), world, { HeartbeatTimeout: '5', DefaultResult: 'MAYBE', TerminateHookName: LAUNCH_HOOK }),
    );
    expect(rollback.Status).toBe('SUCCESS');
    expect(rollback.Reason).toMatch(/^nothing to remove/);
  });

  test('a hook of our name that another deployment put there stops the create before any change', async () => {
    await asgClient().send(
      new PutLifecycleHookCommand({
        AutoScalingGroupName: world.autoScalingGroupName,
        LifecycleHookName: LAUNCH_HOOK,
        LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING',
        HeartbeatTimeout: 300,
        DefaultResult: 'CONTINUE',
        NotificationMetadata: 'someone else',
      }),
    );

    const body = await send(customResourceEvent('hook-installer-create.json', server.url(), world));

    expect(body.Status).toBe('FAILED');
    expect(body.Reason).toContain(`Auto Scaling group ${world.autoScalingGroupName} already has a lifecycle hook "${LAUNCH_HOOK}" that this stack did not put there (notification metadata "someone else")`);
    const hooks = await hooksOn(world.autoScalingGroupName);
    expect(hooks.map((h) => [h.LifecycleHookName, h.NotificationMetadata, h.HeartbeatTimeout])).toEqual([[LAUNCH_HOOK, 'someone else', 300]]);
    expect(await ourInterfaces(clients)).toEqual([]);
  });

  test('a running node whose device index 1 holds another ENI (the VPC CNI\'s) is reported, and the create succeeds', async () => {
    const [busy, free] = world.instanceIds;
    // What the VPC CNI does on a node that runs pods: its own secondary ENI at the lowest free index.
    const { AttachNetworkInterfaceCommand, CreateNetworkInterfaceCommand, DescribeInstancesCommand } = await import('@aws-sdk/client-ec2');
    const nodeSubnet = (await clients.ec2.send(new DescribeInstancesCommand({ InstanceIds: [busy] }))).Reservations![0].Instances![0].SubnetId!;
    const cni = (await clients.ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: nodeSubnet }))).NetworkInterface!.NetworkInterfaceId!;
    await clients.ec2.send(new AttachNetworkInterfaceCommand({ NetworkInterfaceId: cni, InstanceId: busy, DeviceIndex: 1 }));

    const body = await send(customResourceEvent('hook-installer-create.json', server.url(), world));

    expect(body.Status).toBe('SUCCESS');
    expect(body.Data).toMatchObject({ NodesFailed: '0', NodesConflicting: '1', NodesAttached: '1' });
    expect(body.Reason).toContain(`${busy}: DeviceIndexConflictError: device index 1 of ${busy} already holds ${cni}`);
    expect(await multusInterfaces(clients, busy)).toEqual([expect.objectContaining({ NetworkInterfaceId: cni })]);
    expect((await multusInterfaces(clients, free)).map((e) => e.SubnetId)).toEqual(layout.azs[0].multusSubnets);
    expect(await ourInterfaces(clients)).toHaveLength(2); // the free node's; nothing left over from the busy one
  });

  test('a running node that cannot be made multus-ready fails the create, naming the node', async () => {
    // us-east-1a's parameter lists us-east-1b's subnets: the node's check fails before anything is created.
    await putSetting(clients, 'subnets/us-east-1a', layout.azs[1].multusSubnets.join(','), 'StringList');

    const body = await send(customResourceEvent('hook-installer-create.json', server.url(), world));

    expect(body.Status).toBe('FAILED');
    expect(body.Reason).toMatch(/^2 running node\(s\) could not be given their multus ENIs \(the hooks are removed again by the rollback\): i-/);
    for (const id of world.instanceIds) expect(body.Reason).toContain(`${id}: NodeConfigurationError:`);
    expect(body.Reason).toContain('is in us-east-1b, not us-east-1a');
    expect(body.Data).toMatchObject({ NodesFailed: '2', NodesAttached: '0' });
    expect(await ourInterfaces(clients)).toEqual([]);
  });
});

describe('a node group the stack created with no node (ScalingConfig): sized only once the hooks are in place', () => {
  const sizes = { MinSize: '1', DesiredSize: '2', MaxSize: '4' };
  const groupSizes = async () => {
    const { DescribeAutoScalingGroupsCommand } = await import('@aws-sdk/client-auto-scaling');
    const g = (await asgClient().send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [world.autoScalingGroupName] }))).AutoScalingGroups![0];
    return [g.MinSize, g.DesiredCapacity, g.MaxSize];
  };
  const calls = async (from = 0) => (await control().stats()).sequence.slice(from).filter((k) => /PutLifecycleHook|UpdateNodegroupConfig|DescribeUpdate/.test(k));

  beforeEach(async () => {
    await resetEmulator();
    layout = await createVpc(clients, ['us-east-1a']);
    await putSettings(clients, layout);
    world = await createNodegroup(clients, layout, { nodes: 0 });
    // The fidelity proxy answers the update InProgress first, as EKS does: poll quickly here.
    app = createHookInstallerApp({ clients: createHookInstallerClients(), logger: createLogger(), pollMs: 10 });
  });

  test('Create: both hooks are put before UpdateNodegroupConfig, which waits for EKS to finish; the group gets the sizes', async () => {
    expect(await groupSizes()).toEqual([0, 0, 1]);

    const body = await send(customResourceEvent('hook-installer-create.json', server.url(), world, { ScalingConfig: sizes }));

    expect(body).toMatchObject({ Status: 'SUCCESS', Data: { ScalingConfig: '1/2/4', NodesRunningBeforeHooks: '0', NodesChecked: '0' } });
    expect(body.Reason).toContain('node group sized 1/2/4 (min/desired/max) after the hooks');
    expect(await calls()).toEqual([
      'autoscaling:PutLifecycleHook',
      'autoscaling:PutLifecycleHook',
      'eks:UpdateNodegroupConfig',
      'eks:DescribeUpdate',
      'eks:DescribeUpdate',
    ]);
    expect(await groupSizes()).toEqual([1, 2, 4]);
  });

  test('Update: unchanged sizes are not sent again (an autoscaler\'s desired size stays); changed sizes are', async () => {
    await send(customResourceEvent('hook-installer-create.json', server.url(), world, { ScalingConfig: sizes }));
    const { UpdateAutoScalingGroupCommand } = await import('@aws-sdk/client-auto-scaling');
    // The cluster autoscaler (EKS in front of it) moves the desired size.
    await asgClient().send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: world.autoScalingGroupName, DesiredCapacity: 3 }));
    const mark = (await control().stats()).sequence.length;

    const same = await send(customResourceEvent('hook-installer-update.json', server.url(), world, { ScalingConfig: sizes }, { ScalingConfig: sizes }));
    expect(same.Status).toBe('SUCCESS');
    expect(same.Data.ScalingConfig).toBeUndefined();
    expect((await calls(mark)).filter((k) => k.startsWith('eks:'))).toEqual([]);
    expect(await groupSizes()).toEqual([1, 3, 4]);

    const bigger = { MinSize: '2', DesiredSize: '4', MaxSize: '6' };
    const changed = await send(customResourceEvent('hook-installer-update.json', server.url(), world, { ScalingConfig: bigger }, { ScalingConfig: sizes }));
    expect(changed).toMatchObject({ Status: 'SUCCESS', Data: { ScalingConfig: '2/4/6' } });
    expect(await groupSizes()).toEqual([2, 4, 6]);
  });

  test('sizes EKS would refuse fail the create before any hook is put, naming the property', async () => {
    const body = await send(customResourceEvent('hook-installer-create.json', server.url(), world, { ScalingConfig: { MinSize: '3', DesiredSize: '2', MaxSize: '4' } }));

    expect(body.Status).toBe('FAILED');
    expect(body.Reason).toContain('ResourceProperties.ScalingConfig: MinSize 3 <= DesiredSize 2 <= MaxSize 4 does not hold');
    expect(await hooksOn(world.autoScalingGroupName)).toEqual([]);
    expect(await calls()).toEqual([]);
  });

  test('EKS refusing the update (another one in progress, then gone): tried again, then SUCCESS', async () => {
    await control().inject({ service: 'eks', action: 'UpdateNodegroupConfig', code: 'ResourceInUseException', status: 409, message: 'Nodegroup cannot be updated as it is currently not in Active State', count: 2 });

    const body = await send(customResourceEvent('hook-installer-create.json', server.url(), world, { ScalingConfig: sizes }));

    expect(body).toMatchObject({ Status: 'SUCCESS', Data: { ScalingConfig: '1/2/4' } });
    expect((await calls()).filter((k) => k === 'eks:UpdateNodegroupConfig')).toHaveLength(3);
  });
});

describe('Update', () => {
  test('changes the heartbeat and default result in place, same physical id', async () => {
    const created = await send(customResourceEvent('hook-installer-create.json', server.url(), world));
    const update = customResourceEvent('hook-installer-update.json', server.url(), world);
    update.PhysicalResourceId = created.PhysicalResourceId;

    const body = await send(update);

    expect(body).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: created.PhysicalResourceId });
    const hooks = await hooksOn(world.autoScalingGroupName);
    expect(hooks.map((h) => [h.LifecycleHookName, h.HeartbeatTimeout, h.DefaultResult])).toEqual([
      [LAUNCH_HOOK, 900, 'CONTINUE'],
      [TERMINATE_HOOK, 900, 'CONTINUE'],
    ]);
  });

  test('renamed hooks: the new ones are put, the old ones removed', async () => {
    await send(customResourceEvent('hook-installer-create.json', server.url(), world));

    const body = await send(customResourceEvent('hook-installer-update.json', server.url(), world, { LaunchHookName: 'multus-launch-v2', TerminateHookName: 'multus-terminate-v2' }));

    expect(body.Status).toBe('SUCCESS');
    expect((await hooksOn(world.autoScalingGroupName)).map((h) => h.LifecycleHookName)).toEqual(['multus-launch-v2', 'multus-terminate-v2']);
  });

  test('another node group: hooks move to it, its running nodes get ENIs, the old group keeps none', async () => {
    await send(customResourceEvent('hook-installer-create.json', server.url(), world));
    const second = await createNodegroup(clients, layout, { nodes: 1, nodegroupName: 'multus-ng-2' });

    const body = await send(customResourceEvent('hook-installer-update.json', server.url(), second, {}, { ClusterName: world.clusterName, NodegroupName: world.nodegroupName }));

    expect(body).toMatchObject({ Status: 'SUCCESS', Data: { AutoScalingGroupNames: second.autoScalingGroupName, NodesAttached: '1' } });
    expect(await hooksOn(world.autoScalingGroupName)).toEqual([]);
    expect((await hooksOn(second.autoScalingGroupName)).map((h) => h.NotificationMetadata)).toEqual([metadataOf(second), metadataOf(second)]);
    expect(await multusInterfaces(clients, second.instanceIds[0])).toHaveLength(2);
  });

  test('a running node that cannot be made multus-ready is reported, the update succeeds', async () => {
    await send(customResourceEvent('hook-installer-create.json', server.url(), world));
    await putSetting(clients, 'subnets/us-east-1a', layout.azs[1].multusSubnets.join(','), 'StringList');
    app = createHookInstallerApp({ clients: createHookInstallerClients(), logger: createLogger() }); // a new container: settings not cached

    const body = await send(customResourceEvent('hook-installer-update.json', server.url(), world));

    expect(body.Status).toBe('SUCCESS');
    expect(body.Data).toMatchObject({ NodesFailed: '2' });
    expect(body.Reason).toContain('Not failing the update for them');
    expect((await hooksOn(world.autoScalingGroupName)).map((h) => h.HeartbeatTimeout)).toEqual([900, 900]);
  });
});

describe('Delete', () => {
  test('removes our hooks; a hook of another name stays; the ENIs stay with their nodes', async () => {
    await send(customResourceEvent('hook-installer-create.json', server.url(), world));
    await asgClient().send(
      new PutLifecycleHookCommand({ AutoScalingGroupName: world.autoScalingGroupName, LifecycleHookName: 'someone-elses-hook', LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING' }),
    );

    const body = await send(customResourceEvent('hook-installer-delete.json', server.url(), world));

    expect(body.Status).toBe('SUCCESS');
    expect(body.Reason).toBe(`removed ${LAUNCH_HOOK} on ${world.autoScalingGroupName}, ${TERMINATE_HOOK} on ${world.autoScalingGroupName}`);
    expect((await hooksOn(world.autoScalingGroupName)).map((h) => h.LifecycleHookName)).toEqual(['someone-elses-hook']);
    expect(await multusInterfaces(clients, world.instanceIds[0])).toHaveLength(2);
  });

  test('a hook of our name with another deployment\'s metadata is left in place and reported', async () => {
    await asgClient().send(
      new PutLifecycleHookCommand({
        AutoScalingGroupName: world.autoScalingGroupName,
        LifecycleHookName: TERMINATE_HOOK,
        LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
        NotificationMetadata: 'someone else',
      }),
    );

    const body = await send(customResourceEvent('hook-installer-delete.json', server.url(), world));

    expect(body.Status).toBe('SUCCESS');
    expect(body.Reason).toContain(`left in place (put there by another deployment): ${TERMINATE_HOOK} on ${world.autoScalingGroupName}`);
    expect((await hooksOn(world.autoScalingGroupName)).map((h) => h.LifecycleHookName)).toEqual([TERMINATE_HOOK]);
  });

  test('a node group that is already gone has nothing to remove: SUCCESS', async () => {
    const body = await send(customResourceEvent('hook-installer-delete.json', server.url(), { clusterName: world.clusterName, nodegroupName: 'gone-ng' }));
    expect(body.Status).toBe('SUCCESS');
    expect(body.Reason).toContain('EKS node group "gone-ng" of cluster "multus-cluster" not found');
  });
});

describe('answering CloudFormation whatever happens', () => {
  const stalled = (): { reconcile: () => Promise<ReconcileReport> } => ({ reconcile: () => new Promise<ReconcileReport>(() => undefined) });

  test('out of time while fixing running nodes on Create: FAILED before the function times out', async () => {
    const slow = createHookInstallerApp({ clients: createHookInstallerClients(), logger: createLogger(), reconciler: stalled(), responseMarginMs: 30_000 });
    const url = server.url();
    const started = Date.now();

    const body = await slow.handle(customResourceEvent('hook-installer-create.json', url, world), context(31_000));

    expect(Date.now() - started).toBeLessThan(10_000);
    expect(body.Status).toBe('FAILED');
    expect(body.Reason).toMatch(/^DeadlineError: the function ran out of time after 1s \(while giving running nodes their multus ENIs\)\. Done before the failure: put eks-multus-eni-launch on eks-/);
    expect(responseFor(url).body).toEqual(body);
  });

  test('out of time while fixing running nodes on Update: SUCCESS, the hooks are updated', async () => {
    await send(customResourceEvent('hook-installer-create.json', server.url(), world));
    const slow = createHookInstallerApp({ clients: createHookInstallerClients(), logger: createLogger(), reconciler: stalled(), responseMarginMs: 30_000 });
    const url = server.url();

    const body = await slow.handle(customResourceEvent('hook-installer-update.json', url, world), context(31_000));

    expect(body.Status).toBe('SUCCESS');
    expect(body.Reason).toContain('Out of time after 1s with 0 of 1 group(s) reconciled');
    expect((await hooksOn(world.autoScalingGroupName)).map((h) => h.HeartbeatTimeout)).toEqual([900, 900]);
  });

  test('an Auto Scaling error after the SDK retries becomes FAILED with its code', async () => {
    await control().inject({ service: 'autoscaling', action: 'PutLifecycleHook', code: 'AccessDenied', message: 'not authorized to perform autoscaling:PutLifecycleHook', status: 403, count: 1 });

    const body = await send(customResourceEvent('hook-installer-create.json', server.url(), world));

    expect(body.Status).toBe('FAILED');
    // The reason names the code and the operation that failed.
    expect(body.Reason).toMatch(/^AccessDenied: PutLifecycleHook failed: not authorized to perform autoscaling:PutLifecycleHook \(while putting the lifecycle hooks\)/);
  });

  test('the response PUT is retried on a 5xx answer', async () => {
    server.failNext(503, 1);
    const url = server.url();
    const body = await app.handle(customResourceEvent('hook-installer-delete.json', url, world), context());
    expect(responseFor(url).body).toEqual(body);
  });

  test('an unreachable ResponseURL: the handler throws (the invocation goes to the dead-letter queue)', async () => {
    await expect(app.handle(customResourceEvent('hook-installer-delete.json', 'http://127.0.0.1:9/unreachable', world), context())).rejects.toMatchObject({
      name: 'ResponseDeliveryError',
    });
  });

  test('an event that is not a custom resource request cannot be answered: it throws, naming what is missing', async () => {
    await expect(app.handle({ RequestType: 'Create' }, context())).rejects.toThrow(/custom resource request: ResponseURL is missing/);
  });

  test('a reason too long for CloudFormation is cut to fit 4096 bytes', async () => {
    const body = await send(customResourceEvent('hook-installer-create.json', server.url(), world, { NodegroupName: 'x'.repeat(5000) }));
    expect(body.Status).toBe('FAILED');
    expect(Buffer.byteLength(JSON.stringify(body))).toBeLessThanOrEqual(4096);
    expect(body.Reason).toMatch(/\[\.\.\.\]$/);
  });
});

test('fidelity proxy: a hook on an Auto Scaling group that does not exist is a ValidationError, as in Auto Scaling', async () => {
  await expect(
    asgClient().send(new PutLifecycleHookCommand({ AutoScalingGroupName: 'no-such-group', LifecycleHookName: 'h', LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING' })),
  ).rejects.toMatchObject({ name: 'ValidationError' });
});
