// Delayed delivery: Kafka has none, so a delayed message is stored at once in a topic of the
// driver's own (`delayTopic`), with its real topic and due time in headers, and a mover
// moves it to its real topic once due. The mover is a consumer group shared by every process
// with the same `delayTopic`, so each partition of it (and each record) has one mover at a
// time. It holds the records it read until due, in memory, but commits only what it moved:
// a mover that stops re-reads what it held, from Kafka, and nothing waits only in memory.

import type { Delivery, WireMessage } from '../../core/driver.js';
import { backoffDelay } from '../../core/backoff.js';
import { DueTimer } from '../../driver-kit/due-timer.js';

/** The headers a record of the delay topic carries beside the message's own (wire.ts has the rest). */
export const DELAY_HEADER = { topic: 'omnibus-delayed-topic', due: 'omnibus-due', ttl: 'omnibus-delayed-ttl' } as const;

/** The delay topic's copy of `wire`: what the mover turns back into `wire` once due. */
export function toDelayed(wire: WireMessage, delayTopic: string): WireMessage {
  const held: WireMessage = {
    id: wire.id,
    topic: delayTopic,
    headers: { ...wire.headers, [DELAY_HEADER.topic]: wire.topic, [DELAY_HEADER.due]: String(wire.deliverAt) },
    // The record's time is when it was stored: Kafka refuses timestamps far in the future
    // (`message.timestamp.after.max.ms`, an hour by default since Kafka 4.0).
    time: Date.now(),
    body: wire.body,
  };
  if (wire.key !== undefined) held.key = wire.key;
  // Not as the record's TTL: that counts from when it was stored, and would expire it in the
  // delay topic; a delayed message's TTL starts when it is due.
  if (wire.ttlMs !== undefined) held.headers[DELAY_HEADER.ttl] = String(wire.ttlMs);
  return held;
}

/** The message a delay-topic record holds, as published, its time the due time; undefined for a record that is not one. */
export function fromDelayed(held: WireMessage): WireMessage | undefined {
  const { [DELAY_HEADER.topic]: topic, [DELAY_HEADER.due]: due, [DELAY_HEADER.ttl]: ttl, ...headers } = held.headers;
  const time = Number(due);
  if (topic === undefined || !Number.isFinite(time)) return undefined;
  const wire: WireMessage = { id: held.id, topic, headers, time, body: held.body };
  if (held.key !== undefined) wire.key = held.key;
  if (ttl !== undefined && Number.isFinite(Number(ttl))) wire.ttlMs = Number(ttl);
  return wire;
}

interface Waiting {
  wire: WireMessage;
  delivery: Delivery;
}

export interface MoverHooks {
  /** Publishes due messages to their real topics; resolves once Kafka stored them. */
  publish(batch: WireMessage[]): Promise<void>;
  /** Whether the mover still holds the record's partition (a rebalance may have moved it). */
  owns(held: WireMessage): boolean;
  /** Reports a failed move (it is tried again) or a record that holds no delayed message. */
  error(error: unknown): void;
}

/** How often records of partitions given up in a rebalance are let go of. */
const PRUNE_MS = 5_000;

/**
 * The mover's side of its subscription to the delay topic: `deliver` takes each record and
 * holds it until due; due records are published in due order (then read order), then acked,
 * which commits them.
 */
export class Mover {
  private readonly waiting: Waiting[] = [];
  private readonly timer = new DueTimer(() => void this.move(), false);
  private readonly pruner: ReturnType<typeof setInterval>;
  private moving: Promise<void> = Promise.resolve();
  private failures = 0;
  private closed = false;

  constructor(private readonly hooks: MoverHooks) {
    this.pruner = setInterval(() => this.prune(), PRUNE_MS);
    this.pruner.unref?.();
  }

  readonly deliver = (delivery: Delivery): void => {
    const wire = fromDelayed(delivery.message);
    if (wire === undefined) {
      this.hooks.error(new Error(`kafka: record ${delivery.message.seq} of the delay topic holds no delayed message (no ${DELAY_HEADER.topic} or ${DELAY_HEADER.due} header); skipped`));
      void Promise.resolve(delivery.ack()).catch(() => {});
      return;
    }
    // In due order; after those due at the same time, so equal due times keep read order,
    // which is publish order within a partition.
    let at = this.waiting.length;
    while (at > 0 && this.waiting[at - 1].wire.time > wire.time) at--;
    this.waiting.splice(at, 0, { wire, delivery });
    this.timer.expect(wire.time);
  };

  /** Stops moving; resolves once a move under way finished. What it held is read again by the next mover. */
  async close(): Promise<void> {
    this.closed = true;
    this.timer.cancel();
    clearInterval(this.pruner);
    await this.moving;
  }

  private move(): void {
    this.moving = this.moving.then(() => this.moveDue());
  }

  private async moveDue(): Promise<void> {
    if (this.closed) return;
    this.prune();
    const now = Date.now();
    let count = 0;
    while (count < this.waiting.length && this.waiting[count].wire.time <= now) count++;
    const due = this.waiting.slice(0, count);
    if (due.length > 0) {
      try {
        await this.hooks.publish(due.map((entry) => entry.wire));
        this.failures = 0;
      } catch (error) {
        this.hooks.error(error);
        // Still held, and still in the delay topic: tried again after a backoff.
        if (!this.closed) this.timer.expect(Date.now() + backoffDelay(++this.failures, { initialMs: 200, maxMs: 5_000 }));
        return;
      }
      // By identity: records read meanwhile may have been put among them.
      const moved = new Set(due);
      this.waiting.splice(0, this.waiting.length, ...this.waiting.filter((entry) => !moved.has(entry)));
      // The commit moves past them; a failed commit means the next mover moves them again.
      for (const entry of due) void Promise.resolve(entry.delivery.ack()).catch(() => {});
    }
    const next = this.waiting[0];
    if (next !== undefined && !this.closed) this.timer.expect(next.wire.time);
  }

  /** Lets go of records whose partition went to another mover: that one moves them. */
  private prune(): void {
    for (let i = this.waiting.length - 1; i >= 0; i--) {
      const entry = this.waiting[i];
      if (this.hooks.owns(entry.delivery.message)) continue;
      this.waiting.splice(i, 1);
      // Leaves the subscription's in-flight count; not handed again, as the partition is gone.
      void Promise.resolve(entry.delivery.nack()).catch(() => {});
    }
  }
}
