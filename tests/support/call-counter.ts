/**
 * Counting AWS API calls by operation with SDK middleware: every command sent through a client
 * (after the SDK's retries, so one count per command) is tallied as `Service.Operation`.
 * Used by the call-count tests and by the benchmarks.
 */
import type { AwsClients } from 'multus-core';

export type CallCounts = Record<string, number>;

interface MiddlewareClient {
  middlewareStack: {
    add(
      middleware: (next: (args: unknown) => Promise<unknown>, context: { commandName?: string; clientName?: string }) => (args: unknown) => Promise<unknown>,
      options: { step: 'initialize'; name: string; override?: boolean },
    ): void;
  };
}

/** Adds a counting middleware to each client; returns the live tally. */
export function countCalls(clients: AwsClients | Record<string, unknown>): CallCounts {
  const counts: CallCounts = {};
  for (const client of Object.values(clients)) {
    (client as MiddlewareClient).middlewareStack.add(
      (next, context) => async (args) => {
        const service = (context.clientName ?? 'Client').replace(/Client$/, '');
        const key = `${service}.${(context.commandName ?? 'Unknown').replace(/Command$/, '')}`;
        counts[key] = (counts[key] ?? 0) + 1;
        return next(args);
      },
      { step: 'initialize', name: 'eksMultusEniCallCounter', override: true },
    );
  }
  return counts;
}

export function total(counts: CallCounts): number {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

export function reset(counts: CallCounts): void {
  for (const key of Object.keys(counts)) delete counts[key];
}
