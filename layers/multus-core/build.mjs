// Builds the multus-core layer into $ARTIFACTS_DIR/nodejs/node_modules/multus-core/, the place
// Lambda's Node.js runtime resolves layer packages from (/opt/nodejs/node_modules). The AWS SDK
// clients and Powertools are bundled in, so functions carry no copy of them.
import { build } from 'esbuild';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const artifacts = process.argv[2] || process.env.ARTIFACTS_DIR;
if (!artifacts) {
  console.error('usage: node build.mjs <ARTIFACTS_DIR>');
  process.exit(2);
}
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
const pkg = JSON.parse(readFileSync(join(here, 'package.json'), 'utf8'));
writeFileSync(
  join(out, 'package.json'),
  JSON.stringify({ name: pkg.name, version: pkg.version, main: 'index.js', license: pkg.license }, null, 2) + '\n',
);
