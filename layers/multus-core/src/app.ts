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
import { handleLaunch } from './lifecycle/launch';
import type { HandlerResult } from './lifecycle/result';
import { handleTerminate } from './lifecycle/terminate';
import { cacheMaxAgeSeconds, normaliseConfigPath, SsmSettingsSource } from './settings/load';

export const DEFAULT_NODE_TAG_KEY = 'multus-ng';

export interface LifecycleAppOptions {
  readonly clients: AwsClients;
  readonly logger: Logger;
  readonly env?: NodeJS.ProcessEnv;
  readonly release?: ReleaseOptions;
  readonly lifecycle?: LifecyclePort;
}

export interface LifecycleApp {
  handle(event: unknown): Promise<HandlerResult>;
  /** Drops every cached setting and EC2 description (tests; the settings check). */
  clearCaches(): void;
}

export function createLifecycleApp(options: LifecycleAppOptions): LifecycleApp {
  const env = options.env ?? process.env;
  const { logger } = options;
  const ec2 = new SdkEc2(options.clients.ec2, { cacheMaxAgeMs: () => cacheMaxAgeSeconds(env) * 1000 });
  const settings = new SsmSettingsSource(options.clients.ssm);
  const lifecycle = options.lifecycle ?? new SdkLifecycle(options.clients.autoscaling);
  const release = options.release ?? DEFAULT_RELEASE_OPTIONS;

  async function handle(event: unknown): Promise<HandlerResult> {
    logger.resetKeys();
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
    logger.appendKeys({
      instanceId: action.instanceId,
      autoScalingGroupName: action.autoScalingGroupName,
      lifecycleHookName: action.lifecycleHookName,
      transition: action.transition,
    });
    try {
      if (parsed.kind === 'terminate') {
        return await handleTerminate({ ec2, lifecycle, log: logger, release }, action);
      }
      let configPath: string;
      try {
        configPath = normaliseConfigPath(env.CONFIG_PATH);
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
      return await handleLaunch(
        {
          ec2,
          lifecycle,
          settings,
          configPath,
          nodeTagKey: env.NODE_TAG_KEY?.trim() || DEFAULT_NODE_TAG_KEY,
          log: logger,
          release,
          maxAddressRaces: DEFAULT_MAX_ADDRESS_RACES,
          annotate: (keys) => logger.appendKeys(keys),
        },
        action,
      );
    } catch (err) {
      // Only completing the lifecycle action (or the terminate cleanup) gets here: the ENIs stay,
      // and the throw makes Lambda retry, so the redelivery finds them in place and completes.
      logger.error('lifecycle action could not be completed; the event will be retried', { error: asError(err) });
      throw err;
    }
  }

  return {
    handle,
    clearCaches() {
      ec2.clearCaches();
      settings.clearCache();
    },
  };
}

export { SettingsError };
