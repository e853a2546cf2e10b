/**
 * What a warm container knows of its lowest-free subnets between launches: for each, the
 * addresses held when it was last read whole (a bit set, 8 KiB for a /16), plus what launches of
 * this container learned since (the addresses and prefixes they took, the ENIs an address window
 * showed after a lost race). A map is used for the cache age (the settings' max age) from its
 * whole read; learning does not make it younger. Launches work on copies, so that a launch's
 * candidates never leak into another's before EC2 has accepted them.
 *
 * What a map cannot know: an address freed since its read (a terminated node's ENI deleted) is not
 * handed out again until the next whole read; an address or prefix taken since by another
 * container or tool is found when EC2 refuses it (see ensure.ts).
 */
import type { AddressSet, Ipv4Range } from '../ipv4';

export class SubnetMaps {
  private readonly maps = new Map<string, { held: AddressSet; readAt: number }>();

  constructor(
    private readonly maxAgeMs: () => number,
    private readonly now: () => number = Date.now,
  ) {}

  /** A copy of the subnet's map when one younger than the cache age exists. */
  get(subnetId: string): AddressSet | undefined {
    const entry = this.maps.get(subnetId);
    if (!entry || this.now() - entry.readAt >= this.maxAgeMs()) return undefined;
    return entry.held.clone();
  }

  /** Keeps a copy of a subnet just read whole (nothing when caching is off). */
  put(subnetId: string, held: AddressSet, readAt = this.now()): void {
    if (this.maxAgeMs() <= 0) return;
    this.maps.set(subnetId, { held: held.clone(), readAt });
  }

  /** Adds addresses and ranges now known to be held to the subnet's map, if it has one. */
  learn(subnetId: string, addresses: readonly number[], ranges: readonly Ipv4Range[] = []): void {
    const entry = this.maps.get(subnetId);
    if (!entry) return;
    for (const a of addresses) entry.held.add(a);
    for (const r of ranges) entry.held.addRange(r);
  }

  clear(): void {
    this.maps.clear();
  }
}
