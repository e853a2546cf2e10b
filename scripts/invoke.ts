/**
 * `npm run invoke -- [--function <LogicalId>] <event.json> [--env-vars env.json]`: `sam local
 * invoke` without Docker. Runs the handler of a function of template.yaml (default
 * LifecycleFunction; from the TypeScript sources, the same code path as the built one) in this
 * process on the event, against the endpoints of the standard AWS SDK environment
 * (AWS_ENDPOINT_URL, AWS_REGION, credentials), with the environment SAM would give it (only the
 * variables the template declares for it: --env-vars entry, else the shell's value, else the
 * template's; see scripts/lib/function-env.ts) and a Lambda context whose remaining time counts
 * down from the function's Timeout. Logs go to stderr; stdout carries only the result as one JSON
 * line. Exit 0 whenever the handler returns, whatever the outcome; 1 when it throws; 2 on bad usage.
 */
import './lib/defer-sdk-node-warning'; // first: before any AWS SDK client exists
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './lib/sam-build';
import { declaredAnywhere, functionEnvironment, templateFunction, type TemplateFunction } from './lib/function-env';

const USAGE = 'usage: npm run invoke -- [--function <LogicalId>] <event.json> [--env-vars env.json]';

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

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  let eventPath: string | undefined;
  let envPath: string | undefined;
  let logicalId = 'LifecycleFunction';
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--env-vars' || arg === '-n') envPath = args[++i] ?? fail(USAGE);
    else if (arg === '--function' || arg === '-f') logicalId = args[++i] ?? fail(USAGE);
    else if (arg === '--help' || arg === '-h') fail(USAGE, 0);
    else if (arg.startsWith('-')) fail(`unknown option ${arg}\n${USAGE}`);
    else if (!eventPath) eventPath = arg;
    else fail(USAGE);
  }
  if (!eventPath) fail(USAGE);
  let fn: TemplateFunction;
  try {
    fn = templateFunction(ROOT, logicalId);
  } catch (err) {
    fail((err as Error).message);
  }
  const event = readJson(eventPath, 'event');
  const envFile = envPath ? readJson(envPath, '--env-vars file') : {};
  if (typeof envFile !== 'object' || envFile === null || Array.isArray(envFile)) fail('--env-vars file must hold a JSON object');
  if (!process.env.AWS_REGION && !process.env.AWS_DEFAULT_REGION) {
    fail('AWS_REGION is not set: point the AWS SDK environment (AWS_ENDPOINT_URL, AWS_REGION, credentials) at the endpoint to use (npm run emulator prints it)');
  }
  // As SAM: only what the template declares for this function reaches it, and the function's name
  // (AWS_LAMBDA_FUNCTION_NAME, the logical id, as sam local invoke sets it: the metrics' `function`).
  const env = functionEnvironment(fn, process.env, envFile as Record<string, unknown>);
  for (const name of declaredAnywhere(ROOT)) delete process.env[name];
  Object.assign(process.env, { AWS_LAMBDA_FUNCTION_NAME: fn.logicalId }, env);
  // Everything the handler writes (Powertools logs, its metrics as EMF, the SDK's notices) goes to
  // stderr; stdout is the result alone. In Lambda the EMF goes to stdout, which is the log.
  const stdoutWrite = process.stdout.write.bind(process.stdout);
  process.stdout.write = process.stderr.write.bind(process.stderr) as typeof process.stdout.write;
  const mod = (await import(join(ROOT, fn.source))) as Record<string, unknown>;
  const handler = mod[fn.exportName];
  if (typeof handler !== 'function') fail(`${fn.source} exports no ${fn.exportName}`);
  const end = Date.now() + fn.timeoutSeconds * 1000;
  const context = {
    awsRequestId: randomUUID(),
    functionName: fn.logicalId,
    getRemainingTimeInMillis: () => Math.max(0, end - Date.now()),
  };
  let result: unknown;
  try {
    result = await (handler as (e: unknown, c: unknown) => Promise<unknown>)(event, context);
  } catch (err) {
    process.stderr.write(`handler threw: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}\n`);
    process.exit(1);
  }
  stdoutWrite(`${JSON.stringify(result)}\n`, () => process.exit(0));
}

void main();
