// The read loop every Redis subscription shares: a blocking XREAD or XREADGROUP over the
// streams its pattern matches, on a connection of its own, woken early when a new stream
// appears. Fan-out and group subscriptions differ only in how they read and settle.

import type { Redis } from 'ioredis';
import { isWildcard, type Deliver, type DriverSubscription, type SubscribeSpec } from '../../core/index.js';
import { isConnectionError } from './connection.js';
import { streamReply, type Keys } from './layout.js';

export type Entry = [Buffer, Buffer[] | null];

/** What a subscription needs from its driver. */
export interface ReaderHost {
  readonly keys: Keys;
  /** The command connection (ready). */
  readonly client: Redis;
  readonly batchSize: number;
  readonly blockMs: number;
  readonly prefetch: number;
  /** A new connection for blocking reads. */
  openReader(): Redis;
  /** Every registered stream name. */
  streamNames(): Promise<string[]>;
  /** XACK, batched with other acks of the same turn of the event loop; resolves once queued. */
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
  private connection: Redis | undefined;
  private connectionId: number | undefined;
  private reading = false;
  private idle: (() => void) | undefined;

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
    const connection = (this.connection = this.host.openReader());
    connection.on('close', () => (this.connectionId = undefined));
    void this.run(connection);
  }

  /** A stream registered after subscribing, or seen again after a reconnect. */
  async discover(name: string): Promise<void> {
    const { keys } = this.host;
    if (this.closed || this.streams.has(keys.stream(name)) || !keys.streamMatches(this.pattern, name)) return;
    if (!isWildcard(this.pattern) && name !== keys.streamName(this.pattern)) return;
    await this.add(name);
    this.interrupt();
  }

  /** Stops reading. Deliveries already handed over stay settle-able until the driver closes. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.idle?.();
    // Not awaiting the loop: it may be waiting for core's buffer, which core frees only after this resolves.
    this.connection?.disconnect();
    await this.stop();
    this.host.forget(this);
  }

  /** Prepares reading the streams found at subscribe time. */
  protected abstract open(names: string[]): Promise<void>;
  /** Prepares reading a stream found later. */
  protected abstract add(name: string): Promise<void>;
  protected abstract read(connection: Redis, keys: string[], positions: string[]): Promise<unknown>;
  protected abstract handle(key: string, entries: Entry[]): Promise<void>;
  /** Repairs what a failed read reports (e.g. a group lost with a server restart); true to read again at once. */
  protected abstract recover(error: unknown): Promise<boolean>;
  protected abstract stop(): Promise<void>;
  /** Resolves when the subscription may read more. */
  protected async room(): Promise<void> {}

  protected nameOf(key: string): string {
    return key.slice(this.host.keys.prefix.length);
  }

  private async run(connection: Redis): Promise<void> {
    let failures = 0;
    while (!this.closed) {
      if (this.streams.size === 0) {
        await new Promise<void>((resolve) => (this.idle = resolve));
        this.idle = undefined;
        continue;
      }
      try {
        await this.room();
        if (this.closed) break;
        this.connectionId ??= Number(await connection.call('CLIENT', 'ID'));
        const keys = [...this.streams.keys()];
        const positions = keys.map((key) => this.streams.get(key)!);
        this.reading = true;
        const reply = await this.read(connection, keys, positions).finally(() => (this.reading = false));
        failures = 0;
        for (const [key, entries] of streamReply(reply)) await this.handle(key, entries);
      } catch (error) {
        if (this.closed) break;
        if (failures < 3 && (await this.recover(error).catch(() => false))) {
          failures++;
          continue;
        }
        if (!isConnectionError(error)) this.host.report(error);
        await new Promise((resolve) => setTimeout(resolve, Math.min(1_000, 50 * 2 ** failures++)));
      }
    }
  }

  /** Ends a blocking read early so the next one includes a stream just added. */
  private interrupt(): void {
    this.idle?.();
    const id = this.connectionId;
    if (!this.reading || id === undefined) return;
    void (async () => {
      // The read may not have reached the server yet (UNBLOCK answers 0); try again briefly.
      for (let i = 0; i < 20 && this.reading && !this.closed; i++) {
        const unblocked = await this.host.client.call('CLIENT', 'UNBLOCK', id).catch(() => 1);
        if (unblocked === 1) return;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();
  }
}
