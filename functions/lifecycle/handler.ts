/**
 * Lifecycle function: EventBridge delivers the Auto Scaling lifecycle action of a node; the layer
 * (multus-core) gives the node its multus ENIs and completes the action. This file stays thin:
 * clients and logger are built once per container and injected.
 */
import type { Context } from 'aws-lambda';
import { createClients, createLifecycleApp, createLogger, type HandlerResult } from 'multus-core';

const logger = createLogger();
const app = createLifecycleApp({ clients: createClients(), logger });

export const handler = async (event: unknown, context?: Context): Promise<HandlerResult> => {
  if (context) logger.addContext(context);
  return app.handle(event, context);
};

/** For tests and local tools: drop cached settings and EC2 descriptions. */
export const clearCaches = (): void => app.clearCaches();
