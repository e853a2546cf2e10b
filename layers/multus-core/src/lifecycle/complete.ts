/**
 * Completing the lifecycle action, tolerant of an action that is already complete (the same event
 * delivered twice): Auto Scaling answers that with the generic ValidationError, so the state is
 * re-read instead of parsing the message.
 */
import {
  CompleteLifecycleActionCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
  DescribeLifecycleHooksCommand,
  DescribeWarmPoolCommand,
  RecordLifecycleActionHeartbeatCommand,
  type AutoScalingClient,
} from '@aws-sdk/client-auto-scaling';
import { TtlCache } from '../cache';
import { asError, awsErrorCode } from '../errors';
import type { LifecycleResult } from '../settings/parse';
import type { LifecycleAction } from './event';

export type CompletionOutcome = 'completed' | 'already-complete';

export interface LifecyclePort {
  complete(action: LifecycleAction, result: LifecycleResult): Promise<CompletionOutcome>;
  /** The instance's lifecycle state in its group, or undefined when Auto Scaling does not know it. */
  lifecycleState(instanceId: string): Promise<string | undefined>;
  /** The Auto Scaling group the instance belongs to, or undefined (Karpenter, self-managed without a group). */
  autoScalingGroupOf(instanceId: string): Promise<string | undefined>;
  /** Instance ids in the Auto Scaling group (in service, pending, warm pool...). */
  groupInstances(autoScalingGroupName: string): Promise<string[]>;
  /** RecordLifecycleActionHeartbeat for the action. */
  heartbeat(action: LifecycleAction): Promise<void>;
  /** The hook's heartbeat timeout in seconds, or undefined when the hook is not found. */
  heartbeatTimeoutSeconds(autoScalingGroupName: string, lifecycleHookName: string): Promise<number | undefined>;
}

/** Auto Scaling's message for an action that is complete, expired or unknown. */
const NO_ACTIVE_ACTION = /no active lifecycle action found/i;

/** True for states in which the instance still waits on a hook (`Pending:Wait`, `Warmed:Terminating:Wait`...). */
export function isWaiting(state: string | undefined): boolean {
  return state !== undefined && state.endsWith(':Wait');
}

export class SdkLifecycle implements LifecyclePort {
  private readonly hooks: TtlCache<number | undefined>;

  constructor(
    private readonly autoscaling: AutoScalingClient,
    cacheMaxAgeMs: () => number = () => 60_000,
  ) {
    this.hooks = new TtlCache(cacheMaxAgeMs);
  }

  clearCaches(): void {
    this.hooks.clear();
  }

  async heartbeat(action: LifecycleAction): Promise<void> {
    await this.autoscaling.send(
      new RecordLifecycleActionHeartbeatCommand({
        AutoScalingGroupName: action.autoScalingGroupName,
        LifecycleHookName: action.lifecycleHookName,
        LifecycleActionToken: action.lifecycleActionToken,
        InstanceId: action.instanceId,
      }),
    );
  }

  heartbeatTimeoutSeconds(autoScalingGroupName: string, lifecycleHookName: string): Promise<number | undefined> {
    return this.hooks.get(`${autoScalingGroupName}|${lifecycleHookName}`, async () => {
      const out = await this.autoscaling.send(
        new DescribeLifecycleHooksCommand({ AutoScalingGroupName: autoScalingGroupName, LifecycleHookNames: [lifecycleHookName] }),
      );
      return out.LifecycleHooks?.find((h) => h.LifecycleHookName === lifecycleHookName)?.HeartbeatTimeout;
    });
  }

  async lifecycleState(instanceId: string): Promise<string | undefined> {
    return (await this.describeMembership(instanceId))?.LifecycleState;
  }

  async autoScalingGroupOf(instanceId: string): Promise<string | undefined> {
    return (await this.describeMembership(instanceId))?.AutoScalingGroupName;
  }

  private async describeMembership(instanceId: string) {
    const out = await this.autoscaling.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: [instanceId] }));
    return out.AutoScalingInstances?.find((i) => i.InstanceId === instanceId);
  }

  async groupInstances(autoScalingGroupName: string): Promise<string[]> {
    const out = await this.autoscaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [autoScalingGroupName] }));
    const group = out.AutoScalingGroups?.[0];
    if (!group) throw new Error(`Auto Scaling group ${autoScalingGroupName} does not exist`);
    const ids = (group.Instances ?? []).map((i) => i.InstanceId).filter((id): id is string => !!id);
    // Warm pool instances get their ENIs in the pool (they launch through the same hook).
    if (group.WarmPoolConfiguration) {
      let NextToken: string | undefined;
      do {
        const pool = await this.autoscaling.send(new DescribeWarmPoolCommand({ AutoScalingGroupName: autoScalingGroupName, NextToken }));
        for (const i of pool.Instances ?? []) if (i.InstanceId) ids.push(i.InstanceId);
        NextToken = pool.NextToken;
      } while (NextToken);
    }
    return ids;
  }

  async complete(action: LifecycleAction, result: LifecycleResult): Promise<CompletionOutcome> {
    try {
      await this.autoscaling.send(
        new CompleteLifecycleActionCommand({
          AutoScalingGroupName: action.autoScalingGroupName,
          LifecycleHookName: action.lifecycleHookName,
          LifecycleActionToken: action.lifecycleActionToken,
          InstanceId: action.instanceId,
          LifecycleActionResult: result,
        }),
      );
      return 'completed';
    } catch (err) {
      if (awsErrorCode(err) !== 'ValidationError') throw err;
      // "No active Lifecycle Action found" and real validation problems share the code: re-read.
      const state = await this.lifecycleState(action.instanceId);
      if (!isWaiting(state)) return 'already-complete';
      // Still waiting: another hook of the group may be holding the instance, so the state cannot
      // tell. Only then does Auto Scaling's own wording decide.
      if (NO_ACTIVE_ACTION.test(asError(err).message)) return 'already-complete';
      throw err;
    }
  }
}
