/** Tag keys that we put on every multus ENI (DESIGN.md, "Tags on every multus ENI"). */
export const TAG_NO_MANAGE = 'node.k8s.amazonaws.com/no_manage';
export const TAG_INSTANCE_ID = 'eks-multus-eni/instance-id';
export const TAG_DEVICE_INDEX = 'eks-multus-eni/device-index';

/** Our own tag keys: a user's `interface-tags` may not use them. */
export const OWN_TAG_KEYS: readonly string[] = [TAG_NO_MANAGE, TAG_INSTANCE_ID, TAG_DEVICE_INDEX];

/** The tags of a multus ENI made for `instanceId` at `deviceIndex`, with the user's extra tags. */
export function interfaceTags(
  instanceId: string,
  deviceIndex: number,
  extra: Readonly<Record<string, string>>,
): Record<string, string> {
  return {
    ...extra,
    [TAG_NO_MANAGE]: 'true',
    [TAG_INSTANCE_ID]: instanceId,
    [TAG_DEVICE_INDEX]: String(deviceIndex),
  };
}
