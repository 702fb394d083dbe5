// `outbox.enqueue(client, topic, data)`: writes an event into the application's own
// transaction, so the event and the state it describes commit together or not at all.

import type { Pool } from 'pg';
import { uuidv7 } from '../core/uuid.js';
import { causalHeaders } from '../core/context.js';
import { ConfigurationError } from '../core/errors.js';
import { topicOf, validate, type Target } from '../core/event.js';
import type { Headers } from '../core/message.js';
import { assertTopic } from '../core/topic.js';
import { migrate, quoteIdent } from '../drivers/postgres/index.js';
import { resolveSchema } from './options.js';
import { DEFAULT_SCHEMA, outboxMigrations } from './schema.js';

/** Anything that runs a query: a `pg` Client, a PoolClient inside a transaction, or a Pool (no transaction). */
export interface Queryable {
  query(text: string, values?: unknown[]): Promise<{ rows: unknown[]; rowCount: number | null }>;
}

export interface EnqueueOptions {
  /** The message id, and the de-duplication key downstream. Default: a new UUIDv7. */
  id?: string;
  /** Ordering key, passed on to the bus. */
  key?: string;
  headers?: Headers;
  /** Passed on to the bus: drop the message if it is not delivered within this long. */
  ttlMs?: number;
}

export interface OutboxOptions {
  /** The schema holding the outbox table. Default `'omnibus'` (the driver's default too). */
  schema?: string;
  /** Wake a waiting relay at commit with NOTIFY (one extra round trip). Default true. */
  notify?: boolean;
}

export interface Outbox {
  readonly schema: string;
  /** Stores an event in the caller's transaction; it is relayed only if that transaction commits. */
  enqueue<T>(client: Queryable, target: Target<T>, data: T, options?: EnqueueOptions): Promise<{ id: string }>;
  /** Creates or upgrades the outbox and inbox tables. The relay does this on start. */
  migrate(pool: Pool): Promise<void>;
}

export function createOutbox(options: OutboxOptions = {}): Outbox {
  const schema = resolveSchema(options.schema ?? DEFAULT_SCHEMA);
  const table = `${quoteIdent(schema)}.outbox`;
  const channel = `${schema}.outbox`;
  const notify = options.notify ?? true;
  const insert = notify
    ? `WITH stored AS (
         INSERT INTO ${table} (id, topic, key, headers, data, bytes, ttl_ms) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING 1
       ) SELECT pg_notify('${channel}', '') FROM stored`
    : `INSERT INTO ${table} (id, topic, key, headers, data, bytes, ttl_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)`;

  return {
    schema,
    async enqueue<T>(client: Queryable, target: Target<T>, data: T, enqueueOptions: EnqueueOptions = {}) {
      const topic = topicOf(target);
      assertTopic(topic);
      if (typeof target !== 'string') {
        const outcome = await validate(target, data, topic);
        if ('error' in outcome) throw outcome.error;
        data = outcome.value;
      }
      const { key, ttlMs } = enqueueOptions;
      if (enqueueOptions.id !== undefined && (typeof enqueueOptions.id !== 'string' || enqueueOptions.id === '')) {
        throw new ConfigurationError(`enqueue to '${topic}': id must be a non-empty string`, { topic });
      }
      if (ttlMs !== undefined && !(Number.isFinite(ttlMs) && ttlMs > 0)) {
        throw new ConfigurationError(`enqueue to '${topic}': ttlMs must be a positive number of milliseconds`, { topic });
      }
      const id = enqueueOptions.id ?? uuidv7();
      // Kept with the row, since the relay publishes outside the handler that caused this event.
      const headers = causalHeaders(enqueueOptions.headers) ?? {};
      const bytes = data instanceof Uint8Array ? Buffer.from(data.buffer, data.byteOffset, data.byteLength) : null;
      const json = bytes === null ? JSON.stringify(data === undefined ? null : data) : null;
      try {
        await client.query(insert, [id, topic, key ?? null, headers, json, bytes, ttlMs === undefined ? null : Math.ceil(ttlMs)]);
      } catch (error) {
        if ((error as { code?: string }).code === '42P01') {
          throw new ConfigurationError(
            `the outbox table ${schema}.outbox does not exist; call outbox.migrate(pool) once, or start relayOutbox, before enqueueing`,
            { topic, cause: error },
          );
        }
        throw error;
      }
      return { id };
    },
    migrate(pool: Pool) {
      return migrate(pool, schema, 'outbox', outboxMigrations);
    },
  };
}

/** The outbox in the default schema `omnibus`. */
export const outbox: Outbox = createOutbox();
