/**
 * Builds the deployable artifacts the way `sam build` does for this template, without the SAM CLI,
 * step by step as aws-lambda-builders runs its workflows (read from its source:
 * `aws_lambda_builders/workflows/nodejs_npm_esbuild/`, `custom_make/`, and SAM CLI's
 * `samcli/lib/build/app_builder.py` for the options it hands them). The default strategy is
 * reproduced: in process, not in a container, not in source, no dependencies folder.
 *
 * esbuild functions (NodejsNpmEsbuildBuilder):
 *  1. a scratch folder; `npm root` there gives the first place esbuild is looked for
 *     (`<npm root>/.bin`), then every folder of PATH, in order, and nowhere else;
 *  2. CodeUri copied into it without `.aws-sam`, `.git` and `node_modules` (at any depth);
 *  3. with a `package.json` in CodeUri: `npm ci` in the scratch folder when BuildProperties say
 *     `UseNpmCi: true` and CodeUri holds a lockfile, otherwise
 *     `npm install -q --no-audit --no-save --unsafe-perm --omit=dev`;
 *  4. esbuild's command line from the BuildProperties: keys PascalCase to snake_case (SAM CLI),
 *     then snake to kebab; `--bundle --platform=node --outdir=<artifacts>` always, `--target=es2020`,
 *     `--format=cjs` and `--minify` unless the key is given; `bundle`, `platform` and `outdir` of
 *     the template ignored; booleans `--key` when true, strings `--key=value`, lists `--key:item`;
 *     the entry points relative to the scratch folder, which is the working directory.
 * Makefile layers (CustomMakeBuilder): CodeUri copied into a scratch folder without `.aws-sam`
 * and `.git`, then `make --makefile <CodeUri>/Makefile build-<LogicalId>` with the working
 * directory the scratch folder and ARTIFACTS_DIR in the environment (layer subfolder: none).
 *
 * Used by `npm run build`, the artifact tests and the cold-start benchmark. The caller's `env`
 * stands for the shell `sam build` runs in: its PATH is the only PATH looked at.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, delimiter, dirname, extname, join, resolve } from 'node:path';
import { loadTemplate, type Dict } from './template';

export const ROOT = resolve(__dirname, '..', '..');

/** What aws-lambda-builders says when esbuild is in neither place it looks (esbuild.py). */
export const ESBUILD_NOT_FOUND =
  'Cannot find esbuild. esbuild must be installed on the host machine to use this feature. ' +
  'It is recommended to be installed on the PATH, but can also be included as a project dependency.';

export interface BuiltFunction {
  readonly logicalId: string;
  /** Folder holding the bundle (what Lambda gets as /var/task). */
  readonly dir: string;
  /** `file.export` from the template. */
  readonly handler: string;
  readonly layers: string[];
  /** The esbuild binary the workflow found, and the command line it ran. */
  readonly esbuild: string;
  readonly esbuildArgs: string[];
}

export interface BuildOutput {
  readonly outDir: string;
  /** Layer logical id to the artifacts folder (what Lambda mounts at /opt). */
  readonly layers: Record<string, string>;
  readonly functions: Record<string, BuiltFunction>;
  /** Wall time of each resource's build, ms. */
  readonly timings: Record<string, number>;
}

export interface BuildOptionsLikeSam {
  readonly templatePath?: string;
  /** The environment `sam build` runs in (PATH for every look-up); defaults to this process's, without npm's run-script variables. */
  readonly env?: NodeJS.ProcessEnv;
  /** Progress lines (each command run). */
  readonly log?: (line: string) => void;
}

export class SamBuildError extends Error {
  override readonly name = 'SamBuildError';
}

/**
 * The shell a user runs `sam build` in: this process's environment without the variables npm
 * sets for a script (`npm_config_local_prefix` would make the scratch `npm ci` install into this
 * repository) and, when `withoutNodeModulesBin`, without any `node_modules/.bin` on PATH.
 */
export function userShellEnv(base: NodeJS.ProcessEnv = process.env, withoutNodeModulesBin = false): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(base)) if (!/^npm_/i.test(key)) env[key] = value;
  if (withoutNodeModulesBin) {
    env.PATH = (base.PATH ?? '')
      .split(delimiter)
      .filter((dir) => dir !== '' && !/node_modules[\\/]\.bin[\\/]?$/.test(dir))
      .join(delimiter);
  }
  return env;
}

/** aws-lambda-builders' `which`: the search paths first, then PATH; executable regular files only. */
export function which(command: string, searchPaths: readonly string[], env: NodeJS.ProcessEnv): string | undefined {
  const dirs = [...searchPaths, ...(env.PATH ?? '').split(delimiter)].filter((d) => d !== '');
  for (const dir of dirs) {
    const candidate = join(dir, command);
    try {
      if (statSync(candidate).isDirectory()) continue;
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** SAM CLI's ResourceMetadataNormalizer.normalize_build_properties: `MainFields` -> `main_fields`. */
export function normalizeBuildProperties(props: Dict): Dict {
  const out: Dict = {};
  for (const [key, value] of Object.entries(props)) out[key.replace(/(?<!^)(?=[A-Z])/g, '_').toLowerCase()] = value;
  return out;
}

const NON_CONFIGURABLE = new Set(['bundle', 'platform', 'outdir']);
const IGNORED = new Set(['use_npm_ci', 'entry_points']);

/**
 * esbuild's arguments as EsbuildCommandBuilder makes them: entry points, defaults, then one flag
 * per remaining property. `entryExists` tells which entry files exist (an entry without an
 * extension gets `.ts`, then `.js`, as `_get_explicit_file_type` does).
 */
export function esbuildArgs(options: Dict, artifactsDir: string, entryExists: (relative: string) => boolean): string[] {
  const entries = options.entry_points;
  if (!Array.isArray(entries) || entries.length === 0) throw new SamBuildError(`entry_points must be a non-empty list (${JSON.stringify(options)})`);
  const args: string[] = [];
  for (const entry of entries.map(String)) {
    if (extname(entry)) {
      if (!entryExists(entry)) throw new SamBuildError(`entry point ${entry} does not exist`);
      args.push(entry);
      continue;
    }
    const withExt = ['.ts', '.js'].map((ext) => entry + ext).find(entryExists);
    if (!withExt) throw new SamBuildError(`entry point ${entry} does not exist`);
    args.push(withExt);
  }
  args.push('--bundle', '--platform=node', `--outdir=${artifactsDir}`);
  if (!('target' in options)) args.push('--target=es2020');
  if (!('format' in options)) args.push('--format=cjs');
  if (!('minify' in options)) args.push('--minify');
  for (const [key, value] of Object.entries(options)) {
    if (NON_CONFIGURABLE.has(key) || IGNORED.has(key)) continue;
    const flag = `--${key.replace(/_/g, '-')}`;
    if (typeof value === 'boolean') {
      if (value) args.push(flag);
    } else if (typeof value === 'string') {
      args.push(`${flag}=${value}`);
    } else if (Array.isArray(value)) {
      for (const item of value) args.push(`${flag}:${String(item)}`);
    } else {
      throw new SamBuildError(`Failed to determine the type of the configuration: ${key}=${JSON.stringify(value)}`);
    }
  }
  return args;
}

/** CopySourceAction: shutil.copytree with ignore_patterns(excludes), applied at every level; links followed. */
function copySource(source: string, dest: string, excludes: readonly string[]): void {
  if (!existsSync(source)) return;
  cpSync(source, dest, { recursive: true, dereference: true, filter: (src) => src === source || !excludes.includes(basename(src)) });
}

function asString(value: unknown, what: string): string {
  if (typeof value !== 'string') throw new SamBuildError(`${what} must be a plain string in template.yaml`);
  return value;
}

interface Runner {
  (command: string, args: string[], cwd: string, extraEnv?: NodeJS.ProcessEnv): string;
}

function runner(env: NodeJS.ProcessEnv, log: (line: string) => void): Runner {
  return (command, args, cwd, extraEnv = {}) => {
    log(`$ (cd ${cwd} && ${command} ${args.join(' ')})`);
    const child = spawnSync(command, args, { cwd, env: { ...env, ...extraEnv }, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    if (child.error) throw new SamBuildError(`${command} could not be started: ${child.error.message}`);
    if (child.status !== 0) {
      throw new SamBuildError(`${command} ${args.join(' ')} failed (exit ${child.status}) in ${cwd}:\n${child.stdout}\n${child.stderr}`.trim());
    }
    return child.stdout.trim();
  };
}

function buildMakefileLayer(logicalId: string, codeDir: string, artifacts: string, run: Runner, env: NodeJS.ProcessEnv): void {
  const scratch = mkdtempSync(join(tmpdir(), 'sam-scratch-'));
  try {
    copySource(codeDir, scratch, ['.aws-sam', '.git']);
    mkdirSync(artifacts, { recursive: true });
    const make = which('make', [], env);
    if (!make) throw new SamBuildError('make not found on PATH (the makefile build method needs it)');
    run(make, ['--makefile', join(codeDir, 'Makefile'), `build-${logicalId}`], scratch, { ARTIFACTS_DIR: artifacts });
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

function buildEsbuildFunction(codeDir: string, handler: string, metadata: Dict, artifacts: string, run: Runner, env: NodeJS.ProcessEnv) {
  const options = normalizeBuildProperties((metadata.BuildProperties ?? {}) as Dict);
  if (!metadata.BuildProperties || !(metadata.BuildProperties as Dict).EntryPoints) options.entry_points = [handler.split('.')[0]];
  const scratch = mkdtempSync(join(tmpdir(), 'sam-scratch-'));
  try {
    const npm = which('npm', [], env);
    if (!npm) throw new SamBuildError('The esbuild workflow couldn\'t find npm installed on your system.');
    // The workflow asks npm where the scratch folder's packages go before anything is copied there.
    const npmBin = join(run(npm, ['root'], scratch), '.bin');
    const manifest = join(codeDir, 'package.json');
    let workDir = scratch;
    if (existsSync(manifest)) {
      copySource(codeDir, scratch, ['.aws-sam', '.git', 'node_modules']);
      const lockfile = existsSync(join(codeDir, 'package-lock.json')) || existsSync(join(codeDir, 'npm-shrinkwrap.json'));
      if (lockfile && options.use_npm_ci === true) run(npm, ['ci'], scratch);
      else run(npm, ['install', '-q', '--no-audit', '--no-save', '--unsafe-perm', '--omit=dev'], scratch);
    } else {
      // "package.json file not found. Bundling source without installing dependencies."
      workDir = codeDir;
    }
    const external = Array.isArray(options.external) ? options.external.map(String) : [];
    if (external.includes('./node_modules/*')) {
      throw new SamBuildError('External "./node_modules/*" (every dependency external) is not reproduced here');
    }
    mkdirSync(artifacts, { recursive: true });
    const args = esbuildArgs(options, artifacts, (relative) => existsSync(join(workDir, relative)));
    const esbuild = which('esbuild', [npmBin], env);
    if (!esbuild) throw new SamBuildError(ESBUILD_NOT_FOUND);
    run(esbuild, args, workDir);
    return { esbuild, esbuildArgs: args };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

export async function buildLikeSam(outDir: string, opts: BuildOptionsLikeSam = {}): Promise<BuildOutput> {
  const templatePath = opts.templatePath ?? join(ROOT, 'template.yaml');
  // CodeUri and ContentUri are relative to the template's folder.
  const base = dirname(templatePath);
  const env = opts.env ?? userShellEnv();
  const run = runner(env, opts.log ?? (() => {}));
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const template = loadTemplate(templatePath);
  const layers: Record<string, string> = {};
  const functions: Record<string, BuiltFunction> = {};
  const timings: Record<string, number> = {};
  // SAM builds the layers first, then the functions (in parallel with `parallel = true`; in turn here).
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== 'AWS::Serverless::LayerVersion' || resource.Metadata?.BuildMethod !== 'makefile') continue;
    const started = Date.now();
    const codeDir = resolve(base, asString(resource.Properties?.ContentUri, `${logicalId}.ContentUri`));
    const artifacts = join(outDir, logicalId);
    buildMakefileLayer(logicalId, codeDir, artifacts, run, env);
    layers[logicalId] = artifacts;
    timings[logicalId] = Date.now() - started;
  }
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    const props = resource.Properties ?? {};
    const metadata = resource.Metadata ?? {};
    if (resource.Type !== 'AWS::Serverless::Function' || metadata.BuildMethod !== 'esbuild') continue;
    const started = Date.now();
    const codeDir = resolve(base, asString(props.CodeUri, `${logicalId}.CodeUri`));
    const dir = join(outDir, logicalId);
    const handler = asString(props.Handler, `${logicalId}.Handler`);
    const { esbuild, esbuildArgs: args } = buildEsbuildFunction(codeDir, handler, metadata, dir, run, env);
    if (!existsSync(join(dir, `${handler.split('.')[0]}.js`))) {
      throw new SamBuildError(`${logicalId}: Handler ${handler} names no built file (${dir} holds no ${handler.split('.')[0]}.js)`);
    }
    const layerRefs = (Array.isArray(props.Layers) ? props.Layers : []) as { Ref?: string }[];
    functions[logicalId] = { logicalId, dir, handler, layers: layerRefs.map((l) => l.Ref ?? '').filter((id) => id in layers), esbuild, esbuildArgs: args };
    timings[logicalId] = Date.now() - started;
  }
  return { outDir, layers, functions, timings };
}

/** NODE_PATH as Lambda sets it for layers: /opt/nodejs/node_modules of each layer. */
export function layerNodePath(output: BuildOutput, fn: BuiltFunction): string {
  return fn.layers.map((id) => join(output.layers[id], 'nodejs', 'node_modules')).join(':');
}
