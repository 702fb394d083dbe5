// Delayed messages: a sorted set by due time holds them (with their entries in a hash) until a
// script moves the due ones into their streams in one atomic step. Every driver runs a mover;
// it learns due times from its own publishes, from the events channel, and from the set itself.

import type { Redis } from 'ioredis';
import type { WireMessage } from '../../core/index.js';
import { DueTimer } from '../../driver-kit/due-timer.js';
import { entryFields, type Keys } from './layout.js';
import { holdScript, moveDueScript } from './scripts.js';

/** Messages one move takes; a full batch is followed by another at once. */
const MOVE_BATCH = 500;

export interface DelayedSettings {
  keys: Keys;
  dedupeWindowMs: number;
  /** XADD's trimming arguments, as a publish uses them. */
  trim(): Array<string | Buffer | number>;
  client(): Redis | undefined;
  failed(error: unknown): void;
}

export class DelayedMessages {
  // Not keeping the process: the messages wait in Redis for whichever driver runs next.
  private readonly timer = new DueTimer(() => void this.move(), false);
  private stopped = false;

  constructor(private readonly settings: DelayedSettings) {}

  /** Holds each message until its `deliverAt`; they get a seq when they enter their stream. */
  async hold(client: Redis, batch: WireMessage[]): Promise<void> {
    const { keys } = this.settings;
    // Sent together on one connection, so they run, and are numbered, in batch order.
    await Promise.all(
      batch.map((wire) =>
        holdScript.run(client, keys.delayed, [wire.deliverAt!, keys.events, keys.streamName(wire.topic), wire.id, ...entryFields(wire, keys.streamName(wire.topic))]),
      ),
    );
    this.expect(batch.reduce((earliest, wire) => Math.min(earliest, wire.deliverAt!), Infinity));
  }

  /** A due time heard of: this process's publish or another's, on the events channel. */
  expect(due: number): void {
    if (!this.stopped && Number.isFinite(due)) this.timer.expect(due);
  }

  /** Reads the earliest due time held (on connecting, and after a reconnect, when notices may have been missed). */
  recheck(): Promise<void> {
    return this.run(0);
  }

  stop(): void {
    this.stopped = true;
    this.timer.cancel();
  }

  private move(): Promise<void> {
    return this.run(MOVE_BATCH);
  }

  /** The move script; with a limit of 0 it moves nothing and only answers the next due time. */
  private async run(limit: number): Promise<void> {
    const client = this.settings.client();
    if (client === undefined || this.stopped) return;
    const { keys, dedupeWindowMs, trim } = this.settings;
    try {
      const [moved, next] = (await moveDueScript.run(
        client,
        [keys.delayed[0], keys.delayed[1], keys.topics],
        [Date.now(), limit, keys.prefix, keys.events, dedupeWindowMs, ...trim()],
      )) as [number, string];
      if (limit > 0 && moved === limit) this.expect(Date.now());
      else if (next !== '-1') this.expect(Number(next));
    } catch (error) {
      if (this.stopped) return;
      this.settings.failed(error);
      // The messages are still held: try again shortly.
      this.expect(Date.now() + 1_000);
    }
  }
}
