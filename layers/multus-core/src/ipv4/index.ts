export * from './cidr';
export * from './allocate';
export * from './bitmap';
