/**
 * The two builds the scaling benchmarks run side by side in one run, both as `sam build` builds
 * them (scripts/lib/sam-build.ts) into a temporary folder:
 *   - "main": today's algorithm, the main branch at BASELINE_COMMIT (taken from git with
 *     `git archive`: template, functions, layer; the repository's node_modules lent to it, the same
 *     package versions). Its allocation path (ec2/, eni/, ipv4/) is unchanged on main since;
 *   - "now": this working tree.
 * And a child process of each (launch-child.cjs): a fresh Node process, as a new Lambda container.
 */
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { buildLikeSam, layerNodePath, userShellEnv } from '../lib/sam-build';
import { REPO } from './cold-start';

/** The main branch when this benchmark was written (issue 10): the in-run baseline. */
export const BASELINE_COMMIT = '4a9306d3738880729ad6d9e080627e29da57184d';

export type VariantName = 'main' | 'now';

export interface BuiltVariant {
  readonly name: VariantName;
  /** The built lifecycle handler file. */
  readonly handler: string;
  /** NODE_PATH with the built layer, as Lambda resolves /opt/nodejs/node_modules. */
  readonly nodePath: string;
}

async function built(name: VariantName, outDir: string, templatePath?: string): Promise<BuiltVariant> {
  const output = await buildLikeSam(outDir, { templatePath, env: userShellEnv(process.env, true) });
  const fn = output.functions.LifecycleFunction;
  if (!fn) throw new Error(`${name}: template.yaml has no LifecycleFunction`);
  return { name, handler: join(fn.dir, `${fn.handler.split('.')[0]}.js`), nodePath: layerNodePath(output, fn) };
}

/** Builds main at BASELINE_COMMIT and this tree under `tmp`. */
export async function buildVariants(tmp: string, progress: (line: string) => void): Promise<BuiltVariant[]> {
  const source = join(tmp, 'main-source');
  mkdirSync(source, { recursive: true });
  let archive: Buffer;
  try {
    archive = execFileSync('git', ['-C', REPO, 'archive', BASELINE_COMMIT, 'template.yaml', 'functions', 'layers', 'nested'], { maxBuffer: 64 * 1024 * 1024 });
  } catch (err) {
    throw new Error(`the baseline (main at ${BASELINE_COMMIT.slice(0, 7)}) is not in this repository's history (a shallow clone?): ${String(err)}`);
  }
  execFileSync('tar', ['-x', '-C', source], { input: archive });
  // The layer's build resolves esbuild and the bundled packages from its folder upwards.
  symlinkSync(join(REPO, 'node_modules'), join(source, 'node_modules'));
  progress(`scaling: building main at ${BASELINE_COMMIT.slice(0, 7)} and this tree as sam build does`);
  return [await built('main', join(tmp, 'main'), join(source, 'template.yaml')), await built('now', join(tmp, 'now'))];
}

export interface ChildLaunch {
  readonly wallMs: number;
  readonly cpuMs: number;
  readonly peakKb: number;
  readonly outcome: string;
  readonly reason?: string;
  readonly addresses: string[];
}

/** A fresh Node process with a built handler loaded: a new container. */
export class Container {
  private readonly waiting = new Map<number, (launch: ChildLaunch) => void>();
  private next = 0;
  private stderr = '';

  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    readonly load: { loadMs: number; loadCpuMs: number; peakKb: number },
  ) {
    child.stderr.on('data', (c: Buffer) => (this.stderr = (this.stderr + c.toString()).slice(-4000)));
  }

  static start(variant: BuiltVariant, env: NodeJS.ProcessEnv): Promise<Container> {
    const child = spawn(process.execPath, [join(__dirname, 'launch-child.cjs')], {
      env: { ...env, NODE_PATH: variant.nodePath, BENCH_HANDLER: variant.handler, NODE_NO_WARNINGS: '1' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    return new Promise((resolve, reject) => {
      let container: Container | undefined;
      const lines = createInterface({ input: child.stdout });
      lines.on('line', (line) => {
        const message = JSON.parse(line) as { ready?: boolean; id?: number } & ChildLaunch & Container['load'];
        if (message.ready) {
          container = new Container(child, { loadMs: message.loadMs, loadCpuMs: message.loadCpuMs, peakKb: message.peakKb });
          resolve(container);
        } else if (container && message.id !== undefined) {
          container.waiting.get(message.id)?.(message);
          container.waiting.delete(message.id);
        }
      });
      child.once('exit', (code) => {
        if (!container) reject(new Error(`${variant.name}: the container process exited with ${code} before loading the handler`));
        else for (const [, done] of container.waiting) done({ wallMs: NaN, cpuMs: NaN, peakKb: NaN, outcome: 'crashed', reason: container.stderr, addresses: [] });
      });
    });
  }

  /** One invocation; `resetPeak`: its peak RSS alone (warm), not the process's since its start (cold). */
  launch(event: unknown, resetPeak: boolean): Promise<ChildLaunch> {
    const id = this.next++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.child.stdin.write(JSON.stringify({ id, event, resetPeak }) + '\n');
    });
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      if (this.child.exitCode !== null) return resolve();
      this.child.once('exit', () => resolve());
      this.child.stdin.end();
      setTimeout(() => this.child.kill('SIGKILL'), 5000).unref();
    });
  }
}
