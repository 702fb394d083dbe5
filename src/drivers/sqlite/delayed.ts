// Delayed messages wait in their own table, indexed by due time, and move into the log once
// due inside one write transaction: never in both, never moved twice by two processes, and
// numbered in due order (equal due times in publish order) as they enter the log.

import type { Database, Statement } from 'better-sqlite3';
import type { WireMessage } from '../../core/driver.js';
import { DueTimer } from '../../driver-kit/due-timer.js';
import type { CommitQueue } from './commit-queue.js';
import type { MessageLog } from './message-log.js';

/** Messages one move takes; more come in the next transaction at once. */
const MOVE_BATCH = 256;

interface DelayedRow {
  rowid: number;
  id: string;
  due: number;
  topic: string;
  key: string | null;
  headers: string;
  ttl: number | null;
  body: Buffer;
}

export class DelayedMessages {
  private readonly insertRow: Statement;
  private readonly dueRows: Statement;
  private readonly deleteRow: Statement;
  private readonly firstDue: Statement;

  constructor(db: Database) {
    this.insertRow = db.prepare('INSERT INTO delayed (id, due, topic, key, headers, ttl, body) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING');
    this.dueRows = db.prepare('SELECT rowid, id, due, topic, key, headers, ttl, body FROM delayed WHERE due <= ? ORDER BY due, rowid LIMIT ?');
    this.deleteRow = db.prepare('DELETE FROM delayed WHERE rowid = ?');
    this.firstDue = db.prepare('SELECT min(due) FROM delayed').pluck();
  }

  /** Holds `wire` until its `deliverAt`, inside the caller's transaction. */
  insert(wire: WireMessage): void {
    this.insertRow.run(wire.id, wire.deliverAt, wire.topic, wire.key ?? null, JSON.stringify(wire.headers ?? {}), wire.ttlMs ?? null, wire.body);
  }

  /** Removes and returns what is due by `now`, in due order, inside the caller's transaction. */
  takeDue(now: number): WireMessage[] {
    const rows = this.dueRows.all(now, MOVE_BATCH) as DelayedRow[];
    for (const row of rows) this.deleteRow.run(row.rowid);
    return rows.map((row) => ({
      id: row.id,
      topic: row.topic,
      headers: JSON.parse(row.headers),
      key: row.key ?? undefined,
      time: row.due,
      ttlMs: row.ttl ?? undefined,
      body: row.body,
    }));
  }

  /** The earliest due time held, by any process. */
  nextDue(): number | undefined {
    return (this.firstDue.get() as number | null) ?? undefined;
  }
}

/**
 * Moves due messages into the log at their due time. Its timer holds no message, only the next
 * due time the table holds, so a restart loses nothing: the next driver to open the file reads
 * that time again.
 */
export class DueMover {
  // Not keeping the process: a subscription's change watcher keeps one that waits for messages running.
  private readonly timer = new DueTimer(() => this.move(), false);
  private stopped = false;

  constructor(
    private readonly delayed: DelayedMessages,
    private readonly log: MessageLog,
    private readonly queue: CommitQueue,
    private readonly failed: (error: unknown) => void,
  ) {}

  /** Looks for the next due time again: at open, and after commits (ours or another process's). */
  recheck(): void {
    if (this.stopped) return;
    let next: number | undefined;
    try {
      next = this.delayed.nextDue();
    } catch (error) {
      this.failed(error);
      return;
    }
    if (next !== undefined) this.timer.expect(next);
  }

  stop(): void {
    this.stopped = true;
    this.timer.cancel();
  }

  private move(): void {
    if (this.stopped) return;
    this.queue
      .enqueue(
        () => {
          const due = this.delayed.takeDue(Date.now());
          if (due.length > 0) this.log.insert(due);
          return due.length;
        },
        { wakes: true, durable: true },
      )
      .then(
        () => this.recheck(),
        (error) => {
          if (!this.stopped) this.failed(error);
        },
      );
  }
}
