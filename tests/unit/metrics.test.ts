/**
 * The metrics as CloudWatch gets them: the EMF documents the functions write to stdout, read back
 * and checked for names, units, values and dimensions against the catalog (metrics/catalog.ts).
 * The launch, failed launch and terminate paths run the lifecycle app over aws-sdk-client-mock
 * (tests/support/mocked-node.ts), the sweep over the fake EC2 port; the emulator tests
 * (tests/integration/metrics.test.ts) run the same paths against moto.
 */
import { CreateNetworkInterfaceCommand, AttachNetworkInterfaceCommand, DeleteNetworkInterfaceCommand, DescribeNetworkInterfacesCommand, DetachNetworkInterfaceCommand, EC2Client } from '@aws-sdk/client-ec2';
import { AutoScalingClient, CompleteLifecycleActionCommand } from '@aws-sdk/client-auto-scaling';
import { GetParametersByPathCommand } from '@aws-sdk/client-ssm';
import { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import {
  BASE_DIMENSIONS,
  createFunctionMetrics,
  DIMENSION_VALUES,
  fullDimensionSets,
  METRICS,
  METRICS_NAMESPACE,
  SERVICE_NAME,
  silentLog,
  sweepOrphans,
  TAG_ORPHAN_SINCE,
} from 'multus-core';
import { createHookInstallerApp, type HooksPort } from 'multus-core/hooks';
import type { EmfDocument, EmfSample } from '../../scripts/lib/emf';
import { captureEmf, samplesOf } from '../support/emf';
import { eni, FakeEc2 } from '../support/fake-ec2';
import { app, ec2CreatesInterfaces, env, fixture, givenNode, INSTANCE, mocks, ours, SUBNETS } from '../support/mocked-node';

const { ec2, asg, ssm } = mocks;
const FUNCTION = 'eks-multus-eni-LifecycleFunction-Ab12Cd34';
/** Every metric name some test of this file saw emitted: at the end, the whole catalog. */
const seen = new Set<string>();

function record<T extends { emf: EmfDocument[]; samples: EmfSample[] }>(out: T): T {
  for (const s of out.samples) seen.add(s.name);
  // Low cardinality: no value of any dimension is an instance, ENI or subnet id.
  for (const s of out.samples) for (const v of Object.values(s.dimensions)) expect(v).not.toMatch(/^(i|eni|subnet)-[0-9a-f]+$/);
  // Every document: our namespace, dimension sets the catalog names for each of its metrics, units of the catalog.
  for (const doc of out.emf) {
    for (const d of doc._aws.CloudWatchMetrics) {
      expect(d.Namespace).toBe(METRICS_NAMESPACE);
      for (const m of d.Metrics) {
        const def = Object.values(METRICS).find((x) => x.name === m.Name);
        expect({ name: m.Name, known: def !== undefined }).toEqual({ name: m.Name, known: true });
        expect(m.Unit).toBe(def!.unit);
        for (const set of d.Dimensions) expect(fullDimensionSets(def!)).toContainEqual(set);
      }
    }
  }
  return out;
}

const base = (fn = FUNCTION) => ({ service: SERVICE_NAME, function: fn });

beforeAll(() => {
  // As Lambda sets it for an on-demand container: Powertools counts a cold start only then.
  process.env.AWS_LAMBDA_INITIALIZATION_TYPE = 'on-demand';
});

afterAll(() => {
  delete process.env.AWS_LAMBDA_INITIALIZATION_TYPE;
});

beforeEach(() => {
  ec2.reset();
  asg.reset();
  ssm.reset();
});

describe('the catalog', () => {
  test('names are unique, units are CloudWatch units Powertools knows, dimensions are the few the catalog lists', () => {
    const defs = Object.values(METRICS);
    expect(new Set(defs.map((m) => m.name)).size).toBe(defs.length);
    for (const m of defs) {
      expect(Object.values(MetricUnit)).toContain(m.unit);
      expect(m.dimensionSets.length).toBeGreaterThan(0);
      for (const set of m.dimensionSets) {
        for (const d of set) expect(Object.keys(DIMENSION_VALUES)).toContain(d);
        expect(set.length).toBeLessThanOrEqual(2);
      }
      expect(m.emittedBy.length).toBeGreaterThan(0);
      expect(m.description.length).toBeGreaterThan(20);
    }
    expect(BASE_DIMENSIONS).toEqual(['service', 'function']);
  });
});

describe('the Powertools adapter', () => {
  test('one EMF document per set of dimension values, counts summed, written on flush only, in our namespace', async () => {
    const metrics = createFunctionMetrics({ role: 'lifecycle', log: silentLog, env: { AWS_LAMBDA_FUNCTION_NAME: FUNCTION } });
    const before = await captureEmf(async () => {
      metrics.add(METRICS.interfacesCreated, 2);
      metrics.add(METRICS.interfacesCreated, 1);
      metrics.add(METRICS.launches, 1, { outcome: 'attached', lifecycleResult: 'CONTINUE', availabilityZone: 'us-east-1a' });
      metrics.add(METRICS.launches, 1, { outcome: 'failed', lifecycleResult: 'ABANDON' });
      metrics.add(METRICS.launchDuration, 120);
      metrics.add(METRICS.launchDuration, 80);
    });
    expect(before.emf).toEqual([]); // nothing is written before the flush
    const out = record(
      await captureEmf(async () => {
        metrics.flush();
        metrics.flush(); // a second flush has nothing left to write
      }),
    );

    expect(out.emf).toHaveLength(3);
    const [counts, attached, failed] = out.emf;
    expect(counts).toMatchObject({ ...base(), InterfacesCreated: 3, LaunchDuration: [120, 80] });
    expect(counts._aws.CloudWatchMetrics).toEqual([
      { Namespace: 'EksMultusEni', Dimensions: [['service', 'function']], Metrics: [{ Name: 'InterfacesCreated', Unit: 'Count' }, { Name: 'LaunchDuration', Unit: 'Milliseconds' }] },
    ]);
    expect(attached).toMatchObject({ ...base(), outcome: 'attached', lifecycleResult: 'CONTINUE', availabilityZone: 'us-east-1a', Launches: 1 });
    expect(attached._aws.CloudWatchMetrics[0].Dimensions).toEqual([
      ['service', 'function', 'outcome'],
      ['service', 'function', 'lifecycleResult'],
      ['service', 'function', 'outcome', 'availabilityZone'],
    ]);
    // No AZ: the per-AZ set is left out, the others stay.
    expect(failed._aws.CloudWatchMetrics[0].Dimensions).toEqual([
      ['service', 'function', 'outcome'],
      ['service', 'function', 'lifecycleResult'],
    ]);
    expect(samplesOf(out.samples, 'Launches').filter((s) => s.dimensions.outcome === 'failed' && !s.dimensions.availabilityZone)).toEqual([
      { dimensions: { ...base(), outcome: 'failed' }, values: [1], unit: 'Count' },
    ]);
  });

  test('the cold start: once per container, with the base dimensions; `function` is the role outside Lambda', async () => {
    const provisioned = await captureEmf(async () => {
      process.env.AWS_LAMBDA_INITIALIZATION_TYPE = 'provisioned-concurrency';
      createFunctionMetrics({ role: 'sweeper', log: silentLog, env: {} }).coldStart();
      process.env.AWS_LAMBDA_INITIALIZATION_TYPE = 'on-demand';
    });
    expect(provisioned.emf).toEqual([]); // a container warmed ahead is no cold start
    const metrics = createFunctionMetrics({ role: 'sweeper', log: silentLog, env: {} });
    const out = record(
      await captureEmf(async () => {
        metrics.coldStart();
        metrics.coldStart();
      }),
    );
    expect(samplesOf(out.samples, METRICS.coldStarts.name)).toEqual([{ dimensions: base('sweeper'), values: [1], unit: 'Count' }]);
  });

  test('nothing recorded, nothing written; a value that is not a number is dropped', async () => {
    const metrics = createFunctionMetrics({ role: 'lifecycle', log: silentLog, env: {} });
    const out = await captureEmf(async () => {
      metrics.add(METRICS.launchDuration, Number.NaN);
      metrics.flush();
    });
    expect(out.emf).toEqual([]);
  });
});

/** The lifecycle app over the mocked clients, with metrics named like a deployed function's. */
function lifecycleApp() {
  const logger = new Logger({ serviceName: 'test', logLevel: 'SILENT' });
  return app({ logger, metrics: createFunctionMetrics({ role: 'lifecycle', log: logger, env: { AWS_LAMBDA_FUNCTION_NAME: FUNCTION } }) });
}

/** The value of one metric under exactly the dimensions given (the base ones added). */
function valueOf(samples: readonly EmfSample[], name: string, dimensions: Record<string, string> = {}): number[] | undefined {
  const want = { ...base(), ...dimensions };
  return samples.find((s) => s.name === name && JSON.stringify(Object.entries(s.dimensions).sort()) === JSON.stringify(Object.entries(want).sort()))?.values;
}

describe('the lifecycle function', () => {
  test('a launch: Launches by outcome, result and AZ, its duration, the ENIs created, no race, no heartbeat, the cold start', async () => {
    givenNode([]);
    ec2CreatesInterfaces();

    const out = record(await captureEmf(() => lifecycleApp().handle(fixture('launch.json'))));

    expect(out.result.outcome).toBe('attached');
    expect(valueOf(out.samples, 'ColdStart')).toEqual([1]);
    expect(valueOf(out.samples, 'Launches', { outcome: 'attached' })).toEqual([1]);
    expect(valueOf(out.samples, 'Launches', { lifecycleResult: 'CONTINUE' })).toEqual([1]);
    expect(valueOf(out.samples, 'Launches', { outcome: 'attached', availabilityZone: 'us-east-1a' })).toEqual([1]);
    expect(valueOf(out.samples, 'InterfacesCreated')).toEqual([SUBNETS.length]);
    expect(valueOf(out.samples, 'InterfacesAdopted')).toEqual([0]);
    expect(valueOf(out.samples, 'AddressRacesLost')).toEqual([0]);
    expect(valueOf(out.samples, 'HeartbeatsSent')).toEqual([0]);
    const [duration] = samplesOf(out.samples, 'LaunchDuration');
    expect(duration).toMatchObject({ dimensions: base(), unit: 'Milliseconds' });
    expect(duration.values).toHaveLength(1);
    expect(duration.values[0]).toBeGreaterThanOrEqual(0);
    expect(duration.values[0]).toBeLessThan(10_000);
    expect(samplesOf(out.samples, 'SettingsErrors')).toEqual([]);
  });

  test('a failed launch: Launches failed and ABANDON, the rolled-back ENI, no ENI created', async () => {
    givenNode([]);
    ec2CreatesInterfaces({ attach: false });
    ec2.on(AttachNetworkInterfaceCommand).rejects(Object.assign(new Error('no'), { name: 'UnauthorizedOperation' }));
    ec2.on(DescribeNetworkInterfacesCommand, { NetworkInterfaceIds: ['eni-a'] }).resolves({ NetworkInterfaces: [{ NetworkInterfaceId: 'eni-a', Status: 'available' }] });

    const out = record(await captureEmf(() => lifecycleApp().handle(fixture('launch.json'))));

    expect(out.result).toMatchObject({ outcome: 'failed', lifecycleResult: 'ABANDON' });
    expect(valueOf(out.samples, 'Launches', { outcome: 'failed' })).toEqual([1]);
    expect(valueOf(out.samples, 'Launches', { lifecycleResult: 'ABANDON' })).toEqual([1]);
    expect(valueOf(out.samples, 'Launches', { outcome: 'failed', availabilityZone: 'us-east-1a' })).toEqual([1]);
    expect(valueOf(out.samples, 'InterfacesRolledBack')).toEqual([1]);
    expect(samplesOf(out.samples, 'InterfacesCreated')).toEqual([]);
    expect(samplesOf(out.samples, 'SettingsErrors')).toEqual([]); // an AWS refusal, not the settings
  });

  test('a launch refused for its settings: SettingsErrors, and the launch failed', async () => {
    givenNode([]);
    ssm.on(GetParametersByPathCommand).resolves({
      Parameters: [
        { Name: `${env.CONFIG_PATH}/subnets/us-east-1a`, Value: SUBNETS.join(','), Type: 'StringList' },
        { Name: `${env.CONFIG_PATH}/source-dest-check`, Value: 'maybe', Type: 'String' },
      ],
    });

    const out = record(await captureEmf(() => lifecycleApp().handle(fixture('launch.json'))));

    expect(out.result).toMatchObject({ outcome: 'failed', reason: expect.stringContaining('SettingsError') });
    expect(valueOf(out.samples, 'SettingsErrors')).toEqual([1]);
    expect(valueOf(out.samples, 'Launches', { outcome: 'failed' })).toEqual([1]);
  });

  test('a terminate: Terminations and the ENIs released (not those going with the instance)', async () => {
    const goes = ours('eni-goes', 1, { deleteOnTermination: true });
    const loose = ours('eni-loose', 2);
    ec2.on(DescribeNetworkInterfacesCommand, { Filters: [{ Name: 'tag:eks-multus-eni/instance-id', Values: [INSTANCE] }] }).resolves({ NetworkInterfaces: [goes, loose] });
    ec2.on(DescribeNetworkInterfacesCommand, { NetworkInterfaceIds: ['eni-loose'] }).resolves({ NetworkInterfaces: [loose] });
    ec2.on(DetachNetworkInterfaceCommand).resolves({});
    ec2.on(DeleteNetworkInterfaceCommand).resolves({});
    asg.on(CompleteLifecycleActionCommand).resolves({});

    const out = record(await captureEmf(() => lifecycleApp().handle(fixture('terminate.json'))));

    expect(out.result.outcome).toBe('released');
    expect(valueOf(out.samples, 'Terminations')).toEqual([1]);
    expect(valueOf(out.samples, 'InterfacesReleased')).toEqual([1]);
    expect(samplesOf(out.samples, 'Launches')).toEqual([]);
  });

  test("Auto Scaling's unsuccessful launch of the node group: counted by cause, nothing done", async () => {
    const event = (message: string) => ({
      source: 'aws.autoscaling',
      'detail-type': 'EC2 Instance Launch Unsuccessful',
      detail: { StatusCode: 'Cancelled', AutoScalingGroupName: 'eks-multus-ng-1', EC2InstanceId: INSTANCE, StatusMessage: message },
    });
    const lifecycle = lifecycleApp();
    const out = record(
      await captureEmf(async () => {
        await lifecycle.handle(event("Instance failed to complete user's Lifecycle Action: Lifecycle Action with token 1 was abandoned: Heartbeat Timeout"));
        await lifecycle.handle(event("Instance failed to complete user's Lifecycle Action: Lifecycle Action with token 2 was abandoned: Lifecycle Action Completed with ABANDON Result"));
        return lifecycle.handle(event('We currently do not have sufficient m5.large capacity in the Availability Zone you requested'));
      }),
    );

    expect(out.result).toMatchObject({ outcome: 'ignored', lifecycleResult: null, reason: expect.stringContaining('(other)') });
    expect(valueOf(out.samples, 'UnsuccessfulLaunches', { cause: 'hook-timeout' })).toEqual([1]);
    expect(valueOf(out.samples, 'UnsuccessfulLaunches', { cause: 'abandoned' })).toEqual([1]);
    expect(valueOf(out.samples, 'UnsuccessfulLaunches', { cause: 'other' })).toEqual([1]);
    expect(ec2.calls()).toEqual([]);
    expect(asg.calls()).toEqual([]);
  });

  test('a reconcile: the changes it made, by action', async () => {
    givenNode([ours('eni-a', 1, { deleteOnTermination: true })]);
    ec2.on(CreateNetworkInterfaceCommand).callsFake((input) => ({
      NetworkInterface: { NetworkInterfaceId: 'eni-b', SubnetId: input.SubnetId, SourceDestCheck: true },
    }));
    ec2.on(AttachNetworkInterfaceCommand).resolves({ AttachmentId: 'att-b' });

    const out = record(await captureEmf(() => lifecycleApp().handle({ ...fixture('reconcile.json'), detail: { instanceIds: [INSTANCE] } })));

    expect(out.result.outcome).toBe('reconciled');
    expect(valueOf(out.samples, 'ReconcileChanges', { action: 'create' })).toEqual([1]);
    expect(samplesOf(out.samples, 'ReconcileChanges').map((s) => s.dimensions.action)).toEqual(['create']); // in-place is no change
    expect(valueOf(out.samples, 'InterfacesCreated')).toEqual([1]);
  });
});

describe('the sweeper', () => {
  test('a sweep: the orphans found, those deleted, those that failed', async () => {
    const SUBNET = 'subnet-0000000000000000a';
    const owner = 'i-0aaaaaaaaaaaaaaa1';
    const tags = (extra: Record<string, string> = {}) => ({ 'eks-multus-eni/instance-id': owner, ...extra });
    const fake = new FakeEc2({
      interfaces: [
        eni('eni-old', SUBNET, { tags: tags({ [TAG_ORPHAN_SINCE]: '2000-01-01T00:00:00.000Z' }) }),
        eni('eni-older', SUBNET, { tags: tags({ [TAG_ORPHAN_SINCE]: '2000-01-01T00:00:00.000Z' }) }),
        eni('eni-new', SUBNET, { tags: tags() }),
        eni('eni-foreign', SUBNET, {}),
      ],
      instanceStates: { [owner]: 'running' },
    });
    fake.failures.set('deleteInterface:eni-older', 'UnauthorizedOperation');
    const metrics = createFunctionMetrics({ role: 'sweeper', log: silentLog, env: { AWS_LAMBDA_FUNCTION_NAME: FUNCTION } });

    const out = record(
      await captureEmf(async () => {
        const summary = await sweepOrphans({ ec2: fake, log: silentLog, release: { sleep: async () => {}, detachTimeoutMs: 1000 }, metrics }, { graceMinutes: 30, dryRun: false });
        metrics.flush();
        return summary;
      }),
    );

    expect(out.result).toMatchObject({ deleted: 1, failed: 1 });
    expect(valueOf(out.samples, 'SweepCandidates')).toEqual([2]);
    expect(valueOf(out.samples, 'SweepDeletions')).toEqual([1]);
    expect(valueOf(out.samples, 'SweepFailures')).toEqual([1]);
  });
});

describe('the hook installer', () => {
  test('its answer to CloudFormation, by request type and status', async () => {
    const logger = new Logger({ serviceName: 'test', logLevel: 'SILENT' });
    const installer = createHookInstallerApp({
      clients: { ec2: new EC2Client({}), autoscaling: new AutoScalingClient({}), ssm: {} as never, eks: {} as never },
      logger,
      hooks: {} as HooksPort,
      reconciler: { reconcile: async () => { throw new Error('not called'); } },
      ec2: { describeInstanceStates: async () => new Map() },
      send: async () => {},
      env: { AWS_LAMBDA_FUNCTION_NAME: FUNCTION },
      metrics: createFunctionMetrics({ role: 'hook-installer', log: logger, env: { AWS_LAMBDA_FUNCTION_NAME: FUNCTION } }),
    });
    // A delete whose properties were never valid (a create that failed on them): nothing to remove.
    const request = { RequestType: 'Delete', ResponseURL: 'https://example.com/r', StackId: 'arn:aws:cloudformation:us-east-1:123456789012:stack/s/1', RequestId: 'r', LogicalResourceId: 'NodegroupLifecycleHooks', PhysicalResourceId: 'p', ResourceProperties: {} };

    const out = record(await captureEmf(() => installer.handle(request)));

    expect(out.result.Status).toBe('SUCCESS');
    expect(valueOf(out.samples, 'CustomResourceResponses', { requestType: 'Delete', status: 'SUCCESS' })).toEqual([1]);
    expect(valueOf(out.samples, 'ColdStart')).toEqual([1]);
  });
});

test('every metric of the catalog is one that a path above emits (run after them)', () => {
  expect([...seen].sort()).toEqual(Object.values(METRICS).map((m) => m.name).sort());
});
