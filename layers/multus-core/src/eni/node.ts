/**
 * Bringing one node to the current settings: its multus subnets for its AZ, validated before
 * anything is created, then ensured (idempotent, rolled back on failure). Used by the launch
 * transition and by reconcile; dry-run plans without changing anything, prune removes ENIs of ours
 * that the settings no longer call for.
 */
import type { InstanceView, InterfaceView, SubnetView } from '../ec2/port';
import { parseCidr, type AddressSet } from '../ipv4';
import { assertNodeSettings, securityGroupProblems } from '../settings/check';
import { hasIpv4 } from '../settings/ipv6';
import { asError, awsErrorCode, isSettingsProblem, NodeConfigurationError } from '../errors';
import type { InterfaceResult } from '../lifecycle/result';
import { METRICS, type MetricDefinition } from '../metrics/catalog';
import type { MetricRecorder } from '../metrics/recorder';
import {
  DEFAULT_ON_FAILURE,
  parameterName,
  parseOnFailure,
  parseSettings,
  PRIMARY_INTERFACE_GROUPS,
  SETTING_NAMES,
  type LifecycleResult,
} from '../settings/parse';
import type { SettingsSource } from '../settings/load';
import { TAG_INSTANCE_ID } from '../tags';
import { EnsureError, ensureInterfaces, type EnsureDeps } from './ensure';
import { interfaceGroups } from './groups';
import { isOurs, planInterfaces, strayInterfaces, type SlotPlan } from './plan';
import { pastDeadline, releaseInterface } from './release';

export interface NodeDeps extends EnsureDeps {
  readonly settings: SettingsSource;
  readonly configPath: string;
  /** Adds keys to every later log line (Powertools `appendKeys`). */
  readonly annotate?: (keys: Record<string, string>) => void;
  /** The region the clients talk to (AWS_REGION), for messages. */
  readonly region?: string;
  /** Counts ENIs created, adopted, released and rolled back, races lost, settings errors. */
  readonly metrics?: MetricRecorder;
}

export interface NodeOptions {
  /** Plan only: report what would be done, change nothing. */
  readonly dryRun?: boolean;
  /** Also remove ENIs of ours on the node that the settings no longer call for. */
  readonly prune?: boolean;
  /** The region the event came from: a mismatch with the clients' is named when the instance is not found. */
  readonly eventRegion?: string;
}

export type PlannedAction = 'create' | 'adopt' | 'in-place' | 'fix' | 'remove';

export interface NodeReport {
  readonly instanceId: string;
  readonly outcome: 'attached' | 'skipped' | 'failed' | 'planned';
  readonly availabilityZone?: string;
  readonly interfaces: InterfaceResult[];
  readonly reason?: string;
  /** When failed: the error's name (`DeviceIndexConflictError`, `NodeConfigurationError`, an AWS code...). */
  readonly errorName?: string;
  /** The lifecycle result to use if this is a launch: CONTINUE, or `on-failure` when failed. */
  readonly lifecycleResult: LifecycleResult;
  /** Per device index, what was (or, in dry-run, would be) done. */
  readonly actions: { deviceIndex: number; subnetId: string; networkInterfaceId?: string; action: PlannedAction }[];
  readonly racesLost?: number;
}

const GONE_STATES = new Set(['shutting-down', 'terminated']);

/** What a node's launch reads of its lowest-free subnets before it plans. */
interface SubnetsRead {
  /** The node's own ENIs (in those subnets when read whole; anywhere when found by tag). */
  readonly known: InterfaceView[];
  /** Per subnet, the addresses held: this launch's copies. */
  readonly held: ReadonlyMap<string, AddressSet>;
  /** `whole`: every ENI of the subnets read (no map younger than the cache age); `map`: the container's maps. */
  readonly read: 'whole' | 'map';
}

/**
 * Lowest-free mode's first read. With a map of every subnet younger than the cache age (a warm
 * container): the maps, and the node's own ENIs by tag (one small call, as in EC2-picks mode).
 * Otherwise every ENI of the subnets, one DescribeNetworkInterfaces for all of them, page by page
 * into bit sets, keeping whole only the node's own ENIs; the maps are kept for the next launches.
 * Lowest-free is IPv4 only: an IPv6-only subnet gets no map, and its ENIs are read in the same
 * call only for the node's own.
 */
async function readSubnets(deps: NodeDeps, instanceId: string, subnetIds: readonly string[], subnets: ReadonlyMap<string, SubnetView>): Promise<SubnetsRead> {
  const ids = [...new Set(subnetIds)];
  const subnetOf = (subnetId: string) => {
    const subnet = subnets.get(subnetId);
    if (!subnet) throw new Error(`subnet ${subnetId} was not described`);
    return subnet;
  };
  const lowestFree = ids.filter((id) => hasIpv4(subnetOf(id)));
  const maps = lowestFree.map((id) => deps.maps?.get(id));
  if (maps.every((m) => m !== undefined)) {
    const known = await deps.ec2.describeInterfacesByTag(TAG_INSTANCE_ID, instanceId);
    return { known, held: new Map(lowestFree.map((id, i) => [id, maps[i] as AddressSet])), read: 'map' };
  }
  const blocks = ids.map((subnetId) => {
    const subnet = subnetOf(subnetId);
    return hasIpv4(subnet) ? { subnetId, block: parseCidr(subnet.cidrBlock) } : { subnetId };
  });
  const scan = await deps.ec2.scanSubnets({ subnets: blocks, ownerTag: TAG_INSTANCE_ID, keep: instanceId });
  for (const [subnetId, held] of scan.held) deps.maps?.put(subnetId, held);
  return { known: scan.kept, held: scan.held, read: 'whole' };
}
/**
 * Codes CreateNetworkInterface answers a bad security group with: missing or malformed ids, and
 * the generic ones (a group of another VPC is an InvalidParameter). The groups are then re-read
 * to tell whether the setting is the cause, instead of parsing the message.
 */
const GROUP_REFUSAL_CODES = new Set(['InvalidGroup.NotFound', 'InvalidSecurityGroupID.NotFound', 'InvalidGroupId.Malformed', 'InvalidParameter', 'InvalidParameterValue', 'InvalidParameterCombination']);

/**
 * After a failed ensure (already rolled back): when CreateNetworkInterface refused it in a way a
 * bad `security-groups` setting explains, the setting's problems, named as the settings check
 * names them; otherwise the error itself.
 */
async function explainFailure(deps: NodeDeps, err: unknown, instance: InstanceView, settings: ReturnType<typeof parseSettings>): Promise<unknown> {
  // Only a list of ids can be the setting's fault (`primary-interface` takes the groups EC2 gave the node).
  const ids = settings.securityGroups;
  if (!(err instanceof EnsureError) || ids === undefined || ids === PRIMARY_INTERFACE_GROUPS || !GROUP_REFUSAL_CODES.has(awsErrorCode(err.cause) ?? '')) return err;
  const problems = await securityGroupProblems(deps.ec2, settings, deps.configPath, instance.vpcId, `the node's VPC ${instance.vpcId}`).catch(() => []);
  return problems.length > 0 ? new NodeConfigurationError(`${problems.join('; ')} (CreateNetworkInterface refused it: ${err.cause.name})`, true) : err;
}

/**
 * DescribeInstances until the instance is visible and `settled` says so, polling with backoff
 * within the release bound: right after launch EC2 may not show it yet (eventual consistency), and
 * an attachment may still be detaching. The last answer is returned either way.
 */
async function describeSettled(deps: NodeDeps, instanceId: string, settled: (i: InstanceView) => boolean): Promise<InstanceView | undefined> {
  let waited = 0;
  let delay = 250;
  for (;;) {
    const instance = await deps.ec2.describeInstance(instanceId);
    if ((instance && settled(instance)) || waited >= Math.min(deps.release.detachTimeoutMs, 10_000) || pastDeadline(deps.deadline)) return instance;
    await deps.release.sleep(delay);
    waited += delay;
    delay = Math.min(delay * 2, 2_000);
  }
}

function plannedActions(plans: readonly SlotPlan[]): NodeReport['actions'] {
  return plans.map((p) => ({
    deviceIndex: p.deviceIndex,
    subnetId: p.subnetId,
    networkInterfaceId: p.kind === 'create' ? undefined : p.eni.networkInterfaceId,
    action: p.kind === 'in-place' ? (p.fixDeleteOnTermination || p.fixSourceDestCheck ? 'fix' : 'in-place') : p.kind,
  }));
}

/** ENIs of ours attached to the instance that the settings do not call for (prune candidates). */
export function unwantedInterfaces(instance: InstanceView, subnetIds: readonly string[], known: readonly InterfaceView[]): InterfaceView[] {
  const ours = new Map(known.filter((e) => isOurs(e, instance.instanceId)).map((e) => [e.networkInterfaceId, e]));
  return instance.interfaces.flatMap((a) => {
    const eni = ours.get(a.networkInterfaceId);
    if (!eni || a.attachment.deviceIndex === 0) return [];
    const wanted = subnetIds[a.attachment.deviceIndex - 1];
    return wanted === eni.subnetId ? [] : [eni];
  });
}

/**
 * Makes sure the node has our ENIs for its AZ's subnets. Never throws for node problems: a failure
 * is reported (outcome `failed`, after rollback) with the `on-failure` lifecycle result.
 */
export async function ensureNode(deps: NodeDeps, instanceId: string, options: NodeOptions = {}): Promise<NodeReport> {
  const { ec2, log } = deps;
  const count = (metric: MetricDefinition, value: number) => deps.metrics?.add(metric, value);
  let onFailure: LifecycleResult = DEFAULT_ON_FAILURE;
  let availabilityZone: string | undefined;
  let failedEnsure: EnsureError | undefined;
  try {
    let instance = await describeSettled(deps, instanceId, () => true);
    if (!instance) {
      const where = deps.region ? ` in ${deps.region}` : '';
      const mismatch =
        options.eventRegion && deps.region && options.eventRegion !== deps.region
          ? `: the event comes from ${options.eventRegion}, but the function talks to ${deps.region} (AWS_REGION)`
          : ' (EC2 does not know it)';
      throw new NodeConfigurationError(`instance ${instanceId} does not exist${where}${mismatch}`);
    }
    if (GONE_STATES.has(instance.state ?? '')) throw new NodeConfigurationError(`instance ${instanceId} is ${instance.state}`);
    availabilityZone = instance.availabilityZone;
    deps.annotate?.({ availabilityZone });
    const skipped = (reason: string): NodeReport => ({
      instanceId,
      outcome: 'skipped',
      availabilityZone,
      interfaces: [],
      reason,
      lifecycleResult: 'CONTINUE',
      actions: [],
    });
    if (!(deps.nodeTagKey in instance.tags)) return skipped(`instance does not carry the opt-in tag ${deps.nodeTagKey}`);
    const raw = await deps.settings.read(deps.configPath);
    // on-failure alone first, so that a problem elsewhere in the settings still uses it.
    onFailure = parseOnFailure(raw, deps.configPath) ?? DEFAULT_ON_FAILURE;
    const settings = parseSettings(raw, deps.configPath);
    const subnetIds = settings.subnetsByAz.get(instance.availabilityZone);
    if (!subnetIds || subnetIds.length === 0) {
      const missing = parameterName(deps.configPath, SETTING_NAMES.subnetsPrefix + instance.availabilityZone);
      log.warn(`no multus subnets for ${instance.availabilityZone}: parameter ${missing} does not exist`, { instanceId });
      return skipped(`no multus subnets configured for ${instance.availabilityZone} (${missing} does not exist)`);
    }
    const { subnets, instanceType } = await assertNodeSettings(ec2, instance, subnetIds, settings, deps.configPath);
    const securityGroups = interfaceGroups(settings, instance, deps.configPath);
    // A multus device index whose attachment is still detaching (an earlier rollback or prune) is
    // neither free nor ours to keep: wait until it is gone.
    const detachingAt = (i: InstanceView) =>
      i.interfaces.some((a) => a.attachment.status === 'detaching' && a.attachment.deviceIndex >= 1 && a.attachment.deviceIndex <= subnetIds.length);
    if (detachingAt(instance)) {
      instance = await describeSettled(deps, instanceId, (i) => !detachingAt(i));
      if (!instance || detachingAt(instance)) throw new NodeConfigurationError(`instance ${instanceId}: an ENI at a multus device index is still detaching`);
    }
    // Lowest-free needs a subnet read only where there is IPv4 to allocate (not in IPv6-only subnets).
    const lowestFree = settings.useIpsFromStartOfSubnet && subnetIds.some((id) => { const s = subnets.get(id); return s !== undefined && hasIpv4(s); });
    const read = lowestFree ? await readSubnets(deps, instanceId, subnetIds, subnets) : undefined;
    let known: InterfaceView[] = read ? read.known : await ec2.describeInterfacesByTag(TAG_INSTANCE_ID, instanceId);
    const unwanted = options.prune ? unwantedInterfaces(instance, subnetIds, known) : [];
    const removals = unwanted.map((e) => ({
      deviceIndex: e.attachment?.deviceIndex ?? -1,
      subnetId: e.subnetId,
      networkInterfaceId: e.networkInterfaceId,
      action: 'remove' as const,
    }));
    if (unwanted.length > 0 && !options.dryRun) {
      for (const eni of unwanted) {
        await releaseInterface(ec2, eni.networkInterfaceId, deps.release);
        count(METRICS.interfacesReleased, 1);
      }
      log.info('pruned ENIs of ours that the settings no longer call for', { instanceId, networkInterfaceIds: unwanted.map((e) => e.networkInterfaceId) });
      instance = (await ec2.describeInstance(instanceId)) ?? instance;
      // The pruned ENIs' addresses stay held in the maps (handed out again after the next whole read).
      known = await ec2.describeInterfacesByTag(TAG_INSTANCE_ID, instanceId);
    }
    const plans = options.dryRun && unwanted.length > 0
      ? planInterfaces({ ...instance, interfaces: instance.interfaces.filter((a) => !unwanted.some((u) => u.networkInterfaceId === a.networkInterfaceId)) }, subnetIds, known, settings.sourceDestCheck)
      : planInterfaces(instance, subnetIds, known, settings.sourceDestCheck);
    if (options.dryRun) {
      return { instanceId, outcome: 'planned', availabilityZone, interfaces: [], lifecycleResult: 'CONTINUE', actions: [...removals, ...plannedActions(plans)] };
    }
    const strays = strayInterfaces(instanceId, known, plans);
    if (strays.length > 0) {
      log.warn('unattached ENIs of ours for this node match no device index; left for the sweeper', {
        instanceId,
        networkInterfaceIds: strays.map((s) => s.networkInterfaceId),
      });
    }
    const ready = instance;
    const ensured = await ensureInterfaces(deps, { instance, plans, subnets, known, strays, settings, securityGroups, held: read?.held, instanceType }).catch(async (err: unknown) => {
      if (err instanceof EnsureError) failedEnsure = err;
      throw await explainFailure(deps, err, ready, settings);
    });
    log.info('multus interfaces in place', {
      instanceId,
      interfaces: ensured.interfaces,
      racesLost: ensured.racesLost,
      ...(read ? { subnetsRead: read.read, addressWindows: ensured.windows, wholeRereads: ensured.wholeRereads } : {}),
    });
    count(METRICS.interfacesCreated, ensured.interfaces.filter((i) => i.action === 'created').length);
    count(METRICS.interfacesAdopted, ensured.interfaces.filter((i) => i.action === 'adopted').length);
    count(METRICS.addressRacesLost, ensured.racesLost);
    return {
      instanceId,
      outcome: 'attached',
      availabilityZone,
      lifecycleResult: 'CONTINUE',
      racesLost: ensured.racesLost,
      interfaces: ensured.interfaces.map((i) => ({
        deviceIndex: i.deviceIndex,
        subnetId: i.subnetId,
        networkInterfaceId: i.networkInterfaceId,
        privateIpAddress: i.privateIpAddress ?? null,
        ipv4Prefixes: [...i.ipv4Prefixes],
        ipv6Addresses: [...i.ipv6Addresses],
        ipv6Prefixes: [...i.ipv6Prefixes],
      })),
      actions: [
        ...removals,
        ...ensured.interfaces.map((i) => ({
          deviceIndex: i.deviceIndex,
          subnetId: i.subnetId,
          networkInterfaceId: i.networkInterfaceId,
          action: (i.action === 'created' ? 'create' : i.action === 'adopted' ? 'adopt' : 'in-place') as PlannedAction,
        })),
      ],
    };
  } catch (err) {
    const error = asError(err);
    log.error('node could not be made multus-ready', { instanceId, error, onFailure });
    if (failedEnsure) {
      count(METRICS.interfacesRolledBack, failedEnsure.rolledBack.length);
      count(METRICS.addressRacesLost, failedEnsure.racesLost);
    }
    if (isSettingsProblem(error)) count(METRICS.settingsErrors, 1);
    return {
      instanceId,
      outcome: 'failed',
      availabilityZone,
      interfaces: [],
      reason: `${error.name}: ${error.message}`,
      errorName: error.name,
      lifecycleResult: onFailure,
      actions: [],
    };
  }
}
