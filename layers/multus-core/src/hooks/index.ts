/** The hook installer: lifecycle hooks on a managed node group's Auto Scaling groups, as a CloudFormation custom resource. */
export * from './request';
export * from './response';
export * from './port';
export * from './sdk';
export * from './install';
export * from './app';
