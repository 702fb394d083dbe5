// One subscription's share of the log, or one group's within this process: claims batches
// with leases, hands them round-robin to the local members, and claims again when woken by
// NOTIFY, by a lease falling due, by freed room, or by the slow safety poll.

import type { Deliver, Delivery, WireMessage } from '../../core/driver.js';
import { Pump } from '../../driver-kit/pump.js';

/** A stored message as the statements return it. */
export interface StoredRow {
  seq: string;
  id: string;
  topic: string;
  key: string | null;
  headers: Record<string, string>;
  body: Uint8Array;
  time_ms: number;
  expires_ms: number | null;
}

/** A claimed row as the claim function returns it. */
export interface ClaimedRow extends StoredRow {
  attempts: number;
}

export interface Claimed {
  rows: ClaimedRow[];
  /** Milliseconds until the group's next lease falls due, if any. */
  nextDueMs: number | undefined;
}

/** A settle: `delayMs` undefined deletes the lease (ack, reject); a number moves its deadline. */
export interface Settle {
  group: string;
  pattern: string;
  /** The message's topic, for the wake-up a lease made due at once sends. */
  topic: string;
  seq: string;
  attempt: number;
  delayMs?: number;
}

export interface ConsumerHost {
  claim(consumer: Consumer, limit: number): Promise<Claimed>;
  settle(settle: Settle): Promise<void>;
  /** A claim failed; the host reports it or starts reconnecting. */
  failed(error: unknown): void;
}

export class Member {
  constructor(
    readonly deliver: Deliver,
    readonly ackDeadlineMs: number,
  ) {}
}

const DONE = Promise.resolve();

class PostgresDelivery implements Delivery {
  /** The final settle (ack, reject or nack), once made: later calls answer with it. */
  private settling: Promise<void> | undefined;

  constructor(
    readonly message: WireMessage,
    readonly attempt: number,
    private readonly consumer: Consumer,
    private readonly ackDeadlineMs: number,
  ) {}

  /**
   * Resolves once the lease's deletion is committed, so no member anywhere gets the message
   * again. Acks that arrive while one is being written go together in the next statement;
   * core does not wait for them before the next delivery. See docs/postgres.md.
   */
  ack(): Promise<void> {
    return this.finish(undefined);
  }

  reject(): Promise<void> {
    return this.ack();
  }

  /** Resolves once the lease's new visible-after time is stored, so the wake-up finds it due. */
  async nack(delayMs = 0): Promise<void> {
    const delay = Math.max(0, Math.round(delayMs));
    await this.finish(delay);
    this.consumer.wakeIn(delay);
  }

  inProgress(): Promise<void> {
    return this.settling ?? this.consumer.settle(this, this.ackDeadlineMs);
  }

  private finish(delayMs: number | undefined): Promise<void> {
    if (this.settling !== undefined) return this.settling;
    this.consumer.release();
    this.settling = this.consumer.settle(this, delayMs);
    return this.settling;
  }
}

export function toWire(row: StoredRow): WireMessage {
  return {
    id: row.id,
    topic: row.topic,
    headers: row.headers,
    key: row.key ?? undefined,
    time: row.time_ms,
    ttlMs: row.expires_ms === null ? undefined : row.expires_ms - row.time_ms,
    seq: row.seq,
    body: row.body,
  };
}

export class Consumer extends Pump {
  readonly members: Member[] = [];
  private inFlight = 0;
  private cursor = 0;
  private saturated = false;
  /** Releases a hand-over waiting on a full buffer, since core frees it only after close. */
  private onStop: (() => void) | undefined;
  private readonly stopping = new Promise<void>((resolve) => (this.onStop = resolve));
  /** Resolves once the group row exists. */
  ready: Promise<void> = DONE;

  constructor(
    readonly group: string,
    readonly pattern: string,
    /** The pattern as a PostgreSQL regular expression; null matches every topic. */
    readonly regex: string | null,
    readonly ephemeral: boolean,
    readonly leaseMs: number,
    private readonly prefetch: number,
    private readonly host: ConsumerHost,
  ) {
    // A failed claim is the host's to report (or to start reconnecting); retried within 2 s.
    super((error) => host.failed(error), { initialMs: 100, maxMs: 2_000 });
  }

  settle(delivery: Delivery, delayMs: number | undefined): Promise<void> {
    const { topic, seq } = delivery.message;
    return this.host.settle({ group: this.group, pattern: this.pattern, topic, seq: seq!, attempt: delivery.attempt, delayMs });
  }

  /** A delivery was settled: room for more. */
  release(): void {
    this.inFlight--;
    if (this.saturated && this.inFlight <= this.lowWater) {
      this.saturated = false;
      this.wake();
    }
  }

  /** Stops claiming; resolves once a claim still running has finished. */
  override stop(): Promise<void> {
    this.onStop?.();
    return super.stop();
  }

  private get lowWater(): number {
    return Math.floor(this.prefetch / 2);
  }

  /** One claim of what fits, handed to the members; more may wait when the claim came back full. */
  protected async pass(): Promise<boolean> {
    if (this.inFlight > this.lowWater) {
      this.saturated = true;
      return false;
    }
    const limit = this.prefetch - this.inFlight;
    const claimed = await this.host.claim(this, limit);
    if (claimed.nextDueMs !== undefined) this.wakeIn(Math.ceil(claimed.nextDueMs) + 5);
    await this.hand(claimed.rows);
    return claimed.rows.length === limit;
  }

  /** Round-robin over members, so a group spreads its load; waits when a member's buffer is full. */
  private async hand(rows: ClaimedRow[]): Promise<void> {
    for (const row of rows) {
      const member = this.pick();
      if (member === undefined || this.closed) {
        // Nobody left to take it here: make it due again at once for another member.
        if (!this.ephemeral) {
          const settle = { group: this.group, pattern: this.pattern, topic: row.topic, seq: row.seq, attempt: row.attempts, delayMs: 0 };
          void this.host.settle(settle).catch(() => {}); // Else it comes back after its deadline.
        }
        continue;
      }
      this.inFlight++;
      const wait = member.deliver(new PostgresDelivery(toWire(row), row.attempts, this, member.ackDeadlineMs));
      if (wait !== undefined) await Promise.race([wait, this.stopping]);
    }
  }

  private pick(): Member | undefined {
    const { members } = this;
    if (members.length <= 1) return members[0];
    this.cursor = (this.cursor + 1) % members.length;
    return members[this.cursor];
  }
}
