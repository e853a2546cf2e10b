export * from './cidr';
export * from './allocate';
