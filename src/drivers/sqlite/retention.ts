// Enforces per-message TTL and the retention rules in the background, in small
// transactions that share the publishers' group commits instead of holding them up.

import type { Database, Statement } from 'better-sqlite3';
import { matchesPattern } from '../../core/topic.js';
import type { CommitQueue } from './commit-queue.js';
import type { RetentionRule } from './options.js';

/** Rows removed per transaction, so a large clean-up never stalls a publish for long. */
const CHUNK = 500;

interface Victim {
  seq: number;
  topic: string;
  size: number;
}

export class Retention {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;
  private readonly expired: Statement;
  private readonly topicStats: Statement;
  private readonly oldestOfTopic: Statement;
  private readonly deleteRow: Statement;
  private readonly uncount: Statement;
  private readonly forgetIds: Statement;

  constructor(
    db: Database,
    private readonly queue: CommitQueue,
    private readonly rules: RetentionRule[],
    private readonly intervalMs: number,
    private readonly report: (error: unknown) => void,
  ) {
    const size = 'length(body) + length(headers)';
    this.expired = db.prepare(
      `SELECT seq, topic, ${size} AS size FROM messages WHERE expires IS NOT NULL AND expires <= ? ORDER BY expires LIMIT ${CHUNK}`,
    );
    this.topicStats = db.prepare('SELECT topic, messages, bytes FROM topics');
    this.oldestOfTopic = db.prepare(
      `SELECT seq, topic, time, ${size} AS size FROM messages WHERE topic = ? AND seq > ? ORDER BY seq LIMIT ${CHUNK}`,
    );
    this.deleteRow = db.prepare('DELETE FROM messages WHERE seq = ?');
    this.uncount = db.prepare('UPDATE topics SET messages = max(0, messages - ?), bytes = max(0, bytes - ?) WHERE topic = ?');
    this.forgetIds = db.prepare(`DELETE FROM dedupe WHERE id IN (SELECT id FROM dedupe WHERE until <= ? ORDER BY until LIMIT ${CHUNK})`);
  }

  start(): void {
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.sweep()
        .catch((error) => {
          if (!this.stopped) this.report(error);
        })
        .finally(() => this.schedule());
    }, this.intervalMs);
    this.timer.unref?.();
  }

  /** One round: ids past their dedupe window, expired messages, then each rule's age, count and size limits; answers the messages removed. */
  async sweep(): Promise<number> {
    await this.inChunks(() => this.forgetIds.run(Date.now()).changes);
    let removed = await this.inChunks(() => this.remove(this.expired.all(Date.now()) as Victim[]));
    if (this.rules.length > 0) removed += await this.enforceRules();
    return removed;
  }

  /** Runs `chunk` in one transaction after another until one removes less than a full chunk. */
  private async inChunks(chunk: () => number): Promise<number> {
    let removed = 0;
    for (;;) {
      const count = await this.queue.enqueue(chunk);
      removed += count;
      if (count < CHUNK || this.stopped) return removed;
    }
  }

  private async enforceRules(): Promise<number> {
    const stats = this.topicStats.all() as Array<{ topic: string; messages: number; bytes: number }>;
    const governed = this.rules.map(() => [] as typeof stats);
    for (const stat of stats) {
      const rule = this.rules.findIndex((candidate) => matchesPattern(candidate.topics, stat.topic));
      if (rule >= 0) governed[rule].push(stat);
    }
    let removed = 0;
    for (const [index, rule] of this.rules.entries()) {
      const topics = governed[index];
      if (topics.length === 0 || this.stopped) continue;
      let excessMessages = rule.maxMessages === undefined ? 0 : topics.reduce((sum, t) => sum + t.messages, 0) - rule.maxMessages;
      let excessBytes = rule.maxBytes === undefined ? 0 : topics.reduce((sum, t) => sum + t.bytes, 0) - rule.maxBytes;
      const cutoff = rule.maxAgeMs === undefined ? -Infinity : Date.now() - rule.maxAgeMs;
      // Walk the rule's topics oldest first, merged by seq, deleting while any limit is exceeded.
      const cursors = topics.map((t) => ({ topic: t.topic, after: 0, rows: [] as Array<Victim & { time: number }>, done: false }));
      for (;;) {
        const victims: Victim[] = [];
        while (victims.length < CHUNK) {
          for (const cursor of cursors) {
            if (cursor.rows.length === 0 && !cursor.done) {
              cursor.rows = this.oldestOfTopic.all(cursor.topic, cursor.after) as typeof cursor.rows;
              cursor.done = cursor.rows.length < CHUNK;
              if (cursor.rows.length > 0) cursor.after = cursor.rows[cursor.rows.length - 1].seq;
            }
          }
          let oldest: (typeof cursors)[number] | undefined;
          for (const cursor of cursors) {
            if (cursor.rows.length > 0 && (oldest === undefined || cursor.rows[0].seq < oldest.rows[0].seq)) oldest = cursor;
          }
          if (oldest === undefined) break;
          const row = oldest.rows[0];
          if (!(excessMessages > 0 || excessBytes > 0 || row.time < cutoff)) break;
          oldest.rows.shift();
          victims.push(row);
          excessMessages--;
          excessBytes -= row.size;
        }
        if (victims.length === 0) break;
        removed += await this.queue.enqueue(() => this.remove(victims));
        if (this.stopped) break;
      }
    }
    return removed;
  }

  private remove(victims: Victim[]): number {
    const byTopic = new Map<string, [number, number]>();
    let removed = 0;
    for (const victim of victims) {
      if (this.deleteRow.run(victim.seq).changes === 0) continue;
      removed++;
      const count = byTopic.get(victim.topic);
      if (count === undefined) byTopic.set(victim.topic, [1, victim.size]);
      else {
        count[0]++;
        count[1] += victim.size;
      }
    }
    for (const [topic, [messages, bytes]] of byTopic) this.uncount.run(messages, bytes, topic);
    return removed;
  }
}
