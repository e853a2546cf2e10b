/**
 * What the orphan sweeper does with one ENI carrying our ownership tag. Pure: the inputs are what
 * EC2 reported (the ENI, the states of the instances involved) and the clock.
 *
 * The age of an orphan. DescribeNetworkInterfaces reports no creation time for an ENI (the
 * NetworkInterface shape has no CreateTime; only an attachment has an AttachTime), and the launch
 * handler does not tag one. So the sweeper measures how long an ENI has been *available* itself:
 * on first sight of an available ENI of ours whose instance is alive, it tags it
 * `eks-multus-eni/orphan-since=<ISO time>`; a later sweep deletes it once that is older than the
 * grace period. An ENI seen attached again loses the mark, so a later detach starts a new grace
 * period. This is the "first seen" approach of other ENI garbage collectors (the VPC CNI tags a
 * creation time for the same reason), and it measures what matters here: time spent unattached,
 * not age. It costs one CreateTags per orphan (IAM: CreateTags/DeleteTags on our ENIs, for this
 * tag key only). An ENI whose instance is gone is deleted at once: no delivery will ever attach it.
 */
import type { InterfaceView } from '../ec2/port';
import { TAG_INSTANCE_ID, TAG_ORPHAN_SINCE } from '../tags';

/** The sweeper's own bookkeeping tag: when it first saw the ENI available (ISO 8601). */
export { TAG_ORPHAN_SINCE };

export type SweepAction =
  /** Leave it alone. */
  | 'keep'
  /** Available, instance alive, first sight: start its grace period (tag orphan-since). */
  | 'mark'
  /** Attached to a live instance but still marked from an earlier sight: remove the mark. */
  | 'unmark'
  /** Available: delete it. */
  | 'delete'
  /** Attached to an instance that is gone: detach, wait, delete. */
  | 'release';

export interface SweepDecision {
  readonly action: SweepAction;
  readonly reason: string;
}

export interface DecideInput {
  readonly eni: InterfaceView;
  /** States of the instances EC2 still knows (owner and attachment); absent means unknown to EC2. */
  readonly instanceStates: ReadonlyMap<string, string>;
  readonly now: Date;
  readonly graceMs: number;
}

const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/;

/** An instance that will never use the ENI again: unknown to EC2, terminated, or terminating. */
function gone(state: string | undefined): boolean {
  return state === undefined || state === 'terminated' || state === 'shutting-down';
}

function describeState(instanceId: string, state: string | undefined): string {
  return state === undefined ? `instance ${instanceId} no longer exists` : `instance ${instanceId} is ${state}`;
}

function unknownYet(instanceId: string): string {
  return `EC2 does not know instance ${instanceId} (yet?): marked now, removed on a later sweep if still unknown`;
}

function minutes(ms: number): string {
  const m = ms / 60_000;
  return `${Number.isInteger(m) ? m : m.toFixed(1)} min`;
}

export function decide(input: DecideInput): SweepDecision {
  const { eni, instanceStates, now, graceMs } = input;
  const owner = eni.tags[TAG_INSTANCE_ID];
  if (owner === undefined) return { action: 'keep', reason: `no ${TAG_INSTANCE_ID} tag: not ours, never touched` };
  // IAM lets us manage only ENIs whose ownership tag names an instance (i-*); leave others alone.
  if (!INSTANCE_ID.test(owner)) return { action: 'keep', reason: `${TAG_INSTANCE_ID} is "${owner}", not an instance id` };
  const marked = eni.tags[TAG_ORPHAN_SINCE];

  if (eni.status === 'in-use') {
    const attachedTo = eni.attachment?.instanceId;
    if (attachedTo === undefined) return { action: 'keep', reason: 'in use, but not by an instance' };
    const state = instanceStates.get(attachedTo);
    // Attached to a shutting-down instance: EC2 and the terminate hook are already on it.
    if (state === 'terminated' || (state === undefined && marked !== undefined)) {
      return { action: 'release', reason: `attached to ${attachedTo}, but ${describeState(attachedTo, state)}` };
    }
    if (state === undefined) return { action: 'mark', reason: unknownYet(attachedTo) };
    if (marked !== undefined) return { action: 'unmark', reason: `attached to ${attachedTo} (${state}) again` };
    return { action: 'keep', reason: `attached to ${attachedTo} (${state})` };
  }

  if (eni.status !== 'available') {
    return { action: 'keep', reason: `${eni.status ?? 'unknown status'}: in transition, looked at again next sweep` };
  }

  const ownerState = instanceStates.get(owner);
  // Unknown to EC2 on first sight may be a node so new that describe does not show it yet
  // (eventual consistency): mark it, and delete on a later sweep if it is still unknown.
  if (ownerState === undefined && marked === undefined) return { action: 'mark', reason: unknownYet(owner) };
  if (gone(ownerState)) return { action: 'delete', reason: `available and ${describeState(owner, ownerState)}` };

  const since = marked === undefined ? NaN : Date.parse(marked);
  if (Number.isNaN(since)) {
    return {
      action: 'mark',
      reason: `available, ${owner} is ${ownerState}: first seen now, grace period of ${minutes(graceMs)} starts`,
    };
  }
  const unattachedFor = now.getTime() - since;
  if (unattachedFor >= graceMs) {
    return {
      action: 'delete',
      reason: `available for ${minutes(unattachedFor)} (since ${marked}), past the grace period of ${minutes(graceMs)}`,
    };
  }
  return {
    action: 'keep',
    reason: `available for ${minutes(Math.max(0, unattachedFor))} (since ${marked}), within the grace period of ${minutes(graceMs)}`,
  };
}

/** The instance ids whose state `decide` needs for these ENIs (owners and attachments). */
export function instancesToDescribe(enis: readonly InterfaceView[]): string[] {
  const ids = new Set<string>();
  for (const eni of enis) {
    const owner = eni.tags[TAG_INSTANCE_ID];
    if (owner && INSTANCE_ID.test(owner)) ids.add(owner);
    if (eni.attachment?.instanceId) ids.add(eni.attachment.instanceId);
  }
  return [...ids].sort();
}
