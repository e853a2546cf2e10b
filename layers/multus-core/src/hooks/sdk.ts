/** The hooks port over @aws-sdk/client-eks and @aws-sdk/client-auto-scaling. */
import {
  DeleteLifecycleHookCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeLifecycleHooksCommand,
  PutLifecycleHookCommand,
  type AutoScalingClient,
} from '@aws-sdk/client-auto-scaling';
import { DescribeNodegroupCommand, DescribeUpdateCommand, UpdateNodegroupConfigCommand, type EKSClient, type Update } from '@aws-sdk/client-eks';
import { awsErrorCode } from '../errors';
import {
  NodegroupNotFoundError,
  type HooksPort,
  type LifecycleHookSpec,
  type LifecycleHookView,
  type NodegroupUpdateView,
  type NodegroupView,
  type ScalingConfig,
} from './port';

function updateView(update: Update | undefined): NodegroupUpdateView {
  return {
    id: update?.id ?? '',
    status: update?.status ?? 'unknown',
    errors: (update?.errors ?? []).map((e) => `${e.errorCode ?? 'error'}: ${e.errorMessage ?? ''}`.trim()),
  };
}

export class SdkHooks implements HooksPort {
  constructor(
    private readonly eks: EKSClient,
    private readonly autoscaling: AutoScalingClient,
  ) {}

  async describeNodegroup(clusterName: string, nodegroupName: string): Promise<NodegroupView> {
    try {
      const out = await this.eks.send(new DescribeNodegroupCommand({ clusterName, nodegroupName }));
      const groups = out.nodegroup?.resources?.autoScalingGroups ?? [];
      const sizes = out.nodegroup?.scalingConfig;
      return {
        status: out.nodegroup?.status,
        autoScalingGroupNames: groups.map((g) => g.name).filter((n): n is string => !!n),
        scaling:
          sizes && sizes.minSize !== undefined && sizes.desiredSize !== undefined && sizes.maxSize !== undefined
            ? { minSize: sizes.minSize, desiredSize: sizes.desiredSize, maxSize: sizes.maxSize }
            : undefined,
        ...(out.nodegroup?.launchTemplate?.version ? { launchTemplateVersion: out.nodegroup.launchTemplate.version } : {}),
      };
    } catch (err) {
      if (awsErrorCode(err) === 'ResourceNotFoundException') {
        const message = err instanceof Error ? err.message : String(err);
        throw new NodegroupNotFoundError(`EKS node group "${nodegroupName}" of cluster "${clusterName}" not found (${message})`);
      }
      throw err;
    }
  }

  async existingGroups(autoScalingGroupNames: readonly string[]): Promise<string[]> {
    const found: string[] = [];
    for (let i = 0; i < autoScalingGroupNames.length; i += 50) {
      let NextToken: string | undefined;
      do {
        const out = await this.autoscaling.send(
          new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: autoScalingGroupNames.slice(i, i + 50), NextToken }),
        );
        for (const g of out.AutoScalingGroups ?? []) if (g.AutoScalingGroupName) found.push(g.AutoScalingGroupName);
        NextToken = out.NextToken;
      } while (NextToken);
    }
    return found;
  }

  async describeHooks(autoScalingGroupName: string, lifecycleHookNames: readonly string[]): Promise<LifecycleHookView[]> {
    const out = await this.autoscaling.send(
      new DescribeLifecycleHooksCommand({ AutoScalingGroupName: autoScalingGroupName, LifecycleHookNames: [...lifecycleHookNames] }),
    );
    return (out.LifecycleHooks ?? [])
      .filter((h) => h.LifecycleHookName && lifecycleHookNames.includes(h.LifecycleHookName))
      .map((h) => ({
        autoScalingGroupName,
        lifecycleHookName: h.LifecycleHookName!,
        lifecycleTransition: h.LifecycleTransition,
        heartbeatTimeout: h.HeartbeatTimeout,
        defaultResult: h.DefaultResult,
        notificationMetadata: h.NotificationMetadata,
      }));
  }

  async putHook(autoScalingGroupName: string, hook: LifecycleHookSpec): Promise<void> {
    await this.autoscaling.send(
      new PutLifecycleHookCommand({
        AutoScalingGroupName: autoScalingGroupName,
        LifecycleHookName: hook.lifecycleHookName,
        LifecycleTransition: hook.lifecycleTransition,
        HeartbeatTimeout: hook.heartbeatTimeout,
        DefaultResult: hook.defaultResult,
        NotificationMetadata: hook.notificationMetadata,
      }),
    );
  }

  async deleteHook(autoScalingGroupName: string, lifecycleHookName: string): Promise<void> {
    try {
      await this.autoscaling.send(new DeleteLifecycleHookCommand({ AutoScalingGroupName: autoScalingGroupName, LifecycleHookName: lifecycleHookName }));
    } catch (err) {
      // ValidationError covers "no such hook" and real problems alike: re-read instead of parsing the message.
      if (awsErrorCode(err) !== 'ValidationError') throw err;
      const still = await this.describeHooks(autoScalingGroupName, [lifecycleHookName]).catch(() => undefined);
      if (still && still.length === 0) return;
      throw err;
    }
  }

  async updateScaling(clusterName: string, nodegroupName: string, scaling: ScalingConfig): Promise<NodegroupUpdateView> {
    const out = await this.eks.send(
      new UpdateNodegroupConfigCommand({
        clusterName,
        nodegroupName,
        scalingConfig: { minSize: scaling.minSize, desiredSize: scaling.desiredSize, maxSize: scaling.maxSize },
      }),
    );
    return updateView(out.update);
  }

  async describeUpdate(clusterName: string, nodegroupName: string, updateId: string): Promise<NodegroupUpdateView> {
    const out = await this.eks.send(new DescribeUpdateCommand({ name: clusterName, nodegroupName, updateId }));
    return updateView(out.update);
  }
}
