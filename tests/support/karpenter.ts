/**
 * What Karpenter does that the tests of nodes without a hook need: launch an instance the way its
 * launch template does, and decide SecurityGroupDrift the way its drift check does. Read from
 * aws/karpenter-provider-aws (v1.14.1 and since v0.29.0, where security group drift came in):
 *   - pkg/providers/launchtemplate/launchtemplate.go `generateNetworkInterfaces`: the primary
 *     interface (device index 0) carries every group of the EC2NodeClass's
 *     `status.securityGroups` (its resolved `securityGroupSelectorTerms`); v0.29.0 named them in
 *     the launch template's `SecurityGroupIds` instead, which is the primary interface too;
 *   - pkg/providers/instance/types.go `NewInstance`: the instance's groups are the ids of
 *     DescribeInstances' `Instance.SecurityGroups`, not of its `NetworkInterfaces[].Groups`;
 *   - pkg/cloudprovider/drift.go `areSecurityGroupsDrifted`: SecurityGroupDrift when that set is not
 *     equal to the set of the EC2NodeClass's resolved group ids (an extra group drifts as a missing
 *     one does); an EC2NodeClass with no resolved group is an error, not a verdict.
 */
import { DescribeInstancesCommand, RunInstancesCommand, type EC2Client, type _InstanceType } from '@aws-sdk/client-ec2';
import { NODE_TAG_KEY } from './world';

/** An opted-in instance launched as Karpenter launches it: the EC2NodeClass's groups on its primary interface. */
export async function launchAsKarpenter(ec2: EC2Client, subnetId: string, nodeClassGroups: readonly string[]): Promise<string> {
  const out = await ec2.send(
    new RunInstancesCommand({
      ImageId: 'ami-12345678',
      InstanceType: 'm5.xlarge' as _InstanceType,
      MinCount: 1,
      MaxCount: 1,
      NetworkInterfaces: [{ DeviceIndex: 0, SubnetId: subnetId, Groups: [...nodeClassGroups] }],
      TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: NODE_TAG_KEY, Value: 'true' }, { Key: 'karpenter.sh/nodepool', Value: 'multus' }] }],
    }),
  );
  return out.Instances![0].InstanceId!;
}

/** The instance's security group ids as Karpenter reads them: DescribeInstances' `Instance.SecurityGroups`. */
export async function karpenterInstanceGroups(ec2: EC2Client, instanceId: string): Promise<string[]> {
  const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
  const instance = out.Reservations?.flatMap((r) => r.Instances ?? []).find((i) => i.InstanceId === instanceId);
  if (!instance) throw new Error(`instance ${instanceId} is not described`);
  return (instance.SecurityGroups ?? []).map((g) => g.GroupId ?? '');
}

/** Karpenter's verdict: `SecurityGroupDrift` when the two sets differ, undefined when they are equal. */
export function securityGroupDrift(instanceGroups: readonly string[], nodeClassGroups: readonly string[]): 'SecurityGroupDrift' | undefined {
  const wanted = new Set(nodeClassGroups);
  if (wanted.size === 0) throw new Error('no security groups are present in the status');
  const have = new Set(instanceGroups);
  const equal = have.size === wanted.size && [...have].every((g) => wanted.has(g));
  return equal ? undefined : 'SecurityGroupDrift';
}
