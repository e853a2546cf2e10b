/**
 * The lifecycle function's application: wires the clients into the domain and routes one event.
 * The handler in functions/lifecycle stays thin: it builds this once and calls `handle`.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { AwsClients } from './clients';
import { SdkEc2 } from './ec2/sdk';
import { DEFAULT_MAX_ADDRESS_RACES } from './eni/ensure';
import { DEFAULT_RELEASE_OPTIONS, type ReleaseOptions } from './eni/release';
import { asError, SettingsError } from './errors';
import { SdkLifecycle, type LifecyclePort } from './lifecycle/complete';
import { parseLifecycleEvent } from './lifecycle/event';
import type { HeartbeatOptions } from './lifecycle/heartbeat';
import { handleLaunch } from './lifecycle/launch';
import type { HandlerResult } from './lifecycle/result';
import { handleTerminate } from './lifecycle/terminate';
import { cacheMaxAgeSeconds, normaliseConfigPath, SsmSettingsSource } from './settings/load';
import { isReconcileEvent, parseReconcileRequest, reconcileNodes, type ReconcileReport, type ReconcileRequest } from './reconcile/reconcile';

export const DEFAULT_NODE_TAG_KEY = 'multus-ng';
/** No new step starts this close to the function's timeout: time kept for rollback and the answer. */
export const WORK_MARGIN_MS = 20_000;
/** Waits (detach during rollback) end this close to the timeout. */
const WAIT_MARGIN_MS = 8_000;

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

  const nodeTagKey = env.NODE_TAG_KEY?.trim() || DEFAULT_NODE_TAG_KEY;
  /** What launch and reconcile need; CONFIG_PATH is checked here, when it is needed. */
  const nodeDeps = (context?: RemainingTime) => {
    const end = context ? Date.now() + context.getRemainingTimeInMillis() : undefined;
    return {
      ec2,
      lifecycle,
      settings,
      configPath: normaliseConfigPath(env.CONFIG_PATH),
      nodeTagKey,
      log: logger,
      release: end === undefined ? release : { ...release, deadline: end - WAIT_MARGIN_MS },
      deadline: end === undefined ? undefined : end - WORK_MARGIN_MS,
      maxAddressRaces: DEFAULT_MAX_ADDRESS_RACES,
      annotate: (keys: Record<string, string>) => logger.appendKeys(keys),
    };
  };

  async function reconcile(request: ReconcileRequest, context?: RemainingTime): Promise<ReconcileReport> {
    // Many nodes at once: no per-node keys on the shared logger (each line names its node).
    return reconcileNodes({ ...nodeDeps(context), annotate: undefined }, request);
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
        return await handleTerminate({ ec2, lifecycle, log: logger, release: terminateRelease, annotate: (keys) => logger.appendKeys(keys) }, action);
      }
      let deps;
      try {
        deps = nodeDeps(context);
      } catch (err) {
        const error = asError(err);
        logger.error('function environment is incomplete', { error });
        const completion = await lifecycle.complete(action, 'ABANDON');
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
      settings.clearCache();
      sdkLifecycle.clearCaches();
    },
  };
}

export { SettingsError };
