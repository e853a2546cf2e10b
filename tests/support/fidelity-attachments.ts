/**
 * DeleteOnTermination of ENI attachments in the fidelity proxy, where moto 5.2 differs from EC2:
 *   - ModifyNetworkInterfaceAttribute with `Attachment.AttachmentId` and
 *     `Attachment.DeleteOnTermination` (what the launch does to every multus ENI it attaches):
 *     moto answers success and changes nothing, so every attachment made by AttachNetworkInterface
 *     stays `false`. The proxy keeps the value per attachment id and writes it into the
 *     `<attachment>` of DescribeNetworkInterfaces answers (through the proxy's listing, which the
 *     page scanner of multus-core reads too) and of DescribeInstances answers. An attachment id
 *     that is not the ENI's current attachment is refused (EC2: InvalidAttachmentID.NotFound).
 *     A detach ends the attachment: the next attachment has a new id and starts at EC2's default
 *     for AttachNetworkInterface, `false`;
 *   - TerminateInstances: EC2 deletes the ENIs whose attachment has DeleteOnTermination=true with
 *     the instance; moto deletes only those its own flag marks (set by RunInstances'
 *     `NetworkInterface.N.DeleteOnTermination`, which moto does honour). The proxy deletes in moto
 *     the ENIs it marked, as moto deletes its own (the terminated instance's own listing in
 *     DescribeInstances keeps them, as moto's does for those).
 * Not modelled: an attachment made at launch with DeleteOnTermination=true that is then set to
 * false is still deleted by moto on termination (the proxy cannot clear moto's flag); the primary
 * ENI of an instance launched without `NetworkInterface.N` is reported as moto reports it.
 * See the EC2 API reference, ModifyNetworkInterfaceAttribute and NetworkInterfaceAttachmentChanges:
 * https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifyNetworkInterfaceAttribute.html
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { mapInterfaceItems } from './fidelity-detach';
import type { ProxyTools } from './fidelity-hooks';

const ATTACHMENT = /<attachment>[\s\S]*?<\/attachment>/g;
const idOf = (attachment: string) => /<attachmentId>([^<]+)<\/attachmentId>/.exec(attachment)?.[1];

export class AttachmentFidelity {
  /** Attachment id to the DeleteOnTermination it was given. */
  private readonly deleteOnTermination = new Map<string, boolean>();

  constructor(
    private readonly tools: ProxyTools,
    /** Called for each ENI deleted with its instance (the proxy forgets what it kept of it). */
    private readonly onDeleted: (eniId: string) => void,
  ) {}

  reset(): void {
    this.deleteOnTermination.clear();
  }

  handles(action: string, params: URLSearchParams): boolean {
    if (action === 'ModifyNetworkInterfaceAttribute') return params.has('Attachment.DeleteOnTermination');
    return action === 'TerminateInstances';
  }

  /** ModifyNetworkInterfaceAttribute of an attachment, TerminateInstances (DescribeInstances: the proxy applies `describe`). */
  async handle(req: IncomingMessage, res: ServerResponse, body: Buffer, params: URLSearchParams, action: string): Promise<void> {
    if (action === 'ModifyNetworkInterfaceAttribute') return this.modify(req, res, body, params);
    return this.terminate(req, res, body, params);
  }

  /** An answer listing attachments (DescribeNetworkInterfaces, DescribeInstances) with the values kept here. */
  describe(xml: string): string {
    if (this.deleteOnTermination.size === 0) return xml;
    return xml.replace(ATTACHMENT, (attachment) => {
      const id = idOf(attachment);
      const value = id === undefined ? undefined : this.deleteOnTermination.get(id);
      if (value === undefined) return attachment;
      return attachment.replace(/<deleteOnTermination>[^<]*<\/deleteOnTermination>/, `<deleteOnTermination>${value}</deleteOnTermination>`);
    });
  }

  private async modify(req: IncomingMessage, res: ServerResponse, body: Buffer, params: URLSearchParams): Promise<void> {
    const eniId = params.get('NetworkInterfaceId') ?? '';
    const attachmentId = params.get('Attachment.AttachmentId') ?? '';
    const xml = await this.tools.query(req, { Action: 'DescribeNetworkInterfaces', Version: '2016-11-15', 'NetworkInterfaceId.1': eniId });
    if (!xml.includes('<DescribeNetworkInterfacesResponse')) {
      return this.tools.relay(res, { status: 400, headers: { 'content-type': 'text/xml' }, body: Buffer.from(xml) });
    }
    const current = idOf(/<attachment>[\s\S]*?<\/attachment>/.exec(xml)?.[0] ?? '');
    if (current !== attachmentId) {
      return this.tools.error(res, 400, 'InvalidAttachmentID.NotFound', `The attachment ID '${attachmentId}' does not exist`);
    }
    const out = await this.tools.forward(req, body);
    if (out.status === 200) this.deleteOnTermination.set(attachmentId, params.get('Attachment.DeleteOnTermination') === 'true');
    return this.tools.relay(res, out);
  }

  private async terminate(req: IncomingMessage, res: ServerResponse, body: Buffer, params: URLSearchParams): Promise<void> {
    const instanceIds = [...params.keys()].filter((k) => /^InstanceId\.\d+$/.test(k)).map((k) => params.get(k) ?? '');
    // What goes with the instances, read before moto terminates them (and deletes its own).
    const going: string[] = [];
    if (this.deleteOnTermination.size > 0 && instanceIds.length > 0) {
      const xml = await this.tools.query(req, {
        Action: 'DescribeNetworkInterfaces',
        Version: '2016-11-15',
        'Filter.1.Name': 'attachment.instance-id',
        ...Object.fromEntries(instanceIds.map((id, i) => [`Filter.1.Value.${i + 1}`, id])),
      });
      mapInterfaceItems(xml, (item) => {
        const id = idOf(/<attachment>[\s\S]*?<\/attachment>/.exec(item)?.[0] ?? '');
        const eniId = /<networkInterfaceId>([^<]+)<\/networkInterfaceId>/.exec(item)?.[1];
        if (id !== undefined && eniId !== undefined && this.deleteOnTermination.get(id) === true) going.push(eniId);
        return item;
      });
    }
    const out = await this.tools.forward(req, body);
    if (out.status === 200) {
      for (const eniId of going) {
        await this.tools.query(req, { Action: 'DeleteNetworkInterface', Version: '2016-11-15', NetworkInterfaceId: eniId });
        this.onDeleted(eniId);
      }
    }
    return this.tools.relay(res, out);
  }
}
