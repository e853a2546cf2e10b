/** The heartbeat timing, with a fake lifecycle port and a controllable clock. */
import { silentLog, startHeartbeat, type LifecycleAction, type LifecyclePort } from 'multus-core';

const action: LifecycleAction = {
  instanceId: 'i-0123456789abcdef0',
  autoScalingGroupName: 'asg',
  lifecycleHookName: 'hook',
  lifecycleActionToken: 't',
  transition: 'autoscaling:EC2_INSTANCE_LAUNCHING',
};

function fakePort(timeoutSeconds: number | undefined | Error) {
  const calls = { heartbeats: [] as number[], describes: 0 };
  const port: LifecyclePort = {
    complete: async () => 'completed',
    lifecycleState: async () => 'Pending:Wait',
    autoScalingGroupOf: async () => undefined,
    groupInstances: async () => [],
    heartbeat: async () => {
      calls.heartbeats.push(Date.now());
    },
    heartbeatTimeoutSeconds: async () => {
      calls.describes++;
      if (timeoutSeconds instanceof Error) throw timeoutSeconds;
      return timeoutSeconds;
    },
  };
  return { port, calls };
}

beforeEach(() => jest.useFakeTimers({ now: 0 }));
afterEach(() => jest.useRealTimers());

test('a fast launch sends nothing and does not even read the hook', async () => {
  const { port, calls } = fakePort(60);
  const hb = startHeartbeat(port, silentLog, action, { checkAfterMs: 10_000, fraction: 0.5 });
  await jest.advanceTimersByTimeAsync(9_000);
  await hb.stop();
  await jest.advanceTimersByTimeAsync(600_000);
  expect(calls).toEqual({ heartbeats: [], describes: 0 });
});

test('a slow launch beats every half of the hook timeout, from the start of the work', async () => {
  const { port, calls } = fakePort(60);
  const hb = startHeartbeat(port, silentLog, action, { checkAfterMs: 10_000, fraction: 0.5 });
  await jest.advanceTimersByTimeAsync(100_000);
  await hb.stop();
  expect(calls.describes).toBe(1);
  expect(calls.heartbeats).toEqual([30_000, 60_000, 90_000]);
  expect(hb.sent).toBe(3);
  await jest.advanceTimersByTimeAsync(100_000);
  expect(calls.heartbeats).toHaveLength(3);
});

test('an unreadable hook is assumed to have the shortest timeout (30 s), with a warning that names the error', async () => {
  const denied = Object.assign(new Error('not authorized to perform: autoscaling:DescribeLifecycleHooks'), { name: 'AccessDenied' });
  const { port, calls } = fakePort(denied);
  const warnings: unknown[][] = [];
  const log = { ...silentLog, warn: (...args: unknown[]) => void warnings.push(args) };
  const hb = startHeartbeat(port, log, action, { checkAfterMs: 10_000, fraction: 0.5 });
  await jest.advanceTimersByTimeAsync(31_000);
  await hb.stop();
  expect(calls.heartbeats).toEqual([15_000, 30_000]);
  expect(warnings).toEqual([['could not read the lifecycle hook; assuming the shortest heartbeat timeout', { error: denied }]]);
});

test('when the check comes after the first beat is due, it beats at once', async () => {
  const { port, calls } = fakePort(30);
  const hb = startHeartbeat(port, silentLog, action, { checkAfterMs: 20_000, fraction: 0.5 });
  await jest.advanceTimersByTimeAsync(21_000);
  await hb.stop();
  expect(calls.heartbeats).toHaveLength(1);
  expect(calls.heartbeats[0]).toBeLessThanOrEqual(20_001); // a zero-delay timer fires after 1 ms
});

test('a heartbeat answered ValidationError (the action completed elsewhere) ends the beating; another error does not', async () => {
  for (const [name, expected] of [['ValidationError', 1], ['Throttling', 3]] as const) {
    const { port, calls } = fakePort(60);
    port.heartbeat = async () => {
      calls.heartbeats.push(Date.now());
      throw Object.assign(new Error('refused'), { name });
    };
    const warnings: string[] = [];
    const log = { ...silentLog, warn: (message: string) => void warnings.push(message) };
    const hb = startHeartbeat(port, log, action, { checkAfterMs: 10_000, fraction: 0.5 });
    await jest.advanceTimersByTimeAsync(100_000);
    await hb.stop();
    expect(calls.heartbeats).toHaveLength(expected);
    expect(hb.sent).toBe(0);
    expect(warnings).toEqual(Array.from({ length: expected }, () => 'lifecycle heartbeat failed'));
  }
});

test('stopped before the hook is read: no heartbeat, even if the read was under way', async () => {
  const { port, calls } = fakePort(60);
  let release: () => void = () => {};
  port.heartbeatTimeoutSeconds = () => new Promise((resolve) => (release = () => resolve(60)));
  const hb = startHeartbeat(port, silentLog, action, { checkAfterMs: 10_000, fraction: 0.5 });
  await jest.advanceTimersByTimeAsync(10_000);
  const stopping = hb.stop();
  release();
  await stopping;
  await jest.advanceTimersByTimeAsync(100_000);
  expect(calls.heartbeats).toEqual([]);
  // Nothing keeps running in the (reused) container after the launch.
  expect(jest.getTimerCount()).toBe(0);
});

test('stopped while a beat is in flight: stop waits for it, and nothing follows', async () => {
  const { port, calls } = fakePort(60);
  let finish: () => void = () => {};
  port.heartbeat = () => new Promise<void>((resolve) => (finish = () => (calls.heartbeats.push(Date.now()), resolve())));
  const hb = startHeartbeat(port, silentLog, action, { checkAfterMs: 10_000, fraction: 0.5 });
  await jest.advanceTimersByTimeAsync(30_000);
  let stopped = false;
  const stopping = hb.stop().then(() => (stopped = true));
  await Promise.resolve();
  expect(stopped).toBe(false);
  finish();
  await stopping;
  await jest.advanceTimersByTimeAsync(100_000);
  expect(calls.heartbeats).toEqual([30_000]);
  expect(jest.getTimerCount()).toBe(0);
});
