/**
 * `npm run bench`: the benchmarks of issues 5 and 10. Writes a Markdown report to stdout (progress
 * goes to stderr) and everything measured to bench/results.json. Pure benchmarks run first; the
 * others talk only to the local emulator (moto + the fidelity proxy on 127.0.0.1), which is stopped
 * at the end, on error too. Each benchmark has a time bound, and the whole run stops itself after
 * 30 min.
 *
 *   npx tsx scripts/bench/index.ts [--only allocation,parse,calls,latency,cold-start,burst,scaling,scaling-burst]
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { startEmulator, useEmulator, type Emulator } from '../../tests/support/emulator';
import { runAllocation } from './allocation';
import { runBurst } from './burst';
import { runCalls } from './calls';
import { REPO, runColdStart } from './cold-start';
import { applyFunctionEnv } from './harness';
import { runLatency } from './latency';
import { machineInfo } from './machine';
import { runParse } from './parse';
import { checkTargets, renderMarkdown, type BenchResults } from './render';
import { runScaling, runScalingBurst } from './scaling';
import { nowMs, withTimeout } from './stats';
import { buildVariants, type BuiltVariant } from './variants';

const BENCHMARKS = ['allocation', 'parse', 'calls', 'latency', 'cold-start', 'burst', 'scaling', 'scaling-burst'] as const;
type BenchName = (typeof BENCHMARKS)[number];
const NEEDS_EMULATOR: readonly BenchName[] = ['calls', 'latency', 'cold-start', 'burst', 'scaling', 'scaling-burst'];
/** Whole run: stop by ourselves well before anyone has to kill us. */
const WATCHDOG_MS = 30 * 60_000;
const RESULTS = join(REPO, 'bench', 'results.json');

function progress(line: string): void {
  process.stderr.write(`[bench] ${line}\n`);
}

function parseArgs(argv: string[]): Set<BenchName> {
  const selected = new Set<BenchName>(BENCHMARKS);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') {
      process.stdout.write(`usage: npm run bench [-- --only ${BENCHMARKS.join(',')}]\n`);
      process.exit(0);
    }
    if (arg === '--only' || arg.startsWith('--only=')) {
      const value = arg.includes('=') ? arg.slice('--only='.length) : argv[++i];
      const names = (value ?? '').split(',').map((s) => s.trim()).filter(Boolean);
      const unknown = names.filter((n) => !(BENCHMARKS as readonly string[]).includes(n));
      if (unknown.length || names.length === 0) {
        throw new Error(`--only takes a comma-separated list of ${BENCHMARKS.join(', ')} (got "${value ?? ''}")`);
      }
      selected.clear();
      for (const n of names) selected.add(n as BenchName);
    } else {
      throw new Error(`unknown argument ${arg}; usage: npm run bench [-- --only ${BENCHMARKS.join(',')}]`);
    }
  }
  return selected;
}

async function main(): Promise<number> {
  const selected = parseArgs(process.argv.slice(2));
  applyFunctionEnv();
  const machine = machineInfo();
  const started = nowMs();
  const results: BenchResults = {};
  const errors: string[] = [];
  let emulator: Emulator | undefined;

  const step = async (name: BenchName, limitMs: number, fn: () => Promise<void>) => {
    if (!selected.has(name)) return;
    progress(`${name}...`);
    const t0 = nowMs();
    try {
      await withTimeout(fn(), limitMs, name);
      progress(`${name} done in ${((nowMs() - t0) / 1000).toFixed(1)} s`);
    } catch (err) {
      const message = `${name}: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`;
      errors.push(message);
      progress(`FAILED ${message}`);
    }
  };

  /** Prints the report and writes bench/results.json with whatever has been measured. */
  const report = () => {
    const targets = checkTargets(results);
    process.stdout.write(renderMarkdown(results, machine, targets, errors));
    mkdirSync(join(REPO, 'bench'), { recursive: true });
    const json = {
      machine,
      command: `npx tsx scripts/bench/index.ts${process.argv.length > 2 ? ` ${process.argv.slice(2).join(' ')}` : ''}`,
      benchmarks: [...selected],
      durationMs: nowMs() - started,
      targets,
      errors,
      results,
    };
    writeFileSync(RESULTS, JSON.stringify(json, null, 2) + '\n');
    progress(`results written to ${relative(process.cwd(), RESULTS) || RESULTS} in ${((nowMs() - started) / 1000).toFixed(0)} s`);
  };

  const watchdog = setTimeout(() => {
    errors.push(`the whole run exceeded ${WATCHDOG_MS / 60_000} min and was stopped; the figures above are partial`);
    progress(`the run exceeded ${WATCHDOG_MS / 60_000} min; stopping`);
    void (emulator?.stop() ?? Promise.resolve()).finally(() => {
      report();
      process.exit(2);
    });
  }, WATCHDOG_MS);
  watchdog.unref();

  const onSignal = (signal: NodeJS.Signals) => {
    progress(`${signal}: stopping the emulator`);
    void (emulator?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    // Pure, in-process benchmarks first: nothing else competes for the CPU.
    await step('allocation', 120_000, async () => {
      results.allocation = runAllocation(progress);
    });
    await step('parse', 120_000, async () => {
      results.parse = await runParse(progress);
    });

    if (NEEDS_EMULATOR.some((n) => selected.has(n))) {
      progress('starting the emulator (moto + fidelity proxy on 127.0.0.1)');
      try {
        emulator = await startEmulator();
      } catch (err) {
        errors.push(`emulator: ${err instanceof Error ? err.message : String(err)}`);
        progress(`FAILED to start the emulator; skipping ${NEEDS_EMULATOR.filter((n) => selected.has(n)).join(', ')}`);
        for (const n of NEEDS_EMULATOR) selected.delete(n);
      }
    }
    if (emulator) {
      useEmulator(emulator.endpoint);
      const em = emulator;
      await step('calls', 120_000, async () => {
        results.calls = await runCalls(em, progress);
      });
      await step('latency', 120_000, async () => {
        results.latency = await runLatency(em, progress);
      });
      await step('cold-start', 180_000, async () => {
        results.coldStart = await runColdStart(em, progress);
      });
      // Today's algorithm and this tree, built once for both scaling benchmarks.
      let variants: BuiltVariant[] | undefined;
      const scratch = mkdtempSync(join(tmpdir(), 'eks-multus-eni-scaling-'));
      const built = async () => (variants ??= await buildVariants(scratch, progress));
      try {
        await step('scaling', 15 * 60_000, async () => {
          results.scaling = await runScaling(em, await built(), progress);
        });
        await step('scaling-burst', 5 * 60_000, async () => {
          results.scalingBurst = await runScalingBurst(em, await built(), progress);
        });
      } finally {
        rmSync(scratch, { recursive: true, force: true });
      }
      // Last: a burst that hangs cannot disturb the others.
      await step('burst', 300_000, async () => {
        results.burst = [];
        for (const [nodes, subnets] of [
          [20, 1],
          [50, 1],
          [50, 2],
        ]) {
          results.burst.push(await runBurst(em, nodes, subnets, 120_000, progress));
        }
      });
    }
  } finally {
    if (emulator) {
      progress('stopping the emulator');
      await emulator.stop();
    }
    clearTimeout(watchdog);
  }

  report();
  return errors.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`[bench] ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
