// GET /v1/stats: what the dashboard shows besides the live tail, cut to what one token may
// see: the bus's subscriptions with their counters, recent failures, and the gateway's own
// connection figures.

import type { Bus } from '../core/bus.js';
import type { Counters } from '../core/stats.js';
import type { Principal } from './auth.js';
import type { RecentFailure } from './recent-failures.js';

export interface SubscriptionFigures extends Counters {
  pattern: string;
  group?: string;
}

export interface StatsView {
  gateway: { path: string; connections: number; streams: number; uptimeMs: number };
  drivers: string[];
  subscriptions: SubscriptionFigures[];
  failures: RecentFailure[];
}

/** The bus's per-pattern counters (keyed `pattern` or `pattern#group`) the principal may read, by its own names. */
export function subscriptionsVisibleTo(bus: Bus, principal: Principal): SubscriptionFigures[] {
  const visible: SubscriptionFigures[] = [];
  for (const [key, figures] of Object.entries(bus.stats().byPattern)) {
    // '#' is not legal in a pattern, so the first one ends it.
    const cut = key.indexOf('#');
    const pattern = principal.ownTopic(cut === -1 ? key : key.slice(0, cut));
    if (pattern === undefined || !principal.canSubscribe(pattern)) continue;
    visible.push(cut === -1 ? { pattern, ...figures } : { pattern, group: key.slice(cut + 1), ...figures });
  }
  return visible;
}
