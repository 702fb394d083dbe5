// `inbox(...)`: makes a handler idempotent. The processed message id is stored in the same
// transaction as the handler's own writes, so a redelivered message finds it and is skipped,
// and a handler that fails leaves no trace and is retried.

import type { Pool, PoolClient } from 'pg';
import type { Message } from '../core/message.js';
import type { Handler } from '../core/subscription.js';
import { checkout, migrate, quoteIdent } from '../drivers/postgres/index.js';
import { resolveSchema } from './options.js';
import { DEFAULT_SCHEMA, outboxMigrations } from './schema.js';

export interface InboxOptions {
  /** The application's database: the handler's writes and the processed ids go there. */
  pool: Pool;
  /** Names this handler, so two handlers of one message each run once. */
  consumer: string;
  /** The schema holding the inbox table. Default `'omnibus'`. */
  schema?: string;
  /** How long processed ids are remembered: the de-duplication window. Default 7 days. */
  keepProcessedMs?: number;
  /** Create the inbox table on first use. Default true. */
  migrate?: boolean;
}

/** A handler that also receives the transaction's client; its writes commit with the processed id. */
export type TransactionalHandler<T> = (message: Message<T>, client: PoolClient) => unknown;

const CLEAN_EVERY_MS = 10 * 60 * 1000;

/** Wraps `handler` so each message id is handled once per consumer (within `keepProcessedMs`). */
export function inbox<T = unknown>(options: InboxOptions, handler: TransactionalHandler<T>): Handler<T> {
  const schema = resolveSchema(options.schema ?? DEFAULT_SCHEMA);
  const table = `${quoteIdent(schema)}.inbox`;
  const keepMs = options.keepProcessedMs ?? 7 * 24 * 60 * 60 * 1000;
  let ready: Promise<void> | undefined;
  let lastClean = 0;

  return async (message) => {
    ready ??= (options.migrate ?? true ? migrate(options.pool, schema, 'outbox', outboxMigrations) : Promise.resolve()).catch(
      (error) => {
        ready = undefined;
        throw error;
      },
    );
    await ready;
    if (Date.now() - lastClean > CLEAN_EVERY_MS) {
      lastClean = Date.now();
      void options.pool
        .query(`DELETE FROM ${table} WHERE processed_at < now() - $1 * interval '1 millisecond'`, [keepMs])
        .catch(() => {});
    }
    let broken: Error | undefined;
    // The handler holds the client for as long as it runs; a server going away meanwhile is noted, not thrown uncaught.
    const lost = (error: Error) => void (broken ??= error);
    const client = await checkout(options.pool, lost);
    try {
      await client.query('BEGIN');
      // A concurrent delivery of the same id waits here until this transaction ends.
      const claimed = await client.query(`INSERT INTO ${table} (consumer, message_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [
        options.consumer,
        message.id,
      ]);
      if (claimed.rowCount === 0) {
        await client.query('ROLLBACK');
        return;
      }
      await handler(message, client);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch((rollbackError: Error) => (broken ??= rollbackError));
      throw error;
    } finally {
      client.off('error', lost);
      client.release(broken);
    }
  };
}
