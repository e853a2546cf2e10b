/**
 * Making sure each multus device index of an instance holds our ENI in the right subnet: create
 * (tags at creation, IPv6 counts), delegated IPv4 prefixes (ipv4-prefixes-per-interface), IPv6
 * addresses and /80 prefixes (ipv6-addresses-per-interface, ipv6-prefixes-per-interface), attach,
 * DeleteOnTermination, source/dest check. Idempotent: ENIs already in place are kept (and given
 * the prefixes and IPv6 they lack), unattached ones of ours are adopted. On any failure every ENI
 * this call created or adopted is detached and deleted before the error propagates (its IPv6
 * addresses and prefixes go with it).
 */
import type { AttachmentView, Ec2Port, InstanceTypeView, InstanceView, InterfaceView, Ipv6Request, SubnetView, TaggedInstance } from '../ec2/port';
import { withCallDeadline } from '../budget';
import { AllocationError, asError, awsErrorCode } from '../errors';
import {
  countFreeBlocks,
  formatIpv4,
  freeAddresses,
  lowestFree,
  lowestFreeBlocks,
  parseCidr,
  parseIpv4,
  PREFIX_BLOCK_SIZE,
  type AddressSet,
  type Ipv4Cidr,
  type Ipv4Range,
  type UsedAddresses,
} from '../ipv4';
import type { Log } from '../log';
import { hasIpv4, hasIpv6, ipv6ForSubnet } from '../settings/ipv6';
import type { Settings } from '../settings/parse';
import { interfaceTags, TAG_INSTANCE_ID } from '../tags';
import type { SubnetMaps } from './maps';
import { isOurs, type SlotPlan } from './plan';
import { pastDeadline, releaseInterface, type ReleaseOptions } from './release';

export interface EnsuredInterface {
  readonly deviceIndex: number;
  readonly subnetId: string;
  readonly networkInterfaceId: string;
  readonly privateIpAddress: string | undefined;
  /** The IPv4 prefixes delegated to the ENI, as CIDR text. */
  readonly ipv4Prefixes: readonly string[];
  /** Its IPv6 addresses, and its delegated IPv6 /80 prefixes as CIDR text. */
  readonly ipv6Addresses: readonly string[];
  readonly ipv6Prefixes: readonly string[];
  /** What this call did for the slot. */
  readonly action: 'created' | 'adopted' | 'in-place';
}

export interface EnsureDeps {
  readonly ec2: Ec2Port;
  readonly log: Log;
  readonly release: ReleaseOptions;
  /** Bound on creates lost to concurrent launches, per ENI (lowest-free mode). */
  readonly maxAddressRaces: number;
  /** The opt-in tag key: nodes carrying it may be allocating at the same time. */
  readonly nodeTagKey: string;
  /**
   * Epoch ms after which no new step starts (the function is about to time out): the work
   * stops, rolls back and the lifecycle action still gets its answer.
   */
  readonly deadline?: number;
  /** The container's maps of its lowest-free subnets: what this call learns goes there too. */
  readonly maps?: SubnetMaps;
}

export interface EnsureRequest {
  readonly instance: InstanceView;
  readonly plans: readonly SlotPlan[];
  readonly subnets: ReadonlyMap<string, SubnetView>;
  /** The ENIs of ours EC2 listed: in the slots' subnets (a whole read) or with our tag. */
  readonly known: readonly InterfaceView[];
  /**
   * Lowest-free mode: the addresses held in each slot's subnet, as read (whole, or the container's
   * map of it); this call's own copies, which it updates as it learns.
   */
  readonly held?: ReadonlyMap<string, AddressSet>;
  /** Unattached ENIs of ours that no slot adopts; deleted if the call fails. */
  readonly strays: readonly InterfaceView[];
  readonly settings: Settings;
  /**
   * The security groups of the ENIs this call creates, as `interfaceGroups` (groups.ts) resolved
   * the setting for this node; undefined: the VPC default. (`settings.securityGroups` is not read here.)
   */
  readonly securityGroups?: readonly string[];
  /** The node's instance type (whether it takes IPv6: the default of ipv6-addresses-per-interface). */
  readonly instanceType?: InstanceTypeView;
}

/** Raised after rollback; `cause` is the original failure. */
export class EnsureError extends Error {
  override readonly name = 'EnsureError';
  constructor(
    message: string,
    override readonly cause: Error,
    readonly rolledBack: readonly string[],
    readonly leaked: readonly string[],
    /** Address (or prefix) races lost before the failure. */
    readonly racesLost = 0,
  ) {
    super(message);
  }
}

/**
 * The free addresses from the `rank`-th lowest on (or from the highest free one, when fewer than
 * rank + 1 are free: the rank counts peers that may never take an address here).
 */
function* fromRank(cidr: Ipv4Cidr, taken: UsedAddresses, rank: number): Generator<number, void, undefined> {
  const window = lowestFree(cidr, taken, rank + 1);
  if (window.length === 0) return;
  const start = window[window.length - 1];
  yield start;
  for (const a of freeAddresses(cidr, taken)) if (a > start) yield a;
}

/** Codes EC2 uses when the requested private address is taken. */
const ADDRESS_IN_USE_CODES = new Set(['InvalidIPAddress.InUse', 'PrivateIpAddressInUse']);
/** Generic codes that may or may not mean "address taken": re-read state to decide. */
const GENERIC_CODES = new Set(['InvalidParameterValue', 'InvalidParameterCombination', 'InvalidParameter']);
/** Codes that may mean "a requested prefix is taken" (EC2 documents none for it): re-read state to decide. */
const PREFIX_RACE_CODES = new Set([...ADDRESS_IN_USE_CODES, ...GENERIC_CODES, 'InsufficientCidrBlocks']);

/**
 * What is taken in one subnet, as this call knows it: the addresses ENIs hold (delegated prefixes
 * included) and the subnet's CIDR reservations by kind. Addresses are never taken from a
 * reservation; prefixes are taken from `prefix` reservations first and never from `explicit` ones.
 */
class SubnetUsage {
  constructor(
    public held: AddressSet,
    readonly explicit: readonly Ipv4Range[],
    readonly prefixReserved: readonly Ipv4Range[],
  ) {}
  forAddresses(): UsedAddresses {
    return { addresses: this.held, ranges: [...this.explicit, ...this.prefixReserved] };
  }
  forPrefixes(): UsedAddresses {
    return { addresses: this.held, ranges: this.explicit };
  }
}

const prefixText = (block: number) => `${formatIpv4(block)}/28`;
const rangeOf = (cidr: string): Ipv4Range => {
  const c = parseCidr(cidr);
  return { first: c.first, last: c.last };
};

export const DEFAULT_MAX_ADDRESS_RACES = 128;
/** Attach errors that settle by themselves: a just-created ENI not yet visible, an instance still pending. */
const SETTLING_CODES = new Set(['InvalidNetworkInterfaceID.NotFound', 'IncorrectInstanceState', 'IncorrectState']);
/** Nodes launched this recently may still be waiting on their hook for addresses. */
const LAUNCH_WINDOW_MS = 15 * 60_000;
/**
 * Free candidates an address window asks EC2 about after a lost race: twice the nodes still
 * waiting and a few more, so that the candidate of this node's rank is among them; one filter
 * (at most 200 values), one call.
 */
const WINDOW_MIN = 16;
const WINDOW_MAX = 99;

class Ensurer {
  /** ENIs this call created or adopted, in order: what rollback removes. */
  private readonly owned: string[] = [];
  /** What is taken in each subnet, as this call knows it. */
  private readonly taken = new Map<string, SubnetUsage>();
  racesLost = 0;
  /** Address windows read after lost races, and whole re-reads of a subnet. */
  windows = 0;
  wholeRereads = 0;
  /** Opted-in nodes of the AZ launched recently (read once, on the first lost race). */
  private peers: TaggedInstance[] | undefined;
  /** Per subnet, the owners seen holding an ENI of ours there (any, and one with all its prefixes). */
  private readonly served = new Map<string, { any: Set<string>; prefixes: Set<string> }>();
  /** Subnets read whole again by this call. */
  private readonly reread = new Set<string>();

  constructor(
    private readonly deps: EnsureDeps,
    private readonly request: EnsureRequest,
  ) {}

  async run(): Promise<EnsuredInterface[]> {
    await this.checkRoom();
    const out: EnsuredInterface[] = [];
    for (const plan of this.request.plans) out.push(await this.ensureSlot(plan));
    return out;
  }

  /** Prefixes each slot still lacks (all of them for an ENI to create). */
  private missingPrefixes(plan: SlotPlan): number {
    const have = plan.kind === 'create' ? 0 : plan.eni.ipv4Prefixes.length;
    return Math.max(0, this.request.settings.ipv4PrefixesPerInterface - have);
  }

  /**
   * Every subnet has room for what its slots need, checked before anything is created, at no extra
   * call. Lowest-free mode: free addresses and (with prefixes) free aligned /28 blocks, from the
   * subnet read already made. EC2-picks mode: the subnet's free-address count from DescribeSubnets
   * (a prefix takes 16).
   */
  private async checkRoom(): Promise<void> {
    const { settings, plans } = this.request;
    const need = new Map<string, { addresses: number; blocks: number }>();
    for (const plan of plans) {
      const n = need.get(plan.subnetId) ?? { addresses: 0, blocks: 0 };
      if (plan.kind === 'create') n.addresses++;
      n.blocks += this.missingPrefixes(plan);
      need.set(plan.subnetId, n);
    }
    for (const [subnetId, n] of need) {
      if (n.addresses === 0 && n.blocks === 0) continue;
      const subnet = this.request.subnets.get(subnetId);
      if (!subnet) throw new Error(`subnet ${subnetId} was not described`);
      // IPv6-only: no IPv4 address to find room for (and EC2 counts none free there).
      if (!hasIpv4(subnet)) continue;
      const where = `subnet ${subnetId} (${subnet.cidrBlock})`;
      if (!settings.useIpsFromStartOfSubnet) {
        const wanted = n.addresses + n.blocks * PREFIX_BLOCK_SIZE;
        const free = subnet.availableIpAddressCount;
        if (free !== undefined && free < wanted) throw new AllocationError(`${where} has ${free} free IPv4 addresses, ${wanted} needed`);
        continue;
      }
      const cidr = parseCidr(subnet.cidrBlock);
      const taken = await this.takenIn(subnetId);
      const freeAddresses = lowestFree(cidr, taken.forAddresses(), n.addresses).length;
      if (freeAddresses < n.addresses) throw new AllocationError(`${where} has ${freeAddresses} free IPv4 address${freeAddresses === 1 ? '' : 'es'}, ${n.addresses} needed`);
      if (n.blocks === 0) continue;
      const free = countFreeBlocks(cidr, taken.forPrefixes(), n.blocks);
      if (free < n.blocks) {
        throw new AllocationError(`${where} has ${free} free aligned /28 block${free === 1 ? '' : 's'} for IPv4 prefixes, ${n.blocks} needed`);
      }
    }
  }

  private async ensureSlot(plan: SlotPlan): Promise<EnsuredInterface> {
    if (pastDeadline(this.deps.deadline)) {
      throw new AllocationError(`ran out of time before device index ${plan.deviceIndex} (the function is about to time out)`);
    }
    const { ec2 } = this.deps;
    const wantSdc = this.request.settings.sourceDestCheck;
    if (plan.kind === 'in-place') {
      if (plan.fixDeleteOnTermination) await ec2.setDeleteOnTermination(plan.eni.networkInterfaceId, plan.attachmentId, true);
      if (plan.fixSourceDestCheck) await ec2.setSourceDestCheck(plan.eni.networkInterfaceId, wantSdc);
      return this.result(plan, await this.giveIpv6(plan, await this.givePrefixes(plan, plan.eni)), 'in-place');
    }
    let eni: InterfaceView;
    if (plan.kind === 'adopt') {
      eni = plan.eni;
      this.owned.push(eni.networkInterfaceId);
      this.deps.log.info('adopting an unattached ENI of ours from an earlier delivery', {
        networkInterfaceId: eni.networkInterfaceId,
        deviceIndex: plan.deviceIndex,
      });
    } else {
      eni = await this.create(plan);
    }
    // Prefixes right after the create (EC2 takes none with a specific primary address), and those an adopted ENI lacks;
    // then the IPv6 the create could not carry (one IPv6 kind per create) or an adopted ENI lacks.
    eni = await this.giveIpv6(plan, await this.givePrefixes(plan, eni));
    const attached = await this.attach(eni, plan);
    if (attached.winner) {
      // Another delivery attached first (or our attach succeeded but its answer was lost): make
      // sure the attachment is as a complete slot would be.
      const { winner, attachment } = attached;
      if (attachment.deleteOnTermination !== true) await ec2.setDeleteOnTermination(winner.networkInterfaceId, attachment.attachmentId, true);
      if (winner.sourceDestCheck !== wantSdc) await ec2.setSourceDestCheck(winner.networkInterfaceId, wantSdc);
      return this.result(plan, winner, winner.networkInterfaceId === eni.networkInterfaceId ? (plan.kind === 'create' ? 'created' : 'adopted') : 'in-place');
    }
    await ec2.setDeleteOnTermination(eni.networkInterfaceId, attached.attachmentId, true);
    // A new ENI starts with the check on (EC2's default); skip the call when that is what we want.
    if (plan.kind === 'create' ? wantSdc !== true : eni.sourceDestCheck !== wantSdc) {
      await ec2.setSourceDestCheck(eni.networkInterfaceId, wantSdc);
    }
    return this.result(plan, eni, plan.kind === 'create' ? 'created' : 'adopted');
  }

  private result(plan: SlotPlan, eni: InterfaceView, action: EnsuredInterface['action']): EnsuredInterface {
    return {
      deviceIndex: plan.deviceIndex,
      subnetId: plan.subnetId,
      networkInterfaceId: eni.networkInterfaceId,
      privateIpAddress: eni.privateIpAddress,
      ipv4Prefixes: eni.ipv4Prefixes,
      ipv6Addresses: eni.ipv6Addresses,
      ipv6Prefixes: eni.ipv6Prefixes,
      action,
    };
  }

  /** The IPv6 each ENI of the slot's subnet gets (EC2 picks it: no lowest-free for IPv6). */
  private ipv6For(plan: SlotPlan): Ipv6Request & { readonly subnetHasIpv6: boolean } {
    const subnet = this.request.subnets.get(plan.subnetId);
    if (!subnet) throw new Error(`subnet ${plan.subnetId} was not described`);
    return { ...ipv6ForSubnet(this.request.settings, subnet, this.request.instanceType), subnetHasIpv6: hasIpv6(subnet) };
  }

  /** Gives the ENI the IPv6 addresses and /80 prefixes it lacks (AssignIpv6Addresses; none when it has them). */
  private async giveIpv6(plan: SlotPlan, eni: InterfaceView): Promise<InterfaceView> {
    const want = this.ipv6For(plan);
    const missing = { addresses: Math.max(0, want.addresses - eni.ipv6Addresses.length), prefixes: Math.max(0, want.prefixes - eni.ipv6Prefixes.length) };
    if (missing.addresses === 0 && missing.prefixes === 0) return eni;
    const got = await this.deps.ec2.assignIpv6(eni.networkInterfaceId, missing);
    return { ...eni, ipv6Addresses: [...eni.ipv6Addresses, ...got.addresses], ipv6Prefixes: [...eni.ipv6Prefixes, ...got.prefixes] };
  }

  private request_(plan: SlotPlan, privateIpAddress?: string) {
    const { instance, settings } = this.request;
    const ipv6 = this.ipv6For(plan);
    return {
      subnetId: plan.subnetId,
      securityGroups: this.request.securityGroups,
      privateIpAddress,
      // EC2 picks the prefixes with the create when it picks the address.
      ipv4PrefixCount: privateIpAddress === undefined && settings.ipv4PrefixesPerInterface > 0 ? settings.ipv4PrefixesPerInterface : undefined,
      // One IPv6 kind per create (EC2 refuses two): the addresses, else the prefixes; the prefixes
      // of an ENI that also gets addresses follow in one AssignIpv6Addresses. A specific primary
      // IPv4 address combines with either. 0 addresses where the subnet has IPv6 overrides its auto-assign.
      ipv6AddressCount: ipv6.addresses > 0 ? ipv6.addresses : ipv6.prefixes === 0 && ipv6.subnetHasIpv6 ? 0 : undefined,
      ipv6PrefixCount: ipv6.addresses === 0 && ipv6.prefixes > 0 ? ipv6.prefixes : undefined,
      description: `eks-multus-eni: ${instance.instanceId} device ${plan.deviceIndex}`,
      tags: interfaceTags(instance.instanceId, plan.deviceIndex, settings.interfaceTags),
    };
  }

  private async create(plan: SlotPlan): Promise<InterfaceView> {
    const { ec2 } = this.deps;
    const subnet = this.request.subnets.get(plan.subnetId);
    if (!subnet) throw new Error(`subnet ${plan.subnetId} was not described`);
    // Lowest-free is IPv4 only: in an IPv6-only subnet EC2 picks every address.
    if (!this.request.settings.useIpsFromStartOfSubnet || !hasIpv4(subnet)) {
      const eni = await ec2.createInterface(this.request_(plan));
      this.owned.push(eni.networkInterfaceId);
      return eni;
    }
    const cidr = parseCidr(subnet.cidrBlock);
    const taken = await this.takenIn(plan.subnetId);
    let candidates = freeAddresses(cidr, taken.forAddresses());
    let losses = 0;
    for (;;) {
      const next = candidates.next();
      if (next.done) {
        throw new AllocationError(`subnet ${plan.subnetId} (${subnet.cidrBlock}) has no free IPv4 address left`);
      }
      const address = formatIpv4(next.value);
      try {
        const eni = await ec2.createInterface(this.request_(plan, address));
        this.owned.push(eni.networkInterfaceId);
        this.hold(plan.subnetId, [next.value]);
        return eni;
      } catch (err) {
        const code = awsErrorCode(err);
        const inUse = code !== undefined && ADDRESS_IN_USE_CODES.has(code);
        if (!inUse && !(code !== undefined && GENERIC_CODES.has(code))) throw err;
        if (!(await this.lostAddress(plan.subnetId, cidr, next.value, inUse))) throw err;
        losses++;
        this.racesLost++;
        if (pastDeadline(this.deps.deadline)) {
          throw new AllocationError(`ran out of time in subnet ${plan.subnetId} after ${losses} addresses were taken by concurrent launches`);
        }
        if (losses >= this.deps.maxAddressRaces) {
          throw new AllocationError(
            `gave up on subnet ${plan.subnetId} after ${losses} addresses were taken by concurrent launches`,
          );
        }
        // Take the free address whose rank among the free ones is this node's rank among the
        // nodes still waiting for an address in the subnet: concurrent launches then spread over
        // the lowest free addresses instead of all racing for the next.
        const rank = await this.rankAmongLaunching(plan.subnetId, 'any');
        this.deps.log.info('address taken by a concurrent launch; moving on', { subnetId: plan.subnetId, address, losses, rank });
        candidates = fromRank(cidr, taken.forAddresses(), rank);
      }
    }
  }

  /**
   * After a create refused for its address: what EC2 now holds among the candidates, from one
   * address window (the refused address and the lowest free ones after it, `addresses.private-ip-address`).
   * True when the address is taken (a race lost): a holder shows it, or EC2 said InUse. An InUse
   * that no window explains is an address inside a prefix delegated since the subnet was read (no
   * filter matches those): then, once per subnet and call, the subnet is read whole again.
   * A generic refusal with no holder is not a race.
   */
  private async lostAddress(subnetId: string, cidr: Ipv4Cidr, address: number, inUse: boolean): Promise<boolean> {
    const taken = await this.takenIn(subnetId);
    await this.loadPeers();
    const probe = taken.held.clone();
    probe.add(address);
    const size = Math.min(WINDOW_MAX, Math.max(WINDOW_MIN, 2 * this.waiting(subnetId, 'any').length + 4));
    const window = lowestFree(cidr, { addresses: probe, ranges: taken.forAddresses().ranges }, size);
    const text = formatIpv4(address);
    const holders = await this.deps.ec2.describeInterfacesWithAddresses(subnetId, [text, ...window.map(formatIpv4)]);
    this.windows++;
    this.noteHolders(subnetId, holders);
    let explained = holders.some((e) => e.privateIpAddresses.includes(text));
    if (!explained && inUse && !this.reread.has(subnetId)) {
      await this.rereadWhole(subnetId, cidr);
      explained = taken.held.has(address);
    }
    if (!explained && !inUse) return false;
    this.hold(subnetId, [address]);
    return true;
  }

  /**
   * Delegates the prefixes the ENI lacks (none when it has its ipv4-prefixes-per-interface already).
   * EC2-picks mode: a count. Lowest-free mode: the lowest free aligned /28 blocks (prefix
   * reservations first), and a block taken meanwhile by a concurrent launch moves on to the next
   * free ones, by this node's rank among the launches still waiting, like addresses.
   */
  private async givePrefixes(plan: SlotPlan, eni: InterfaceView): Promise<InterfaceView> {
    const missing = this.request.settings.ipv4PrefixesPerInterface - eni.ipv4Prefixes.length;
    if (missing <= 0) return eni;
    const { ec2 } = this.deps;
    const withPrefixes = (got: readonly string[]) => ({ ...eni, ipv4Prefixes: [...eni.ipv4Prefixes, ...got] });
    if (!this.request.settings.useIpsFromStartOfSubnet) return withPrefixes(await ec2.assignPrefixes(eni.networkInterfaceId, { count: missing }));
    const subnet = this.request.subnets.get(plan.subnetId);
    if (!subnet) throw new Error(`subnet ${plan.subnetId} was not described`);
    const cidr = parseCidr(subnet.cidrBlock);
    const taken = await this.takenIn(plan.subnetId);
    let skip = 0;
    let losses = 0;
    for (;;) {
      const used = taken.forPrefixes();
      let blocks = lowestFreeBlocks(cidr, used, missing, { preferred: taken.prefixReserved, skip });
      // Fewer free blocks than the rank skips: take the lowest ones after all.
      if (blocks.length < missing && skip > 0) blocks = lowestFreeBlocks(cidr, used, missing, { preferred: taken.prefixReserved });
      if (blocks.length < missing) {
        throw new AllocationError(`subnet ${plan.subnetId} (${subnet.cidrBlock}) has ${blocks.length} free aligned /28 block${blocks.length === 1 ? '' : 's'} for IPv4 prefixes, ${missing} needed`);
      }
      const prefixes = blocks.map(prefixText);
      try {
        const got = await ec2.assignPrefixes(eni.networkInterfaceId, { prefixes });
        const assigned = got.length > 0 ? got : prefixes;
        this.hold(plan.subnetId, [], assigned.map(rangeOf));
        return withPrefixes(assigned);
      } catch (err) {
        const code = awsErrorCode(err);
        if (!code || !PREFIX_RACE_CODES.has(code)) throw err;
        if (!(await this.lostBlocks(plan.subnetId, cidr, blocks, eni.networkInterfaceId))) throw err;
        losses++;
        this.racesLost++;
        if (pastDeadline(this.deps.deadline)) {
          throw new AllocationError(`ran out of time in subnet ${plan.subnetId} after ${losses} prefixes were taken by concurrent launches`);
        }
        if (losses >= this.deps.maxAddressRaces) {
          throw new AllocationError(`gave up on IPv4 prefixes in subnet ${plan.subnetId} after ${losses} were taken by concurrent launches`);
        }
        const rank = await this.rankAmongLaunching(plan.subnetId, 'prefixes');
        skip = rank * missing;
        this.deps.log.info('IPv4 prefix taken by a concurrent launch; moving on', { subnetId: plan.subnetId, prefixes, losses, rank, code });
      }
    }
  }

  /**
   * After blocks were refused: whether another ENI holds something in them (a race lost). First an
   * address window over the blocks' addresses; when no ENI holds an address there, only the whole
   * subnet can tell (no filter matches a delegated prefix): it is read again. The ENI the blocks
   * were for does not count (an assignment carried out whose answer was lost is not a race).
   */
  private async lostBlocks(subnetId: string, cidr: Ipv4Cidr, blocks: readonly number[], eniId: string): Promise<boolean> {
    await this.loadPeers();
    const addresses = blocks.flatMap((b) => Array.from({ length: PREFIX_BLOCK_SIZE }, (_, i) => formatIpv4(b + i)));
    const holders = (await this.deps.ec2.describeInterfacesWithAddresses(subnetId, addresses)).filter((e) => e.networkInterfaceId !== eniId);
    this.windows++;
    this.noteHolders(subnetId, holders);
    if (holders.length > 0) return true;
    const mine = (await this.rereadWhole(subnetId, cidr)).find((e) => e.networkInterfaceId === eniId);
    const others = (await this.takenIn(subnetId)).held.clone();
    for (const a of mine?.privateIpAddresses ?? []) others.delete(parseIpv4(a));
    for (const p of mine?.ipv4Prefixes ?? []) others.deleteRange(rangeOf(p));
    return blocks.some((b) => others.intersects({ first: b, last: b + PREFIX_BLOCK_SIZE - 1 }));
  }

  /** Addresses and ranges now held in the subnet (taken by this call, or shown by EC2): in this call's copy and the container's map. */
  private hold(subnetId: string, addresses: readonly number[], ranges: readonly Ipv4Range[] = []): void {
    const usage = this.taken.get(subnetId);
    for (const a of addresses) usage?.held.add(a);
    for (const r of ranges) usage?.held.addRange(r);
    this.deps.maps?.learn(subnetId, addresses, ranges);
  }

  private servedIn(subnetId: string): { any: Set<string>; prefixes: Set<string> } {
    let entry = this.served.get(subnetId);
    if (!entry) this.served.set(subnetId, (entry = { any: new Set(), prefixes: new Set() }));
    return entry;
  }

  /** What ENIs EC2 showed hold in the subnet, and which owners they show served there. */
  private noteHolders(subnetId: string, enis: readonly InterfaceView[]): void {
    const want = this.request.settings.ipv4PrefixesPerInterface;
    for (const e of enis) {
      if (e.subnetId !== subnetId) continue;
      this.hold(subnetId, e.privateIpAddresses.map(parseIpv4), e.ipv4Prefixes.map(rangeOf));
      const owner = e.tags[TAG_INSTANCE_ID];
      if (!owner) continue;
      this.servedIn(subnetId).any.add(owner);
      if (e.ipv4Prefixes.length >= want) this.servedIn(subnetId).prefixes.add(owner);
    }
  }

  /**
   * The subnet read whole again (a refusal no window explains): this call's copy and the
   * container's map are replaced, the launching peers seen there count as served. Returns the
   * subnet's ENIs of this node.
   */
  private async rereadWhole(subnetId: string, cidr: Ipv4Cidr): Promise<InterfaceView[]> {
    const usage = await this.takenIn(subnetId);
    const scan = await this.deps.ec2.scanSubnets({
      subnets: [{ subnetId, block: cidr }],
      ownerTag: TAG_INSTANCE_ID,
      keep: this.request.instance.instanceId,
      watch: new Set((this.peers ?? []).map((p) => p.instanceId)),
    });
    this.wholeRereads++;
    this.reread.add(subnetId);
    const held = scan.held.get(subnetId);
    if (held) {
      usage.held = held;
      this.deps.maps?.put(subnetId, held);
    }
    // A peer's ENI seen in the read: served (how many prefixes it holds is not read).
    for (const owner of scan.owners.get(subnetId) ?? []) {
      this.servedIn(subnetId).any.add(owner);
      this.servedIn(subnetId).prefixes.add(owner);
    }
    return scan.kept;
  }

  /** Opted-in nodes of the AZ launched recently: read once per call, on its first lost race. */
  private async loadPeers(): Promise<void> {
    if (this.peers) return;
    const { instance } = this.request;
    try {
      // The AZ is matched here: moto drops everything when DescribeInstances has an
      // availability-zone filter, and the list of opted-in nodes is small.
      const since = Date.now() - LAUNCH_WINDOW_MS;
      this.peers = (await this.deps.ec2.describeTaggedInstances(this.deps.nodeTagKey, ['pending', 'running'])).filter(
        (i) => i.availabilityZone === instance.availabilityZone && (!i.launchTime || i.launchTime.getTime() >= since),
      );
    } catch (err) {
      this.deps.log.warn('could not list concurrently launching nodes; taking the next free address', { error: asError(err) });
      this.peers = [];
    }
  }

  /**
   * The launching nodes not yet served in the subnet, and this node, sorted by instance id. Served:
   * an interface of the node attached in the subnet when the peers were read (an ENI gets its
   * prefixes before its attach), or an ENI of its own there that a window or a re-read showed
   * (`prefixes`: one holding all its prefixes).
   */
  private waiting(subnetId: string, kind: 'any' | 'prefixes'): string[] {
    const self = this.request.instance.instanceId;
    const peers = this.peers ?? [];
    const done = new Set([...peers.filter((p) => p.subnetIds.includes(subnetId)).map((p) => p.instanceId), ...this.servedIn(subnetId)[kind]]);
    return [...new Set([...peers.map((p) => p.instanceId), self])].filter((id) => id === self || !done.has(id)).sort();
  }

  /** This node's position among the launching nodes still waiting in the subnet; 0 when that cannot be told. */
  private async rankAmongLaunching(subnetId: string, kind: 'any' | 'prefixes'): Promise<number> {
    await this.loadPeers();
    return Math.max(0, this.waiting(subnetId, kind).indexOf(this.request.instance.instanceId));
  }

  private async takenIn(subnetId: string): Promise<SubnetUsage> {
    const cached = this.taken.get(subnetId);
    if (cached) return cached;
    const held = this.request.held?.get(subnetId);
    if (!held) throw new Error(`subnet ${subnetId} was not read`);
    const reservations = await this.deps.ec2.describeCidrReservations(subnetId);
    const entry = new SubnetUsage(
      held,
      reservations.filter((r) => r.kind !== 'prefix'),
      reservations.filter((r) => r.kind === 'prefix'),
    );
    this.taken.set(subnetId, entry);
    return entry;
  }

  /**
   * Attaches at the slot's device index. When that fails, re-read the instance: a concurrent
   * delivery of the same event may hold the index with an ENI of ours, which then wins, and ours
   * (if we created it) is deleted.
   */
  private async attach(
    eni: InterfaceView,
    plan: SlotPlan,
  ): Promise<{ attachmentId: string; winner?: undefined } | { winner: InterfaceView; attachment: AttachmentView; attachmentId?: undefined }> {
    const { ec2 } = this.deps;
    const { instance } = this.request;
    try {
      return { attachmentId: await this.attachWithSettling(eni.networkInterfaceId, plan.deviceIndex) };
    } catch (err) {
      const now = await ec2.describeInstance(instance.instanceId);
      const holder = now?.interfaces.find((a) => a.attachment.deviceIndex === plan.deviceIndex && (a.attachment.networkCardIndex ?? 0) === 0);
      if (!holder) throw err;
      const holderEni = await ec2.describeInterface(holder.networkInterfaceId);
      if (!holderEni || !isOurs(holderEni, instance.instanceId) || holderEni.subnetId !== plan.subnetId) throw err;
      if (holderEni.networkInterfaceId !== eni.networkInterfaceId) {
        this.deps.log.info('a concurrent delivery attached this device index first; dropping our duplicate', {
          deviceIndex: plan.deviceIndex,
          kept: holderEni.networkInterfaceId,
          dropped: eni.networkInterfaceId,
          cause: awsErrorCode(err),
        });
        await ec2.deleteInterface(eni.networkInterfaceId);
        // The winner belongs to the other delivery: a rollback of ours must not take it away.
        const index = this.owned.indexOf(eni.networkInterfaceId);
        if (index >= 0) this.owned.splice(index, 1);
      }
      return { winner: holderEni, attachment: holder.attachment };
    }
  }

  /**
   * AttachNetworkInterface, riding out what settles by itself: an ENI created a moment ago that
   * EC2 does not show yet (InvalidNetworkInterfaceID.NotFound: eventual consistency) and an
   * instance still `pending` (IncorrectInstanceState). Polls with backoff, bounded.
   */
  private async attachWithSettling(networkInterfaceId: string, deviceIndex: number): Promise<string> {
    const { ec2, release } = this.deps;
    let waited = 0;
    let delay = 250;
    for (;;) {
      try {
        return await ec2.attachInterface(networkInterfaceId, this.request.instance.instanceId, deviceIndex);
      } catch (err) {
        const code = awsErrorCode(err);
        if (!code || !SETTLING_CODES.has(code) || waited >= release.detachTimeoutMs || pastDeadline(this.deps.deadline)) throw err;
        this.deps.log.info('attach not possible yet; waiting', { networkInterfaceId, deviceIndex, code, waitedMs: waited });
        await release.sleep(delay);
        waited += delay;
        delay = Math.min(delay * 2, 5_000);
      }
    }
  }

  /** Detaches and deletes what this call created or adopted, and the strays; returns [removed, leaked]. */
  async rollback(): Promise<[string[], string[]]> {
    const removed: string[] = [];
    const leaked: string[] = [];
    const targets = [...this.owned.reverse(), ...this.request.strays.map((s) => s.networkInterfaceId)];
    for (const id of new Set(targets)) {
      try {
        await releaseInterface(this.deps.ec2, id, this.deps.release);
        removed.push(id);
      } catch (err) {
        leaked.push(id);
        this.deps.log.error('rollback could not delete an ENI; the orphan sweeper will retry', {
          networkInterfaceId: id,
          error: asError(err),
        });
      }
    }
    return [removed, leaked];
  }
}

/**
 * Result of ensureInterfaces: the interfaces per device index, how many address races were lost,
 * and what they cost: address windows read, subnets read whole again.
 */
export interface EnsureOutcome {
  readonly interfaces: EnsuredInterface[];
  readonly racesLost: number;
  readonly windows: number;
  readonly wholeRereads: number;
}

export async function ensureInterfaces(deps: EnsureDeps, request: EnsureRequest): Promise<EnsureOutcome> {
  const ensurer = new Ensurer(deps, request);
  try {
    return { interfaces: await ensurer.run(), racesLost: ensurer.racesLost, windows: ensurer.windows, wholeRereads: ensurer.wholeRereads };
  } catch (err) {
    const cause = asError(err);
    // The rollback runs after the work's calls were stopped: its own, later deadline.
    const [removed, leaked] = await withCallDeadline({ deadline: deps.release.deadline, what: 'the rollback', fresh: true }, () => ensurer.rollback());
    // The cause's name is the AWS error code (or our error class): the reason says which.
    const named = cause.name && cause.name !== 'Error' ? `${cause.name}: ${cause.message}` : cause.message;
    throw new EnsureError(named, cause, removed, leaked, ensurer.racesLost);
  }
}
