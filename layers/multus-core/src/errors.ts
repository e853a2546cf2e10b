/**
 * Error classes of the domain. Each has a `name` so that callers can tell them apart without
 * `instanceof` across module boundaries, and a message that names the cause.
 */

/** A runtime setting in SSM is missing, empty or malformed. */
export class SettingsError extends Error {
  override readonly name = 'SettingsError';
  constructor(
    readonly problems: readonly string[],
  ) {
    super(problems.join('; '));
  }
}

/** The lifecycle event lacks a field needed to act, or is not an object at all. */
export class MalformedEventError extends Error {
  override readonly name = 'MalformedEventError';
}

/** The node cannot be given its multus interfaces as configured (limits, wrong subnet, conflicts). */
export class NodeConfigurationError extends Error {
  override readonly name = 'NodeConfigurationError';
  constructor(
    message: string,
    /** True when the settings are the cause (they do not fit the node), not the node's own state. */
    readonly fromSettings = false,
  ) {
    super(message);
  }
}

/**
 * True for a failure an operator fixes in the settings or the function environment: a bad SSM
 * setting (SettingsError), settings that do not fit the node, a bad environment (EnvironmentError).
 */
export function isSettingsProblem(value: unknown): boolean {
  const name = awsErrorCode(value);
  if (name === 'SettingsError' || name === 'EnvironmentError') return true;
  return name === 'NodeConfigurationError' && (value as { fromSettings?: unknown }).fromSettings === true;
}

/**
 * A multus device index of the node is held by an ENI that does not fit the settings (another
 * tool's ENI, e.g. the VPC CNI's on a node that was running before the hook; or one of ours in
 * another subnet after a settings change). Launch treats it like any failure; the hook installer
 * reports such running nodes without failing the stack.
 */
export class DeviceIndexConflictError extends Error {
  override readonly name = 'DeviceIndexConflictError';
}

/** Lowest-free allocation ran out of addresses or of retries. */
export class AllocationError extends Error {
  override readonly name = 'AllocationError';
}

/** Narrows a caught value to an Error. */
export function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}

/** The AWS error code of a caught SDK error (its `name`), or undefined. */
export function awsErrorCode(value: unknown): string | undefined {
  if (typeof value === 'object' && value !== null && 'name' in value) {
    const name = (value as { name: unknown }).name;
    return typeof name === 'string' ? name : undefined;
  }
  return undefined;
}

/** Codes that say "slow down" (the SDK retries them; a long answer loop may too). */
const THROTTLING_CODES = new Set(['Throttling', 'ThrottlingException', 'RequestLimitExceeded', 'TooManyRequestsException', 'SlowDown']);

/**
 * True for a failure that says nothing about the request itself: no answer at all (a network
 * error, a timeout), a 5xx, throttling. Not a call our own deadline aborted (AbortError).
 */
export function isTransientAwsError(value: unknown): boolean {
  const name = awsErrorCode(value);
  if (name === 'AbortError') return false;
  if (name && THROTTLING_CODES.has(name)) return true;
  if (name === 'TimeoutError' || name === 'RequestTimeout') return true;
  const status = (value as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
  return status === undefined || status >= 500;
}
