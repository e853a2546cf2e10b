/**
 * The orphan sweeper's decision per ENI (pure), and the sweep over a fake EC2 port: what is
 * deleted, what is kept, what dry-run reports, one log line per ENI and a summary.
 */
import { cleanupSubnets, decide, instancesToDescribe, sweepOptionsFromEnv, sweepOrphans, TAG_ORPHAN_SINCE, type Log } from 'multus-core';
import { eni, FakeEc2 } from '../support/fake-ec2';

const OWNER = 'i-0aaaaaaaaaaaaaaa1';
const OTHER = 'i-0bbbbbbbbbbbbbbb2';
const SUBNET = 'subnet-0000000000000000a';
const NOW = new Date('2025-06-01T12:00:00.000Z');
const GRACE_MS = 30 * 60_000;
const minutesAgo = (m: number) => new Date(NOW.getTime() - m * 60_000).toISOString();
const ours = (extra: Record<string, string> = {}) => ({ 'eks-multus-eni/instance-id': OWNER, 'node.k8s.amazonaws.com/no_manage': 'true', ...extra });

function decideFor(e: ReturnType<typeof eni>, states: Record<string, string> = { [OWNER]: 'running' }) {
  return decide({ eni: e, instanceStates: new Map(Object.entries(states)), now: NOW, graceMs: GRACE_MS });
}

describe('decide', () => {
  test('no ownership tag: never touched, whatever its state', () => {
    expect(decideFor(eni('eni-1', SUBNET), {})).toMatchObject({ action: 'keep', reason: expect.stringContaining('not ours') });
  });

  test('an ownership tag that names no instance: left alone', () => {
    expect(decideFor(eni('eni-1', SUBNET, { tags: { 'eks-multus-eni/instance-id': 'someone' } }), {}).action).toBe('keep');
  });

  test('available, instance alive, first sight: mark (the grace period starts)', () => {
    expect(decideFor(eni('eni-1', SUBNET, { tags: ours() }))).toMatchObject({ action: 'mark' });
  });

  test('available within the grace period: keep; past it: delete', () => {
    expect(decideFor(eni('eni-1', SUBNET, { tags: ours({ [TAG_ORPHAN_SINCE]: minutesAgo(29) }) }))).toMatchObject({
      action: 'keep',
      reason: expect.stringContaining('within the grace period of 30 min'),
    });
    expect(decideFor(eni('eni-1', SUBNET, { tags: ours({ [TAG_ORPHAN_SINCE]: minutesAgo(30) }) }))).toMatchObject({
      action: 'delete',
      reason: expect.stringContaining('past the grace period of 30 min'),
    });
  });

  test('a mark in the future (clock skew) keeps it; an unreadable mark is replaced', () => {
    expect(decideFor(eni('eni-1', SUBNET, { tags: ours({ [TAG_ORPHAN_SINCE]: minutesAgo(-10) }) })).action).toBe('keep');
    expect(decideFor(eni('eni-1', SUBNET, { tags: ours({ [TAG_ORPHAN_SINCE]: 'yesterday' }) })).action).toBe('mark');
  });

  test.each([
    ['terminated', { [OWNER]: 'terminated' }],
    ['shutting down', { [OWNER]: 'shutting-down' }],
  ])('available and its instance is %s: delete at once, whatever the age', (_label, states) => {
    expect(decideFor(eni('eni-1', SUBNET, { tags: ours() }), states)).toMatchObject({ action: 'delete' });
  });

  test('available and its instance unknown to EC2: marked on first sight (it may be too new to show), deleted on a later sweep', () => {
    expect(decideFor(eni('eni-1', SUBNET, { tags: ours() }), {})).toMatchObject({ action: 'mark', reason: expect.stringContaining('(yet?)') });
    expect(decideFor(eni('eni-1', SUBNET, { tags: ours({ [TAG_ORPHAN_SINCE]: minutesAgo(1) }) }), {})).toMatchObject({
      action: 'delete',
      reason: expect.stringContaining('no longer exists'),
    });
  });

  test('attached to a live instance: keep; a stale mark is removed', () => {
    expect(decideFor(eni('eni-1', SUBNET, { tags: ours(), attachedTo: OWNER }))).toMatchObject({ action: 'keep' });
    expect(decideFor(eni('eni-1', SUBNET, { tags: ours(), attachedTo: OWNER }), { [OWNER]: 'stopped' }).action).toBe('keep');
    expect(decideFor(eni('eni-1', SUBNET, { tags: ours({ [TAG_ORPHAN_SINCE]: minutesAgo(90) }), attachedTo: OWNER })).action).toBe('unmark');
  });

  test('attached to an instance that is terminated: release (detach, then delete); unknown to EC2: marked first, released later', () => {
    expect(decideFor(eni('eni-1', SUBNET, { tags: ours(), attachedTo: OWNER }), { [OWNER]: 'terminated' }).action).toBe('release');
    expect(decideFor(eni('eni-1', SUBNET, { tags: ours(), attachedTo: OWNER }), {}).action).toBe('mark');
    expect(decideFor(eni('eni-1', SUBNET, { tags: ours({ [TAG_ORPHAN_SINCE]: minutesAgo(15) }), attachedTo: OWNER }), {})).toMatchObject({
      action: 'release',
      reason: expect.stringContaining(`instance ${OWNER} no longer exists`),
    });
  });

  test('attached to a shutting-down instance: keep (EC2 and the terminate hook are on it)', () => {
    expect(decideFor(eni('eni-1', SUBNET, { tags: ours(), attachedTo: OWNER }), { [OWNER]: 'shutting-down' }).action).toBe('keep');
  });

  test('the attachment, not the tag, decides for an attached ENI', () => {
    expect(decideFor(eni('eni-1', SUBNET, { tags: ours(), attachedTo: OTHER }), { [OTHER]: 'running' }).action).toBe('keep');
    expect(decideFor(eni('eni-1', SUBNET, { tags: ours(), attachedTo: OTHER }), { [OWNER]: 'running', [OTHER]: 'terminated' }).action).toBe('release');
  });

  test('attaching or detaching: keep until the next sweep', () => {
    expect(decideFor(eni('eni-1', SUBNET, { tags: ours(), status: 'detaching' }), {}).action).toBe('keep');
  });

  test('instancesToDescribe: owners and attachments, once each', () => {
    expect(
      instancesToDescribe([
        eni('eni-1', SUBNET, { tags: ours() }),
        eni('eni-2', SUBNET, { tags: ours(), attachedTo: OTHER }),
        eni('eni-3', SUBNET, { tags: { 'eks-multus-eni/instance-id': 'not-an-instance' } }),
      ]),
    ).toEqual([OWNER, OTHER]);
  });
});

describe('sweepOrphans over a fake port', () => {
  function recordingLog() {
    const lines: { level: string; message: string; extra: Record<string, unknown> }[] = [];
    const at = (level: string) => (message: string, ...extra: Record<string, unknown>[]) => lines.push({ level, message, extra: Object.assign({}, ...extra) });
    const log: Log = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
    return { log, lines };
  }

  function world() {
    return new FakeEc2({
      interfaces: [
        eni('eni-old', SUBNET, { tags: ours({ [TAG_ORPHAN_SINCE]: minutesAgo(45) }) }),
        eni('eni-new', SUBNET, { tags: ours() }),
        eni('eni-young', SUBNET, { tags: ours({ [TAG_ORPHAN_SINCE]: minutesAgo(5) }) }),
        eni('eni-attached', SUBNET, { tags: ours(), attachedTo: OWNER }),
        // OTHER is unknown to EC2 since an earlier sweep (which marked these two).
        eni('eni-dead', SUBNET, { tags: { 'eks-multus-eni/instance-id': OTHER, [TAG_ORPHAN_SINCE]: minutesAgo(15) } }),
        eni('eni-stuck', SUBNET, { tags: { 'eks-multus-eni/instance-id': OTHER, [TAG_ORPHAN_SINCE]: minutesAgo(15) }, attachedTo: OTHER }),
        eni('eni-foreign', SUBNET, {}),
      ],
      instanceStates: { [OWNER]: 'running' },
    });
  }
  const release = { sleep: async () => {}, detachTimeoutMs: 1000 };

  test('deletes what is due, marks what is new, keeps the rest; one line per ENI and a summary', async () => {
    const ec2 = world();
    const { log, lines } = recordingLog();

    const summary = await sweepOrphans({ ec2, log, release }, { graceMinutes: 30, dryRun: false, now: () => NOW });

    expect(ec2.interfaces.map((e) => e.networkInterfaceId).sort()).toEqual(['eni-attached', 'eni-foreign', 'eni-new', 'eni-young']);
    expect(ec2.interfaces.find((e) => e.networkInterfaceId === 'eni-new')?.tags[TAG_ORPHAN_SINCE]).toBe(NOW.toISOString());
    expect(summary).toMatchObject({
      dryRun: false,
      examined: 6,
      decisions: { keep: 2, mark: 1, unmark: 0, delete: 2, release: 1 },
      deleted: 3,
      failed: 0,
    });
    const perEni = lines.filter((l) => typeof l.extra.networkInterfaceId === 'string');
    expect(perEni.map((l) => l.extra.networkInterfaceId)).toEqual(['eni-attached', 'eni-dead', 'eni-new', 'eni-old', 'eni-stuck', 'eni-young']);
    expect(perEni.find((l) => l.extra.networkInterfaceId === 'eni-stuck')?.extra).toMatchObject({
      instanceId: OTHER,
      subnetId: SUBNET,
      decision: 'release',
      result: 'done',
      reason: expect.stringContaining('no longer exists'),
    });
    expect(lines.at(-1)).toMatchObject({ level: 'info', message: expect.stringContaining('sweep done'), extra: { deleted: 3, examined: 6 } });
  });

  test('dry-run deletes and detaches nothing, and reports what it would do', async () => {
    const ec2 = world();
    const { log, lines } = recordingLog();

    const summary = await sweepOrphans({ ec2, log, release }, { graceMinutes: 30, dryRun: true, now: () => NOW });

    expect(ec2.interfaces).toHaveLength(7);
    expect(ec2.calls.filter(([m]) => m === 'deleteInterface' || m === 'detachInterface')).toEqual([]);
    expect(summary).toMatchObject({ dryRun: true, deleted: 0, decisions: { delete: 2, release: 1 } });
    expect(summary.interfaces.filter((i) => i.result === 'dry-run').map((i) => i.networkInterfaceId)).toEqual(['eni-dead', 'eni-old', 'eni-stuck']);
    expect(lines.at(-1)?.message).toContain('dry run: 3 would be');
  });

  test('a failure on one ENI is logged as an error and the others are still swept', async () => {
    const ec2 = world();
    ec2.failures.set('deleteInterface:eni-old', 'UnauthorizedOperation');
    const { log, lines } = recordingLog();

    const summary = await sweepOrphans({ ec2, log, release }, { graceMinutes: 30, dryRun: false, now: () => NOW });

    expect(summary).toMatchObject({ deleted: 2, failed: 1 });
    expect(lines.filter((l) => l.level === 'error')).toEqual([
      expect.objectContaining({ extra: expect.objectContaining({ networkInterfaceId: 'eni-old', error: expect.stringContaining('UnauthorizedOperation') }) }),
    ]);
  });
});

describe('sweepOptionsFromEnv', () => {
  test('defaults: 30 minutes, not a dry run', () => {
    expect(sweepOptionsFromEnv({})).toEqual({ graceMinutes: 30, dryRun: false });
  });
  test('values, and a bad value names the variable', () => {
    expect(sweepOptionsFromEnv({ SWEEP_GRACE_MINUTES: '5', SWEEP_DRY_RUN: 'TRUE' })).toEqual({ graceMinutes: 5, dryRun: true });
    expect(() => sweepOptionsFromEnv({ SWEEP_GRACE_MINUTES: 'soon' })).toThrow(/SWEEP_GRACE_MINUTES/);
    expect(() => sweepOptionsFromEnv({ SWEEP_DRY_RUN: 'maybe' })).toThrow(/SWEEP_DRY_RUN/);
  });
});

describe('the stack clean-up of the multus subnets (fake EC2: ENIs going with their instances, which moto never does)', () => {
  const quiet: Log = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };
  const release = { sleep: async () => undefined, detachTimeoutMs: 1000 };
  const deps = (ec2: FakeEc2, deadline = Date.now() + 60_000) => ({ ec2, log: quiet, release, pollMs: 1, deadline });

  test('an ENI still attached with DeleteOnTermination to a terminated instance is waited for, not deleted; the rest is removed', async () => {
    const going = eni('eni-going', SUBNET, { tags: ours(), attachedTo: OWNER });
    const ec2 = new FakeEc2({ interfaces: [going, eni('eni-free', SUBNET, { tags: ours() }), eni('eni-foreign', SUBNET)], instanceStates: { [OWNER]: 'terminated' } });
    // EC2 deletes the going ENI a little after its instance: gone at the third look.
    let looks = 0;
    const describe = ec2.describeInterfacesInSubnets.bind(ec2);
    ec2.describeInterfacesInSubnets = async (ids) => {
      if (++looks === 3) ec2.interfaces = ec2.interfaces.filter((e) => e.networkInterfaceId !== 'eni-going');
      return describe(ids);
    };

    const report = await cleanupSubnets(deps(ec2), [SUBNET]);

    expect(report).toEqual({ deleted: ['eni-free'], leftAttached: [], stillGoing: [], failed: [] });
    expect(ec2.calls.filter((c) => c[0] === 'deleteInterface' || c[0] === 'detachInterface')).toEqual([['deleteInterface', 'eni-free']]);
    expect(ec2.interfaces.map((e) => e.networkInterfaceId)).toEqual(['eni-foreign']);
  });

  test('attached to a running instance: left; still going when the time is up: reported', async () => {
    const ec2 = new FakeEc2({
      interfaces: [eni('eni-running', SUBNET, { tags: ours(), attachedTo: OTHER }), eni('eni-going', SUBNET, { tags: ours(), attachedTo: OWNER })],
      instanceStates: { [OTHER]: 'running', [OWNER]: 'shutting-down' },
    });
    const report = await cleanupSubnets(deps(ec2, Date.now() - 1), [SUBNET]);
    expect(report).toEqual({ deleted: [], leftAttached: ['eni-running'], stillGoing: ['eni-going'], failed: [] });
    expect(ec2.calls.some((c) => c[0] === 'deleteInterface')).toBe(false);
  });

  test('a delete EC2 refuses is reported, and not tried again in the same clean-up', async () => {
    const ec2 = new FakeEc2({ interfaces: [eni('eni-stuck', SUBNET, { tags: ours() })] });
    ec2.failures.set('deleteInterface:eni-stuck', 'UnauthorizedOperation');
    const report = await cleanupSubnets(deps(ec2), [SUBNET]);
    expect(report.failed).toEqual([{ networkInterfaceId: 'eni-stuck', error: 'UnauthorizedOperation: deleteInterface failed for eni-stuck' }]);
    expect(ec2.calls.filter((c) => c[0] === 'deleteInterface')).toHaveLength(1);
  });
});
