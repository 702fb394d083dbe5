// Storing one combined publish batch: a plain INSERT on the fast path, the de-duplicating
// statement when an id is already in `dedupe`, and retries through a lost connection for up to
// `publishRetryMs` (ids de-duplicate within their window, so a retry stores nothing twice).

import type { Pool } from 'pg';
import { backoffDelay } from '../../core/backoff.js';
import type { WireMessage } from '../../core/driver.js';
import { isConnectionLoss, publishError } from './errors.js';
import { publishFastStatement, publishStatement, recoverStatement } from './queries.js';

const UNIQUE_VIOLATION = '23505';

export interface StoreSettings {
  schema: string;
  dedupeWindowMs: number;
  retryMs: number;
  /** The server, as errors name it. */
  where: string;
  /** The connection dropped. */
  lost(error: unknown): void;
  /** The driver closed: no more retries. */
  ended(): boolean;
}

/** Stores `batch` and sets each message's seq, and `duplicate` on those whose id was stored within the window. */
export async function storeMessages(pool: Pool, batch: WireMessage[], settings: StoreSettings): Promise<void> {
  const fast = publishFastStatement(settings.schema, batch, settings.dedupeWindowMs);
  const deadline = Date.now() + settings.retryMs;
  // Whether a fast statement lost its reply, so may have committed, or still commit. (A lost
  // `publish(...)` needs nothing: it keeps every id in `dedupe`, and a retry de-duplicates them.)
  let fastUnanswered = false;
  for (let attempt = 1; ; attempt++) {
    let sentFast = false;
    try {
      if (fastUnanswered && (await committedEarlier(pool, batch, settings.schema))) return;
      try {
        sentFast = true;
        const { rows } = await pool.query<{ seqs: string | null }>(fast);
        const seqs = rows[0]?.seqs?.split(',') ?? [];
        for (let i = 0; i < batch.length; i++) batch[i].seq = seqs[i];
        return;
      } catch (error) {
        // An id in `dedupe` (or one id twice): the de-duplicating path, rare enough to cost a
        // round trip and a connection (pg closes one whose statement failed).
        if ((error as { code?: string }).code !== UNIQUE_VIOLATION) throw error;
        // The marker too may be what is there, if a lost attempt committed meanwhile. If not,
        // none will: the publish lock made this statement wait for any still running.
        if (fastUnanswered && (await committedEarlier(pool, batch, settings.schema))) return;
        fastUnanswered = false;
      }
      sentFast = false;
      const result = await pool.query<{ message_id: string; message_seq: string; duplicate: boolean }>(
        publishStatement(settings.schema, batch, settings.dedupeWindowMs),
      );
      for (let i = 0; i < batch.length; i++) {
        const row = result.rows[i];
        batch[i].seq = row?.message_seq ?? undefined;
        if (row?.duplicate === true) batch[i].duplicate = true;
      }
      return;
    } catch (error) {
      const retry = isConnectionLoss(error) && Date.now() < deadline && !settings.ended();
      if (!retry) throw publishError(error, settings.where, batch[0].topic);
      fastUnanswered ||= sentFast;
      settings.lost(error);
      await new Promise((resolve) => setTimeout(resolve, backoffDelay(attempt, { initialMs: 50, maxMs: 1_000 }, 'none')));
    }
  }
}

/**
 * Whether an earlier attempt stored the batch, setting each message's seq if so (one that
 * retention removed meanwhile gets none). Made-up ids are not all in `dedupe` (see
 * publishFastStatement), so de-duplicating the retry would not catch them; the batch's
 * marker tells instead.
 */
async function committedEarlier(pool: Pool, batch: WireMessage[], schema: string): Promise<boolean> {
  const recover = recoverStatement(schema, batch);
  if (recover === null) return false;
  const { rows } = await pool.query<{ id: string; seq: string }>(recover);
  if (rows.length === 0) return false;
  const seqs = new Map(rows.map((row) => [row.id, row.seq]));
  for (const wire of batch) wire.seq = seqs.get(wire.id);
  return true;
}
