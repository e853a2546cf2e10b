/**
 * The launch transition: give an opted-in node one ENI per multus subnet of its AZ, then complete
 * the lifecycle action. Everything is validated before anything is created; on failure nothing is
 * left half-done and the action completes with the `on-failure` result.
 */
import type { Ec2Port, InstanceView, InterfaceView, SubnetView } from '../ec2/port';
import { ensureInterfaces, type EnsureDeps } from '../eni/ensure';
import { planInterfaces, strayInterfaces } from '../eni/plan';
import { asError, NodeConfigurationError } from '../errors';
import {
  DEFAULT_ON_FAILURE,
  parameterName,
  parseOnFailure,
  parseSettings,
  SETTING_NAMES,
  type LifecycleResult,
  type Settings,
} from '../settings/parse';
import type { SettingsSource } from '../settings/load';
import { TAG_INSTANCE_ID } from '../tags';
import type { LifecycleAction } from './event';
import type { LifecyclePort } from './complete';
import type { HandlerResult } from './result';

export interface LaunchDeps extends EnsureDeps {
  readonly lifecycle: LifecyclePort;
  readonly settings: SettingsSource;
  readonly configPath: string;
  readonly nodeTagKey: string;
  /** Adds keys to every later log line (Powertools `appendKeys`). */
  readonly annotate?: (keys: Record<string, string>) => void;
}

/** Checks the node's subnets and security groups against EC2, and the instance type's interface limit. */
export async function validateForNode(
  ec2: Ec2Port,
  instance: InstanceView,
  subnetIds: readonly string[],
  settings: Settings,
  configPath: string,
): Promise<Map<string, SubnetView>> {
  const parameter = parameterName(configPath, SETTING_NAMES.subnetsPrefix + instance.availabilityZone);
  const found = new Map((await ec2.describeSubnets(subnetIds)).map((s) => [s.subnetId, s]));
  const problems: string[] = [];
  for (const id of subnetIds) {
    const subnet = found.get(id);
    if (!subnet) problems.push(`${parameter}: subnet ${id} does not exist`);
    else if (subnet.availabilityZone !== instance.availabilityZone) {
      problems.push(`${parameter}: subnet ${id} is in ${subnet.availabilityZone}, not ${instance.availabilityZone}`);
    } else if (instance.vpcId && subnet.vpcId !== instance.vpcId) {
      problems.push(`${parameter}: subnet ${id} is in ${subnet.vpcId}, not in the node's VPC ${instance.vpcId}`);
    }
  }
  if (settings.securityGroups) {
    const groups = new Map((await ec2.describeSecurityGroups(settings.securityGroups)).map((g) => [g.groupId, g]));
    const groupParameter = parameterName(configPath, SETTING_NAMES.securityGroups);
    for (const id of settings.securityGroups) {
      const group = groups.get(id);
      if (!group) problems.push(`${groupParameter}: security group ${id} does not exist`);
      else if (instance.vpcId && group.vpcId && group.vpcId !== instance.vpcId) {
        problems.push(`${groupParameter}: security group ${id} is in ${group.vpcId}, not in the node's VPC ${instance.vpcId}`);
      }
    }
  }
  if (problems.length > 0) throw new NodeConfigurationError(problems.join('; '));
  const max = await ec2.maxNetworkInterfaces(instance.instanceType);
  if (subnetIds.length + 1 > max) {
    throw new NodeConfigurationError(
      `${parameter} lists ${subnetIds.length} subnets, but instance type ${instance.instanceType} allows ${max} network interfaces (1 primary + ${max - 1} multus)`,
    );
  }
  return found;
}

function interfacesOf(result: { deviceIndex: number; subnetId: string; networkInterfaceId: string; privateIpAddress?: string }[]) {
  return result.map((i) => ({
    deviceIndex: i.deviceIndex,
    subnetId: i.subnetId,
    networkInterfaceId: i.networkInterfaceId,
    privateIpAddress: i.privateIpAddress ?? null,
  }));
}

export async function handleLaunch(deps: LaunchDeps, action: LifecycleAction): Promise<HandlerResult> {
  const { ec2, log } = deps;
  const base = { instanceId: action.instanceId };
  let onFailure: LifecycleResult = DEFAULT_ON_FAILURE;
  let availabilityZone: string | undefined;
  let outcome: Omit<HandlerResult, 'completion' | 'lifecycleResult'> & { lifecycleResult: LifecycleResult };
  try {
    const instance = await ec2.describeInstance(action.instanceId);
    if (!instance) throw new NodeConfigurationError(`instance ${action.instanceId} does not exist (EC2 does not know it)`);
    availabilityZone = instance.availabilityZone;
    deps.annotate?.({ availabilityZone });
    if (!(deps.nodeTagKey in instance.tags)) {
      outcome = {
        ...base,
        outcome: 'skipped',
        lifecycleResult: 'CONTINUE',
        interfaces: [],
        reason: `instance does not carry the opt-in tag ${deps.nodeTagKey}`,
      };
    } else {
      const raw = await deps.settings.read(deps.configPath);
      // on-failure alone first, so that a problem elsewhere in the settings still uses it.
      onFailure = parseOnFailure(raw, deps.configPath) ?? DEFAULT_ON_FAILURE;
      const settings = parseSettings(raw, deps.configPath);
      const subnetIds = settings.subnetsByAz.get(instance.availabilityZone);
      if (!subnetIds || subnetIds.length === 0) {
        const missing = parameterName(deps.configPath, SETTING_NAMES.subnetsPrefix + instance.availabilityZone);
        log.warn(`no multus subnets for ${instance.availabilityZone}: parameter ${missing} does not exist`);
        outcome = {
          ...base,
          outcome: 'skipped',
          lifecycleResult: 'CONTINUE',
          interfaces: [],
          reason: `no multus subnets configured for ${instance.availabilityZone} (${missing} does not exist)`,
        };
      } else {
        const subnets = await validateForNode(ec2, instance, subnetIds, settings, deps.configPath);
        const known: InterfaceView[] = settings.useIpsFromStartOfSubnet
          ? await ec2.describeInterfacesInSubnets(subnetIds)
          : await ec2.describeInterfacesByTag(TAG_INSTANCE_ID, instance.instanceId);
        const plans = planInterfaces(instance, subnetIds, known, settings.sourceDestCheck);
        const strays = strayInterfaces(instance.instanceId, known, plans);
        if (strays.length > 0) {
          log.warn('unattached ENIs of ours for this node match no device index; left for the sweeper', {
            networkInterfaceIds: strays.map((s) => s.networkInterfaceId),
          });
        }
        const ensured = await ensureInterfaces(deps, { instance, plans, subnets, known, strays, settings });
        log.info('multus interfaces in place', { interfaces: ensured.interfaces, racesLost: ensured.racesLost });
        outcome = { ...base, outcome: 'attached', lifecycleResult: 'CONTINUE', interfaces: interfacesOf(ensured.interfaces) };
      }
    }
  } catch (err) {
    const error = asError(err);
    log.error('node could not be made multus-ready', { error, onFailure });
    outcome = {
      ...base,
      outcome: 'failed',
      lifecycleResult: onFailure,
      interfaces: [],
      reason: `${error.name}: ${error.message}`,
    };
  }
  const completion = await deps.lifecycle.complete(action, outcome.lifecycleResult);
  if (completion === 'already-complete') {
    log.info('lifecycle action was already complete (an earlier delivery completed it)');
  }
  return { ...outcome, availabilityZone, completion };
}
