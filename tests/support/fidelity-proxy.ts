/**
 * A small loopback proxy in front of moto that answers like EC2 and Auto Scaling do where moto 5.2
 * does not (DESIGN.md, "Emulator fidelity"):
 *   - CompleteLifecycleAction / RecordLifecycleActionHeartbeat (moto lacks them): recorded; a second
 *     completion of the same action gets ValidationError "No active Lifecycle Action found";
 *     DescribeAutoScalingInstances reports Pending:Wait until the action is completed;
 *   - CreateNetworkInterface with a ClientToken seen before: the first create's answer again, nothing
 *     new (EC2's idempotency: a retry after a lost answer converges); with a PrivateIpAddress already in use: InvalidIPAddress.InUse; with a
 *     security group that does not exist: InvalidGroup.NotFound; with one of another VPC than the
 *     subnet's: InvalidParameter "... belong to different networks" (moto accepts both);
 *   - AttachNetworkInterface at an occupied device index: InvalidParameterValue, and an ENI that is
 *     already attached: InvalidNetworkInterface.InUse.
 *   - PutLifecycleHook / DescribeLifecycleHooks: see fidelity-hooks.ts (unknown group and bad heartbeat
 *     rejected, NotificationMetadata kept and described).
 *   - IPv4 prefix delegation (moto ignores it): see fidelity-prefixes.ts (prefixes kept, described,
 *     overlaps and taken addresses refused, InsufficientCidrBlocks);
 *   - IPv6 addresses and /80 prefixes, IPv6-only subnets: see fidelity-ipv6.ts (taken from the
 *     subnet's block, never shared, one IPv6 kind per request, the instance type's limits, no IPv4
 *     address on an ENI of an IPv6-only subnet);
 *   - DescribeNetworkInterfaces: see fidelity-interfaces.ts (pages of MaxResults with NextToken,
 *     address filters matching secondary addresses too, bulk ENIs for subnets with thousands);
 *   - EKS UpdateNodegroupConfig / DescribeUpdate: see fidelity-eks.ts (sizes checked and applied to the
 *     node group's Auto Scaling group, the update InProgress, then Successful).
 *   - DetachNetworkInterface, when a test asks (`keepDetaching`): see fidelity-detach.ts (the ENI stays
 *     `detaching` for a few describes, and DeleteNetworkInterface meanwhile is InvalidNetworkInterface.InUse).
 *   - DescribeInstances' instance security groups (`Instance.SecurityGroups`, what Karpenter's drift
 *     check reads), when a test asks (`instanceGroups`): see fidelity-instance-groups.ts (the groups of
 *     every attached interface, or the primary interface's).
 *   - DeleteOnTermination set by ModifyNetworkInterfaceAttribute (moto ignores it): see
 *     fidelity-attachments.ts (kept per attachment, described, and honoured by TerminateInstances).
 * Every call is also recorded in order (`sequence` in the stats), so a test can tell what came first,
 * and the bytes of every answer are counted per operation (`bytes`).
 * Check-and-forward of creates and attaches is serialised, so concurrent launches race as on EC2.
 * Faults can be injected per operation (throttling, 5xx, any code) to exercise SDK retries and
 * rollback at the HTTP level, where the SDK's middleware really runs.
 * Everything else is forwarded to moto unchanged.
 */
import { randomUUID } from 'node:crypto';
import { createServer, request as httpRequest, ServerResponse, type IncomingMessage, type Server } from 'node:http';
import { AttachmentFidelity } from './fidelity-attachments';
import { DetachFidelity } from './fidelity-detach';
import { eksAction, EksUpdateFidelity, sendEksError } from './fidelity-eks';
import { LifecycleHookFidelity } from './fidelity-hooks';
import { instanceGroupsAsEc2, type InstanceGroupsModel } from './fidelity-instance-groups';
import { InterfaceListing, type InterfaceReads } from './fidelity-interfaces';
import { Ipv6Fidelity } from './fidelity-ipv6';
import { ipToNumber, PrefixFidelity } from './fidelity-prefixes';

export interface Completion {
  readonly instanceId: string;
  readonly autoScalingGroupName: string;
  readonly lifecycleHookName: string;
  readonly lifecycleActionToken: string;
  readonly result: string;
  /** False when the action had already been completed (the call was answered with ValidationError). */
  readonly accepted: boolean;
  /** When the proxy received it (ms since the epoch). */
  readonly at: number;
}

export interface Heartbeat {
  readonly instanceId: string;
  readonly lifecycleHookName: string;
  /** When the proxy received it (ms since the epoch). */
  readonly at: number;
}

export interface Fault {
  /** `ec2`, `autoscaling` or `ssm`. */
  readonly service: string;
  /** Query action (`AttachNetworkInterface`) or JSON target suffix (`GetParametersByPath`). */
  readonly action: string;
  /** The error code to answer with (ignored with `delayMs`). */
  readonly code: string;
  readonly message?: string;
  readonly status?: number;
  /** How many calls fail; default 1. */
  readonly count?: number;
  /** Let this many matching calls through first; default 0. */
  readonly skip?: number;
  /** Instead of failing, hold the call this long, then forward it (a slow API). */
  readonly delayMs?: number;
  /** Never answer (an endpoint that accepts the connection and stalls); the client must give up. */
  readonly stall?: boolean;
  /** Carry the call out (forward it to moto), then drop the answer: the client sees the connection close. */
  readonly dropAnswer?: boolean;
}

export interface ProxyStats {
  /** Calls per `service:Action`, as received (including failed ones). */
  readonly calls: Record<string, number>;
  /** Every `service:Action`, in the order received. */
  readonly sequence: string[];
  /** Bytes of the answers per `service:Action`. */
  readonly bytes: Record<string, number>;
  /** DescribeNetworkInterfaces by kind: whole subnets (`subnet-id` only) and their pages, address windows, others. */
  readonly interfaceReads: InterfaceReads;
  readonly rejectedCreates: number;
  readonly rejectedAttaches: number;
  readonly injectedFaults: number;
  /** DescribeNetworkInterfaces answers that showed an ENI still detaching (keepDetaching). */
  readonly answeredDetaching: number;
  /** DeleteNetworkInterface calls refused because the ENI was still detaching. */
  readonly rejectedDeletes: number;
}

interface ProxyState {
  completions: Completion[];
  heartbeats: Heartbeat[];
  faults: (Fault & { remaining: number; toSkip: number })[];
  calls: Record<string, number>;
  sequence: string[];
  bytes: Record<string, number>;
  /** Until this epoch ms every call is refused at the connection (an outage of the endpoint). */
  outageUntil: number;
  /** CreateNetworkInterface answers by ClientToken. */
  createsByToken: Map<string, { status: number; headers: Record<string, string>; body: Buffer }>;
  rejectedCreates: number;
  rejectedAttaches: number;
  injectedFaults: number;
  /** How DescribeInstances lists an instance's own security groups (fidelity-instance-groups.ts). */
  instanceGroups: InstanceGroupsModel;
}

export interface FidelityProxy {
  readonly endpoint: string;
  stop(): Promise<void>;
}

const ASG_NS = 'http://autoscaling.amazonaws.com/doc/2011-01-01/';

function freshState(): ProxyState {
  return { completions: [], heartbeats: [], faults: [], calls: {}, sequence: [], bytes: {}, outageUntil: 0, createsByToken: new Map(), rejectedCreates: 0, rejectedAttaches: 0, injectedFaults: 0, instanceGroups: 'moto' };
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function serviceOf(req: IncomingMessage): string {
  const auth = String(req.headers.authorization ?? '');
  const scope = /Credential=[^/]+\/[^/]+\/[^/]+\/([^/]+)\//.exec(auth);
  if (scope) return scope[1];
  const target = String(req.headers['x-amz-target'] ?? '');
  return target.startsWith('AmazonSSM') ? 'ssm' : 'unknown';
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function sendXml(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/xml', 'x-amzn-requestid': randomUUID() });
  res.end(body);
}

function sendError(res: ServerResponse, service: string, status: number, code: string, message: string): void {
  if (service === 'eks') {
    sendEksError(res, status, code, message);
  } else if (service === 'ssm') {
    res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': code });
    res.end(JSON.stringify({ __type: code, message }));
  } else if (service === 'ec2') {
    sendXml(
      res,
      status,
      `<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>${code}</Code><Message>${escapeXml(message)}</Message></Error></Errors><RequestID>${randomUUID()}</RequestID></Response>`,
    );
  } else {
    sendXml(
      res,
      status,
      `<ErrorResponse xmlns="${ASG_NS}"><Error><Type>Sender</Type><Code>${code}</Code><Message>${escapeXml(message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
    );
  }
}

function members(params: URLSearchParams, prefix: string): string[] {
  const out: string[] = [];
  for (let i = 1; params.has(`${prefix}.${i}`); i++) out.push(params.get(`${prefix}.${i}`) ?? '');
  return out;
}

/** A promise-chain mutex: check-then-act on moto's state happens one request at a time. */
class Mutex {
  private tail: Promise<void> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}

/** An admin request carries no credentials: moto needs a signature's scope to route a call of our own to EC2. */
function asEc2Caller(req: IncomingMessage): IncomingMessage {
  const headers = { ...req.headers, authorization: 'AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=0' };
  return { ...req, headers } as IncomingMessage;
}

export async function startFidelityProxy(motoEndpoint: string, port = 0): Promise<FidelityProxy> {
  let state = freshState();
  const mutex = new Mutex();
  // Lifecycle hooks where moto differs (PutLifecycleHook checks, NotificationMetadata): tests/support/fidelity-hooks.ts.
  const hooks = new LifecycleHookFidelity({ forward, query, relay, error: (res, status, code, message) => sendError(res, 'autoscaling', status, code, message) });
  const eks = new EksUpdateFidelity({ forward, query, relay, error: (res, status, code, message) => sendEksError(res, status, code, message) });
  const ec2Tools = { forward, query, relay, error: (res: ServerResponse, status: number, code: string, message: string) => sendError(res, 'ec2', status, code, message) };
  const prefixes: PrefixFidelity = new PrefixFidelity(ec2Tools, (subnetId: string) => listing.heldRanges(subnetId));
  const detaching = new DetachFidelity(ec2Tools);
  const ipv6 = new Ipv6Fidelity(ec2Tools);
  const attachments = new AttachmentFidelity(ec2Tools, (eniId) => {
    prefixes.forget(eniId);
    ipv6.forget(eniId);
  });
  // moto's items as EC2 would show them: with the prefixes and IPv6 the proxy keeps, still detaching
  // when a test asks, and with the DeleteOnTermination their attachments were given.
  const listing: InterfaceListing = new InterfaceListing(ec2Tools, (xml: string): string => attachments.describe(detaching.describe(ipv6.describe(prefixes.describe(xml)))));
  const target = new URL(motoEndpoint);

  function forward(req: IncomingMessage, body: Buffer): Promise<{ status: number; headers: Record<string, string>; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const headers = { ...req.headers, host: target.host, 'content-length': String(body.length) };
      const upstream = httpRequest(
        { hostname: target.hostname, port: target.port, method: req.method, path: req.url, headers },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const out: Record<string, string> = {};
            for (const [k, v] of Object.entries(res.headers)) {
              if (v !== undefined && k !== 'content-length' && k !== 'transfer-encoding' && k !== 'connection') {
                out[k] = Array.isArray(v) ? v.join(', ') : v;
              }
            }
            resolve({ status: res.statusCode ?? 502, headers: out, body: Buffer.concat(chunks) });
          });
          res.on('error', reject);
        },
      );
      upstream.on('error', reject);
      upstream.end(body);
    });
  }

  /** A query-protocol call of our own to moto (same credentials header as the caller's). */
  async function query(req: IncomingMessage, params: Record<string, string>): Promise<string> {
    const body = Buffer.from(new URLSearchParams(params).toString());
    const fake = { ...req, headers: { ...req.headers, 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' }, method: 'POST', url: '/' } as IncomingMessage;
    const out = await forward(fake, body);
    return out.body.toString();
  }

  function relay(res: ServerResponse, out: { status: number; headers: Record<string, string>; body: Buffer }): void {
    res.writeHead(out.status, out.headers);
    res.end(out.body);
  }

  function takeFault(service: string, action: string): Fault | undefined {
    const fault = state.faults.find((f) => f.service === service && f.action === action && f.remaining > 0);
    if (!fault) return undefined;
    if (fault.toSkip > 0) {
      fault.toSkip--;
      return undefined;
    }
    fault.remaining--;
    state.injectedFaults++;
    return fault;
  }

  async function admin(req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> {
    const json = (status: number, value: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(value));
    };
    const path = (req.url ?? '').replace(/\?.*$/, '');
    if (path === '/_fidelity/reset' && req.method === 'POST') {
      state = freshState();
      hooks.reset();
      eks.reset();
      prefixes.reset();
      ipv6.reset();
      detaching.reset();
      attachments.reset();
      listing.reset();
      return json(200, { ok: true });
    }
    if (path === '/_fidelity/stats/reset' && req.method === 'POST') {
      state.calls = {};
      state.sequence = [];
      state.bytes = {};
      state.rejectedCreates = 0;
      state.rejectedAttaches = 0;
      listing.resetReads();
      return json(200, { ok: true });
    }
    if (path === '/_fidelity/bulk' && req.method === 'POST') {
      const { subnetId, count } = JSON.parse(body.toString()) as { subnetId: string; count: number };
      return json(200, await listing.addBulk(asEc2Caller(req), subnetId, count));
    }
    if (path === '/_fidelity/bulk/free' && req.method === 'POST') {
      const { subnetId, addresses } = JSON.parse(body.toString()) as { subnetId: string; addresses: string[] };
      listing.freeBulk(subnetId, addresses);
      return json(200, { ok: true });
    }
    if (path === '/_fidelity/detaching' && req.method === 'POST') {
      detaching.keep((JSON.parse(body.toString()) as { describes: number }).describes);
      return json(200, { ok: true });
    }
    if (path === '/_fidelity/instance-groups' && req.method === 'POST') {
      state.instanceGroups = (JSON.parse(body.toString()) as { model: InstanceGroupsModel }).model;
      return json(200, { ok: true });
    }
    if (path === '/_fidelity/completions') return json(200, state.completions);
    if (path === '/_fidelity/heartbeats') return json(200, state.heartbeats);
    if (path === '/_fidelity/stats') {
      const stats: ProxyStats = {
        calls: state.calls,
        sequence: state.sequence,
        bytes: state.bytes,
        interfaceReads: listing.reads,
        rejectedCreates: state.rejectedCreates,
        rejectedAttaches: state.rejectedAttaches,
        injectedFaults: state.injectedFaults,
        answeredDetaching: detaching.answeredDetaching,
        rejectedDeletes: detaching.rejectedDeletes,
      };
      return json(200, stats);
    }
    if (path === '/_fidelity/outage' && req.method === 'POST') {
      const { ms } = JSON.parse(body.toString()) as { ms: number };
      state.outageUntil = Date.now() + ms;
      return json(200, { ok: true, until: state.outageUntil });
    }
    if (path === '/_fidelity/faults' && req.method === 'POST') {
      const fault = JSON.parse(body.toString()) as Fault;
      state.faults.push({ ...fault, remaining: fault.count ?? 1, toSkip: fault.skip ?? 0 });
      return json(200, { ok: true });
    }
    return json(404, { error: `unknown admin path ${path}` });
  }

  /** One lifecycle action: its token (a warm-pool instance gets a new action, with a new token, when it enters service). */
  function completionKey(instanceId: string, hook: string, token: string): string {
    return token || `${instanceId}|${hook}`;
  }

  async function autoscaling(req: IncomingMessage, res: ServerResponse, body: Buffer, params: URLSearchParams, action: string) {
    if (hooks.handles(action)) return hooks.handle(req, res, body, params, action);
    const requestId = `<ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata>`;
    if (action === 'CompleteLifecycleAction' || action === 'RecordLifecycleActionHeartbeat') {
      const instanceId = params.get('InstanceId') ?? '';
      const hook = params.get('LifecycleHookName') ?? '';
      const key = completionKey(instanceId, hook, params.get('LifecycleActionToken') ?? '');
      const done = state.completions.some((c) => c.accepted && completionKey(c.instanceId, c.lifecycleHookName, c.lifecycleActionToken) === key);
      if (action === 'RecordLifecycleActionHeartbeat') {
        if (done) return sendError(res, 'autoscaling', 400, 'ValidationError', `No active Lifecycle Action found with instance ID ${instanceId}`);
        state.heartbeats.push({ instanceId, lifecycleHookName: hook, at: Date.now() });
        return sendXml(res, 200, `<RecordLifecycleActionHeartbeatResponse xmlns="${ASG_NS}"><RecordLifecycleActionHeartbeatResult/>${requestId}</RecordLifecycleActionHeartbeatResponse>`);
      }
      state.completions.push({
        instanceId,
        autoScalingGroupName: params.get('AutoScalingGroupName') ?? '',
        lifecycleHookName: hook,
        lifecycleActionToken: params.get('LifecycleActionToken') ?? '',
        result: params.get('LifecycleActionResult') ?? '',
        accepted: !done,
        at: Date.now(),
      });
      if (done) return sendError(res, 'autoscaling', 400, 'ValidationError', `No active Lifecycle Action found with instance ID ${instanceId}`);
      return sendXml(res, 200, `<CompleteLifecycleActionResponse xmlns="${ASG_NS}"><CompleteLifecycleActionResult/>${requestId}</CompleteLifecycleActionResponse>`);
    }
    if (action === 'DescribeAutoScalingInstances') {
      // The instances a lifecycle action was seen for (they launched through a hook, whatever moto
      // knows of their group): Pending:Wait until the action is completed. The others as moto
      // knows them: members of its groups, or absent (an instance outside any group).
      const ids = members(params, 'InstanceIds.member');
      const moto = (await forward(req, body)).body.toString('utf8');
      const items = ids.flatMap((id) => {
        const seen = [...state.completions, ...state.heartbeats].some((c) => c.instanceId === id);
        if (!seen) return [...moto.matchAll(/<member>([\s\S]*?)<\/member>/g)].filter((m) => m[1].includes(`<InstanceId>${id}</InstanceId>`)).map((m) => m[0]);
        const last = [...state.completions].reverse().find((c) => c.instanceId === id && c.accepted);
        const group = [...state.completions].reverse().find((c) => c.instanceId === id)?.autoScalingGroupName ?? 'unknown';
        const lifecycleState = !last ? 'Pending:Wait' : last.result === 'ABANDON' ? 'Terminating' : 'InService';
        return [`<member><InstanceId>${id}</InstanceId><AutoScalingGroupName>${escapeXml(group)}</AutoScalingGroupName><AvailabilityZone>unknown</AvailabilityZone><LifecycleState>${lifecycleState}</LifecycleState><HealthStatus>HEALTHY</HealthStatus><ProtectedFromScaleIn>false</ProtectedFromScaleIn></member>`];
      });
      return sendXml(res, 200, `<DescribeAutoScalingInstancesResponse xmlns="${ASG_NS}"><DescribeAutoScalingInstancesResult><AutoScalingInstances>${items.join('')}</AutoScalingInstances></DescribeAutoScalingInstancesResult>${requestId}</DescribeAutoScalingInstancesResponse>`);
    }
    return relay(res, await forward(req, body));
  }

  /** EC2's refusal of a CreateNetworkInterface for its security groups, or undefined when they are fine. */
  async function groupRefusal(req: IncomingMessage, params: URLSearchParams): Promise<[string, string] | undefined> {
    const groups = members(params, 'SecurityGroupId');
    if (groups.length === 0) return undefined;
    const subnetId = params.get('SubnetId') ?? '';
    const subnetXml = await query(req, { Action: 'DescribeSubnets', Version: '2016-11-15', 'SubnetId.1': subnetId });
    const subnetVpc = /<vpcId>([^<]+)<\/vpcId>/.exec(subnetXml)?.[1];
    const groupXml = await query(req, { Action: 'DescribeSecurityGroups', Version: '2016-11-15', ...Object.fromEntries(groups.map((g, i) => [`Filter.1.Value.${i + 1}`, g])), 'Filter.1.Name': 'group-id' });
    const vpcOf = new Map([...groupXml.matchAll(/<groupId>([^<]+)<\/groupId>[\s\S]*?<vpcId>([^<]+)<\/vpcId>/g)].map((m) => [m[1], m[2]]));
    for (const group of groups) {
      if (!vpcOf.has(group)) return ['InvalidGroup.NotFound', `The security group '${group}' does not exist`];
      if (subnetVpc && vpcOf.get(group) !== subnetVpc) return ['InvalidParameter', `Security group ${group} and subnet ${subnetId} belong to different networks.`];
    }
    return undefined;
  }

  async function ec2(req: IncomingMessage, res: ServerResponse, body: Buffer, params: URLSearchParams, action: string) {
    if (action === 'CreateNetworkInterface') {
      const refusal = await groupRefusal(req, params);
      if (refusal) return sendError(res, 'ec2', 400, refusal[0], refusal[1]);
    }
    if (action === 'CreateNetworkInterface') {
      return mutex.run(async () => {
        const token = params.get('ClientToken');
        const earlier = token ? state.createsByToken.get(token) : undefined;
        if (earlier) return relay(res, earlier);
        const address = params.get('PrivateIpAddress');
        if (address) {
          const subnetId = params.get('SubnetId') ?? '';
          const xml = await query(req, {
            Action: 'DescribeNetworkInterfaces',
            Version: '2016-11-15',
            'Filter.1.Name': 'subnet-id',
            'Filter.1.Value.1': subnetId,
          });
          const inUse = new Set([...xml.matchAll(/<privateIpAddress>([^<]+)<\/privateIpAddress>/g)].map((m) => m[1]));
          const n = ipToNumber(address);
          if (inUse.has(address) || listing.holds(subnetId, address) || prefixes.prefixesIn(subnetId).some((r) => r.first <= n && n <= r.last)) {
            state.rejectedCreates++;
            return sendError(res, 'ec2', 400, 'InvalidIPAddress.InUse', `The specified address ${address} is already in use.`);
          }
        }
        const out = await ipv6.create(req, params, (forwarded) => prefixes.create(req, forwarded));
        if (Array.isArray(out)) return sendError(res, 'ec2', 400, out[0], out[1]);
        const relayed = out as { status: number; headers: Record<string, string>; body: Buffer };
        if (relayed.status === 200 && token) state.createsByToken.set(token, relayed);
        return relay(res, relayed);
      });
    }
    if (action === 'AssignPrivateIpAddresses' && [...params.keys()].some((k) => k.startsWith('Ipv4Prefix'))) {
      return mutex.run(() => prefixes.assign(req, res, params));
    }
    if (action === 'AssignIpv6Addresses') return mutex.run(() => ipv6.assign(req, res, params));
    if (action === 'DescribeNetworkInterfaces') return listing.describe(req, res, params);
    if (attachments.handles(action, params)) return attachments.handle(req, res, body, params, action);
    if (action === 'DescribeInstances') {
      const out = await forward(req, body);
      if (out.status !== 200) return relay(res, out);
      const xml = attachments.describe(out.body.toString('utf8'));
      return relay(res, { ...out, body: Buffer.from(state.instanceGroups === 'moto' ? xml : instanceGroupsAsEc2(xml, state.instanceGroups)) });
    }
    if (action === 'DescribeSubnets') return relay(res, ipv6.subnets(await forward(req, body)));
    if (action === 'DetachNetworkInterface') return detaching.detach(req, res, body, params);
    if (action === 'DeleteNetworkInterface') {
      if (detaching.refuseDelete(res, params.get('NetworkInterfaceId') ?? '')) return;
      const out = await forward(req, body);
      if (out.status === 200) {
        prefixes.forget(params.get('NetworkInterfaceId') ?? '');
        ipv6.forget(params.get('NetworkInterfaceId') ?? '');
      }
      return relay(res, out);
    }
    if (action === 'AttachNetworkInterface') {
      return mutex.run(async () => {
        const instanceId = params.get('InstanceId') ?? '';
        const deviceIndex = params.get('DeviceIndex') ?? '';
        const eniId = params.get('NetworkInterfaceId') ?? '';
        const eniXml = await query(req, { Action: 'DescribeNetworkInterfaces', Version: '2016-11-15', 'NetworkInterfaceId.1': eniId });
        if (/<status>in-use<\/status>/.test(eniXml)) {
          state.rejectedAttaches++;
          return sendError(res, 'ec2', 400, 'InvalidNetworkInterface.InUse', `Interface: [${eniId}] in use.`);
        }
        const instanceXml = await query(req, { Action: 'DescribeInstances', Version: '2016-11-15', 'InstanceId.1': instanceId });
        const indexes = new Set([...instanceXml.matchAll(/<deviceIndex>(\d+)<\/deviceIndex>/g)].map((m) => m[1]));
        if (indexes.has(deviceIndex)) {
          state.rejectedAttaches++;
          return sendError(res, 'ec2', 400, 'InvalidParameterValue', `Instance '${instanceId}' already has an interface attached at device index '${deviceIndex}'.`);
        }
        const ipv6Refusal = await ipv6.refuseAttach(req, params);
        if (ipv6Refusal) return sendError(res, 'ec2', 400, ipv6Refusal[0], ipv6Refusal[1]);
        return relay(res, await forward(req, body));
      });
    }
    return relay(res, await forward(req, body));
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    if ((req.url ?? '').startsWith('/_fidelity/')) return admin(req, res, body);
    const service = serviceOf(req);
    const isQuery = String(req.headers['content-type'] ?? '').includes('x-www-form-urlencoded');
    const params = isQuery ? new URLSearchParams(body.toString()) : new URLSearchParams();
    const action =
      service === 'eks' ? eksAction(req) : isQuery ? (params.get('Action') ?? '') : String(req.headers['x-amz-target'] ?? '').replace(/^.*\./, '');
    const key = `${service}:${action}`;
    state.calls[key] = (state.calls[key] ?? 0) + 1;
    state.sequence.push(key);
    const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
    res.end = ((...args: unknown[]) => {
      const chunk = args[0];
      if (typeof chunk === 'string' || chunk instanceof Uint8Array) state.bytes[key] = (state.bytes[key] ?? 0) + Buffer.byteLength(chunk);
      return end(...args);
    }) as typeof res.end;
    if (Date.now() < state.outageUntil) {
      state.injectedFaults++;
      req.socket.destroy();
      return;
    }
    const fault = takeFault(service, action);
    if (fault?.stall) return; // no answer, ever: the client's timeout or deadline must end the call
    if (fault?.delayMs !== undefined) await new Promise((r) => setTimeout(r, fault.delayMs));
    else if (fault && !fault.dropAnswer) return sendError(res, service, fault.status ?? 400, fault.code, fault.message ?? `injected ${fault.code}`);
    // Dropped answer: EC2 carries the call out (everything below runs, into a sink), the answer never arrives.
    const out = fault?.dropAnswer ? new ServerResponse(req) : res;
    await route(req, out, body, params, service, action);
    if (fault?.dropAnswer) req.socket.destroy();
  }

  async function route(req: IncomingMessage, res: ServerResponse, body: Buffer, params: URLSearchParams, service: string, action: string): Promise<void> {
    if (service === 'autoscaling') return autoscaling(req, res, body, params, action);
    if (service === 'ec2') return ec2(req, res, body, params, action);
    if (service === 'eks') return eks.handle(req, res, body, action);
    return relay(res, await forward(req, body));
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`fidelity proxy error: ${String(err)}`);
    });
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const bound = typeof address === 'object' && address ? address.port : 0;
  return {
    endpoint: `http://127.0.0.1:${bound}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Client side of the proxy's admin endpoints, for tests, the demo and the benchmarks. */
export class FidelityControl {
  constructor(readonly endpoint: string) {}
  private async call<T>(path: string, init?: RequestInit): Promise<T> {
    const res = await fetch(`${this.endpoint}${path}`, init);
    if (!res.ok) throw new Error(`fidelity proxy ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  }
  reset(): Promise<unknown> {
    return this.call('/_fidelity/reset', { method: 'POST' });
  }
  completions(): Promise<Completion[]> {
    return this.call('/_fidelity/completions');
  }
  heartbeats(): Promise<Heartbeat[]> {
    return this.call('/_fidelity/heartbeats');
  }
  stats(): Promise<ProxyStats> {
    return this.call('/_fidelity/stats');
  }
  inject(fault: Fault): Promise<unknown> {
    return this.call('/_fidelity/faults', { method: 'POST', body: JSON.stringify(fault) });
  }
  /** From now on, a detached ENI shows `detaching` for the next `describes` describes, as on EC2 (0: at once, as moto). */
  keepDetaching(describes: number): Promise<unknown> {
    return this.call('/_fidelity/detaching', { method: 'POST', body: JSON.stringify({ describes }) });
  }
  /** From now on, DescribeInstances lists an instance's security groups under this model (fidelity-instance-groups.ts; `moto`: as moto). */
  instanceGroups(model: InstanceGroupsModel): Promise<unknown> {
    return this.call('/_fidelity/instance-groups', { method: 'POST', body: JSON.stringify({ model }) });
  }
  /** Every call refused at the connection for the next `ms` milliseconds. */
  outage(ms: number): Promise<unknown> {
    return this.call('/_fidelity/outage', { method: 'POST', body: JSON.stringify({ ms }) });
  }
  /** Clears the call, byte and rejection counts only (completions and everything else stay). */
  resetStats(): Promise<unknown> {
    return this.call('/_fidelity/stats/reset', { method: 'POST' });
  }
  /** `count` bulk ENIs in the subnet, at its lowest free addresses (see fidelity-interfaces.ts). */
  bulk(subnetId: string, count: number): Promise<{ first: string; last: string }> {
    return this.call('/_fidelity/bulk', { method: 'POST', body: JSON.stringify({ subnetId, count }) });
  }
  /** Removes the bulk ENIs holding these addresses. */
  freeBulk(subnetId: string, addresses: readonly string[]): Promise<unknown> {
    return this.call('/_fidelity/bulk/free', { method: 'POST', body: JSON.stringify({ subnetId, addresses }) });
  }
}

