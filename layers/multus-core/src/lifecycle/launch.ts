/**
 * The launch transition: give an opted-in node one ENI per multus subnet of its AZ (ensureNode),
 * then complete the lifecycle action: CONTINUE, or the `on-failure` result when the node could not
 * be made multus-ready (after rollback, so nothing is left half-done).
 */
import { withCallDeadline } from '../budget';
import { ensureNode, type NodeDeps } from '../eni/node';
import { asError, isTransientAwsError } from '../errors';
import { METRICS } from '../metrics/catalog';
import type { MetricRecorder } from '../metrics/recorder';
import type { LifecycleResult } from '../settings/parse';
import type { LifecyclePort } from './complete';
import { startHeartbeat, type HeartbeatOptions } from './heartbeat';
import type { LifecycleAction } from './event';
import type { HandlerResult } from './result';

export interface LaunchDeps extends NodeDeps {
  readonly lifecycle: LifecyclePort;
  readonly heartbeat?: HeartbeatOptions;
  /** Epoch ms at which the lifecycle answer's calls are aborted (just before the function's timeout). */
  readonly answerDeadline?: number;
}

/**
 * The metrics of one answered launch: Launches by outcome, result and AZ, its duration (from
 * `startedAt`, epoch ms) and the heartbeats it sent.
 */
export function recordLaunch(metrics: MetricRecorder | undefined, result: HandlerResult, startedAt: number, heartbeats = 0): void {
  if (!metrics) return;
  metrics.add(METRICS.launches, 1, { outcome: result.outcome, lifecycleResult: result.lifecycleResult ?? undefined, availabilityZone: result.availabilityZone });
  metrics.add(METRICS.launchDuration, Date.now() - startedAt);
  metrics.add(METRICS.heartbeatsSent, heartbeats);
}

export async function handleLaunch(deps: LaunchDeps, action: LifecycleAction): Promise<HandlerResult> {
  const startedAt = Date.now();
  const heartbeat = startHeartbeat(deps.lifecycle, deps.log, action, deps.heartbeat);
  let report;
  try {
    // A call that stalls is aborted at the work's deadline: the failure path (rollback, on-failure) still has time.
    report = await withCallDeadline({ deadline: deps.deadline, what: 'the ENI work' }, () => ensureNode(deps, action.instanceId, { eventRegion: action.region }));
  } finally {
    await heartbeat.stop();
  }
  const completion = await answer(deps, action, report.lifecycleResult);
  if (completion === 'already-complete') {
    deps.log.info('lifecycle action was already complete (an earlier delivery completed it)');
  }
  const result: HandlerResult = {
    outcome: report.outcome === 'planned' ? 'attached' : report.outcome,
    lifecycleResult: report.lifecycleResult,
    instanceId: action.instanceId,
    interfaces: report.interfaces,
    ...(report.reason !== undefined ? { reason: report.reason } : {}),
    availabilityZone: report.availabilityZone,
    completion,
  };
  recordLaunch(deps.metrics, result, startedAt, heartbeat.sent);
  return result;
}

/**
 * Completes the action. When Auto Scaling cannot be reached (no answer, 5xx, throttling) beyond
 * the SDK's own retries, tries again until the answer's deadline: an endpoint that comes back
 * while the function still runs gets the answer, instead of leaving the node to the hook's timeout.
 */
export async function answer(deps: LaunchDeps, action: LifecycleAction, result: LifecycleResult) {
  let delay = 1_000;
  for (;;) {
    try {
      return await withCallDeadline({ deadline: deps.answerDeadline, what: 'the lifecycle answer', fresh: true }, () => deps.lifecycle.complete(action, result));
    } catch (err) {
      const left = deps.answerDeadline === undefined ? 0 : deps.answerDeadline - Date.now();
      if (!isTransientAwsError(err) || left < delay + 2_000) throw err;
      deps.log.warn('the lifecycle answer could not be sent; trying again while the function has time', { error: asError(err), retryInMs: delay });
      await deps.release.sleep(delay);
      delay = Math.min(delay * 2, 4_000);
    }
  }
}
