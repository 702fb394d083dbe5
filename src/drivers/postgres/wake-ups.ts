// Which of a process's subscriptions to wake. A NOTIFY names the topics published, and a
// pattern index finds the subscriptions they concern; the safety poll asks the database
// once for every subscription what changed. So a subscription whose pattern matches
// nothing costs nothing per publish and nothing per poll: it never claims.

import type { Pool } from 'pg';
import { PatternIndex } from '../../core/pattern-index.js';
import type { Consumer } from './consumer.js';
import { pollStatement } from './queries.js';

/**
 * The most rows one poll reads topics from: the newest ones. The poll only backs up NOTIFY,
 * so under heavier traffic than this per interval it looks at the latest stretch only.
 */
const POLL_WINDOW = 10_000;

export class WakeUps {
  private readonly index = new PatternIndex<Consumer>();
  private readonly consumers = new Set<Consumer>();
  /** The newest seq the last poll covered; the first poll starts from the newest then. */
  private polled: string | undefined;
  private polling = false;

  constructor(private readonly schema: string) {}

  add(consumer: Consumer): void {
    this.consumers.add(consumer);
    this.index.add(consumer.pattern, consumer);
  }

  delete(consumer: Consumer): void {
    if (this.consumers.delete(consumer)) this.index.delete(consumer.pattern, consumer);
  }

  /** Every subscription here, e.g. the ephemeral ones whose heartbeat is due. */
  [Symbol.iterator](): IterableIterator<Consumer> {
    return this.consumers.values();
  }

  /** Wakes the subscriptions some of `topics` match; undefined wakes all of them. */
  topics(topics: Iterable<string> | undefined): void {
    if (topics === undefined) {
      for (const consumer of this.consumers) consumer.wake();
      return;
    }
    for (const topic of topics) for (const consumer of this.index.match(topic)) consumer.wake();
  }

  /**
   * One statement for all: wakes the subscriptions that messages stored since the last poll
   * concern (a wake-up that never came) and the groups with a lease due (one another process
   * let lapse or nacked). Skipped while the previous one still runs.
   */
  async poll(pool: Pool): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      // Only shared groups: an ephemeral subscription's leases are all its own, and it wakes when they fall due.
      const groups = [...this.consumers].filter((consumer) => !consumer.ephemeral);
      const { rows } = await pool.query<{ newest: string; topics: string[] | null; due: number[] | null }>(
        pollStatement(this.schema, this.polled, POLL_WINDOW, groups.map((c) => c.group), groups.map((c) => c.pattern)),
      );
      this.polled = rows[0].newest;
      this.topics(rows[0].topics ?? []);
      for (const position of rows[0].due ?? []) groups[position - 1].wake();
    } finally {
      this.polling = false;
    }
  }
}
