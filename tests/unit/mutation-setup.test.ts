/**
 * The speed-ups of `npm run mutate` (docs/testing.md, "Mutation run") change how its processes load code,
 * not what a mutant's result is; these tests hold them to that. Each runs in a plain Node process,
 * as Stryker's workers do: jest's module registry would hide what Node loads.
 * - tests/mutation/lazy/: an SDK client package loads on first use only, and is then the real one.
 * - tests/mutation/checker-typescript.mjs: the checker's compiler host hands back a source file it
 *   parsed before only while the file's text is unchanged, so a mutant's type error still shows.
 * - tests/mutation/checker-hooks.mjs: only the checker's own `import 'typescript'` is redirected.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

function runNode(args: string[], source: string): unknown {
  const result = spawnSync(process.execPath, [...args, '-e', source], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  if (result.status !== 0) throw new Error(`node exited ${result.status}: ${result.stderr}`);
  return JSON.parse(result.stdout.trim().split('\n').pop()!);
}

test('an SDK client of the mutation run loads when an export is first read, and is the real package', () => {
  const seen = runNode(
    [],
    `
    const loaded = () => Object.keys(require.cache).some((f) => f.includes('/@aws-sdk/client-ec2/'));
    const lazy = require('./tests/mutation/lazy/client-ec2.js');
    const before = loaded();
    const client = lazy.EC2Client;
    const real = require('@aws-sdk/client-ec2');
    console.log(JSON.stringify({ before, after: loaded(), same: client === real.EC2Client, has: 'DescribeSubnetsCommand' in lazy, keys: Object.keys(lazy).length === Object.keys(real).length }));
    `,
  );
  expect(seen).toEqual({ before: false, after: true, same: true, has: true, keys: true });
});

test("the checker's TypeScript keeps a parsed file while its text is the same, and sees a mutant's type error", () => {
  const seen = runNode(
    ['--input-type=module'],
    `
    import ts from './tests/mutation/checker-typescript.mjs';
    import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
    import { tmpdir } from 'node:os';
    import { join } from 'node:path';
    const dir = mkdtempSync(join(tmpdir(), 'checker-'));
    const a = join(dir, 'a.ts');
    writeFileSync(a, 'export const n: number = 1;');
    writeFileSync(join(dir, 'b.ts'), 'import { n } from "./a";\\nexport const m: number = n + 1;');
    const options = { noEmit: true, strict: true, types: [], lib: ['lib.es2022.d.ts'], module: ts.ModuleKind.CommonJS };
    const host = ts.createIncrementalCompilerHost(options); // versioned source files, as the solution builder's host
    const files = { keys: () => [a, join(dir, 'b.ts')] };
    const build = (old) => ts.createEmitAndSemanticDiagnosticsBuilderProgram(files.keys(), options, host, old);
    const errors = (p) => p.getSemanticDiagnostics().map((d) => ts.flattenDiagnosticMessageText(d.messageText, ' '));
    const first = build();
    const a1 = first.getProgram().getSourceFile(a);
    const lib1 = first.getProgram().getSourceFile(first.getProgram().getSourceFiles().find((f) => f.fileName.includes('lib.es2022')).fileName);
    writeFileSync(a, 'export const n: string = "x";');
    const mutated = build(first);
    const a2 = mutated.getProgram().getSourceFile(a);
    const lib2 = mutated.getProgram().getSourceFile(lib1.fileName);
    writeFileSync(a, 'export const n: number = 1;');
    const reset = build(mutated);
    rmSync(dir, { recursive: true });
    console.log(JSON.stringify({
      clean: errors(first),
      mutant: errors(mutated),
      afterReset: errors(reset),
      libKept: lib1 === lib2,
      mutatedParsedAnew: a1 !== a2,
      resetIsOriginal: reset.getProgram().getSourceFile(a) === a1,
    }));
    `,
  ) as Record<string, unknown>;
  expect(seen).toEqual({
    clean: [],
    mutant: [expect.stringContaining("Type 'string' is not assignable to type 'number'")],
    afterReset: [],
    libKept: true,
    mutatedParsedAnew: true,
    resetIsOriginal: true,
  });
});

test("the checker's hook redirects the TypeScript checker's import of typescript, and nothing else", () => {
  const seen = runNode(
    ['--input-type=module'],
    `
    import { resolve } from './tests/mutation/checker-hooks.mjs';
    const next = (specifier) => ({ url: 'next:' + specifier });
    const checker = 'file:///x/node_modules/@stryker-mutator/typescript-checker/dist/src/typescript-compiler.js';
    console.log(JSON.stringify([
      (await resolve('typescript', { parentURL: checker }, next)).url.endsWith('/tests/mutation/checker-typescript.mjs'),
      (await resolve('typescript', { parentURL: 'file:///x/node_modules/ts-jest/dist/index.js' }, next)).url,
      (await resolve('path', { parentURL: checker }, next)).url,
    ]));
    `,
  );
  expect(seen).toEqual([true, 'next:typescript', 'next:path']);
});
