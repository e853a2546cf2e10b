/**
 * The hook installer's clients: the shared ones plus EKS (to find a node group's Auto Scaling
 * groups). EKS lives here, in the `multus-core/hooks` entry of the layer, so that the lifecycle and
 * sweeper functions neither load nor build it.
 */
import { EKSClient } from '@aws-sdk/client-eks';
import { clientConfig, createClients, nameFailedOperations, type AwsClients } from '../clients';

export interface HookInstallerClients extends AwsClients {
  readonly eks: EKSClient;
}

export function createHookInstallerClients(env: NodeJS.ProcessEnv = process.env): HookInstallerClients {
  return { ...createClients(env), eks: nameFailedOperations(new EKSClient(clientConfig(env))) };
}
