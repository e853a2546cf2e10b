/**
 * Sweeper function: on a schedule, deletes ENIs of ours left behind (available past the grace
 * period, or whose instance is gone). The work is in the layer (multus-core); this file stays thin:
 * clients and logger are built once per container and injected.
 */
import type { Context } from 'aws-lambda';
import { createClients, createLogger, createSweeperApp, type SweepSummary } from 'multus-core';

const logger = createLogger();
const app = createSweeperApp({ clients: createClients(), logger });

export const handler = async (_event: unknown, context?: Context): Promise<SweepSummary> => {
  if (context) logger.addContext(context);
  return app.handle();
};
