/**
 * A CloudFormation custom resource request, read and checked. Pure: no AWS import. Shared by every
 * custom resource of the stack (the hook installer, the infrastructure clean-up of the sweeper).
 *
 * Request fields (CloudFormation "custom resource request objects"): RequestType, ResponseURL,
 * StackId, RequestId, LogicalResourceId, ResourceType, PhysicalResourceId (Update, Delete),
 * ResourceProperties, OldResourceProperties (Update). Property values arrive as strings.
 */

/** The request cannot be acted on: the envelope or the properties are wrong. */
export class InvalidRequestError extends Error {
  override readonly name = 'InvalidRequestError';
  constructor(readonly problems: readonly string[]) {
    super(problems.join('; '));
  }
}

/** The fields every response copies from the request. */
export interface RequestEnvelope {
  readonly requestType: 'Create' | 'Update' | 'Delete';
  readonly responseUrl: string;
  readonly stackId: string;
  readonly requestId: string;
  readonly logicalResourceId: string;
  /** The template's type of the resource (`Custom::...`), when the request names it. */
  readonly resourceType?: string;
  /** Update and Delete: the id returned at Create. */
  readonly physicalResourceId?: string;
  readonly resourceProperties: Record<string, unknown>;
  readonly oldResourceProperties?: Record<string, unknown>;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Reads the envelope. Without a ResponseURL and the ids there is no way to answer CloudFormation,
 * so this is the one error that cannot become a FAILED response.
 */
export function parseEnvelope(event: unknown): RequestEnvelope {
  if (!isRecord(event)) throw new InvalidRequestError(['the event is not a CloudFormation custom resource request (not an object)']);
  const problems: string[] = [];
  const text = (field: string): string => {
    const value = event[field];
    if (typeof value !== 'string' || value === '') {
      problems.push(`${field} is missing`);
      return '';
    }
    return value;
  };
  const requestType = text('RequestType');
  const responseUrl = text('ResponseURL');
  const stackId = text('StackId');
  const requestId = text('RequestId');
  const logicalResourceId = text('LogicalResourceId');
  if (requestType && !['Create', 'Update', 'Delete'].includes(requestType)) problems.push(`RequestType "${requestType}" is not Create, Update or Delete`);
  if (responseUrl && !/^https?:\/\//.test(responseUrl)) problems.push('ResponseURL is not an http(s) URL');
  const physical = event.PhysicalResourceId;
  if (requestType && requestType !== 'Create' && (typeof physical !== 'string' || physical === '')) problems.push('PhysicalResourceId is missing');
  if (problems.length > 0) throw new InvalidRequestError(problems.map((p) => `custom resource request: ${p}`));
  return {
    requestType: requestType as RequestEnvelope['requestType'],
    responseUrl,
    stackId,
    requestId,
    logicalResourceId,
    ...(typeof event.ResourceType === 'string' && event.ResourceType !== '' ? { resourceType: event.ResourceType } : {}),
    physicalResourceId: typeof physical === 'string' && physical !== '' ? physical : undefined,
    resourceProperties: isRecord(event.ResourceProperties) ? event.ResourceProperties : {},
    oldResourceProperties: isRecord(event.OldResourceProperties) ? event.OldResourceProperties : undefined,
  };
}

/** The physical id of a new resource: stable for the life of the resource in its stack. */
export function physicalIdFor(envelope: Pick<RequestEnvelope, 'stackId' | 'logicalResourceId'>): string {
  return `${envelope.stackId}/${envelope.logicalResourceId}`;
}

/** True when the event looks like a custom resource request (RequestType and ResponseURL present), to route it. */
export function isCustomResourceRequest(event: unknown): boolean {
  return isRecord(event) && typeof event.RequestType === 'string' && typeof event.ResponseURL === 'string';
}
