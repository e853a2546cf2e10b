/**
 * Releasing an ENI of ours (rollback, terminate, prune, the sweeper) over the in-memory EC2 port:
 * detach, wait (with backoff) until EC2 reports it available, delete. The fake keeps a detached ENI
 * `detaching` for a few describes and refuses a delete meanwhile, as EC2 does; the waits are
 * recorded instead of slept.
 */
import { pastDeadline, releaseInterface, type InterfaceView, type ReleaseOptions } from 'multus-core';
import { eni, FakeEc2 } from '../support/fake-ec2';

const NODE = 'i-0aaaaaaaaaaaaaaa1';
const SUBNET = 'subnet-0000000000000000a';
const attached = (status = 'attached') => eni('eni-1', SUBNET, { attachedTo: NODE, attachmentStatus: status });

function options(extra: Partial<ReleaseOptions> = {}) {
  const waits: number[] = [];
  return { waits, options: { sleep: async (ms: number) => void waits.push(ms), detachTimeoutMs: 10_000, ...extra } };
}

test('detaches, sends no delete while EC2 still reports the ENI detaching, deletes once it is available', async () => {
  const ec2 = new FakeEc2({ interfaces: [attached()], detachingDescribes: 3 });
  const { waits, options: opts } = options();

  await releaseInterface(ec2, 'eni-1', opts);

  expect(ec2.writes('detachInterface', 'deleteInterface')).toEqual([
    ['detachInterface', 'eni-attach-eni-1'],
    ['deleteInterface', 'eni-1'],
  ]);
  expect(waits).toEqual([100, 200, 400]); // backoff while detaching
  expect(ec2.interfaces).toEqual([]);
});

test('the backoff doubles up to 5 s; past detachTimeoutMs the release fails without deleting', async () => {
  const ec2 = new FakeEc2({ interfaces: [attached()], detachingDescribes: 1000 });
  const { waits, options: opts } = options({ detachTimeoutMs: 20_000 });

  await expect(releaseInterface(ec2, 'eni-1', opts)).rejects.toMatchObject({
    name: 'DetachTimeoutError',
    message: 'eni-1 still detaching after 20000 ms waiting for the detach',
  });
  expect(waits).toEqual([100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
  expect(ec2.writes('deleteInterface')).toEqual([]);
});

test('past the deadline the wait ends at once', async () => {
  const ec2 = new FakeEc2({ interfaces: [attached()], detachingDescribes: 5 });
  const { waits, options: opts } = options({ deadline: Date.now() - 1 });

  await expect(releaseInterface(ec2, 'eni-1', opts)).rejects.toMatchObject({ name: 'DetachTimeoutError' });
  expect(waits).toEqual([]);
});

test('an attachment still attaching is waited for, then detached and deleted', async () => {
  const ec2 = new FakeEc2({ interfaces: [attached('attaching')] });
  const { options: opts } = options({ sleep: async () => void (ec2.interfaces = [attached()]) });

  await releaseInterface(ec2, 'eni-1', opts);

  expect(ec2.writes('detachInterface', 'deleteInterface').map(([m]) => m)).toEqual(['detachInterface', 'deleteInterface']);
});

test('an attachment already detaching (someone else detached it) is not detached again', async () => {
  const ec2 = new FakeEc2({ interfaces: [{ ...attached('detaching'), status: 'in-use' }] });
  const { waits, options: opts } = options({ sleep: async (ms) => void (waits.push(ms), (ec2.interfaces = [eni('eni-1', SUBNET)])) });

  await releaseInterface(ec2, 'eni-1', opts);

  expect(ec2.writes('detachInterface', 'deleteInterface')).toEqual([['deleteInterface', 'eni-1']]);
  expect(waits).toEqual([100]);
});

test('an attachment that vanished meanwhile (InvalidAttachmentID.NotFound) is fine; any other detach error is not', async () => {
  const gone = new FakeEc2({ interfaces: [attached()] });
  gone.beforeWrite = (method) => {
    if (method !== 'detachInterface') return;
    gone.interfaces = [eni('eni-1', SUBNET)];
    throw Object.assign(new Error('gone'), { name: 'InvalidAttachmentID.NotFound' });
  };
  await releaseInterface(gone, 'eni-1', options().options);
  expect(gone.interfaces).toEqual([]);

  const refused = new FakeEc2({ interfaces: [attached()] });
  refused.failures.set('detachInterface:eni-attach-eni-1', 'UnauthorizedOperation');
  await expect(releaseInterface(refused, 'eni-1', options().options)).rejects.toMatchObject({ name: 'UnauthorizedOperation' });
  expect(refused.writes('deleteInterface')).toEqual([]);
});

test('an ENI EC2 does not show (gone, or not visible yet) is deleted all the same; one that disappears while detaching is not', async () => {
  const unseen = new FakeEc2();
  await releaseInterface(unseen, 'eni-1', options().options);
  expect(unseen.writes('deleteInterface')).toEqual([['deleteInterface', 'eni-1']]);

  const vanishing = new FakeEc2({ interfaces: [attached()], detachingDescribes: 2 });
  await releaseInterface(vanishing, 'eni-1', options({ sleep: async () => void (vanishing.interfaces = []) }).options);
  expect(vanishing.writes('deleteInterface')).toEqual([]);
});

test('an unattached ENI is deleted at once', async () => {
  const ec2 = new FakeEc2({ interfaces: [eni('eni-1', SUBNET)] });
  const { waits, options: opts } = options();

  await releaseInterface(ec2, 'eni-1', opts);

  expect(ec2.calls).toEqual([['deleteInterface', 'eni-1']]);
  expect(waits).toEqual([]);
});

test('the wait ends once it has reached detachTimeoutMs, not one backoff later', async () => {
  const ec2 = new FakeEc2({ interfaces: [attached()], detachingDescribes: 1000 });
  const { waits, options: opts } = options({ detachTimeoutMs: 700 });

  await expect(releaseInterface(ec2, 'eni-1', opts)).rejects.toMatchObject({ name: 'DetachTimeoutError' });
  expect(waits).toEqual([100, 200, 400]);
});

test('an attach that never finishes: the error says what was waited for', async () => {
  const ec2 = new FakeEc2({ interfaces: [attached('attaching')] });
  const { options: opts } = options({ detachTimeoutMs: 300 });

  await expect(releaseInterface(ec2, 'eni-1', opts)).rejects.toThrow('eni-1 still attaching after 300 ms waiting for the attach to finish');
  expect(ec2.writes('detachInterface', 'deleteInterface')).toEqual([]);
});

test('an attachment EC2 already shows detached is not detached again: the ENI is deleted at once', async () => {
  const ec2 = new FakeEc2({ interfaces: [{ ...attached('detached'), status: 'available' }] });
  const { waits, options: opts } = options();

  await releaseInterface(ec2, 'eni-1', opts);

  expect(ec2.writes('detachInterface', 'deleteInterface')).toEqual([['deleteInterface', 'eni-1']]);
  expect(waits).toEqual([]);
});

describe('after the detach, the ENI is deleted once EC2 reports it available with no live attachment', () => {
  /** The fake detaches at once; `shown` is what EC2 reports right after, until the first wait. */
  function detachShowing(shown: (e: InterfaceView) => InterfaceView) {
    const ec2 = new FakeEc2({ interfaces: [attached()] });
    const detach = ec2.detachInterface.bind(ec2);
    ec2.detachInterface = async (attachmentId) => {
      const before = ec2.interfaces[0];
      await detach(attachmentId);
      ec2.interfaces = [shown(before)];
    };
    return ec2;
  }

  test('available with the attachment reported detached: deleted without waiting', async () => {
    const ec2 = detachShowing((e) => ({ ...e, status: 'available', attachment: { ...e.attachment!, status: 'detached' } }));
    const { waits, options: opts } = options();

    await releaseInterface(ec2, 'eni-1', opts);

    expect(ec2.interfaces).toEqual([]);
    expect(waits).toEqual([]);
  });

  test('still in-use though the attachment says detached: waited for, then deleted', async () => {
    const ec2 = detachShowing((e) => ({ ...e, status: 'in-use', attachment: { ...e.attachment!, status: 'detached' } }));
    const { waits, options: opts } = options({ sleep: async (ms: number) => void (waits.push(ms), (ec2.interfaces = [eni('eni-1', SUBNET)])) });

    await releaseInterface(ec2, 'eni-1', opts);

    expect(ec2.interfaces).toEqual([]);
    expect(waits).toEqual([100]);
  });
});

test('pastDeadline: true from the deadline\'s own millisecond on, never without one', () => {
  const now = 1_700_000_000_000;
  const clock = jest.spyOn(Date, 'now').mockReturnValue(now);
  try {
    expect([pastDeadline(now - 1), pastDeadline(now), pastDeadline(now + 1), pastDeadline(undefined)]).toEqual([true, true, false, false]);
  } finally {
    clock.mockRestore();
  }
});
