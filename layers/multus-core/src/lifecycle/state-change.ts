/**
 * Nodes without a lifecycle hook (Karpenter, self-managed): the "EC2 Instance State-change
 * Notification" of an instance. On `pending` or `running`, an opted-in instance that is not a
 * member of an Auto Scaling group carrying our launch hook gets its multus ENIs exactly as on a
 * launch (same checks, rollback, idempotence), with no lifecycle action to complete. The event
 * carries only the instance id and the state: the tags are read with DescribeInstances (ensureNode).
 *
 * With no hook to answer, `on-failure` does not apply: bad settings (and anything the node's
 * configuration explains) return `failed` naming the cause; a failure of AWS calls throws after
 * rollback, so that Lambda retries the event and then sends it to the dead-letter queue.
 */
import { MalformedEventError } from '../errors';
import { ensureNode, type NodeDeps } from '../eni/node';
import type { LifecyclePort } from './complete';
import type { HandlerResult } from './result';

export const STATE_CHANGE_DETAIL_TYPE = 'EC2 Instance State-change Notification';
/** States in which an instance may be given its ENIs (EC2 refuses attaches while it is stopping). */
const ACTIVE_STATES = new Set(['pending', 'running']);
/** Failures the settings or the node's configuration explain: retrying the event would not help. */
const NOT_RETRIED = new Set(['SettingsError', 'NodeConfigurationError', 'DeviceIndexConflictError', 'AllocationError', 'EnvironmentError']);

export interface StateChange {
  readonly instanceId: string;
  readonly state: string;
  readonly region?: string;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** True when the event is an EC2 state-change notification (whatever its state). */
export function isStateChangeEvent(event: unknown): boolean {
  return isRecord(event) && event.source === 'aws.ec2' && event['detail-type'] === STATE_CHANGE_DETAIL_TYPE;
}

/** Reads the notification; a missing or malformed instance id or state is an error naming it. */
export function parseStateChange(event: unknown): StateChange {
  const detail = isRecord(event) ? event.detail : undefined;
  if (!isRecord(detail)) throw new MalformedEventError('state-change event: detail is missing or not an object');
  const instanceId = detail['instance-id'];
  if (typeof instanceId !== 'string' || !/^i-[0-9a-f]{8,17}$/.test(instanceId)) {
    throw new MalformedEventError(`state-change event: detail.instance-id is ${instanceId === undefined ? 'missing' : `"${String(instanceId)}", not an instance id`}`);
  }
  const state = detail.state;
  if (typeof state !== 'string' || state === '') throw new MalformedEventError('state-change event: detail.state is missing');
  const region = isRecord(event) && typeof event.region === 'string' ? event.region : undefined;
  return { instanceId, state, ...(region ? { region } : {}) };
}

export interface StateChangeDeps extends NodeDeps {
  readonly lifecycle: LifecyclePort;
  /** Our launch hook's name: members of a group that carries it are the hook's business. */
  readonly launchHookName: string;
}

/** A failure of AWS calls, thrown for Lambda's retries (the reason names the call and its code). */
export class NodeNotReadyError extends Error {
  override readonly name: string;
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

export async function handleStateChange(deps: StateChangeDeps, change: StateChange): Promise<HandlerResult> {
  const base = { lifecycleResult: null, instanceId: change.instanceId, interfaces: [] };
  if (!ACTIVE_STATES.has(change.state)) return { ...base, outcome: 'ignored', reason: `instance is ${change.state}: nothing to do` };
  const group = await deps.lifecycle.autoScalingGroupOf(change.instanceId);
  if (group && (await deps.lifecycle.heartbeatTimeoutSeconds(group, deps.launchHookName)) !== undefined) {
    return { ...base, outcome: 'ignored', reason: `member of Auto Scaling group ${group}, which carries the launch hook ${deps.launchHookName}: the hook's event does the work` };
  }
  const report = await ensureNode(deps, change.instanceId, { eventRegion: change.region });
  if (report.outcome === 'failed' && !NOT_RETRIED.has(report.errorName ?? '')) {
    // Rolled back already: nothing is left half-done; the retry starts over.
    throw new NodeNotReadyError(report.errorName ?? 'Error', report.reason ?? 'the node could not be given its multus ENIs');
  }
  return {
    outcome: report.outcome === 'planned' ? 'attached' : report.outcome,
    lifecycleResult: null,
    instanceId: change.instanceId,
    interfaces: report.interfaces,
    ...(report.reason !== undefined ? { reason: report.reason } : {}),
    availabilityZone: report.availabilityZone,
  };
}
