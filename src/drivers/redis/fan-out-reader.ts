// A subscription without a group: XREAD from its own position in each stream, so every
// subscriber sees every message. Its position lives in this process only, so redelivery
// (nack, ack deadline) is too: Redis keeps no per-reader state for plain XREAD.

import type { Redis } from 'ioredis';
import { matchesPattern, type Delivery, type WireMessage } from '../../core/index.js';
import { expired, parseEntry, positionBefore, positionBeforeTime } from './layout.js';
import { StreamReader, type Entry } from './reader.js';
import { lastIdsScript } from './scripts.js';

class FanOutDelivery implements Delivery {
  settled = false;
  deadline: number;

  constructor(
    readonly message: WireMessage,
    readonly attempt: number,
    private readonly reader: FanOutReader,
  ) {
    this.deadline = Date.now() + reader.spec.ackDeadlineMs;
  }

  async ack(): Promise<void> {
    this.settle();
  }

  async nack(delayMs = 0): Promise<void> {
    if (this.settle()) this.reader.redeliver(this, delayMs);
  }

  async inProgress(): Promise<void> {
    if (!this.settled) this.deadline = Date.now() + this.reader.spec.ackDeadlineMs;
  }

  reject(): Promise<void> {
    return this.ack();
  }

  settle(): boolean {
    if (this.settled) return false;
    this.settled = true;
    this.reader.inFlight.delete(this);
    return true;
  }
}

export class FanOutReader extends StreamReader {
  readonly inFlight = new Set<FanOutDelivery>();
  /** Where streams found after subscribing start; undefined for 'latest' (their beginning). */
  private startId: string | undefined;
  private sweeper: ReturnType<typeof setInterval> | undefined;

  protected async open(names: string[]): Promise<void> {
    const { from } = this.spec;
    if (from !== undefined && from !== 'latest') {
      this.startId =
        from === 'earliest' ? '0-0' : 'seq' in from ? positionBefore(from.seq) : positionBeforeTime(new Date(from.time).getTime());
    }
    const keys = names.map((name) => this.host.keys.stream(name));
    const positions =
      this.startId === undefined && keys.length > 0
        ? ((await lastIdsScript.run(this.host.client, keys, [])) as string[])
        : keys.map(() => this.startId ?? '0-0');
    keys.forEach((key, i) => this.streams.set(key, positions[i]));
    const every = Math.min(5_000, Math.max(5, this.spec.ackDeadlineMs / 4));
    this.sweeper = setInterval(() => this.sweep(), every);
    this.sweeper.unref?.();
  }

  protected async add(name: string): Promise<void> {
    // A stream created after subscribing holds only messages published after it.
    this.streams.set(this.host.keys.stream(name), this.startId ?? '0-0');
  }

  protected read(connection: Redis, keys: string[], positions: string[]): Promise<unknown> {
    const { batchSize, blockMs } = this.host;
    return connection.callBuffer('XREAD', 'COUNT', batchSize, 'BLOCK', blockMs, 'STREAMS', ...keys, ...positions);
  }

  protected async handle(key: string, entries: Entry[]): Promise<void> {
    const now = Date.now();
    const name = this.nameOf(key);
    for (const [rawId, fields] of entries) {
      if (this.closed) return;
      const id = rawId.toString();
      this.streams.set(key, id);
      const wire = fields === null ? undefined : parseEntry(id, fields, name);
      if (wire === undefined || expired(wire, now) || (this.host.keys.shared && !matchesPattern(this.pattern, wire.topic))) continue;
      const wait = this.dispatch(wire, 1);
      if (wait !== undefined) await wait;
    }
  }

  protected async recover(): Promise<boolean> {
    return false;
  }

  protected async stop(): Promise<void> {
    if (this.sweeper !== undefined) clearInterval(this.sweeper);
  }

  redeliver(delivery: FanOutDelivery, delayMs: number): void {
    this.host.later(delayMs, () => {
      if (!this.closed) void this.dispatch(delivery.message, delivery.attempt + 1);
    });
  }

  private dispatch(wire: WireMessage, attempt: number): void | Promise<void> {
    const delivery = new FanOutDelivery(wire, attempt, this);
    this.inFlight.add(delivery);
    return this.deliver(delivery);
  }

  /** Redelivers what stayed unsettled past the ack deadline. */
  private sweep(): void {
    const now = Date.now();
    for (const delivery of this.inFlight) {
      if (delivery.deadline <= now && delivery.settle()) void this.dispatch(delivery.message, delivery.attempt + 1);
    }
  }
}
