/**
 * Every metric the functions emit, defined once: name, unit, dimension sets and where it comes
 * from. The code records metrics only through these definitions (metrics/recorder.ts), and the
 * template tests check each alarm and dashboard widget of template.yaml against them, so a metric
 * name or dimension is never typed in two places that could drift apart. Pure: no AWS import.
 *
 * Dimensions are few and of low cardinality: every metric carries `service` (Powertools' default
 * dimension, SERVICE_NAME) and `function` (the Lambda function's name); some add one or two of
 * the names below. Never an instance, ENI or subnet id: those are in the logs.
 */

/** The one CloudWatch namespace of every metric of ours. */
export const METRICS_NAMESPACE = 'EksMultusEni';

/** The dimensions every metric carries, in the order EMF lists them. */
export const BASE_DIMENSIONS = ['service', 'function'] as const;

/** The functions of the stack, by what they do (the `function` dimension holds the Lambda function's name). */
export type FunctionRole = 'lifecycle' | 'hook-installer' | 'sweeper';

/** Dimensions some metrics add to the base ones, with the values they take. */
export const DIMENSION_VALUES = {
  /** The launch's outcome (the handler result's `outcome`). */
  outcome: ['attached', 'skipped', 'failed'],
  /** The answer given to the lifecycle action. */
  lifecycleResult: ['CONTINUE', 'ABANDON'],
  /** The node's Availability Zone (a handful per region). */
  availabilityZone: [] as string[],
  /** What a reconcile changed on a node's device index (not `in-place`, which changes nothing). */
  action: ['create', 'adopt', 'fix', 'remove'],
  /** Why Auto Scaling says a launch of the node group was unsuccessful (from its status message). */
  cause: ['hook-timeout', 'abandoned', 'other'],
  /** CloudFormation custom resource requests. */
  requestType: ['Create', 'Update', 'Delete'],
  status: ['SUCCESS', 'FAILED'],
} as const;

export type DimensionName = keyof typeof DIMENSION_VALUES;

/** The CloudWatch units we use (Powertools' MetricUnit values of the same names). */
export type MetricUnitName = 'Count' | 'Milliseconds';

export interface MetricDefinition {
  readonly name: string;
  readonly unit: MetricUnitName;
  /**
   * The dimension sets the metric is published with, each beyond BASE_DIMENSIONS (`[]`: the base
   * ones alone). One value is published under every set whose dimensions it has values for, so an
   * alarm or a graph picks the set it needs (all launches that failed, whatever their AZ).
   */
  readonly dimensionSets: readonly (readonly DimensionName[])[];
  /** The functions that emit it. */
  readonly emittedBy: readonly FunctionRole[];
  /** What one data point means, and when it is emitted. */
  readonly description: string;
}

function metric(name: string, unit: MetricUnitName, emittedBy: readonly FunctionRole[], description: string, dimensionSets: readonly (readonly DimensionName[])[] = [[]]): MetricDefinition {
  return { name, unit, dimensionSets, emittedBy, description };
}

const ALL: readonly FunctionRole[] = ['lifecycle', 'hook-installer', 'sweeper'];
const NODES: readonly FunctionRole[] = ['lifecycle', 'hook-installer'];

export const METRICS = {
  coldStarts: metric('ColdStart', 'Count', ALL, 'the first invocation of a new container (Powertools captureColdStartMetric)'),
  launches: metric(
    'Launches',
    'Count',
    ['lifecycle'],
    'a launch lifecycle action answered: by outcome (attached, skipped, failed), by the result sent (CONTINUE, ABANDON), and by outcome per AZ; also a node without a lifecycle hook (HooklessNodes) given its ENIs or failed: by outcome only (no result is sent)',
    [['outcome'], ['lifecycleResult'], ['outcome', 'availabilityZone']],
  ),
  launchDuration: metric('LaunchDuration', 'Milliseconds', ['lifecycle'], 'from the launch event reaching the function to the lifecycle action answered'),
  interfacesCreated: metric('InterfacesCreated', 'Count', NODES, 'multus ENIs created and left attached to a node (launch, reconcile, running nodes at deploy)'),
  interfacesAdopted: metric('InterfacesAdopted', 'Count', NODES, 'unattached ENIs of ours found for a node and attached to it (an interrupted earlier delivery)'),
  interfacesReleased: metric('InterfacesReleased', 'Count', NODES, 'ENIs of ours detached and deleted on purpose: terminate (those not going with the instance), reconcile prune'),
  interfacesRolledBack: metric('InterfacesRolledBack', 'Count', NODES, 'ENIs deleted by the rollback of a node that could not be made multus-ready'),
  addressRacesLost: metric('AddressRacesLost', 'Count', NODES, 'creates (or prefix delegations) lost to a concurrent launch in lowest-free mode, each retried on the next free address'),
  heartbeatsSent: metric('HeartbeatsSent', 'Count', ['lifecycle'], 'RecordLifecycleActionHeartbeat calls of a launch (only launches that run past 10 s send any)'),
  terminations: metric('Terminations', 'Count', ['lifecycle'], 'a terminate lifecycle action answered'),
  reconcileChanges: metric('ReconcileChanges', 'Count', NODES, 'device indexes a reconcile (not a dry run) changed, by action', [['action']]),
  settingsErrors: metric(
    'SettingsErrors',
    'Count',
    ALL,
    'work refused for a settings problem: a bad SSM setting, settings that do not fit the node (a missing subnet, one of another AZ, too many interfaces), a bad function environment',
  ),
  unsuccessfulLaunches: metric(
    'UnsuccessfulLaunches',
    'Count',
    ['lifecycle'],
    "Auto Scaling's own EC2 Instance Launch Unsuccessful events of the node group, by cause: hook-timeout (a launch hook's heartbeat timeout passed with no answer), abandoned (an ABANDON answer), other",
    [['cause']],
  ),
  sweepCandidates: metric('SweepCandidates', 'Count', ['sweeper'], 'ENIs of ours a sweep found orphaned (unattached past the grace period, or their instance gone): deleted, or would be in a dry run'),
  sweepDeletions: metric('SweepDeletions', 'Count', ['sweeper'], 'orphaned ENIs a sweep deleted'),
  sweepFailures: metric('SweepFailures', 'Count', ['sweeper'], 'sweep actions (mark, delete, detach) that failed; the next sweep retries'),
  customResourceResponses: metric(
    'CustomResourceResponses',
    'Count',
    ['hook-installer', 'sweeper'],
    'answers sent to CloudFormation (the hook installer; the stack clean-up of the sweeper), by request type and status',
    [['requestType', 'status']],
  ),
} as const satisfies Record<string, MetricDefinition>;

export type MetricKey = keyof typeof METRICS;

/** Every dimension set of a metric as CloudWatch sees it: the base dimensions first. */
export function fullDimensionSets(metric: MetricDefinition): string[][] {
  return metric.dimensionSets.map((set) => [...BASE_DIMENSIONS, ...set]);
}

/** The definition of a metric name, if it is one of ours. */
export function metricNamed(name: string): MetricDefinition | undefined {
  return Object.values(METRICS).find((m) => m.name === name);
}
