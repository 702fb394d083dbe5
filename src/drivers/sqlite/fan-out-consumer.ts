// A subscription without a group: it reads the log from its own position and tracks what
// it handed over in memory (it lives only as long as the subscription), redelivering on
// nack and past the ack deadline.

import type { Deliver, Delivery, WireMessage } from '../../core/driver.js';
import { isWildcard, matchesPattern } from '../../core/topic.js';
import { isExpired, toWire, type MessageLog } from './message-log.js';
import { Pump } from './pump.js';

const READ_BATCH = 256;

class FanOutDelivery implements Delivery {
  settled = false;
  deadline: number;

  constructor(
    readonly message: WireMessage,
    readonly attempt: number,
    private readonly consumer: FanOutConsumer,
  ) {
    this.deadline = Date.now() + consumer.ackDeadlineMs;
  }

  // Settling is in memory, so each call completes at once (no promise for core to await).
  ack(): void {
    this.settle();
  }

  nack(delayMs = 0): void {
    if (this.settle()) this.consumer.redeliver(this.message, this.attempt + 1, delayMs);
  }

  inProgress(): void {
    if (!this.settled) this.deadline = Date.now() + this.consumer.ackDeadlineMs;
  }

  reject(): void {
    this.ack();
  }

  settle(): boolean {
    if (this.settled) return false;
    this.settled = true;
    this.consumer.inFlight.delete(this);
    return true;
  }
}

export class FanOutConsumer extends Pump {
  readonly inFlight = new Set<FanOutDelivery>();
  private readonly topic: string | undefined;
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private readonly sweeper: ReturnType<typeof setInterval>;

  constructor(
    private readonly log: MessageLog,
    private readonly pattern: string,
    private position: number,
    readonly ackDeadlineMs: number,
    private readonly deliver: Deliver,
    report: (error: unknown) => void,
  ) {
    super(report);
    this.topic = isWildcard(pattern) ? undefined : pattern;
    this.sweeper = setInterval(() => this.sweep(), Math.max(5, Math.floor(ackDeadlineMs / 4)));
    this.sweeper.unref?.();
  }

  protected async pass(): Promise<boolean> {
    const rows = this.log.read(this.position, READ_BATCH, this.topic);
    const now = Date.now();
    for (const row of rows) {
      if (this.closed) return false;
      this.position = row.seq;
      if (this.topic === undefined && !matchesPattern(this.pattern, row.topic)) continue;
      if (isExpired(row, now)) continue;
      const wait = this.hand(toWire(row), 1);
      if (wait !== undefined) await wait;
    }
    return rows.length === READ_BATCH;
  }

  redeliver(message: WireMessage, attempt: number, delayMs: number): void {
    if (this.closed) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.closed) void this.hand(message, attempt);
    }, delayMs);
    this.timers.add(timer);
  }

  close(): void {
    this.stop();
    clearInterval(this.sweeper);
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private hand(message: WireMessage, attempt: number): void | Promise<void> {
    if (message.ttlMs !== undefined && Date.now() >= message.time + message.ttlMs) return;
    const delivery = new FanOutDelivery(message, attempt, this);
    this.inFlight.add(delivery);
    return this.deliver(delivery);
  }

  private sweep(): void {
    if (this.inFlight.size === 0) return;
    const now = Date.now();
    for (const delivery of this.inFlight) {
      if (delivery.deadline <= now && delivery.settle()) void this.hand(delivery.message, delivery.attempt + 1);
    }
  }
}
