/**
 * The terminate transition: ENIs of ours whose attachment has DeleteOnTermination=true go with the
 * instance; any other ENI of ours on it is detached and deleted. Other ENIs are never touched.
 * Then the action completes with CONTINUE.
 */
import type { Ec2Port } from '../ec2/port';
import { isOurs } from '../eni/plan';
import { releaseInterface, type ReleaseOptions } from '../eni/release';
import { asError } from '../errors';
import type { Log } from '../log';
import { METRICS } from '../metrics/catalog';
import type { MetricRecorder } from '../metrics/recorder';
import { TAG_INSTANCE_ID } from '../tags';
import type { LifecyclePort } from './complete';
import type { LifecycleAction } from './event';
import type { HandlerResult, InterfaceResult } from './result';

export interface TerminateDeps {
  readonly ec2: Ec2Port;
  readonly lifecycle: LifecyclePort;
  readonly log: Log;
  readonly release: ReleaseOptions;
  /** Adds keys to every later log line (Powertools `appendKeys`). */
  readonly annotate?: (keys: Record<string, string>) => void;
  /** Counts the answered terminate and the ENIs released. */
  readonly metrics?: MetricRecorder;
}

export async function handleTerminate(deps: TerminateDeps, action: LifecycleAction): Promise<HandlerResult> {
  const { ec2, log } = deps;
  const ours = (await ec2.describeInterfacesByTag(TAG_INSTANCE_ID, action.instanceId)).filter((eni) =>
    isOurs(eni, action.instanceId),
  );
  // The AZ on every log line: from our ENIs, or from the instance when it has none.
  const availabilityZone =
    ours.find((e) => e.availabilityZone)?.availabilityZone ??
    (await ec2.describeInstance(action.instanceId).catch(() => undefined))?.availabilityZone;
  if (availabilityZone) deps.annotate?.({ availabilityZone });
  const released: InterfaceResult[] = [];
  const failures: string[] = [];
  for (const eni of ours) {
    const attachedElsewhere = eni.attachment?.instanceId !== undefined && eni.attachment.instanceId !== action.instanceId;
    if (attachedElsewhere) continue;
    if (eni.attachment?.deleteOnTermination === true) continue; // goes with the instance
    try {
      await releaseInterface(ec2, eni.networkInterfaceId, deps.release);
      released.push({
        deviceIndex: eni.attachment?.deviceIndex ?? -1,
        subnetId: eni.subnetId,
        networkInterfaceId: eni.networkInterfaceId,
        privateIpAddress: eni.privateIpAddress ?? null,
        ipv4Prefixes: [...eni.ipv4Prefixes],
        ipv6Addresses: [...eni.ipv6Addresses],
        ipv6Prefixes: [...eni.ipv6Prefixes],
      });
    } catch (err) {
      failures.push(eni.networkInterfaceId);
      log.error('could not release an ENI of ours; the orphan sweeper will retry', {
        networkInterfaceId: eni.networkInterfaceId,
        error: asError(err),
      });
    }
  }
  log.info('terminate: released the ENIs that would not go with the instance', {
    released: released.map((r) => r.networkInterfaceId),
    goingWithInstance: ours.length - released.length - failures.length,
  });
  const completion = await deps.lifecycle.complete(action, 'CONTINUE');
  deps.metrics?.add(METRICS.terminations, 1);
  deps.metrics?.add(METRICS.interfacesReleased, released.length);
  return {
    outcome: 'released',
    lifecycleResult: 'CONTINUE',
    instanceId: action.instanceId,
    interfaces: released,
    completion,
    availabilityZone,
    ...(failures.length > 0 ? { reason: `could not release ${failures.join(', ')}` } : {}),
  };
}
