/** A small time-to-live cache for values that change rarely (subnets, instance types, reservations). */
export class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; expires: number }>();
  constructor(
    private readonly maxAgeMs: () => number,
    private readonly now: () => number = Date.now,
  ) {}

  /** The cached value for `key`, or the result of `load` (cached when it resolves). */
  async get(key: string, load: () => Promise<V>): Promise<V> {
    const hit = this.entries.get(key);
    const now = this.now();
    if (hit && hit.expires > now) return hit.value;
    const value = await load();
    const maxAge = this.maxAgeMs();
    if (maxAge > 0) this.entries.set(key, { value, expires: now + maxAge });
    return value;
  }

  clear(): void {
    this.entries.clear();
  }
}
