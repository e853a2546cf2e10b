/**
 * The parts of the SAM build reproduction that are pure (scripts/lib/sam-build.ts), checked
 * against what aws-lambda-builders' EsbuildCommandBuilder and SAM CLI's normalizer do, and the
 * version bookkeeping that keeps SAM's cached layer build honest.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { esbuildArgs, normalizeBuildProperties, ROOT, userShellEnv, which } from '../../scripts/lib/sam-build';

const json = (path: string) => JSON.parse(readFileSync(join(ROOT, path), 'utf8'));

test('BuildProperties keys go from PascalCase to snake_case as SAM CLI normalises them', () => {
  expect(Object.keys(normalizeBuildProperties({ MainFields: 'a', EntryPoints: [], UseNpmCi: true, Minify: true, Target: 'es2022' }))).toEqual([
    'main_fields',
    'entry_points',
    'use_npm_ci',
    'minify',
    'target',
  ]);
});

describe('esbuild command line', () => {
  const exists = (files: string[]) => (f: string) => files.includes(f);

  test('defaults: target es2020, format cjs, minify, when the template does not name them', () => {
    expect(esbuildArgs({ entry_points: ['app.ts'] }, '/out', exists(['app.ts']))).toEqual([
      'app.ts',
      '--bundle',
      '--platform=node',
      '--outdir=/out',
      '--target=es2020',
      '--format=cjs',
      '--minify',
    ]);
  });

  test('booleans are flags when true and nothing when false; lists repeat the flag with a colon; platform, bundle, outdir and use_npm_ci are not passed', () => {
    const args = esbuildArgs(
      { entry_points: ['a.ts'], minify: false, sourcemap: false, target: 'es2022', format: 'esm', external: ['x', 'y'], platform: 'browser', outdir: '/x', use_npm_ci: true, keep_names: true },
      '/out',
      exists(['a.ts']),
    );
    expect(args).toEqual(['a.ts', '--bundle', '--platform=node', '--outdir=/out', '--target=es2022', '--format=esm', '--external:x', '--external:y', '--keep-names']);
  });

  test('an entry without an extension takes .ts, then .js; a missing entry and a value of another type are errors', () => {
    expect(esbuildArgs({ entry_points: ['h'] }, '/o', exists(['h.js']))[0]).toBe('h.js');
    expect(esbuildArgs({ entry_points: ['h'] }, '/o', exists(['h.ts', 'h.js']))[0]).toBe('h.ts');
    expect(() => esbuildArgs({ entry_points: ['gone.ts'] }, '/o', exists([]))).toThrow('entry point gone.ts does not exist');
    expect(() => esbuildArgs({ entry_points: ['a.ts'], target: 2022 }, '/o', exists(['a.ts']))).toThrow('Failed to determine the type');
  });
});

test('the build shell drops npm run-script variables and, on request, every node_modules/.bin of PATH', () => {
  const env = userShellEnv({ PATH: '/repo/node_modules/.bin:/usr/bin:/x/node_modules/.bin/', npm_config_local_prefix: '/repo', HOME: '/root' }, true);
  expect(env).toEqual({ PATH: '/usr/bin', HOME: '/root' });
  expect(which('sh', [], { PATH: '/nowhere:/bin:/usr/bin' })).toMatch(/\/sh$/);
  expect(which('sh', [], { PATH: '/nowhere' })).toBeUndefined();
});

test('the layer names the exact versions it bundles, those of the root lockfile (SAM caches the layer on its own folder)', () => {
  const layer = json('layers/multus-core/package.json');
  const lock = json('package-lock.json');
  const wanted = { ...layer.dependencies, ...layer.devDependencies } as Record<string, string>;
  for (const [name, version] of Object.entries(wanted)) expect(`${name}@${lock.packages[`node_modules/${name}`]?.version}`).toBe(`${name}@${version}`);
  // Everything the layer's sources import from a package is in that list (and a dependency of the root).
  const root = json('package.json');
  const sources = (readdirSync(join(ROOT, 'layers/multus-core/src'), { recursive: true }) as string[]).filter((f) => f.endsWith('.ts'));
  const imported = new Set(
    sources.flatMap((f) =>
      [...readFileSync(join(ROOT, 'layers/multus-core/src', f), 'utf8').matchAll(/^import (?!type )[^;]*? from '([^.'][^']*)';$/gm)]
        .map((m) => m[1])
        .filter((spec) => !spec.startsWith('node:'))
        .map((spec) => spec.split('/').slice(0, spec.startsWith('@') ? 2 : 1).join('/')),
    ),
  );
  expect([...imported]).toEqual(expect.arrayContaining(['@aws-sdk/client-ec2', '@aws-lambda-powertools/logger', '@aws-lambda-powertools/metrics']));
  for (const name of imported) {
    expect({ name, layer: layer.dependencies[name] }).toEqual({ name, layer: expect.any(String) });
    expect({ name, root: root.dependencies[name] }).toEqual({ name, root: expect.any(String) });
  }
});

test('functions/ pins the esbuild the repository builds with, and its lockfile agrees', () => {
  const fns = json('functions/package.json');
  const lock = json('functions/package-lock.json');
  const rootLock = json('package-lock.json');
  expect(fns.dependencies).toEqual({ esbuild: rootLock.packages['node_modules/esbuild'].version });
  expect(lock.packages[''].dependencies).toEqual(fns.dependencies);
  expect(lock.packages['node_modules/esbuild'].version).toBe(fns.dependencies.esbuild);
});
