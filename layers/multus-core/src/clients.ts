/**
 * The AWS SDK clients, built once per container and injected into the domain. Endpoints come
 * from the standard AWS_ENDPOINT_URL* variables (the local emulator); nothing is hard-coded.
 * The SDK lives only in this layer: functions get their clients from here.
 *
 * Every call is bounded: a connect timeout and a per-attempt request timeout that fails the
 * attempt (the SDK only warns by default), retries with backoff that ride out a short outage of
 * the endpoint (about 5 s) and throttling (adaptive mode), and, inside a function, the scope's
 * deadline (budget.ts), which aborts a call still in flight when the function's time runs short.
 * Errors name the operation that failed (`CreateNetworkInterface failed: ...`); their `name`
 * stays the AWS error code.
 */
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { EC2Client } from '@aws-sdk/client-ec2';
import { SSMClient } from '@aws-sdk/client-ssm';
import { AdaptiveRetryStrategy } from '@smithy/core/retry';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { currentCallSignal } from './budget';
import { SettingsError } from './errors';

export interface AwsClients {
  readonly ec2: EC2Client;
  readonly autoscaling: AutoScalingClient;
  readonly ssm: SSMClient;
}

/** Attempts per call when AWS_MAX_ATTEMPTS is unset: with the backoff below, about 6 to 12 s of retries. */
export const DEFAULT_MAX_ATTEMPTS = 6;
export const CONNECT_TIMEOUT_MS = 3_000;
/** Per attempt: a page of DescribeNetworkInterfaces of a large subnet takes well under this. */
export const REQUEST_TIMEOUT_MS = 10_000;
/** Backoff before retry i (0, 1, ...): 500 ms doubling, at most 4 s, with jitter down to half. */
const backoff = {
  base: 500,
  setDelayBase(delay: number) {
    this.base = Math.max(delay, 500);
  },
  computeNextBackoffDelay(i: number) {
    return Math.floor(Math.min(this.base * 2 ** i, 4_000) * (0.5 + Math.random() / 2));
  },
};

/** AWS_MAX_ATTEMPTS: a whole number from 1 to 20, or absent; anything else names the variable. */
export function maxAttemptsFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.AWS_MAX_ATTEMPTS;
  if (raw === undefined || raw.trim() === '') return DEFAULT_MAX_ATTEMPTS;
  const n = Number(raw.trim());
  if (!/^\d+$/.test(raw.trim()) || n < 1 || n > 20) {
    throw new SettingsError([`AWS_MAX_ATTEMPTS environment variable must be a whole number from 1 to 20, not "${raw}"`]);
  }
  return n;
}

/** NodeHttpHandler that also aborts a request when the current call scope's deadline passes. */
class DeadlineHttpHandler extends NodeHttpHandler {
  override handle(request: Parameters<NodeHttpHandler['handle']>[0], options: Parameters<NodeHttpHandler['handle']>[1] = {}) {
    const signal = currentCallSignal();
    if (!signal) return super.handle(request, options);
    const given = options.abortSignal as AbortSignal | undefined;
    return super.handle(request, { ...options, abortSignal: (given ? AbortSignal.any([given, signal]) : signal) as never });
  }
}

/** AWS_MAX_ATTEMPTS, or the default when it is bad (readEnvironment reports it, naming the variable). */
export function maxAttemptsOrDefault(env: NodeJS.ProcessEnv = process.env): number {
  try {
    return maxAttemptsFromEnv(env);
  } catch {
    return DEFAULT_MAX_ATTEMPTS;
  }
}

/** Client options for every client of the layer (`attempts` from maxAttemptsFromEnv). */
export function clientConfig(env: NodeJS.ProcessEnv = process.env, attempts = maxAttemptsOrDefault(env)) {
  return {
    maxAttempts: attempts,
    retryStrategy: new AdaptiveRetryStrategy(attempts, { backoff } as never),
    requestHandler: new DeadlineHttpHandler({ connectionTimeout: CONNECT_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS, throwOnRequestTimeout: true }),
  };
}

interface NamedClient {
  middlewareStack: { add(middleware: unknown, options: { step: 'initialize'; name: string }): void };
}

/** Prefixes every error of the client with the operation's name (the AWS code stays in `name`). */
export function nameFailedOperations<C>(client: C): C {
  (client as unknown as NamedClient).middlewareStack.add(
    (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) => async (args: unknown) => {
      try {
        return await next(args);
      } catch (err) {
        const operation = context.commandName?.replace(/Command$/, '');
        if (err instanceof Error && operation && !err.message.startsWith(`${operation} failed`)) err.message = `${operation} failed: ${err.message}`;
        throw err;
      }
    },
    { step: 'initialize', name: 'eksMultusEniNameFailedOperation' },
  );
  return client;
}

export function createClients(env: NodeJS.ProcessEnv = process.env, attempts = maxAttemptsOrDefault(env)): AwsClients {
  const config = clientConfig(env, attempts);
  return {
    ec2: nameFailedOperations(new EC2Client(config)),
    autoscaling: nameFailedOperations(new AutoScalingClient(config)),
    ssm: nameFailedOperations(new SSMClient(config)),
  };
}
