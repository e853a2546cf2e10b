/**
 * The AWS SDK for JavaScript v3's NodeVersionSupportWarning, held back to the end of a local script.
 *
 * Where it comes from: every SDK client's Node runtime config (`getRuntimeConfig` in
 * `@aws-sdk/client-*\/dist-cjs/runtimeConfig`) calls `emitWarningIfUnsupportedVersion(process.version)`
 * of `@aws-sdk/core/client` (node_modules/@aws-sdk/core/dist-es/submodules/client/emitWarningIfUnsupportedVersion.js).
 * Once per process, when the first client is built and the Node major is below the one the SDK's
 * releases after the first week of January 2027 need (22), it calls `process.emitWarning` with an
 * 8-line text starting "NodeVersionSupportWarning:"; Node prints it on stderr at once, so under
 * Node 20 it came first on every `npm run invoke`/`settings`/`demo`/`emulator`. The SDK's own switch,
 * `AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true`, drops it entirely.
 *
 * Here, for our local scripts only: that one warning is kept back and written as a single line when
 * the process exits (unless warnings are off: `--no-warnings`, NODE_NO_WARNINGS=1); every other
 * warning goes through `process.emitWarning` as before. The Lambda functions never load this (they
 * run nodejs22.x, where the SDK does not warn, and would print it as Node does).
 */
import { writeSync } from 'node:fs';

export const SDK_NODE_WARNING = 'NodeVersionSupportWarning';

/** Whether Node prints warnings at all in this process. */
function warningsShown(proc: NodeJS.Process): boolean {
  if (proc.env.NODE_NO_WARNINGS === '1') return false;
  const flags = [...proc.execArgv, ...(proc.env.NODE_OPTIONS ?? '').split(/\s+/)];
  return !flags.includes('--no-warnings');
}

/** The SDK's text as one line: its line breaks and blank lines folded into spaces. */
export function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

/**
 * Installs the hold-back on `proc`: the SDK's NodeVersionSupportWarning is written to fd 2 as one
 * line when `proc` exits; other warnings are untouched. Idempotent.
 */
export function deferSdkNodeWarning(proc: NodeJS.Process = process, write: (line: string) => void = (line) => writeSync(2, line)): void {
  const marked = proc as NodeJS.Process & { __sdkNodeWarningDeferred?: boolean };
  if (marked.__sdkNodeWarningDeferred) return;
  marked.__sdkNodeWarningDeferred = true;
  const original = proc.emitWarning;
  let held: string | undefined;
  proc.emitWarning = function emitWarning(this: unknown, warning: string | Error, ...rest: unknown[]): void {
    const text = typeof warning === 'string' ? warning : warning?.message;
    if (held === undefined && typeof text === 'string' && text.startsWith(SDK_NODE_WARNING)) {
      held = text;
      return;
    }
    (original as (...args: unknown[]) => void).call(proc, warning, ...rest);
  } as typeof proc.emitWarning;
  proc.once('exit', () => {
    if (held !== undefined && warningsShown(proc)) write(`(node:${proc.pid}) Warning: ${oneLine(held)}\n`);
  });
}
