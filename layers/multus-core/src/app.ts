/**
 * The lifecycle function's application: wires the clients into the domain and routes one event.
 * The handler in functions/lifecycle stays thin: it builds this once and calls `handle`.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { withCallDeadline } from './budget';
import type { AwsClients } from './clients';
import { SdkEc2 } from './ec2/sdk';
import { DEFAULT_MAX_ADDRESS_RACES } from './eni/ensure';
import { SubnetMaps } from './eni/maps';
import { DEFAULT_RELEASE_OPTIONS, type ReleaseOptions } from './eni/release';
import { asError, isSettingsProblem, SettingsError } from './errors';
import { SdkLifecycle, type LifecyclePort } from './lifecycle/complete';
import { parseLifecycleEvent } from './lifecycle/event';
import type { HeartbeatOptions } from './lifecycle/heartbeat';
import { handleLaunch, recordLaunch } from './lifecycle/launch';
import type { HandlerResult } from './lifecycle/result';
import { handleStateChange, isStateChangeEvent, parseStateChange } from './lifecycle/state-change';
import { handleTerminate } from './lifecycle/terminate';
import { parseUnsuccessfulLaunch } from './lifecycle/unsuccessful';
import { METRICS } from './metrics/catalog';
import { createFunctionMetrics, withMetrics, type FunctionMetrics } from './metrics/powertools';
import { EnvironmentError, readEnvironment } from './environment';
import { cacheMaxAgeSeconds, SsmSettingsSource } from './settings/load';
import { isReconcileEvent, parseReconcileRequest, reconcileNodes, type ReconcileReport, type ReconcileRequest } from './reconcile/reconcile';

/**
 * No new step starts this close to the function's timeout, and AWS calls of the work still in
 * flight are aborted then: time kept for rollback and the answer.
 */
export const WORK_MARGIN_MS = 20_000;
/** Waits (detach during rollback) and the rollback's calls end this close to the timeout. */
const WAIT_MARGIN_MS = 8_000;
/** The lifecycle answer's calls end this close to the timeout. */
const ANSWER_MARGIN_MS = 1_000;

/** What the domain needs of Lambda's context: the time left. */
export interface RemainingTime {
  getRemainingTimeInMillis(): number;
}

export interface LifecycleAppOptions {
  readonly clients: AwsClients;
  readonly logger: Logger;
  readonly env?: NodeJS.ProcessEnv;
  readonly release?: ReleaseOptions;
  readonly lifecycle?: LifecyclePort;
  readonly heartbeat?: HeartbeatOptions;
  /** The function's metrics (EMF); by default the lifecycle function's own. */
  readonly metrics?: FunctionMetrics;
}

export interface LifecycleApp {
  /** `context` (Lambda's) bounds the work so that an answer always goes out before the timeout. */
  handle(event: unknown, context?: RemainingTime): Promise<HandlerResult>;
  /** Brings existing nodes to the current settings (the hook installer calls this for running nodes). */
  reconcile(request: ReconcileRequest, context?: RemainingTime): Promise<ReconcileReport>;
  /** Drops every cached setting and EC2 description (tests; the settings check). */
  clearCaches(): void;
}

export function createLifecycleApp(options: LifecycleAppOptions): LifecycleApp {
  const env = options.env ?? process.env;
  const { logger } = options;
  const ec2 = new SdkEc2(options.clients.ec2, { cacheMaxAgeMs: () => cacheMaxAgeSeconds(env) * 1000 });
  const settings = new SsmSettingsSource(options.clients.ssm);
  const cacheMaxAgeMs = () => cacheMaxAgeSeconds(env) * 1000;
  const sdkLifecycle = new SdkLifecycle(options.clients.autoscaling, cacheMaxAgeMs);
  const lifecycle = options.lifecycle ?? sdkLifecycle;
  const release = options.release ?? DEFAULT_RELEASE_OPTIONS;
  const metrics = options.metrics ?? createFunctionMetrics({ role: 'lifecycle', log: logger, env });
  // The container's maps of its lowest-free subnets, kept as long as the settings.
  const maps = new SubnetMaps(cacheMaxAgeMs);

  // Read once per container; a bad value is reported by the work that needs it, naming the variable.
  const environment = readEnvironment(env);
  const { nodeTagKey } = environment;
  if (environment.problems.length > 0) logger.error('the function environment is wrong', { problems: environment.problems });
  /** What launch and reconcile need; a bad environment is an EnvironmentError naming the variables. */
  const nodeDeps = (context?: RemainingTime) => {
    if (environment.problems.length > 0 || environment.configPath === undefined) throw new EnvironmentError(environment.problems);
    const end = context ? Date.now() + context.getRemainingTimeInMillis() : undefined;
    return {
      ec2,
      lifecycle,
      settings,
      configPath: environment.configPath,
      nodeTagKey,
      log: logger,
      release: end === undefined ? release : { ...release, deadline: end - WAIT_MARGIN_MS },
      deadline: end === undefined ? undefined : end - WORK_MARGIN_MS,
      answerDeadline: end === undefined ? undefined : end - ANSWER_MARGIN_MS,
      maxAddressRaces: DEFAULT_MAX_ADDRESS_RACES,
      maps,
      annotate: (keys: Record<string, string>) => logger.appendKeys(keys),
      region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION,
      metrics,
    };
  };

  async function reconcile(request: ReconcileRequest, context?: RemainingTime): Promise<ReconcileReport> {
    // Many nodes at once: no per-node keys on the shared logger (each line names its node).
    const deps = { ...nodeDeps(context), annotate: undefined };
    return withCallDeadline({ deadline: deps.deadline, what: 'the reconcile' }, () => reconcileNodes(deps, request));
  }

  /** Auto Scaling's "EC2 Instance Launch Unsuccessful" of the node group: counted by cause, logged; nothing is done. */
  function observeUnsuccessful(launch: NonNullable<ReturnType<typeof parseUnsuccessfulLaunch>>): HandlerResult {
    metrics.add(METRICS.unsuccessfulLaunches, 1, { cause: launch.cause });
    const keys = { instanceId: launch.instanceId, autoScalingGroupName: launch.autoScalingGroupName, cause: launch.cause, statusMessage: launch.statusMessage };
    if (launch.cause === 'hook-timeout') {
      logger.error("a launch lifecycle action ended by the hook's heartbeat timeout: nobody answered it (the node was abandoned and is replaced)", keys);
    } else if (launch.cause === 'abandoned') {
      logger.info('Auto Scaling ended a launch that was answered ABANDON', keys);
    } else {
      logger.warn('Auto Scaling reports an unsuccessful launch in the node group', keys);
    }
    return { outcome: 'ignored', lifecycleResult: null, instanceId: launch.instanceId, interfaces: [], reason: `Auto Scaling reports an unsuccessful launch (${launch.cause}): ${launch.statusMessage}` };
  }

  async function handle(event: unknown, context?: RemainingTime): Promise<HandlerResult> {
    return withMetrics(metrics, () => route(event, context));
  }

  async function route(event: unknown, context?: RemainingTime): Promise<HandlerResult> {
    logger.resetKeys();
    const unsuccessful = parseUnsuccessfulLaunch(event);
    if (unsuccessful) return observeUnsuccessful(unsuccessful);
    if (isReconcileEvent(event)) {
      try {
        const report = await reconcile(parseReconcileRequest(event), context);
        return { outcome: 'reconciled', lifecycleResult: null, instanceId: null, interfaces: [], reconcile: report };
      } catch (err) {
        logger.error('reconcile failed', { error: asError(err) });
        if (isSettingsProblem(err)) metrics.add(METRICS.settingsErrors, 1);
        throw err;
      }
    }
    if (isStateChangeEvent(event)) return stateChange(event, context);
    let parsed;
    try {
      parsed = parseLifecycleEvent(event);
    } catch (err) {
      logger.error('malformed lifecycle event; nothing was done', { error: asError(err) });
      throw err;
    }
    if (parsed.kind === 'ignored') {
      logger.info(`ignored event: ${parsed.reason}`);
      return { outcome: 'ignored', lifecycleResult: null, instanceId: null, interfaces: [], reason: parsed.reason };
    }
    const { action } = parsed;
    // Our hooks only (when the deployment names them): another hook's action is not ours to complete.
    const ourHooks = [env.LAUNCH_HOOK_NAME, env.TERMINATE_HOOK_NAME].map((h) => h?.trim()).filter((h): h is string => !!h);
    if (ourHooks.length > 0 && !ourHooks.includes(action.lifecycleHookName)) {
      const reason = `lifecycle hook ${action.lifecycleHookName} is not one of ours (${ourHooks.join(', ')})`;
      logger.info(`ignored event: ${reason}`, { instanceId: action.instanceId });
      return { outcome: 'ignored', lifecycleResult: null, instanceId: action.instanceId, interfaces: [], reason };
    }
    logger.appendKeys({
      instanceId: action.instanceId,
      autoScalingGroupName: action.autoScalingGroupName,
      lifecycleHookName: action.lifecycleHookName,
      transition: action.transition,
    });
    try {
      if (parsed.kind === 'terminate') {
        const end = context ? Date.now() + context.getRemainingTimeInMillis() : undefined;
        const terminateRelease = end === undefined ? release : { ...release, deadline: end - WAIT_MARGIN_MS };
        return await withCallDeadline({ deadline: end === undefined ? undefined : end - ANSWER_MARGIN_MS, what: 'the terminate' }, () =>
          handleTerminate({ ec2, lifecycle, log: logger, release: terminateRelease, annotate: (keys) => logger.appendKeys(keys), metrics }, action),
        );
      }
      let deps;
      const startedAt = Date.now();
      try {
        deps = nodeDeps(context);
      } catch (err) {
        const error = asError(err);
        logger.error('function environment is wrong: the node is abandoned', { error });
        metrics.add(METRICS.settingsErrors, 1);
        const end = context ? Date.now() + context.getRemainingTimeInMillis() : undefined;
        const completion = await withCallDeadline({ deadline: end === undefined ? undefined : end - ANSWER_MARGIN_MS, what: 'the lifecycle answer', fresh: true }, () =>
          lifecycle.complete(action, 'ABANDON'),
        );
        const result: HandlerResult = {
          outcome: 'failed',
          lifecycleResult: 'ABANDON',
          instanceId: action.instanceId,
          interfaces: [],
          reason: `${error.name}: ${error.message}`,
          completion,
        };
        recordLaunch(metrics, result, startedAt);
        return result;
      }
      return await handleLaunch({ ...deps, heartbeat: options.heartbeat }, action);
    } catch (err) {
      // Only completing the lifecycle action (or the terminate cleanup) gets here: the ENIs stay,
      // and the throw makes Lambda retry, so the redelivery finds them in place and completes.
      logger.error('lifecycle action could not be completed; the event will be retried', { error: asError(err) });
      throw err;
    }
  }

  /** A node without a lifecycle hook (Karpenter, self-managed): its state-change notification. */
  async function stateChange(event: unknown, context?: RemainingTime): Promise<HandlerResult> {
    let change;
    try {
      change = parseStateChange(event);
    } catch (err) {
      logger.error('malformed state-change event; nothing was done', { error: asError(err) });
      throw err;
    }
    logger.appendKeys({ instanceId: change.instanceId, state: change.state });
    const startedAt = Date.now();
    let deps;
    try {
      deps = nodeDeps(context);
    } catch (err) {
      // No hook waits for an answer: the bad environment is the result (a retry would not help).
      const error = asError(err);
      logger.error('function environment is wrong: the node gets no multus ENIs', { error });
      metrics.add(METRICS.settingsErrors, 1);
      const result: HandlerResult = { outcome: 'failed', lifecycleResult: null, instanceId: change.instanceId, interfaces: [], reason: `${error.name}: ${error.message}` };
      recordLaunch(metrics, result, startedAt);
      return result;
    }
    const launchHookName = env.LAUNCH_HOOK_NAME?.trim() || 'eks-multus-eni-launch';
    try {
      const result = await withCallDeadline({ deadline: deps.deadline, what: 'the ENI work' }, () => handleStateChange({ ...deps, launchHookName }, change));
      logger.info(`state change handled: ${result.outcome}`, { reason: result.reason });
      // Counted as launches (outcome only: no lifecycle result) when the node is ours: not the
      // ignored and skipped instances of the whole region.
      if (result.outcome === 'attached' || result.outcome === 'failed') recordLaunch(metrics, result, startedAt);
      return result;
    } catch (err) {
      logger.error('the node could not be given its multus ENIs; the event will be retried', { error: asError(err) });
      recordLaunch(metrics, { outcome: 'failed', lifecycleResult: null, instanceId: change.instanceId, interfaces: [] }, startedAt);
      throw err;
    }
  }

  return {
    handle,
    reconcile,
    clearCaches() {
      ec2.clearCaches();
      maps.clear();
      settings.clearCache();
      sdkLifecycle.clearCaches();
    },
  };
}

export { SettingsError };
