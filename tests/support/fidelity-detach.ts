/**
 * Detaching in the fidelity proxy. moto 5.2 detaches at once: the next describe shows the ENI
 * `available`. EC2 takes a while: the ENI stays `in-use` with its attachment `detaching` for some
 * seconds, and DeleteNetworkInterface meanwhile is refused with InvalidNetworkInterface.InUse.
 * Turned on per test (`FidelityControl.keepDetaching(n)`), the proxy answers so for the next `n`
 * DescribeNetworkInterfaces answers that list the ENI after its detach, then lets moto's
 * `available` through. DescribeInstances is not rewritten (it shows the ENI gone at once, as moto
 * does).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ProxyTools } from './fidelity-hooks';

/** Applies `change` to each top-level `<item>` of the answer's `networkInterfaceSet`. */
export function mapInterfaceItems(xml: string, change: (item: string) => string): string {
  const open = '<networkInterfaceSet>';
  const start = xml.indexOf(open);
  if (start < 0) return xml;
  const tags = /<item>|<\/item>|<\/networkInterfaceSet>/g;
  tags.lastIndex = start + open.length;
  let out = xml.slice(0, tags.lastIndex);
  let copied = tags.lastIndex;
  let depth = 0;
  let itemStart = 0;
  for (let m = tags.exec(xml); m; m = tags.exec(xml)) {
    if (m[0] === '<item>') {
      if (depth++ === 0) itemStart = m.index;
    } else if (m[0] === '</item>') {
      if (--depth === 0) {
        const end = m.index + m[0].length;
        out += xml.slice(copied, itemStart) + change(xml.slice(itemStart, end));
        copied = end;
      }
    } else if (depth === 0) {
      break;
    }
  }
  return out + xml.slice(copied);
}

export class DetachFidelity {
  /** Describes each detached ENI still shows as detaching (0: as moto, at once). */
  private describes = 0;
  /** ENI id to its attachment as it was (status now `detaching`) and the describes left. */
  private readonly leaving = new Map<string, { attachment: string; left: number }>();
  /** Describe answers that showed an ENI detaching, and deletes refused meanwhile. */
  answeredDetaching = 0;
  rejectedDeletes = 0;

  constructor(private readonly tools: ProxyTools) {}

  reset(): void {
    this.describes = 0;
    this.leaving.clear();
    this.answeredDetaching = 0;
    this.rejectedDeletes = 0;
  }

  keep(describes: number): void {
    this.describes = describes;
  }

  /** DetachNetworkInterface: remembers the attachment, then lets moto detach. */
  async detach(req: IncomingMessage, res: ServerResponse, body: Buffer, params: URLSearchParams): Promise<void> {
    let found: { id: string; attachment: string } | undefined;
    if (this.describes > 0) {
      const xml = await this.tools.query(req, {
        Action: 'DescribeNetworkInterfaces',
        Version: '2016-11-15',
        'Filter.1.Name': 'attachment.attachment-id',
        'Filter.1.Value.1': params.get('AttachmentId') ?? '',
      });
      const id = /<networkInterfaceId>([^<]+)<\/networkInterfaceId>/.exec(xml)?.[1];
      const attachment = /<attachment>[\s\S]*?<\/attachment>/.exec(xml)?.[0];
      if (id && attachment) found = { id, attachment: attachment.replace(/<status>[^<]*<\/status>/, '<status>detaching</status>') };
    }
    const out = await this.tools.forward(req, body);
    if (out.status === 200 && found) this.leaving.set(found.id, { attachment: found.attachment, left: this.describes });
    return this.tools.relay(res, out);
  }

  /** A DescribeNetworkInterfaces answer with the ENIs still leaving shown `in-use`, attachment `detaching`. */
  describe(xml: string): string {
    if (this.leaving.size === 0) return xml;
    return mapInterfaceItems(xml, (item) => {
      const id = /<networkInterfaceId>([^<]+)<\/networkInterfaceId>/.exec(item)?.[1] ?? '';
      const entry = this.leaving.get(id);
      if (!entry || item.includes('<attachment>')) return item;
      if (--entry.left <= 0) this.leaving.delete(id);
      this.answeredDetaching++;
      return `<item>${entry.attachment}${item.slice('<item>'.length).replace('<status>available</status>', '<status>in-use</status>')}`;
    });
  }

  /** DeleteNetworkInterface of an ENI still detaching: refused as EC2 refuses it. */
  refuseDelete(res: ServerResponse, eniId: string): boolean {
    if (!this.leaving.has(eniId)) return false;
    this.rejectedDeletes++;
    this.tools.error(res, 400, 'InvalidNetworkInterface.InUse', `The network interface '${eniId}' is currently in use.`);
    return true;
  }
}
