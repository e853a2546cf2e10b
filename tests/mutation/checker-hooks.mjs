// Module resolution hook of Stryker's TypeScript checker process (registered by
// checker-preload.cjs): the checker's `import ts from 'typescript'` gets checker-typescript.mjs,
// which is TypeScript with a compiler host that keeps what it parsed. Every other import resolves
// as usual.
const wrapper = new URL('./checker-typescript.mjs', import.meta.url).href;

export async function resolve(specifier, context, nextResolve) {
  if (specifier === 'typescript' && context.parentURL?.includes('/@stryker-mutator/typescript-checker/')) {
    return { url: wrapper, shortCircuit: true };
  }
  return nextResolve(specifier, context);
}
