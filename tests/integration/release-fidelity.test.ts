/**
 * Terminate's release of our ENIs where moto is kinder than EC2, through the fidelity proxy: EC2
 * keeps a detached ENI `detaching` for a while and refuses to delete it meanwhile
 * (InvalidNetworkInterface.InUse); moto detaches at once, so only the proxy's `keepDetaching`
 * shows whether the release waits. The ENIs are made and attached here with the SDK, not by a
 * launch, so these tests exercise the release alone (tests/unit/release.test.ts pins the same
 * behaviour over the fake EC2 port, for the mutation run).
 */
import { AttachNetworkInterfaceCommand, DescribeNetworkInterfacesCommand } from '@aws-sdk/client-ec2';
import { handler } from '../../functions/lifecycle/handler';
import { control, freshVpcEachTest } from '../support/context';
import { createOrphan, eventFor, launchNode, ourInterfaces } from '../support/world';

const world = freshVpcEachTest(['us-east-1a']);
const { clients } = world;

/** An ENI of ours made for `owner` at `deviceIndex`, attached to `to` (DeleteOnTermination=false: AttachNetworkInterface's default, as on EC2). */
async function attachedEni(owner: string, to: string, deviceIndex: number): Promise<string> {
  const id = await createOrphan(clients, world.layout.azs[0].multusSubnets[deviceIndex - 1], owner, deviceIndex);
  await clients.ec2.send(new AttachNetworkInterfaceCommand({ NetworkInterfaceId: id, InstanceId: to, DeviceIndex: deviceIndex }));
  return id;
}

test('release deletes only once the ENI is available: while EC2 still shows it detaching (and would refuse the delete), no delete is sent', async () => {
  const node = await launchNode(clients, world.layout.azs[0].nodeSubnet);
  const enis = [await attachedEni(node, node, 1), await attachedEni(node, node, 2)];
  await control().keepDetaching(2);

  const result = await handler(eventFor('terminate.json', node));

  expect(result).toMatchObject({ outcome: 'released', lifecycleResult: 'CONTINUE', completion: 'completed' });
  expect(result.reason).toBeUndefined();
  expect(result.interfaces.map((i) => i.networkInterfaceId).sort()).toEqual([...enis].sort());
  expect(await ourInterfaces(clients)).toEqual([]);
  const stats = await control().stats();
  expect(stats.answeredDetaching).toBe(4); // each ENI was seen detaching twice, then available
  // No delete was sent while an ENI still showed detaching (the proxy would have refused it). The
  // proxy's call counts are not asserted: they are proxy-wide, and in a full run a call of another
  // file may land late (seen once: a third DeleteNetworkInterface).
  expect(stats.rejectedDeletes).toBe(0);
});

test('an ENI tagged for the terminating node but attached to another node is neither detached nor deleted', async () => {
  const [node, other] = [await launchNode(clients, world.layout.azs[0].nodeSubnet), await launchNode(clients, world.layout.azs[0].nodeSubnet)];
  const moved = await attachedEni(node, other, 1);

  const result = await handler(eventFor('terminate.json', node));

  expect(result).toMatchObject({ outcome: 'released', interfaces: [] });
  const [still] = (await clients.ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [moved] }))).NetworkInterfaces ?? [];
  expect(still?.Attachment).toMatchObject({ InstanceId: other, Status: 'attached' });
  const stats = await control().stats();
  expect(stats.calls['ec2:DetachNetworkInterface']).toBeUndefined();
  expect(stats.calls['ec2:DeleteNetworkInterface']).toBeUndefined();
});
