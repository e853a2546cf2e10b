/**
 * Completing the lifecycle action, tolerant of an action that is already complete (the same event
 * delivered twice): Auto Scaling answers that with the generic ValidationError, so the state is
 * re-read instead of parsing the message.
 */
import {
  CompleteLifecycleActionCommand,
  DescribeAutoScalingInstancesCommand,
  type AutoScalingClient,
} from '@aws-sdk/client-auto-scaling';
import { awsErrorCode } from '../errors';
import type { LifecycleResult } from '../settings/parse';
import type { LifecycleAction } from './event';

export type CompletionOutcome = 'completed' | 'already-complete';

export interface LifecyclePort {
  complete(action: LifecycleAction, result: LifecycleResult): Promise<CompletionOutcome>;
  /** The instance's lifecycle state in its group, or undefined when Auto Scaling does not know it. */
  lifecycleState(instanceId: string): Promise<string | undefined>;
}

/** True for states in which the instance still waits on a hook (`Pending:Wait`, `Warmed:Terminating:Wait`...). */
export function isWaiting(state: string | undefined): boolean {
  return state !== undefined && state.endsWith(':Wait');
}

export class SdkLifecycle implements LifecyclePort {
  constructor(private readonly autoscaling: AutoScalingClient) {}

  async lifecycleState(instanceId: string): Promise<string | undefined> {
    const out = await this.autoscaling.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: [instanceId] }));
    return out.AutoScalingInstances?.find((i) => i.InstanceId === instanceId)?.LifecycleState;
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
      throw err;
    }
  }
}
