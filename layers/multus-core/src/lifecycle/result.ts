/** What the lifecycle handler returns (DESIGN.md, "Result"). */
import type { LifecycleResult } from '../settings/parse';

/** `reconciled` answers a reconcile invocation (an addition to the DESIGN.md outcomes). */
export type Outcome = 'attached' | 'skipped' | 'failed' | 'released' | 'ignored' | 'reconciled';

export interface InterfaceResult {
  readonly deviceIndex: number;
  readonly subnetId: string;
  readonly networkInterfaceId: string;
  /** The primary IPv4 address; null for an ENI of an IPv6-only subnet, which has none. */
  readonly privateIpAddress: string | null;
  /** IPv4 prefixes delegated to the ENI (ipv4-prefixes-per-interface), as CIDR text. */
  readonly ipv4Prefixes: string[];
  /** The ENI's IPv6 addresses (ipv6-addresses-per-interface; EC2 picks them). */
  readonly ipv6Addresses: string[];
  /** IPv6 /80 prefixes delegated to the ENI (ipv6-prefixes-per-interface), as CIDR text. */
  readonly ipv6Prefixes: string[];
}

export interface HandlerResult {
  readonly outcome: Outcome;
  readonly lifecycleResult: LifecycleResult | null;
  readonly instanceId: string | null;
  readonly interfaces: InterfaceResult[];
  readonly reason?: string;
  readonly availabilityZone?: string;
  /** `completed`, or `already-complete` when an earlier delivery completed the action. */
  readonly completion?: string;
  /** Reconcile only: what was (or would be) done on each node. */
  readonly reconcile?: import('../reconcile/reconcile').ReconcileReport;
}
