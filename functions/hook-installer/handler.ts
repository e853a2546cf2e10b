/**
 * Hook installer function: the CloudFormation custom resource that puts the lifecycle hooks on the
 * managed node group's Auto Scaling groups (EKS does not expose them), gives the opted-in nodes
 * already running their multus ENIs, and removes the hooks on delete. The work is in the layer
 * (multus-core); this file stays thin: clients and logger are built once per container and injected.
 */
import type { Context } from 'aws-lambda';
import { createHookInstallerApp, createHookInstallerClients, createLogger, type CustomResourceResponse } from 'multus-core/hooks';

const logger = createLogger();
const app = createHookInstallerApp({ clients: createHookInstallerClients(), logger });

export const handler = async (event: unknown, context?: Context): Promise<CustomResourceResponse> => {
  if (context) logger.addContext(context);
  return app.handle(event, context);
};
