/**
 * The CloudFormation custom resource request of the hook installer, read and checked. Pure: no
 * AWS import. Every problem with the properties is collected and named, so the reason that reaches
 * CloudFormation says which property of the template is wrong.
 *
 * Request fields (CloudFormation "custom resource request objects"): RequestType, ResponseURL,
 * StackId, RequestId, LogicalResourceId, ResourceType, PhysicalResourceId (Update, Delete),
 * ResourceProperties, OldResourceProperties (Update). Property values arrive as strings.
 */
import type { LifecycleResult } from '../settings/parse';

export const LAUNCH_TRANSITION = 'autoscaling:EC2_INSTANCE_LAUNCHING';
export const TERMINATE_TRANSITION = 'autoscaling:EC2_INSTANCE_TERMINATING';
/** Auto Scaling's bounds for a hook's heartbeat timeout, in seconds. */
export const MIN_HEARTBEAT_TIMEOUT = 30;
export const MAX_HEARTBEAT_TIMEOUT = 7200;
/** Auto Scaling's bound for NotificationMetadata. */
export const MAX_NOTIFICATION_METADATA = 1023;

/** The request cannot be acted on: the envelope or the properties are wrong. */
export class InvalidRequestError extends Error {
  override readonly name = 'InvalidRequestError';
  constructor(readonly problems: readonly string[]) {
    super(problems.join('; '));
  }
}

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
}

/** The fields every response copies from the request. */
export interface RequestEnvelope {
  readonly requestType: 'Create' | 'Update' | 'Delete';
  readonly responseUrl: string;
  readonly stackId: string;
  readonly requestId: string;
  readonly logicalResourceId: string;
  /** Update and Delete: the id returned at Create. */
  readonly physicalResourceId?: string;
  readonly resourceProperties: Record<string, unknown>;
  readonly oldResourceProperties?: Record<string, unknown>;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Reads the envelope. Without a ResponseURL and the ids there is no way to answer CloudFormation,
 * so this is the one error that cannot become a FAILED response.
 */
export function parseEnvelope(event: unknown): RequestEnvelope {
  if (!isRecord(event)) throw new InvalidRequestError(['the event is not a CloudFormation custom resource request (not an object)']);
  const problems: string[] = [];
  const text = (field: string): string => {
    const value = event[field];
    if (typeof value !== 'string' || value === '') {
      problems.push(`${field} is missing`);
      return '';
    }
    return value;
  };
  const requestType = text('RequestType');
  const responseUrl = text('ResponseURL');
  const stackId = text('StackId');
  const requestId = text('RequestId');
  const logicalResourceId = text('LogicalResourceId');
  if (requestType && !['Create', 'Update', 'Delete'].includes(requestType)) problems.push(`RequestType "${requestType}" is not Create, Update or Delete`);
  if (responseUrl && !/^https?:\/\//.test(responseUrl)) problems.push('ResponseURL is not an http(s) URL');
  const physical = event.PhysicalResourceId;
  if (requestType && requestType !== 'Create' && (typeof physical !== 'string' || physical === '')) problems.push('PhysicalResourceId is missing');
  if (problems.length > 0) throw new InvalidRequestError(problems.map((p) => `custom resource request: ${p}`));
  return {
    requestType: requestType as RequestEnvelope['requestType'],
    responseUrl,
    stackId,
    requestId,
    logicalResourceId,
    physicalResourceId: typeof physical === 'string' && physical !== '' ? physical : undefined,
    resourceProperties: isRecord(event.ResourceProperties) ? event.ResourceProperties : {},
    oldResourceProperties: isRecord(event.OldResourceProperties) ? event.OldResourceProperties : undefined,
  };
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
  if (problems.length > 0) throw new InvalidRequestError(problems);
  return {
    clusterName,
    nodegroupName,
    launchHookName,
    terminateHookName,
    heartbeatTimeout: heartbeat,
    defaultResult: result as LifecycleResult,
    notificationMetadata: metadata,
  };
}

/** The physical id of a new hook installation: stable for the life of the resource in its stack. */
export function physicalIdFor(envelope: Pick<RequestEnvelope, 'stackId' | 'logicalResourceId'>): string {
  return `${envelope.stackId}/${envelope.logicalResourceId}`;
}

/** True when the two targets put the same hooks on the same node group (only settings differ). */
export function sameHooks(a: HookTarget, b: HookTarget): boolean {
  return (
    a.clusterName === b.clusterName &&
    a.nodegroupName === b.nodegroupName &&
    a.launchHookName === b.launchHookName &&
    a.terminateHookName === b.terminateHookName
  );
}
