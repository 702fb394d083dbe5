// The blocking XREADs a driver runs for all its subscriptions without a group: each stream
// some subscription is caught up on is read once, and every entry is parsed once and handed
// to each subscription on that stream. A thousand subscriptions on one topic cost one read;
// one whose pattern matches no stream costs none.
//
// Streams are read on two connections. A blocking read is issued again each time it returns,
// with every stream it covers, so streams that receive nothing must not sit in the read that
// busy streams keep returning: they wait in a quiet read, which returns only when one of
// them receives an entry (that stream then moves to the busy read) or after `blockMs`.

import type { Redis } from 'ioredis';
import type { WireMessage } from '../../core/index.js';
import { BlockingReader, type ReadSource } from './blocking-reader.js';
import { compareIds, parseEntry } from './layout.js';
import type { Entry, ReaderHost } from './reader.js';

/** A busy stream that received nothing for this long moves to the quiet read. */
const QUIET_AFTER_MS = 1_000;

/** One entry read by the tail: its id, and the message it holds (undefined: not a message). */
export interface TailEntry {
  id: string;
  wire: WireMessage | undefined;
}

/** A subscription the tail hands entries to. */
export interface Follower {
  arrived(key: string, entries: TailEntry[]): void;
}

export class Tail {
  /** Stream key to the last id read, for streams that received entries lately. */
  private readonly busy = new Map<string, string>();
  /** The same for the other streams followed. */
  private readonly quiet = new Map<string, string>();
  /** When each busy stream last received an entry. */
  private readonly lastEntry = new Map<string, number>();
  /** Everyone watching a stream, caught up or not: those catching up learn what the tail read meanwhile. */
  private readonly followers = new Map<string, Set<Follower>>();
  private readonly busyReader: BlockingReader;
  private readonly quietReader: BlockingReader;

  constructor(private readonly host: ReaderHost) {
    const source = (room: () => void): ReadSource => ({
      read: (connection, keys, positions) => this.read(connection, keys, positions),
      handle: (key, entries) => this.handle(key, entries),
      recover: async () => false,
      // Never waits for a follower: one whose buffer is full reads on by itself (see FanOutReader).
      room: async () => room(),
    });
    this.busyReader = new BlockingReader(host, source(() => this.settle()), this.busy);
    this.quietReader = new BlockingReader(host, source(() => {}), this.quiet);
  }

  /** From now on, `follower` hears of every entry the tail reads on `key`. */
  watch(key: string, follower: Follower): void {
    const followers = this.followers.get(key);
    if (followers === undefined) this.followers.set(key, new Set([follower]));
    else followers.add(follower);
  }

  /**
   * A watcher has read `key` up to `position` and found nothing newer: the tail reads the
   * stream from there, unless it already does (from an earlier position, whose entries the
   * watcher skips, or a later one, whose entries the watcher heard of while catching up).
   */
  follow(key: string, position: string): void {
    if (this.busy.has(key) || this.quiet.has(key) || !this.followers.has(key)) return;
    this.quiet.set(key, position);
    this.quietReader.start();
    this.quietReader.interrupt();
  }

  unwatch(key: string, follower: Follower): void {
    const followers = this.followers.get(key);
    if (followers === undefined || !followers.delete(follower) || followers.size > 0) return;
    // A read in flight may still cover the stream; what it brings goes to nobody.
    this.followers.delete(key);
    this.busy.delete(key);
    this.quiet.delete(key);
    this.lastEntry.delete(key);
  }

  close(): void {
    void this.busyReader.close();
    void this.quietReader.close();
  }

  private read(connection: Redis, keys: string[], positions: string[]): Promise<unknown> {
    const { batchSize, blockMs } = this.host;
    return connection.callBuffer('XREAD', 'COUNT', batchSize, 'BLOCK', blockMs, 'STREAMS', ...keys, ...positions);
  }

  private handle(key: string, entries: Entry[]): void {
    const followers = this.followers.get(key);
    const position = this.busy.get(key) ?? this.quiet.get(key);
    if (followers === undefined || position === undefined || entries.length === 0) return;
    const name = key.slice(this.host.keys.prefix.length);
    const parsed = entries.map(([rawId, fields]): TailEntry => {
      const id = rawId.toString();
      return { id, wire: fields === null ? undefined : parseEntry(id, fields, name) };
    });
    // Both reads may cover a stream that just moved; the position never goes back, followers skip what they had.
    const last = parsed[parsed.length - 1].id;
    this.busy.set(key, compareIds(last, position) > 0 ? last : position);
    this.lastEntry.set(key, Date.now());
    if (this.quiet.delete(key)) {
      this.busyReader.start();
      this.busyReader.interrupt();
    }
    for (const follower of followers) follower.arrived(key, parsed);
  }

  /** Before each busy read: streams that went quiet leave it, so it stays as short as the traffic. */
  private settle(): void {
    const now = Date.now();
    let moved = false;
    for (const [key, position] of this.busy) {
      if (now - (this.lastEntry.get(key) ?? 0) < QUIET_AFTER_MS) continue;
      this.busy.delete(key);
      this.lastEntry.delete(key);
      this.quiet.set(key, position);
      moved = true;
    }
    if (moved) this.quietReader.interrupt();
  }
}
