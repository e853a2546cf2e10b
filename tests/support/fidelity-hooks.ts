/**
 * Lifecycle hooks in the fidelity proxy, where moto 5.2 answers unlike Auto Scaling:
 *   - PutLifecycleHook on an Auto Scaling group that does not exist: moto accepts it, Auto Scaling
 *     answers ValidationError (the code is Auto Scaling's; the message is ours);
 *   - PutLifecycleHook with a HeartbeatTimeout outside 30..7200: ValidationError;
 *   - NotificationMetadata: moto drops it; the proxy keeps it per group and hook and puts it back
 *     into DescribeLifecycleHooks answers (the hook installer and the EventBridge rule rely on it).
 * Everything else about hooks (storing, describing, deleting) is moto's own.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface Relayed {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** What the proxy lends this module. */
export interface ProxyTools {
  forward(req: IncomingMessage, body: Buffer): Promise<Relayed>;
  query(req: IncomingMessage, params: Record<string, string>): Promise<string>;
  relay(res: ServerResponse, out: Relayed): void;
  error(res: ServerResponse, status: number, code: string, message: string): void;
}

const HOOK_ACTIONS = new Set(['PutLifecycleHook', 'DeleteLifecycleHook', 'DescribeLifecycleHooks']);

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export class LifecycleHookFidelity {
  /** `group|hook` to NotificationMetadata. */
  private readonly metadata = new Map<string, string>();

  constructor(private readonly tools: ProxyTools) {}

  handles(action: string): boolean {
    return HOOK_ACTIONS.has(action);
  }

  reset(): void {
    this.metadata.clear();
  }

  async handle(req: IncomingMessage, res: ServerResponse, body: Buffer, params: URLSearchParams, action: string): Promise<void> {
    const group = params.get('AutoScalingGroupName') ?? '';
    const hook = params.get('LifecycleHookName') ?? '';
    const key = `${group}|${hook}`;
    if (action === 'PutLifecycleHook') {
      const xml = await this.tools.query(req, { Action: 'DescribeAutoScalingGroups', Version: '2011-01-01', 'AutoScalingGroupNames.member.1': group });
      if (!xml.includes(`<AutoScalingGroupName>${escapeXml(group)}</AutoScalingGroupName>`)) {
        return this.tools.error(res, 400, 'ValidationError', `Auto Scaling group not found: ${group}`);
      }
      const timeout = params.get('HeartbeatTimeout');
      if (timeout !== null && !(Number(timeout) >= 30 && Number(timeout) <= 7200)) {
        return this.tools.error(res, 400, 'ValidationError', `HeartbeatTimeout ${timeout} is outside 30..7200`);
      }
      const out = await this.tools.forward(req, body);
      const metadata = params.get('NotificationMetadata');
      if (out.status === 200 && metadata !== null) this.metadata.set(key, metadata);
      return this.tools.relay(res, out);
    }
    if (action === 'DeleteLifecycleHook') {
      const out = await this.tools.forward(req, body);
      if (out.status === 200) this.metadata.delete(key);
      return this.tools.relay(res, out);
    }
    // DescribeLifecycleHooks: moto's answer with the kept NotificationMetadata put back in.
    const out = await this.tools.forward(req, body);
    if (out.status !== 200) return this.tools.relay(res, out);
    const text = out.body.toString('utf8').replace(/<member>([\s\S]*?)<\/member>/g, (whole, inner: string) => {
      const name = /<LifecycleHookName>([^<]*)<\/LifecycleHookName>/.exec(inner)?.[1];
      const owner = /<AutoScalingGroupName>([^<]*)<\/AutoScalingGroupName>/.exec(inner)?.[1];
      const metadata = name !== undefined && owner !== undefined ? this.metadata.get(`${owner}|${name}`) : undefined;
      if (metadata === undefined || inner.includes('<NotificationMetadata>')) return whole;
      return `<member>${inner}<NotificationMetadata>${escapeXml(metadata)}</NotificationMetadata></member>`;
    });
    return this.tools.relay(res, { ...out, body: Buffer.from(text, 'utf8') });
  }
}
