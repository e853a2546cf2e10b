export * from './port';
export * from './sdk';
