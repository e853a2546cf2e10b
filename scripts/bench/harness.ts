/**
 * What the emulator benchmarks share: the function environment, a silent logger, the lifecycle
 * app with counted SDK clients (a fresh one is a cold container), nodes and their events, and a
 * look at the ENIs the emulator holds afterwards.
 */
import {
  DescribeNetworkInterfacesCommand,
  RunInstancesCommand,
  type NetworkInterface,
  type _InstanceType,
} from '@aws-sdk/client-ec2';
import { createClients, createLifecycleApp, Logger, SERVICE_NAME, type LifecycleApp } from 'multus-core';
import { countCalls, type CallCounts } from '../../tests/support/call-counter';
import { CONFIG_PATH, NODE_TAG_KEY, eventFor, type WorldClients } from '../../tests/support/world';

/** The function environment of the benchmarks (as the template sets it, logs off). */
export const FUNCTION_ENV: Record<string, string> = {
  CONFIG_PATH,
  NODE_TAG_KEY,
  POWERTOOLS_PARAMETERS_MAX_AGE: '60',
  POWERTOOLS_LOG_LEVEL: 'SILENT',
  POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
};

export function applyFunctionEnv(): void {
  Object.assign(process.env, FUNCTION_ENV);
}

export function silentLogger(): Logger {
  return new Logger({ serviceName: SERVICE_NAME, logLevel: 'SILENT' });
}

export interface CountedApp {
  readonly app: LifecycleApp;
  /** Live tally of SDK calls by `Service.Operation` (one per command, after the SDK's retries). */
  readonly counts: CallCounts;
}

/** A fresh app with its own clients and caches: what a new Lambda container holds. */
export function coldApp(): CountedApp {
  const clients = createClients();
  const counts = countCalls(clients);
  return { app: createLifecycleApp({ clients, logger: silentLogger() }), counts };
}

/** `count` opted-in nodes in one subnet, with one RunInstances call. */
export async function launchNodes(world: WorldClients, subnetId: string, count: number, instanceType = 'm5.4xlarge'): Promise<string[]> {
  const out = await world.ec2.send(
    new RunInstancesCommand({
      ImageId: 'ami-12345678',
      InstanceType: instanceType as _InstanceType,
      MinCount: count,
      MaxCount: count,
      SubnetId: subnetId,
      TagSpecifications: [
        { ResourceType: 'instance', Tags: [{ Key: 'Name', Value: 'eks-node' }, { Key: NODE_TAG_KEY, Value: 'true' }] },
      ],
    }),
  );
  return (out.Instances ?? []).map((i) => i.InstanceId!);
}

/** The launch event Auto Scaling would deliver for the node (events/launch.json, fresh token). */
export function launchEvent(instanceId: string): unknown {
  return eventFor('launch.json', instanceId);
}

/** Every ENI in the subnets, all pages. */
export async function interfacesIn(world: WorldClients, subnetIds: readonly string[]): Promise<NetworkInterface[]> {
  const out: NetworkInterface[] = [];
  let NextToken: string | undefined;
  do {
    const page = await world.ec2.send(
      new DescribeNetworkInterfacesCommand({ Filters: [{ Name: 'subnet-id', Values: [...subnetIds] }], NextToken }),
    );
    out.push(...(page.NetworkInterfaces ?? []));
    NextToken = page.NextToken;
  } while (NextToken);
  return out;
}

export function addCounts(into: CallCounts, from: CallCounts): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}

export function sortedCounts(counts: CallCounts): CallCounts {
  return Object.fromEntries(Object.entries(counts).sort(([a], [b]) => a.localeCompare(b)));
}

/** `Service.Operation` without the service, for the tables (`EC2.DescribeInstances` -> `DescribeInstances`). */
export function operation(key: string): string {
  return key.replace(/^[^.]+\./, '');
}
