/**
 * The orphan sweeper: finds every ENI carrying our ownership tag, decides per ENI (decide.ts) and
 * acts: deletes available orphans, detaches and deletes ENIs left attached to a gone instance,
 * starts or clears the grace period mark. ENIs without our tag are never listed, so never touched.
 * One log line per ENI and a summary line with the counts.
 */
import type { Ec2Port } from '../ec2/port';
import { releaseInterface, type ReleaseOptions } from '../eni/release';
import { asError, SettingsError } from '../errors';
import type { Log } from '../log';
import { METRICS } from '../metrics/catalog';
import type { MetricRecorder } from '../metrics/recorder';
import { TAG_INSTANCE_ID } from '../tags';
import { decide, instancesToDescribe, TAG_ORPHAN_SINCE, type SweepAction } from './decide';

export interface SweepOptions {
  /** Minutes an ENI of ours may stay available (its instance alive) before it is deleted. */
  readonly graceMinutes: number;
  /** Decide and log, but never detach or delete (the grace period marks are still kept). */
  readonly dryRun: boolean;
  readonly now?: () => Date;
}

export interface SweepDeps {
  readonly ec2: Ec2Port;
  readonly log: Log;
  readonly release: ReleaseOptions;
  /** Counts the orphans found (deleted or, in a dry run, not), deleted, and the actions that failed. */
  readonly metrics?: MetricRecorder;
}

export interface SweptInterface {
  readonly networkInterfaceId: string;
  readonly instanceId: string;
  readonly attachedInstanceId: string | null;
  readonly subnetId: string;
  readonly status: string | null;
  readonly decision: SweepAction;
  readonly reason: string;
  /** What happened: done, skipped by dry-run, nothing to do (keep), or failed. */
  readonly result: 'done' | 'dry-run' | 'none' | 'failed';
  readonly error?: string;
}

export interface SweepSummary {
  readonly dryRun: boolean;
  readonly graceMinutes: number;
  /** ENIs carrying our ownership tag that were looked at. */
  readonly examined: number;
  /** How many ENIs got each decision (in dry-run, what would have been done). */
  readonly decisions: Record<SweepAction, number>;
  /** ENIs actually deleted (directly or after a detach); 0 in dry-run. */
  readonly deleted: number;
  readonly failed: number;
  readonly interfaces: SweptInterface[];
}

export const DEFAULT_SWEEP_GRACE_MINUTES = 30;

export async function sweepOrphans(deps: SweepDeps, options: SweepOptions): Promise<SweepSummary> {
  const { ec2, log } = deps;
  const now = (options.now ?? (() => new Date()))();
  const graceMs = options.graceMinutes * 60_000;
  const enis = (await ec2.describeInterfacesWithTagKey(TAG_INSTANCE_ID)).sort((a, b) =>
    a.networkInterfaceId.localeCompare(b.networkInterfaceId),
  );
  const instanceStates = await ec2.describeInstanceStates(instancesToDescribe(enis));
  const decisions: Record<SweepAction, number> = { keep: 0, mark: 0, unmark: 0, delete: 0, release: 0 };
  const swept: SweptInterface[] = [];
  let deleted = 0;
  let failed = 0;

  for (const eni of enis) {
    const { action, reason } = decide({ eni, instanceStates, now, graceMs });
    decisions[action]++;
    const destructive = action === 'delete' || action === 'release';
    let result: SweptInterface['result'] = action === 'keep' ? 'none' : destructive && options.dryRun ? 'dry-run' : 'done';
    let error: string | undefined;
    try {
      if (result === 'done') {
        if (action === 'mark') await ec2.tagInterface(eni.networkInterfaceId, { [TAG_ORPHAN_SINCE]: now.toISOString() });
        // DeleteNetworkInterface refuses an ENI in use, so one attached since the describe is safe.
        else if (action === 'delete') await ec2.deleteInterface(eni.networkInterfaceId);
        else if (action === 'release') await releaseInterface(ec2, eni.networkInterfaceId, deps.release);
        else if (action === 'unmark') await ec2.untagInterface(eni.networkInterfaceId, [TAG_ORPHAN_SINCE]);
        if (destructive) deleted++;
      }
    } catch (err) {
      const e = asError(err);
      result = 'failed';
      error = `${e.name}: ${e.message}`;
      failed++;
    }
    const entry: SweptInterface = {
      networkInterfaceId: eni.networkInterfaceId,
      instanceId: eni.tags[TAG_INSTANCE_ID] ?? '',
      attachedInstanceId: eni.attachment?.instanceId ?? null,
      subnetId: eni.subnetId,
      status: eni.status ?? null,
      decision: action,
      reason,
      result,
      ...(error ? { error } : {}),
    };
    swept.push(entry);
    const line = { ...entry, dryRun: options.dryRun };
    if (result === 'failed') log.error(`sweep ${eni.networkInterfaceId}: ${action} failed`, line);
    else log.info(`sweep ${eni.networkInterfaceId}: ${action}${result === 'dry-run' ? ' (dry run, not done)' : ''}`, line);
  }

  const summary: SweepSummary = {
    dryRun: options.dryRun,
    graceMinutes: options.graceMinutes,
    examined: enis.length,
    decisions,
    deleted,
    failed,
    interfaces: swept,
  };
  const counts = { dryRun: options.dryRun, graceMinutes: options.graceMinutes, examined: enis.length, decisions, deleted, failed };
  deps.metrics?.add(METRICS.sweepCandidates, decisions.delete + decisions.release);
  deps.metrics?.add(METRICS.sweepDeletions, deleted);
  deps.metrics?.add(METRICS.sweepFailures, failed);
  log.info(
    `sweep done: ${enis.length} ENIs of ours examined, ${deleted} deleted${options.dryRun ? ` (dry run: ${decisions.delete + decisions.release} would be)` : ''}, ${failed} failed`,
    counts,
  );
  return summary;
}

/** The sweeper's settings from the function environment; a bad value is an error naming it. */
export function sweepOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): SweepOptions {
  const graceText = env.SWEEP_GRACE_MINUTES?.trim();
  const graceMinutes = graceText === undefined || graceText === '' ? DEFAULT_SWEEP_GRACE_MINUTES : Number(graceText);
  if (!Number.isFinite(graceMinutes) || graceMinutes < 0) {
    throw new SettingsError([`SWEEP_GRACE_MINUTES environment variable must be a number of minutes >= 0, not "${env.SWEEP_GRACE_MINUTES}"`]);
  }
  const dryText = env.SWEEP_DRY_RUN?.trim().toLowerCase();
  if (dryText !== undefined && dryText !== '' && dryText !== 'true' && dryText !== 'false') {
    throw new SettingsError([`SWEEP_DRY_RUN environment variable must be "true" or "false", not "${env.SWEEP_DRY_RUN}"`]);
  }
  return { graceMinutes, dryRun: dryText === 'true' };
}
