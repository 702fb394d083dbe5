// The relay: publishes committed outbox rows to any bus, oldest first, and marks them sent
// in the same transaction that read them. At least once: a crash between publishing and
// committing publishes the batch again, with the same ids, which de-duplicating drivers drop.

import type { Pool } from 'pg';
import type { Bus, PublishItem } from '../core/bus.js';
import { errorMessage, isRetriable } from '../core/errors.js';
import { checkout, Listener, LOCK_NAMESPACE, migrate, quoteIdent } from '../drivers/postgres/index.js';
import { resolveSchema } from './options.js';
import { DEFAULT_SCHEMA, outboxMigrations } from './schema.js';
import { backoffDelay } from '../core/backoff.js';

export interface RelayOptions {
  /** The application's database, where the outbox table is. */
  pool: Pool;
  /** Where the events go; any driver. */
  bus: Bus;
  /** The schema holding the outbox table. Default `'omnibus'`. */
  schema?: string;
  /** Rows read, published and marked per transaction. Default 100. */
  batchSize?: number;
  /** How often to look without a NOTIFY wake-up, as a safety net. Default 1,000 ms. */
  pollIntervalMs?: number;
  /** How long sent rows are kept before deletion. Default 24 hours. */
  keepSentMs?: number;
  /** Create or upgrade the outbox tables on start. Default true. */
  migrate?: boolean;
  /** Called with errors the relay recovers from by retrying. Default: `console.error`. */
  onError?: (error: unknown) => void;
}

export interface OutboxRelay {
  /** Rows published and marked sent by this relay so far. */
  readonly relayed: number;
  /** Resolves once the relay has started (tables migrated, listening). */
  readonly ready: Promise<void>;
  /** Relays everything committed so far, now; resolves with how many rows this call sent. */
  flush(): Promise<number>;
  /** Stops after the batch in progress. */
  close(): Promise<void>;
}

interface Row {
  position: string;
  id: string;
  topic: string;
  key: string | null;
  headers: Record<string, string>;
  data: unknown;
  bytes: Buffer | null;
  ttl_ms: string | null;
}

const CLEAN_EVERY_MS = 60_000;

/** Starts relaying `pool`'s outbox to `bus`; several relays may run, one publishes at a time. */
export function relayOutbox(options: RelayOptions): OutboxRelay {
  return new Relay(options);
}

class Relay implements OutboxRelay {
  relayed = 0;
  readonly ready: Promise<void>;
  private readonly schema: string;
  private readonly table: string;
  private readonly batchSize: number;
  private readonly pollIntervalMs: number;
  private readonly keepSentMs: number;
  private readonly onError: (error: unknown) => void;
  private readonly listener: Listener;
  private closed = false;
  private wakeUp: (() => void) | undefined;
  private lastClean = 0;
  private readonly loop: Promise<void>;

  constructor(private readonly options: RelayOptions) {
    this.schema = resolveSchema(options.schema ?? DEFAULT_SCHEMA);
    this.table = `${quoteIdent(this.schema)}.outbox`;
    this.batchSize = Math.max(1, options.batchSize ?? 100);
    this.pollIntervalMs = options.pollIntervalMs ?? 1_000;
    this.keepSentMs = options.keepSentMs ?? 24 * 60 * 60 * 1000;
    this.onError = options.onError ?? ((error) => console.error('[omnibus] outbox relay:', error));
    this.listener = new Listener(options.pool, `${this.schema}.outbox`, () => this.wake(), (error) => {
      this.onError(error);
      this.wake();
    });
    this.ready = this.start();
    this.loop = this.ready.then(() => this.run(), (error) => this.onError(error));
  }

  private async start(): Promise<void> {
    if (this.options.migrate ?? true) await migrate(this.options.pool, this.schema, 'outbox', outboxMigrations);
    await this.listener.start();
  }

  async flush(): Promise<number> {
    await this.ready;
    let total = 0;
    for (;;) {
      const sent = await this.pass();
      total += sent;
      if (sent < this.batchSize) return total;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wake();
    await this.loop;
    await this.listener.stop();
  }

  private wake(): void {
    const wakeUp = this.wakeUp;
    this.wakeUp = undefined;
    wakeUp?.();
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.closed) {
      let sent = 0;
      try {
        // Reconnects the listener if the server dropped it; a no-op otherwise.
        await this.listener.start();
        sent = await this.pass();
        await this.clean();
        failures = 0;
      } catch (error) {
        if (this.closed) return;
        this.onError(error);
        await this.pause(backoffDelay(++failures, { initialMs: 100, maxMs: 5_000 }, 'none'));
        continue;
      }
      if (sent < this.batchSize) await this.pause(this.pollIntervalMs);
    }
  }

  private pause(ms: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.wake(), ms);
      this.wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** One transaction: lock, read the oldest unsent rows, publish them, mark them. */
  private async pass(): Promise<number> {
    let broken: Error | undefined;
    // The server may go away while the batch is published: the client's error is noted, not thrown uncaught.
    const lost = (error: Error) => void (broken ??= error);
    const client = await checkout(this.options.pool, lost);
    try {
      await client.query('BEGIN');
      // One relay at a time, so rows go out in order even with several relays running.
      await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_NAMESPACE, `outbox:${this.schema}`]);
      const { rows } = await client.query<Row>(
        `SELECT position, id, topic, key, headers, data, bytes, ttl_ms FROM ${this.table}
         WHERE sent_at IS NULL AND failed_at IS NULL ORDER BY position LIMIT $1`,
        [this.batchSize],
      );
      if (rows.length === 0) {
        await client.query('COMMIT');
        return 0;
      }
      const { sent, failed } = await this.publish(rows);
      if (sent.length > 0) await client.query(`UPDATE ${this.table} SET sent_at = now() WHERE position = ANY ($1)`, [sent]);
      for (const [position, error] of failed) {
        await client.query(`UPDATE ${this.table} SET failed_at = now(), error = $2 WHERE position = $1`, [position, error]);
      }
      await client.query('COMMIT');
      this.relayed += sent.length;
      return sent.length + failed.length;
    } catch (error) {
      broken ??= error as Error;
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      client.off('error', lost);
      client.release(broken);
    }
  }

  /**
   * Publishes in order. A message the bus can never accept (bad topic, too large) is marked
   * failed so it cannot block the rows behind it; a retriable failure stops the batch there.
   */
  private async publish(rows: Row[]): Promise<{ sent: string[]; failed: Array<[string, string]> }> {
    const items: PublishItem[] = rows.map((row) => ({
      topic: row.topic,
      data: row.bytes ?? row.data,
      id: row.id,
      key: row.key ?? undefined,
      headers: row.headers,
      ttlMs: row.ttl_ms === null ? undefined : Number(row.ttl_ms),
    }));
    try {
      await this.options.bus.publishMany(items);
      return { sent: rows.map((row) => row.position), failed: [] };
    } catch (error) {
      if (isRetriable(error)) throw error;
    }
    const sent: string[] = [];
    const failed: Array<[string, string]> = [];
    for (const [i, item] of items.entries()) {
      try {
        await this.options.bus.publishMany([item]);
        sent.push(rows[i].position);
      } catch (error) {
        if (isRetriable(error)) {
          if (sent.length + failed.length === 0) throw error;
          break;
        }
        this.onError(error);
        failed.push([rows[i].position, errorMessage(error)]);
      }
    }
    return { sent, failed };
  }

  private async clean(): Promise<void> {
    if (Date.now() - this.lastClean < CLEAN_EVERY_MS) return;
    this.lastClean = Date.now();
    await this.options.pool.query(`DELETE FROM ${this.table} WHERE sent_at < now() - $1 * interval '1 millisecond'`, [this.keepSentMs]);
  }
}
