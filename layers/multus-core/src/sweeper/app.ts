/**
 * The sweeper function's application: wires the clients into the sweep. The handler in
 * functions/sweeper stays thin: it builds this once per container and calls `handle`.
 *
 * The same function serves the stack's `InfrastructureCleanup` custom resource (its role can
 * remove our ENIs and names no node group, so the node group can depend on it without a cycle):
 * Create and Update change nothing; Delete, which CloudFormation sends after the node group is
 * gone and before the VPC's subnets go, removes our ENIs left in the multus subnets.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { AwsClients } from '../clients';
import { parseEnvelope, physicalIdFor, type RequestEnvelope } from '../custom-resource/envelope';
import { buildResponse, sendResponse, type CustomResourceOutcome, type CustomResourceResponse, type ResponseSender } from '../custom-resource/response';
import { SdkEc2 } from '../ec2/sdk';
import { DEFAULT_RELEASE_OPTIONS, type ReleaseOptions } from '../eni/release';
import { EnvironmentError, readEnvironment } from '../environment';
import { asError } from '../errors';
import { METRICS } from '../metrics/catalog';
import { createFunctionMetrics, withMetrics, type FunctionMetrics } from '../metrics/powertools';
import { cleanupSubnets, type CleanupReport } from './cleanup';
import { sweepOptionsFromEnv, sweepOrphans, type SweepOptions, type SweepSummary } from './sweep';

/** Time kept back for answering CloudFormation before the function times out. */
const ANSWER_MARGIN_MS = 20_000;

export interface SweeperAppOptions {
  readonly clients: Pick<AwsClients, 'ec2'>;
  readonly logger: Logger;
  readonly env?: NodeJS.ProcessEnv;
  readonly release?: ReleaseOptions;
  /** The clock (tests). */
  readonly now?: () => Date;
  readonly send?: ResponseSender;
  /** Pause between looks at ENIs still going with their instances (clean-up). */
  readonly pollMs?: number;
  /** The function's metrics (EMF); by default the sweeper's own. */
  readonly metrics?: FunctionMetrics;
}

export interface LambdaContextLike {
  getRemainingTimeInMillis(): number;
}

export interface SweeperApp {
  /** The sweep's settings; undefined when the environment is wrong (`problems` names it). */
  readonly options: SweepOptions | undefined;
  /** Bad values of the environment, each naming its variable (a sweep refuses to start with any). */
  readonly problems: readonly string[];
  /** A scheduled sweep. */
  handle(): Promise<SweepSummary>;
  /** The stack's clean-up (a CloudFormation custom resource request): answers CloudFormation, returns what it sent. */
  handleCleanup(event: unknown, context?: LambdaContextLike): Promise<CustomResourceResponse>;
}

/** The multus subnets of the clean-up's properties: `SubnetIds`, a list of comma-separated lists. */
function subnetIdsOf(envelope: RequestEnvelope): string[] {
  const raw = envelope.resourceProperties.SubnetIds;
  const items = Array.isArray(raw) ? raw : typeof raw === 'string' ? [raw] : [];
  return [...new Set(items.flatMap((i) => String(i).split(',')).map((s) => s.trim()).filter((s) => /^subnet-[0-9a-f]+$/.test(s)))];
}

function cleanupReason(report: CleanupReport, subnets: readonly string[]): string {
  const parts = [`${report.deleted.length} ENI(s) of ours removed from ${subnets.length} multus subnet(s)`];
  if (report.leftAttached.length > 0) parts.push(`left attached to running instances: ${report.leftAttached.join(', ')}`);
  if (report.stillGoing.length > 0) parts.push(`still attached to terminated instances when the time was up: ${report.stillGoing.join(', ')}`);
  if (report.failed.length > 0) parts.push(`could not be removed: ${report.failed.map((f) => `${f.networkInterfaceId} (${f.error})`).join('; ')}`);
  return parts.join('; ');
}

/**
 * Reads SWEEP_GRACE_MINUTES, SWEEP_DRY_RUN and the SDK's settings once per container. A bad value
 * does not fail the cold start (the stack's clean-up must still answer CloudFormation): a sweep
 * refuses to start, naming the variable.
 */
export function createSweeperApp(options: SweeperAppOptions): SweeperApp {
  const env = options.env ?? process.env;
  const problems = [...readEnvironment(env, false).problems];
  let sweepOptions: SweepOptions | undefined;
  try {
    sweepOptions = { ...sweepOptionsFromEnv(env), now: options.now };
  } catch (err) {
    problems.push(...((err as { problems?: string[] }).problems ?? [asError(err).message]));
  }
  if (problems.length > 0) options.logger.error('the function environment is wrong', { problems });
  // Nothing is cached: every sweep sees EC2 as it is.
  const ec2 = new SdkEc2(options.clients.ec2, { cacheMaxAgeMs: () => 0 });
  const release = options.release ?? DEFAULT_RELEASE_OPTIONS;
  const send = options.send ?? sendResponse;
  const metrics = options.metrics ?? createFunctionMetrics({ role: 'sweeper', log: options.logger, env });

  async function cleanup(envelope: RequestEnvelope, context?: LambdaContextLike): Promise<CustomResourceOutcome> {
    const physicalResourceId = envelope.physicalResourceId ?? physicalIdFor(envelope);
    if (envelope.requestType !== 'Delete') return { status: 'SUCCESS', physicalResourceId, reason: `${envelope.requestType}: nothing to do until the stack is deleted` };
    const subnets = subnetIdsOf(envelope);
    if (subnets.length === 0) return { status: 'SUCCESS', physicalResourceId, reason: 'no multus subnet named: nothing to clean up' };
    const deadline = Date.now() + Math.max((context?.getRemainingTimeInMillis() ?? 300_000) - ANSWER_MARGIN_MS, 1000);
    const report = await cleanupSubnets({ ec2, log: options.logger, release: { ...release, deadline }, pollMs: options.pollMs ?? 5000, deadline }, subnets);
    const blocked = report.failed.length > 0 || report.stillGoing.length > 0;
    return {
      status: blocked ? 'FAILED' : 'SUCCESS',
      physicalResourceId,
      reason: cleanupReason(report, subnets) + (blocked ? '. These ENIs would keep the subnets from being deleted: delete them, then delete the stack again' : ''),
      data: { Deleted: String(report.deleted.length) },
    };
  }

  /** The stack's clean-up: does the work, answers CloudFormation (always, FAILED on an error) and returns the answer. */
  async function cleanupAndAnswer(event: unknown, context?: LambdaContextLike): Promise<CustomResourceResponse> {
    options.logger.resetKeys();
    const envelope = parseEnvelope(event);
    options.logger.appendKeys({ requestType: envelope.requestType, logicalResourceId: envelope.logicalResourceId });
    const outcome = await cleanup(envelope, context).catch((err: unknown): CustomResourceOutcome => {
      const error = asError(err);
      options.logger.error('clean-up failed', { error });
      return { status: 'FAILED', physicalResourceId: envelope.physicalResourceId ?? physicalIdFor(envelope), reason: `${error.name}: ${error.message}` };
    });
    const body = buildResponse(envelope, outcome);
    options.logger.info(`answering CloudFormation: ${body.Status}`, { reason: body.Reason });
    metrics.add(METRICS.customResourceResponses, 1, { requestType: envelope.requestType, status: body.Status });
    await send(envelope.responseUrl, body, { timeoutMs: 5000, attempts: 3, backoffMs: 500 });
    return body;
  }

  return {
    options: sweepOptions,
    problems,
    handle: () =>
      withMetrics(metrics, async () => {
        options.logger.resetKeys();
        if (!sweepOptions || problems.length > 0) {
          metrics.add(METRICS.settingsErrors, 1);
          throw new EnvironmentError(problems);
        }
        return sweepOrphans({ ec2, log: options.logger, release, metrics }, sweepOptions);
      }),
    handleCleanup: (event: unknown, context?: LambdaContextLike) => withMetrics(metrics, () => cleanupAndAnswer(event, context)),
  };
}
