/** Timing and summary statistics for the benchmarks. */

export interface Summary {
  readonly runs: number;
  readonly min: number;
  readonly median: number;
  readonly p95: number;
  readonly max: number;
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function summarize(samples: readonly number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    runs: sorted.length,
    min: sorted[0] ?? NaN,
    median: median(sorted),
    p95: percentile(sorted, 95),
    max: sorted[sorted.length - 1] ?? NaN,
  };
}

export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export interface RunPlan {
  /** Untimed runs first (JIT warm-up). */
  readonly warmup: number;
  readonly minRuns: number;
  readonly maxRuns: number;
  /** Stop adding runs (after minRuns) once this much time was spent timing. */
  readonly budgetMs: number;
}

/**
 * Times a synchronous function several times and returns the samples in milliseconds. The result
 * of each run goes to `sink`, so the work cannot be optimised away.
 */
export function timeSync<T>(fn: () => T, plan: RunPlan, sink: (value: T) => void = () => {}): number[] {
  for (let i = 0; i < plan.warmup; i++) sink(fn());
  const samples: number[] = [];
  let spent = 0;
  while (samples.length < plan.maxRuns && (samples.length < plan.minRuns || spent < plan.budgetMs)) {
    const t0 = nowMs();
    const value = fn();
    const dt = nowMs() - t0;
    sink(value);
    samples.push(dt);
    spent += dt;
  }
  return samples;
}

/** Same as timeSync for an async function, runs one after the other. */
export async function timeAsync<T>(fn: () => Promise<T>, plan: RunPlan, sink: (value: T) => void = () => {}): Promise<number[]> {
  for (let i = 0; i < plan.warmup; i++) sink(await fn());
  const samples: number[] = [];
  let spent = 0;
  while (samples.length < plan.maxRuns && (samples.length < plan.minRuns || spent < plan.budgetMs)) {
    const t0 = nowMs();
    const value = await fn();
    const dt = nowMs() - t0;
    sink(value);
    samples.push(dt);
    spent += dt;
  }
  return samples;
}

export class BenchTimeoutError extends Error {
  override readonly name = 'BenchTimeoutError';
}

/** Rejects when `promise` has not settled within `ms` (the work itself is not cancelled). */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new BenchTimeoutError(`${what} did not finish within ${Math.round(ms / 1000)} s`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
