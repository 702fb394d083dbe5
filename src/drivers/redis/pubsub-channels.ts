// Who listens on pub/sub mode's one subscriber connection: a topic with SUBSCRIBE on its
// channel, a wildcard pattern with PSUBSCRIBE on a glob at least as wide. Redis `*` also
// matches dots, so each message a glob brings is checked against every listener's own pattern
// with core's matcher. Listeners whose patterns give one glob share it.

import type { Redis } from 'ioredis';
import { assertTopic, isWildcard, matchesPattern, type WireMessage } from '../../core/index.js';
import { decodeFrame } from './pubsub-wire.js';

export interface Listener {
  readonly pattern: string;
  arrive(wire: WireMessage): void;
}

interface Entry {
  listeners: Set<Listener>;
  /** Settles once Redis answered the SUBSCRIBE or PSUBSCRIBE. */
  ready: Promise<unknown>;
}

/** Redis glob characters, escaped where the prefix holds them. */
const GLOB_SPECIAL = /[*?[\]\\]/g;

export class Channels {
  private readonly channels = new Map<string, Entry>();
  private readonly globs = new Map<string, Entry>();

  constructor(
    /** The subscriber connection, closed by the driver. */
    readonly connection: Redis,
    private readonly prefix: string,
  ) {
    connection.on('messageBuffer', (channel: Buffer, payload: Buffer) => this.arrived(this.channels.get(channel.toString()), channel, payload, false));
    connection.on('pmessageBuffer', (glob: Buffer, channel: Buffer, payload: Buffer) => this.arrived(this.globs.get(glob.toString()), channel, payload, true));
  }

  /** The channel a topic is published on. */
  channel(topic: string): string {
    return this.prefix + topic;
  }

  /** Listens from when Redis confirms the subscription. */
  async add(listener: Listener): Promise<void> {
    const [table, name, wide] = this.place(listener.pattern);
    let entry = table.get(name);
    if (entry === undefined) {
      const ready = wide ? this.connection.psubscribe(name) : this.connection.subscribe(name);
      entry = { listeners: new Set(), ready };
      table.set(name, entry);
      ready.catch(() => {
        if (table.get(name) === entry) table.delete(name);
      });
    }
    entry.listeners.add(listener);
    await entry.ready;
  }

  async remove(listener: Listener): Promise<void> {
    const [table, name, wide] = this.place(listener.pattern);
    const entry = table.get(name);
    if (entry === undefined || !entry.listeners.delete(listener) || entry.listeners.size > 0) return;
    table.delete(name);
    await (wide ? this.connection.punsubscribe(name) : this.connection.unsubscribe(name)).catch(() => undefined);
  }

  /** The table, channel or glob, and whether it is a glob, that a pattern listens through. */
  private place(pattern: string): [Map<string, Entry>, string, boolean] {
    if (!isWildcard(pattern)) return [this.channels, this.channel(pattern), false];
    const tokens = pattern.split('.').map((token) => (token === '*' || token === '>' ? '*' : token));
    return [this.globs, this.prefix.replace(GLOB_SPECIAL, '\\$&') + tokens.join('.'), true];
  }

  private arrived(entry: Entry | undefined, channel: Buffer, payload: Buffer, wide: boolean): void {
    if (entry === undefined) return;
    const topic = channel.toString().slice(this.prefix.length);
    if (wide && !isTopic(topic)) return;
    const wire = decodeFrame(topic, payload);
    let first = true;
    for (const listener of entry.listeners) {
      if (wide && !matchesPattern(listener.pattern, topic)) continue;
      // Each listener gets its own copy to hand on.
      listener.arrive(first ? wire : { ...wire, headers: { ...wire.headers } });
      first = false;
    }
  }
}

/** A glob can match channels that are no topic (`orders.` or `orders.a b` for `orders.*`): those are not for us. */
function isTopic(name: string): boolean {
  try {
    assertTopic(name);
    return true;
  } catch {
    return false;
  }
}
