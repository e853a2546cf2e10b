/**
 * DeleteOnTermination through the fidelity proxy (tests/support/fidelity-attachments.ts), against
 * the emulator: moto 5.2 answers ModifyNetworkInterfaceAttribute's `Attachment.DeleteOnTermination`
 * with success and changes nothing, so without the proxy every ENI a launch attached reads `false`
 * (reconcile then plans a "fix" for it, and terminate releases what EC2 would delete with the
 * instance). EC2 keeps the value per attachment, shows it in DescribeNetworkInterfaces and
 * DescribeInstances, and deletes those ENIs with their instance.
 */
import {
  AttachNetworkInterfaceCommand,
  DescribeInstancesCommand,
  DescribeNetworkInterfacesCommand,
  DetachNetworkInterfaceCommand,
  ModifyNetworkInterfaceAttributeCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { parseCidr, SdkEc2, TAG_INSTANCE_ID } from 'multus-core';
import { handler } from '../../functions/lifecycle/handler';
import { freshVpcEachTest } from '../support/context';
import { createOrphan, eventFor, launchNode, multusInterfaces, putSettings } from '../support/world';

const world = freshVpcEachTest(['us-east-1a']);
const { clients } = world;

async function launched(): Promise<{ node: string; enis: string[] }> {
  await putSettings(clients, world.layout);
  const node = await launchNode(clients, world.layout.azs[0].nodeSubnet);
  expect(await handler(eventFor('launch.json', node))).toMatchObject({ outcome: 'attached' });
  return { node, enis: (await multusInterfaces(clients, node)).map((e) => e.NetworkInterfaceId!) };
}

const exists = async (id: string) =>
  (await clients.ec2.send(new DescribeNetworkInterfacesCommand({ Filters: [{ Name: 'network-interface-id', Values: [id] }] }))).NetworkInterfaces?.length === 1;

test('the ENIs a launch attached read DeleteOnTermination=true in DescribeNetworkInterfaces, DescribeInstances and the page scanner', async () => {
  const { node } = await launched();

  expect((await multusInterfaces(clients, node)).map((e) => [e.Attachment?.DeviceIndex, e.Attachment?.DeleteOnTermination])).toEqual([
    [1, true],
    [2, true],
  ]);
  const instance = (await clients.ec2.send(new DescribeInstancesCommand({ InstanceIds: [node] }))).Reservations![0].Instances![0];
  const byIndex = (instance.NetworkInterfaces ?? []).filter((n) => (n.Attachment?.DeviceIndex ?? 0) > 0).map((n) => [n.Attachment?.DeviceIndex, n.Attachment?.DeleteOnTermination]);
  expect(byIndex.sort()).toEqual([
    [1, true],
    [2, true],
  ]);
  // multus-core's own reader of DescribeNetworkInterfaces pages (scan.ts), as the launch uses it.
  const { DescribeSubnetsCommand } = await import('@aws-sdk/client-ec2');
  const subnets = (await clients.ec2.send(new DescribeSubnetsCommand({ SubnetIds: world.layout.azs[0].multusSubnets }))).Subnets ?? [];
  const scan = await new SdkEc2(clients.ec2, { cacheMaxAgeMs: () => 0 }).scanSubnets({
    subnets: subnets.map((s) => ({ subnetId: s.SubnetId!, block: parseCidr(s.CidrBlock!) })),
    ownerTag: TAG_INSTANCE_ID,
    keep: node,
  });
  expect(scan.kept.map((e) => e.attachment?.deleteOnTermination)).toEqual([true, true]);
});

test('AttachNetworkInterface alone leaves it false (EC2\'s default); set to false it reads false; a new attachment starts over', async () => {
  const node = await launchNode(clients, world.layout.azs[0].nodeSubnet);
  const eni = await createOrphan(clients, world.layout.azs[0].multusSubnets[0], node, 1);
  const first = (await clients.ec2.send(new AttachNetworkInterfaceCommand({ NetworkInterfaceId: eni, InstanceId: node, DeviceIndex: 1 }))).AttachmentId!;
  const attachment = async () => (await multusInterfaces(clients, node))[0]?.Attachment;
  expect(await attachment()).toMatchObject({ AttachmentId: first, DeleteOnTermination: false });

  await clients.ec2.send(new ModifyNetworkInterfaceAttributeCommand({ NetworkInterfaceId: eni, Attachment: { AttachmentId: first, DeleteOnTermination: true } }));
  expect(await attachment()).toMatchObject({ DeleteOnTermination: true });
  await clients.ec2.send(new ModifyNetworkInterfaceAttributeCommand({ NetworkInterfaceId: eni, Attachment: { AttachmentId: first, DeleteOnTermination: false } }));
  expect(await attachment()).toMatchObject({ DeleteOnTermination: false });
  await clients.ec2.send(new ModifyNetworkInterfaceAttributeCommand({ NetworkInterfaceId: eni, Attachment: { AttachmentId: first, DeleteOnTermination: true } }));

  await clients.ec2.send(new DetachNetworkInterfaceCommand({ AttachmentId: first }));
  const second = (await clients.ec2.send(new AttachNetworkInterfaceCommand({ NetworkInterfaceId: eni, InstanceId: node, DeviceIndex: 1 }))).AttachmentId!;
  expect(await attachment()).toMatchObject({ AttachmentId: second, DeleteOnTermination: false });
});

test('an attachment id that is not the ENI\'s: InvalidAttachmentID.NotFound, nothing recorded', async () => {
  const { enis } = await launched();
  await expect(
    clients.ec2.send(new ModifyNetworkInterfaceAttributeCommand({ NetworkInterfaceId: enis[0], Attachment: { AttachmentId: 'eni-attach-0123456789abcdef0', DeleteOnTermination: false } })),
  ).rejects.toMatchObject({ name: 'InvalidAttachmentID.NotFound' });
  expect((await clients.ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [enis[0]] }))).NetworkInterfaces![0].Attachment?.DeleteOnTermination).toBe(true);
});

test('TerminateInstances deletes the ENIs whose attachment says DeleteOnTermination=true, and keeps one set to false', async () => {
  const { node, enis } = await launched();
  const [goes, stays] = enis;
  const stayAttachment = (await multusInterfaces(clients, node))[1].Attachment!.AttachmentId!;
  await clients.ec2.send(new ModifyNetworkInterfaceAttributeCommand({ NetworkInterfaceId: stays, Attachment: { AttachmentId: stayAttachment, DeleteOnTermination: false } }));

  await clients.ec2.send(new TerminateInstancesCommand({ InstanceIds: [node] }));

  expect({ goes: await exists(goes), stays: await exists(stays) }).toEqual({ goes: false, stays: true });
});
