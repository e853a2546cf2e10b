/**
 * The hook installer's application: the CloudFormation custom resource that puts our lifecycle
 * hooks on the managed node group's Auto Scaling groups (EKS does not expose them), gives the
 * opted-in nodes already running their multus ENIs (they launched before the hook existed), and
 * takes the hooks off on delete.
 *
 *  - Create: put both hooks, then reconcile the running nodes, then (with ScalingConfig: a node group
 *    the stack created with no node) set the node group's sizes, so that every node of it launches
 *    through the hooks. A node that cannot be made multus-ready fails the create (the reason names
 *    it); the rollback's Delete removes the hooks. Nodes that were running before the hooks are
 *    reported (Data.NodesRunningBeforeHooks) with what to do about them.
 *  - Update: put the new hooks, remove the old ones that moved (other node group or hook names),
 *    reconcile, then set the sizes when they changed or the node group is another one (sizes the
 *    cluster autoscaler or an operator changed meanwhile are otherwise left alone). Node failures
 *    are reported (log, Data.NodesFailed) but do not fail the update: a failed update would roll
 *    back into the same nodes and end in UPDATE_ROLLBACK_FAILED.
 *  - Delete: remove the hooks that carry our metadata; a node group that is gone has none.
 *
 * The same function serves the size guard (Custom::NodegroupSizeGuard, told by the request's
 * ResourceType), which MultusNodegroup depends on: before CloudFormation sends the node group its
 * new properties, it reads the live node group and fails the deployment when they would change
 * its sizes behind the user's back, or combine a sizes and a version update (size-guard.ts). It
 * changes nothing. The order on create is therefore: the guard (no node group yet: passes), the
 * node group with 0/0/1, then the hooks resource, which sizes it.
 *
 * Whatever happens, CloudFormation gets an answer with a readable reason: errors become FAILED,
 * and a timer answers before the function times out (no further change is started after it).
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { HookInstallerClients } from './clients';
import type { Ec2Port } from '../ec2/port';
import { SdkEc2 } from '../ec2/sdk';
import { EnvironmentError, readEnvironment } from '../environment';
import { asError, isSettingsProblem } from '../errors';
import { METRICS } from '../metrics/catalog';
import { createFunctionMetrics, withMetrics, type FunctionMetrics } from '../metrics/powertools';
import { createLifecycleApp, WORK_MARGIN_MS, type LifecycleApp } from '../app';
import type { ReconcileReport } from '../reconcile/reconcile';
import { cacheMaxAgeSeconds } from '../settings/load';
import { DeadlineError, installHooks, removeHooks, scaleNodegroup } from './install';
import { NodegroupNotFoundError, type HooksPort, type NodegroupView } from './port';
import { parseEnvelope, physicalIdFor, type RequestEnvelope } from '../custom-resource/envelope';
import { buildResponse, sendResponse, type CustomResourceOutcome, type CustomResourceResponse, type ResponseSender } from '../custom-resource/response';
import { formatScaling, parseHookTarget, sameHooks, sameNodegroup, type HookTarget } from './request';
import { SdkHooks } from './sdk';
import {
  acceptedHashes,
  decideSizes,
  parseSizeGuardTarget,
  sizeGuardHash,
  sizeGuardPhysicalId,
  SIZE_GUARD_TYPE,
  type LiveNodegroup,
  type SizeGuardTarget,
} from './size-guard';

/** Time kept back for answering CloudFormation before the function times out. */
export const DEFAULT_RESPONSE_MARGIN_MS = 30_000;
/** Work budget when no Lambda context tells the remaining time (local runs, tests). */
export const DEFAULT_BUDGET_MS = 600_000;
/** Pause between polls of an EKS node group update. */
export const DEFAULT_POLL_MS = 5_000;

export interface HookInstallerOptions {
  readonly clients: HookInstallerClients;
  readonly logger: Logger;
  readonly env?: NodeJS.ProcessEnv;
  /** Defaults to the SDK adapter over clients.eks and clients.autoscaling. */
  readonly hooks?: HooksPort;
  /** Brings running nodes to the settings; defaults to the lifecycle app's reconcile. */
  readonly reconciler?: Pick<LifecycleApp, 'reconcile'>;
  /** Tells which failed nodes are simply gone; defaults to the EC2 adapter. */
  readonly ec2?: Pick<Ec2Port, 'describeInstanceStates'>;
  readonly send?: ResponseSender;
  readonly responseMarginMs?: number;
  readonly budgetMs?: number;
  readonly pollMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** The function's metrics (EMF); by default the hook installer's own (the running nodes' ENIs counted there too). */
  readonly metrics?: FunctionMetrics;
}

export interface LambdaContextLike {
  getRemainingTimeInMillis(): number;
}

export interface HookInstallerApp {
  /** Handles one custom resource request and returns the response it sent to CloudFormation. */
  handle(event: unknown, context?: LambdaContextLike): Promise<CustomResourceResponse>;
}

interface RunningNodes {
  groupsDone: number;
  nodes: number;
  attached: number;
  skipped: number;
  gone: number;
  failures: string[];
  /** Nodes whose multus device indexes are held by other ENIs (e.g. the VPC CNI's on a node running before the hook): reported, never a failure of the stack. */
  conflicts: string[];
}

interface Run {
  phase: string;
  /** When CloudFormation gets its answer at the latest (epoch ms). */
  answerAt: number;
  readonly steps: string[];
  groups: string[];
  readonly nodes: RunningNodes;
  /** The sizes set on the node group (min/desired/max), when this run set them. */
  scaledTo?: string;
}

const GONE = new Set(['shutting-down', 'terminated', 'absent']);

export function createHookInstallerApp(options: HookInstallerOptions): HookInstallerApp {
  const { logger } = options;
  const env = options.env ?? process.env;
  const hooks = options.hooks ?? new SdkHooks(options.clients.eks, options.clients.autoscaling);
  const metrics = options.metrics ?? createFunctionMetrics({ role: 'hook-installer', log: logger, env });
  const reconciler = options.reconciler ?? createLifecycleApp({ clients: options.clients, logger, env, metrics });
  const ec2 = options.ec2 ?? new SdkEc2(options.clients.ec2, { cacheMaxAgeMs: () => cacheMaxAgeSeconds(env) * 1000 });
  const send = options.send ?? sendResponse;
  const margin = options.responseMarginMs ?? DEFAULT_RESPONSE_MARGIN_MS;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  // Read once; Create and Update refuse to start with a bad value (Delete needs none of them).
  const environment = readEnvironment(env);
  const checkEnvironment = () => {
    if (environment.problems.length > 0) throw new EnvironmentError(environment.problems);
  };
  const pollMs = options.pollMs ?? DEFAULT_POLL_MS;

  function summary(run: Run): string {
    const n = run.nodes;
    const nodes =
      `${n.nodes} running node(s) checked: ${n.attached} with multus ENIs, ${n.skipped} skipped, ${n.failures.length} failed` +
      (n.gone > 0 ? `, ${n.gone} gone meanwhile` : '') +
      (n.conflicts.length > 0 ? `; left as they are (device indexes held by other ENIs; replace these nodes to give them their multus ENIs): ${n.conflicts.join('; ')}` : '');
    const scaled = run.scaledTo ? `; node group sized ${run.scaledTo} (min/desired/max) after the hooks` : '';
    return `hooks on ${run.groups.join(', ') || 'no group'}; ${nodes}${scaled}`;
  }

  /**
   * What the reason says of nodes that were running before the hooks (an existing node group): they
   * were given their ENIs now, after their boot.
   */
  function before(run: Run): string {
    const n = run.nodes.attached + run.nodes.conflicts.length;
    if (n === 0) return '';
    return (
      `. ${n} opted-in node(s) were running before the hooks: their multus ENIs were attached after boot ` +
      '(the node agent configures them as they appear, but kubelet registered without the eks-multus-eni/ready=true label): ' +
      'replace them once (drain, then terminate each: the node group launches the replacements through the hooks)'
    );
  }

  /** Sets the node group's sizes now that the hooks are in place. */
  async function scale(run: Run, target: HookTarget, signal: AbortSignal): Promise<void> {
    if (!target.scaling) return;
    run.phase = `setting the node group's sizes to ${formatScaling(target.scaling)} (min/desired/max)`;
    const report = await scaleNodegroup({ hooks, log: logger, signal, note: (s) => run.steps.push(s), sleep, pollMs }, target, target.scaling);
    run.scaledTo = formatScaling(report.scaling);
  }

  /** Gives the running nodes of each group their ENIs (never removes any). */
  async function reconcileGroups(run: Run, signal: AbortSignal): Promise<void> {
    run.phase = 'giving running nodes their multus ENIs';
    for (const group of run.groups) {
      if (signal.aborted) throw new DeadlineError('stopped: the function is about to time out');
      // No node is started after CloudFormation is answered: the reconcile's own deadline is the answer's time.
      const untilAnswer = { getRemainingTimeInMillis: () => run.answerAt + WORK_MARGIN_MS - Date.now() };
      const report: ReconcileReport = await reconciler.reconcile({ autoScalingGroupNames: [group], dryRun: false, prune: false }, untilAnswer);
      const failed = report.nodes.filter((n) => n.outcome === 'failed');
      const states = failed.length > 0 ? await ec2.describeInstanceStates(failed.map((n) => n.instanceId)) : new Map<string, string>();
      for (const node of report.nodes) {
        run.nodes.nodes++;
        if (node.outcome === 'attached') run.nodes.attached++;
        else if (node.outcome === 'skipped') run.nodes.skipped++;
        else if (node.outcome === 'failed') {
          // A node that terminated while we looked at it is not a failure of ours (state re-read, not the message).
          if (GONE.has(states.get(node.instanceId) ?? 'absent')) run.nodes.gone++;
          else if (node.errorName === 'DeviceIndexConflictError') run.nodes.conflicts.push(`${node.instanceId}: ${node.reason ?? 'conflict'}`);
          else run.nodes.failures.push(`${node.instanceId}: ${node.reason ?? 'failed'}`);
        }
      }
      run.nodes.groupsDone++;
      run.steps.push(`reconciled ${group}`);
    }
  }

  function data(run: Run): Record<string, string> {
    return {
      AutoScalingGroupNames: run.groups.join(','),
      NodesChecked: String(run.nodes.nodes),
      NodesAttached: String(run.nodes.attached),
      NodesFailed: String(run.nodes.failures.length),
      NodesConflicting: String(run.nodes.conflicts.length),
      NodesRunningBeforeHooks: String(run.nodes.attached + run.nodes.conflicts.length),
      ...(run.scaledTo ? { ScalingConfig: run.scaledTo } : {}),
    };
  }

  async function create(envelope: RequestEnvelope, run: Run, signal: AbortSignal, physicalResourceId: string): Promise<CustomResourceOutcome> {
    run.phase = 'reading the function environment';
    checkEnvironment();
    run.phase = 'reading the resource properties';
    const target = parseHookTarget(envelope.resourceProperties);
    run.phase = 'putting the lifecycle hooks';
    run.groups = await installHooks({ hooks, log: logger, signal, note: (s) => run.steps.push(s) }, target);
    await reconcileGroups(run, signal);
    if (run.nodes.failures.length > 0) {
      return {
        status: 'FAILED',
        physicalResourceId,
        reason: `${run.nodes.failures.length} running node(s) could not be given their multus ENIs (the hooks are removed again by the rollback): ${run.nodes.failures.join('; ')}`,
        data: data(run),
      };
    }
    await scale(run, target, signal);
    return { status: 'SUCCESS', physicalResourceId, reason: summary(run) + before(run), data: data(run) };
  }

  async function update(envelope: RequestEnvelope, run: Run, signal: AbortSignal, physicalResourceId: string): Promise<CustomResourceOutcome> {
    run.phase = 'reading the function environment';
    checkEnvironment();
    run.phase = 'reading the resource properties';
    const target = parseHookTarget(envelope.resourceProperties);
    let old: HookTarget | undefined;
    try {
      old = envelope.oldResourceProperties ? parseHookTarget(envelope.oldResourceProperties, 'OldResourceProperties') : undefined;
    } catch (err) {
      logger.warn('the previous properties are unreadable: old hooks are not looked for', { error: asError(err) });
    }
    const deps = { hooks, log: logger, signal, note: (s: string) => run.steps.push(s) };
    run.phase = 'putting the lifecycle hooks';
    run.groups = await installHooks(deps, target, old ? [target.notificationMetadata, old.notificationMetadata] : [target.notificationMetadata]);
    if (old && !sameHooks(old, target)) {
      run.phase = 'removing the previous lifecycle hooks';
      const keep = new Set(run.groups.flatMap((g) => [`${g}|${target.launchHookName}`, `${g}|${target.terminateHookName}`]));
      await removeHooks(deps, old, keep);
    }
    await reconcileGroups(run, signal);
    // A node group that is new to the hooks starts with no node; one that is not keeps the sizes the
    // cluster autoscaler or an operator gave it, unless the template's sizes changed.
    const moved = !old || !sameNodegroup(old, target);
    if (moved || JSON.stringify(old?.scaling) !== JSON.stringify(target.scaling)) await scale(run, target, signal);
    if (run.nodes.failures.length > 0) {
      logger.error('running nodes could not be given their multus ENIs; the update goes on', { failures: run.nodes.failures });
      return {
        status: 'SUCCESS',
        physicalResourceId,
        reason: `${summary(run)}. Not failing the update for them: ${run.nodes.failures.join('; ')}`,
        data: data(run),
      };
    }
    return { status: 'SUCCESS', physicalResourceId, reason: summary(run) + (moved ? before(run) : ''), data: data(run) };
  }

  async function remove(envelope: RequestEnvelope, run: Run, signal: AbortSignal, physicalResourceId: string): Promise<CustomResourceOutcome> {
    run.phase = 'reading the resource properties';
    let target: HookTarget;
    try {
      target = parseHookTarget(envelope.resourceProperties);
    } catch (err) {
      // A create that failed on its properties is rolled back with the same properties: nothing was put.
      const error = asError(err);
      logger.warn('delete with unreadable properties: nothing to remove', { error });
      return { status: 'SUCCESS', physicalResourceId, reason: `nothing to remove: ${error.message}` };
    }
    run.phase = 'removing the lifecycle hooks';
    const report = await removeHooks({ hooks, log: logger, signal, note: (s) => run.steps.push(s) }, target);
    const parts = [
      report.removed.length > 0 ? `removed ${report.removed.join(', ')}` : 'no hook of ours to remove',
      ...(report.left.length > 0 ? [`left in place (put there by another deployment): ${report.left.join(', ')}`] : []),
      ...(report.note ? [report.note] : []),
    ];
    return { status: 'SUCCESS', physicalResourceId, reason: parts.join('; ') };
  }

  /** The live node group the guard's target names; undefined when EKS knows none of that name. */
  async function liveNodegroup(target: SizeGuardTarget): Promise<(LiveNodegroup & Pick<NodegroupView, 'status' | 'launchTemplateVersion'>) | undefined> {
    try {
      const view = await hooks.describeNodegroup(target.clusterName, target.nodegroupName);
      return { scaling: view.scaling, launchTemplateVersion: view.launchTemplateVersion, status: view.status };
    } catch (err) {
      if (err instanceof Error && err.name === NodegroupNotFoundError.name) return undefined;
      throw err;
    }
  }

  /** The size guard's Create and Update: read the node group, decide, answer. It changes nothing. */
  async function guard(envelope: RequestEnvelope, run: Run, _signal: AbortSignal, physicalResourceId: string): Promise<CustomResourceOutcome> {
    run.phase = 'reading the resource properties';
    const target = parseSizeGuardTarget(envelope.resourceProperties);
    const hash = sizeGuardHash(target);
    const base = physicalIdFor(envelope);
    if (envelope.requestType === 'Update' && acceptedHashes(envelope.physicalResourceId).includes(hash)) {
      // Properties this guard accepted before (a rollback bringing them back): never fail here.
      return { status: 'SUCCESS', physicalResourceId, reason: 'properties this guard accepted before (a rollback restoring them): nothing to check' };
    }
    let previous: SizeGuardTarget | undefined;
    if (envelope.requestType === 'Update' && envelope.oldResourceProperties) {
      try {
        previous = parseSizeGuardTarget(envelope.oldResourceProperties, 'OldResourceProperties');
      } catch (err) {
        logger.warn('the previous properties are unreadable: deciding as for a guard new to the stack', { error: asError(err) });
      }
    }
    run.phase = `reading EKS node group "${target.nodegroupName}"`;
    const live = await liveNodegroup(target);
    const decision = decideSizes({ request: envelope.requestType === 'Update' ? 'Update' : 'Create', target, previous, live });
    logger[decision.allowed ? 'info' : 'error'](`size guard: ${decision.allowed ? 'allowed' : 'refused'}`, {
      nodegroupName: target.nodegroupName,
      template: formatScaling(target.scaling),
      previous: previous ? formatScaling(previous.scaling) : undefined,
      live: live?.scaling ? formatScaling(live.scaling) : live ? 'unknown' : 'no node group',
      liveStatus: live?.status,
      liveLaunchTemplateVersion: live?.launchTemplateVersion,
      launchTemplateVersion: target.launchTemplateVersion,
      reason: decision.reason,
    });
    const data = { LiveScalingConfig: live?.scaling ? formatScaling(live.scaling) : '', TemplateScalingConfig: formatScaling(target.scaling) };
    if (!decision.allowed) return { status: 'FAILED', physicalResourceId, reason: decision.reason, data };
    // A new id for new properties: CloudFormation then treats the update as a replacement, so that a
    // rollback deletes this one instead of sending properties back (acceptedHashes, above).
    return { status: 'SUCCESS', physicalResourceId: sizeGuardPhysicalId(base, hash, envelope.physicalResourceId), reason: decision.reason, data };
  }

  /** The size guard's Delete: nothing was made, nothing to remove. */
  async function guardDelete(_envelope: RequestEnvelope, _run: Run, _signal: AbortSignal, physicalResourceId: string): Promise<CustomResourceOutcome> {
    return { status: 'SUCCESS', physicalResourceId, reason: 'the size guard made nothing: nothing to remove' };
  }

  function failure(envelope: RequestEnvelope, run: Run, physicalResourceId: string, err: unknown): CustomResourceOutcome {
    const error = asError(err);
    if (isSettingsProblem(error)) metrics.add(METRICS.settingsErrors, 1);
    const done = run.steps.length > 0 ? ` Done before the failure: ${run.steps.join(', ')}.` : '';
    const rollback = envelope.requestType === 'Create' && run.steps.length > 0 ? ' The rollback removes the hooks again.' : '';
    logger.error(`custom resource ${envelope.requestType} failed while ${run.phase}`, { error, steps: run.steps });
    return {
      status: 'FAILED',
      physicalResourceId,
      reason: `${error.name}: ${error.message} (while ${run.phase}).${done}${rollback}`,
      data: run.groups.length > 0 ? data(run) : undefined,
    };
  }

  function outOfTime(envelope: RequestEnvelope, run: Run, physicalResourceId: string, waitedMs: number): CustomResourceOutcome {
    const seconds = Math.round(waitedMs / 1000);
    if (envelope.requestType === 'Update' && run.phase.startsWith('giving running nodes')) {
      logger.warn('out of time while giving running nodes their ENIs; the hooks are updated', { groupsDone: run.nodes.groupsDone, groups: run.groups });
      return {
        status: 'SUCCESS',
        physicalResourceId,
        reason: `${summary(run)}. Out of time after ${seconds}s with ${run.nodes.groupsDone} of ${run.groups.length} group(s) reconciled: send a reconcile event (events/reconcile.json) to the lifecycle function for the rest`,
        data: data(run),
      };
    }
    return failure(envelope, run, physicalResourceId, new DeadlineError(`the function ran out of time after ${seconds}s`));
  }

  async function handle(event: unknown, context?: LambdaContextLike): Promise<CustomResourceResponse> {
    return withMetrics(metrics, () => answer(event, context));
  }

  /** One custom resource request: the work, bounded by the function's time, then the answer to CloudFormation. */
  async function answer(event: unknown, context?: LambdaContextLike): Promise<CustomResourceResponse> {
    logger.resetKeys();
    let envelope: RequestEnvelope;
    try {
      envelope = parseEnvelope(event);
    } catch (err) {
      logger.error('not a CloudFormation custom resource request: there is no ResponseURL to answer', { error: asError(err) });
      throw err;
    }
    logger.appendKeys({ requestType: envelope.requestType, logicalResourceId: envelope.logicalResourceId, requestId: envelope.requestId });
    const physicalResourceId = envelope.physicalResourceId ?? physicalIdFor(envelope);
    const run: Run = { phase: 'starting', answerAt: Number.POSITIVE_INFINITY, steps: [], groups: [], nodes: { groupsDone: 0, nodes: 0, attached: 0, skipped: 0, gone: 0, failures: [], conflicts: [] } };
    const controller = new AbortController();
    const work =
      envelope.resourceType === SIZE_GUARD_TYPE
        ? { Create: guard, Update: guard, Delete: guardDelete }[envelope.requestType]
        : { Create: create, Update: update, Delete: remove }[envelope.requestType];

    const remaining = context?.getRemainingTimeInMillis() ?? options.budgetMs ?? DEFAULT_BUDGET_MS;
    const waitMs = Math.max(remaining - margin, 1000);
    run.answerAt = Date.now() + waitMs;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<CustomResourceOutcome>((resolve) => {
      timer = setTimeout(() => {
        controller.abort();
        resolve(outOfTime(envelope, run, physicalResourceId, waitMs));
      }, waitMs);
    });
    let answered = false;
    const outcome = await Promise.race([
      work(envelope, run, controller.signal, physicalResourceId).catch((err: unknown): CustomResourceOutcome => {
        if (!answered) return failure(envelope, run, physicalResourceId, err);
        logger.warn('work stopped after CloudFormation was answered', { error: asError(err) });
        return { status: 'FAILED', physicalResourceId, reason: 'stopped after the answer' };
      }),
      deadline,
    ]);
    answered = true;
    clearTimeout(timer);
    controller.abort(); // nothing more starts after the answer, whichever came first

    const body = buildResponse(envelope, outcome);
    const log = body.Status === 'SUCCESS' ? logger.info.bind(logger) : logger.error.bind(logger);
    log(`answering CloudFormation: ${body.Status}`, { reason: body.Reason, physicalResourceId: body.PhysicalResourceId, data: body.Data });
    metrics.add(METRICS.customResourceResponses, 1, { requestType: envelope.requestType, status: body.Status });
    const left = context ? context.getRemainingTimeInMillis() : margin;
    try {
      await send(envelope.responseUrl, body, { timeoutMs: Math.max(1000, Math.min(5000, Math.floor(left / 4))), attempts: 3, backoffMs: 500 });
    } catch (err) {
      // Thrown so that the failed invocation lands in the dead-letter queue; CloudFormation gives up at ServiceTimeout.
      logger.error('the response could not be delivered to CloudFormation', { error: asError(err) });
      throw err;
    }
    return body;
  }

  return { handle };
}
