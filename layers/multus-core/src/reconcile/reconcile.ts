/**
 * Reconcile: bring existing nodes to the current settings. For nodes that launched before the
 * hook existed, and after a settings change. Missing multus ENIs are attached; nothing is removed
 * unless `prune` is asked; `dryRun` reports what would be done and changes nothing.
 *
 * Invocation: an event `{"source": "eks-multus-eni", "detail-type": "Reconcile Multus Interfaces",
 * "detail": {one of "autoScalingGroupName": string | "instanceIds": string[] | "all": true,
 * "dryRun"?: boolean, "prune"?: boolean}}` (events/reconcile.json).
 */
import { MalformedEventError } from '../errors';
import { ensureNode, type NodeDeps, type NodeReport } from '../eni/node';
import { pastDeadline } from '../eni/release';
import type { LifecyclePort } from '../lifecycle/complete';
import { METRICS } from '../metrics/catalog';

export const RECONCILE_SOURCE = 'eks-multus-eni';
export const RECONCILE_DETAIL_TYPE = 'Reconcile Multus Interfaces';

export interface ReconcileRequest {
  readonly autoScalingGroupNames?: readonly string[];
  readonly instanceIds?: readonly string[];
  readonly dryRun: boolean;
  readonly prune: boolean;
}

export interface ReconcileReport {
  readonly dryRun: boolean;
  readonly prune: boolean;
  readonly nodes: NodeReport[];
  /** Nodes not looked at because the invocation ran out of time (run the reconcile again). */
  readonly notReached: string[];
  readonly summary: {
    readonly nodes: number;
    readonly attached: number;
    readonly planned: number;
    readonly skipped: number;
    readonly failed: number;
    readonly notReached: number;
    /** Per action (create, adopt, in-place, fix, remove): how many ENIs it concerned. */
    readonly actions: Record<string, number>;
  };
}

export interface ReconcileDeps extends NodeDeps {
  readonly lifecycle: LifecyclePort;
  /** How many nodes are worked on at once (EC2 throttles mutating calls per account). */
  readonly concurrency?: number;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** True when the event asks for a reconcile. */
export function isReconcileEvent(event: unknown): boolean {
  return isRecord(event) && event.source === RECONCILE_SOURCE && event['detail-type'] === RECONCILE_DETAIL_TYPE;
}

const SELECTORS = ['autoScalingGroupName', 'instanceIds', 'all'] as const;
const KNOWN_KEYS = new Set<string>([...SELECTORS, 'dryRun', 'prune']);

/**
 * Reads a reconcile request. `detail` names exactly one of `autoScalingGroupName`, `instanceIds`
 * or `all: true`, plus optional `dryRun` and `prune`: an unknown key (a misspelt selector), a null
 * or empty detail, no selector or two of them is an error naming it, so a typo never widens a
 * reconcile (or a prune) to every node of the region.
 */
export function parseReconcileRequest(event: unknown): ReconcileRequest {
  const detail = isRecord(event) ? event.detail : undefined;
  if (!isRecord(detail)) {
    throw new MalformedEventError(`reconcile event: detail must be an object naming autoScalingGroupName, instanceIds or all: true (got ${detail === undefined ? 'none' : JSON.stringify(detail)})`);
  }
  const unknown = Object.keys(detail).filter((k) => !KNOWN_KEYS.has(k));
  if (unknown.length > 0) {
    throw new MalformedEventError(`reconcile event: detail.${unknown[0]} is not a reconcile field (known: ${[...KNOWN_KEYS].join(', ')})`);
  }
  const bool = (field: string): boolean => {
    const value = detail[field];
    if (value === undefined) return false;
    if (typeof value !== 'boolean') throw new MalformedEventError(`reconcile event: detail.${field} must be true or false`);
    return value;
  };
  const given = SELECTORS.filter((k) => detail[k] !== undefined);
  if (given.length === 0) throw new MalformedEventError('reconcile event: detail names no nodes: give one of autoScalingGroupName, instanceIds or all: true');
  if (given.length > 1) throw new MalformedEventError(`reconcile event: detail names nodes twice (${given.join(' and ')}): give exactly one`);
  const asg = detail.autoScalingGroupName;
  if (asg !== undefined && (typeof asg !== 'string' || asg.trim() === '')) {
    throw new MalformedEventError('reconcile event: detail.autoScalingGroupName must be a non-empty string');
  }
  const ids = detail.instanceIds;
  if (ids !== undefined && (!Array.isArray(ids) || ids.length === 0 || !ids.every((id) => typeof id === 'string' && /^i-[0-9a-f]{8,17}$/.test(id)))) {
    throw new MalformedEventError('reconcile event: detail.instanceIds must be a non-empty list of instance ids');
  }
  if (detail.all !== undefined && detail.all !== true) throw new MalformedEventError('reconcile event: detail.all must be true (or left out)');
  return {
    autoScalingGroupNames: typeof asg === 'string' ? [asg.trim()] : undefined,
    instanceIds: ids as string[] | undefined,
    dryRun: bool('dryRun'),
    prune: bool('prune'),
  };
}

async function targets(deps: ReconcileDeps, request: ReconcileRequest): Promise<string[]> {
  const ids = new Set<string>(request.instanceIds ?? []);
  for (const name of request.autoScalingGroupNames ?? []) {
    for (const id of await deps.lifecycle.groupInstances(name)) ids.add(id);
  }
  if (!request.instanceIds && !request.autoScalingGroupNames) {
    // Not `stopping`: EC2 refuses attaches until it is stopped; the next reconcile gets it.
    const tagged = await deps.ec2.describeTaggedInstances(deps.nodeTagKey, ['pending', 'running', 'stopped']);
    for (const i of tagged) ids.add(i.instanceId);
  }
  return [...ids].sort();
}

/**
 * Runs `work` over `items` with at most `limit` at once, keeping the order of results; starts
 * nothing new once `stop()` says so (what was not started is absent from the result).
 */
async function pooled<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>, stop: () => boolean): Promise<R[]> {
  const results: (R | undefined)[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length && !stop()) {
      const i = next++;
      results[i] = await work(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results.filter((r): r is R => r !== undefined);
}

export async function reconcileNodes(deps: ReconcileDeps, request: ReconcileRequest): Promise<ReconcileReport> {
  const ids = await targets(deps, request);
  deps.log.info('reconcile: nodes to check', { count: ids.length, dryRun: request.dryRun, prune: request.prune });
  const nodes = await pooled(
    ids,
    deps.concurrency ?? 4,
    (id) => ensureNode(deps, id, { dryRun: request.dryRun, prune: request.prune }),
    () => pastDeadline(deps.deadline),
  );
  const reached = new Set(nodes.map((n) => n.instanceId));
  const notReached = ids.filter((id) => !reached.has(id));
  if (notReached.length > 0) {
    deps.log.warn('reconcile: out of time; these nodes were not looked at (run it again)', { notReached });
  }
  const count = (outcome: NodeReport['outcome']) => nodes.filter((n) => n.outcome === outcome).length;
  const actions: Record<string, number> = {};
  for (const node of nodes) for (const a of node.actions) actions[a.action] = (actions[a.action] ?? 0) + 1;
  if (!request.dryRun) {
    for (const [action, n] of Object.entries(actions)) if (action !== 'in-place') deps.metrics?.add(METRICS.reconcileChanges, n, { action });
  }
  const report: ReconcileReport = {
    dryRun: request.dryRun,
    prune: request.prune,
    nodes,
    notReached,
    summary: {
      nodes: nodes.length,
      attached: count('attached'),
      planned: count('planned'),
      skipped: count('skipped'),
      failed: count('failed'),
      notReached: notReached.length,
      actions,
    },
  };
  deps.log.info('reconcile: done', { summary: report.summary });
  return report;
}
