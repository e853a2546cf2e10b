/**
 * The sweeper function's application: wires the clients into the sweep. The handler in
 * functions/sweeper stays thin: it builds this once per container and calls `handle`.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { AwsClients } from '../clients';
import { SdkEc2 } from '../ec2/sdk';
import { DEFAULT_RELEASE_OPTIONS, type ReleaseOptions } from '../eni/release';
import { sweepOptionsFromEnv, sweepOrphans, type SweepOptions, type SweepSummary } from './sweep';

export interface SweeperAppOptions {
  readonly clients: Pick<AwsClients, 'ec2'>;
  readonly logger: Logger;
  readonly env?: NodeJS.ProcessEnv;
  readonly release?: ReleaseOptions;
  /** The clock (tests). */
  readonly now?: () => Date;
}

export interface SweeperApp {
  readonly options: SweepOptions;
  handle(): Promise<SweepSummary>;
}

/** Reads SWEEP_GRACE_MINUTES and SWEEP_DRY_RUN once: a bad value fails the cold start, naming it. */
export function createSweeperApp(options: SweeperAppOptions): SweeperApp {
  const sweepOptions: SweepOptions = { ...sweepOptionsFromEnv(options.env ?? process.env), now: options.now };
  // Nothing is cached: every sweep sees EC2 as it is.
  const ec2 = new SdkEc2(options.clients.ec2, { cacheMaxAgeMs: () => 0 });
  const release = options.release ?? DEFAULT_RELEASE_OPTIONS;
  return {
    options: sweepOptions,
    handle() {
      options.logger.resetKeys();
      return sweepOrphans({ ec2, log: options.logger, release }, sweepOptions);
    },
  };
}
