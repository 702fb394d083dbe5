// What every Redis subscription shares: the streams its pattern matches (found at subscribe
// time, and later through the registry's notices) and what it needs from its driver.
// Fan-out and group subscriptions differ in how they read and settle.

import type { Redis } from 'ioredis';
import { isWildcard, type Deliver, type DriverSubscription, type SubscribeSpec } from '../../core/index.js';
import type { Keys } from './layout.js';
import type { Tail } from './tail.js';

export type Entry = [Buffer, Buffer[] | null];

/** What a subscription needs from its driver. */
export interface ReaderHost {
  readonly keys: Keys;
  /** The command connection (ready). */
  readonly client: Redis;
  readonly batchSize: number;
  readonly blockMs: number;
  readonly prefetch: number;
  /** The one blocking XREAD every fan-out subscription of the driver follows. */
  readonly tail: Tail;
  /** A new connection for blocking reads, with a name of its own (`connectionName`) on the server. */
  openReader(): Redis;
  /** Every registered stream name. */
  streamNames(): Promise<string[]>;
  /** XACK, batched with other acks of the same turn of the event loop; resolves once Redis answered it. */
  ack(key: string, group: string, id: string): Promise<void>;
  /** Sends queued acks now; resolves when Redis has answered them. */
  flushAcks(): Promise<void>;
  /** Tells every member of a group that entries of a stream can be claimed now. */
  wake(key: string, group: string): void;
  /** Runs `work` after `ms`, unless the driver closes first. */
  later(ms: number, work: () => void): void;
  report(error: unknown): void;
  forget(reader: StreamReader): void;
}

export abstract class StreamReader implements DriverSubscription {
  /** Stream key to read position: an id for XREAD, '>' for XREADGROUP. */
  protected readonly streams = new Map<string, string>();
  protected closed = false;

  constructor(
    protected readonly host: ReaderHost,
    readonly spec: SubscribeSpec,
    protected readonly deliver: Deliver,
  ) {}

  get pattern(): string {
    return this.spec.pattern;
  }

  async start(): Promise<void> {
    const { keys } = this.host;
    const names = isWildcard(this.pattern)
      ? (await this.host.streamNames()).filter((name) => keys.streamMatches(this.pattern, name))
      : [keys.streamName(this.pattern)];
    await this.open(names);
  }

  /** A stream registered after subscribing, or seen again after a reconnect. */
  async discover(name: string): Promise<void> {
    const { keys } = this.host;
    if (this.closed || this.streams.has(keys.stream(name)) || !keys.streamMatches(this.pattern, name)) return;
    if (!isWildcard(this.pattern) && name !== keys.streamName(this.pattern)) return;
    await this.add(name);
  }

  /** Stops reading. Deliveries already handed over stay settle-able until the driver closes. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.stop();
    this.host.forget(this);
  }

  /** Prepares reading the streams found at subscribe time. */
  protected abstract open(names: string[]): Promise<void>;
  /** Starts reading a stream found later. */
  protected abstract add(name: string): Promise<void>;
  /** Stops reading; must not wait for core, which frees its buffer only after close resolves. */
  protected abstract stop(): Promise<void>;

  protected nameOf(key: string): string {
    return key.slice(this.host.keys.prefix.length);
  }
}
