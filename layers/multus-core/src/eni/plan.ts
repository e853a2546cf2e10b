/**
 * Deciding, for one instance, what each multus device index needs. Pure: the inputs are what EC2
 * reported; the output says, per device index, whether our ENI is already in place, an unattached
 * ENI of ours can be adopted, or a new one must be created. Conflicts are errors before anything is
 * created.
 */
import { DeviceIndexConflictError } from '../errors';
import type { InstanceView, InterfaceView } from '../ec2/port';
import { TAG_DEVICE_INDEX, TAG_INSTANCE_ID } from '../tags';

export type SlotPlan =
  | {
      readonly kind: 'in-place';
      readonly deviceIndex: number;
      readonly subnetId: string;
      readonly eni: InterfaceView;
      readonly attachmentId: string;
      readonly fixDeleteOnTermination: boolean;
      readonly fixSourceDestCheck: boolean;
    }
  | { readonly kind: 'adopt'; readonly deviceIndex: number; readonly subnetId: string; readonly eni: InterfaceView }
  | { readonly kind: 'create'; readonly deviceIndex: number; readonly subnetId: string };

/** True when the ENI carries our ownership tag for this instance. */
export function isOurs(eni: InterfaceView, instanceId: string): boolean {
  return eni.tags[TAG_INSTANCE_ID] === instanceId;
}

/**
 * Plans device indexes 1..n for `subnetIds` (device-index order). `known` holds the ENIs EC2 listed
 * for the instance's subnets or ownership tag; ENIs of ours are recognised by their tag.
 */
export function planInterfaces(
  instance: InstanceView,
  subnetIds: readonly string[],
  known: readonly InterfaceView[],
  sourceDestCheck: boolean,
): SlotPlan[] {
  const ours = new Map(known.filter((eni) => isOurs(eni, instance.instanceId)).map((eni) => [eni.networkInterfaceId, eni]));
  const claimed = new Set<string>();
  const plans: SlotPlan[] = [];
  subnetIds.forEach((subnetId, i) => {
    const deviceIndex = i + 1;
    const attached = instance.interfaces.find((a) => a.attachment.deviceIndex === deviceIndex && (a.attachment.networkCardIndex ?? 0) === 0);
    if (attached) {
      const eni = ours.get(attached.networkInterfaceId);
      if (!eni) {
        throw new DeviceIndexConflictError(
          `device index ${deviceIndex} of ${instance.instanceId} already holds ${attached.networkInterfaceId}, which eks-multus-eni did not create`,
        );
      }
      if (eni.subnetId !== subnetId) {
        throw new DeviceIndexConflictError(
          `device index ${deviceIndex} of ${instance.instanceId} holds our ${eni.networkInterfaceId} in ${eni.subnetId}, but the settings now name ${subnetId} (reconcile with prune replaces it)`,
        );
      }
      claimed.add(eni.networkInterfaceId);
      plans.push({
        kind: 'in-place',
        deviceIndex,
        subnetId,
        eni,
        attachmentId: attached.attachment.attachmentId,
        fixDeleteOnTermination: attached.attachment.deleteOnTermination !== true,
        fixSourceDestCheck: (attached.sourceDestCheck ?? eni.sourceDestCheck) !== sourceDestCheck,
      });
      return;
    }
    const candidates = [...ours.values()].filter(
      (eni) => !eni.attachment && eni.status === 'available' && eni.subnetId === subnetId && !claimed.has(eni.networkInterfaceId),
    );
    const orphan =
      candidates.find((eni) => eni.tags[TAG_DEVICE_INDEX] === String(deviceIndex)) ?? candidates[0];
    if (orphan) {
      claimed.add(orphan.networkInterfaceId);
      plans.push({ kind: 'adopt', deviceIndex, subnetId, eni: orphan });
    } else {
      plans.push({ kind: 'create', deviceIndex, subnetId });
    }
  });
  return plans;
}

/** Unattached ENIs of ours that no slot adopts: left over from an earlier, interrupted delivery. */
export function strayInterfaces(instanceId: string, known: readonly InterfaceView[], plans: readonly SlotPlan[]): InterfaceView[] {
  const used = new Set(plans.flatMap((p) => (p.kind === 'create' ? [] : [p.eni.networkInterfaceId])));
  return known.filter(
    (eni) => isOurs(eni, instanceId) && !eni.attachment && eni.status === 'available' && !used.has(eni.networkInterfaceId),
  );
}
