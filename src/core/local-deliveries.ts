// Redelivery kept in this process, for drivers whose broker holds no state per subscriber
// (a subscription without a group reads from a position of its own): settling completes
// at once, and a nack or a lapsed ack deadline hands the message over again from memory.
// What is in flight lives as long as the subscription, like the position itself. A driver
// whose broker keeps a position per group (Kafka's committed offset) passes `settled`, so an
// ack resolves once the position moved past the message, and `keep`, to drop redeliveries of
// what went to another member.

import type { Deliver, Delivery, WireMessage } from './driver.js';

class LocalDelivery implements Delivery {
  settled = false;
  deadline: number;

  constructor(
    readonly message: WireMessage,
    readonly attempt: number,
    private readonly owner: LocalDeliveries,
  ) {
    this.deadline = Date.now() + owner.ackDeadlineMs;
  }

  // Without a `settled` hook each call completes at once, so none returns a promise for core to await.
  ack(): void | Promise<void> {
    // Also after the deadline lapsed (settle() is false then): the message was handled, so a
    // kept position may move past it, and the ack says when it did.
    this.settle();
    return this.owner.hooks.settled?.(this.message);
  }

  nack(delayMs = 0): void {
    if (this.settle()) this.owner.later(this, delayMs);
  }

  inProgress(): void {
    if (!this.settled) this.deadline = Date.now() + this.owner.ackDeadlineMs;
  }

  reject(): void | Promise<void> {
    return this.ack();
  }

  /** Marks settled; false if it already was (a late ack after the deadline passed). */
  settle(): boolean {
    if (this.settled) return false;
    this.settled = true;
    this.owner.inFlight.delete(this);
    this.owner.hooks.left?.();
    return true;
  }
}

export interface LocalDeliveryHooks {
  /** An ack or reject: what it returns is what `ack()` returns. */
  settled?(message: WireMessage): void | Promise<void>;
  /** Whether a nacked or lapsed message is still this subscriber's to deliver again. */
  keep?(message: WireMessage): boolean;
  /** A delivery stopped being in flight (settled, nacked or lapsed): room for another. */
  left?(): void;
}

export class LocalDeliveries {
  readonly inFlight = new Set<LocalDelivery>();
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private readonly sweeper: ReturnType<typeof setInterval>;
  private closed = false;

  constructor(
    readonly ackDeadlineMs: number,
    private readonly deliver: Deliver,
    readonly hooks: LocalDeliveryHooks = {},
  ) {
    this.sweeper = setInterval(() => this.sweep(), Math.min(5_000, Math.max(5, Math.floor(ackDeadlineMs / 4))));
    this.sweeper.unref?.();
  }

  /**
   * Hands `message` to core, unless its TTL ran out; returns what `deliver` did (a promise
   * while the subscriber's buffer is full).
   */
  hand(message: WireMessage, attempt = 1): void | Promise<void> {
    if (this.closed) return;
    if (message.ttlMs !== undefined && Date.now() >= message.time + message.ttlMs) {
      // Expired: consumed without a handler, so a kept position moves past it.
      void Promise.resolve(this.hooks.settled?.(message)).catch(() => {});
      return;
    }
    if (attempt > 1 && this.hooks.keep?.(message) === false) return;
    const delivery = new LocalDelivery(message, attempt, this);
    this.inFlight.add(delivery);
    return this.deliver(delivery);
  }

  /** Stops redelivering; deliveries already handed over can still be settled. */
  close(): void {
    this.closed = true;
    clearInterval(this.sweeper);
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  later(delivery: LocalDelivery, delayMs: number): void {
    if (this.closed) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void this.hand(delivery.message, delivery.attempt + 1);
    }, delayMs);
    this.timers.add(timer);
  }

  private sweep(): void {
    const now = Date.now();
    for (const delivery of this.inFlight) {
      if (delivery.deadline <= now && delivery.settle()) void this.hand(delivery.message, delivery.attempt + 1);
    }
  }
}
