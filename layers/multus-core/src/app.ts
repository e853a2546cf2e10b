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
import { asError, SettingsError } from './errors';
import { SdkLifecycle, type LifecyclePort } from './lifecycle/complete';
import { parseLifecycleEvent } from './lifecycle/event';
import type { HeartbeatOptions } from './lifecycle/heartbeat';
import { handleLaunch } from './lifecycle/launch';
import type { HandlerResult } from './lifecycle/result';
import { handleTerminate } from './lifecycle/terminate';
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
    };
  };

  async function reconcile(request: ReconcileRequest, context?: RemainingTime): Promise<ReconcileReport> {
    // Many nodes at once: no per-node keys on the shared logger (each line names its node).
    const deps = { ...nodeDeps(context), annotate: undefined };
    return withCallDeadline({ deadline: deps.deadline, what: 'the reconcile' }, () => reconcileNodes(deps, request));
  }

  async function handle(event: unknown, context?: RemainingTime): Promise<HandlerResult> {
    logger.resetKeys();
    if (isReconcileEvent(event)) {
      try {
        const report = await reconcile(parseReconcileRequest(event), context);
        return { outcome: 'reconciled', lifecycleResult: null, instanceId: null, interfaces: [], reconcile: report };
      } catch (err) {
        logger.error('reconcile failed', { error: asError(err) });
        throw err;
      }
    }
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
          handleTerminate({ ec2, lifecycle, log: logger, release: terminateRelease, annotate: (keys) => logger.appendKeys(keys) }, action),
        );
      }
      let deps;
      try {
        deps = nodeDeps(context);
      } catch (err) {
        const error = asError(err);
        logger.error('function environment is wrong: the node is abandoned', { error });
        const end = context ? Date.now() + context.getRemainingTimeInMillis() : undefined;
        const completion = await withCallDeadline({ deadline: end === undefined ? undefined : end - ANSWER_MARGIN_MS, what: 'the lifecycle answer', fresh: true }, () =>
          lifecycle.complete(action, 'ABANDON'),
        );
        return {
          outcome: 'failed',
          lifecycleResult: 'ABANDON',
          instanceId: action.instanceId,
          interfaces: [],
          reason: `${error.name}: ${error.message}`,
          completion,
        };
      }
      return await handleLaunch({ ...deps, heartbeat: options.heartbeat }, action);
    } catch (err) {
      // Only completing the lifecycle action (or the terminate cleanup) gets here: the ENIs stay,
      // and the throw makes Lambda retry, so the redelivery finds them in place and completes.
      logger.error('lifecycle action could not be completed; the event will be retried', { error: asError(err) });
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
