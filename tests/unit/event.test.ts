import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseLifecycleEvent } from 'multus-core';

const fixture = (name: string) => JSON.parse(readFileSync(join(__dirname, '..', '..', 'events', name), 'utf8'));

describe('parseLifecycleEvent', () => {
  test('launch, terminate and warm-pool launch fixtures', () => {
    expect(parseLifecycleEvent(fixture('launch.json'))).toEqual({
      kind: 'launch',
      action: {
        instanceId: 'i-0123456789abcdef0',
        autoScalingGroupName: 'eks-multus-ng-1ac9f0a2',
        lifecycleHookName: 'eks-multus-eni-launch',
        lifecycleActionToken: '87654321-4321-4321-4321-210987654321',
        transition: 'autoscaling:EC2_INSTANCE_LAUNCHING',
        origin: 'EC2',
        destination: 'AutoScalingGroup',
        region: 'us-east-1',
      },
    });
    expect(parseLifecycleEvent(fixture('terminate.json'))).toMatchObject({ kind: 'terminate', action: { transition: 'autoscaling:EC2_INSTANCE_TERMINATING' } });
    expect(parseLifecycleEvent(fixture('warm-pool-launch.json'))).toMatchObject({ kind: 'launch', action: { destination: 'WarmPool' } });
  });

  test('events that are not ours are ignored', () => {
    // What Auto Scaling sends to a hook's SNS/SQS target when the hook is put (never through EventBridge).
    expect(parseLifecycleEvent({ 'detail-type': 'EC2 Instance-launch Lifecycle Action', source: 'aws.autoscaling', detail: { Event: 'autoscaling:TEST_NOTIFICATION' } })).toMatchObject({
      kind: 'ignored',
      reason: 'Auto Scaling test notification',
    });
    expect(parseLifecycleEvent({ 'detail-type': 'Scheduled Event', detail: {} })).toMatchObject({ kind: 'ignored' });
    expect(parseLifecycleEvent({ ...fixture('launch.json'), source: 'aws.ec2' })).toMatchObject({ kind: 'ignored' });
  });

  test.each([
    [null, 'not a JSON object'],
    [[], 'not a JSON object'],
    ['text', 'not a JSON object'],
  ])('%p is malformed', (event, message) => {
    expect(() => parseLifecycleEvent(event)).toThrow(message);
  });

  test('the malformed fixture names the missing field', () => {
    expect(() => parseLifecycleEvent(fixture('malformed.json'))).toThrow('detail.EC2InstanceId is missing');
  });

  test('a lifecycle detail-type without detail, or with a bad instance id or transition', () => {
    const e = fixture('launch.json');
    expect(() => parseLifecycleEvent({ ...e, detail: undefined })).toThrow('detail is missing');
    expect(() => parseLifecycleEvent({ ...e, detail: { ...e.detail, EC2InstanceId: 'i-xyz' } })).toThrow('is not an instance id');
    expect(() => parseLifecycleEvent({ ...e, detail: { ...e.detail, LifecycleActionToken: '' } })).toThrow('detail.LifecycleActionToken is empty');
    expect(() =>
      parseLifecycleEvent({ ...e, detail: { ...e.detail, LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING' } }),
    ).toThrow('does not match detail-type');
  });
});
