/**
 * The launch transition: give an opted-in node one ENI per multus subnet of its AZ (ensureNode),
 * then complete the lifecycle action: CONTINUE, or the `on-failure` result when the node could not
 * be made multus-ready (after rollback, so nothing is left half-done).
 */
import { ensureNode, type NodeDeps } from '../eni/node';
import type { LifecyclePort } from './complete';
import { startHeartbeat, type HeartbeatOptions } from './heartbeat';
import type { LifecycleAction } from './event';
import type { HandlerResult } from './result';

export interface LaunchDeps extends NodeDeps {
  readonly lifecycle: LifecyclePort;
  readonly heartbeat?: HeartbeatOptions;
}

export async function handleLaunch(deps: LaunchDeps, action: LifecycleAction): Promise<HandlerResult> {
  const heartbeat = startHeartbeat(deps.lifecycle, deps.log, action, deps.heartbeat);
  let report;
  try {
    report = await ensureNode(deps, action.instanceId);
  } finally {
    await heartbeat.stop();
  }
  const completion = await deps.lifecycle.complete(action, report.lifecycleResult);
  if (completion === 'already-complete') {
    deps.log.info('lifecycle action was already complete (an earlier delivery completed it)');
  }
  return {
    outcome: report.outcome === 'planned' ? 'attached' : report.outcome,
    lifecycleResult: report.lifecycleResult,
    instanceId: action.instanceId,
    interfaces: report.interfaces,
    ...(report.reason !== undefined ? { reason: report.reason } : {}),
    availabilityZone: report.availabilityZone,
    completion,
  };
}
