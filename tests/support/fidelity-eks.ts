/**
 * EKS node group updates in the fidelity proxy, where moto 5.2 answers unlike EKS:
 *   - UpdateNodegroupConfig: moto stores the sizes on its node group and answers "Successful" at
 *     once, but leaves the Auto Scaling group alone; EKS answers "InProgress" and then resizes the
 *     node group's Auto Scaling group. The proxy checks the sizes as EKS does
 *     (InvalidParameterException), lets moto store them, resizes the group, and answers InProgress;
 *   - DescribeUpdate (moto lacks it): InProgress once, then Successful, for the updates it saw;
 *   - DescribeNodegroup: EKS reports the desired size the node group's Auto Scaling group has, which
 *     the cluster autoscaler changes there (why Terraform's and Pulumi's EKS node group docs say to
 *     ignore changes of desired_size); moto reports the size it stored. The proxy reads the group's
 *     DesiredCapacity from moto's Auto Scaling into scalingConfig.desiredSize.
 * EKS is a REST/JSON service: the operation is told by method and path.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ProxyTools } from './fidelity-hooks';

const UPDATE_CONFIG = /^\/clusters\/([^/]+)\/node-groups\/([^/]+)\/update-config$/;
const DESCRIBE_UPDATE = /^\/clusters\/([^/]+)\/updates\/([^/?]+)/;
const DESCRIBE_NODEGROUP = /^\/clusters\/([^/]+)\/node-groups\/([^/?]+)$/;

/** The EKS operation of a request, or '' when it is none of those the proxy knows. */
export function eksAction(req: IncomingMessage): string {
  const path = (req.url ?? '').replace(/\?.*$/, '');
  if (req.method === 'POST' && UPDATE_CONFIG.test(path)) return 'UpdateNodegroupConfig';
  if (req.method === 'GET' && DESCRIBE_UPDATE.test(path)) return 'DescribeUpdate';
  if (req.method === 'GET' && DESCRIBE_NODEGROUP.test(path)) return 'DescribeNodegroup';
  return '';
}

export function sendEksError(res: ServerResponse, status: number, code: string, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json', 'x-amzn-errortype': code });
  res.end(JSON.stringify({ message }));
}

/** The request, re-signed for moto's Auto Scaling (moto routes by the signature's service scope). */
function autoscalingRequest(req: IncomingMessage): IncomingMessage {
  return { ...req, headers: { ...req.headers, authorization: String(req.headers.authorization ?? '').replace('/eks/', '/autoscaling/') } } as IncomingMessage;
}

interface ScalingBody {
  scalingConfig?: { minSize?: number; maxSize?: number; desiredSize?: number };
}

export class EksUpdateFidelity {
  /** Update id to the DescribeUpdate answers still InProgress. */
  private readonly pending = new Map<string, number>();

  constructor(private readonly tools: ProxyTools) {}

  reset(): void {
    this.pending.clear();
  }

  async handle(req: IncomingMessage, res: ServerResponse, body: Buffer, action: string): Promise<void> {
    if (action === 'UpdateNodegroupConfig') return this.updateConfig(req, res, body);
    if (action === 'DescribeUpdate') return this.describeUpdate(req, res);
    if (action === 'DescribeNodegroup') return this.describeNodegroup(req, res, body);
    return this.tools.relay(res, await this.tools.forward(req, body));
  }

  private async updateConfig(req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> {
    const sizes = (JSON.parse(body.toString() || '{}') as ScalingBody).scalingConfig;
    if (sizes) {
      const { minSize = 0, maxSize = 1, desiredSize = 0 } = sizes;
      if (maxSize < 1) return sendEksError(res, 400, 'InvalidParameterException', 'Maximum capacity should be at least 1');
      if (minSize > desiredSize) return sendEksError(res, 400, 'InvalidParameterException', `Minimum capacity ${minSize} can't be greater than desired size ${desiredSize}`);
      if (desiredSize > maxSize) return sendEksError(res, 400, 'InvalidParameterException', `Desired capacity ${desiredSize} can't be greater than max size ${maxSize}`);
    }
    const out = await this.tools.forward(req, body);
    if (out.status !== 200) return this.tools.relay(res, out);
    const answer = JSON.parse(out.body.toString()) as { update: { id: string; status: string } };
    if (sizes) {
      const [, cluster, nodegroup] = UPDATE_CONFIG.exec((req.url ?? '').replace(/\?.*$/, '')) ?? [];
      const described = await this.tools.forward({ ...req, method: 'GET', url: `/clusters/${cluster}/node-groups/${nodegroup}`, headers: req.headers } as IncomingMessage, Buffer.alloc(0));
      const groups = (JSON.parse(described.body.toString()) as { nodegroup?: { resources?: { autoScalingGroups?: { name: string }[] } } }).nodegroup?.resources?.autoScalingGroups ?? [];
      const asReq = autoscalingRequest(req);
      for (const group of groups) {
        await this.tools.query(asReq, {
          Action: 'UpdateAutoScalingGroup',
          Version: '2011-01-01',
          AutoScalingGroupName: group.name,
          ...(sizes.minSize !== undefined ? { MinSize: String(sizes.minSize) } : {}),
          ...(sizes.maxSize !== undefined ? { MaxSize: String(sizes.maxSize) } : {}),
          ...(sizes.desiredSize !== undefined ? { DesiredCapacity: String(sizes.desiredSize) } : {}),
        });
      }
    }
    answer.update.status = 'InProgress';
    this.pending.set(answer.update.id, 1);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(answer));
  }

  private async describeNodegroup(req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> {
    const out = await this.tools.forward(req, body);
    if (out.status !== 200) return this.tools.relay(res, out);
    const answer = JSON.parse(out.body.toString()) as { nodegroup?: { scalingConfig?: { desiredSize?: number }; resources?: { autoScalingGroups?: { name: string }[] } } };
    const group = answer.nodegroup?.resources?.autoScalingGroups?.[0]?.name;
    if (group && answer.nodegroup?.scalingConfig) {
      const xml = await this.tools.query(autoscalingRequest(req), { Action: 'DescribeAutoScalingGroups', Version: '2011-01-01', 'AutoScalingGroupNames.member.1': group });
      const desired = /<DesiredCapacity>(\d+)<\/DesiredCapacity>/.exec(xml)?.[1];
      if (desired !== undefined) answer.nodegroup.scalingConfig.desiredSize = Number(desired);
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(answer));
  }

  private describeUpdate(req: IncomingMessage, res: ServerResponse): void {
    const [, , id] = DESCRIBE_UPDATE.exec(req.url ?? '') ?? [];
    const left = this.pending.get(id);
    if (left === undefined) return sendEksError(res, 404, 'ResourceNotFoundException', `No update found for ID: ${id}`);
    this.pending.set(id, Math.max(0, left - 1));
    const status = left > 0 ? 'InProgress' : 'Successful';
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ update: { id, status, type: 'ConfigUpdate', errors: [], createdAt: Date.now() / 1000 } }));
  }
}
