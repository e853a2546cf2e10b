/**
 * The function environment, read once per container. A bad value is never silently replaced: it
 * is a problem naming the variable. The functions are still built (so that a lifecycle event
 * that can be parsed is answered, ABANDON, instead of being left to the hook's timeout, and a
 * custom resource gets a FAILED answer); the work that needs the value refuses to start, naming it.
 */
import { maxAttemptsFromEnv } from './clients';
import { asError } from './errors';
import { normaliseConfigPath } from './settings/load';

export const DEFAULT_NODE_TAG_KEY = 'multus-ng';
const TAG_KEY = /^[A-Za-z0-9 _.:/=+\-@]{1,127}$/;

export interface FunctionEnvironment {
  /** CONFIG_PATH, normalised; undefined when it is a problem. */
  readonly configPath: string | undefined;
  readonly nodeTagKey: string;
  /** One line per bad variable, each naming it. */
  readonly problems: readonly string[];
}

function collect(problems: string[], check: () => void): void {
  try {
    check();
  } catch (err) {
    const e = asError(err) as Error & { problems?: readonly string[] };
    problems.push(...(e.problems ?? [e.message]));
  }
}

/** POWERTOOLS_PARAMETERS_MAX_AGE: whole seconds from 0 to 86400, or absent. */
export function checkCacheMaxAge(env: NodeJS.ProcessEnv): void {
  const raw = env.POWERTOOLS_PARAMETERS_MAX_AGE;
  if (raw === undefined) return;
  const text = raw.trim();
  if (!/^\d+$/.test(text) || Number(text) > 86_400) {
    throw new Error(`POWERTOOLS_PARAMETERS_MAX_AGE environment variable must be whole seconds from 0 to 86400, not "${raw}"`);
  }
}

/**
 * What every function of the layer reads: AWS_MAX_ATTEMPTS, POWERTOOLS_PARAMETERS_MAX_AGE and,
 * with `needsConfig`, CONFIG_PATH and NODE_TAG_KEY.
 */
export function readEnvironment(env: NodeJS.ProcessEnv, needsConfig = true): FunctionEnvironment {
  const problems: string[] = [];
  collect(problems, () => maxAttemptsFromEnv(env));
  collect(problems, () => checkCacheMaxAge(env));
  let configPath: string | undefined;
  let nodeTagKey = DEFAULT_NODE_TAG_KEY;
  if (needsConfig) {
    collect(problems, () => {
      configPath = normaliseConfigPath(env.CONFIG_PATH);
    });
    const raw = env.NODE_TAG_KEY;
    if (raw !== undefined) {
      if (!TAG_KEY.test(raw.trim())) {
        problems.push(`NODE_TAG_KEY environment variable must be an EC2 tag key (1-127 characters), not "${raw}" (unset it for the default ${DEFAULT_NODE_TAG_KEY})`);
      } else nodeTagKey = raw.trim();
    }
  }
  return { configPath, nodeTagKey, problems };
}

/** Raised when the work needs a value of the environment that is bad. */
export class EnvironmentError extends Error {
  override readonly name = 'EnvironmentError';
  constructor(readonly problems: readonly string[]) {
    super(`the function environment is wrong: ${problems.join('; ')}`);
  }
}
