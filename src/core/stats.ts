// Counters the bus keeps per driver and per subscription pattern; `bus.stats()` sums them.

/** What happened to messages after they reached a subscription. */
export interface Counters {
  delivered: number;
  acked: number;
  retried: number;
  deadLettered: number;
  dropped: number;
}

export interface BusStats extends Counters {
  published: number;
  byDriver: Record<string, { published: number }>;
  /** Keyed by subscription pattern (`pattern#group` for groups). */
  byPattern: Record<string, Counters>;
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
