export * from './parse';
export * from './load';
export * from './ipv6';
