// Retention, TTL expiry and clean-up in one transaction, by one process at a time: the others
// find the advisory lock taken and skip their turn.

import type { Pool } from 'pg';
import { LOCK_NAMESPACE } from './migrate.js';
import type { ResolvedOptions } from './options.js';
import { retentionStatements } from './queries.js';

export async function applyRetention(pool: Pool, options: ResolvedOptions): Promise<void> {
  const client = await pool.connect();
  let failed: Error | undefined;
  try {
    await client.query('BEGIN');
    const { rows } = await client.query('SELECT pg_try_advisory_xact_lock($1, hashtext($2)) AS mine', [LOCK_NAMESPACE, `retention:${options.schema}`]);
    if (rows[0].mine) {
      for (const statement of retentionStatements(options.schema, options)) await client.query(statement);
    }
    await client.query('COMMIT');
  } catch (error) {
    failed = error as Error;
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.release(failed);
  }
}
