// GET /v1/stats: what the dashboard shows besides the live tail, cut to what one token may
// see: the bus's subscriptions with their counters, recent failures, and the gateway's own
// connection figures.

import type { Bus } from '../core/bus.js';
import type { GroupLag } from '../core/lag.js';
import { parseStatsKey, statsKey, type Counters } from '../core/stats.js';
import type { Principal } from './auth.js';
import type { RecentFailure } from './recent-failures.js';

export interface SubscriptionFigures extends Counters {
  pattern: string;
  group?: string;
  /** For groups on drivers that report it: messages stored and not yet acknowledged by the group. */
  lag?: number;
}

export interface StatsView {
  /** Connections, streams and uptime only for a token without a tenant that may subscribe to '>'. */
  gateway: { path: string; connections?: number; streams?: number; uptimeMs?: number };
  drivers: string[];
  /** Whether GET /asyncapi.json has a catalogue to answer with. */
  catalogue: boolean;
  subscriptions: SubscriptionFigures[];
  failures: RecentFailure[];
}

/**
 * The bus's per-pattern counters (keyed `pattern` or `pattern#group`) the principal may read,
 * by its own names, with each group's lag from `lags`.
 */
export function subscriptionsVisibleTo(bus: Bus, principal: Principal, lags: GroupLag[]): SubscriptionFigures[] {
  const lagOf = new Map(lags.map((figure) => [statsKey(figure.pattern, figure.group), figure.lag]));
  const visible: SubscriptionFigures[] = [];
  for (const [key, figures] of Object.entries(bus.stats().byPattern)) {
    const { pattern: busPattern, group } = parseStatsKey(key);
    const pattern = principal.ownTopic(busPattern);
    if (pattern === undefined || !principal.canSubscribe(pattern)) continue;
    if (group === undefined) visible.push({ pattern, ...figures });
    else visible.push({ pattern, group, ...figures, lag: lagOf.get(key) });
  }
  return visible;
}
