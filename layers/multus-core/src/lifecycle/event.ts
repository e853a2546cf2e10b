/**
 * Reading the EventBridge "EC2 Instance-launch/terminate Lifecycle Action" event. Pure.
 */
import { MalformedEventError } from '../errors';

export const LAUNCH_DETAIL_TYPE = 'EC2 Instance-launch Lifecycle Action';
export const TERMINATE_DETAIL_TYPE = 'EC2 Instance-terminate Lifecycle Action';
export const LAUNCHING = 'autoscaling:EC2_INSTANCE_LAUNCHING';
export const TERMINATING = 'autoscaling:EC2_INSTANCE_TERMINATING';

/** What is needed to act on a lifecycle action and to complete it. */
export interface LifecycleAction {
  readonly instanceId: string;
  readonly autoScalingGroupName: string;
  readonly lifecycleHookName: string;
  readonly lifecycleActionToken: string;
  readonly transition: typeof LAUNCHING | typeof TERMINATING;
  /** `EC2`, `AutoScalingGroup` or `WarmPool` (warm pools), when the event says. */
  readonly origin?: string;
  readonly destination?: string;
  /** The region the event says it comes from (EventBridge's `region`). */
  readonly region?: string;
}

export type ParsedEvent =
  | { readonly kind: 'launch' | 'terminate'; readonly action: LifecycleAction }
  | { readonly kind: 'ignored'; readonly reason: string; readonly instanceId?: string };

const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function requiredString(detail: Record<string, unknown>, field: string): string {
  const value = detail[field];
  if (typeof value !== 'string' || value.trim() === '') {
    throw new MalformedEventError(`lifecycle event: detail.${field} is ${value === undefined ? 'missing' : 'empty or not a string'}`);
  }
  return value.trim();
}

function optionalString(detail: Record<string, unknown>, field: string): string | undefined {
  const value = detail[field];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * Classifies the event: a launch or terminate action of ours, or something to ignore (another
 * detail-type, a test notification). A lifecycle event lacking a field needed to act is a
 * MalformedEventError naming the field.
 */
export function parseLifecycleEvent(event: unknown): ParsedEvent {
  if (!isRecord(event)) throw new MalformedEventError('lifecycle event: the event is not a JSON object');
  const detailType = event['detail-type'];
  const detail = event.detail;
  if (isRecord(detail) && detail.Event === 'autoscaling:TEST_NOTIFICATION') {
    return { kind: 'ignored', reason: 'Auto Scaling test notification' };
  }
  if (detailType !== LAUNCH_DETAIL_TYPE && detailType !== TERMINATE_DETAIL_TYPE) {
    return { kind: 'ignored', reason: `not a lifecycle action (detail-type ${JSON.stringify(detailType ?? null)})` };
  }
  if (event.source !== undefined && event.source !== 'aws.autoscaling') {
    return { kind: 'ignored', reason: `not from Auto Scaling (source ${JSON.stringify(event.source)})` };
  }
  if (!isRecord(detail)) throw new MalformedEventError('lifecycle event: detail is missing or not an object');
  const instanceId = requiredString(detail, 'EC2InstanceId');
  if (!INSTANCE_ID.test(instanceId)) {
    throw new MalformedEventError(`lifecycle event: detail.EC2InstanceId "${instanceId}" is not an instance id`);
  }
  const expected = detailType === LAUNCH_DETAIL_TYPE ? LAUNCHING : TERMINATING;
  const transition = optionalString(detail, 'LifecycleTransition') ?? expected;
  if (transition !== expected) {
    throw new MalformedEventError(
      `lifecycle event: detail.LifecycleTransition ${transition} does not match detail-type "${String(detailType)}"`,
    );
  }
  const action: LifecycleAction = {
    instanceId,
    autoScalingGroupName: requiredString(detail, 'AutoScalingGroupName'),
    lifecycleHookName: requiredString(detail, 'LifecycleHookName'),
    lifecycleActionToken: requiredString(detail, 'LifecycleActionToken'),
    transition: expected,
    origin: optionalString(detail, 'Origin'),
    destination: optionalString(detail, 'Destination'),
    region: typeof event.region === 'string' && event.region !== '' ? event.region : undefined,
  };
  return { kind: expected === LAUNCHING ? 'launch' : 'terminate', action };
}
