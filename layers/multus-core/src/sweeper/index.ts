export * from './decide';
export * from './sweep';
export * from './app';
export * from './cleanup';
