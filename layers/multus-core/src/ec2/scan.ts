/**
 * Reading a DescribeNetworkInterfaces answer (EC2's XML, one page) without building an object per
 * field of every ENI. A lowest-free launch needs, of a big subnet, each ENI's addresses and the
 * whole of the few ENIs it owns; the SDK's deserialiser builds every field of every ENI (about
 * 60 µs and 1.5 KiB of garbage per ENI), which made it the cost of a launch in a subnet with
 * thousands of ENIs. Pure: the text of a page in, callbacks out; no AWS import.
 *
 * Each top-level `<item>` of `networkInterfaceSet` is one ENI. Its addresses are every
 * `<privateIpAddress>` inside it (the primary, and each of `privateIpAddressesSet`: EC2 writes no
 * other element of that name in an ENI), its delegated prefixes every `<ipv4Prefix>`. Searches only
 * move forward through the page (one cursor per token), so a page costs one pass over its text.
 * IPv6 (`ipv6AddressesSet`, `ipv6PrefixSet`) is read only for the ENIs kept whole: EC2 picks every
 * IPv6 address and prefix, so allocation never needs another ENI's.
 */
import type { AttachmentView, InterfaceView } from './port';
import { InvalidIpv4Error, type Ipv4Range } from '../ipv4';

export class MalformedAnswerError extends Error {
  override readonly name = 'MalformedAnswerError';
}

/** The next position of a token at or after a position, remembered: positions asked for only grow. */
class Cursor {
  private at = -2;
  private readonly token: Buffer;
  constructor(
    private readonly page: Buffer,
    private readonly end: number,
    token: string,
  ) {
    this.token = Buffer.from(token, 'utf8');
  }
  next(from: number): number {
    if (this.at === -1) return -1;
    if (this.at < from) {
      this.at = this.page.indexOf(this.token, from);
      if (this.at >= this.end) this.at = -1;
    }
    return this.at;
  }
}

const ITEM = '<item>';
const ITEM_END = '</item>';
const LT = 60;

function startsAt(page: Buffer, token: string, at: number): boolean {
  if (at + token.length > page.length) return false;
  for (let i = 0; i < token.length; i++) if (page[at + i] !== token.charCodeAt(i)) return false;
  return true;
}

/** A dotted quad between two positions of the page, as a number (no string made). */
function ipv4At(page: Buffer, start: number, end: number): number {
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  const bad = () => new InvalidIpv4Error(`"${page.toString('utf8', start, end)}" is not an IPv4 address`);
  for (let i = start; i < end; i++) {
    const c = page[i];
    if (c === 46 && digits > 0 && dots < 3) {
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57 && digits < 3) {
      octet = octet * 10 + (c - 48);
      digits++;
    } else {
      throw bad();
    }
    if (octet > 255) throw bad();
  }
  if (dots !== 3 || digits === 0) throw bad();
  return value * 256 + octet;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** XML text with its entities decoded. */
export function decodeXmlText(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(/&(#x[0-9a-fA-F]+|#\d+|[a-z]+);/g, (whole, name: string) => {
    if (name.startsWith('#x')) return String.fromCodePoint(parseInt(name.slice(2), 16));
    if (name.startsWith('#')) return String.fromCodePoint(Number(name.slice(1)));
    return ENTITIES[name] ?? whole;
  });
}

/** Text as it appears between tags (for searching the page for a known value). */
export function encodeXmlText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** One ENI of a page: read lazily, only what the caller asks for. */
export interface ScannedInterface {
  /** Its subnet. */
  subnetId(): string;
  /** Every IPv4 address it holds (the primary and the secondary ones; the primary may come twice). */
  forEachAddress(visit: (address: number) => void): void;
  /** Each delegated IPv4 prefix. */
  forEachPrefix(visit: (prefix: Ipv4Range) => void): void;
  /** The value of one of its tags (searched by the encoded key given to scanInterfacePage). */
  tagValue(): string | undefined;
  /** The whole ENI, as the port describes it (for the few the caller keeps). */
  view(): InterfaceView;
}

export interface PageSummary {
  readonly interfaces: number;
  readonly nextToken: string | undefined;
}

/**
 * Calls `visit` for each ENI of a DescribeNetworkInterfaces answer (its first `length` bytes), in
 * order. `tagKey`: the tag whose value `tagValue()` reads.
 */
export function scanInterfacePage(answer: Buffer | string, visit: (eni: ScannedInterface) => void, tagKey?: string, length?: number): PageSummary {
  const page = typeof answer === 'string' ? Buffer.from(answer, 'utf8') : answer;
  const size = length ?? page.length;
  const text = (from: number, to: number) => page.toString('utf8', from, to);
  const open = page.indexOf('<networkInterfaceSet');
  if (open < 0 || open >= size) throw new MalformedAnswerError('a DescribeNetworkInterfaces answer without networkInterfaceSet');
  const items = new Cursor(page, size, ITEM);
  const ends = new Cursor(page, size, ITEM_END);
  const addresses = new Cursor(page, size, '<privateIpAddress>');
  const prefixes = new Cursor(page, size, '<ipv4Prefix>');
  const subnets = new Cursor(page, size, '<subnetId>');
  const keyToken = tagKey === undefined ? undefined : `<key>${encodeXmlText(tagKey)}</key>`;
  const keyLength = keyToken === undefined ? 0 : Buffer.byteLength(keyToken);
  const keys = keyToken === undefined ? undefined : new Cursor(page, size, keyToken);

  let start = 0;
  let end = 0;
  /** Where the text of an element whose opening tag (`token`) is at `at` begins and ends. */
  const textAfter = (at: number, token: string): [number, number] => {
    const from = at + token.length;
    const to = page.indexOf(LT, from);
    if (to < 0 || to > end) throw new MalformedAnswerError(`an unterminated ${token} in a DescribeNetworkInterfaces answer`);
    return [from, to];
  };
  const eni: ScannedInterface = {
    subnetId() {
      const at = subnets.next(start);
      if (at < 0 || at > end) return '';
      const [from, to] = textAfter(at, '<subnetId>');
      return text(from, to);
    },
    forEachAddress(fn) {
      for (let at = addresses.next(start); at >= 0 && at < end; at = addresses.next(at + 1)) {
        const [from, to] = textAfter(at, '<privateIpAddress>');
        fn(ipv4At(page, from, to));
      }
    },
    forEachPrefix(fn) {
      for (let at = prefixes.next(start); at >= 0 && at < end; at = prefixes.next(at + 1)) {
        const [from, to] = textAfter(at, '<ipv4Prefix>');
        const slash = page.indexOf(47 /* / */, from);
        if (slash < 0 || slash > to) throw new MalformedAnswerError(`"${text(from, to)}" is not an IPv4 prefix`);
        const base = ipv4At(page, from, slash);
        const bits = Number(text(slash + 1, to));
        if (!Number.isInteger(bits) || bits < 0 || bits > 32) throw new MalformedAnswerError(`"${text(from, to)}" is not an IPv4 prefix`);
        fn({ first: base, last: base + 2 ** (32 - bits) - 1 });
      }
    },
    tagValue() {
      if (!keys || !keyToken) return undefined;
      const at = keys.next(start);
      if (at < 0 || at > end) return undefined;
      // EC2 writes <key> then <value> (an empty value as <value/>); any other layout: read the whole tag set.
      let v = at + keyLength;
      while (page[v] <= 32) v++;
      if (startsAt(page, '<value/>', v)) return '';
      if (!startsAt(page, '<value>', v)) return eni.view().tags[tagKey ?? ''];
      const close = page.indexOf('</value>', v);
      if (close < 0 || close > end) throw new MalformedAnswerError('an unterminated tag value in a DescribeNetworkInterfaces answer');
      return decodeXmlText(text(v + '<value>'.length, close));
    },
    view() {
      return interfaceOfElement(parseElement(text(start - ITEM.length, end + ITEM_END.length)));
    },
  };

  let count = 0;
  let p = page.indexOf('>', open) + 1;
  const selfClosed = page[p - 2] === 47;
  while (!selfClosed) {
    while (p < size && page[p] <= 32) p++;
    if (!startsAt(page, ITEM, p)) break;
    start = p + ITEM.length;
    let depth = 1;
    let q = start;
    while (depth > 0) {
      const o = items.next(q);
      const c = ends.next(q);
      if (c < 0) throw new MalformedAnswerError('an unterminated item in a DescribeNetworkInterfaces answer');
      if (o >= 0 && o < c) {
        depth++;
        q = o + ITEM.length;
      } else {
        depth--;
        q = c + ITEM_END.length;
      }
    }
    end = q - ITEM_END.length;
    visit(eni);
    count++;
    p = q;
  }
  if (!selfClosed && !startsAt(page, '</networkInterfaceSet>', p)) throw new MalformedAnswerError('a DescribeNetworkInterfaces answer whose networkInterfaceSet does not end');
  const token = page.indexOf('<nextToken>', p);
  let nextToken: string | undefined;
  if (token >= 0 && token < size) {
    const close = page.indexOf('</nextToken>', token);
    nextToken = decodeXmlText(text(token + '<nextToken>'.length, close)) || undefined;
  }
  return { interfaces: count, nextToken };
}

/** A parsed XML element: its children by order, or its text. */
interface XmlElement {
  readonly name: string;
  readonly children: XmlElement[];
  readonly text: string;
}

/** A small XML parser for one element (an ENI): elements, text, self-closing tags; attributes ignored. */
export function parseElement(xml: string): XmlElement {
  let p = 0;
  const element = (): XmlElement => {
    const open = xml.indexOf('<', p);
    const close = xml.indexOf('>', open);
    if (open < 0 || close < 0) throw new MalformedAnswerError('a malformed element in a DescribeNetworkInterfaces answer');
    const tag = xml.slice(open + 1, close);
    const name = tag.replace(/\/$/, '').split(/\s/)[0];
    p = close + 1;
    if (tag.endsWith('/')) return { name, children: [], text: '' };
    const children: XmlElement[] = [];
    let text = '';
    for (;;) {
      const next = xml.indexOf('<', p);
      if (next < 0) throw new MalformedAnswerError(`an unterminated <${name}> in a DescribeNetworkInterfaces answer`);
      if (xml.startsWith('</', next)) {
        text += xml.slice(p, next);
        p = xml.indexOf('>', next) + 1;
        return { name, children, text: children.length > 0 ? '' : decodeXmlText(text) };
      }
      text += xml.slice(p, next);
      p = next;
      children.push(element());
    }
  };
  return element();
}

const child = (e: XmlElement | undefined, name: string) => e?.children.find((c) => c.name === name);
const textOf = (e: XmlElement | undefined, name: string) => child(e, name)?.text;
const itemsOf = (e: XmlElement | undefined, name: string) => child(e, name)?.children.filter((c) => c.name === 'item') ?? [];
const bool = (text: string | undefined) => (text === undefined ? undefined : text === 'true');
const num = (text: string | undefined) => (text === undefined || text === '' ? undefined : Number(text));

/** The port's view of an ENI element of DescribeNetworkInterfaces (the fields `interfaceView` takes from the SDK's object). */
export function interfaceOfElement(eni: XmlElement): InterfaceView {
  const primary = textOf(eni, 'privateIpAddress') || undefined;
  const addresses = itemsOf(eni, 'privateIpAddressesSet')
    .map((i) => textOf(i, 'privateIpAddress'))
    .filter((a): a is string => !!a);
  if (primary && !addresses.includes(primary)) addresses.unshift(primary);
  const a = child(eni, 'attachment');
  const attachmentId = textOf(a, 'attachmentId');
  const attachment: AttachmentView | undefined = attachmentId
    ? {
        attachmentId,
        deviceIndex: num(textOf(a, 'deviceIndex')) ?? -1,
        deleteOnTermination: bool(textOf(a, 'deleteOnTermination')),
        status: textOf(a, 'status'),
        instanceId: textOf(a, 'instanceId'),
        networkCardIndex: num(textOf(a, 'networkCardIndex')),
      }
    : undefined;
  const tags: Record<string, string> = {};
  for (const t of itemsOf(eni, 'tagSet')) {
    const key = textOf(t, 'key');
    if (key !== undefined) tags[key] = textOf(t, 'value') ?? '';
  }
  return {
    networkInterfaceId: textOf(eni, 'networkInterfaceId') ?? '',
    subnetId: textOf(eni, 'subnetId') ?? '',
    availabilityZone: textOf(eni, 'availabilityZone'),
    status: textOf(eni, 'status'),
    privateIpAddress: primary,
    privateIpAddresses: addresses,
    ipv4Prefixes: itemsOf(eni, 'ipv4PrefixSet')
      .map((i) => textOf(i, 'ipv4Prefix'))
      .filter((p): p is string => !!p),
    ipv6Addresses: itemsOf(eni, 'ipv6AddressesSet')
      .map((i) => textOf(i, 'ipv6Address'))
      .filter((a): a is string => !!a),
    ipv6Prefixes: itemsOf(eni, 'ipv6PrefixSet')
      .map((i) => textOf(i, 'ipv6Prefix'))
      .filter((p): p is string => !!p),
    sourceDestCheck: bool(textOf(eni, 'sourceDestCheck')),
    attachment,
    tags,
  };
}
