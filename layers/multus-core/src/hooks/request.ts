/**
 * The hook installer's properties, read and checked. Pure: no AWS import. Every problem is
 * collected and named, so the reason that reaches CloudFormation says which property of the
 * template is wrong. The request envelope itself: ../custom-resource/envelope.ts.
 */
import { InvalidRequestError, isRecord } from '../custom-resource/envelope';
import type { LifecycleResult } from '../settings/parse';
import type { ScalingConfig } from './port';

export const LAUNCH_TRANSITION = 'autoscaling:EC2_INSTANCE_LAUNCHING';
export const TERMINATE_TRANSITION = 'autoscaling:EC2_INSTANCE_TERMINATING';
/** Auto Scaling's bounds for a hook's heartbeat timeout, in seconds. */
export const MIN_HEARTBEAT_TIMEOUT = 30;
export const MAX_HEARTBEAT_TIMEOUT = 7200;
/** Auto Scaling's bound for NotificationMetadata. */
export const MAX_NOTIFICATION_METADATA = 1023;

/** What the hook installer puts on the node group's Auto Scaling groups. */
export interface HookTarget {
  readonly clusterName: string;
  readonly nodegroupName: string;
  readonly launchHookName: string;
  readonly terminateHookName: string;
  /** Seconds a node waits in Pending:Wait (or Terminating:Wait) for the function. */
  readonly heartbeatTimeout: number;
  /** What Auto Scaling does with a launching node when the function never answers. */
  readonly defaultResult: LifecycleResult;
  /** Written on both hooks; the EventBridge rule matches it, and only hooks carrying it are removed. */
  readonly notificationMetadata: string;
  /**
   * The node group's sizes, set once the hooks are in place (the stack creates the node group with
   * none, so that no node launches without the hooks); absent: the sizes are never touched.
   */
  readonly scaling?: ScalingConfig;
}

const CLUSTER_NAME = /^[0-9A-Za-z][A-Za-z0-9\-_]{0,99}$/;
const NODEGROUP_NAME = /^[0-9A-Za-z][A-Za-z0-9\-_]{0,62}$/;
const HOOK_NAME = /^[A-Za-z0-9\-_/]{1,255}$/;

/** Reads the hook installer's properties; every problem names its property. */
export function parseHookTarget(properties: Record<string, unknown>, where = 'ResourceProperties'): HookTarget {
  const problems: string[] = [];
  const text = (name: string, pattern: RegExp, what: string): string => {
    const raw = properties[name];
    const value = typeof raw === 'string' || typeof raw === 'number' ? String(raw).trim() : '';
    if (value === '') problems.push(`${where}.${name} is missing`);
    else if (!pattern.test(value)) problems.push(`${where}.${name} "${value}" is not ${what}`);
    return value;
  };
  const clusterName = text('ClusterName', CLUSTER_NAME, 'an EKS cluster name');
  const nodegroupName = text('NodegroupName', NODEGROUP_NAME, 'an EKS node group name');
  const launchHookName = text('LaunchHookName', HOOK_NAME, 'a lifecycle hook name (1-255 of A-Z a-z 0-9 - _ /)');
  const terminateHookName = text('TerminateHookName', HOOK_NAME, 'a lifecycle hook name (1-255 of A-Z a-z 0-9 - _ /)');
  if (launchHookName && launchHookName === terminateHookName) {
    problems.push(`${where}.LaunchHookName and TerminateHookName are both "${launchHookName}": one Auto Scaling group cannot hold two hooks of one name`);
  }
  const heartbeatRaw = properties.HeartbeatTimeout;
  const heartbeat = typeof heartbeatRaw === 'number' ? heartbeatRaw : typeof heartbeatRaw === 'string' && /^\d+$/.test(heartbeatRaw.trim()) ? Number(heartbeatRaw) : NaN;
  if (!Number.isInteger(heartbeat) || heartbeat < MIN_HEARTBEAT_TIMEOUT || heartbeat > MAX_HEARTBEAT_TIMEOUT) {
    problems.push(`${where}.HeartbeatTimeout must be a whole number of seconds from ${MIN_HEARTBEAT_TIMEOUT} to ${MAX_HEARTBEAT_TIMEOUT}, got ${JSON.stringify(heartbeatRaw ?? null)}`);
  }
  const result = String(properties.DefaultResult ?? '').trim().toUpperCase();
  if (result !== 'CONTINUE' && result !== 'ABANDON') {
    problems.push(`${where}.DefaultResult must be CONTINUE or ABANDON, got ${JSON.stringify(properties.DefaultResult ?? null)}`);
  }
  const metadata = typeof properties.NotificationMetadata === 'string' ? properties.NotificationMetadata : '';
  if (metadata === '') problems.push(`${where}.NotificationMetadata is missing (the EventBridge rule matches it)`);
  else if (metadata.length > MAX_NOTIFICATION_METADATA) problems.push(`${where}.NotificationMetadata is longer than ${MAX_NOTIFICATION_METADATA} characters`);
  const scaling = parseScaling(properties.ScalingConfig, `${where}.ScalingConfig`, problems);
  if (problems.length > 0) throw new InvalidRequestError(problems);
  return {
    clusterName,
    nodegroupName,
    launchHookName,
    terminateHookName,
    heartbeatTimeout: heartbeat,
    defaultResult: result as LifecycleResult,
    notificationMetadata: metadata,
    ...(scaling ? { scaling } : {}),
  };
}

/**
 * A ScalingConfig property within EKS's bounds: 0 <= MinSize <= DesiredSize <= MaxSize, MaxSize >= 1
 * (CloudFormation sends strings). Absent (undefined, null, empty): undefined, no problem.
 */
export function parseScaling(raw: unknown, where: string, problems: string[]): ScalingConfig | undefined {
  if (raw === undefined || raw === null || raw === '') return undefined;
  if (!isRecord(raw)) {
    problems.push(`${where} must be an object with MinSize, DesiredSize and MaxSize`);
    return undefined;
  }
  const size = (name: string): number => {
    const value = raw[name];
    const text = typeof value === 'number' || typeof value === 'string' ? String(value).trim() : '';
    if (!/^\d+$/.test(text)) {
      problems.push(`${where}.${name} must be a whole number, got ${JSON.stringify(value ?? null)}`);
      return NaN;
    }
    return Number(text);
  };
  const minSize = size('MinSize');
  const desiredSize = size('DesiredSize');
  const maxSize = size('MaxSize');
  if ([minSize, desiredSize, maxSize].some(Number.isNaN)) return undefined;
  if (maxSize < 1) problems.push(`${where}.MaxSize must be at least 1, got ${maxSize}`);
  if (minSize > desiredSize || desiredSize > maxSize) {
    problems.push(`${where}: MinSize ${minSize} <= DesiredSize ${desiredSize} <= MaxSize ${maxSize} does not hold`);
  }
  return { minSize, desiredSize, maxSize };
}

/** True when the two targets name the same node group. */
export function sameNodegroup(a: HookTarget, b: HookTarget): boolean {
  return a.clusterName === b.clusterName && a.nodegroupName === b.nodegroupName;
}

/** `min/desired/max`, for reasons and Data. */
export function formatScaling(s: ScalingConfig): string {
  return `${s.minSize}/${s.desiredSize}/${s.maxSize}`;
}

/** True when the two targets put the same hooks on the same node group (only settings differ). */
export function sameHooks(a: HookTarget, b: HookTarget): boolean {
  return (
    sameNodegroup(a, b) &&
    a.launchHookName === b.launchHookName &&
    a.terminateHookName === b.terminateHookName
  );
}
