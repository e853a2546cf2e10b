/**
 * The size guard (Custom::NodegroupSizeGuard) through the hook installer, as CloudFormation calls
 * it: events/size-guard-*.json aimed at a node group in the emulator (moto's EKS behind the
 * fidelity proxy, which records every call in order, so a test can tell that the guard only
 * reads), answered to a loopback stand-in for CloudFormation's ResponseURL. It reads the node
 * group with eks:DescribeNodegroup, decides (the decision itself: tests/unit/size-guard.test.ts)
 * and changes nothing, whatever it answers.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DescribeNodegroupCommand } from '@aws-sdk/client-eks';
import { createHookInstallerApp, createHookInstallerClients, createLogger, type CustomResourceResponse, type HookInstallerApp } from 'multus-core/hooks';
import { handler } from '../../functions/hook-installer/handler';
import { control, resetEmulator } from '../support/context';
import { asgClient, createNodegroup, eksClient, responseServerForFile, type NodegroupWorld, type ResponseServer } from '../support/nodegroup-world';
import { createVpc, EVENTS_DIR, putSettings, worldClients } from '../support/world';

type Dict = Record<string, unknown>;

const clients = worldClients();
let server: ResponseServer;
let world: NodegroupWorld;
let app: HookInstallerApp;

const context = { getRemainingTimeInMillis: () => 600_000 };
const CREATED = { MinSize: '0', DesiredSize: '0', MaxSize: '1' };

/** An events/size-guard-*.json fixture aimed at a node group, as the request of `type`, with property changes. */
function guardEvent(file: 'size-guard-update.json' | 'size-guard-refused.json', target: Pick<NodegroupWorld, 'clusterName' | 'nodegroupName'>, type: 'Create' | 'Update' | 'Delete', props: Dict = {}, oldProps: Dict = {}): Dict {
  const event = JSON.parse(readFileSync(join(EVENTS_DIR, file), 'utf8')) as Dict;
  const named = { ClusterName: target.clusterName, NodegroupName: target.nodegroupName };
  event.RequestType = type;
  event.ResponseURL = server.url();
  event.RequestId = `${type}-${Math.random()}`;
  event.ResourceProperties = { ...(event.ResourceProperties as Dict), ...named, ...props };
  if (type === 'Update') event.OldResourceProperties = { ...(event.OldResourceProperties as Dict), ...named, ...oldProps };
  else delete event.OldResourceProperties;
  if (type === 'Create') delete event.PhysicalResourceId;
  return event;
}

async function send(event: Dict): Promise<CustomResourceResponse> {
  const body = await app.handle(event, context);
  const path = new URL(event.ResponseURL as string);
  expect(server.responses.filter((r) => r.path === path.pathname + path.search).map((r) => r.body)).toEqual([body]);
  return body;
}

const liveSizes = async (w: NodegroupWorld) => (await eksClient().send(new DescribeNodegroupCommand({ clusterName: w.clusterName, nodegroupName: w.nodegroupName }))).nodegroup?.scalingConfig;
/** Every call the proxy saw after `from`, by service and operation. */
const callsSince = async (from: number) => (await control().stats()).sequence.slice(from);

const responses = responseServerForFile();

beforeEach(async () => {
  await resetEmulator();
  server = responses();
  const layout = await createVpc(clients, ['us-east-1a']);
  await putSettings(clients, layout);
  // A live node group sized 0/2/2 (two nodes), as the hook installer or the template left it.
  world = await createNodegroup(clients, layout, { nodes: 2 });
  app = createHookInstallerApp({ clients: createHookInstallerClients(), logger: createLogger() });
});

test('a new launch template version alone: SUCCESS through the deployed handler module, a new physical id for the new properties; only DescribeNodegroup is called', async () => {
  const event = guardEvent('size-guard-update.json', world, 'Update');
  const mark = (await control().stats()).sequence.length;

  const body = await handler(event, context as never);

  expect(body).toMatchObject({ Status: 'SUCCESS', LogicalResourceId: 'NodegroupSizeGuard', Data: { LiveScalingConfig: '0/2/2', TemplateScalingConfig: '0/0/1' } });
  expect(body.Reason).toContain('CloudFormation sends no sizes, the live 0/2/2 (min/desired/max) stay; launch template version 1 to 2 is one EKS version update');
  expect(body.PhysicalResourceId).not.toBe(event.PhysicalResourceId);
  expect(body.PhysicalResourceId.startsWith(`${String(event.StackId)}/NodegroupSizeGuard/`)).toBe(true);
  expect(await callsSince(mark)).toEqual(['eks:DescribeNodegroup']);
});

test('an update that would set the live node group to 0/0/1: FAILED before CloudFormation touches it, naming the live sizes, the template\'s and the fix; nothing changed', async () => {
  const event = guardEvent('size-guard-refused.json', world, 'Update');
  const mark = (await control().stats()).sequence.length;

  const body = await send(event);

  expect(body.Status).toBe('FAILED');
  expect(body.PhysicalResourceId).toBe(event.PhysicalResourceId);
  expect(body.Reason).toContain(`This update would set EKS node group "${world.nodegroupName}" of cluster "${world.clusterName}" from the live 0/2/2 (min/desired/max) to 0/0/1 (min/desired/max), terminating its nodes`);
  expect(body.Reason).toContain('Keep NodegroupSizesOwner=Template for this node group');
  expect(body.Data).toEqual({ LiveScalingConfig: '0/2/2', TemplateScalingConfig: '0/0/1' });
  expect(await callsSince(mark)).toEqual(['eks:DescribeNodegroup']);
  expect(await liveSizes(world)).toEqual({ minSize: 0, desiredSize: 2, maxSize: 2 });
});

test('the live sizes are what EKS reports: the desired size the cluster autoscaler gave the Auto Scaling group (the fidelity proxy reports it as EKS does)', async () => {
  const { UpdateAutoScalingGroupCommand } = await import('@aws-sdk/client-auto-scaling');
  await asgClient().send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: world.autoScalingGroupName, DesiredCapacity: 1 }));

  const body = await send(guardEvent('size-guard-refused.json', world, 'Update'));

  expect(body.Status).toBe('FAILED');
  expect(body.Reason).toContain('from the live 0/1/2 (min/desired/max) to 0/0/1');
  expect(await liveSizes(world)).toEqual({ minSize: 0, desiredSize: 1, maxSize: 2 });
});

test('the rollback of a refused update brings back properties the guard accepted: SUCCESS without reading EKS, the same physical id', async () => {
  // The guard accepted the template-owned properties earlier: its id carries them.
  const accepted = await send(guardEvent('size-guard-refused.json', world, 'Create', { SizesOwner: 'Template', ScalingConfig: { MinSize: '0', DesiredSize: '2', MaxSize: '2' } }));
  expect(accepted.Status).toBe('SUCCESS');
  const refused = await send(guardEvent('size-guard-refused.json', world, 'Update', {}, { SizesOwner: 'Template', ScalingConfig: { MinSize: '0', DesiredSize: '2', MaxSize: '2' } }));
  expect(refused.Status).toBe('FAILED');
  // CloudFormation rolls back: the old properties again, to the id it had.
  const rollback = guardEvent('size-guard-refused.json', world, 'Update', { SizesOwner: 'Template', ScalingConfig: { MinSize: '0', DesiredSize: '2', MaxSize: '2' } }, { SizesOwner: '', ScalingConfig: CREATED });
  rollback.PhysicalResourceId = accepted.PhysicalResourceId;
  const mark = (await control().stats()).sequence.length;

  const body = await send(rollback);

  expect(body).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: accepted.PhysicalResourceId });
  expect(body.Reason).toContain('properties this guard accepted before');
  expect(await callsSince(mark)).toEqual([]);
});

test('Create: no node group of that name yet passes; an existing one with other sizes and NodegroupSizesOwner unstated fails, HookInstaller passes', async () => {
  const fresh = await send(guardEvent('size-guard-update.json', { clusterName: world.clusterName, nodegroupName: 'not-yet' }, 'Create'));
  expect(fresh).toMatchObject({ Status: 'SUCCESS', Data: { LiveScalingConfig: '' } });
  expect(fresh.Reason).toContain('EKS node group "not-yet" of cluster "multus-cluster" does not exist yet: CloudFormation creates it with 0/0/1');

  const unstated = await send(guardEvent('size-guard-update.json', world, 'Create'));
  expect(unstated.Status).toBe('FAILED');
  expect(unstated.Reason).toContain('has the live 0/2/2 (min/desired/max)');
  expect(unstated.Reason).toContain('deploy with NodegroupSizesOwner=HookInstaller');

  const stated = await send(guardEvent('size-guard-update.json', world, 'Create', { SizesOwner: 'HookInstaller' }));
  expect(stated.Status).toBe('SUCCESS');
  expect(stated.PhysicalResourceId).toMatch(/\/NodegroupSizeGuard\/[0-9a-f]{16}$/);
});

test('Delete: nothing to remove, and EKS is not asked', async () => {
  const mark = (await control().stats()).sequence.length;
  const body = await send(guardEvent('size-guard-update.json', world, 'Delete'));
  expect(body).toMatchObject({ Status: 'SUCCESS', Reason: 'the size guard made nothing: nothing to remove' });
  expect(await callsSince(mark)).toEqual([]);
});

test('EKS refusing the read: FAILED with its code and the phase (the deployment stops before the node group)', async () => {
  await control().inject({ service: 'eks', action: 'DescribeNodegroup', code: 'AccessDeniedException', message: 'not authorized to perform eks:DescribeNodegroup', status: 403, count: 1 });
  const body = await send(guardEvent('size-guard-update.json', world, 'Update'));
  expect(body.Status).toBe('FAILED');
  expect(body.Reason).toMatch(/^AccessDeniedException: DescribeNodegroup failed: not authorized to perform eks:DescribeNodegroup \(while reading EKS node group "multus-ng"\)/);
});

test('bad properties fail naming them; the hooks resource is not mistaken for the guard (its requests carry its own ResourceType)', async () => {
  const bad = await send(guardEvent('size-guard-update.json', world, 'Update', { SizesOwner: 'Operator', LaunchTemplateVersion: '$Latest' }));
  expect(bad.Status).toBe('FAILED');
  expect(bad.Reason).toContain('ResourceProperties.SizesOwner must be empty, HookInstaller or Template, got "Operator"');
  expect(bad.Reason).toContain('ResourceProperties.LaunchTemplateVersion must be a launch template version number, got "$Latest"');

  // The same properties under the hooks resource's type are read as the hooks resource's (and are not).
  const asHooks = guardEvent('size-guard-update.json', world, 'Update');
  asHooks.ResourceType = 'Custom::NodegroupLifecycleHooks';
  const hooks = await send(asHooks);
  expect(hooks.Status).toBe('FAILED');
  expect(hooks.Reason).toContain('ResourceProperties.LaunchHookName is missing');
});
