/**
 * AWS calls as the SDK's request handler ends them under a call scope (src/budget.ts, the
 * DeadlineHttpHandler of clients.ts), for fakes of the ports: a call whose scope's signal has
 * aborted fails with an AbortError carrying the signal's reason as its message.
 */
import { currentCallSignal } from 'multus-core';

/** The error the SDK's handler rejects an aborted call with. */
export function abortError(signal: AbortSignal): Error {
  return Object.assign(new Error(String(signal.reason)), { name: 'AbortError' });
}

/**
 * A call that gets no answer (a stalled endpoint): it fails with an AbortError when its scope's
 * deadline passes (at once if it has passed); otherwise it answers `value` after `answerAfterMs`,
 * or never (outside any call scope, never at all).
 */
export function stalledCall<T>(answerAfterMs?: number, value?: T): Promise<T> {
  const signal = currentCallSignal();
  return new Promise<T>((resolve, reject) => {
    const abort = () => reject(abortError(signal!));
    if (signal?.aborted) return abort();
    signal?.addEventListener('abort', abort, { once: true });
    if (answerAfterMs !== undefined) setTimeout(() => resolve(value as T), answerAfterMs);
  });
}
