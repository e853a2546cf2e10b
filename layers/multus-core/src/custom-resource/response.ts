/**
 * Answering CloudFormation: the response object (Status, Reason, PhysicalResourceId, StackId,
 * RequestId, LogicalResourceId, Data) PUT as JSON to the request's presigned ResponseURL. The body
 * may not exceed 4096 bytes, so the reason and data are shortened to fit; the PUT has a timeout and
 * a few attempts, and every path of every custom resource of ours ends here, so CloudFormation
 * never waits for an answer that will not come.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { RequestEnvelope } from './envelope';

/** CloudFormation's limit on the response body. */
export const MAX_RESPONSE_BYTES = 4096;

export interface CustomResourceOutcome {
  readonly status: 'SUCCESS' | 'FAILED';
  readonly reason: string;
  readonly physicalResourceId: string;
  /** Values for Fn::GetAtt (strings only, kept small). */
  readonly data?: Readonly<Record<string, string>>;
}

export interface CustomResourceResponse {
  readonly Status: 'SUCCESS' | 'FAILED';
  readonly Reason: string;
  readonly PhysicalResourceId: string;
  readonly StackId: string;
  readonly RequestId: string;
  readonly LogicalResourceId: string;
  readonly NoEcho: false;
  readonly Data: Record<string, string>;
}

const bytes = (value: unknown): number => Buffer.byteLength(JSON.stringify(value), 'utf8');

/** Cuts `text` so that it takes at most `max` bytes as JSON text, marking the cut. */
function shorten(text: string, max: number): string {
  if (bytes(text) <= max) return text;
  const mark = ' [...]';
  let lo = 0;
  let hi = text.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (bytes(text.slice(0, mid) + mark) <= max) lo = mid;
    else hi = mid - 1;
  }
  return text.slice(0, lo) + mark;
}

/** The response body for `outcome`, within CloudFormation's 4096 bytes (data first, then the reason, give way). */
export function buildResponse(envelope: RequestEnvelope, outcome: CustomResourceOutcome): CustomResourceResponse {
  const base = {
    Status: outcome.status,
    Reason: outcome.reason || outcome.status,
    PhysicalResourceId: outcome.physicalResourceId,
    StackId: envelope.stackId,
    RequestId: envelope.requestId,
    LogicalResourceId: envelope.logicalResourceId,
    NoEcho: false as const,
    Data: { ...(outcome.data ?? {}) },
  };
  if (bytes(base) <= MAX_RESPONSE_BYTES) return base;
  // Data values are summaries: shorten the longest ones first, then the reason.
  const data = base.Data;
  for (const key of Object.keys(data).sort((a, b) => data[b].length - data[a].length)) {
    const over = bytes(base) - MAX_RESPONSE_BYTES;
    if (over <= 0) break;
    data[key] = shorten(data[key], Math.max(16, bytes(data[key]) - over));
  }
  const over = bytes(base) - MAX_RESPONSE_BYTES;
  if (over > 0) base.Reason = shorten(base.Reason, Math.max(64, bytes(base.Reason) - over));
  return base;
}

export interface SendOptions {
  /** Per attempt. */
  readonly timeoutMs?: number;
  readonly attempts?: number;
  /** Pause between attempts. */
  readonly backoffMs?: number;
}

export type ResponseSender = (url: string, body: CustomResourceResponse, options?: SendOptions) => Promise<void>;

/** Raised when the response could not be delivered after every attempt. */
export class ResponseDeliveryError extends Error {
  override readonly name = 'ResponseDeliveryError';
}

function putOnce(url: string, payload: Buffer, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(
      target,
      {
        method: 'PUT',
        // The presigned S3 URL is signed without a content type: send an empty one, as cfn-response does.
        headers: { 'content-type': '', 'content-length': payload.length },
        timeout: timeoutMs,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** PUTs the response to the presigned URL; retries network errors and 5xx answers. */
export const sendResponse: ResponseSender = async (url, body, options = {}) => {
  const attempts = options.attempts ?? 3;
  const timeoutMs = options.timeoutMs ?? 5000;
  const payload = Buffer.from(JSON.stringify(body), 'utf8');
  let last = '';
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      const status = await putOnce(url, payload, timeoutMs);
      if (status >= 200 && status < 300) return;
      last = `HTTP ${status}`;
      if (status < 500) break; // a 4xx (expired or wrong URL) will not get better
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    if (attempt < attempts) await new Promise((r) => setTimeout(r, options.backoffMs ?? 500));
  }
  const where = new URL(url);
  throw new ResponseDeliveryError(`could not deliver the ${body.Status} response to ${where.host}${where.pathname}: ${last}`);
};
