/**
 * The fidelity proxy's instance security groups in DescribeInstances
 * (tests/support/fidelity-instance-groups.ts), which the Karpenter drift tests of hookless.test.ts
 * read: against moto behind the proxy, an instance launched as Karpenter launches it (its groups on
 * the primary interface) with a second ENI of other groups attached, under each model. moto's own
 * answer is shown too, since it is why the module exists.
 */
import { AttachNetworkInterfaceCommand, CreateNetworkInterfaceCommand, CreateSecurityGroupCommand, DescribeNetworkInterfacesCommand, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { cleanEmulatorEachTest, control } from '../support/context';
import { instanceGroupsAsEc2 } from '../support/fidelity-instance-groups';
import { karpenterInstanceGroups, launchAsKarpenter } from '../support/karpenter';
import { createVpc, worldClients, type VpcLayout } from '../support/world';

const clients = worldClients();
cleanEmulatorEachTest();

async function group(layout: VpcLayout, name: string): Promise<string> {
  const out = await clients.ec2.send(new CreateSecurityGroupCommand({ GroupName: name, Description: name, VpcId: layout.vpcId }));
  return out.GroupId!;
}

/** Node groups on the primary, the multus group on a second ENI at device index 1. */
async function twoInterfaceNode() {
  const layout = await createVpc(clients, ['us-east-1a'], 1);
  const [node, cluster] = [await group(layout, 'node'), await group(layout, 'cluster')];
  const instanceId = await launchAsKarpenter(clients.ec2, layout.azs[0].nodeSubnet, [node, cluster]);
  const eni = await clients.ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: layout.azs[0].multusSubnets[0], Groups: [layout.securityGroupId] }));
  const eniId = eni.NetworkInterface!.NetworkInterfaceId!;
  await clients.ec2.send(new AttachNetworkInterfaceCommand({ NetworkInterfaceId: eniId, InstanceId: instanceId, DeviceIndex: 1 }));
  return { layout, instanceId, eniId, node, cluster, multus: layout.securityGroupId };
}

test('moto lists none of the groups of an instance launched with its groups on its interface (the gap this module fills)', async () => {
  const { instanceId } = await twoInterfaceNode();

  expect(await karpenterInstanceGroups(clients.ec2, instanceId)).toEqual([]);
});

test('all-interfaces: the groups of every attached interface, primary first, each once', async () => {
  const { instanceId, node, cluster, multus } = await twoInterfaceNode();
  await control().instanceGroups('all-interfaces');

  expect(await karpenterInstanceGroups(clients.ec2, instanceId)).toEqual([node, cluster, multus]);
});

test('primary-interface: the groups of device index 0 only', async () => {
  const { instanceId, node, cluster } = await twoInterfaceNode();
  await control().instanceGroups('primary-interface');

  expect(await karpenterInstanceGroups(clients.ec2, instanceId)).toEqual([node, cluster]);
});

test('the interfaces\' own groups are left as moto has them; a reset returns to moto\'s answer', async () => {
  const { instanceId, eniId, multus } = await twoInterfaceNode();
  await control().instanceGroups('all-interfaces');

  const eni = await clients.ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [eniId] }));
  expect(eni.NetworkInterfaces![0].Groups!.map((g) => g.GroupId)).toEqual([multus]);
  await control().reset();
  expect(await karpenterInstanceGroups(clients.ec2, instanceId)).toEqual([]);
});

test('every instance of every reservation in one answer is rewritten; a group on two interfaces is listed once', async () => {
  const layout = await createVpc(clients, ['us-east-1a'], 1);
  const shared = await group(layout, 'shared');
  const a = await launchAsKarpenter(clients.ec2, layout.azs[0].nodeSubnet, [shared]);
  // Launched with SecurityGroupIds (moto lists these as the instance's own).
  const run = await clients.ec2.send(new RunInstancesCommand({ ImageId: 'ami-12345678', MinCount: 1, MaxCount: 1, SubnetId: layout.azs[0].nodeSubnet, SecurityGroupIds: [shared] }));
  const b = run.Instances![0].InstanceId!;
  const eni = await clients.ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: layout.azs[0].multusSubnets[0], Groups: [shared, layout.securityGroupId] }));
  await clients.ec2.send(new AttachNetworkInterfaceCommand({ NetworkInterfaceId: eni.NetworkInterface!.NetworkInterfaceId!, InstanceId: a, DeviceIndex: 1 }));
  await control().instanceGroups('all-interfaces');

  expect(await karpenterInstanceGroups(clients.ec2, a)).toEqual([shared, layout.securityGroupId]);
  expect(await karpenterInstanceGroups(clients.ec2, b)).toEqual([shared]);
});

test('the rewrite itself: a self-closing groupSet, interfaces out of device order, moto left alone', () => {
  const eni = (device: number, ...groups: string[]) =>
    `<item><attachment><deviceIndex>${device}</deviceIndex><networkCardIndex>0</networkCardIndex></attachment>` +
    `<groupSet>${groups.map((g) => `<item><groupId>${g}</groupId><groupName>${g}-name</groupName></item>`).join('')}</groupSet></item>`;
  const xml =
    '<?xml version="1.0" encoding="UTF-8"?><DescribeInstancesResponse><reservationSet><item><groupSet/><instancesSet><item>' +
    `<networkInterfaceSet>${eni(1, 'sg-m')}${eni(0, 'sg-a', 'sg-b')}</networkInterfaceSet><groupSet/><instanceId>i-1</instanceId>` +
    '</item></instancesSet></item></reservationSet></DescribeInstancesResponse>';

  const groupsOf = (out: string) => [...out.slice(out.lastIndexOf('</networkInterfaceSet>')).matchAll(/<groupId>([^<]+)<\/groupId>/g)].map((m) => m[1]);
  expect(groupsOf(instanceGroupsAsEc2(xml, 'all-interfaces'))).toEqual(['sg-a', 'sg-b', 'sg-m']);
  expect(groupsOf(instanceGroupsAsEc2(xml, 'primary-interface'))).toEqual(['sg-a', 'sg-b']);
  expect(instanceGroupsAsEc2(xml, 'all-interfaces')).toContain('<item><groupId>sg-a</groupId><groupName>sg-a-name</groupName></item>');
  expect(instanceGroupsAsEc2(xml, 'moto')).toBe(xml);
  // The reservation's own (EC2-Classic) groupSet is not the instance's: left as it was.
  expect(instanceGroupsAsEc2(xml, 'all-interfaces')).toContain('<reservationSet><item><groupSet/>');
});
