/**
 * Sweeper function: on a schedule, deletes ENIs of ours left behind (available past the grace
 * period, or whose instance is gone); as the stack's InfrastructureCleanup custom resource, removes
 * our ENIs from the multus subnets when the stack is deleted. The work is in the layer
 * (multus-core); this file stays thin: clients and logger are built once per container and injected.
 */
import type { Context } from 'aws-lambda';
import { createClients, createLogger, createSweeperApp, isCustomResourceRequest, type CustomResourceResponse, type SweepSummary } from 'multus-core';

const logger = createLogger();
const app = createSweeperApp({ clients: createClients(), logger });

export const handler = async (event: unknown, context?: Context): Promise<SweepSummary | CustomResourceResponse> => {
  if (context) logger.addContext(context);
  return isCustomResourceRequest(event) ? app.handleCleanup(event, context) : app.handle();
};
