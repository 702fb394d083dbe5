// Storing one combined publish batch: a plain INSERT on the fast path, the de-duplicating
// statement when an id is already in `dedupe`, and retries through a lost connection for up to
// `publishRetryMs` (ids de-duplicate within their window, so a retry stores nothing twice).

import type { Pool } from 'pg';
import { backoffDelay } from '../../core/backoff.js';
import type { WireMessage } from '../../core/driver.js';
import { isConnectionLoss, publishError } from './errors.js';
import { publishFastStatement, publishStatement } from './queries.js';

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
  for (let attempt = 1; ; attempt++) {
    try {
      try {
        const { rows } = await pool.query<{ seqs: string | null }>(fast);
        const seqs = rows[0]?.seqs?.split(',') ?? [];
        for (let i = 0; i < batch.length; i++) batch[i].seq = seqs[i];
        return;
      } catch (error) {
        // An id in `dedupe` (or one id twice): the de-duplicating path, rare enough to cost a
        // round trip and a connection (pg closes one whose statement failed).
        if ((error as { code?: string }).code !== UNIQUE_VIOLATION) throw error;
      }
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
      settings.lost(error);
      await new Promise((resolve) => setTimeout(resolve, backoffDelay(attempt, { initialMs: 50, maxMs: 1_000 }, 'none')));
    }
  }
}
