/**
 * The AWS SDK clients, built once per container and injected into the domain. Endpoints come
 * from the standard AWS_ENDPOINT_URL* variables (the local emulator); nothing is hard-coded.
 * The SDK lives only in this layer: functions get their clients from here.
 */
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { EC2Client } from '@aws-sdk/client-ec2';
import { SSMClient } from '@aws-sdk/client-ssm';

export interface AwsClients {
  readonly ec2: EC2Client;
  readonly autoscaling: AutoScalingClient;
  readonly ssm: SSMClient;
}

/** Client options: adaptive retries for throttling; AWS_MAX_ATTEMPTS overrides the attempt count. */
export function clientConfig(env: NodeJS.ProcessEnv = process.env) {
  const attempts = Number(env.AWS_MAX_ATTEMPTS);
  return {
    retryMode: 'adaptive' as const,
    maxAttempts: Number.isInteger(attempts) && attempts > 0 ? attempts : 5,
  };
}

export function createClients(env: NodeJS.ProcessEnv = process.env): AwsClients {
  const config = clientConfig(env);
  return {
    ec2: new EC2Client(config),
    autoscaling: new AutoScalingClient(config),
    ssm: new SSMClient(config),
  };
}
