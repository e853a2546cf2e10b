/**
 * multus-core: the shared layer of eks-multus-eni. IP allocation, settings, the ENI work behind a
 * small EC2 port, lifecycle completion, and the SDK clients the functions are given.
 */
export * from './ipv4';
export * from './settings';
export * from './ec2';
export * from './errors';
export * from './tags';
export * from './cache';
export * from './log';
export * from './clients';
export * from './budget';
export * from './environment';
export * from './logger';
export * from './app';
export * from './eni/plan';
export * from './eni/groups';
export * from './eni/ensure';
export * from './eni/maps';
export * from './eni/release';
export * from './lifecycle/event';
export * from './lifecycle/complete';
export * from './lifecycle/result';
export * from './lifecycle/launch';
export * from './eni/node';
export * from './lifecycle/terminate';
export * from './lifecycle/state-change';
export * from './lifecycle/heartbeat';
export * from './reconcile/reconcile';
export * from './settings/check';
export * from './sweeper';
export * from './custom-resource';
export * from './lifecycle/unsuccessful';
export * from './metrics';
