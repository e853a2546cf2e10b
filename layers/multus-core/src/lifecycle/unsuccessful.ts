/**
 * Auto Scaling's own word on a launch that did not succeed: the "EC2 Instance Launch Unsuccessful"
 * event, which a second rule of the stack delivers for the node group's Auto Scaling groups only.
 * It is how a lifecycle action that ended by the hook's timeout (nobody answered: the rule did not
 * match, the function failed or was throttled, the answer never reached Auto Scaling) becomes
 * visible: the function cannot see an answer it never gave, but Auto Scaling records why the
 * launch ended, in the activity's status message, as in its activity history:
 *   "Instance failed to complete user's Lifecycle Action: Lifecycle Action with token ... was
 *    abandoned: Heartbeat Timeout"                      (the hook's default result, ABANDON, applied)
 *   "... was abandoned: Lifecycle Action Completed with ABANDON Result"   (an ABANDON answer: ours)
 * Anything else (capacity, a bad launch template) is `other`. Pure.
 */
export const LAUNCH_UNSUCCESSFUL_DETAIL_TYPE = 'EC2 Instance Launch Unsuccessful';

export type UnsuccessfulCause = 'hook-timeout' | 'abandoned' | 'other';

export interface UnsuccessfulLaunch {
  readonly instanceId: string | null;
  readonly autoScalingGroupName: string | null;
  readonly cause: UnsuccessfulCause;
  readonly statusMessage: string;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const text = (value: unknown): string | null => (typeof value === 'string' && value.trim() !== '' ? value.trim() : null);

/** The cause Auto Scaling's status message gives (not localised: the API's text). */
export function unsuccessfulCause(statusMessage: string): UnsuccessfulCause {
  if (/heartbeat timeout/i.test(statusMessage)) return 'hook-timeout';
  if (/lifecycle action completed with abandon result/i.test(statusMessage)) return 'abandoned';
  return 'other';
}

/** The event, when it is Auto Scaling's "EC2 Instance Launch Unsuccessful"; undefined for any other event. */
export function parseUnsuccessfulLaunch(event: unknown): UnsuccessfulLaunch | undefined {
  if (!isRecord(event) || event['detail-type'] !== LAUNCH_UNSUCCESSFUL_DETAIL_TYPE || event.source !== 'aws.autoscaling') return undefined;
  const detail = isRecord(event.detail) ? event.detail : {};
  const statusMessage = text(detail.StatusMessage) ?? '';
  return {
    instanceId: text(detail.EC2InstanceId),
    autoScalingGroupName: text(detail.AutoScalingGroupName),
    cause: unsuccessfulCause(statusMessage),
    statusMessage,
  };
}
