// Who is subscribed to what on this gateway: the clients (WebSocket sessions, SSE streams)
// behind `GET /v1/presence`, and the `presence.join`/`presence.leave` events published
// through the bus on `_presence.<pattern>`, so every gateway on one broker sees them.

import type { Bus } from '../core/bus.js';
import type { Logger } from '../core/logger.js';
import { matchesPattern } from '../core/topic.js';
import { patternCovers, type Principal } from './auth.js';

/** The first token of presence topics; a topic holding it anywhere is the gateway's alone to publish. */
export const PRESENCE_TOKEN = '_presence';

/** Wildcards cannot appear in topics, so a wildcard pattern's events go to these tokens. */
const WILDCARD_TOKENS: Record<string, string> = { '*': '_any', '>': '_rest' };

/** A connected client as presence shows it. `id` is the gateway's, fresh for each connection. */
export interface Member {
  id: string;
  transport: 'websocket' | 'sse';
  principal: Principal;
}

/** One client in a `GET /v1/presence` answer. */
export interface PresenceEntry {
  client: string;
  name: string;
  transport: Member['transport'];
  /** Its subscription patterns that the asked-for pattern covers, as the caller names them. */
  patterns: string[];
  /** When the earliest of those began, ms since epoch. */
  since: number;
}

/** The data of a message on a presence topic. `pattern` is as the subscriber named it (inside its tenant). */
export interface PresenceEvent {
  type: 'presence.join' | 'presence.leave';
  client: string;
  name: string;
  pattern: string;
  time: number;
}

/** The topic (in the client's names) on which joins and leaves of `pattern` are published. */
export function presenceTopic(pattern: string): string {
  return [PRESENCE_TOKEN, ...pattern.split('.').map((token) => WILDCARD_TOKENS[token] ?? token)].join('.');
}

/** Whether a topic or pattern is one of presence's own: a subscription to it is no presence itself. */
export function isPresenceTopic(topic: string): boolean {
  // Every message to every subscription asks this: a substring test first spares the split.
  return topic.includes(PRESENCE_TOKEN) && topic.split('.').includes(PRESENCE_TOKEN);
}

/**
 * Whether a message on `topic` goes to a client subscribed on `pattern`: as the pattern
 * matches, but presence topics only to patterns that name them, as MQTT keeps `$` topics from
 * wildcards, so a live tail of '>' shows what clients published and nothing else.
 */
export function reaches(pattern: string, topic: string): boolean {
  return matchesPattern(pattern, topic) && (!isPresenceTopic(topic) || isPresenceTopic(pattern));
}

interface Joined {
  member: Member;
  /** Per bus pattern: the client's name for it, when it joined, and how many of its subscriptions hold it. */
  patterns: Map<string, { pattern: string; since: number; holders: number }>;
}

export class Presence {
  private readonly joined = new Map<string, Joined>();
  private readonly publishing = new Set<Promise<void>>();

  /** `publishEvents`: whether joins and leaves go to the bus, or are only listed. */
  constructor(
    private readonly bus: Bus,
    private readonly logger: Logger,
    private readonly publishEvents: boolean,
  ) {}

  /** A subscription of `member` on `pattern` (its own name) opened; the first one on a pattern is a join. */
  join(member: Member, pattern: string): void {
    if (isPresenceTopic(pattern)) return;
    let entry = this.joined.get(member.id);
    if (entry === undefined) this.joined.set(member.id, (entry = { member, patterns: new Map() }));
    const busPattern = member.principal.toBus(pattern);
    const held = entry.patterns.get(busPattern);
    if (held !== undefined) {
      held.holders++;
      return;
    }
    const time = Date.now();
    entry.patterns.set(busPattern, { pattern, since: time, holders: 1 });
    this.announce('presence.join', member, pattern, time);
  }

  /** A subscription of `member` on `pattern` closed; the last one on a pattern is a leave. */
  leave(member: Member, pattern: string): void {
    const entry = this.joined.get(member.id);
    const busPattern = member.principal.toBus(pattern);
    const held = entry?.patterns.get(busPattern);
    if (entry === undefined || held === undefined) return;
    if (--held.holders > 0) return;
    entry.patterns.delete(busPattern);
    if (entry.patterns.size === 0) this.joined.delete(member.id);
    this.announce('presence.leave', member, pattern, Date.now());
  }

  /**
   * The clients holding a subscription whose pattern `pattern` covers (every topic it matches,
   * `pattern` matches too), in the caller's tenant; the caller's grants are checked before.
   */
  list(caller: Principal, pattern: string): PresenceEntry[] {
    const asked = caller.toBus(pattern);
    const entries: PresenceEntry[] = [];
    for (const { member, patterns } of this.joined.values()) {
      if (caller.tenant !== undefined && member.principal.tenant !== caller.tenant) continue;
      const covered = [...patterns].filter(([busPattern]) => patternCovers(asked, busPattern));
      if (covered.length === 0) continue;
      entries.push({
        client: member.id,
        name: member.principal.name,
        transport: member.transport,
        patterns: covered.map(([busPattern]) => caller.ownTopic(busPattern) ?? busPattern),
        since: Math.min(...covered.map(([, held]) => held.since)),
      });
    }
    return entries;
  }

  /**
   * Waits for the events already announced, so a closing gateway's leaves reach the bus; at
   * most `timeoutMs`, as a publish may wait on a full subscriber.
   */
  async flush(timeoutMs: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    await Promise.race([Promise.all([...this.publishing]), late]);
    clearTimeout(timer);
  }

  private announce(type: PresenceEvent['type'], member: Member, pattern: string, time: number): void {
    if (!this.publishEvents) return;
    const topic = member.principal.toBus(presenceTopic(pattern));
    const event: PresenceEvent = { type, client: member.id, name: member.principal.name, pattern, time };
    const published = this.bus.publish(topic, event).then(
      () => {},
      (error) => this.logger.warn({ err: error, topic }, 'presence event not published'),
    );
    this.publishing.add(published);
    void published.finally(() => this.publishing.delete(published));
  }
}
