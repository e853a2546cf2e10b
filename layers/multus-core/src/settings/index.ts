export * from './parse';
export * from './load';
