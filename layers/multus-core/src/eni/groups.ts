/**
 * The security groups a node's new multus ENIs get, from the `security-groups` setting. Pure: the
 * input is the instance as the launch described it (DescribeInstances lists each interface's
 * groups), so `primary-interface` costs no call of its own.
 *
 * Why `primary-interface` exists: Karpenter marks a node drifted (SecurityGroupDrift) when the
 * set of the instance's security groups, as DescribeInstances reports them in
 * `Instance.SecurityGroups`, differs from the EC2NodeClass's resolved groups
 * (aws/karpenter-provider-aws, pkg/cloudprovider/drift.go `areSecurityGroupsDrifted`, set
 * equality, since v0.29.0; the instance's groups come from pkg/providers/instance/types.go
 * `NewInstance`). If EC2 lists the groups of every attached interface there, a multus group
 * outside the EC2NodeClass makes every multus node drift, be replaced, and drift again. ENIs with
 * the primary interface's own groups add nothing to that set, whichever way EC2 answers.
 */
import type { InstanceView } from '../ec2/port';
import { NodeConfigurationError } from '../errors';
import { parameterName, PRIMARY_INTERFACE_GROUPS, SETTING_NAMES, type Settings } from '../settings/parse';

/**
 * The groups for the node's new multus ENIs: the configured ids, the groups of the node's primary
 * interface (device index 0 of network card 0) with `primary-interface`, or undefined for the
 * VPC default. A node whose primary interface shows no group (EC2 always gives one) is an error
 * naming the setting, before anything is created.
 */
export function interfaceGroups(settings: Settings, instance: InstanceView, configPath: string): readonly string[] | undefined {
  if (settings.securityGroups !== PRIMARY_INTERFACE_GROUPS) return settings.securityGroups;
  const primary = instance.interfaces.find((a) => a.attachment.deviceIndex === 0 && (a.attachment.networkCardIndex ?? 0) === 0);
  const groups = primary?.groups ?? [];
  if (groups.length > 0) return groups;
  const what = primary ? `no security group on its primary interface ${primary.networkInterfaceId}` : 'no primary interface (device index 0)';
  throw new NodeConfigurationError(
    `${parameterName(configPath, SETTING_NAMES.securityGroups)}: is ${PRIMARY_INTERFACE_GROUPS}, but instance ${instance.instanceId} shows ${what}`,
  );
}
