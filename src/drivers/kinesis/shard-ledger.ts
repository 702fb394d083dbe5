// A group's progress in one shard. Kinesis has no per-message ack, and a checkpoint is one
// sequence number, so settling out of order needs bookkeeping: the checkpoint is the last
// record below which everything is settled, and the records settled above it travel with it
// (bounded), so whoever reads the shard next skips them instead of handling them again.

import type { Checkpoint } from './checkpoints.js';

/** The most settled-ahead sequence numbers a checkpoint carries; past it, the rest come back once after a hand-over. */
const MAX_AHEAD = 500;

export class ShardLedger {
  /** Handed-out sequence numbers in shard order; those before `head` are settled. */
  private readonly handed: string[] = [];
  private head = 0;
  private readonly settled = new Set<string>();
  private readonly skip: Set<string>;
  private base: string | undefined;

  constructor(start: Checkpoint) {
    this.base = start.sequence;
    this.skip = new Set(start.ahead);
  }

  /** Records that `sequence` goes out; false if it was settled before (skip it). */
  hand(sequence: string): boolean {
    this.handed.push(sequence);
    if (!this.skip.delete(sequence)) return true;
    this.settled.add(sequence);
    return false;
  }

  settle(sequence: string): void {
    this.settled.add(sequence);
  }

  /** Handed out and not settled. */
  get unsettled(): number {
    return this.handed.length - this.head - this.settled.size;
  }

  /** Where the group stands in this shard now. */
  checkpoint(): Checkpoint {
    while (this.head < this.handed.length && this.settled.delete(this.handed[this.head])) this.base = this.handed[this.head++];
    if (this.head > 1024) {
      this.handed.splice(0, this.head);
      this.head = 0;
    }
    const ahead = [...this.settled, ...this.skip].slice(0, MAX_AHEAD);
    return this.base === undefined ? { ahead } : { sequence: this.base, ahead };
  }
}
