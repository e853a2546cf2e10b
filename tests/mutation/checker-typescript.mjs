// TypeScript as Stryker's checker sees it (checker-hooks.mjs): the same module, except that the
// programs it builds get a compiler host that hands back the source file it parsed before when the
// file's text is unchanged (see checker-preload.cjs for why).
import { createRequire } from 'node:module';

const ts = createRequire(import.meta.url)('typescript');

const parsed = new Map();
const CACHING = Symbol('caching getSourceFile');

function cachingGetSourceFile(host, getSourceFile) {
  const cached = (fileName, languageVersionOrOptions, onError, shouldCreateNewSourceFile) => {
    const text = host.readFile(fileName);
    const options = typeof languageVersionOrOptions === 'object' ? languageVersionOrOptions : { languageVersion: languageVersionOrOptions };
    const key = `${fileName}\0${options.languageVersion}\0${options.impliedNodeFormat}`;
    // Per file the first text parsed (the original: a mutant's file goes back to it) and the last.
    const kept = parsed.get(key) ?? [];
    const hit = kept.find((k) => k.text === text);
    if (!shouldCreateNewSourceFile && hit) return hit.sourceFile;
    const sourceFile = getSourceFile.call(host, fileName, languageVersionOrOptions, onError, shouldCreateNewSourceFile);
    if (sourceFile && text !== undefined) parsed.set(key, [kept[0] ?? { text, sourceFile }, { text, sourceFile }]);
    return sourceFile;
  };
  cached[CACHING] = true;
  return cached;
}

function createEmitAndSemanticDiagnosticsBuilderProgram(rootNames, options, host, ...rest) {
  // The solution builder swaps its host's getSourceFile during each build: wrap whichever is current.
  if (host && typeof host.getSourceFile === 'function' && !host.getSourceFile[CACHING]) {
    host.getSourceFile = cachingGetSourceFile(host, host.getSourceFile);
  }
  return ts.createEmitAndSemanticDiagnosticsBuilderProgram(rootNames, options, host, ...rest);
}

// TypeScript's exports are getters that cannot be redefined: a proxy answers the one name.
export default new Proxy(ts, {
  get: (target, key) => (key === 'createEmitAndSemanticDiagnosticsBuilderProgram' ? createEmitAndSemanticDiagnosticsBuilderProgram : Reflect.get(target, key)),
});
