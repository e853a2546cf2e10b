// Starts fake-imds.cjs inside a network namespace and describes the instance it serves.
import * as path from 'node:path';
import { startListener, writeState } from './listener';
import { type Netns } from './netns';

export interface FakeEni {
  mac: string;
  deviceNumber: number;
  /** absent: the path answers 404, as on instance types with one network card */
  networkCard?: number;
  /** `subnet-ipv4-cidr-block`; absent: an IPv6-only subnet (404) */
  subnet?: string;
  /** `subnet-ipv6-cidr-blocks` (a subnet has one at most); absent: 404 */
  ipv6Subnet?: string;
  /** delegated IPv6 prefixes (EC2's /80s), `ipv6-prefix`; absent or empty: 404 */
  ipv6Prefixes?: string[];
  /** the ENI's IPv6 addresses, `ipv6s`; absent or empty: 404 */
  ipv6s?: string[];
  /** `vpc-ipv6-cidr-blocks`; absent or empty: 404 */
  vpcIpv6Cidrs?: string[];
  /** delegated IPv4 prefixes; absent or empty: `ipv4-prefix` answers 404 */
  prefixes?: string[];
  /** `vpc-ipv4-cidr-blocks`, in this order; absent: 404 */
  vpcCidrs?: string[];
  /** the first N requests naming this MAC answer 404 and the MAC list leaves it out (an attach IMDS has not caught up with) */
  listedAfter?: number;
}

export interface ImdsState {
  interfaces: FakeEni[];
  /** `instance-id`; default i-0123456789abcdef0 */
  instanceId?: string;
  /** `local-ipv4`, the node's primary address; default 10.0.0.10 (in ENS5's subnet) */
  localIpv4?: string;
  /** forced HTTP status per path under `meta-data/` */
  fail?: Record<string, number>;
}

export interface FakeImds {
  endpoint: string;
  stop(): Promise<void>;
}

const SCRIPT = path.join(__dirname, 'fake-imds.cjs');
let generation = 0;

/** Writes the state the server reads on every request (a new generation: listedAfter counts again). */
export function writeImdsState(file: string, state: ImdsState): void {
  writeState(file, { ...state, generation: ++generation });
}

export async function startFakeImds(ns: Netns, stateFile: string): Promise<FakeImds> {
  const { port, stop } = await startListener(ns, SCRIPT, [stateFile], 'fake IMDS');
  return { endpoint: `http://127.0.0.1:${port}`, stop };
}
