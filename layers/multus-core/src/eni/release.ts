/**
 * Removing an ENI of ours: detach it if attached, wait (polling, with backoff) until EC2 reports it
 * available, delete it. Used by rollback and by the terminate transition.
 */
import type { Ec2Port, InterfaceView } from '../ec2/port';
import { awsErrorCode } from '../errors';

export type Sleep = (ms: number) => Promise<void>;
export const realSleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export interface ReleaseOptions {
  readonly sleep: Sleep;
  /** Longest total wait for an attach or a detach to finish, in milliseconds. */
  readonly detachTimeoutMs: number;
  /** Epoch ms after which no wait goes on (the function is about to time out). */
  readonly deadline?: number;
}

/** True once `deadline` (epoch ms) has passed; never without one. */
export function pastDeadline(deadline: number | undefined): boolean {
  return deadline !== undefined && Date.now() >= deadline;
}

export const DEFAULT_RELEASE_OPTIONS: ReleaseOptions = { sleep: realSleep, detachTimeoutMs: 60_000 };

export class DetachTimeoutError extends Error {
  override readonly name = 'DetachTimeoutError';
}

/**
 * Detaches (when attached) and deletes the ENI. Resolves once it is gone, whether we deleted it or
 * it was already gone; throws when EC2 refuses or the detach does not finish in time.
 * An attachment still `attaching` is waited for first (it cannot be detached yet); an attachment
 * that someone else detached meanwhile (InvalidAttachmentID.NotFound) is fine.
 */
export async function releaseInterface(ec2: Ec2Port, networkInterfaceId: string, options: ReleaseOptions): Promise<void> {
  let eni = await ec2.describeInterface(networkInterfaceId);
  if (!eni) {
    // Not visible: gone, or just created and not yet visible (EC2 is eventually consistent).
    // DeleteNetworkInterface settles it either way (a NotFound there is "already gone").
    await ec2.deleteInterface(networkInterfaceId);
    return;
  }
  let waited = 0;
  let delay = 100;
  /** Polls with backoff until `done`; undefined when the ENI disappeared meanwhile. */
  const waitUntil = async (done: (e: InterfaceView) => boolean, what: string): Promise<InterfaceView | undefined> => {
    for (;;) {
      const now = await ec2.describeInterface(networkInterfaceId);
      if (!now || done(now)) return now;
      if (waited >= options.detachTimeoutMs || pastDeadline(options.deadline)) {
        throw new DetachTimeoutError(`${networkInterfaceId} still ${now.attachment?.status ?? now.status} after ${options.detachTimeoutMs} ms waiting for ${what}`);
      }
      await options.sleep(delay);
      waited += delay;
      delay = Math.min(delay * 2, 5_000);
    }
  };
  if (eni.attachment?.status === 'attaching') {
    eni = await waitUntil((e) => e.attachment?.status !== 'attaching', 'the attach to finish');
    if (!eni) return;
  }
  if (eni.attachment && eni.attachment.status !== 'detached') {
    if (eni.attachment.status !== 'detaching') {
      try {
        await ec2.detachInterface(eni.attachment.attachmentId);
      } catch (err) {
        if (awsErrorCode(err) !== 'InvalidAttachmentID.NotFound') throw err;
      }
    }
    const detached = await waitUntil((e) => e.status === 'available' && (!e.attachment || e.attachment.status === 'detached'), 'the detach');
    if (!detached) return;
  }
  await ec2.deleteInterface(networkInterfaceId);
}
