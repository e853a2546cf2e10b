/**
 * Keeping a slow launch alive: while the node is being made multus-ready, send
 * RecordLifecycleActionHeartbeat before the hook's heartbeat timeout runs out, so Auto Scaling does
 * not apply the hook's default result to a node that is about to succeed. A fast launch costs
 * nothing: the hook's timeout (DescribeLifecycleHooks, cached) is only looked up once the launch
 * has been running for `checkAfterMs`.
 */
import { asError, awsErrorCode } from '../errors';
import type { Log } from '../log';
import type { LifecyclePort } from './complete';
import type { LifecycleAction } from './event';

export interface HeartbeatOptions {
  /** Look the hook up (and start beating) only once the work has run this long. */
  readonly checkAfterMs: number;
  /** Beat every `fraction` of the hook's heartbeat timeout. */
  readonly fraction: number;
}

export const DEFAULT_HEARTBEAT_OPTIONS: HeartbeatOptions = { checkAfterMs: 10_000, fraction: 0.5 };
/** The shortest heartbeat timeout Auto Scaling allows: assumed when the hook cannot be read. */
export const MIN_HEARTBEAT_TIMEOUT_SECONDS = 30;

export interface Heartbeat {
  /** Stops beating; resolves once a beat in flight has finished. */
  stop(): Promise<void>;
  /** How many heartbeats were sent. */
  readonly sent: number;
}

export function startHeartbeat(
  lifecycle: LifecyclePort,
  log: Log,
  action: LifecycleAction,
  options: HeartbeatOptions = DEFAULT_HEARTBEAT_OPTIONS,
): Heartbeat {
  let stopped = false;
  let sent = 0;
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> = Promise.resolve();

  const beat = async (): Promise<void> => {
    if (stopped) return;
    try {
      await lifecycle.heartbeat(action);
      sent++;
      log.info('lifecycle heartbeat sent: the launch is taking long', { heartbeats: sent });
    } catch (err) {
      // The action may be complete already (another delivery): nothing more to keep alive.
      if (awsErrorCode(err) === 'ValidationError') stopped = true;
      log.warn('lifecycle heartbeat failed', { error: asError(err) });
    }
  };

  const schedule = (ms: number, intervalMs: number) => {
    if (stopped) return;
    timer = setTimeout(() => {
      inFlight = beat().then(() => schedule(intervalMs, intervalMs));
    }, ms);
    timer.unref?.();
  };

  timer = setTimeout(() => {
    inFlight = (async () => {
      let timeoutSeconds = MIN_HEARTBEAT_TIMEOUT_SECONDS;
      try {
        timeoutSeconds = (await lifecycle.heartbeatTimeoutSeconds(action.autoScalingGroupName, action.lifecycleHookName)) ?? timeoutSeconds;
      } catch (err) {
        log.warn('could not read the lifecycle hook; assuming the shortest heartbeat timeout', { error: asError(err) });
      }
      const intervalMs = Math.max(1, timeoutSeconds * 1000 * options.fraction);
      // Already past the first beat's time: beat now, then keep the interval.
      schedule(Math.max(0, intervalMs - options.checkAfterMs), intervalMs);
    })();
  }, options.checkAfterMs);
  timer.unref?.();

  return {
    get sent() {
      return sent;
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await inFlight;
    },
  };
}
