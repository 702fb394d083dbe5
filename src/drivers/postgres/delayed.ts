// Delayed messages: held in the `delayed` table until due, then moved into the log by
// `move_due()` (schema.ts), which publishes them in due order and wakes subscribers as any
// publish does. Every started driver runs a mover; the table, not the process, holds the messages.

import type { Pool } from 'pg';
import type { WireMessage } from '../../core/driver.js';
import { headersJson } from '../../driver-kit/json-headers.js';
import { DueTimer } from '../../driver-kit/due-timer.js';
import { quoteIdent } from './migrate.js';

/** Messages one move takes; a full batch is followed by another at once. */
const MOVE_BATCH = 500;

export function holdStatement(schema: string, batch: WireMessage[]) {
  return {
    text:
      `INSERT INTO ${quoteIdent(schema)}.delayed (id, topic, key, headers, body, due_ms, ttl_ms) ` +
      'SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bytea[], $6::bigint[], $7::bigint[]) ' +
      'ON CONFLICT (id) DO NOTHING',
    values: [
      batch.map((wire) => wire.id),
      batch.map((wire) => wire.topic),
      batch.map((wire) => wire.key ?? null),
      batch.map((wire) => headersJson(wire.headers)),
      batch.map((wire) => Buffer.from(wire.body.buffer, wire.body.byteOffset, wire.body.byteLength)),
      batch.map((wire) => wire.deliverAt),
      batch.map((wire) => (wire.ttlMs === undefined ? null : Math.ceil(wire.ttlMs))),
    ],
  };
}

/** Moves due messages at their due time; learns due times from its own publishes and from polls. */
export class DueMover {
  // Not keeping the process: the messages wait in the table for whichever driver starts next.
  private readonly timer = new DueTimer(() => void this.move(), false);
  private stopped = false;
  private moving: Promise<void> | undefined;

  constructor(
    private readonly pool: () => Pool,
    private readonly schema: string,
    /** Passed on to `publish()`, which the moved messages go through. */
    private readonly dedupeWindowMs: number,
    private readonly failed: (error: unknown) => void,
  ) {}

  /** A due time this process just stored. */
  expect(due: number): void {
    if (!this.stopped) this.timer.expect(due);
  }

  /** Asks the table for its next due time (at start, and on each safety poll, for other processes' messages). */
  recheck(): Promise<void> {
    return this.run(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timer.cancel();
    await this.moving;
  }

  private move(): Promise<void> {
    return this.run(MOVE_BATCH);
  }

  /** `move_due` with a limit of 0 moves nothing and only answers the next due time. */
  private run(limit: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    const previous = this.moving ?? Promise.resolve();
    const next = previous.then(async () => {
      if (this.stopped) return;
      const { rows } = await this.pool().query<{ moved: number; next_due_ms: string | null }>(
        `SELECT moved, next_due_ms FROM ${quoteIdent(this.schema)}.move_due($1, $2, $3)`,
        [Date.now(), limit, this.dedupeWindowMs],
      );
      const { moved, next_due_ms } = rows[0];
      if (limit > 0 && moved === limit) this.timer.expect(Date.now());
      else if (next_due_ms !== null) this.timer.expect(Number(next_due_ms));
    });
    this.moving = next.catch((error) => {
      if (!this.stopped) this.failed(error);
    });
    return this.moving;
  }
}
