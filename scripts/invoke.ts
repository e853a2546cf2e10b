/**
 * `npm run invoke -- <event.json> [--env-vars env.json]`: `sam local invoke` without Docker.
 * Runs the lifecycle handler (from the TypeScript sources, the same code path as the built one)
 * in this process on the event, against the endpoints of the standard AWS SDK environment
 * (AWS_ENDPOINT_URL, AWS_REGION, credentials). Logs go to stderr; stdout carries only the result
 * as one JSON line. Exit 0 whenever the handler returns, whatever the outcome; 1 when it throws;
 * 2 on bad usage.
 */
import { readFileSync } from 'node:fs';

const USAGE = 'usage: npm run invoke -- <event.json> [--env-vars env.json]';
/** The entry of an --env-vars file that applies: the lifecycle function's. */
const LOGICAL_ID = 'LifecycleFunction';

function fail(message: string, code = 2): never {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

function readJson(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    fail(`cannot read ${what} ${path}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    fail(`${what} ${path} is not valid JSON: ${(err as Error).message}`);
  }
}

/** SAM's --env-vars format: {"<LogicalId>": {...}} and/or {"Parameters": {...}} (applies to all). */
export function envFromFile(doc: unknown, logicalId: string): Record<string, string> {
  if (typeof doc !== 'object' || doc === null) fail('--env-vars file must hold a JSON object');
  const all = doc as Record<string, unknown>;
  const merged = { ...(all.Parameters as object | undefined), ...(all[logicalId] as object | undefined) };
  return Object.fromEntries(Object.entries(merged).map(([k, v]) => [k, String(v)]));
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  let eventPath: string | undefined;
  let envPath: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--env-vars' || arg === '-n') envPath = args[++i] ?? fail(USAGE);
    else if (arg === '--help' || arg === '-h') fail(USAGE, 0);
    else if (arg.startsWith('-')) fail(`unknown option ${arg}\n${USAGE}`);
    else if (!eventPath) eventPath = arg;
    else fail(USAGE);
  }
  if (!eventPath) fail(USAGE);
  const event = readJson(eventPath, 'event');
  if (envPath) Object.assign(process.env, envFromFile(readJson(envPath, '--env-vars file'), LOGICAL_ID));
  if (!process.env.AWS_REGION && !process.env.AWS_DEFAULT_REGION) {
    fail('AWS_REGION is not set: point the AWS SDK environment (AWS_ENDPOINT_URL, AWS_REGION, credentials) at the endpoint to use');
  }
  // Everything the handler writes (Powertools logs) goes to stderr; stdout is the result alone.
  const stdoutWrite = process.stdout.write.bind(process.stdout);
  process.stdout.write = process.stderr.write.bind(process.stderr) as typeof process.stdout.write;
  const { handler } = await import('../functions/lifecycle/handler');
  let result: unknown;
  try {
    result = await handler(event);
  } catch (err) {
    process.stderr.write(`handler threw: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}\n`);
    process.exit(1);
  }
  stdoutWrite(`${JSON.stringify(result)}\n`, () => process.exit(0));
}

void main();
