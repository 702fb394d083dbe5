// A subscription without a group: its own position in each stream, so every subscriber sees
// every message. It reads by itself (non-blocking XREAD on the command connection) until it
// is caught up, then follows the driver's one shared blocking read (tail.ts); when its buffer
// fills, it lets the tail go and catches up again. Its position lives in this process only,
// so redelivery (nack, ack deadline) does too: Redis keeps no per-reader state for XREAD.

import { LocalDeliveries, matchesPattern, type WireMessage } from '../../core/index.js';
import { isConnectionError } from './connection.js';
import { compareIds, parseEntry, positionBeforeStart, streamReply } from './layout.js';
import { StreamReader } from './reader.js';
import { lastIdsScript } from './scripts.js';
import type { Follower, TailEntry } from './tail.js';
import { backoffDelay } from '../../core/backoff.js';

/** A failed read is retried after 50 ms, doubling up to 1 s. */
const RETRY = { initialMs: 50, maxMs: 1_000 };

export class FanOutReader extends StreamReader implements Follower {
  /** Where streams found after subscribing start; undefined for 'latest' (their beginning). */
  private startId: string | undefined;
  private deliveries: LocalDeliveries | undefined;
  /** Streams the tail delivers to this subscription; the others it reads by itself. */
  private readonly live = new Set<string>();
  /** Per stream read by itself, the last id the tail read meanwhile: caught up only once past it. */
  private readonly missed = new Map<string, string>();
  /** Deliveries core has not found room for yet; reading resumes when they are taken. */
  private readonly waiting = new Set<Promise<void>>();
  private catchingUp: Promise<void> | undefined;

  protected async open(names: string[]): Promise<void> {
    const { from } = this.spec;
    if (from !== undefined && from !== 'latest') this.startId = positionBeforeStart(from);
    const keys = names.map((name) => this.host.keys.stream(name));
    const positions =
      this.startId === undefined && keys.length > 0
        ? ((await lastIdsScript.run(this.host.client, keys, [])) as string[])
        : keys.map(() => this.startId ?? '0-0');
    this.deliveries = new LocalDeliveries(this.spec.ackDeadlineMs, this.deliver);
    keys.forEach((key, i) => this.watch(key, positions[i]));
    this.catchUp();
  }

  protected async add(name: string): Promise<void> {
    // A stream created after subscribing holds only messages published after it.
    this.watch(this.host.keys.stream(name), this.startId ?? '0-0');
    this.catchUp();
  }

  protected async stop(): Promise<void> {
    for (const key of this.streams.keys()) this.host.tail.unwatch(key, this);
    this.deliveries?.close();
  }

  /** What the tail read on a stream: delivered if caught up on it, else only noted. */
  arrived(key: string, entries: TailEntry[]): void {
    if (this.closed) return;
    if (!this.live.has(key)) {
      this.missed.set(key, entries[entries.length - 1].id);
      return;
    }
    for (let i = 0; i < entries.length; i++) {
      const { id, wire } = entries[i];
      if (compareIds(id, this.streams.get(key)!) <= 0) continue;
      this.streams.set(key, id);
      // Parsed once for every follower; each gets its own copy to hand on.
      const wait = wire === undefined ? undefined : this.hand({ ...wire, headers: { ...wire.headers } });
      if (wait === undefined) continue;
      // The buffer is full: let the tail go on without this subscription, which reads the rest itself.
      this.live.delete(key);
      this.missed.set(key, entries[entries.length - 1].id);
      this.hold(wait);
      this.catchUp();
      return;
    }
  }

  private watch(key: string, position: string): void {
    this.streams.set(key, position);
    this.host.tail.watch(key, this);
  }

  /** Hands a message to core unless the pattern excludes it; a promise while core's buffer is full. */
  private hand(wire: WireMessage): void | Promise<void> {
    if (this.host.keys.shared && !matchesPattern(this.pattern, wire.topic)) return;
    return this.deliveries!.hand(wire);
  }

  private hold(wait: Promise<void>): void {
    this.waiting.add(wait);
    void wait.finally(() => this.waiting.delete(wait));
  }

  private catchUp(): void {
    if (this.closed) return;
    this.catchingUp ??= this.readBehind().finally(() => (this.catchingUp = undefined));
  }

  /**
   * Reads the streams it is not caught up on, without blocking, until each read finds
   * nothing new and the tail has read nothing past it meanwhile; then the tail takes over
   * that stream. Outages are waited out.
   */
  private async readBehind(): Promise<void> {
    const { client, batchSize } = this.host;
    let failures = 0;
    while (!this.closed) {
      while (this.waiting.size > 0) await Promise.all(this.waiting);
      const keys = [...this.streams.keys()].filter((key) => !this.live.has(key));
      if (keys.length === 0 || this.closed) return;
      let reply: unknown;
      try {
        reply = await client.callBuffer('XREAD', 'COUNT', batchSize, 'STREAMS', ...keys, ...keys.map((key) => this.streams.get(key)!));
        failures = 0;
      } catch (error) {
        if (this.closed) return;
        if (!isConnectionError(error)) this.host.report(error);
        await new Promise((resolve) => setTimeout(resolve, backoffDelay(++failures, RETRY, 'none')));
        continue;
      }
      const found = streamReply(reply);
      // Decided before anything is awaited: what the tail reads after this point reaches `arrived` as live.
      const read = new Set(found.map(([key]) => key));
      for (const key of keys) {
        if (read.has(key) || !this.streams.has(key)) continue;
        const missed = this.missed.get(key);
        const position = this.streams.get(key)!;
        if (missed !== undefined && compareIds(missed, position) > 0) continue;
        this.missed.delete(key);
        this.live.add(key);
        this.host.tail.follow(key, position);
      }
      for (const [key, entries] of found) {
        const name = this.nameOf(key);
        for (const [rawId, fields] of entries) {
          if (this.closed) return;
          const id = rawId.toString();
          this.streams.set(key, id);
          const wire = fields === null ? undefined : parseEntry(id, fields, name);
          const wait = wire === undefined ? undefined : this.hand(wire);
          if (wait !== undefined) await wait;
        }
      }
    }
  }
}
