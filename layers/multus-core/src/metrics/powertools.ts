/**
 * The metrics of one function, published with Powertools Metrics as CloudWatch embedded metric
 * format (EMF): JSON documents written to stdout, which Lambda sends to the function's log group
 * and CloudWatch turns into metrics (no API call, no extra latency, no IAM permission).
 * Powertools writes them with a Console of its own on process.stdout, not the global console that
 * Lambda's runtime wraps, so they stay EMF with the JSON log format too.
 *
 * Values are kept during an invocation and written by `flush()` at its end: one EMF document per
 * combination of dimension values (EMF gives every metric of a document the same dimensions),
 * counts summed, so no document nears EMF's 100 values per metric.
 */
import { Metrics } from '@aws-lambda-powertools/metrics';
import { asError } from '../errors';
import type { Log } from '../log';
import { SERVICE_NAME } from '../logger';
import { METRICS_NAMESPACE, type FunctionRole, type MetricDefinition } from './catalog';
import { resolveDimensionSets, type MetricDimensions, type MetricRecorder } from './recorder';

export interface FunctionMetrics extends MetricRecorder {
  /**
   * The ColdStart metric, on the first invocation of the container only, and only of a container
   * Lambda initialised on demand (AWS_LAMBDA_INITIALIZATION_TYPE=on-demand): one of provisioned
   * concurrency was warmed ahead (Powertools' rule).
   */
  coldStart(): void;
  /** Writes what was recorded since the last flush; never throws (a problem is logged). */
  flush(): void;
}

export interface FunctionMetricsOptions {
  /** What the function does; the `function` dimension falls back to it outside Lambda. */
  readonly role: FunctionRole;
  readonly log: Log;
  /** Read for AWS_LAMBDA_FUNCTION_NAME (the `function` dimension). */
  readonly env?: NodeJS.ProcessEnv;
}

interface Group {
  readonly sets: Record<string, string>[];
  readonly values: Map<MetricDefinition, number[]>;
}

/** Runs one invocation's work: the cold start counted first, what it recorded written at the end (also when it throws). */
export async function withMetrics<T>(metrics: FunctionMetrics, work: () => Promise<T>): Promise<T> {
  metrics.coldStart();
  try {
    return await work();
  } finally {
    metrics.flush();
  }
}

/** The `function` dimension: the Lambda function's name, or the role outside Lambda (npm run invoke sets the name as SAM does). */
export function functionDimension(role: FunctionRole, env: NodeJS.ProcessEnv = process.env): string {
  return env.AWS_LAMBDA_FUNCTION_NAME?.trim() || role;
}

/**
 * Powertools warns when two dimension sets of a document share a key (Launches by outcome, and by
 * outcome and AZ): ours always share the same value, so the warning says nothing.
 */
const SHARED_SET_KEY = /^EMF key "[^"]+" is defined as both a dimension set and dimension set/;

export function createFunctionMetrics(options: FunctionMetricsOptions): FunctionMetrics {
  const { log } = options;
  const text = (content: unknown[]) => content.map(String).join(' ');
  const metrics = new Metrics({
    namespace: METRICS_NAMESPACE,
    serviceName: SERVICE_NAME,
    defaultDimensions: { function: functionDimension(options.role, options.env) },
    // Powertools' own warnings go to the function's log, as ours do.
    logger: {
      debug: () => {},
      info: (...content: unknown[]) => log.info(`metrics: ${text(content)}`),
      warn: (...content: unknown[]) => {
        if (!SHARED_SET_KEY.test(text(content))) log.warn(`metrics: ${text(content)}`);
      },
      error: (...content: unknown[]) => log.error(`metrics: ${text(content)}`),
    },
  });
  let groups = new Map<string, Group>();

  const guarded = (what: string, work: () => void) => {
    try {
      work();
    } catch (err) {
      log.warn(`metrics: ${what} failed`, { error: asError(err) });
    }
  };

  return {
    add(metric: MetricDefinition, value: number, dimensions?: MetricDimensions) {
      const sets = resolveDimensionSets(metric, dimensions);
      if (sets.length === 0 || !Number.isFinite(value)) return;
      const key = JSON.stringify(sets);
      let group = groups.get(key);
      if (!group) groups.set(key, (group = { sets, values: new Map() }));
      const values = group.values.get(metric) ?? [];
      if (metric.unit === 'Count' && values.length > 0) values[0] += value;
      else values.push(value);
      group.values.set(metric, values);
    },
    coldStart() {
      guarded('the cold start metric', () => metrics.captureColdStartMetric());
    },
    flush() {
      const pending = groups;
      groups = new Map();
      for (const group of pending.values()) {
        guarded('publishing', () => {
          try {
            // Sets with dimensions beyond the base ones become EMF dimension sets; the base set alone needs none.
            if (group.sets.some((s) => Object.keys(s).length > 0)) for (const set of group.sets) metrics.addDimensions(set);
            for (const [metric, values] of group.values) for (const v of values) metrics.addMetric(metric.name, metric.unit, v);
            metrics.publishStoredMetrics();
          } finally {
            // Nothing of a document that failed leaks into the next one.
            metrics.clearMetrics();
            metrics.clearDimensions();
          }
        });
      }
    },
  };
}
