export * from './port';
export * from './sdk';
export * from './scan';
