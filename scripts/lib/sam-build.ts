/**
 * Builds the deployable artifacts exactly as `sam build` does for this template, without the SAM
 * CLI: every layer with `BuildMethod: makefile` through its `build-<LogicalId>` make target into
 * a fresh ARTIFACTS_DIR, and every function with `BuildMethod: esbuild` with the template's own
 * BuildProperties. Used by `npm run build`, the artifact tests and the cold-start benchmark.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { build, type BuildOptions } from 'esbuild';
import { loadTemplate, type Dict } from './template';

export const ROOT = resolve(__dirname, '..', '..');

export interface BuiltFunction {
  readonly logicalId: string;
  /** Folder holding the bundle (what Lambda gets as /var/task). */
  readonly dir: string;
  /** `file.export` from the template. */
  readonly handler: string;
  readonly layers: string[];
}

export interface BuildOutput {
  readonly outDir: string;
  /** Layer logical id to the artifacts folder (what Lambda mounts at /opt). */
  readonly layers: Record<string, string>;
  readonly functions: Record<string, BuiltFunction>;
}

function asString(value: unknown, what: string): string {
  if (typeof value !== 'string') throw new Error(`${what} must be a plain string in template.yaml`);
  return value;
}

/** Maps SAM's esbuild BuildProperties to esbuild options (the subset this template uses). */
export function esbuildOptions(codeUri: string, props: Dict, outdir: string): BuildOptions {
  const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : typeof v === 'string' ? v.split(',').map((s) => s.trim()) : []);
  return {
    absWorkingDir: codeUri,
    entryPoints: list(props.EntryPoints).map((e) => join(codeUri, e)),
    external: list(props.External),
    minify: props.Minify === true || props.Minify === 'true',
    target: props.Target ? String(props.Target) : 'es2020',
    format: (props.Format ? String(props.Format) : 'cjs') as BuildOptions['format'],
    platform: (props.Platform ? String(props.Platform) : 'node') as BuildOptions['platform'],
    sourcemap: props.Sourcemap === true || props.Sourcemap === 'true',
    mainFields: props.MainFields ? list(props.MainFields) : undefined,
    bundle: true,
    outdir,
    logLevel: 'warning',
  };
}

export async function buildLikeSam(outDir: string, templatePath = join(ROOT, 'template.yaml')): Promise<BuildOutput> {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const template = loadTemplate(templatePath);
  const layers: Record<string, string> = {};
  const functions: Record<string, BuiltFunction> = {};
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    const props = resource.Properties ?? {};
    const metadata = resource.Metadata ?? {};
    if (resource.Type === 'AWS::Serverless::LayerVersion' && metadata.BuildMethod === 'makefile') {
      const contentUri = resolve(ROOT, asString(props.ContentUri, `${logicalId}.ContentUri`));
      const artifacts = join(outDir, logicalId);
      mkdirSync(artifacts, { recursive: true });
      const make = spawnSync('make', ['-f', join(contentUri, 'Makefile'), `build-${logicalId}`, `ARTIFACTS_DIR=${artifacts}`], {
        cwd: contentUri,
        encoding: 'utf8',
      });
      if (make.status !== 0) throw new Error(`make build-${logicalId} failed:\n${make.stdout}\n${make.stderr}`);
      layers[logicalId] = artifacts;
    }
  }
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    const props = resource.Properties ?? {};
    const metadata = resource.Metadata ?? {};
    if (resource.Type !== 'AWS::Serverless::Function' || metadata.BuildMethod !== 'esbuild') continue;
    const codeUri = resolve(ROOT, asString(props.CodeUri, `${logicalId}.CodeUri`));
    const dir = join(outDir, logicalId);
    const options = esbuildOptions(codeUri, (metadata.BuildProperties ?? {}) as Dict, dir);
    await build(options);
    const handler = asString(props.Handler, `${logicalId}.Handler`);
    const entries = (options.entryPoints as string[]).map((e) => basename(e, extname(e)));
    if (!entries.includes(handler.split('.')[0])) {
      throw new Error(`${logicalId}: Handler ${handler} names no built entry point (${entries.join(', ')})`);
    }
    const layerRefs = (Array.isArray(props.Layers) ? props.Layers : []) as { Ref?: string }[];
    functions[logicalId] = { logicalId, dir, handler, layers: layerRefs.map((l) => l.Ref ?? '').filter((id) => id in layers) };
  }
  return { outDir, layers, functions };
}

/** NODE_PATH as Lambda sets it for layers: /opt/nodejs/node_modules of each layer. */
export function layerNodePath(output: BuildOutput, fn: BuiltFunction): string {
  return fn.layers.map((id) => join(output.layers[id], 'nodejs', 'node_modules')).join(':');
}
