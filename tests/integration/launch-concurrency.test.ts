/**
 * Concurrent launches, through the fidelity proxy: moto accepts an address or a device index that
 * is already taken, EC2 does not, and the proxy answers like EC2 (serialising check-and-create so
 * the race is real). Shows lowest-free allocation surviving a burst and duplicate deliveries of
 * the same event converging on exactly one ENI per device index.
 */
import { handler } from '../../functions/lifecycle/handler';
import { cleanEmulatorEachTest, control } from '../support/context';
import {
  createVpc,
  eventFor,
  launchNode,
  multusInterfaces,
  ourInterfaces,
  putSettings,
  worldClients,
  type VpcLayout,
} from '../support/world';

const clients = worldClients();
let layout: VpcLayout;

cleanEmulatorEachTest();

test('a burst of 20 concurrent launches in one subnet, lowest-free on: all succeed with distinct, compact addresses', async () => {
  layout = await createVpc(clients, ['us-east-1a'], 1);
  await putSettings(clients, layout, { 'use-ips-from-start-of-subnet': 'true' });
  const nodes = await Promise.all(Array.from({ length: 20 }, () => launchNode(clients, layout.azs[0].nodeSubnet)));

  const results = await Promise.all(nodes.map((id) => handler(eventFor('launch.json', id))));

  expect(results.map((r) => `${r.outcome} ${r.reason ?? ''}`)).toEqual(nodes.map(() => 'attached '));
  // Lost races are bounded: after its first loss a node takes the free address of its own rank
  // among the nodes still waiting, instead of racing all the others for the next one.
  const { rejectedCreates } = await control().stats();
  expect(rejectedCreates).toBeLessThanOrEqual(2 * nodes.length);
  const addresses = results.map((r) => r.interfaces[0].privateIpAddress);
  expect(new Set(addresses).size).toBe(20);
  // Compact: exactly the 20 lowest usable addresses of 10.0.1.0/24 (.0-.3 are AWS's).
  const expected = Array.from({ length: 20 }, (_, i) => `10.0.1.${i + 4}`);
  expect([...addresses].sort()).toEqual([...expected].sort());
  expect(await ourInterfaces(clients)).toHaveLength(20);
  const completions = await control().completions();
  expect(completions.filter((c) => c.accepted && c.result === 'CONTINUE')).toHaveLength(20);
});

test('two concurrent deliveries of the same event: exactly n ENIs on the node, none left over', async () => {
  layout = await createVpc(clients, ['us-east-1a'], 2);
  await putSettings(clients, layout, { 'use-ips-from-start-of-subnet': 'true' });
  const instanceId = await launchNode(clients, layout.azs[0].nodeSubnet);
  const event = eventFor('launch.json', instanceId);

  const results = await Promise.all([handler(event), handler(event)]);

  expect(results.map((r) => r.outcome)).toEqual(['attached', 'attached']);
  const enis = await multusInterfaces(clients, instanceId);
  expect(enis.map((e) => e.Attachment?.DeviceIndex)).toEqual([1, 2]);
  expect(results[0].interfaces.map((i) => i.networkInterfaceId)).toEqual(enis.map((e) => e.NetworkInterfaceId));
  expect(results[1].interfaces.map((i) => i.networkInterfaceId)).toEqual(enis.map((e) => e.NetworkInterfaceId));
  expect(await ourInterfaces(clients)).toHaveLength(2);
  const accepted = (await control().completions()).filter((c) => c.accepted);
  expect(accepted).toEqual([expect.objectContaining({ instanceId, result: 'CONTINUE' })]);
});

test('a lost race when more nodes wait than addresses remain: the node still gets one of the free addresses', async () => {
  // A /28 multus subnet: 11 usable addresses, 8 of them taken, 3 free; 9 other opted-in nodes
  // launched recently and still without an address there (more than the 3 free ones).
  layout = await createVpc(clients, ['us-east-1a'], 1, 28);
  await putSettings(clients, layout, { 'use-ips-from-start-of-subnet': 'true' });
  const subnet = layout.azs[0].multusSubnets[0];
  const { CreateNetworkInterfaceCommand } = await import('@aws-sdk/client-ec2');
  for (let i = 4; i < 12; i++) {
    await clients.ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: subnet, PrivateIpAddress: `10.0.1.${i}` }));
  }
  const nodes = await Promise.all(Array.from({ length: 10 }, () => launchNode(clients, layout.azs[0].nodeSubnet)));
  const last = [...nodes].sort().pop()!; // the highest rank among the waiting nodes
  // Its first try loses (as if another node took the address a moment earlier).
  await control().inject({ service: 'ec2', action: 'CreateNetworkInterface', code: 'InvalidIPAddress.InUse', count: 1 });

  const result = await handler(eventFor('launch.json', last));

  expect(result).toMatchObject({ outcome: 'attached' });
  expect(['10.0.1.12', '10.0.1.13', '10.0.1.14']).toContain(result.interfaces[0].privateIpAddress);
});
