// The bus's recent errors and dead letters, for GET /v1/stats and the dashboard: a short
// ring, shown to each token only for topics it may subscribe to.

import type { Bus } from '../core/bus.js';
import type { Principal } from './auth.js';

/** Entries kept; older ones fall off. */
const KEEP = 100;

export interface RecentFailure {
  time: string;
  kind: 'error' | 'deliveryFailed';
  topic?: string;
  driver?: string;
  message: string;
  /** For failed deliveries: the message's id, its attempts, and where it was dead-lettered. */
  id?: string;
  attempts?: number;
  deadLetter?: string;
  /** The failing subscription's pattern: only a viewer who may hold that subscription sees its error. */
  pattern?: string;
}

export class RecentFailures {
  private readonly entries: RecentFailure[] = [];
  private readonly stop: Array<() => void>;

  constructor(bus: Bus) {
    this.stop = [
      // Observed, not listened to: the bus's own logging of unheard errors stays as it was.
      bus.observe('error', ({ error, topic, driver }) => this.add({ kind: 'error', topic, driver, message: describe(error) })),
      bus.observe('deliveryFailed', ({ error, topic, driver, id, attempts, deadLetter, pattern }) =>
        this.add({ kind: 'deliveryFailed', topic, driver, id, attempts, deadLetter, pattern, message: describe(error) }),
      ),
    ];
  }

  /**
   * Newest first, by the principal's own topic names. Failures without a topic (a driver's
   * own errors) concern every tenant's traffic, so only a token that may read all of it sees them.
   */
  visibleTo(principal: Principal): RecentFailure[] {
    const admin = principal.tenant === undefined && principal.canSubscribe('>');
    const visible: RecentFailure[] = [];
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const entry = this.entries[i];
      if (entry.topic === undefined) {
        if (admin) visible.push(entry);
        continue;
      }
      const topic = principal.ownTopic(entry.topic);
      if (topic === undefined || !principal.canSubscribe(topic)) continue;
      // Another's subscription on this topic (an operator's audit group, say) keeps its errors to itself.
      const pattern = entry.pattern === undefined ? undefined : principal.ownTopic(entry.pattern);
      if (entry.pattern !== undefined && (pattern === undefined || !principal.canSubscribe(pattern))) continue;
      const deadLetter = entry.deadLetter === undefined ? undefined : principal.ownTopic(entry.deadLetter);
      visible.push({ ...entry, topic, deadLetter, pattern });
    }
    return visible;
  }

  close(): void {
    for (const stop of this.stop) stop();
  }

  private add(entry: Omit<RecentFailure, 'time'>): void {
    this.entries.push({ time: new Date().toISOString(), ...entry });
    if (this.entries.length > KEEP) this.entries.shift();
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
