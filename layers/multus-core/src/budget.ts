/**
 * Bounding every AWS call by the function's time. An SDK request that never answers (a stalled
 * endpoint) is aborted when the scope's deadline passes, so it fails like any other error and the
 * normal path (rollback, the lifecycle answer, a throw for redelivery) still runs in time.
 *
 * Scopes nest per invocation (AsyncLocalStorage, so concurrent invocations in one process keep
 * their own): the work of a launch stops at one deadline, the rollback and the lifecycle answer
 * get later ones of their own (`fresh`), since they must run after the work was cut short.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

const scope = new AsyncLocalStorage<AbortSignal>();
/** A signal that never aborts: a fresh scope without a deadline is unbounded. */
const NEVER = new AbortController().signal;

/** The abort signal of the current call scope, if any. */
export function currentCallSignal(): AbortSignal | undefined {
  return scope.getStore();
}

export interface CallScope {
  /** Epoch ms at which every call still in flight in the scope is aborted; undefined: no bound. */
  readonly deadline: number | undefined;
  /** Said in the error of an aborted call ("the ENI work", "the lifecycle answer"). */
  readonly what: string;
  /** Not bounded by the enclosing scope (rollback and answer run after the work was stopped). */
  readonly fresh?: boolean;
}

export async function withCallDeadline<T>(options: CallScope, fn: () => Promise<T>): Promise<T> {
  if (options.deadline === undefined) return options.fresh ? scope.run(NEVER, fn) : fn();
  const outer = options.fresh ? undefined : scope.getStore();
  const controller = new AbortController();
  const seconds = Math.max(0, Math.round((options.deadline - Date.now()) / 1000));
  const timer = setTimeout(
    () => controller.abort(`no answer in time: ${options.what} stops its AWS calls ${seconds} s after it started, before the function's time is up`),
    Math.max(0, options.deadline - Date.now()),
  );
  const signal = outer ? AbortSignal.any([outer, controller.signal]) : controller.signal;
  try {
    return await scope.run(signal, fn);
  } finally {
    clearTimeout(timer);
  }
}
