// One read of each commit for every fan-out subscription that has caught up with the log:
// rows go to the subscriptions whose patterns match them, found through a pattern index, so
// a subscription that matches nothing costs a publish nothing. A subscription behind the
// log (replaying, or with a full buffer) reads on its own until it catches up again.

import { PatternIndex } from '../../core/pattern-index.js';
import type { MessageLog, StoredRow } from './message-log.js';
import { Pump } from '../../driver-kit/pump.js';

const READ_BATCH = 256;

/** What the tail hands rows to: a fan-out subscription at the head of the log. */
export interface TailReader {
  readonly pattern: string;
  /** A new row that matches the pattern. */
  offer(row: StoredRow): void;
}

export class FanOutTail extends Pump {
  private readonly readers = new PatternIndex<TailReader>();
  private position: number;

  constructor(
    private readonly log: MessageLog,
    report: (error: unknown) => void,
  ) {
    super(report);
    this.position = log.head();
  }

  /**
   * Takes over a reader that has read everything up to now; rows it already has are the
   * reader's to skip (offer is given only rows it may not have seen).
   */
  join(reader: TailReader): void {
    this.readers.add(reader.pattern, reader);
  }

  leave(reader: TailReader): void {
    this.readers.delete(reader.pattern, reader);
  }

  protected async pass(): Promise<boolean> {
    if (this.readers.size === 0) {
      // Nobody to read for: skip what is there, a reader joining later has read it itself.
      this.position = this.log.head();
      return false;
    }
    const rows = this.log.read(this.position, READ_BATCH);
    for (const row of rows) {
      this.position = row.seq;
      for (const reader of this.readers.match(row.topic)) reader.offer(row);
    }
    return rows.length === READ_BATCH;
  }
}
