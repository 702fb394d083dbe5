// Counters the bus keeps per driver and per subscription pattern; `bus.stats()` sums them.

import type { GroupLag } from './lag.js';

/** What happened to messages after they reached a subscription. */
export interface Counters {
  delivered: number;
  acked: number;
  retried: number;
  deadLettered: number;
  dropped: number;
}

/** A circuit breaker's state: 'open' holds messages back, 'half-open' lets one probe through. */
export type CircuitState = 'closed' | 'open' | 'half-open';

export interface CircuitStats {
  /** The worst among the key's live subscriptions: one open makes it 'open'. */
  state: CircuitState;
  /** How many times its circuits opened, failed probes re-opening included. */
  opened: number;
}

export interface PatternStats extends Counters {
  /** Only for subscriptions with a `circuitBreaker`. */
  circuit?: CircuitStats;
}

export interface BusStats extends Counters {
  published: number;
  byDriver: Record<string, { published: number }>;
  /** Keyed by subscription pattern (`pattern#group` for groups). */
  byPattern: Record<string, PatternStats>;
  /**
   * Consumer lag per group (keyed `pattern#group`, as `byPattern`), as of the last `bus.lag()`
   * call or metrics scrape: stats() stays synchronous and free, while asking a broker is
   * neither. Empty until lag was first fetched.
   */
  lag: Record<string, GroupLag>;
}

export function counters(): Counters {
  return { delivered: 0, acked: 0, retried: 0, deadLettered: 0, dropped: 0 };
}

export function addCounters(into: Counters, from: Counters): void {
  into.delivered += from.delivered;
  into.acked += from.acked;
  into.retried += from.retried;
  into.deadLettered += from.deadLettered;
  into.dropped += from.dropped;
}

/** How stats key a subscription: `pattern`, or `pattern#group` ('#' is not legal in a pattern). */
export function statsKey(pattern: string, group: string | undefined): string {
  return group === undefined ? pattern : `${pattern}#${group}`;
}

/** The pattern and group a stats key names. */
export function parseStatsKey(key: string): { pattern: string; group?: string } {
  const cut = key.indexOf('#');
  return cut === -1 ? { pattern: key } : { pattern: key.slice(0, cut), group: key.slice(cut + 1) };
}
