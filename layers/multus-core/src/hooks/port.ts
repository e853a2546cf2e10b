/**
 * The EKS and Auto Scaling things the hook installer needs, as a small port (the adapter over the
 * SDK is in sdk.ts). EKS does not expose lifecycle hooks on managed node groups: the hooks go on
 * the node group's Auto Scaling groups, found with eks:DescribeNodegroup.
 */

/** A lifecycle hook as Auto Scaling describes it. */
export interface LifecycleHookView {
  readonly autoScalingGroupName: string;
  readonly lifecycleHookName: string;
  readonly lifecycleTransition?: string;
  readonly heartbeatTimeout?: number;
  readonly defaultResult?: string;
  readonly notificationMetadata?: string;
}

export interface LifecycleHookSpec {
  readonly lifecycleHookName: string;
  readonly lifecycleTransition: string;
  readonly heartbeatTimeout: number;
  readonly defaultResult: string;
  readonly notificationMetadata: string;
}

/** A node group's sizes, as EKS names them. */
export interface ScalingConfig {
  readonly minSize: number;
  readonly desiredSize: number;
  readonly maxSize: number;
}

export interface NodegroupView {
  readonly status?: string;
  readonly autoScalingGroupNames: string[];
  readonly scaling?: ScalingConfig;
  /** The version of its launch template it runs (node groups made with a launch template). */
  readonly launchTemplateVersion?: string;
}

/** An EKS node group update (UpdateNodegroupConfig's answer, DescribeUpdate's later). */
export interface NodegroupUpdateView {
  readonly id: string;
  /** InProgress, Successful, Failed or Cancelled. */
  readonly status: string;
  readonly errors: string[];
}

/** EKS does not know the node group (or its cluster). */
export class NodegroupNotFoundError extends Error {
  override readonly name = 'NodegroupNotFoundError';
}

export interface HooksPort {
  /** The node group and its Auto Scaling groups; NodegroupNotFoundError when EKS does not know it. */
  describeNodegroup(clusterName: string, nodegroupName: string): Promise<NodegroupView>;
  /** Which of the named Auto Scaling groups exist. */
  existingGroups(autoScalingGroupNames: readonly string[]): Promise<string[]>;
  /** The group's hooks among `lifecycleHookNames`. */
  describeHooks(autoScalingGroupName: string, lifecycleHookNames: readonly string[]): Promise<LifecycleHookView[]>;
  /** Creates or replaces the hook. */
  putHook(autoScalingGroupName: string, hook: LifecycleHookSpec): Promise<void>;
  deleteHook(autoScalingGroupName: string, lifecycleHookName: string): Promise<void>;
  /** Sets the node group's sizes (eks:UpdateNodegroupConfig); EKS applies them to its Auto Scaling groups. */
  updateScaling(clusterName: string, nodegroupName: string, scaling: ScalingConfig): Promise<NodegroupUpdateView>;
  describeUpdate(clusterName: string, nodegroupName: string, updateId: string): Promise<NodegroupUpdateView>;
}
