export * from './catalog';
export * from './recorder';
export * from './powertools';
