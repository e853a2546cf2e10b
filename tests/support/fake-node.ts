/**
 * The node of the ENI-work unit tests over the in-memory EC2 port (ensure.test.ts, node.test.ts):
 * one opted-in m5.xlarge in us-east-1a, its two multus subnets and one the settings named before,
 * and the NodeDeps of ensureNode with silent logs and no waits.
 */
import { DEFAULT_MAX_ADDRESS_RACES, silentLog, type NodeDeps } from 'multus-core';
import { FakeEc2, type FakeEc2Data } from './fake-ec2';

export const PATH = '/eks-multus-eni/test';
export const NODE = 'i-0aaaaaaaaaaaaaaa1';
export const VPC = 'vpc-11111111';
export const A = 'subnet-0000000000000000a';
export const B = 'subnet-0000000000000000b';
/** A multus subnet of the AZ that the settings named before (a settings change). */
export const OLD = 'subnet-0000000000000000c';

export const ownedBy = (instanceId: string, deviceIndex: number) => ({
  'node.k8s.amazonaws.com/no_manage': 'true',
  'eks-multus-eni/instance-id': instanceId,
  'eks-multus-eni/device-index': String(deviceIndex),
});

export function world(data: FakeEc2Data = {}): FakeEc2 {
  return new FakeEc2({
    subnets: [
      { subnetId: A, vpcId: VPC, availabilityZone: 'us-east-1a', cidrBlock: '10.0.1.0/24', availableIpAddressCount: 251 },
      { subnetId: B, vpcId: VPC, availabilityZone: 'us-east-1a', cidrBlock: '10.0.2.0/24', availableIpAddressCount: 251 },
      { subnetId: OLD, vpcId: VPC, availabilityZone: 'us-east-1a', cidrBlock: '10.0.3.0/24', availableIpAddressCount: 251 },
    ],
    limits: { 'm5.xlarge': 4 },
    instances: [{ instanceId: NODE, availabilityZone: 'us-east-1a', vpcId: VPC, tags: { 'multus-ng': 'true' } }],
    ...data,
  });
}

export function depsFor(ec2: FakeEc2, settings: Record<string, string> = {}, extra: Partial<NodeDeps> = {}): NodeDeps {
  return {
    ec2,
    log: silentLog,
    release: { sleep: async () => {}, detachTimeoutMs: 1000 },
    maxAddressRaces: DEFAULT_MAX_ADDRESS_RACES,
    nodeTagKey: 'multus-ng',
    configPath: PATH,
    settings: { read: async () => ({ 'subnets/us-east-1a': `${A},${B}`, ...settings }) },
    ...extra,
  };
}
