/**
 * The taken addresses of one subnet as a bit set: one bit per address of the block, so a /16 (the
 * largest VPC subnet) costs 8 KiB whatever the number of ENIs in it. Pure: no AWS import, no I/O.
 */
import type { Ipv4Range } from './cidr';

export class AddressSet {
  private readonly words: Uint32Array;
  private count = 0;

  /** An empty set over `block` (a subnet's CIDR block); addresses outside it are ignored. */
  constructor(
    readonly block: Ipv4Range,
    words?: Uint32Array,
    count?: number,
  ) {
    const size = block.last - block.first + 1;
    this.words = words ?? new Uint32Array(Math.ceil(size / 32));
    if (count !== undefined) this.count = count;
  }

  /** How many addresses are in the set. */
  get size(): number {
    return this.count;
  }

  has(address: number): boolean {
    if (address < this.block.first || address > this.block.last) return false;
    const i = address - this.block.first;
    return (this.words[i >>> 5] & (1 << (i & 31))) !== 0;
  }

  /** Adds an address (nothing when it lies outside the block). */
  add(address: number): void {
    if (address < this.block.first || address > this.block.last) return;
    const i = address - this.block.first;
    const bit = 1 << (i & 31);
    const w = i >>> 5;
    if ((this.words[w] & bit) === 0) {
      this.words[w] |= bit;
      this.count++;
    }
  }

  /** Adds every address of the range that lies inside the block (a delegated prefix). */
  addRange(range: Ipv4Range): void {
    const first = Math.max(range.first, this.block.first);
    const last = Math.min(range.last, this.block.last);
    for (let a = first; a <= last; a++) this.add(a);
  }

  delete(address: number): void {
    if (!this.has(address)) return;
    const i = address - this.block.first;
    this.words[i >>> 5] &= ~(1 << (i & 31));
    this.count--;
  }

  deleteRange(range: Ipv4Range): void {
    for (let a = Math.max(range.first, this.block.first); a <= Math.min(range.last, this.block.last); a++) this.delete(a);
  }

  /** True when any address of the range is in the set. */
  intersects(range: Ipv4Range): boolean {
    for (let a = Math.max(range.first, this.block.first); a <= Math.min(range.last, this.block.last); a++) if (this.has(a)) return true;
    return false;
  }

  /** An independent copy (8 KiB for a /16). */
  clone(): AddressSet {
    return new AddressSet(this.block, this.words.slice(), this.count);
  }

  /** The addresses in ascending order. */
  sorted(): Uint32Array {
    const out = new Uint32Array(this.count);
    let n = 0;
    for (let w = 0; w < this.words.length; w++) {
      let word = this.words[w];
      while (word !== 0) {
        const low = word & -word;
        out[n++] = this.block.first + w * 32 + (31 - Math.clz32(low));
        word ^= low;
      }
    }
    return out;
  }
}
