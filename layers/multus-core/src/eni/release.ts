/**
 * Removing an ENI of ours: detach it if attached, wait (polling, with backoff) until EC2 reports it
 * available, delete it. Used by rollback and by the terminate transition.
 */
import type { Ec2Port } from '../ec2/port';

export type Sleep = (ms: number) => Promise<void>;
export const realSleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export interface ReleaseOptions {
  readonly sleep: Sleep;
  /** Longest total wait for a detach to finish, in milliseconds. */
  readonly detachTimeoutMs: number;
}

export const DEFAULT_RELEASE_OPTIONS: ReleaseOptions = { sleep: realSleep, detachTimeoutMs: 60_000 };

export class DetachTimeoutError extends Error {
  override readonly name = 'DetachTimeoutError';
}

/**
 * Detaches (when attached) and deletes the ENI. Resolves once it is gone, whether we deleted it or
 * it was already gone; throws when EC2 refuses or the detach does not finish in time.
 */
export async function releaseInterface(ec2: Ec2Port, networkInterfaceId: string, options: ReleaseOptions): Promise<void> {
  let eni = await ec2.describeInterface(networkInterfaceId);
  if (!eni) return;
  if (eni.attachment && eni.attachment.status !== 'detached') {
    if (eni.attachment.status !== 'detaching') await ec2.detachInterface(eni.attachment.attachmentId);
    let waited = 0;
    let delay = 100;
    for (;;) {
      eni = await ec2.describeInterface(networkInterfaceId);
      if (!eni) return;
      if (eni.status === 'available' && (!eni.attachment || eni.attachment.status === 'detached')) break;
      if (waited >= options.detachTimeoutMs) {
        throw new DetachTimeoutError(`${networkInterfaceId} still ${eni.status} ${options.detachTimeoutMs} ms after DetachNetworkInterface`);
      }
      await options.sleep(delay);
      waited += delay;
      delay = Math.min(delay * 2, 5_000);
    }
  }
  await ec2.deleteInterface(networkInterfaceId);
}
