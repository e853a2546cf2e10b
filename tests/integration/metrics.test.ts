/**
 * The metrics against the emulator: the handlers (functions/, as Lambda loads them) on the
 * events/ fixtures, through the fidelity proxy (lifecycle completion, in-use address rejections),
 * and the EMF they write to stdout read back: names, units, values and dimensions of a launch, a
 * failed launch, a terminate and a sweep. Outside Lambda the `function` dimension is the role
 * (Lambda gives the function's name).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ModifyNetworkInterfaceAttributeCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { METRICS_NAMESPACE, SERVICE_NAME } from 'multus-core';
import { handler as lifecycle } from '../../functions/lifecycle/handler';
import { handler as sweeper } from '../../functions/sweeper/handler';
import type { EmfSample } from '../../scripts/lib/emf';
import { control, freshVpcEachTest } from '../support/context';
import { captureEmf } from '../support/emf';
import { createOrphan, EVENTS_DIR, eventFor, launchNode, multusInterfaces, putSetting, putSettings } from '../support/world';

const world = freshVpcEachTest(['us-east-1a']);
const { clients } = world;

/** name -> [dimensions beyond service and function, values, unit], for every sample. */
function table(samples: readonly EmfSample[]) {
  return samples.map((s) => {
    const { service, function: fn, ...own } = s.dimensions;
    expect({ service, fn, namespace: s.namespace }).toEqual({ service: SERVICE_NAME, fn: expect.stringMatching(/^(lifecycle|sweeper)$/), namespace: METRICS_NAMESPACE });
    return [s.name, own, s.values, s.unit];
  });
}

const NO_DIMENSIONS = {};

/** The rows of one launch answered: by outcome, by result, by outcome in its AZ. */
const launch = (outcome: string, lifecycleResult: string) => [
  ['Launches', { outcome }, [1], 'Count'],
  ['Launches', { lifecycleResult }, [1], 'Count'],
  ['Launches', { outcome, availabilityZone: 'us-east-1a' }, [1], 'Count'],
];

test('a launch in lowest-free mode that loses one address race', async () => {
  await putSettings(clients, world.layout, { 'use-ips-from-start-of-subnet': 'true' });
  const instanceId = await launchNode(clients, world.layout.azs[0].nodeSubnet);
  await control().inject({ service: 'ec2', action: 'CreateNetworkInterface', code: 'InvalidIPAddress.InUse', count: 1 });

  const { result, samples } = await captureEmf(() => lifecycle(eventFor('launch.json', instanceId)));

  expect(result).toMatchObject({ outcome: 'attached', lifecycleResult: 'CONTINUE' });
  const rows = table(samples);
  expect(rows).toEqual(
    expect.arrayContaining([
      ...launch('attached', 'CONTINUE'),
      ['InterfacesCreated', NO_DIMENSIONS, [2], 'Count'],
      ['InterfacesAdopted', NO_DIMENSIONS, [0], 'Count'],
      ['AddressRacesLost', NO_DIMENSIONS, [1], 'Count'],
      ['HeartbeatsSent', NO_DIMENSIONS, [0], 'Count'],
      ['LaunchDuration', NO_DIMENSIONS, [expect.any(Number)], 'Milliseconds'],
    ]),
  );
  expect(rows.map((r) => r[0])).not.toContain('SettingsErrors');
});

test('a failed launch: the settings name a subnet EC2 does not know; ABANDON, a settings error, nothing created', async () => {
  await putSetting(clients, 'subnets/us-east-1a', 'subnet-0123456789abcdef0', 'StringList');
  const instanceId = await launchNode(clients, world.layout.azs[0].nodeSubnet);

  const { result, samples } = await captureEmf(() => lifecycle(eventFor('launch.json', instanceId)));

  expect(result).toMatchObject({ outcome: 'failed', lifecycleResult: 'ABANDON' });
  const rows = table(samples);
  expect(rows).toEqual(
    expect.arrayContaining([
      ...launch('failed', 'ABANDON'),
      ['SettingsErrors', NO_DIMENSIONS, [1], 'Count'],
    ]),
  );
  expect(rows.map((r) => r[0])).not.toContain('InterfacesCreated');
});

test('a node without a lifecycle hook (state-change event): counted as a launch by outcome only (no result is sent); an untagged instance counts nothing', async () => {
  await putSettings(clients, world.layout);
  const ours = await launchNode(clients, world.layout.azs[0].nodeSubnet);
  const other = await launchNode(clients, world.layout.azs[0].nodeSubnet, { optIn: false });
  const stateChange = (instanceId: string) => {
    const event = JSON.parse(readFileSync(join(EVENTS_DIR, 'state-change.json'), 'utf8'));
    event.detail = { 'instance-id': instanceId, state: 'pending' };
    return event;
  };

  const attached = await captureEmf(() => lifecycle(stateChange(ours)));
  const skipped = await captureEmf(() => lifecycle(stateChange(other)));

  expect(attached.result).toMatchObject({ outcome: 'attached', lifecycleResult: null });
  const rows = table(attached.samples);
  expect(rows).toEqual(
    expect.arrayContaining([
      ['Launches', { outcome: 'attached' }, [1], 'Count'],
      ['Launches', { outcome: 'attached', availabilityZone: 'us-east-1a' }, [1], 'Count'],
      ['InterfacesCreated', NO_DIMENSIONS, [2], 'Count'],
    ]),
  );
  expect(rows.filter((r) => r[0] === 'Launches' && 'lifecycleResult' in (r[1] as object))).toEqual([]);
  expect(skipped.result).toMatchObject({ outcome: 'skipped' });
  expect(table(skipped.samples).map((r) => r[0])).not.toContain('Launches');
});

test('a terminate: the ENIs released counted, not those that go with the instance (DeleteOnTermination, kept by the proxy)', async () => {
  await putSettings(clients, world.layout);
  const instanceId = await launchNode(clients, world.layout.azs[0].nodeSubnet);
  await lifecycle(eventFor('launch.json', instanceId));
  // The launch set DeleteOnTermination=true on both; one turned off by hand is the one to release.
  const [, kept] = await multusInterfaces(clients, instanceId);
  await clients.ec2.send(
    new ModifyNetworkInterfaceAttributeCommand({ NetworkInterfaceId: kept.NetworkInterfaceId, Attachment: { AttachmentId: kept.Attachment!.AttachmentId, DeleteOnTermination: false } }),
  );

  const { result, samples } = await captureEmf(() => lifecycle(eventFor('terminate.json', instanceId)));

  expect(result).toMatchObject({ outcome: 'released' });
  expect(table(samples)).toEqual([
    ['Terminations', NO_DIMENSIONS, [1], 'Count'],
    ['InterfacesReleased', NO_DIMENSIONS, [1], 'Count'],
  ]);
});

test('a sweep: an orphan of a terminated node found and deleted', async () => {
  const gone = await launchNode(clients, world.layout.azs[0].nodeSubnet);
  await createOrphan(clients, world.layout.azs[0].multusSubnets[0], gone, 1);
  await clients.ec2.send(new TerminateInstancesCommand({ InstanceIds: [gone] }));

  const { result, samples } = await captureEmf(() => sweeper(JSON.parse(readFileSync(join(EVENTS_DIR, 'scheduled.json'), 'utf8'))));

  expect(result).toMatchObject({ deleted: 1, failed: 0 });
  expect(table(samples)).toEqual([
    ['SweepCandidates', NO_DIMENSIONS, [1], 'Count'],
    ['SweepDeletions', NO_DIMENSIONS, [1], 'Count'],
    ['SweepFailures', NO_DIMENSIONS, [0], 'Count'],
  ]);
});
