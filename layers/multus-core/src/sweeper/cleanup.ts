/**
 * The stack's last word on its multus subnets: when CloudFormation deletes the stack, after the
 * node group and its instances are gone and before the VPC's subnets go, every ENI of ours left in
 * the multus subnets is removed, or the subnets cannot be deleted (DELETE_FAILED on the
 * infrastructure stack). ENIs attached with DeleteOnTermination go with their instances, a little
 * after them: those are waited for. ENIs without our ownership tag are never touched.
 */
import type { Ec2Port, InterfaceView } from '../ec2/port';
import { pastDeadline, releaseInterface, type ReleaseOptions } from '../eni/release';
import { asError } from '../errors';
import type { Log } from '../log';
import { TAG_INSTANCE_ID } from '../tags';

export interface CleanupDeps {
  readonly ec2: Ec2Port;
  readonly log: Log;
  readonly release: ReleaseOptions;
  /** Pause between looks while ENIs still go with their instances. */
  readonly pollMs: number;
  /** Epoch ms after which nothing more is waited for (the answer to CloudFormation is due). */
  readonly deadline: number;
}

export interface CleanupReport {
  readonly deleted: string[];
  /** Ours, attached to an instance that is still running: left (the instance keeps the subnet anyway). */
  readonly leftAttached: string[];
  /** Ours, still attached to a terminated instance when the time was up. */
  readonly stillGoing: string[];
  readonly failed: { networkInterfaceId: string; error: string }[];
}

const GONE = new Set(['shutting-down', 'terminated', 'absent']);

/** Removes our ENIs from `subnetIds`: deletes the unattached ones, waits for those going with their instances. */
export async function cleanupSubnets(deps: CleanupDeps, subnetIds: readonly string[]): Promise<CleanupReport> {
  const { ec2, log } = deps;
  const deleted: string[] = [];
  const failed = new Map<string, string>();
  for (;;) {
    const ours = (await ec2.describeInterfacesInSubnets(subnetIds)).filter((e) => TAG_INSTANCE_ID in e.tags && !failed.has(e.networkInterfaceId));
    const attachedTo = [...new Set(ours.map((e) => e.attachment?.instanceId).filter((id): id is string => !!id))];
    const states = attachedTo.length > 0 ? await ec2.describeInstanceStates(attachedTo) : new Map<string, string>();
    const going: InterfaceView[] = [];
    const leftAttached: string[] = [];
    for (const eni of ours) {
      const instanceId = eni.attachment?.instanceId;
      const attached = eni.attachment && eni.attachment.status !== 'detached';
      if (attached && instanceId && !GONE.has(states.get(instanceId) ?? 'absent')) {
        leftAttached.push(eni.networkInterfaceId);
      } else if (attached && eni.attachment?.deleteOnTermination && instanceId && states.get(instanceId) !== 'absent') {
        going.push(eni); // EC2 deletes it with its instance
      } else {
        try {
          await releaseInterface(ec2, eni.networkInterfaceId, deps.release);
          deleted.push(eni.networkInterfaceId);
          log.info('clean-up: ENI of ours removed from a multus subnet', { networkInterfaceId: eni.networkInterfaceId, subnetId: eni.subnetId, instanceId: eni.tags[TAG_INSTANCE_ID] });
        } catch (err) {
          const e = asError(err);
          failed.set(eni.networkInterfaceId, `${e.name}: ${e.message}`);
          log.error('clean-up: ENI of ours could not be removed', { networkInterfaceId: eni.networkInterfaceId, error: e });
        }
      }
    }
    if (going.length === 0 || pastDeadline(deps.deadline)) {
      return {
        deleted,
        leftAttached,
        stillGoing: going.map((e) => e.networkInterfaceId),
        failed: [...failed].map(([networkInterfaceId, error]) => ({ networkInterfaceId, error })),
      };
    }
    log.info('clean-up: waiting for ENIs that go with their terminated instances', { networkInterfaceIds: going.map((e) => e.networkInterfaceId) });
    await deps.release.sleep(deps.pollMs);
  }
}
