/** Tag keys that we put on every multus ENI (DESIGN.md, "Tags on every multus ENI"). */
export const TAG_NO_MANAGE = 'node.k8s.amazonaws.com/no_manage';
export const TAG_INSTANCE_ID = 'eks-multus-eni/instance-id';
export const TAG_DEVICE_INDEX = 'eks-multus-eni/device-index';
/** Set by the orphan sweeper on an unattached ENI of ours: when its grace period started. */
export const TAG_ORPHAN_SINCE = 'eks-multus-eni/orphan-since';
/** Every key under this prefix is ours (present and future): `interface-tags` may not use it. */
export const OWN_TAG_PREFIX = 'eks-multus-eni/';

/** Our own tag keys put at creation: a user's `interface-tags` may not use them either. */
export const OWN_TAG_KEYS: readonly string[] = [TAG_NO_MANAGE, TAG_INSTANCE_ID, TAG_DEVICE_INDEX];

/** True for a key a user's `interface-tags` may not set. */
export function isOwnTagKey(key: string): boolean {
  return OWN_TAG_KEYS.includes(key) || key.startsWith(OWN_TAG_PREFIX);
}

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
