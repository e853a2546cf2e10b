/**
 * The old system's free-address search, rewritten in TypeScript so that it runs in the same
 * process as ours and the comparison measures the algorithm, not the language.
 *
 * What the old Lambda did (Python, `ipaddress` + a list): walk the hosts of the subnet in order
 * (network and broadcast address excluded, as `IPv4Network.hosts()` does), skip the first three
 * hosts (.1-.3, reserved by AWS together with the network address), format each host as text and
 * test it against the plain list of used addresses (`str(ip) not in used`, a linear scan), and stop
 * once 15 free addresses are collected. The used list was every `PrivateIpAddresses[].PrivateIpAddress`
 * of the ENIs in the subnet; delegated prefixes and subnet CIDR reservations were not considered.
 *
 * Cost: O(hosts scanned x used): with the lowest addresses taken, it scans past every used one and
 * tests each against the whole list.
 */

/** How many free addresses the old system collected per search. */
export const BASELINE_FREE_COUNT = 15;
/** Hosts skipped at the start of the subnet (the old code's `startIndex`). */
const SKIPPED_HOSTS = 3;

function parseDottedQuad(text: string): number {
  const parts = text.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) {
    throw new Error(`"${text}" is not an IPv4 address`);
  }
  return ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0;
}

function toText(value: number): string {
  return `${value >>> 24}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`;
}

/** The hosts of an IPv4 block in order, lazily, like Python's `IPv4Network(cidr).hosts()` for /1-/30. */
export function* hosts(cidr: string): Generator<number> {
  const [base, bits] = cidr.split('/');
  const prefix = Number(bits);
  const size = 2 ** (32 - prefix);
  const network = parseDottedQuad(base);
  for (let host = network + 1; host < network + size - 1; host++) yield host;
}

/**
 * The old search: the first `count` hosts after the first three that are not in the `used` list,
 * as text, in ascending order.
 */
export function baselineFreeAddresses(cidr: string, used: readonly string[], count = BASELINE_FREE_COUNT): string[] {
  const free: string[] = [];
  let seen = 0;
  for (const host of hosts(cidr)) {
    seen++;
    if (seen <= SKIPPED_HOSTS) continue;
    const text = toText(host);
    if (!used.includes(text)) free.push(text);
    if (free.length >= count) break;
  }
  return free;
}
