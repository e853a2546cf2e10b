/**
 * multus-core/hooks: the hook installer (lifecycle hooks on a managed node group's Auto Scaling
 * groups, as a CloudFormation custom resource). A separate entry of the layer: only the hook
 * installer loads it (and the EKS client it needs).
 */
export * from './request';
export * from '../custom-resource';
export * from './port';
export * from './sdk';
export * from './install';
export * from './app';
export * from './clients';
export { createLogger } from '../logger';
export * from '../metrics';
export * from './size-guard';
