/**
 * Benchmark 5: cold start. Builds the deployable artifacts the way `sam build` does (the layer with
 * its Makefile, each esbuild function with its Metadata.BuildProperties from template.yaml), reports
 * their sizes, and times how long a fresh `node` process takes to `require` the built handler with
 * the built layer on NODE_PATH (as Lambda resolves /opt/nodejs/node_modules), median of 10, against
 * the same code unbundled:
 *   - "unbundled": every TypeScript file transpiled one to one (no bundling), the layer package
 *     at node_modules/multus-core, the SDK and Powertools loaded from the repository's node_modules;
 *   - "tsx": the TypeScript sources loaded through tsx's require hook (transpile cache warm).
 * Variants are run round-robin so that machine noise hits them alike. Then one launch against
 * the emulator in a fresh process per variant, for the peak RSS (VmHWM of the process).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { buildLikeSam, userShellEnv } from '../lib/sam-build';
import type { Emulator } from '../../tests/support/emulator';
import { emulatorEnv } from '../../tests/support/emulator';
import { createVpc, putSettings, worldClients } from '../../tests/support/world';
import { FUNCTION_ENV, launchEvent, launchNodes } from './harness';
import { median, summarize, type Summary } from './stats';

export const REPO = resolve(__dirname, '..', '..');
const LAYER_SRC = join(REPO, 'layers', 'multus-core', 'src');
const LOAD_RUNS = 10;
const LAUNCH_RUNS = 3;

export interface ArtifactSize {
  readonly name: string;
  readonly files: number;
  readonly bytes: number;
  /** Sum of the files deflated (gzip -9): about what the deployment zip holds. */
  readonly deflatedBytes: number;
}

export interface LoadVariant {
  readonly variant: 'built' | 'unbundled' | 'tsx';
  /** Time of `require(handler)` inside the child, ms. */
  readonly load: Summary;
  /** Wall time of the whole child process (node start-up, load, exit), ms. */
  readonly process: Summary;
  /** Modules in require.cache after the load, and their bytes on disk. */
  readonly modules: number;
  readonly moduleBytes: number;
}

export interface LaunchVariant {
  readonly variant: 'built' | 'unbundled';
  /** Peak RSS of a fresh process that loads the handler and runs one launch, MiB (Lambda's "MB"). */
  readonly peakRssMiB: Summary;
  /** The first invocation in that process (clients, SSM, EC2, completion), ms. */
  readonly firstInvokeMs: Summary;
  readonly outcomes: string[];
}

export interface ColdStartResult {
  readonly artifacts: ArtifactSize[];
  /** The function bundle holds no copy of the AWS SDK (it comes from the layer). */
  readonly functionBundlesSdk: boolean;
  /** The lifecycle function's esbuild command line, as SAM derives it from BuildProperties. */
  readonly esbuildArgs: string[];
  /** Wall time of each resource's build in the SAM reproduction, ms. */
  readonly buildTimings: Record<string, number>;
  readonly loads: LoadVariant[];
  readonly launches: LaunchVariant[];
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...filesUnder(path));
    else out.push(path);
  }
  return out;
}

function artifactSize(name: string, dir: string): ArtifactSize {
  const files = filesUnder(dir);
  let bytes = 0;
  let deflatedBytes = 0;
  for (const f of files) {
    const content = readFileSync(f);
    bytes += content.length;
    deflatedBytes += gzipSync(content, { level: 9 }).length;
  }
  return { name, files: files.length, bytes, deflatedBytes };
}

function run(file: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<{ stdout: string; ms: number }> {
  const t0 = process.hrtime.bigint();
  return new Promise((resolvePromise, reject) => {
    execFile(
      file,
      args,
      { cwd: options.cwd ?? REPO, env: options.env, timeout: options.timeoutMs ?? 60_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const ms = Number(process.hrtime.bigint() - t0) / 1e6;
        if (err) reject(new Error(`${file} ${args.slice(0, 2).join(' ')} failed: ${err.message}\n${stderr.slice(-2000)}`));
        else resolvePromise({ stdout, ms });
      },
    );
  });
}

/** Runs in the child: time the require, then report what was loaded. */
const LOAD_SCRIPT = `
const t0 = process.hrtime.bigint();
const mod = require(process.env.BENCH_HANDLER);
const t1 = process.hrtime.bigint();
if (typeof mod.handler !== 'function') throw new Error('the module exports no handler');
const files = Object.keys(require.cache);
let bytes = 0;
for (const f of files) { try { bytes += require('fs').statSync(f).size; } catch {} }
process.stdout.write(JSON.stringify({ loadMs: Number(t1 - t0) / 1e6, modules: files.length, bytes }));
`;

/**
 * Runs in the child: load the handler, run one launch, report the peak RSS. VmHWM (the high-water
 * mark of this process image) rather than getrusage's maxRSS: on Linux the latter carries over
 * the RSS of the parent at fork time across exec, so a big parent would inflate it.
 */
const LAUNCH_SCRIPT = `
function peakRssKb() {
  try {
    const m = /^VmHWM:\\s+(\\d+) kB/m.exec(require('fs').readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]);
  } catch {}
  return process.resourceUsage().maxRSS;
}
(async () => {
  const mod = require(process.env.BENCH_HANDLER);
  const t0 = process.hrtime.bigint();
  const result = await mod.handler(JSON.parse(process.env.BENCH_EVENT));
  const t1 = process.hrtime.bigint();
  process.stdout.write(JSON.stringify({
    invokeMs: Number(t1 - t0) / 1e6,
    outcome: result.outcome + ':' + result.interfaces.length,
    maxRssKb: peakRssKb(),
  }));
})().catch((err) => { console.error(err); process.exit(1); });
`;

interface Variant {
  readonly name: 'built' | 'unbundled' | 'tsx';
  readonly handler: string;
  readonly nodeArgs: string[];
  readonly nodePath: string;
}

export async function runColdStart(emulator: Emulator, progress: (line: string) => void = () => {}): Promise<ColdStartResult> {
  const tmp = mkdtempSync(join(tmpdir(), 'eks-multus-eni-bench-'));
  try {
    // The layer and every function, as `sam build` makes them (scripts/lib/sam-build.ts), timed.
    const built = await buildLikeSam(join(tmp, 'sam'), { env: userShellEnv(process.env, true) });
    const layerDir = built.layers.MultusCoreLayer;
    const artifacts: ArtifactSize[] = [artifactSize('MultusCoreLayer (layer)', layerDir)];
    const lifecycle = built.functions.LifecycleFunction ?? Object.values(built.functions)[0];
    if (!lifecycle) throw new Error('template.yaml has no esbuild function');
    let functionBundlesSdk = false;
    for (const fn of Object.values(built.functions)) {
      artifacts.push(artifactSize(`${fn.logicalId} (function)`, fn.dir));
      for (const f of filesUnder(fn.dir)) {
        if (/EC2Client|@aws-sdk\/client-|SSMProvider/.test(readFileSync(f, 'utf8'))) functionBundlesSdk = true;
      }
    }
    const builtHandler = join(lifecycle.dir, `${lifecycle.handler.split('.')[0]}.js`);
    progress(`cold start: built ${artifacts.map((a) => `${a.name} ${a.bytes} B`).join(', ')}`);

    // The same code unbundled: each file transpiled on its own, packages from node_modules.
    const unbundled = join(tmp, 'unbundled');
    const layerFiles = filesUnder(LAYER_SRC).filter((f) => f.endsWith('.ts'));
    await build({
      entryPoints: layerFiles,
      outdir: join(unbundled, 'node_modules', 'multus-core'),
      outbase: LAYER_SRC,
      bundle: false,
      format: 'cjs',
      platform: 'node',
      target: 'es2022',
      logLevel: 'warning',
    });
    writeFileSync(join(unbundled, 'node_modules', 'multus-core', 'package.json'), JSON.stringify({ name: 'multus-core', main: 'index.js' }));
    const entry = join(REPO, 'functions', lifecycle.esbuildArgs[0]);
    await build({ entryPoints: [entry], outdir: join(unbundled, 'function'), bundle: false, format: 'cjs', platform: 'node', target: 'es2022', logLevel: 'warning' });
    const unbundledHandler = join(unbundled, 'function', 'handler.js');

    const variants: Variant[] = [
      { name: 'built', handler: builtHandler, nodeArgs: [], nodePath: join(layerDir, 'nodejs', 'node_modules') },
      {
        name: 'unbundled',
        handler: unbundledHandler,
        nodeArgs: [],
        nodePath: [join(unbundled, 'node_modules'), join(REPO, 'node_modules')].join(':'),
      },
      {
        name: 'tsx',
        handler: entry,
        nodeArgs: ['--require', require.resolve('tsx/cjs', { paths: [REPO] })],
        nodePath: '',
      },
    ];
    const baseEnv: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      ...emulatorEnv(emulator.endpoint),
      ...FUNCTION_ENV,
    };
    const envFor = (v: Variant, extra: Record<string, string> = {}) => ({
      ...baseEnv,
      NODE_PATH: v.nodePath,
      BENCH_HANDLER: v.handler,
      NODE_NO_WARNINGS: '1',
      ...extra,
    });

    // Load time: one warm-up per variant (disk cache, tsx's transpile cache), then 10 round-robin.
    const samples = new Map(variants.map((v) => [v.name, { load: [] as number[], process: [] as number[], modules: 0, bytes: 0 }]));
    for (let round = 0; round <= LOAD_RUNS; round++) {
      for (const v of variants) {
        const { stdout, ms } = await run(process.execPath, [...v.nodeArgs, '-e', LOAD_SCRIPT], { env: envFor(v) });
        const out = JSON.parse(stdout) as { loadMs: number; modules: number; bytes: number };
        if (round === 0) continue;
        const s = samples.get(v.name)!;
        s.load.push(out.loadMs);
        s.process.push(ms);
        s.modules = out.modules;
        s.bytes = out.bytes;
      }
    }
    const loads: LoadVariant[] = variants.map((v) => {
      const s = samples.get(v.name)!;
      return { variant: v.name, load: summarize(s.load), process: summarize(s.process), modules: s.modules, moduleBytes: s.bytes };
    });
    progress(`cold start: load ${loads.map((l) => `${l.variant} ${median(samples.get(l.variant)!.load).toFixed(0)} ms`).join(', ')}`);

    // One launch in a fresh process: peak RSS.
    const world = worldClients();
    await emulator.reset();
    const layout = await createVpc(world, ['us-east-1a'], 2);
    await putSettings(world, layout, { 'use-ips-from-start-of-subnet': 'true', 'security-groups': layout.securityGroupId });
    const launchVariants = variants.filter((v): v is Variant & { name: 'built' | 'unbundled' } => v.name !== 'tsx');
    const nodes = await launchNodes(world, layout.azs[0].nodeSubnet, LAUNCH_RUNS * launchVariants.length, 'm5.xlarge');
    const rss = new Map(launchVariants.map((v) => [v.name, { rss: [] as number[], invoke: [] as number[], outcomes: [] as string[] }]));
    let n = 0;
    for (let round = 0; round < LAUNCH_RUNS; round++) {
      for (const v of launchVariants) {
        const event = JSON.stringify(launchEvent(nodes[n++]));
        const { stdout } = await run(process.execPath, ['-e', LAUNCH_SCRIPT], { env: envFor(v, { BENCH_EVENT: event }) });
        // The handler's metrics (EMF, one document per line) come first on stdout, as in Lambda; the result is the last line.
        const out = JSON.parse(stdout.trim().split('\n').pop() ?? '') as { invokeMs: number; outcome: string; maxRssKb: number };
        const s = rss.get(v.name)!;
        s.rss.push(out.maxRssKb / 1024);
        s.invoke.push(out.invokeMs);
        s.outcomes.push(out.outcome);
      }
    }
    const launches: LaunchVariant[] = launchVariants.map((v) => {
      const s = rss.get(v.name)!;
      return { variant: v.name, peakRssMiB: summarize(s.rss), firstInvokeMs: summarize(s.invoke), outcomes: s.outcomes };
    });
    progress(`cold start: peak RSS ${launches.map((l) => `${l.variant} ${l.peakRssMiB.max.toFixed(0)} MiB`).join(', ')}`);
    return { artifacts, functionBundlesSdk, esbuildArgs: lifecycle.esbuildArgs, buildTimings: built.timings, loads, launches };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

