/**
 * The launch's lifecycle answer and the deadlines around it, with a fake Auto Scaling port, the
 * in-memory EC2 port and jest's fake clock (no real waiting): the answer is tried again while
 * Auto Scaling cannot be reached and the function still has time, backing off; a refusal, or no
 * time left, is thrown. A call that stalls is aborted at its scope's deadline, as the SDK's
 * request handler does (`stalledCall` of tests/support/call-scope.ts mirrors it), with an error naming the scope: the ENI
 * work, or the lifecycle answer.
 */
import {
  answer,
  handleLaunch,
  silentLog,
  withCallDeadline,
  type CompletionOutcome,
  type LaunchDeps,
  type LifecycleAction,
  type LifecyclePort,
  type LifecycleResult,
} from 'multus-core';
import { stalledCall } from '../support/call-scope';
import { FakeEc2 } from '../support/fake-ec2';

const NODE = 'i-0aaaaaaaaaaaaaaa1';
const SUBNET = 'subnet-0000000000000000a';
const START = 1_700_000_000_000;
const action: LifecycleAction = {
  instanceId: NODE,
  autoScalingGroupName: 'asg-1',
  lifecycleHookName: 'hook-1',
  lifecycleActionToken: 'token-1',
  transition: 'autoscaling:EC2_INSTANCE_LAUNCHING',
};

const awsError = (name: string, status: number) => Object.assign(new Error(`${name} (${status})`), { name, $metadata: { httpStatusCode: status } });
const unavailable = () => awsError('ServiceUnavailable', 503);

/** Auto Scaling answering CompleteLifecycleAction with each of `answers` in turn (an error is thrown), then `completed`. */
function fakeLifecycle(answers: (Error | CompletionOutcome | (() => Promise<CompletionOutcome>))[] = []) {
  const completions: { result: LifecycleResult; at: number }[] = [];
  const lifecycle: LifecyclePort = {
    complete: async (_action, result) => {
      completions.push({ result, at: Date.now() - START });
      const next = answers.shift() ?? 'completed';
      if (next instanceof Error) throw next;
      return typeof next === 'function' ? next() : next;
    },
    lifecycleState: async () => 'Pending:Wait',
    groupInstances: async () => [],
    autoScalingGroupOf: async () => undefined,
    heartbeat: async () => {},
    heartbeatTimeoutSeconds: async () => 300,
  };
  return { lifecycle, completions };
}

/** Deps whose sleeps move the fake clock and are recorded. */
function depsFor(lifecycle: LifecyclePort, extra: Partial<LaunchDeps> = {}) {
  const sleeps: number[] = [];
  const infos: string[] = [];
  const ec2 = new FakeEc2({
    subnets: [{ subnetId: SUBNET, vpcId: 'vpc-1', availabilityZone: 'us-east-1a', cidrBlock: '10.0.1.0/24', availableIpAddressCount: 251 }],
    limits: { 'm5.xlarge': 4 },
    instances: [{ instanceId: NODE, availabilityZone: 'us-east-1a', vpcId: 'vpc-1', tags: { 'multus-ng': 'true' } }],
  });
  const deps: LaunchDeps = {
    ec2,
    lifecycle,
    log: { ...silentLog, info: (message: string) => void infos.push(message) },
    release: {
      sleep: async (ms: number) => {
        sleeps.push(ms);
        jest.setSystemTime(Date.now() + ms);
      },
      detachTimeoutMs: 1000,
    },
    maxAddressRaces: 128,
    nodeTagKey: 'multus-ng',
    configPath: '/p',
    settings: { read: async () => ({ 'subnets/us-east-1a': SUBNET }) },
    // The hook is never looked up in these tests: no heartbeat timer fires.
    heartbeat: { checkAfterMs: 3_600_000, fraction: 0.5 },
    ...extra,
  };
  return { deps, ec2, sleeps, infos };
}

beforeEach(() => jest.useFakeTimers({ now: START }));
afterEach(() => jest.useRealTimers());

describe('the lifecycle answer while Auto Scaling cannot be reached', () => {
  test('a launch whose answer fails for a while still gets it through, backing off 1, 2, 4 and then 4 s', async () => {
    const { lifecycle, completions } = fakeLifecycle([unavailable(), awsError('Throttling', 400), unavailable(), unavailable()]);
    const { deps, sleeps } = depsFor(lifecycle, { answerDeadline: START + 60_000 });

    const result = await handleLaunch(deps, action);

    expect(result).toMatchObject({ outcome: 'attached', lifecycleResult: 'CONTINUE', completion: 'completed' });
    expect(sleeps).toEqual([1_000, 2_000, 4_000, 4_000]);
    expect(completions).toEqual([0, 1_000, 3_000, 7_000, 11_000].map((at) => ({ result: 'CONTINUE', at })));
  });

  test('a refusal that is not transient is thrown at once', async () => {
    const { lifecycle, completions } = fakeLifecycle([awsError('AccessDenied', 403)]);
    const { deps, sleeps } = depsFor(lifecycle, { answerDeadline: START + 60_000 });

    await expect(answer(deps, action, 'ABANDON')).rejects.toMatchObject({ name: 'AccessDenied' });
    expect(sleeps).toEqual([]);
    expect(completions).toHaveLength(1);
  });

  test('without an answer deadline, a transient failure is not tried again (the SDK has retried already)', async () => {
    const { lifecycle, completions } = fakeLifecycle([unavailable()]);
    const { deps, sleeps } = depsFor(lifecycle);

    await expect(answer(deps, action, 'CONTINUE')).rejects.toMatchObject({ name: 'ServiceUnavailable' });
    expect(sleeps).toEqual([]);
    expect(completions).toHaveLength(1);
  });

  test('tried again only while the wait and 2 s to spare fit before the deadline; then the failure is thrown', async () => {
    // 3 s left: one wait of 1 s fits (with 2 s to spare); then 2 s are left, not enough for a wait of 2 s.
    const { lifecycle, completions } = fakeLifecycle([unavailable(), unavailable(), unavailable(), unavailable()]);
    const { deps, sleeps } = depsFor(lifecycle, { answerDeadline: START + 3_000 });

    await expect(answer(deps, action, 'CONTINUE')).rejects.toMatchObject({ name: 'ServiceUnavailable' });
    expect(sleeps).toEqual([1_000]);
    expect(completions.map((c) => c.at)).toEqual([0, 1_000]);

    // 1 ms less: not even the first wait fits.
    const short = fakeLifecycle([unavailable(), unavailable()]);
    jest.setSystemTime(START);
    const again = depsFor(short.lifecycle, { answerDeadline: START + 2_999 });
    await expect(answer(again.deps, action, 'CONTINUE')).rejects.toMatchObject({ name: 'ServiceUnavailable' });
    expect(again.sleeps).toEqual([]);
  });
});

describe('stalled calls', () => {
  test('an answer that gets no reply is aborted at the answer deadline, naming the lifecycle answer, and not tried again', async () => {
    const { lifecycle, completions } = fakeLifecycle([() => stalledCall()]);
    const { deps, sleeps } = depsFor(lifecycle, { answerDeadline: START + 5_000 });

    const answered = answer(deps, action, 'CONTINUE');
    const settled = expect(answered).rejects.toMatchObject({
      name: 'AbortError',
      message: "no answer in time: the lifecycle answer stops its AWS calls 5 s after it started, before the function's time is up",
    });
    await jest.advanceTimersByTimeAsync(5_000);
    await settled;
    expect(sleeps).toEqual([]);
    expect(completions).toHaveLength(1);
  });

  test('the answer is bounded by its own deadline, not by that of an enclosing scope that has run out', async () => {
    // The answer takes 3 s; the enclosing scope (the work's) ends after 1 s, the answer's after 10 s.
    const { lifecycle } = fakeLifecycle([() => stalledCall(3_000, 'completed' as const)]);
    const { deps } = depsFor(lifecycle, { answerDeadline: START + 10_000 });

    let outcome: unknown;
    void withCallDeadline({ deadline: START + 1_000, what: 'the ENI work' }, () => answer(deps, action, 'CONTINUE')).then(
      (value) => (outcome = value),
      (err: unknown) => (outcome = err),
    );
    await jest.advanceTimersByTimeAsync(3_000);

    expect(outcome).toBe('completed');
  });

  test('an EC2 call of the ENI work that gets no reply is aborted at the work deadline: the node is abandoned, and the answer still sent', async () => {
    const { lifecycle, completions } = fakeLifecycle();
    const { deps, ec2 } = depsFor(lifecycle, { deadline: START + 40_000, answerDeadline: START + 55_000 });
    ec2.describeInstance = () => stalledCall();

    let result: unknown;
    void handleLaunch(deps, action).then((r) => (result = r));
    await jest.advanceTimersByTimeAsync(40_000);

    expect(result).toMatchObject({
      outcome: 'failed',
      lifecycleResult: 'ABANDON',
      completion: 'completed',
      reason: "AbortError: no answer in time: the ENI work stops its AWS calls 40 s after it started, before the function's time is up",
    });
    expect(completions).toEqual([{ result: 'ABANDON', at: 40_000 }]);
    expect(ec2.interfaces).toEqual([]);
  });
});

describe('an action completed by an earlier delivery', () => {
  test('is said so in the log and the result; an action this delivery completed is not', async () => {
    const earlier = depsFor(fakeLifecycle(['already-complete']).lifecycle);
    expect(await handleLaunch(earlier.deps, action)).toMatchObject({ outcome: 'attached', completion: 'already-complete' });
    expect(earlier.infos).toContain('lifecycle action was already complete (an earlier delivery completed it)');

    const now = depsFor(fakeLifecycle(['completed']).lifecycle);
    expect(await handleLaunch(now.deps, action)).toMatchObject({ outcome: 'attached', completion: 'completed' });
    expect(now.infos.filter((m) => m.includes('already complete'))).toEqual([]);
  });
});
