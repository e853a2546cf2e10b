// `npm run build`: the deployable artifacts as `sam build` makes them (scratch copies, npm ci,
// esbuild from the scratch node_modules or PATH, the layer's make target), into build/ (or argv[2]).
import { join, resolve } from 'node:path';
import { statSync } from 'node:fs';
import { buildLikeSam, ROOT, userShellEnv } from './lib/sam-build';

async function main() {
  const out = resolve(process.argv[2] ?? join(ROOT, 'build'));
  const result = await buildLikeSam(out, { env: userShellEnv(process.env, true), log: (line) => console.log(line) });
  for (const [id, dir] of Object.entries(result.layers)) {
    const size = statSync(join(dir, 'nodejs', 'node_modules', 'multus-core', 'index.js')).size;
    console.log(`layer    ${id}: ${dir} (${(size / 1024).toFixed(0)} KiB)`);
  }
  for (const fn of Object.values(result.functions)) {
    const size = statSync(join(fn.dir, `${fn.handler.split('.')[0]}.js`)).size;
    console.log(`function ${fn.logicalId}: ${fn.dir} handler ${fn.handler} (${(size / 1024).toFixed(1)} KiB), layers ${fn.layers.join(', ')}`);
  }
  console.log(`build times (ms): ${Object.entries(result.timings).map(([id, ms]) => `${id} ${ms}`).join(', ')}`);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
