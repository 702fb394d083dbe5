// A consumer group's members in this process. They claim messages through stored leases,
// so members in other processes never get the same message, and whatever is unacked when
// a process dies is redelivered, with its attempt counting on.

import type { Deliver, Delivery, WireMessage } from '../../core/driver.js';
import { ClosedError } from '../../core/errors.js';
import { isWildcard } from '../../core/topic.js';
import type { CommitQueue } from './commit-queue.js';
import type { LeaseStore } from './leases.js';
import { toWire } from './message-log.js';
import { Pump } from '../../driver-kit/pump.js';

const MIN_WINDOW = 32;

export interface GroupMember {
  deliver: Deliver;
}

class GroupDelivery implements Delivery {
  settled = false;
  /** When the stored lease runs out (kept here too, so an abandoned delivery frees its slot). */
  deadline: number;

  constructor(
    readonly message: WireMessage,
    readonly attempt: number,
    readonly seq: number,
    private readonly consumer: GroupConsumer,
    deadline: number,
  ) {
    this.deadline = deadline;
  }

  ack(): Promise<void> {
    if (!this.consumer.settle(this)) return Promise.resolve();
    return this.consumer.ack(this.seq);
  }

  async nack(delayMs = 0): Promise<void> {
    if (!this.consumer.settle(this)) return;
    const at = Date.now() + delayMs;
    await this.consumer.write(() => this.consumer.leases.release(this.consumer.group, this.seq, this.attempt, at), delayMs === 0);
    this.consumer.wakeAt(at);
  }

  async inProgress(): Promise<void> {
    if (this.settled) return;
    const deadline = Date.now() + this.consumer.ackDeadlineMs;
    this.deadline = deadline;
    await this.consumer.write(() => this.consumer.leases.extend(this.consumer.group, this.seq, this.attempt, deadline));
  }

  reject(): Promise<void> {
    return this.ack();
  }
}

export class GroupConsumer extends Pump {
  readonly members: GroupMember[] = [];
  private readonly inFlight = new Map<number, GroupDelivery>();
  private readonly topic: string | undefined;
  private cursor = 0;
  private acks: { seqs: number[]; done: Promise<void> } | undefined;
  /** How many unsettled messages this process holds at most right now (grows up to the claim batch). */
  private window: number;
  private settledSinceClaim = 0;

  constructor(
    readonly leases: LeaseStore,
    private readonly queue: CommitQueue,
    readonly group: number,
    private readonly pattern: string,
    readonly ackDeadlineMs: number,
    private readonly limit: number,
    report: (error: unknown) => void,
    private readonly mapError: (error: unknown) => unknown,
  ) {
    super(report);
    this.topic = isWildcard(pattern) ? undefined : pattern;
    this.window = Math.min(limit, MIN_WINDOW);
  }

  write(run: () => void, wakes = false): Promise<void> {
    return this.queue.enqueue(run, { wakes }).catch((error) => {
      // Settling after the driver closed: closing already handed the lease back to the group.
      if (error instanceof ClosedError) return;
      throw this.mapError(error);
    });
  }

  /** Acks go out together: one operation per commit deletes every lease acked meanwhile. */
  ack(seq: number): Promise<void> {
    let batch = this.acks;
    if (batch === undefined) {
      const seqs: number[] = [];
      const done = this.write(() => {
        if (this.acks?.seqs === seqs) this.acks = undefined;
        for (const acked of seqs) this.leases.ack(this.group, acked);
      });
      batch = this.acks = { seqs, done };
    }
    batch.seqs.push(seq);
    return batch.done;
  }

  /** Marks a delivery settled; false if it already was or a redelivery replaced it. */
  settle(delivery: GroupDelivery): boolean {
    if (delivery.settled) return false;
    delivery.settled = true;
    if (this.inFlight.get(delivery.seq) === delivery) {
      this.inFlight.delete(delivery.seq);
      // Claim more once half the window is free, not once per settled message.
      this.settledSinceClaim++;
      if (this.inFlight.size === this.window >> 1 || this.inFlight.size === 0) this.wake();
    }
    return true;
  }

  protected async pass(): Promise<boolean> {
    if (this.members.length === 0) return false;
    // Refill once half the window is free, so claims stay batched under a steady stream.
    if (this.inFlight.size > this.window >> 1 && this.expire() > this.window >> 1) return false;
    // The window follows how fast this process settles, so a slow member does not hoard a
    // backlog that members in other processes could be working on.
    this.window = Math.min(this.limit, Math.max(MIN_WINDOW, this.window >> 1, this.settledSinceClaim * 2));
    const room = this.window - this.inFlight.size;
    if (!this.leases.hasWork(this.group, Date.now())) {
      // Leases held elsewhere come due at their deadline even if nothing else happens.
      const due = this.leases.nextDeadline(this.group);
      if (due !== undefined) this.wakeAt(due);
      return false;
    }
    this.settledSinceClaim = 0;
    const result = await this.queue.enqueue(() =>
      this.leases.claim(this.group, this.pattern, this.topic, room, this.ackDeadlineMs),
    );
    if (result.nextDue !== undefined) this.wakeAt(result.nextDue);
    for (const { row, attempt } of result.claimed) {
      const delivery = new GroupDelivery(toWire(row), attempt, row.seq, this, result.deadline);
      const previous = this.inFlight.get(row.seq);
      if (previous !== undefined) previous.settled = true;
      this.inFlight.set(row.seq, delivery);
      const member = this.pick();
      if (member === undefined || this.closed) {
        // Nobody left here to take it: hand it back to the group at once.
        void delivery.nack(0).catch(() => {});
        continue;
      }
      const wait = member.deliver(delivery);
      if (wait !== undefined) await wait;
    }
    return result.more;
  }

  /** Forgets deliveries past their deadline: their leases are due again, and a late ack is ignored. */
  private expire(): number {
    const now = Date.now();
    let next = Infinity;
    for (const [seq, delivery] of this.inFlight) {
      if (delivery.deadline > now) next = Math.min(next, delivery.deadline);
      else {
        delivery.settled = true;
        this.inFlight.delete(seq);
      }
    }
    // Still full: look again when the first of them runs out.
    if (this.inFlight.size > this.window >> 1) this.wakeAt(next);
    return this.inFlight.size;
  }

  /** Round-robin over live members, so the group spreads its load. */
  private pick(): GroupMember | undefined {
    const { members } = this;
    if (members.length <= 1) return members[0];
    this.cursor = (this.cursor + 1) % members.length;
    return members[this.cursor];
  }
}
