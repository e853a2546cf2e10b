// Builds the multus-core layer into $ARTIFACTS_DIR/nodejs/node_modules/multus-core/, the place
// Lambda's Node.js runtime resolves layer packages from (/opt/nodejs/node_modules). The AWS SDK
// clients and Powertools are bundled in, so functions carry no copy of them.
//
// esbuild and the bundled packages are resolved from this folder upwards, that is from the
// repository's node_modules (`npm ci` at the root), never from PATH. Their installed versions must
// be the ones this folder's package.json names: SAM's cached build hashes only this folder, so a
// dependency update must change it (a unit test keeps the two in step with the root lockfile).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const artifacts = process.argv[2] || process.env.ARTIFACTS_DIR;
if (!artifacts) {
  console.error('usage: node build.mjs <ARTIFACTS_DIR> (or ARTIFACTS_DIR in the environment, as sam build sets it)');
  process.exit(2);
}
const pkg = JSON.parse(readFileSync(join(here, 'package.json'), 'utf8'));

/** The installed package.json of `name`, found as Node finds packages: node_modules from here upwards. */
function installedVersion(name) {
  for (let dir = here; ; dir = dirname(dir)) {
    const manifest = join(dir, 'node_modules', name, 'package.json');
    if (existsSync(manifest)) return JSON.parse(readFileSync(manifest, 'utf8')).version;
    if (dirname(dir) === dir) return undefined;
  }
}
const wanted = { ...pkg.dependencies, ...pkg.devDependencies };
const problems = Object.entries(wanted)
  .map(([name, version]) => [name, version, installedVersion(name)])
  .filter(([, version, installed]) => installed !== version)
  .map(([name, version, installed]) => (installed ? `${name} ${installed} is installed, layers/multus-core/package.json names ${version}` : `${name} is not installed`));
if (problems.length > 0) {
  console.error(`multus-core layer: ${problems.join('; ')}. Run \`npm ci\` at the repository root (after a dependency update, also update layers/multus-core/package.json).`);
  process.exit(1);
}

const { build } = createRequire(join(here, 'package.json'))('esbuild');
const out = resolve(artifacts, 'nodejs', 'node_modules', 'multus-core');
mkdirSync(out, { recursive: true });
// Two entries: `multus-core` (everything the lifecycle and sweeper functions use) and
// `multus-core/hooks` (the hook installer, with the EKS client only it needs). Each is one
// self-contained bundle, so a function loads only its own.
await build({
  entryPoints: { index: join(here, 'src', 'index.ts'), hooks: join(here, 'src', 'hooks', 'index.ts') },
  outdir: out,
  bundle: true,
  platform: 'node',
  target: 'es2022',
  format: 'cjs',
  minify: true,
  sourcemap: false,
  // The SDK's ES module builds tree-shake the commands we do not use.
  mainFields: ['module', 'main'],
  legalComments: 'none',
  logLevel: 'warning',
});
writeFileSync(
  join(out, 'package.json'),
  JSON.stringify({ name: pkg.name, version: pkg.version, main: 'index.js', license: pkg.license, bundled: pkg.dependencies }, null, 2) + '\n',
);
