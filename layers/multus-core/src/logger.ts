/** The one configured Powertools Logger of a function. */
import { Logger } from '@aws-lambda-powertools/logger';

export const SERVICE_NAME = 'eks-multus-eni';

export function createLogger(serviceName = SERVICE_NAME): Logger {
  return new Logger({ serviceName });
}

export { Logger };
