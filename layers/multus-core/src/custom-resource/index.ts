export * from './envelope';
export * from './response';
