/**
 * Putting our lifecycle hooks on a managed node group's Auto Scaling groups, and taking them off.
 *
 * Two hooks per group: the launch hook (EC2_INSTANCE_LAUNCHING; its default result is the
 * template's) and the terminate hook (EC2_INSTANCE_TERMINATING; default result always CONTINUE,
 * because on termination ABANDON would also cancel the other hooks of the group, such as the ones
 * EKS uses to drain the node). Both carry the stack's NotificationMetadata: the EventBridge rule
 * matches it, and only hooks carrying it are replaced or removed, so a hook of the same name that
 * someone else put there is reported, never silently taken over or deleted.
 */
import { awsErrorCode } from '../errors';
import type { Log } from '../log';
import type { HookTarget } from './request';
import { formatScaling, LAUNCH_TRANSITION, TERMINATE_TRANSITION } from './request';
import { NodegroupNotFoundError, type HooksPort, type LifecycleHookSpec, type NodegroupUpdateView, type ScalingConfig } from './port';

/** A hook of our name on the group that this deployment did not put there. */
export class HookConflictError extends Error {
  override readonly name = 'HookConflictError';
}

/** The node group exists but has no usable Auto Scaling group (yet). */
export class NodegroupNotReadyError extends Error {
  override readonly name = 'NodegroupNotReadyError';
}

/** The function's time ran out before the work was done. */
export class DeadlineError extends Error {
  override readonly name = 'DeadlineError';
}

export interface InstallDeps {
  readonly hooks: HooksPort;
  readonly log: Log;
  /** Aborted when the function's time is nearly up: no further change is started. */
  readonly signal?: AbortSignal;
  /** Records each completed step (for the reason sent to CloudFormation). */
  readonly note?: (step: string) => void;
}

function checkDeadline(deps: InstallDeps): void {
  if (deps.signal?.aborted) throw new DeadlineError('stopped: the function is about to time out');
}

/** The two hooks of a target. */
export function hookSpecs(target: HookTarget): LifecycleHookSpec[] {
  return [
    {
      lifecycleHookName: target.launchHookName,
      lifecycleTransition: LAUNCH_TRANSITION,
      heartbeatTimeout: target.heartbeatTimeout,
      defaultResult: target.defaultResult,
      notificationMetadata: target.notificationMetadata,
    },
    {
      lifecycleHookName: target.terminateHookName,
      lifecycleTransition: TERMINATE_TRANSITION,
      heartbeatTimeout: target.heartbeatTimeout,
      defaultResult: 'CONTINUE',
      notificationMetadata: target.notificationMetadata,
    },
  ];
}

const nodegroupLabel = (t: HookTarget) => `EKS node group "${t.nodegroupName}" of cluster "${t.clusterName}"`;

/** The node group's Auto Scaling groups, all of which must exist. */
export async function nodegroupGroups(deps: InstallDeps, target: HookTarget): Promise<string[]> {
  const nodegroup = await deps.hooks.describeNodegroup(target.clusterName, target.nodegroupName);
  const names = [...new Set(nodegroup.autoScalingGroupNames)].sort();
  if (names.length === 0) {
    throw new NodegroupNotReadyError(`${nodegroupLabel(target)} has no Auto Scaling group (status ${nodegroup.status ?? 'unknown'})`);
  }
  const existing = new Set(await deps.hooks.existingGroups(names));
  const missing = names.filter((n) => !existing.has(n));
  if (missing.length > 0) {
    throw new NodegroupNotReadyError(`${nodegroupLabel(target)} names Auto Scaling group(s) that do not exist: ${missing.join(', ')}`);
  }
  return names;
}

/**
 * Puts both hooks on every Auto Scaling group of the node group and returns the groups. A hook of
 * our name whose metadata is not in `ownMetadata` stops everything before any change.
 */
export async function installHooks(deps: InstallDeps, target: HookTarget, ownMetadata: readonly string[] = [target.notificationMetadata]): Promise<string[]> {
  const groups = await nodegroupGroups(deps, target);
  const specs = hookSpecs(target);
  const names = specs.map((s) => s.lifecycleHookName);
  const conflicts: string[] = [];
  for (const group of groups) {
    for (const hook of await deps.hooks.describeHooks(group, names)) {
      if (!ownMetadata.includes(hook.notificationMetadata ?? '')) {
        const metadata = hook.notificationMetadata === undefined ? 'no notification metadata' : `notification metadata "${hook.notificationMetadata}"`;
        conflicts.push(`Auto Scaling group ${group} already has a lifecycle hook "${hook.lifecycleHookName}" that this stack did not put there (${metadata})`);
      }
    }
  }
  if (conflicts.length > 0) {
    throw new HookConflictError(`${conflicts.join('; ')}. Delete that hook or choose other hook names (LaunchHookName, TerminateHookName).`);
  }
  for (const group of groups) {
    for (const spec of specs) {
      checkDeadline(deps);
      await deps.hooks.putHook(group, spec);
      deps.log.info('lifecycle hook put', {
        autoScalingGroupName: group,
        lifecycleHookName: spec.lifecycleHookName,
        lifecycleTransition: spec.lifecycleTransition,
        heartbeatTimeout: spec.heartbeatTimeout,
        defaultResult: spec.defaultResult,
      });
      deps.note?.(`put ${spec.lifecycleHookName} on ${group}`);
    }
  }
  return groups;
}

export interface RemovalReport {
  readonly removed: string[];
  /** Hooks of our names left in place because they carry other metadata. */
  readonly left: string[];
  /** Why nothing could be looked at (node group or groups gone), if so. */
  readonly note?: string;
}

/**
 * Removes the target's hooks (only those carrying its metadata) from the node group's existing
 * Auto Scaling groups. A node group or group that no longer exists has nothing to remove. `keep`
 * lists `group|hook` pairs that must stay (an update that moved nothing).
 */
export async function removeHooks(deps: InstallDeps, target: HookTarget, keep: ReadonlySet<string> = new Set()): Promise<RemovalReport> {
  let names: string[];
  try {
    names = (await deps.hooks.describeNodegroup(target.clusterName, target.nodegroupName)).autoScalingGroupNames;
  } catch (err) {
    if (err instanceof Error && err.name === NodegroupNotFoundError.name) {
      deps.log.info('node group is gone: no hook to remove', { reason: err.message });
      return { removed: [], left: [], note: `${err.message}: no hook to remove` };
    }
    throw err;
  }
  const groups = names.length > 0 ? await deps.hooks.existingGroups(names) : [];
  const removed: string[] = [];
  const left: string[] = [];
  const hookNames = [target.launchHookName, target.terminateHookName];
  for (const group of groups.sort()) {
    for (const hook of await deps.hooks.describeHooks(group, hookNames)) {
      const label = `${hook.lifecycleHookName} on ${group}`;
      if (keep.has(`${group}|${hook.lifecycleHookName}`)) continue;
      if (hook.notificationMetadata !== target.notificationMetadata) {
        deps.log.warn('lifecycle hook of our name left in place: another deployment put it there', {
          autoScalingGroupName: group,
          lifecycleHookName: hook.lifecycleHookName,
          notificationMetadata: hook.notificationMetadata,
        });
        left.push(label);
        continue;
      }
      checkDeadline(deps);
      await deps.hooks.deleteHook(group, hook.lifecycleHookName);
      deps.log.info('lifecycle hook removed', { autoScalingGroupName: group, lifecycleHookName: hook.lifecycleHookName });
      deps.note?.(`removed ${label}`);
      removed.push(label);
    }
  }
  const note = groups.length === 0 ? `${nodegroupLabel(target)} has no Auto Scaling group left: no hook to remove` : undefined;
  return { removed, left, note };
}

/** EKS ended the node group's update otherwise than Successful, or refused it. */
export class NodegroupScalingError extends Error {
  override readonly name = 'NodegroupScalingError';
}

export interface ScaleDeps extends InstallDeps {
  readonly sleep: (ms: number) => Promise<void>;
  /** Pause between DescribeUpdate polls and between tries while the node group is busy. */
  readonly pollMs: number;
}

export interface ScaleReport {
  /** The EKS update that set the sizes; absent when they already were the wanted ones. */
  readonly updateId?: string;
  readonly scaling: ScalingConfig;
}

const TERMINAL_UPDATE = new Set(['Successful', 'Failed', 'Cancelled']);

/**
 * Sets the node group's sizes (after the hooks are in place: the nodes this launches go through
 * them) and waits until EKS reports the update done. A node group that is busy with another update
 * (ResourceInUseException) is tried again; no new try starts once the deadline is signalled.
 */
export async function scaleNodegroup(deps: ScaleDeps, target: HookTarget, scaling: ScalingConfig): Promise<ScaleReport> {
  const label = nodegroupLabel(target);
  const current = (await deps.hooks.describeNodegroup(target.clusterName, target.nodegroupName)).scaling;
  if (current && current.minSize === scaling.minSize && current.desiredSize === scaling.desiredSize && current.maxSize === scaling.maxSize) {
    deps.log.info('node group sizes already as wanted', { scaling });
    return { scaling };
  }
  let update: NodegroupUpdateView | undefined;
  while (!update) {
    checkDeadline(deps);
    try {
      update = await deps.hooks.updateScaling(target.clusterName, target.nodegroupName, scaling);
    } catch (err) {
      if (awsErrorCode(err) !== 'ResourceInUseException') throw err;
      deps.log.info('node group busy with another update; trying again', { error: err instanceof Error ? err.message : String(err) });
      await deps.sleep(deps.pollMs);
    }
  }
  deps.log.info('node group sizes requested', { updateId: update.id, status: update.status, scaling, previous: current });
  while (!TERMINAL_UPDATE.has(update.status)) {
    await deps.sleep(deps.pollMs);
    checkDeadline(deps);
    update = await deps.hooks.describeUpdate(target.clusterName, target.nodegroupName, update.id);
  }
  if (update.status !== 'Successful') {
    throw new NodegroupScalingError(
      `EKS update ${update.id} of the sizes of ${label} to ${formatScaling(scaling)} (min/desired/max) ended ${update.status}${update.errors.length > 0 ? `: ${update.errors.join('; ')}` : ''}`,
    );
  }
  deps.note?.(`scaled ${target.nodegroupName} to ${formatScaling(scaling)}`);
  return { updateId: update.id, scaling };
}
