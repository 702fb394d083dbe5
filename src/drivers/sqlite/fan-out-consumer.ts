// A subscription without a group: it reads the log from its own position until it has
// caught up, then leaves the reading to the shared tail, and goes back to reading on its own
// whenever its buffer fills. What it handed over is tracked in memory (it lives only as long
// as the subscription), redelivered on nack and past the ack deadline.

import type { Deliver } from '../../core/driver.js';
import { LocalDeliveries } from '../../core/local-deliveries.js';
import { isWildcard, matchesPattern } from '../../core/topic.js';
import type { FanOutTail, TailReader } from './fan-out-tail.js';
import { toWire, type MessageLog, type StoredRow } from './message-log.js';
import { Pump } from '../../driver-kit/pump.js';

const READ_BATCH = 256;

export class FanOutConsumer extends Pump implements TailReader {
  private readonly topic: string | undefined;
  private readonly deliveries: LocalDeliveries;
  /** Whether the tail reads for it. */
  private following = false;
  /** Room the subscriber's full buffer is being waited for, before reading on. */
  private blocked: Promise<void> | undefined;

  constructor(
    private readonly log: MessageLog,
    private readonly tail: FanOutTail,
    readonly pattern: string,
    private position: number,
    ackDeadlineMs: number,
    deliver: Deliver,
    report: (error: unknown) => void,
  ) {
    super(report);
    this.topic = isWildcard(pattern) ? undefined : pattern;
    this.deliveries = new LocalDeliveries(ackDeadlineMs, deliver);
  }

  /** Commits wake it only while it reads on its own. */
  override wake(): void {
    if (!this.following) super.wake();
  }

  offer(row: StoredRow): void {
    if (row.seq <= this.position || this.closed) return;
    this.position = row.seq;
    const wait = this.deliveries.hand(toWire(row));
    if (wait === undefined) return;
    this.following = false;
    this.tail.leave(this);
    this.blocked = wait;
    void wait.then(() => this.wake());
  }

  protected async pass(): Promise<boolean> {
    if (this.blocked !== undefined) {
      await this.blocked;
      this.blocked = undefined;
    }
    // A pass woken before the consumer joined the tail: the tail reads for it now.
    if (this.following) return false;
    const rows = this.log.read(this.position, READ_BATCH, this.topic);
    if (rows.length === 0) {
      // Nothing after its position right now: the tail takes over from here, in this same turn.
      if (!this.closed) {
        this.following = true;
        this.tail.join(this);
      }
      return false;
    }
    for (const row of rows) {
      if (this.closed) return false;
      this.position = row.seq;
      if (this.topic === undefined && !matchesPattern(this.pattern, row.topic)) continue;
      const wait = this.deliveries.hand(toWire(row));
      if (wait !== undefined) await wait;
    }
    return true;
  }

  close(): void {
    void this.stop();
    this.following = false;
    this.tail.leave(this);
    this.deliveries.close();
  }
}
