/**
 * An EKS managed node group in the emulator, as the hook installer finds it: a cluster and a node
 * group in moto's EKS (whose DescribeNodegroup names an Auto Scaling group "eks-<uuid>" that moto
 * does not create), and that Auto Scaling group created here with EKS's tags and a launch template
 * that tags instances with the opt-in key (as nested/launch-template.yaml does). moto launches the
 * group's instances at once, in the first subnet of VPCZoneIdentifier.
 *
 * Also: the loopback HTTP server that stands in for CloudFormation's presigned ResponseURL.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { join } from 'node:path';
import {
  AutoScalingClient,
  CreateAutoScalingGroupCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeLifecycleHooksCommand,
  type LifecycleHook,
} from '@aws-sdk/client-auto-scaling';
import { CreateLaunchTemplateCommand, DeleteTagsCommand } from '@aws-sdk/client-ec2';
import { CreateClusterCommand, CreateNodegroupCommand, DescribeNodegroupCommand, EKSClient } from '@aws-sdk/client-eks';
import { EVENTS_DIR, NODE_TAG_KEY, type VpcLayout, type WorldClients } from './world';

export const CLUSTER = 'multus-cluster';
export const NODEGROUP = 'multus-ng';
export const LAUNCH_HOOK = 'eks-multus-eni-launch';
export const TERMINATE_HOOK = 'eks-multus-eni-terminate';

export interface NodegroupWorld {
  readonly clusterName: string;
  readonly nodegroupName: string;
  readonly autoScalingGroupName: string;
  readonly instanceIds: string[];
}

export const asgClient = () => new AutoScalingClient({});
export const eksClient = () => new EKSClient({});

/** A cluster, a node group of `nodes` opted-in instances in the layout's first AZ, its Auto Scaling group. */
export async function createNodegroup(
  clients: WorldClients,
  layout: VpcLayout,
  options: { nodes?: number; clusterName?: string; nodegroupName?: string } = {},
): Promise<NodegroupWorld> {
  const eks = eksClient();
  const autoscaling = asgClient();
  const clusterName = options.clusterName ?? CLUSTER;
  const nodegroupName = options.nodegroupName ?? NODEGROUP;
  const subnet = layout.azs[0].nodeSubnet;
  await eks
    .send(new CreateClusterCommand({ name: clusterName, roleArn: 'arn:aws:iam::123456789012:role/eks-cluster', resourcesVpcConfig: { subnetIds: [subnet] } }))
    .catch((err: Error) => {
      if (err.name !== 'ResourceInUseException') throw err;
    });
  const nodes = options.nodes ?? 2;
  // Sizes given explicitly, as EKS's own match its Auto Scaling group: moto's default sizes are one
  // dict shared by every node group, which its UpdateNodegroupConfig changes in place.
  await eks.send(
    new CreateNodegroupCommand({
      clusterName,
      nodegroupName,
      nodeRole: 'arn:aws:iam::123456789012:role/eks-node',
      subnets: [subnet],
      scalingConfig: { minSize: 0, maxSize: Math.max(nodes, 1), desiredSize: nodes },
    }),
  );
  const described = await eks.send(new DescribeNodegroupCommand({ clusterName, nodegroupName }));
  const autoScalingGroupName = described.nodegroup!.resources!.autoScalingGroups![0].name!;
  const template = await clients.ec2.send(
    new CreateLaunchTemplateCommand({
      LaunchTemplateName: `lt-${randomUUID()}`,
      LaunchTemplateData: {
        ImageId: 'ami-12345678',
        InstanceType: 'm5.xlarge',
        TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: NODE_TAG_KEY, Value: 'true' }] }],
      },
    }),
  );
  await autoscaling.send(
    new CreateAutoScalingGroupCommand({
      AutoScalingGroupName: autoScalingGroupName,
      MinSize: 0,
      MaxSize: Math.max(nodes, 1),
      DesiredCapacity: nodes,
      LaunchTemplate: { LaunchTemplateId: template.LaunchTemplate!.LaunchTemplateId, Version: '$Latest' },
      VPCZoneIdentifier: subnet,
      Tags: [
        { Key: 'eks:cluster-name', Value: clusterName, PropagateAtLaunch: true },
        { Key: 'eks:nodegroup-name', Value: nodegroupName, PropagateAtLaunch: true },
      ],
    }),
  );
  const group = await autoscaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [autoScalingGroupName] }));
  const instanceIds = (group.AutoScalingGroups![0].Instances ?? []).map((i) => i.InstanceId!).sort();
  return { clusterName, nodegroupName, autoScalingGroupName, instanceIds };
}

/** Takes the opt-in tag off an instance. */
export async function optOut(clients: WorldClients, instanceId: string): Promise<void> {
  await clients.ec2.send(new DeleteTagsCommand({ Resources: [instanceId], Tags: [{ Key: NODE_TAG_KEY }] }));
}

export async function hooksOn(autoScalingGroupName: string): Promise<LifecycleHook[]> {
  const out = await asgClient().send(new DescribeLifecycleHooksCommand({ AutoScalingGroupName: autoScalingGroupName }));
  return (out.LifecycleHooks ?? []).sort((a, b) => (a.LifecycleHookName ?? '').localeCompare(b.LifecycleHookName ?? ''));
}

export interface RecordedResponse {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Record<string, unknown>;
}

export interface ResponseServer {
  /** A ResponseURL on this server (a fresh path per call). */
  url(): string;
  readonly responses: RecordedResponse[];
  /** Answer the next `count` PUTs with this status instead of 200. */
  failNext(status: number, count?: number): void;
  close(): Promise<void>;
}

/** The loopback stand-in for CloudFormation's presigned S3 ResponseURL: records every PUT. */
export async function startResponseServer(): Promise<ResponseServer> {
  const responses: RecordedResponse[] = [];
  let failures: { status: number; count: number } | undefined;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (failures && failures.count > 0) {
        failures.count--;
        res.writeHead(failures.status).end();
        return;
      }
      const text = Buffer.concat(chunks).toString('utf8');
      responses.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: text ? JSON.parse(text) : {} });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: () => `http://127.0.0.1:${port}/cloudformation-response/${randomUUID()}?X-Amz-Signature=test`,
    responses,
    failNext(status, count = 1) {
      failures = { status, count };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * One response server for a test file: started before its tests, its recorded responses cleared
 * before each, closed after them. Returns a getter (the server exists once beforeAll ran).
 */
export function responseServerForFile(): () => ResponseServer {
  let server: ResponseServer | undefined;
  beforeAll(async () => {
    server = await startResponseServer();
  });
  beforeEach(() => {
    if (server) server.responses.length = 0;
  });
  afterAll(async () => {
    await server?.close();
  });
  return () => {
    if (!server) throw new Error('the response server starts in beforeAll');
    return server;
  };
}

type Dict = Record<string, unknown>;

/** An events/hook-installer-*.json fixture aimed at the world: ResponseURL, node group, metadata. */
export function customResourceEvent(
  file: 'hook-installer-create.json' | 'hook-installer-update.json' | 'hook-installer-delete.json',
  responseUrl: string,
  world: Pick<NodegroupWorld, 'clusterName' | 'nodegroupName'>,
  properties: Dict = {},
  oldProperties: Dict = {},
): Dict {
  const event = JSON.parse(readFileSync(join(EVENTS_DIR, file), 'utf8')) as Dict;
  const target = (props: unknown, overrides: Dict) => {
    const named = { ...(props as Dict), ClusterName: world.clusterName, NodegroupName: world.nodegroupName, ...overrides };
    // The metadata the template derives from the stack, cluster and node group names (unless overridden).
    const merged = 'NotificationMetadata' in overrides ? named : { ...named, NotificationMetadata: `eks-multus-eni:eks-multus-eni:${named.ClusterName}/${named.NodegroupName}` };
    return Object.fromEntries(Object.entries(merged).filter(([, v]) => v !== undefined));
  };
  event.ResponseURL = responseUrl;
  event.RequestId = randomUUID();
  event.ResourceProperties = target(event.ResourceProperties, properties);
  if (event.OldResourceProperties) event.OldResourceProperties = target(event.OldResourceProperties, oldProperties);
  return event;
}
